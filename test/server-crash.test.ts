import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listSegments, readSegment, streamSegmentsDir, type StreamSchema } from '../server/index.ts';
import { REPO_ROOT } from './support/temp-project.ts';

// The durability promise, tested the hard way: a load generator sends batches concurrently to the
// server running as a child process, records every id the server acknowledged, and the server is
// SIGKILLed mid-run. After a restart (which recovers the open segments) every acknowledged id must be
// stored exactly once. Unacknowledged batches may or may not be stored; resending them must not
// store anything twice.

const STREAM: StreamSchema = {
  name: 'clicks',
  keys: [{ name: 'user_id', type: 'int64' }],
  timestampField: 'ts',
  fields: [
    { name: 'url', type: 'string', nullable: true },
    { name: 'seq', type: 'int64', nullable: false },
  ],
};
const TOKEN = 'crash-test-token';

let dir: string;
let child: ChildProcess | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flywheel-crash-'));
  writeFileSync(join(dir, 'streams.json'), JSON.stringify([STREAM]));
});
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  rmSync(dir, { recursive: true, force: true });
});

interface Started {
  readonly process: ChildProcess;
  readonly url: string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts server/standalone.ts as a child process; resolves once it listens. */
async function startServer(): Promise<Started> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'server', 'standalone.ts'), '--state-dir', join(dir, 'state'), '--streams', join(dir, 'streams.json'), '--port', '0', '--segment-max-bytes', String(256 * 1024)],
    { cwd: REPO_ROOT, env: { ...process.env, FLYWHEEL_TOKENS: `${TOKEN}=write:clicks` }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child = proc;
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${stderr}`)));
  });
  return { process: proc, url, stderr: () => stderr, exited };
}

interface Batch {
  readonly events: Record<string, unknown>[];
  /** Whether the events carry their own `_event_id` (else the server assigns one). */
  readonly clientIds: boolean;
}

interface LoadResult {
  /** Every id the server acknowledged. */
  readonly acknowledged: string[];
  /** Batches sent but not acknowledged (the server died under them). */
  readonly unacknowledged: Batch[];
}

/** `workers` concurrent senders of 20-event batches until `stop()`; half the batches carry their own ids. */
function runLoad(url: string, workers: number, firstSeq: { next: number }) {
  let stopped = false;
  const acknowledged: string[] = [];
  const unacknowledged: Batch[] = [];
  const worker = async (w: number) => {
    for (let b = 0; !stopped; b++) {
      const clientIds = b % 2 === 0;
      const events = Array.from({ length: 20 }, () => {
        const seq = firstSeq.next++;
        return { user_id: w, ts: '2026-11-26T10:00:00Z', seq, url: `/p/${seq}`, ...(clientIds ? { _event_id: `c-${seq}` } : {}) };
      });
      try {
        const response = await fetch(`${url}/v1/streams/clicks/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify(events),
        });
        if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
        const body = (await response.json()) as { ids: string[] };
        acknowledged.push(...body.ids);
      } catch {
        unacknowledged.push({ events, clientIds });
        return; // the server is gone
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    acknowledged: () => acknowledged.length,
    stop: async (): Promise<LoadResult> => {
      stopped = true;
      await done;
      return { acknowledged, unacknowledged };
    },
    done,
  };
}

async function storedIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const segment of await listSegments(streamSegmentsDir(join(dir, 'state'), 'clicks'))) {
    expect(segment.state).toBe('closed');
    for await (const event of readSegment(segment.path)) ids.push(event._event_id);
  }
  return ids;
}

describe('log API durability', () => {
  it('keeps every acknowledged id exactly once across SIGKILLs mid-load', async () => {
    const seq = { next: 0 };
    const acknowledged: string[] = [];
    const unacknowledged: Batch[] = [];
    for (let round = 0; round < 3; round++) {
      const server = await startServer();
      if (round > 0) {
        // The recovery line goes to stderr, the "listening" line to stdout: two pipes, so allow it a moment to arrive.
        const recovered = /segment log: recovered clicks segment \S+ \(\d+ events\) and closed it/;
        for (let i = 0; i < 40 && !recovered.test(server.stderr()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(server.stderr()).toMatch(recovered);
      }
      const load = runLoad(server.url, 8, seq);
      // Kill once a good number of batches were acknowledged, at a moment the load does not choose.
      const target = 150 * 20 + round * 500;
      while (load.acknowledged() < target) await new Promise((resolve) => setTimeout(resolve, 5));
      server.process.kill('SIGKILL');
      await server.exited;
      const result = await load.stop();
      expect(result.unacknowledged.length).toBeGreaterThan(0); // it did die under load
      acknowledged.push(...result.acknowledged);
      unacknowledged.push(...result.unacknowledged);
    }

    // Restart, and resend what was not acknowledged (as a client retrying would).
    const server = await startServer();
    const resent: string[] = [];
    for (const batch of unacknowledged.filter((b) => b.clientIds)) {
      const response = await fetch(`${server.url}/v1/streams/clicks/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(batch.events),
      });
      expect(response.status).toBe(200);
      resent.push(...((await response.json()) as { ids: string[] }).ids);
    }
    server.process.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    const stored = await storedIds();
    const counts = new Map<string, number>();
    for (const id of stored) counts.set(id, (counts.get(id) ?? 0) + 1);
    const duplicated = [...counts].filter(([, n]) => n > 1);
    expect(duplicated).toEqual([]);
    const missing = [...acknowledged, ...resent].filter((id) => !counts.has(id));
    expect(missing).toEqual([]);
    expect(new Set(acknowledged).size).toBe(acknowledged.length);
    expect(acknowledged.length).toBeGreaterThanOrEqual(3 * 150 * 20);
  }, 120_000);

  it('shuts down cleanly on SIGTERM: requests in flight are answered, open segments closed', async () => {
    const server = await startServer();
    const load = runLoad(server.url, 4, { next: 0 });
    while (load.acknowledged() < 2000) await new Promise((resolve) => setTimeout(resolve, 5));
    server.process.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const result = await load.stop();
    expect(server.stderr()).toContain('SIGTERM: shutting down');
    const stored = await storedIds(); // every segment is closed (.seg)
    expect(new Set(stored).size).toBe(stored.length);
    expect(result.acknowledged.filter((id) => !stored.includes(id))).toEqual([]);
  }, 60_000);
});
