import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { OnlineRecord } from '../connectors/online-store/online-store.ts';
import { expiryBoundsKey, SWEEP_BEGIN_SCRIPT, SWEEP_END_SCRIPT, writeBound } from '../connectors/online-store/redis/redis-expiry-bound.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { eventTimeField } from '../connectors/online-store/redis/redis-write-script.ts';
import { startRedisServer, withRedisClient, type RunningRedis } from './setup/redis.ts';

/**
 * The Redis store's expiry bound (connectors/online-store/redis/redis-expiry-bound.ts): the sweep
 * (`deleteExpired`) returns without SCANning a view whose every key already expires within the ttl,
 * and still removes every record past the ttl whenever one might not. A redis-server of its own, so
 * the command statistics (did the sweep SCAN?) are this file's alone.
 */

const HOUR = 3600;
const HOUR_MICROS = String(HOUR * 1_000_000);

let server: RunningRedis;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

/** A store on a prefix of its own, and what the test looks at through a plain client. */
async function fixture() {
  const keyPrefix = `fw:b-${randomUUID().slice(0, 8)}:`;
  const store = new RedisOnlineStore({ url: server.url, keyPrefix });
  const redis = <T>(work: Parameters<typeof withRedisClient<T>>[1]) => withRedisClient(server.url, work);
  /** Runs `sweep` and says how many SCANs it sent. */
  const scansOf = async <T>(sweep: () => Promise<T>): Promise<{ result: T; scans: number }> => {
    await redis((c) => c.configResetStat());
    const result = await sweep();
    const info = await redis((c) => c.info('commandstats'));
    return { result, scans: Number(/^cmdstat_scan:calls=(\d+)/m.exec(info)?.[1] ?? 0) };
  };
  const bounds = () => redis((c) => c.hGetAll(expiryBoundsKey(keyPrefix)));
  const read = async (view: string, keys: number[], ttlSeconds: number | null) =>
    (await store.read(keys.map((k) => ({ view, key: [k], ttlSeconds })), new Date())).map((r) => r.status);
  return { keyPrefix, store, redis, scansOf, bounds, read };
}

const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();
const rec = (view: string, key: number, eventTime: string, ttlSeconds: number | null): OnlineRecord => ({ view, key: [key], values: { n: key }, eventTime, ttlSeconds });

describe('writeBound', () => {
  it('is the largest gap from event time to key expiry in µs, as PEXPIRETIME will say, or "" when a key never expires', () => {
    expect(writeBound([])).toBe('-Infinity');
    // Expiry = floor((event + ttl) / 1 ms): 1,714,564,800,000,999 µs + 1 s → 1,714,564,801,000 ms.
    expect(writeBound([{ eventMicros: 1_714_564_800_000_999, expireAtMillis: 1_714_564_801_000 }])).toBe('999001');
    expect(writeBound([{ eventMicros: 0, expireAtMillis: 5 }, { eventMicros: 10, expireAtMillis: 3_600_000 }])).toBe('3599999990');
    expect(writeBound([{ eventMicros: 0, expireAtMillis: 5 }, { eventMicros: 10 }])).toBe('');
  });
});

describe('RedisOnlineStore expiry sweep with known bounds', () => {
  it('skips the scan when every key was written with the ttl, and still removes what a shorter ttl expires', async () => {
    const { store, scansOf, bounds, read } = await fixture();
    try {
      // A fresh prefix: tracked from its first write, so the view's bound is the ttl's, exactly.
      expect(await store.write([rec('v', 1, ago(60), HOUR), rec('v', 2, ago(HOUR + 60), HOUR), rec('v', 3, ago(30 * 60), HOUR)])).toEqual({ written: 3, skippedOlder: 0 });
      expect(await bounds()).toEqual({ '*': '1', v: HOUR_MICROS });
      expect(await read('v', [1, 2, 3], HOUR)).toEqual(['present', 'missing', 'present']); // key 2 expired at once

      // Sweeps with the ttl or a longer one: nothing can be past it and still stored, no SCAN.
      expect(await scansOf(() => store.deleteExpired('v', HOUR, new Date(), 100))).toEqual({ result: { deleted: 0, done: true }, scans: 0 });
      expect(await scansOf(() => store.deleteExpired('v', 2 * HOUR, new Date(), 100))).toEqual({ result: { deleted: 0, done: true }, scans: 0 });
      // A view never written in a tracked prefix has no records.
      expect(await scansOf(() => store.deleteExpired('other', HOUR, new Date(), 100))).toEqual({ result: { deleted: 0, done: true }, scans: 0 });

      // The ttl shortened to 10 minutes: key 3 (30 minutes old) still has an hour's expiry, so the sweep scans and removes it.
      const shorter = await scansOf(() => store.deleteExpired('v', 600, new Date(), 100));
      expect(shorter.result).toEqual({ deleted: 1, done: true });
      expect(shorter.scans).toBeGreaterThan(0);
      expect(await read('v', [1, 3], null)).toEqual(['present', 'missing']);
      // Key 1 keeps its hour's expiry, longer than 600 s: the bound stays the hour's, and the next sweep scans again.
      expect(await bounds()).toEqual({ '*': '1', v: HOUR_MICROS });
      expect((await scansOf(() => store.deleteExpired('v', 600, new Date(), 100))).scans).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('scans again after a record without a ttl, and removes it once it is past the ttl', async () => {
    const { store, scansOf, bounds, read } = await fixture();
    try {
      await store.writeEncoded({ view: 'v', features: ['n'], ttlSeconds: HOUR, rows: [{ key: [1], eventMicros: Date.now() * 1000, values: '[1]' }] });
      expect(await bounds()).toEqual({ '*': '1', v: HOUR_MICROS });
      // A writer without a ttl: its key never expires by itself, so the bound is unknown from now on.
      await store.write([rec('v', 2, ago(HOUR + 5), null)]);
      expect(await bounds()).toEqual({ '*': '1', v: 'inf' });
      const swept = await scansOf(() => store.deleteExpired('v', HOUR, new Date(), 100));
      expect(swept.result).toEqual({ deleted: 1, done: true });
      expect(swept.scans).toBeGreaterThan(0);
      expect(await read('v', [1, 2], HOUR)).toEqual(['present', 'missing']);
      // That sweep went over every key and found each within the ttl: the bound is known again.
      expect(await bounds()).toEqual({ '*': '1', v: HOUR_MICROS });
      expect((await scansOf(() => store.deleteExpired('v', HOUR, new Date(), 100))).scans).toBe(0);
      // A longer ttl written raises the bound; a sweep with the old ttl then scans.
      await store.write([rec('v', 3, ago(0), 2 * HOUR)]);
      expect(await bounds()).toEqual({ '*': '1', v: String(2 * HOUR * 1_000_000) });
      expect((await scansOf(() => store.deleteExpired('v', HOUR, new Date(), 100))).scans).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('in a prefix with records from before bounds, scans until a sweep finds every key expiring within the ttl', async () => {
    const { keyPrefix, store, redis, scansOf, bounds, read } = await fixture();
    try {
      // What a release before bounds left: the layouts hash and a fresh record whose key never expires.
      const layoutId = 'legacy';
      await redis(async (c) => {
        await c.hSet(`${keyPrefix}__layouts`, layoutId, '["n"]');
        await c.set(`${keyPrefix}v:[1]`, `${eventTimeField(Date.now() * 1000 - 60_000_000)}|0|${layoutId}|[1]`);
      });
      await store.write([rec('v', 2, ago(0), HOUR)]);
      expect(await bounds()).toEqual({}); // not tracked: a bound nobody established is unknown
      // Key 1 is within the ttl but never expires: nothing to remove, and no bound either.
      expect((await scansOf(() => store.deleteExpired('v', HOUR, new Date(), 100))).result).toEqual({ deleted: 0, done: true });
      expect(await bounds()).toEqual({});
      // Key 1 rewritten with the ttl, as the next materialization does: every key now expires within it.
      await store.write([rec('v', 1, ago(60), HOUR)]);
      const swept = await scansOf(() => store.deleteExpired('v', HOUR, new Date(), 100));
      expect(swept.result).toEqual({ deleted: 0, done: true });
      expect(swept.scans).toBeGreaterThan(0);
      expect(await bounds()).toEqual({ v: HOUR_MICROS });
      expect((await scansOf(() => store.deleteExpired('v', HOUR, new Date(), 100))).scans).toBe(0);
      expect(await read('v', [1, 2], HOUR)).toEqual(['present', 'present']);
    } finally {
      await store.close();
    }
  });

  it('a sweep stopped by its limit, or as of a later instant than the clock, leaves or ignores the bound', async () => {
    const { store, scansOf, bounds } = await fixture();
    try {
      await store.write([rec('v', 1, ago(HOUR + 5), null), rec('v', 2, ago(HOUR + 6), null), rec('v', 3, ago(0), HOUR)]);
      const limited = await scansOf(() => store.deleteExpired('v', HOUR, new Date(), 1));
      expect(limited.result).toEqual({ deleted: 1, done: false });
      expect(limited.scans).toBeGreaterThan(0);
      expect(await bounds()).toEqual({ '*': '1', v: 'inf' });
      expect((await scansOf(() => store.deleteExpired('v', HOUR, new Date(), 10))).result).toEqual({ deleted: 1, done: true });
      expect(await bounds()).toEqual({ '*': '1', v: HOUR_MICROS });
      // Two hours from now key 3 is past the ttl; Redis expires it by the real clock, so such a sweep scans and removes it.
      const later = await scansOf(() => store.deleteExpired('v', HOUR, new Date(Date.now() + 2 * HOUR * 1000), 10));
      expect(later.result).toEqual({ deleted: 1, done: true });
      expect(later.scans).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('a write that may leave a key past the ttl during a sweep keeps that sweep from setting the bound; one within it does not', async () => {
    const { keyPrefix, store, redis, bounds } = await fixture();
    try {
      await store.write([rec('v', 1, ago(0), null)]);
      const key = expiryBoundsKey(keyPrefix);
      const layouts = `${keyPrefix}__layouts`;
      // The sweep's first and last steps, with writes between them where a SCAN might already have passed their keys.
      const begin = (token: string) => redis((c) => c.eval(SWEEP_BEGIN_SCRIPT, { keys: [key, layouts], arguments: ['v', HOUR_MICROS, token] }));
      const end = (token: string) => redis((c) => c.eval(SWEEP_END_SCRIPT, { keys: [key], arguments: ['v', HOUR_MICROS, token, '1'] }));

      expect(await begin('a')).toBe('scan');
      await store.write([rec('v', 2, ago(0), HOUR / 2)]); // expires within the sweep's ttl: fine
      expect(await end('a')).toBe(1);
      expect(await bounds()).toEqual({ '*': '1', v: HOUR_MICROS });

      await store.write([rec('v', 3, ago(0), null)]);
      expect(await begin('b')).toBe('scan');
      await store.write([rec('v', 4, ago(0), null)]); // never expires: the sweep may have missed it
      expect(await end('b')).toBe(0);
      expect(await bounds()).toEqual({ '*': '1', v: 'inf' });

      expect(await begin('c')).toBe('scan');
      await store.write([rec('v', 5, ago(0), 2 * HOUR)]); // expires later than the sweep's ttl
      expect(await end('c')).toBe(0);
      expect(await bounds()).toEqual({ '*': '1', v: 'inf' });

      // Two sweeps at once: the later one's token is the one that counts.
      expect(await begin('d')).toBe('scan');
      expect(await begin('e')).toBe('scan');
      expect(await end('d')).toBe(0);
      expect(await end('e')).toBe(1);
      expect(await bounds()).toEqual({ '*': '1', v: HOUR_MICROS });
    } finally {
      await store.close();
    }
  });
});
