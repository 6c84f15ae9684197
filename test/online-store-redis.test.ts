import { afterEach, describe, expect, it } from 'vitest';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { OnlineStoreUnavailableError } from '../connectors/online-store/online-store-errors.ts';
import { layoutOf } from '../connectors/online-store/online-layouts.ts';
import type { OnlineReadRequest, OnlineRecord, OnlineStore } from '../connectors/online-store/online-store.ts';
import { redactUrl, RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { eventTimeField } from '../connectors/online-store/redis/redis-write-script.ts';
import { ConfigError } from '../core/errors.ts';
import { describeOnlineStoreContract } from './contracts/online-store.contract.ts';
import { deleteTestKeys, redisUrl, startDelayProxy, startRedisServer, testKeyPrefix, withRedisClient, type RunningRedis } from './setup/redis.ts';

/**
 * The Redis online store against real redis-server processes: the shared one started by
 * test/setup/global-setup.ts for the contract, and private ones for what needs a server of its own
 * (command statistics, killing, freezing and restarting it, a password).
 */

describeOnlineStoreContract('Redis', async () => {
  const keyPrefix = testKeyPrefix();
  const store = new RedisOnlineStore({ url: redisUrl(), keyPrefix });
  return {
    store,
    openAnother: async () => new RedisOnlineStore({ url: redisUrl(), keyPrefix }),
    cleanup: async () => {
      await store.close();
      await deleteTestKeys(redisUrl(), keyPrefix);
    },
  };
});

const NOW = new Date('2024-05-02T12:00:00Z');
const record = (view: string, key: OnlineRecord['key'], values: OnlineRecord['values'], eventTime = '2024-05-01T12:00:00Z'): OnlineRecord => ({ view, key, values, eventTime });

/**
 * Calls per command since the last CONFIG RESETSTAT, from INFO commandstats (INFO and CONFIG left
 * out). Redis 7 counts the commands a script runs too, and subcommands apart (`script|load`).
 */
async function commandCounts(url: string): Promise<Record<string, number>> {
  const info = await withRedisClient(url, (client) => client.info('commandstats'));
  const counts: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] !== 'info' && !match[1]!.startsWith('config')) counts[match[1]!] = Number(match[2]);
  }
  return counts;
}

async function timed<T>(work: Promise<T>): Promise<{ ms: number; result: T | undefined; error: unknown }> {
  const start = performance.now();
  try {
    const result = await work;
    return { ms: performance.now() - start, result, error: undefined };
  } catch (error) {
    return { ms: performance.now() - start, result: undefined, error };
  }
}

describe('eventTimeField', () => {
  it('writes every event time in 17 characters, so the write script compares non-negative times as text', () => {
    // Around the 16-digit range (1973 to 2286) that skips padStart, and out to the largest safe integers.
    expect([0, 1, 999_999_999_999_999, 1e15, 1_714_564_800_000_000, Number.MAX_SAFE_INTEGER].map(eventTimeField)).toEqual([
      '00000000000000000', '00000000000000001', '00999999999999999', '01000000000000000', '01714564800000000', '09007199254740991',
    ]);
    expect([-1, -86_400_000_000, -Number.MAX_SAFE_INTEGER].map(eventTimeField)).toEqual(['-0000000000000001', '-0000086400000000', '-9007199254740991']);
  });
});

describe('RedisOnlineStore', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const ownServer = async (options: { password?: string } = {}): Promise<RunningRedis> => {
    const server = await startRedisServer(options);
    cleanups.push(() => server.stop());
    return server;
  };
  const closing = <S extends OnlineStore>(store: S): S => {
    cleanups.push(() => store.close());
    return store;
  };

  it('stores one string per view and key: times in microseconds, layout id, values as a JSON array', async () => {
    const server = await ownServer();
    const store = closing(await createOnlineStore({ type: 'redis', url: server.url }, { project: 'card_fraud' }));
    const before = Date.now();
    await store.write([
      record('user_stats', [42, 'FR'], { count: 3, name: 'a:b', ratio: 0.5, flag: true, nothing: null }, '2024-05-01T12:00:00.123456Z'),
      record('user_stats', ['42'], { count: 1 }),
    ]);
    const after = Date.now();

    await withRedisClient(server.url, async (client) => {
      expect((await client.keys('*')).sort()).toEqual(['fw:card_fraud:__expiry', 'fw:card_fraud:__layouts', 'fw:card_fraud:user_stats:["42"]', 'fw:card_fraud:user_stats:[42,"FR"]']);
      const stored = (await client.get('fw:card_fraud:user_stats:[42,"FR"]'))!;
      const [eventTime, writtenAt, layoutId, ...rest] = stored.split('|');
      const layout = layoutOf(['count', 'name', 'ratio', 'flag', 'nothing']);
      expect([eventTime, layoutId, rest.join('|')]).toEqual(['01714564800123456', layout.id, '[3,"a:b",0.5,true,null]']);
      expect(Number(writtenAt)).toBeGreaterThanOrEqual(before * 1000);
      expect(Number(writtenAt)).toBeLessThanOrEqual(after * 1000);
      expect(await client.type('fw:card_fraud:user_stats:[42,"FR"]')).toBe('string');
      expect(await client.hGetAll('fw:card_fraud:__layouts')).toEqual({
        [layout.id]: '["count","name","ratio","flag","nothing"]',
        [layoutOf(['count']).id]: '["count"]',
      });
      expect(await client.ttl('fw:card_fraud:user_stats:[42,"FR"]')).toBe(-1);
    });

    // The profile's keyPrefix replaces `fw:<project>:`.
    const prefixed = closing(await createOnlineStore({ type: 'redis', url: server.url, keyPrefix: 'cf:' }, { project: 'card_fraud' }));
    await prefixed.write([record('user_stats', [1], { count: 1 })]);
    expect(await withRedisClient(server.url, (client) => client.exists('cf:user_stats:[1]'))).toBe(1);
  });

  it('sets each key written with a ttl to expire at its event time plus the ttl, and clears it when a record without one replaces it', async () => {
    const keyPrefix = testKeyPrefix();
    const store = closing(new RedisOnlineStore({ url: redisUrl(), keyPrefix }));
    cleanups.push(() => deleteTestKeys(redisUrl(), keyPrefix));
    const key = (k: number) => `${keyPrefix}v:[${k}]`;
    const expireTime = (k: number) => withRedisClient(redisUrl(), (client) => client.sendCommand(['PEXPIRETIME', key(k)]));
    const at = (iso: string) => Date.parse(iso);
    const ttl = 3600;
    const ttlRecord = (k: number, eventTime: string, ttlSeconds: number | null = ttl): OnlineRecord => ({ ...record('v', [k], { n: k }, eventTime), ttlSeconds });

    expect(await store.write([
      ttlRecord(1, '2099-01-01T00:00:00Z'),
      ttlRecord(2, '2099-01-01T00:00:00.000999Z', 1), // microseconds past a millisecond: the expiry is that millisecond
      ttlRecord(3, '2099-01-01T00:00:00Z', null),
      { ...record('v', [4], { n: 4 }, '2099-01-01T00:00:00Z') },
      ttlRecord(5, '2099-01-01T00:00:00Z'),
      ttlRecord(5, '2099-01-02T00:00:00Z', null), // the same key again, newer, without a ttl: no expiry
      ttlRecord(6, '2020-01-01T00:00:00Z'), // long past its ttl: gone at once
    ])).toEqual({ written: 7, skippedOlder: 0 });
    expect(await expireTime(1)).toBe(at('2099-01-01T00:00:00Z') + 3_600_000);
    expect(await expireTime(2)).toBe(at('2099-01-01T00:00:01Z'));
    expect(await expireTime(3)).toBe(-1);
    expect(await expireTime(4)).toBe(-1);
    expect(await expireTime(5)).toBe(-1);
    expect(await expireTime(6)).toBe(-2); // no such key

    // A newer record moves the expiry; an older one (skipped) leaves it; one without a ttl clears it.
    await store.write([ttlRecord(1, '2099-01-01T01:00:00Z')]);
    expect(await expireTime(1)).toBe(at('2099-01-01T02:00:00Z'));
    expect(await store.write([ttlRecord(1, '2098-01-01T00:00:00Z', 1)])).toEqual({ written: 0, skippedOlder: 1 });
    expect(await expireTime(1)).toBe(at('2099-01-01T02:00:00Z'));
    await store.write([ttlRecord(1, '2099-01-01T01:00:00Z', null)]);
    expect(await expireTime(1)).toBe(-1);

    // Materialization's encoded rows carry the view's ttl the same way.
    await store.writeEncoded({ view: 'v', features: ['n'], ttlSeconds: 86_400, rows: [{ key: [7], eventMicros: at('2099-03-01T00:00:00Z') * 1000 + 1, values: '[7]' }] });
    expect(await expireTime(7)).toBe(at('2099-03-02T00:00:00Z'));
    const ttlLeft = await withRedisClient(redisUrl(), (client) => client.pTTL(key(7)));
    expect(ttlLeft).toBeGreaterThan(0);
  });

  it('writes and reads many keys in one round trip each: scripts of 100 records, one MGET', async () => {
    const server = await ownServer();
    const replyDelayMs = 300;
    const proxy = await startDelayProxy(server.port, replyDelayMs);
    cleanups.push(() => proxy.close());
    const store = closing(new RedisOnlineStore({ url: proxy.url, keyPrefix: 'fw:p:' }));
    await store.ping(); // connected before timing

    const records = Array.from({ length: 500 }, (_, i) => record(i % 2 === 0 ? 'users' : 'merchants', [i], { n: i, s: `v${i}` }));
    await withRedisClient(server.url, (client) => client.configResetStat());
    const write = await timed(store.write(records));
    expect(write.result).toEqual({ written: 500, skippedOlder: 0 });
    // The script is loaded in the same pipeline as the calls: one round trip. Each call takes 100
    // records and runs GETRANGE (the stored event time) per record and one MSET inside Redis.
    expect(write.ms).toBeGreaterThanOrEqual(replyDelayMs - 5);
    expect(write.ms).toBeLessThan(2 * replyDelayMs);
    // Before them, per view, the expiry bound script (redis-expiry-bound.ts): a fresh prefix, so
    // it marks the prefix tracked (EXISTS, HSETNX) and sets each view's bound (HGET, HEXISTS, HSET, HGET).
    expect(await commandCounts(server.url)).toEqual({
      'script|load': 1, evalsha: 5, getrange: 500, mset: 5,
      eval: 2, exists: 2, hsetnx: 1 + 2, hget: 4, hexists: 2, hset: 2,
    });

    const requests: OnlineReadRequest[] = records.map((r, i) => ({ view: r.view, key: r.key, ttlSeconds: null, ...(i % 4 === 1 ? { features: ['s'] } : {}) }));
    await withRedisClient(server.url, (client) => client.configResetStat());
    const read = await timed(store.read(requests, NOW));
    expect(read.error).toBeUndefined();
    expect(read.result!.map((r) => r.values)).toEqual(records.map((r, i) => (i % 4 === 1 ? { s: `v${i}` } : r.values)));
    expect(read.ms).toBeGreaterThanOrEqual(replyDelayMs - 5);
    expect(read.ms).toBeLessThan(2 * replyDelayMs);
    expect(await commandCounts(server.url)).toEqual({ mget: 1 });

    // Without the proxy, the same read is fast: the delay was the round trip.
    const direct = closing(new RedisOnlineStore({ url: server.url, keyPrefix: 'fw:p:' }));
    await direct.ping();
    expect((await timed(direct.read(requests, NOW))).ms).toBeLessThan(replyDelayMs);
  });

  it('fails fast, naming the store, while Redis is down, and recovers by itself when it is back', async () => {
    const server = await ownServer();
    const store = closing(new RedisOnlineStore({ url: server.url, keyPrefix: 'fw:p:' }));
    const requests = Array.from({ length: 100 }, (_, i): OnlineReadRequest => ({ view: 'v', key: [i], ttlSeconds: null }));
    await store.write([record('v', [1], { n: 1 })]);
    expect((await store.read(requests, NOW))[1]?.values).toEqual({ n: 1 });

    // A read in flight when the server dies: frozen first, so the read is surely sent and unanswered.
    server.pause();
    const inFlight = timed(store.read(requests, NOW));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await server.kill();
    const failures = [await inFlight, await timed(store.read(requests, NOW)), await timed(store.write([record('v', [2], { n: 2 })])), await timed(store.ping())];
    for (const failure of failures) {
      expect(failure.error).toBeInstanceOf(OnlineStoreUnavailableError);
      expect(failure.ms).toBeLessThan(2000);
      const error = failure.error as OnlineStoreUnavailableError;
      expect(error.retryable).toBe(true);
      expect(error.store).toBe(server.url);
      expect(error.message).toContain(`Online store ${server.url} unavailable for ${error.operation}`);
    }
    expect(failures.map((f) => (f.error as OnlineStoreUnavailableError).operation)).toEqual(['read', 'read', 'write', 'ping']);

    // Back on the same port (empty: no persistence): the same store object works again.
    await server.restart();
    expect(await store.write([record('v', [3], { n: 3 })])).toEqual({ written: 1, skippedOlder: 0 });
    expect((await store.read(requests, NOW)).map((r) => r.status).filter((s) => s === 'present')).toHaveLength(1);
    expect((await store.read([{ view: 'v', key: [3], ttlSeconds: null }], NOW))[0]?.values).toEqual({ n: 3 });
  });

  it('fails fast when nothing ever answered at the URL', async () => {
    const server = await ownServer();
    await server.kill();
    const store = closing(new RedisOnlineStore({ url: server.url, keyPrefix: 'fw:p:' }));
    const { ms, error } = await timed(store.read([{ view: 'v', key: [1], ttlSeconds: null }], NOW));
    expect(ms).toBeLessThan(2000);
    expect(error).toBeInstanceOf(OnlineStoreUnavailableError);
    expect((error as Error).message).toMatch(new RegExp(`^Online store ${server.url} unavailable for read: cannot connect within 1000 ms \\(.*ECONNREFUSED`));
  });

  it('times out against a server that stopped answering, and continues when it answers again', async () => {
    const server = await ownServer();
    const store = closing(new RedisOnlineStore({ url: server.url, keyPrefix: 'fw:p:', commandTimeoutMs: 500 }));
    await store.write([record('v', [1], { n: 1 })]);
    server.pause();
    const { ms, error } = await timed(store.read([{ view: 'v', key: [1], ttlSeconds: null }], NOW));
    server.resume();
    expect(error).toBeInstanceOf(OnlineStoreUnavailableError);
    expect((error as Error).message).toBe(`Online store ${server.url} did not answer read within 500 ms`);
    expect(ms).toBeLessThan(1500);
    expect((await store.read([{ view: 'v', key: [1], ttlSeconds: null }], NOW))[0]?.values).toEqual({ n: 1 });
  });

  it('loads the write script again after SCRIPT FLUSH', async () => {
    const server = await ownServer();
    const store = closing(new RedisOnlineStore({ url: server.url, keyPrefix: 'fw:p:' }));
    await store.write([record('v', [1], { n: 1 })]);
    await withRedisClient(server.url, (client) => client.scriptFlush());
    expect(await store.write([record('v', [1], { n: 2 }, '2024-05-01T13:00:00Z'), record('v', [2], { n: 3 })])).toEqual({ written: 2, skippedOlder: 0 });
    expect((await store.read([{ view: 'v', key: [1], ttlSeconds: null }], NOW))[0]?.values).toEqual({ n: 2 });
  });

  it('reads the password from the environment variable the profile names, never showing it', async () => {
    const password = 'hunter2-online';
    const server = await ownServer({ password });
    const config = { type: 'redis' as const, url: server.url, passwordEnv: 'FW_TEST_REDIS_PASSWORD' };

    const store = closing(await createOnlineStore(config, { project: 'p', env: { FW_TEST_REDIS_PASSWORD: password } }));
    await store.ping();
    await store.write([record('v', [1], { n: 1 })]);

    await expect(createOnlineStore(config, { project: 'p', env: {} })).rejects.toThrow(
      new ConfigError('environment variable FW_TEST_REDIS_PASSWORD is not set', { field: 'onlineStore.passwordEnv' }),
    );

    const wrong = closing(await createOnlineStore(config, { project: 'p', env: { FW_TEST_REDIS_PASSWORD: 'wrong-password' } }));
    const { ms, error } = await timed(wrong.ping());
    expect(ms).toBeLessThan(2000);
    expect(error).toBeInstanceOf(OnlineStoreUnavailableError);
    expect((error as Error).message).toContain('WRONGPASS');
    expect((error as Error).message).not.toContain('wrong-password');

    // A URL that carries a password anyway is never printed with it.
    const inUrl = closing(new RedisOnlineStore({ url: server.url.replace('//', `//default:${password}@`), keyPrefix: 'fw:p:' }));
    expect(inUrl.name).toBe(server.url.replace('//', '//default@'));
    await inUrl.ping();
    const down = closing(new RedisOnlineStore({ url: `redis://default:${password}@127.0.0.1:1`, keyPrefix: 'fw:p:' }));
    const refused = await down.ping().catch((e: unknown) => e);
    expect((refused as Error).message).not.toContain(password);
    expect((refused as OnlineStoreUnavailableError).store).toBe('redis://default@127.0.0.1:1');
  });

  it('rejects a URL it cannot parse as a config error', () => {
    expect(() => new RedisOnlineStore({ url: 'redis://host:notaport', keyPrefix: 'fw:p:' })).toThrow(
      new ConfigError('invalid Redis URL redis://host:notaport: Invalid URL', { field: 'onlineStore.url' }),
    );
  });

  it('prints URLs without their password', () => {
    expect(redactUrl('redis://user:s3cret@redis.internal:6379/2')).toBe('redis://user@redis.internal:6379/2');
    expect(redactUrl('rediss://:s3cret@redis.internal:6380')).toBe('rediss://redis.internal:6380');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
