import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, eventStream } from '../index.ts';
import { listSegments, readSegment, streamSchemasOf, streamSegmentsDir } from '../server/index.ts';
import { openFullDisk, type FullDisk } from './support/full-disk.ts';
import { openWarehouseForSegments, TOKEN, type WarehouseForSegments } from './support/log-to-warehouse.ts';
import { startStandaloneServer, type StandaloneServer } from './support/standalone-server.ts';

// A disk that fills up under the log API and is freed again, with the server running all along as a
// child process (server/standalone.ts). The disk is a real one: a 1 MiB tmpfs mounted on the state
// folder and filled with a ballast file (writes fail with ENOSPC), or, where mounts are not permitted,
// the server's RLIMIT_FSIZE lowered to 0 and raised again with `prlimit --pid` (EFBIG); the test
// prints which. Four clients send batches with their own ids before, while and after the disk is
// full. Promised: every batch answered 200 is stored once, every batch answered 503 leaves nothing
// behind (unless sent again and acknowledged), and the same process takes events again once space
// is freed, without a restart. Checked in the segments and, after the real ingest activity, in the
// DuckDB table.

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
  fields: { seq: 'int64', pad: { type: 'string', nullable: true } },
});

const CLIENTS = 4;
const EVENTS_PER_BATCH = 20;
/** Batches 0-4 go while there is space, 5-7 while the disk is full, 8-9 after it was freed. */
const BEFORE = [0, 1, 2, 3, 4];
const WHILE_FULL = [5, 6, 7];
const AFTER = [8, 9];
/** This client does not send its refused batches again: none of their events may be stored. */
const GIVES_UP = 3;
/** ~200 bytes of padding: a batch is ~6 KiB, more than the slack of a tmpfs page, so a full disk refuses it. */
const PAD = 'p'.repeat(200);

let warehouse: WarehouseForSegments;
let disk: FullDisk | undefined;
let child: ChildProcess | undefined;
beforeEach(async () => {
  warehouse = await openWarehouseForSegments([user, clicks]);
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  disk?.close();
  disk = undefined;
  await warehouse.close();
});

/** server/standalone.ts as a child process on the state folder of `disk`. */
async function startServer(full: FullDisk): Promise<StandaloneServer> {
  const streamsPath = join(warehouse.dir, 'streams.json');
  await writeFile(streamsPath, JSON.stringify(streamSchemasOf(warehouse.project)));
  return startStandaloneServer({ stateDir: full.dir, streamsPath, tokens: `${TOKEN}=write:*`, wrap: (command, args) => full.wrap(command, args), onSpawn: (proc) => (child = proc) });
}

const idOf = (client: number, batch: number, i: number) => `w${client}-b${batch}-e${String(i).padStart(2, '0')}`;
const seqOf = (client: number, batch: number, i: number) => client * 1000 + batch * EVENTS_PER_BATCH + i;
const batchOf = (client: number, batch: number) =>
  Array.from({ length: EVENTS_PER_BATCH }, (_, i) => ({ _event_id: idOf(client, batch, i), user_id: client, ts: '2026-01-01T00:00:00.000Z', seq: seqOf(client, batch, i), pad: PAD }));

async function post(url: string, events: readonly object[]): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}/v1/streams/clicks/events`, {
    method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(events),
  });
  return { status: response.status, body: await response.json() };
}

const acknowledgedBody = (client: number, batch: number) => ({ accepted: EVENTS_PER_BATCH, duplicates: 0, ids: batchOf(client, batch).map((e) => e._event_id) });
const REFUSED = { error: { code: 'storage_unavailable', message: 'events of stream "clicks" cannot be stored now; nothing of this batch is acknowledged (retry later)' } };

async function readyz(url: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/readyz`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: response.status, body: await response.json() };
}

describe('a full disk under the log API', () => {
  it('refuses with 503 while full, loses nothing acknowledged, stores nothing refused, and takes events again once space is freed, without a restart', async () => {
    disk = openFullDisk(warehouse.stateDir, 1024 * 1024);
    const server = await startServer(disk);
    const pid = server.process.pid!;
    const sendAll = (batches: readonly number[]) =>
      Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
        const answers: { status: number; body: unknown }[] = [];
        for (const batch of batches) answers.push(await post(server.url, batchOf(client, batch)));
        return answers;
      }));

    // Space: every batch acknowledged.
    expect(await sendAll(BEFORE)).toEqual(Array.from({ length: CLIENTS }, (_, client) => BEFORE.map((batch) => ({ status: 200, body: acknowledgedBody(client, batch) }))));

    // Full: every batch refused, and /readyz says why and until when.
    disk.fill(pid);
    expect(await sendAll(WHILE_FULL)).toEqual(Array.from({ length: CLIENTS }, () => WHILE_FULL.map(() => ({ status: 503, body: REFUSED }))));
    const notReady = await readyz(server.url);
    expect(notReady.status).toBe(503);
    const errno = disk.mechanism === 'tmpfs' ? 'ENOSPC: no space left on device, write' : 'EFBIG: file too large, write';
    expect(notReady.body.checks.segment_log).toBe(`stream "clicks" refuses events until disk space is freed (the next batch tries again): ${errno}`);

    // Freed: the refused batches, sent again with the same ids, are acknowledged within the retry
    // delay (1 s) plus a little, by the same process. One client gives up on its refused batches.
    disk.free(pid);
    const freedAt = Date.now();
    let tries = 0;
    await Promise.all(Array.from({ length: CLIENTS }, async (_, client) => {
      if (client === GIVES_UP) return;
      for (const batch of WHILE_FULL) {
        for (;;) {
          tries++;
          const answer = await post(server.url, batchOf(client, batch));
          if (answer.status === 200) {
            expect(answer.body).toEqual(acknowledgedBody(client, batch));
            break;
          }
          expect(answer).toEqual({ status: 503, body: REFUSED });
          expect(Date.now() - freedAt).toBeLessThan(5000);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }));
    const recoveredAfterMs = Date.now() - freedAt;
    expect(recoveredAfterMs).toBeLessThan(5000);
    expect(await sendAll(AFTER)).toEqual(Array.from({ length: CLIENTS }, (_, client) => AFTER.map((batch) => ({ status: 200, body: acknowledgedBody(client, batch) }))));
    expect(await readyz(server.url)).toMatchObject({ status: 200, body: { checks: { segment_log: 'ok' } } });

    // The same process all along: it closes cleanly and never had to recover anything.
    server.process.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.process.pid).toBe(pid);
    expect(server.stderr()).not.toMatch(/recovered|cut \d+ bytes/);

    const acknowledged = new Set<string>();
    for (let client = 0; client < CLIENTS; client++) {
      for (const batch of [...BEFORE, ...(client === GIVES_UP ? [] : WHILE_FULL), ...AFTER]) for (const e of batchOf(client, batch)) acknowledged.add(e._event_id);
    }
    const refusedOnly = WHILE_FULL.flatMap((batch) => batchOf(GIVES_UP, batch).map((e) => e._event_id));
    expect(acknowledged.size).toBe((CLIENTS * (BEFORE.length + AFTER.length) + (CLIENTS - 1) * WHILE_FULL.length) * EVENTS_PER_BATCH); // 740

    // In the segments: every acknowledged id once, no refused one.
    const inSegments = new Map<string, number>();
    for (const segment of await listSegments(streamSegmentsDir(disk.dir, 'clicks'))) {
      expect(segment.state).toBe('closed');
      for await (const e of readSegment(segment.path)) inSegments.set(e._event_id, (inSegments.get(e._event_id) ?? 0) + 1);
    }
    // In the warehouse, after the real ingest activity: exactly the acknowledged events, with their values.
    await warehouse.ingestClosed();
    const rows = await warehouse.rows('clicks');
    const inWarehouse = new Map<string, number>();
    for (const row of rows) inWarehouse.set(row._event_id as string, (inWarehouse.get(row._event_id as string) ?? 0) + 1);
    const counts = {
      mechanism: disk.mechanism,
      acknowledged: acknowledged.size,
      refusedNeverResent: refusedOnly.length,
      missingFromWarehouse: [...acknowledged].filter((id) => !inWarehouse.has(id)).length,
      duplicatedInWarehouse: [...inWarehouse.values()].filter((n) => n > 1).length,
      duplicatedInSegments: [...inSegments.values()].filter((n) => n > 1).length,
      refusedStored: refusedOnly.filter((id) => inSegments.has(id) || inWarehouse.has(id)).length,
      retriesAfterFree: tries - (CLIENTS - 1) * WHILE_FULL.length,
      recoveredAfterMs,
    };
    console.log(`disk full (${counts.mechanism}): acknowledged ${counts.acknowledged}, missing ${counts.missingFromWarehouse}, duplicated ${counts.duplicatedInWarehouse} (segments ${counts.duplicatedInSegments}), refused and stored ${counts.refusedStored} of ${counts.refusedNeverResent}; refused batches acknowledged ${counts.recoveredAfterMs} ms after space was freed (${counts.retriesAfterFree} extra tries), no restart`);
    expect(counts).toMatchObject({ acknowledged: 740, refusedNeverResent: 60, missingFromWarehouse: 0, duplicatedInWarehouse: 0, duplicatedInSegments: 0, refusedStored: 0 });
    expect(inSegments.size).toBe(740);
    const expected = [...acknowledged].sort().map((id) => {
      const [, client, batch, i] = /^w(\d)-b(\d)-e(\d\d)$/.exec(id)!.map(Number) as [number, number, number, number];
      return { _event_id: id, user_id: client, ts: '2026-01-01T00:00:00.000Z', seq: seqOf(client, batch, i), pad: PAD };
    });
    expect(rows).toEqual(expected);
  }, 60_000);
});
