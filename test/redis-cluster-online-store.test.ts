import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCluster } from 'redis';
import { createOnlineStore, describeOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { OnlineStoreUnavailableError } from '../connectors/online-store/online-store-errors.ts';
import type { OnlineReadRequest, OnlineRecord, OnlineStore } from '../connectors/online-store/online-store.ts';
import { RedisClusterOnlineStore } from '../connectors/online-store/redis-cluster/redis-cluster-online-store.ts';
import { slotOf } from '../connectors/online-store/redis-cluster/slot-groups.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { flywheelConfigSchema } from '../core/config-schema.ts';
import { ConfigError } from '../core/errors.ts';
import { describeOnlineStoreContract } from './contracts/online-store.contract.ts';
import { deleteTestKeys, redisUrl, startDelayProxy, testKeyPrefix, withRedisClient } from './setup/redis.ts';
import { openNodeCounters, startRedisCluster, type RunningRedisCluster } from './setup/redis-cluster.ts';

/**
 * The Redis Cluster online store against a real three-master cluster (test/setup/redis-cluster.ts:
 * three `redis-server --cluster-enabled yes` on 127.0.0.1, joined by `redis-cli --cluster create`),
 * started once for this file: the online-store contract, the key layout shared with the
 * single-node store, one round trip per shard, newer-wins under concurrent writers, a slot
 * migrated under a live store (half-way and finished), a node killed, and the config.
 */

let cluster: RunningRedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describeOnlineStoreContract('Redis Cluster', async () => {
  const keyPrefix = testKeyPrefix();
  const store = new RedisClusterOnlineStore({ urls: [cluster.urls[0]!], keyPrefix });
  return {
    store,
    openAnother: async () => new RedisClusterOnlineStore({ urls: [cluster.urls[1]!], keyPrefix }),
    cleanup: async () => {
      await store.close();
      await cluster.deleteKeys(keyPrefix);
    },
  };
});

const NOW = new Date('2024-05-02T12:00:00Z');
const record = (view: string, key: OnlineRecord['key'], values: OnlineRecord['values'], eventTime = '2024-05-01T12:00:00Z'): OnlineRecord => ({ view, key, values, eventTime });
const request = (view: string, key: OnlineReadRequest['key']): OnlineReadRequest => ({ view, key, ttlSeconds: null });

async function timed<T>(work: Promise<T>): Promise<{ ms: number; result: T | undefined; error: unknown }> {
  const start = performance.now();
  try {
    const result = await work;
    return { ms: performance.now() - start, result, error: undefined };
  } catch (error) {
    return { ms: performance.now() - start, result: undefined, error };
  }
}

/** A small deterministic generator (mulberry32), so a shuffled order is the same every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('RedisClusterOnlineStore', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const open = (options: Partial<ConstructorParameters<typeof RedisClusterOnlineStore>[0]> = {}): RedisClusterOnlineStore => {
    const keyPrefix = options.keyPrefix ?? testKeyPrefix();
    const store = new RedisClusterOnlineStore({ urls: [cluster.urls[0]!], ...options, keyPrefix });
    cleanups.push(() => cluster.deleteKeys(keyPrefix));
    cleanups.push(() => store.close());
    return store;
  };

  it('keeps the single-node key layout: keys copied as they are from one Redis read the same on the cluster', async () => {
    const keyPrefix = testKeyPrefix();
    const single = new RedisOnlineStore({ url: redisUrl(), keyPrefix });
    cleanups.push(() => deleteTestKeys(redisUrl(), keyPrefix));
    cleanups.push(() => single.close());
    const records = [
      record('user_stats', [42, 'FR'], { count: 3, name: 'a:b', ratio: 0.5, flag: true, nothing: null }, '2024-05-01T12:00:00.123456Z'),
      record('user_stats', ['42'], { count: 1 }),
      ...Array.from({ length: 60 }, (_, i) => record('items', [i], { ctr: i / 100, title: `item ${i}` }, '2020-01-01T00:00:00Z')),
    ];
    await single.write(records);

    // What a migration does (redis-cli --cluster import, or a copy of each key): the same names and values.
    const copy = createCluster({ rootNodes: [{ url: cluster.urls[0]! }] });
    copy.on('error', () => {});
    await copy.connect();
    let copied = 0;
    try {
      await withRedisClient(redisUrl(), async (client) => {
        for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) {
          for (const key of keys) {
            // The layouts and the single-node store's expiry bounds are hashes (the cluster store keeps no bounds of its own).
            if (key.endsWith('__layouts') || key.endsWith('__expiry')) await copy.hSet(key, await client.hGetAll(key));
            else await copy.set(key, (await client.get(key))!);
            copied++;
          }
        }
      });
    } finally {
      copy.destroy();
    }
    expect(copied).toBe(64); // 62 records, the layouts and the expiry bounds

    const store = open({ keyPrefix });
    const requests = [...records.map((r) => request(r.view, r.key)), request('items', [60])];
    expect(await store.read(requests, NOW)).toStrictEqual(await single.read(requests, NOW));
    expect((await store.read([request('user_stats', [42, 'FR'])], NOW))[0]).toMatchObject({ status: 'present', values: records[0]!.values, eventTime: '2024-05-01T12:00:00.123456Z' });
    // And the cluster store writes what the single-node store reads back the same way.
    await store.write([record('user_stats', [7], { count: 7 })]);
    const value = await cluster.onNode(await cluster.nodeOfSlot(slotOf(`${keyPrefix}user_stats:[7]`)), (client) => client.get(`${keyPrefix}user_stats:[7]`));
    expect(value).toMatch(/^01714564800000000\|\d+\|[0-9a-f]{16}\|\[7\]$/);
  });

  it('reads 100 keys spread over the three shards with one command and one round trip per shard, the shards in parallel', async () => {
    const store = open();
    const keys = Array.from({ length: 100 }, (_, i) => i);
    await store.write(keys.map((k) => record('v', [k], { n: k, s: `v${k}` })));
    const keyOf = (k: number) => `${store.keyPrefix}v:[${k}]`;
    // Where each key lives, from the cluster itself, and how many slots each shard holds of them.
    const owners = await Promise.all(keys.map(async (k) => (await cluster.nodeOfSlot(slotOf(keyOf(k)))).port));
    const slotsPerNode = cluster.nodes.map((node) => new Set(keys.filter((_, i) => owners[i] === node.port).map((k) => slotOf(keyOf(k)))).size);
    expect(slotsPerNode.every((n) => n > 0)).toBe(true);
    expect(slotsPerNode.reduce((a, b) => a + b, 0)).toBe(new Set(keys.map((k) => slotOf(keyOf(k)))).size);

    const counters = await openNodeCounters(cluster);
    cleanups.push(() => counters.close());
    await store.read([request('v', [0])], NOW); // connected before counting
    const keysPerNode = cluster.nodes.map((node) => owners.filter((port) => port === node.port).length);
    const before = await counters.snapshot();
    const results = await store.read(keys.map((k) => request('v', [k])), NOW);
    const after = await counters.snapshot();
    expect(results.map((r) => r.values)).toStrictEqual(keys.map((k) => ({ n: k, s: `v${k}` })));
    // Per shard: one read event for the whole request (plus the INFO asking), one call of the read
    // script (Redis counts the GETs it runs inside too), nothing else. The first read cached the script.
    expect(after.map((a, i) => a.reads - before[i]!.reads)).toStrictEqual([2, 2, 2]);
    expect(after.map((a, i) => Object.fromEntries(Object.entries(a.calls).filter(([name, calls]) => name !== 'info' && calls !== (before[i]!.calls[name] ?? 0)).map(([name, calls]) => [name, calls - (before[i]!.calls[name] ?? 0)])))).toStrictEqual(
      keysPerNode.map((get) => ({ evalsha: 1, get })),
    );

    // A write of the same keys: one pipeline per shard of one script call per slot (the script, as
    // on one Redis, reads each stored time with GETRANGE and writes the newer records with one
    // MSET), after the layouts' HSETNX on the shard holding them.
    const layoutsNode = await cluster.nodeOfSlot(slotOf(`${store.keyPrefix}__layouts`));
    const beforeWrite = await counters.snapshot();
    expect(await store.write(keys.map((k) => record('v', [k], { n: k, s: `w${k}` }, '2024-05-01T12:30:00Z')))).toEqual({ written: 100, skippedOlder: 0 });
    const afterWrite = await counters.snapshot();
    const isLayouts = (i: number) => cluster.nodes[i]!.id === layoutsNode.id;
    expect(afterWrite.map((a, i) => a.reads - beforeWrite[i]!.reads)).toStrictEqual(cluster.nodes.map((_, i) => (isLayouts(i) ? 3 : 2)));
    expect(afterWrite.map((a, i) => Object.fromEntries(Object.entries(a.calls).filter(([name, calls]) => name !== 'info' && calls !== (beforeWrite[i]!.calls[name] ?? 0)).map(([name, calls]) => [name, calls - (beforeWrite[i]!.calls[name] ?? 0)])))).toStrictEqual(
      cluster.nodes.map((_, i) => ({ evalsha: slotsPerNode[i], getrange: keysPerNode[i], mset: slotsPerNode[i], ...(isLayouts(i) ? { hsetnx: 1 } : {}) })),
    );

    // The same read through a proxy per node that holds every reply back 300 ms: all shards are
    // asked at once, so the read takes one delay, not three (nor one per key).
    const replyDelayMs = 300;
    const proxies = await Promise.all(cluster.nodes.map((node) => startDelayProxy(node.port, replyDelayMs)));
    cleanups.push(() => Promise.all(proxies.map((proxy) => proxy.close())));
    const proxyOf = new Map(cluster.nodes.map((node, i) => [`127.0.0.1:${node.port}`, { host: '127.0.0.1', port: Number(new URL(proxies[i]!.url).port) }]));
    // (Connecting takes several delayed round trips: discovery, then a connection per node.)
    const slow = open({ keyPrefix: store.keyPrefix, urls: [proxies[0]!.url], nodeAddressMap: (address) => proxyOf.get(address), connectTimeoutMs: 10_000 });
    await slow.ping();
    const read = await timed(slow.read(keys.map((k) => request('v', [k])), NOW));
    expect(read.error).toBeUndefined();
    expect(read.result!.map((r) => r.values)).toStrictEqual(keys.map((k) => ({ n: k, s: `w${k}` })));
    expect(read.ms).toBeGreaterThanOrEqual(replyDelayMs - 5);
    expect(read.ms).toBeLessThan(2 * replyDelayMs);
    // A write: the layouts (one round trip to their shard, the script loaded on every shard in
    // parallel with it), then the script calls (one round trip per shard, in parallel).
    const write = await timed(slow.write(keys.map((k) => record('v', [k], { n: -k }, '2024-05-01T13:00:00Z'))));
    expect(write.result).toEqual({ written: 100, skippedOlder: 0 });
    expect(write.ms).toBeGreaterThanOrEqual(2 * replyDelayMs - 5);
    expect(write.ms).toBeLessThan(3 * replyDelayMs);
  });

  it('never lets an older value win under four concurrent writers seeded with different nodes', async () => {
    const keyPrefix = testKeyPrefix();
    const writers = [0, 1, 2, 0].map((seed) => open({ keyPrefix, urls: [cluster.urls[seed]!] }));
    const keys = 60;
    const times = 40;
    const at = (j: number) => new Date(Date.UTC(2024, 4, 1, 10, 0, j)).toISOString();
    // Every (key, time) once, shuffled, dealt to four stores in calls of 1 to 30 records.
    const next = random(15);
    const all = Array.from({ length: keys * times }, (_, i) => ({ k: i % keys, j: Math.floor(i / keys) }));
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    const calls: Promise<{ written: number; skippedOlder: number }>[] = [];
    for (let start = 0, w = 0; start < all.length; w++) {
      const size = 1 + Math.floor(next() * 30);
      const batch = all.slice(start, start + size).map(({ k, j }) => record('race', [k], { j, by: w % 4 }, at(j)));
      calls.push(writers[w % 4]!.write(batch));
      start += size;
    }
    const results = await Promise.all(calls);
    expect(results.reduce((sum, r) => sum + r.written + r.skippedOlder, 0)).toBe(keys * times);
    const finals = await writers[0]!.read(Array.from({ length: keys }, (_, k) => request('race', [k])), NOW);
    expect(finals.map((r) => [r.status, r.values.j, r.eventTime])).toStrictEqual(Array.from({ length: keys }, () => ['present', times - 1, '2024-05-01T10:00:39.000Z']));
    // Every store, whichever node it was seeded with, reads the same.
    for (const writer of writers.slice(1)) expect(await writer.read(Array.from({ length: keys }, (_, k) => request('race', [k])), NOW)).toStrictEqual(finals);
  });

  it('follows a slot through a migration: half-moved (ASK, TRYAGAIN) and finished (MOVED), values and newer-wins kept', async () => {
    const store = open();
    // Two keys of one slot (the hash tag {t} in the key decides it) and a few elsewhere.
    const tagged = [['{t}1'], ['{t}2']] as const;
    const slot = slotOf(`${store.keyPrefix}v:${JSON.stringify(tagged[0])}`);
    expect(slotOf(`${store.keyPrefix}v:${JSON.stringify(tagged[1])}`)).toBe(slot);
    const others = Array.from({ length: 20 }, (_, i) => [i] as const);
    await store.write([record('v', tagged[0], { n: 1 }), record('v', tagged[1], { n: 2 }), ...others.map((key, i) => record('v', key, { n: 100 + i }))]);
    const requests = [request('v', tagged[0]), request('v', tagged[1]), ...others.map((key) => request('v', key))];
    const expected = (a: number, b: number) => [{ n: a }, { n: b }, ...others.map((_, i) => ({ n: 100 + i }))];
    expect((await store.read(requests, NOW)).map((r) => r.values)).toStrictEqual(expected(1, 2));

    const source = await cluster.nodeOfSlot(slot);
    const target = cluster.nodes.find((node) => node.id !== source.id)!;
    // Half-way: the slot MIGRATING, the first key moved, the second not: an MGET of both answers TRYAGAIN.
    const first = `${store.keyPrefix}v:${JSON.stringify(tagged[0])}`;
    await cluster.migrateSlot(slot, target, { finish: false, keys: (keys) => keys.filter((k) => k === first) });
    await expect(cluster.onNode(source, (client) => client.mGet([first, `${store.keyPrefix}v:${JSON.stringify(tagged[1])}`]))).rejects.toThrow(/^TRYAGAIN/);
    expect((await store.read(requests, NOW)).map((r) => r.values)).toStrictEqual(expected(1, 2));
    expect(await store.write([record('v', tagged[0], { n: 3 }, '2024-05-01T13:00:00Z'), record('v', tagged[1], { n: 4 }, '2024-05-01T13:00:00Z')])).toEqual({ written: 2, skippedOlder: 0 });
    expect(await store.write([record('v', tagged[0], { n: 0 }, '2024-05-01T12:30:00Z'), record('v', tagged[1], { n: 0 }, '2024-05-01T12:30:00Z')])).toEqual({ written: 0, skippedOlder: 2 });
    expect((await store.read(requests, NOW)).map((r) => r.values)).toStrictEqual(expected(3, 4));

    // Finished: the slot belongs to the target; the store's slot map is stale until MOVED refreshes it.
    await cluster.migrateSlot(slot, target);
    expect((await cluster.nodeOfSlot(slot)).id).toBe(target.id);
    expect((await store.read(requests, NOW)).map((r) => r.values)).toStrictEqual(expected(3, 4));
    expect(await store.write([record('v', tagged[0], { n: 5 }, '2024-05-01T14:00:00Z'), record('v', tagged[1], { n: 6 }, '2024-05-01T11:00:00Z')])).toEqual({ written: 1, skippedOlder: 1 });
    expect((await store.read(requests, NOW)).map((r) => r.values)).toStrictEqual(expected(5, 4));
    expect(await cluster.onNode(target, (client) => client.exists([first, `${store.keyPrefix}v:${JSON.stringify(tagged[1])}`]))).toBe(2);
    // A store opened now finds the new owner at once.
    const fresh = open({ keyPrefix: store.keyPrefix, urls: [cluster.urls[2]!] });
    expect((await fresh.read(requests, NOW)).map((r) => r.values)).toStrictEqual(expected(5, 4));
    // The detours (read script refused for a key elsewhere, per-slot MGETs, TRYAGAIN, ASK, MOVED)
    // left the store on its fast path: one read-script call per shard, no MGET.
    const counters = await openNodeCounters(cluster);
    cleanups.push(() => counters.close());
    const before = await counters.snapshot();
    expect((await store.read(requests, NOW)).map((r) => r.values)).toStrictEqual(expected(5, 4));
    const after = await counters.snapshot();
    const calls = (name: string) => after.reduce((sum, a, i) => sum + (a.calls[name] ?? 0) - (before[i]!.calls[name] ?? 0), 0);
    expect([calls('evalsha'), calls('mget'), calls('get')]).toStrictEqual([3, 0, 22]);
  });

  it('finds the cluster from any seed, skipping seeds that do not answer, and fails fast naming it when none does', async () => {
    const store = open({ urls: ['redis://127.0.0.1:1', cluster.urls[2]!] });
    await store.write([record('v', [1], { n: 1 })]);
    expect((await store.read([request('v', [1])], NOW))[0]?.values).toEqual({ n: 1 });
    expect(store.name).toBe(`redis://127.0.0.1:1,${cluster.urls[2]}`);

    const nowhere = open({ urls: ['redis://127.0.0.1:1', 'redis://127.0.0.1:2'] });
    const { ms, error } = await timed(nowhere.read([request('v', [1])], NOW));
    expect(ms).toBeLessThan(2000);
    expect(error).toBeInstanceOf(OnlineStoreUnavailableError);
    expect((error as OnlineStoreUnavailableError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/^Online store redis:\/\/127\.0\.0\.1:1,redis:\/\/127\.0\.0\.1:2 unavailable for read: cannot reach the cluster within 1000 ms \(/);
  });

  it('opens from a profile: urls, the project prefix, a password from the environment variable it names', async () => {
    const config = { type: 'redis-cluster' as const, urls: [cluster.urls[1]!] };
    const store = await createOnlineStore(config, { project: 'card_fraud_rc' });
    cleanups.push(() => cluster.deleteKeys('fw:card_fraud_rc:'));
    cleanups.push(() => store.close());
    await store.write([record('user_stats', [1], { n: 1 })]);
    const owner = await cluster.nodeOfSlot(slotOf('fw:card_fraud_rc:user_stats:[1]'));
    expect(await cluster.onNode(owner, (client) => client.exists('fw:card_fraud_rc:user_stats:[1]'))).toBe(1);
    expect(describeOnlineStore(config)).toBe(`Redis Cluster ${cluster.urls[1]}`);
    await expect(createOnlineStore({ ...config, passwordEnv: 'FW_TEST_CLUSTER_PASSWORD' }, { project: 'p', env: {} })).rejects.toThrow(
      new ConfigError('environment variable FW_TEST_CLUSTER_PASSWORD is not set', { field: 'onlineStore.passwordEnv' }),
    );
    expect(() => new RedisClusterOnlineStore({ urls: ['redis://127.0.0.1:7000/2'], keyPrefix: 'p:' })).toThrow(
      new ConfigError('invalid Redis URL redis://127.0.0.1:7000/2: Redis Cluster has only database 0', { field: 'onlineStore.urls[0]' }),
    );
    expect(() => new RedisClusterOnlineStore({ urls: [], keyPrefix: 'p:' })).toThrow(ConfigError);

    // The config schema: a list of URLs, without passwords, one scheme.
    const profile = (onlineStore: unknown) => ({
      project: 'p', definitions: './d',
      profiles: { prod: { offline: { type: 'duckdb', path: 'w.duckdb' }, objectStore: { type: 'local', root: 'o' }, onlineStore, temporal: { address: 'localhost:7233', namespace: 'default' } } },
    });
    const issues = (onlineStore: unknown) => {
      const parsed = flywheelConfigSchema.safeParse(profile(onlineStore));
      return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    };
    expect(issues({ type: 'redis-cluster', urls: ['redis://a:7000', 'redis://b:7000'], passwordEnv: 'REDIS_PASSWORD', keyPrefix: 'cf:' })).toEqual([]);
    expect(issues({ type: 'redis-cluster', urls: [] })).toEqual(['profiles.prod.onlineStore.urls: name at least one node of the cluster']);
    expect(issues({ type: 'redis-cluster', urls: ['redis://:hunter2@a:7000'] })).toEqual(['profiles.prod.onlineStore.urls.0: must not contain a password; use passwordEnv']);
    expect(issues({ type: 'redis-cluster', urls: ['redis://a:7000', 'rediss://b:7000'] })).toEqual(['profiles.prod.onlineStore.urls: use one scheme for every node (all redis:// or all rediss://)']);
    expect(issues({ type: 'redis-cluster', url: 'redis://a:7000' })).toEqual(['profiles.prod.onlineStore.urls: Invalid input: expected array, received undefined', 'profiles.prod.onlineStore: Unrecognized key: "url"']);
  });

  it('on a cluster with a password: connects with it, and never prints it', async () => {
    const password = 'hunter2-cluster';
    const secured = await startRedisCluster({ password });
    cleanups.push(() => secured.stop());
    const config = { type: 'redis-cluster' as const, urls: [secured.urls[0]!], passwordEnv: 'FW_TEST_CLUSTER_PASSWORD' };
    const store = await createOnlineStore(config, { project: 'p', env: { FW_TEST_CLUSTER_PASSWORD: password } });
    cleanups.push(() => store.close());
    await store.ping();
    expect(await store.write(Array.from({ length: 30 }, (_, i) => record('v', [i], { n: i })))).toEqual({ written: 30, skippedOlder: 0 });
    expect((await store.read(Array.from({ length: 30 }, (_, i) => request('v', [i])), NOW)).map((r) => r.values.n)).toEqual(Array.from({ length: 30 }, (_, i) => i));

    const wrong = await createOnlineStore(config, { project: 'p', env: { FW_TEST_CLUSTER_PASSWORD: 'wrong-password' } });
    cleanups.push(() => wrong.close());
    const { ms, error } = await timed(wrong.ping());
    expect(ms).toBeLessThan(2000);
    expect(error).toBeInstanceOf(OnlineStoreUnavailableError);
    expect((error as Error).message).toMatch(/WRONGPASS|NOAUTH/);
    expect((error as Error).message).not.toContain('wrong-password');
  });

  it('fails fast naming the store when a shard dies, while keys of the other shards are still served', async () => {
    const own = await startRedisCluster();
    cleanups.push(() => own.stop());
    const store: OnlineStore = new RedisClusterOnlineStore({ urls: [own.urls[0]!], keyPrefix: 'fw:p:' });
    cleanups.push(() => store.close());
    const keys = Array.from({ length: 60 }, (_, i) => i);
    await store.write(keys.map((k) => record('v', [k], { n: k })));
    const dead = own.nodes[2]!;
    const onDead = await Promise.all(keys.map(async (k) => (await own.nodeOfSlot(slotOf(`fw:p:v:[${k}]`))).id === dead.id));
    await own.killNode(dead);

    const failed = await timed(store.read(keys.map((k) => request('v', [k])), NOW));
    expect(failed.ms).toBeLessThan(2000);
    expect(failed.error).toBeInstanceOf(OnlineStoreUnavailableError);
    expect((failed.error as OnlineStoreUnavailableError).store).toBe(own.urls[0]);
    expect((failed.error as Error).message).toMatch(new RegExp(`^Online store ${own.urls[0]} unavailable for read: `));
    const alive = keys.filter((_, i) => !onDead[i]);
    expect(alive.length).toBeGreaterThan(0);
    expect((await store.read(alive.map((k) => request('v', [k])), NOW)).map((r) => r.values.n)).toEqual(alive);
    const ping = await timed(store.ping());
    expect(ping.error).toBeInstanceOf(OnlineStoreUnavailableError);
    expect(ping.ms).toBeLessThan(2000);
  });
});
