/**
 * The log API floor (issue 17, item 4): the fastest durable server we could write by hand for
 * bench/log-api.ts's batches, so Flywheel's `POST /v1/streams/:stream/events` is measured against it
 * in the same run.
 *
 * It reads the body, `JSON.parse`s it (so a batch it acknowledges is at least JSON, and it can say how
 * many events it took), appends the body as it came to one file, and acknowledges only after an
 * `fdatasync` that began after the body was written. Group commit: one `fdatasync` at a time; the
 * bodies that arrive while it runs are written together (one `writev` into the page cache) and
 * covered by the next one, so a sync's cost is shared by every request that waited for it. No
 * validation against a schema, no ids, no framing or checksums, no segments, no metrics.
 *
 *   node --import tsx bench/floors/log-floor.ts --dir /tmp/floor
 */
import { closeSync, fdatasync, openSync, writevSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

interface Waiting {
  readonly res: ServerResponse;
  readonly answer: string;
}

/** Starts the floor on 127.0.0.1 and a free port, appending to `<dir>/floor.log`. */
export async function startLogFloor(dir: string): Promise<{ url: string; stats(): { requests: number; syncs: number }; close(): Promise<void> }> {
  const fd = openSync(join(dir, 'floor.log'), 'a');
  /** Bodies received since the last write, and who waits for them. */
  let bodies: Buffer[] = [];
  let waiting: Waiting[] = [];
  let syncing = false;
  let requests = 0;
  let syncs = 0;

  /** Writes what arrived and fdatasyncs it; when the sync ends, acknowledges it and starts the next group, if any. */
  const commit = () => {
    if (syncing || waiting.length === 0) return;
    const group = waiting;
    let buffers = bodies;
    bodies = [];
    waiting = [];
    // Short writes are finished (writev may take part of a large group).
    while (buffers.length > 0) {
      let written = writevSync(fd, buffers);
      let i = 0;
      while (i < buffers.length && written >= buffers[i]!.length) written -= buffers[i++]!.length;
      buffers = buffers.slice(i);
      if (buffers.length > 0 && written > 0) buffers[0] = buffers[0]!.subarray(written);
    }
    syncing = true;
    syncs++;
    fdatasync(fd, (error) => {
      syncing = false;
      if (error) throw error;
      for (const { res, answer } of group) res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
      requests += group.length;
      commit();
    });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const events = JSON.parse(body.toString('utf8')) as unknown[];
      bodies.push(body, NEWLINE);
      waiting.push({ res, answer: `{"accepted":${events.length}}` });
      commit();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats: () => ({ requests, syncs }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      closeSync(fd);
    },
  };
}

const NEWLINE = Buffer.from('\n');
