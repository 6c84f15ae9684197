import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, featureService, featureView, source } from '../index.ts';
import { createServer } from 'node:net';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { startLogServer, TokenTable } from '../server/index.ts';
import { warmUpServing } from '../server/serving/warm-up.ts';
import { warmUpServingOverHttp } from '../server/serving/warm-up-over-http.ts';

/**
 * The serving warm-up at start-up (server/serving/warm-up.ts): it runs synthetic requests through
 * the request path of every servable service, reads only (the store holds what it held), survives a
 * store that does not answer, keeps to its time bound, and the server it warmed answers its first
 * request exactly. Real SQLite files; its speed effect is measured in bench/serving.ts, not here.
 */
const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const country = entity({ name: 'country', joinKeys: { country_code: 'string' } });
const src = source({ name: 'src', table: 'raw.src', timestampField: 'ts', columns: { user_id: 'int64', country_code: 'string', ts: 'timestamp', spend: 'float64', tax: 'float64' } });
const userSpend = featureView({ name: 'user_spend', entities: [user], source: src, ttl: '1d', features: { spend: 'float64' } });
const userCountry = featureView({ name: 'user_country', entities: [user, country], source: src, features: { tax: 'float64' } });
const offline = featureView({ name: 'offline_only', entities: [user], source: src, online: false, features: { tax: 'float64' } });
const project: ProjectSpec = validateProject(
  [
    user, country, src, userSpend, userCountry, offline,
    featureService({ name: 'spend', features: [userSpend] }),
    featureService({ name: 'both', features: [userSpend, userCountry] }),
    // Not servable (its view is not online): skipped by the warm-up.
    featureService({ name: 'offline', features: [offline] }),
  ].map((definition) => ({ file: 'definitions/warm-up.ts', definition })),
);

let dir: string;
let store: SqliteOnlineStore;
const dbPath = () => join(dir, 'online.sqlite');
const storedRows = () => {
  const db = new Database(dbPath(), { readonly: true });
  try {
    return db.prepare('SELECT view, key, values_json FROM online_records ORDER BY view, key').all();
  } finally {
    db.close();
  }
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flywheel-warm-up-'));
  store = new SqliteOnlineStore({ path: dbPath() });
  await store.write([{ view: 'user_spend', key: [7], values: { spend: 12.5 }, eventTime: new Date().toISOString() }]);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('serving warm-up', () => {
  it('runs `rounds` requests of 1 and 100 rows for each servable service, of synthetic keys and of keys sampled from the store, reading only', async () => {
    const before = storedRows();
    const warmed = await warmUpServing(project, store, { rounds: 3 });
    // 2 servable services (both, spend) × 3 rounds × 2 sizes × (synthetic keys, sampled keys); `offline` is skipped.
    expect(warmed.requests).toBe(24);
    // The store holds one record (user_spend [7]): one key sampled, and both services have real bodies.
    expect(warmed.sampledKeys).toBe(1);
    expect(warmed.realRequests).toBe(12);
    // Every real request reads user_spend [7] and finds it (its 100 rows share the key: one read);
    // `both` also reads user_country [7, <synthetic>], which is not stored. 12 requests, one record each.
    expect(warmed.recordsRead).toBe(12);
    expect(warmed.ms).toBeGreaterThan(0);
    expect(storedRows()).toEqual(before);
    expect(before).toHaveLength(1);
  });

  it('reads the stored records of sampled keys: 100 different ones for the 100-row request', async () => {
    await store.write(Array.from({ length: 150 }, (_, i) => ({ view: 'user_spend', key: [1000 + i], values: { spend: i }, eventTime: new Date().toISOString() })));
    const warmed = await warmUpServing(project, store, { rounds: 1, maxServices: 1 });
    // `both` (the first service by name), rounds 1: synthetic 1 and 100 rows, sampled 1 and 100 rows.
    expect(warmed.requests).toBe(4);
    expect(warmed.realRequests).toBe(2);
    // 100 keys sampled of 151 stored; the 1-row request reads one record, the 100-row one 100.
    expect(warmed.sampledKeys).toBe(100);
    expect(warmed.recordsRead).toBe(101);
  });

  it('warms with synthetic keys only when the store holds no record', async () => {
    const empty = new SqliteOnlineStore({ path: join(dir, 'empty.sqlite') });
    try {
      const warmed = await warmUpServing(project, empty, { rounds: 2 });
      expect(warmed).toMatchObject({ requests: 8, realRequests: 0, sampledKeys: 0, recordsRead: 0 });
    } finally {
      await empty.close();
    }
  });

  it('still warms the rest of the path when the store does not answer', async () => {
    const closed = new SqliteOnlineStore({ path: join(dir, 'closed.sqlite') });
    await closed.close();
    const warmed = await warmUpServing(project, closed, { rounds: 2 });
    expect(warmed).toMatchObject({ requests: 8, realRequests: 0, sampledKeys: 0, recordsRead: 0 });
  });

  it('starts a server over a Redis that does not answer: no sample, the warm-up bounded, then 503s', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const lines: string[] = [];
    const started = performance.now();
    const server = await startLogServer({
      stateDir: join(dir, 'state-unreachable'), streams: [], tokens: TokenTable.parse('reader=read'), port: 0, log: (line) => lines.push(line),
      serving: { project, store: new RedisOnlineStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'fw:warm:', connectTimeoutMs: 200 }) },
    });
    try {
      // The sample waits at most 1 s, the in-process warm-up 1 s, the one over HTTP 2 s.
      expect(performance.now() - started).toBeLessThan(6000);
      expect(lines.find((l) => l.startsWith('serving: warmed the request path with '))).toMatch(/ \(0 of them of 0 keys sampled from the store, 0 stored records read\)$/);
      const response = await fetch(`${server.url}/v1/features`, {
        method: 'POST', headers: { authorization: 'Bearer reader', 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'spend', entities: [{ user_id: 7 }] }),
      });
      expect(response.status).toBe(503);
    } finally {
      await server.close();
    }
  });

  it('keeps to its time bound and service bound', async () => {
    expect((await warmUpServing(project, store, { rounds: 5, maxMs: 0 })).requests).toBe(0);
    expect((await warmUpServing(project, store, { rounds: 5, maxServices: 1 })).requests).toBe(20);
  });

  it('sends real requests over loopback to a server of its own: 1 and 100 rows, with and without metadata, reading only', async () => {
    const before = storedRows();
    const warmed = await warmUpServingOverHttp({ project, store }, 1024 * 1024, { rounds: 2 });
    // 2 servable services × 2 sizes × (synthetic keys, sampled keys) × with and without metadata × 2 rounds,
    // in each of two sessions (the second has min(rounds, 10) rounds).
    expect(warmed.requests).toBe(64);
    expect(warmed.realRequests).toBe(32);
    expect(storedRows()).toEqual(before);
    // A store that does not answer: no sample, each request is answered 503, and the warm-up still ends.
    const closed = new SqliteOnlineStore({ path: join(dir, 'closed.sqlite') });
    await closed.close();
    expect((await warmUpServingOverHttp({ project, store: closed }, 1024 * 1024, { rounds: 1 }))).toMatchObject({ requests: 16, realRequests: 0 });
    expect((await warmUpServingOverHttp({ project, store }, 1024 * 1024, { rounds: 5, maxMs: 0 })).requests).toBe(0);
  });

  it('leaves no synthetic request in the metrics of the server it warmed', async () => {
    const lines: string[] = [];
    const server = await startLogServer({
      stateDir: join(dir, 'state-metrics'), streams: [], tokens: TokenTable.parse('reader=read'), port: 0,
      log: (line) => lines.push(line), serving: { project, store: new SqliteOnlineStore({ path: dbPath() }) },
    });
    try {
      expect(lines.filter((l) => /^serving: warmed the HTTP path with \d+ requests over loopback in \d+ ms \(\d+ of them of sampled keys\)$/.test(l))).toHaveLength(1);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).not.toContain('route="/v1/features"');
      expect(metrics).not.toContain('flywheel_served_rows_total{');
    } finally {
      await server.close();
    }
  });

  it('warms a server before it listens, which then answers its first request exactly; servingWarmUp: false skips it', async () => {
    for (const servingWarmUp of [undefined, false] as const) {
      const lines: string[] = [];
      const server = await startLogServer({
        stateDir: join(dir, `state-${String(servingWarmUp)}`), streams: [], tokens: TokenTable.parse('reader=read'), port: 0,
        log: (line) => lines.push(line),
        serving: { project, store: new SqliteOnlineStore({ path: dbPath() }) },
        ...(servingWarmUp === false ? { servingWarmUp } : {}),
      });
      try {
        const warmLines = lines.filter((l) => l.startsWith('serving: warmed the request path with '));
        // Default rounds: 300 per service and body, unless the 1 s bound cut it short (a loaded machine).
        if (servingWarmUp === false) expect(warmLines).toEqual([]);
        else expect(warmLines).toHaveLength(1);
        const response = await fetch(`${server.url}/v1/features`, {
          method: 'POST', headers: { authorization: 'Bearer reader', 'content-type': 'application/json' },
          body: JSON.stringify({ service: 'spend', entities: [{ user_id: 7 }, { user_id: 8 }], metadata: false }),
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { features: string[]; rows: unknown[] };
        expect(body.features).toEqual(['spend']);
        expect(body.rows).toEqual([{ values: [12.5] }, { values: [null] }]);
      } finally {
        await server.close();
      }
    }
  });
});
