import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyTooLargeError, IncompleteBodyError, NotUtf8Error, readIncomingBody } from '../server/read-body.ts';

// server/read-body.ts reads a Node request's body with the same four listener functions for every
// request (its state kept on the request): each outcome, on a real HTTP server fed by a raw socket,
// and one request's outcome never leaking into the next one's on a keep-alive connection.

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** A server whose every request's body is read (limit 16 bytes); each outcome is handed to `outcomes` in order. */
async function reading(): Promise<{ port: number; outcomes: AsyncIterator<Buffer | Error> }> {
  const queue: (Buffer | Error)[] = [];
  let wake: (() => void) | undefined;
  server = createServer((req: IncomingMessage, res) => {
    readIncomingBody(req, 16).then(
      (body) => {
        queue.push(body);
        res.end(`got ${body.length}`);
      },
      (error: Error) => {
        queue.push(error);
        res.statusCode = 400;
        res.end(error.message);
      },
    ).finally(() => wake?.());
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const outcomes: AsyncIterator<Buffer | Error> = {
    async next() {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return { value: queue.shift()!, done: false };
    },
  };
  return { port: (server!.address() as AddressInfo).port, outcomes };
}

/** Sends raw bytes on a new connection; `close` ends it after them, `keep` once every request is answered. */
function send(port: number, parts: readonly string[], end: 'close' | 'keep'): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect(port, '127.0.0.1', () => {
      for (const part of parts) socket.write(part);
      if (end === 'close') socket.end(); // after what was written: the server sees the bytes, then the end
    });
    socket.on('data', (chunk) => {
      received += chunk.toString();
      if (end === 'keep' && (received.match(/HTTP\/1\.1/g) ?? []).length === parts.length) socket.end();
    });
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

const request = (body: string, headers = `Content-Length: ${Buffer.byteLength(body)}`) => `POST / HTTP/1.1\r\nHost: x\r\n${headers}\r\n\r\n${body}`;

describe('readIncomingBody', () => {
  it('gives each body of a keep-alive connection whole, in order', async () => {
    const { port, outcomes } = await reading();
    const answers = await send(port, [request('[1,2,3]'), request(''), request('{"é":1}')], 'keep');
    expect((await outcomes.next()).value).toEqual(Buffer.from('[1,2,3]'));
    expect((await outcomes.next()).value).toEqual(Buffer.alloc(0));
    expect((await outcomes.next()).value).toEqual(Buffer.from('{"é":1}'));
    expect(answers.match(/got \d+/g)).toEqual(['got 7', 'got 0', 'got 8']);
  });

  it('refuses a chunked body past the limit, then reads the next request of the connection', async () => {
    const { port, outcomes } = await reading();
    const chunked = 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n9\r\n123456789\r\n0\r\n\r\n';
    const answers = await send(port, [chunked, request('ok')], 'keep');
    const refused = (await outcomes.next()).value;
    expect(refused).toBeInstanceOf(BodyTooLargeError);
    expect((refused as BodyTooLargeError).limit).toBe(16);
    expect((await outcomes.next()).value).toEqual(Buffer.from('ok'));
    expect(answers).toContain('got 2');
  });

  it('refuses by the declared length before reading, and a body that is not UTF-8', async () => {
    const { port, outcomes } = await reading();
    await send(port, [request('x'.repeat(17))], 'keep');
    const declared = (await outcomes.next()).value as BodyTooLargeError;
    expect(declared).toBeInstanceOf(BodyTooLargeError);
    expect(declared.message).toBe('the body is 17 bytes; at most 16 bytes are taken per request — send smaller batches');
    const socket = connect(port, '127.0.0.1');
    socket.write(Buffer.concat([Buffer.from('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n'), Buffer.from([0xff])]));
    const outcome = (await outcomes.next()).value;
    expect(outcome).toBeInstanceOf(NotUtf8Error);
    expect((outcome as Error).message).toBe('the body is not valid UTF-8');
    socket.destroy();
  });

  it('rejects with IncompleteBodyError when the client goes away mid-body, and reads the next client whole', async () => {
    const { port, outcomes } = await reading();
    await send(port, [request('', 'Content-Length: 12') + '[1,2'], 'close');
    const cut = (await outcomes.next()).value;
    expect(cut).toBeInstanceOf(IncompleteBodyError);
    expect((cut as Error).message).toBe('the connection closed before the whole body arrived');
    await send(port, [request('[5]')], 'keep');
    expect((await outcomes.next()).value).toEqual(Buffer.from('[5]'));
  });
});
