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

function readIncoming(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        incoming.resume(); // let the rest drain so the answer can be read on a keep-alive connection
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new IncompleteBodyError({ cause: error }));
    };
    const onClose = () => {
      cleanup();
      reject(new IncompleteBodyError());
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
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
