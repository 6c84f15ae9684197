import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { FlywheelError } from '../core/errors.ts';

/** Thrown when a request body is larger than the server takes. */
export class BodyTooLargeError extends FlywheelError {
  readonly limit: number;
  constructor(limit: number, declared?: number) {
    super(`the body is ${declared !== undefined ? `${declared} bytes` : 'larger than the limit'}; at most ${limit} bytes are taken per request — send smaller batches`);
    this.limit = limit;
  }
}

/** Thrown when the client went away before sending its whole body. */
export class IncompleteBodyError extends FlywheelError {
  constructor(options?: { cause?: unknown }) {
    super('the connection closed before the whole body arrived', options);
  }
}

/** Thrown when a request body is not UTF-8. */
export class NotUtf8Error extends FlywheelError {
  constructor() {
    super('the body is not valid UTF-8');
  }
}

/**
 * Reads a request body, checked to be UTF-8, refusing more than `limit` bytes: first by its Content-Length,
 * then by counting while reading (a body sent chunked is cut off at the limit rather than buffered).
 * Under Node, `incoming` (the IncomingMessage) is read directly, which is faster than the Request's
 * web stream.
 */
export async function readBody(request: Request, limit: number, incoming?: IncomingMessage): Promise<Buffer> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw new BodyTooLargeError(limit, Number(declared));
  const bytes = incoming ? await readIncoming(incoming, limit) : await readWebStream(request, limit);
  if (!isUtf8(bytes)) throw new NotUtf8Error();
  return bytes;
}

/** `readBody` for a Node request read without a web Request (the serving route's path without Hono). */
export async function readIncomingBody(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = incoming.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw new BodyTooLargeError(limit, Number(declared));
  const bytes = await readIncoming(incoming, limit);
  if (!isUtf8(bytes)) throw new NotUtf8Error();
  return bytes;
}

/** What a body being read has so far; kept on its request so that the listeners are the same four functions for every request (no closures made per request). */
interface BodyInProgress {
  readonly chunks: Buffer[];
  size: number;
  readonly limit: number;
  readonly resolve: (body: Buffer) => void;
  readonly reject: (error: Error) => void;
}
const IN_PROGRESS = Symbol('flywheel.bodyInProgress');
type Reading = IncomingMessage & { [IN_PROGRESS]?: BodyInProgress };

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    (incoming as Reading)[IN_PROGRESS] = { chunks: [], size: 0, limit, resolve, reject };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}

/** Stops listening, and gives what was read (once: undefined after). */
function finish(incoming: Reading): BodyInProgress | undefined {
  const body = incoming[IN_PROGRESS];
  incoming[IN_PROGRESS] = undefined;
  incoming.off('data', onData);
  incoming.off('end', onEnd);
  incoming.off('error', onError);
  incoming.off('close', onClose);
  return body;
}

function onData(this: Reading, chunk: Buffer): void {
  const body = this[IN_PROGRESS];
  if (body === undefined) return;
  body.size += chunk.length;
  if (body.size > body.limit) {
    finish(this);
    this.resume(); // let the rest drain so the answer can be read on a keep-alive connection
    body.reject(new BodyTooLargeError(body.limit));
    return;
  }
  body.chunks.push(chunk);
}

function onEnd(this: Reading): void {
  const body = finish(this);
  body?.resolve(body.chunks.length === 1 ? body.chunks[0]! : Buffer.concat(body.chunks, body.size));
}

function onError(this: Reading, error: Error): void {
  finish(this)?.reject(new IncompleteBodyError({ cause: error }));
}

function onClose(this: Reading): void {
  finish(this)?.reject(new IncompleteBodyError());
}

async function readWebStream(request: Request, limit: number): Promise<Buffer> {
  if (request.body === null) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength) : Buffer.concat(chunks, size);
}
