/**
 * The online stores against hand-written floors doing the same storage work, in the same process:
 *
 * - SQLite: SqliteOnlineStore against a plain better-sqlite3 loop (a prepared upsert without the
 *   newer-wins WHERE in one transaction; one prepared SELECT per key);
 * - Redis: RedisOnlineStore against the same string layout written by raw pipelined SET (no Lua
 *   newer-wins check) and read by one MGET, on the same redis-server (started here on a free port
 *   unless `--redis-url` is given).
 *
 * Writes: `--records` records of 8 features, in calls of 10,000, each run with later event times
 * than the last (so every record replaces a stored one, as materialization does). Reads:
 * `--requests` calls of `--keys` random keys each, a 7-day ttl; the store and its baseline take
 * turns request by request. Both sides JSON-encode and decode the values.
 *
 *   npx tsx bench/online-store.ts [--records 100000] [--keys 500] [--requests 1000] [--runs 3] [--redis-url redis://…]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createClient } from 'redis';
import { encodeOnlineKey } from '../connectors/online-store/online-key.ts';
import { layoutOf } from '../connectors/online-store/online-layouts.ts';
import type { OnlineReadRequest, OnlineRecord, OnlineStore } from '../connectors/online-store/online-store.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { microsFromIso } from '../connectors/online-store/online-time.ts';
import { compareMs } from './measure.ts';
import { startRedis } from './redis-server.ts';

export interface OnlineStoreBenchOptions {
  records: number;
  keysPerRequest: number;
  requests: number;
  runs: number;
  /** Use this Redis instead of starting one; keys go under `fw:bench-<pid>:` and are deleted after. */
  redisUrl?: string;
}

/** What one engine's store and its baseline measured. */
export interface OnlineStoreFigures {
  readonly engine: string;
  readonly baseline: string;
  readonly writeMs: { subject: number; baseline: number };
  readonly readTotalMs: { subject: number; baseline: number };
  readonly readP50Ms: { subject: number; baseline: number };
  readonly readP99Ms: { subject: number; baseline: number };
}

/** The storage work the baseline does by hand: write a batch, read a batch of keys. */
interface Baseline {
  write(records: readonly OnlineRecord[]): Promise<void>;
  read(requests: readonly OnlineReadRequest[]): Promise<unknown[]>;
}

const WRITE_CALL = 10_000;
const VIEW = 'user_stats';

export async function benchOnlineStores(options: OnlineStoreBenchOptions): Promise<OnlineStoreFigures[]> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-online-'));
  const redis = options.redisUrl ? { url: options.redisUrl, stop: async () => {} } : await startRedis(dir);
  const prefix = `fw:bench-${process.pid}:`;
  const figures: OnlineStoreFigures[] = [];
  try {
    const sqlite = new SqliteOnlineStore({ path: join(dir, 'online.sqlite') });
    const sqliteBaseline = plainSqlite(join(dir, 'baseline.sqlite'));
    figures.push(await benchOne('SQLite', 'better-sqlite3 upsert/select loop', sqlite, sqliteBaseline.baseline, options));
    await sqlite.close();
    sqliteBaseline.close();

    const store = new RedisOnlineStore({ url: redis.url, keyPrefix: prefix });
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    try {
      figures.push(await benchOne('Redis', 'pipelined SET/MGET of the same strings, no Lua', store, rawRedis(client, `${prefix}raw:`), options));
    } finally {
      await store.close();
      for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 10_000 })) if (keys.length > 0) await client.unlink(keys);
      client.destroy();
    }
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}

async function benchOne(engine: string, baselineLabel: string, store: OnlineStore, baseline: Baseline, options: OnlineStoreBenchOptions): Promise<OnlineStoreFigures> {
  let round = 0;
  const batchesOf = (records: OnlineRecord[]) => Array.from({ length: Math.ceil(records.length / WRITE_CALL) }, (_, i) => records.slice(i * WRITE_CALL, (i + 1) * WRITE_CALL));
  // Each run writes every key again, one second later than the run before.
  const nextBatches = () => batchesOf(makeRecords(options.records, round++));
  const writes = await compareMs(
    options.runs,
    async () => {
      for (const batch of nextBatches()) await store.write(batch);
    },
    async () => {
      for (const batch of nextBatches()) await baseline.write(batch);
    },
  );

  const random = mulberry32(42);
  const now = new Date(Date.parse('2024-05-01T12:00:00Z') + 86_400_000);
  const request = (): OnlineReadRequest[] =>
    Array.from({ length: options.keysPerRequest }, () => ({ view: VIEW, key: [Math.floor(random() * options.records)], ttlSeconds: 7 * 86_400 }));
  // Same answers first: a fast wrong read measures nothing.
  const probe = request();
  const [fromStore, fromBaseline] = [await store.read(probe, now), await baseline.read(probe)];
  if (fromStore.some((value) => value.status !== 'present') || JSON.stringify(fromStore.map((v) => v.values)) !== JSON.stringify(fromBaseline)) {
    throw new Error(`${engine}: the store and the baseline read different values`);
  }
  for (let i = 0; i < 20; i++) {
    await store.read(request(), now);
    await baseline.read(request());
  }
  const subjectMs: number[] = [];
  const baselineMs: number[] = [];
  for (let i = 0; i < options.requests; i++) {
    const requests = request();
    let start = performance.now();
    await store.read(requests, now);
    subjectMs.push(performance.now() - start);
    start = performance.now();
    await baseline.read(requests);
    baselineMs.push(performance.now() - start);
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    engine,
    baseline: baselineLabel,
    writeMs: { subject: writes.subjectMs, baseline: writes.baselineMs },
    readTotalMs: { subject: sum(subjectMs), baseline: sum(baselineMs) },
    readP50Ms: { subject: percentile(subjectMs, 0.5), baseline: percentile(baselineMs, 0.5) },
    readP99Ms: { subject: percentile(subjectMs, 0.99), baseline: percentile(baselineMs, 0.99) },
  };
}

const FEATURE_NAMES = ['txn_count_1h', 'txn_count_7d', 'amount_sum_7d', 'amount_avg_7d', 'country', 'is_verified', 'last_seen', 'merchant_id'];

/** `count` records of VIEW, keys 0..count-1, eight features, event time 2024-05-01T12:00:00Z + `round` seconds. */
function makeRecords(count: number, round: number): OnlineRecord[] {
  const eventTime = new Date(Date.parse('2024-05-01T12:00:00Z') + round * 1000).toISOString();
  return Array.from({ length: count }, (_, i) => ({
    view: VIEW,
    key: [i],
    eventTime,
    values: {
      txn_count_1h: i % 17,
      txn_count_7d: i % 301,
      amount_sum_7d: (i % 1000) * 1.25,
      amount_avg_7d: (i % 97) / 3,
      country: ['FR', 'DE', 'US', 'BR'][i % 4]!,
      is_verified: i % 3 === 0,
      last_seen: '2024-05-01T11:59:59.123456Z',
      merchant_id: `m${i % 5000}`,
    },
  }));
}

/** The same storage with better-sqlite3 and nothing else: no newer-wins check, no batch statement. */
function plainSqlite(path: string): { baseline: Baseline; close(): void } {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE kv (view TEXT NOT NULL, key TEXT NOT NULL, values_json TEXT NOT NULL, event_time INTEGER NOT NULL, written_at INTEGER NOT NULL, PRIMARY KEY (view, key)) WITHOUT ROWID');
  const upsert = db.prepare<[string, string, string, number, number]>(
    'INSERT INTO kv VALUES (?, ?, ?, ?, ?) ON CONFLICT (view, key) DO UPDATE SET values_json = excluded.values_json, event_time = excluded.event_time, written_at = excluded.written_at',
  );
  const select = db.prepare<[string, string], { values_json: string; event_time: number; written_at: number }>('SELECT values_json, event_time, written_at FROM kv WHERE view = ? AND key = ?');
  const writeAll = db.transaction((records: readonly OnlineRecord[]) => {
    const writtenAt = Date.now() * 1000;
    for (const r of records) upsert.run(r.view, JSON.stringify(r.key), JSON.stringify(r.values), microsFromIso(r.eventTime)!, writtenAt);
  });
  return {
    baseline: {
      write: async (records) => writeAll(records),
      read: async (requests) =>
        requests.map((r) => {
          const row = select.get(r.view, JSON.stringify(r.key));
          return row ? JSON.parse(row.values_json) : undefined;
        }),
    },
    close: () => db.close(),
  };
}

/**
 * The same layout by hand, without the newer-wins script: pipelined `SET` of
 * `<event>|<written>|<layout>|<JSON array>` strings (1,000 per round trip), and one `MGET` per read
 * whose values are cut at their third `|` and JSON-parsed into objects, as the store's read() does.
 */
function rawRedis(client: ReturnType<typeof createClient>, prefix: string): Baseline {
  return {
    write: async (records) => {
      const writtenAt = String(Date.now() * 1000);
      for (let start = 0; start < records.length; start += 1000) {
        await Promise.all(
          records.slice(start, start + 1000).map((r) => {
            const names = Object.keys(r.values);
            const value = `${microsFromIso(r.eventTime)}|${writtenAt}|${layoutOf(names).id}|${JSON.stringify(Object.values(r.values))}`;
            return client.sendCommand(['SET', `${prefix}${r.view}:${encodeOnlineKey(r.key)}`, value]);
          }),
        );
      }
    },
    read: async (requests) => {
      const replies = await client.sendCommand<(string | null)[]>(['MGET', ...requests.map((r) => `${prefix}${r.view}:${encodeOnlineKey(r.key)}`)]);
      return replies.map((text) => {
        if (text === null) return undefined;
        let cut = 0;
        for (let bars = 0; bars < 3; bars++) cut = text.indexOf('|', cut) + 1;
        const array = JSON.parse(text.slice(cut)) as unknown[];
        const values: Record<string, unknown> = {};
        FEATURE_NAMES.forEach((name, i) => (values[name] = array[i]));
        return values;
      });
    },
  };
}


function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function printOnlineStoreFigures(figures: readonly OnlineStoreFigures[], options: OnlineStoreBenchOptions): void {
  const ms = (n: number) => `${n.toFixed(n < 10 ? 2 : 0)} ms`;
  const ratio = (x: { subject: number; baseline: number }) => `${(x.subject / x.baseline).toFixed(2)}x`;
  const lines = [`\nOnline stores: ${options.records.toLocaleString('en-US')} records written (median of ${options.runs} runs), ${options.requests.toLocaleString('en-US')} reads of ${options.keysPerRequest} keys`];
  for (const f of figures) {
    lines.push(
      `  ${f.engine} (baseline: ${f.baseline})`,
      `    write ${options.records.toLocaleString('en-US')}: ${ms(f.writeMs.subject)} (${Math.round(options.records / (f.writeMs.subject / 1000)).toLocaleString('en-US')} records/s)` +
        ` vs ${ms(f.writeMs.baseline)}: ${ratio(f.writeMs)}`,
      `    read, all ${options.requests.toLocaleString('en-US')} requests: ${ms(f.readTotalMs.subject)} vs ${ms(f.readTotalMs.baseline)}: ${ratio(f.readTotalMs)}`,
      `    read, p50 per request: ${ms(f.readP50Ms.subject)} vs ${ms(f.readP50Ms.baseline)}: ${ratio(f.readP50Ms)}; p99: ${ms(f.readP99Ms.subject)} vs ${ms(f.readP99Ms.baseline)}: ${ratio(f.readP99Ms)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      keys: { type: 'string', default: '500' },
      requests: { type: 'string', default: '1000' },
      runs: { type: 'string', default: '3' },
      'redis-url': { type: 'string' },
    },
  });
  const options: OnlineStoreBenchOptions = {
    records: Number(values.records),
    keysPerRequest: Number(values.keys),
    requests: Number(values.requests),
    runs: Number(values.runs),
    ...(values['redis-url'] ? { redisUrl: values['redis-url'] } : {}),
  };
  process.stdout.write(`node ${process.version}, ${cpus().length} cores\n`);
  printOnlineStoreFigures(await benchOnlineStores(options), options);
}
