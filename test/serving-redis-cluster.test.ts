import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OnlineRecord } from '../connectors/online-store/online-store.ts';
import { RedisClusterOnlineStore } from '../connectors/online-store/redis-cluster/redis-cluster-online-store.ts';
import { slotOf } from '../connectors/online-store/redis-cluster/slot-groups.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { deleteTestKeys, redisUrl, testKeyPrefix } from './setup/redis.ts';
import { startRedisCluster, type RunningRedisCluster } from './setup/redis-cluster.ts';
import { createTempProject, REPO_ROOT, type TempProject } from './support/temp-project.ts';

// `flywheel serve` with a profile whose online store is a Redis Cluster (three real nodes) serves
// what it serves from one Redis: the same project, the same records written to both, the same
// requests to two servers (profile `cluster` and profile `single`), the same answers, decision ids
// aside; and the answers are the hand-computed values, statuses and event times.

const USERS = 150;
const ITEMS = 120;
const HOUR = 3_600_000;

const FILES = (clusterUrl: string, singleUrl: string, singlePrefix: string) => ({
  'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({
  project: 'shop', definitions: './definitions',
  profiles: {
    cluster: { ...localProfile(), onlineStore: { type: 'redis-cluster', urls: [${JSON.stringify(clusterUrl)}] } },
    single: { ...localProfile(), onlineStore: { type: 'redis', url: ${JSON.stringify(singleUrl)}, keyPrefix: ${JSON.stringify(singlePrefix)} } },
  },
});
`,
  'definitions/features.ts': `import { entity, featureService, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
export const daily = source({ name: 'daily', table: 'raw.daily', timestampField: 'ts', columns: { user_id: 'int64', item_id: 'int64', ts: 'timestamp', spend: 'float64', visits: 'int64', clicks: 'int64', title: 'string' } });
export const userDaily = featureView({ name: 'user_daily', entities: [user], source: daily, ttl: '1d', features: { spend: 'float64', visits: 'int64' } });
export const itemStats = featureView({ name: 'item_stats', entities: [item], source: daily, features: { title: 'string' } });
export const userItem = featureView({ name: 'user_item', entities: [user, item], source: daily, features: { clicks: 'int64' } });
export const fraudModel = featureService({ name: 'fraud_model', features: [userDaily] });
export const ranking = featureService({ name: 'ranking', features: [userDaily, itemStats, userItem] });
`,
});

function startServe(dir: string, profile: string) {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), 'serve', '--port', '0', '--no-ingest', '--profile', profile], {
    cwd: dir, env: { ...process.env, FLYWHEEL_TOKENS: 'tok=read' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', () => {
      const match = /on (http:\/\/\S+?):? POST/.exec(stderr);
      if (match && stderr.includes('/metrics')) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`flywheel serve exited (${code}):\n${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

async function post(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

describe('flywheel serve on a Redis Cluster', () => {
  let cluster: RunningRedisCluster;
  let project: TempProject;
  const singlePrefix = testKeyPrefix();
  const servers: ReturnType<typeof startServe>[] = [];
  const urls: Record<'cluster' | 'single', string> = { cluster: '', single: '' };
  // Event times relative to the real clock: serving decides expiry with it.
  const now = Date.now();
  const present = new Date(now - HOUR).toISOString();
  const expired = new Date(now - 25 * HOUR).toISOString();

  // Users: i % 3 == 0 present, 1 expired (older than the view's 1-day ttl), 2 never written.
  // Items: even ids only; user 1 clicked items that are multiples of 3.
  const records: OnlineRecord[] = [
    ...Array.from({ length: USERS }, (_, i) => i).filter((i) => i % 3 !== 2).map((i): OnlineRecord => ({
      // The expired ones without a ttl of their own, so Redis keeps them for serving to find (and call expired).
      view: 'user_daily', key: [i], values: { spend: i / 4, visits: i }, ...(i % 3 === 0 ? { eventTime: present, ttlSeconds: 86_400 } : { eventTime: expired }),
    })),
    ...Array.from({ length: ITEMS / 2 }, (_, i): OnlineRecord => ({ view: 'item_stats', key: [2 * i], values: { title: `item ${2 * i}` }, eventTime: '2020-01-01T00:00:00Z' })),
    ...Array.from({ length: ITEMS / 3 }, (_, i): OnlineRecord => ({ view: 'user_item', key: [1, 3 * i], values: { clicks: i }, eventTime: present })),
  ];

  beforeAll(async () => {
    cluster = await startRedisCluster();
    project = createTempProject(FILES(cluster.urls[0]!, redisUrl(), singlePrefix));
    const clusterStore = new RedisClusterOnlineStore({ urls: [cluster.urls[1]!], keyPrefix: 'fw:shop:' });
    const singleStore = new RedisOnlineStore({ url: redisUrl(), keyPrefix: singlePrefix });
    try {
      expect(await clusterStore.write(records)).toEqual({ written: records.length, skippedOlder: 0 });
      expect(await singleStore.write(records)).toEqual({ written: records.length, skippedOlder: 0 });
    } finally {
      await clusterStore.close();
      await singleStore.close();
    }
    for (const profile of ['cluster', 'single'] as const) {
      const serve = startServe(project.dir, profile);
      servers.push(serve);
      urls[profile] = await serve.url;
    }
  }, 120_000);

  afterAll(async () => {
    for (const serve of servers) {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    project?.remove();
    await deleteTestKeys(redisUrl(), singlePrefix);
    await cluster?.stop();
  });

  it('names the cluster it serves from', () => {
    expect(servers[0]!.stderr()).toContain(`Serving API on ${urls.cluster}: POST /v1/features for fraud_model, ranking, from Redis Cluster ${cluster.urls[0]}.`);
  });

  it('serves 150 entities whose keys span the three shards: present, expired and missing, as one Redis does', async () => {
    // The request's keys live on every shard.
    const owners = new Set(await Promise.all(Array.from({ length: USERS }, async (_, i) => (await cluster.nodeOfSlot(slotOf(`fw:shop:user_daily:[${i}]`))).id)));
    expect(owners.size).toBe(3);

    const body = { service: 'fraud_model', entities: Array.from({ length: USERS }, (_, i) => ({ user_id: i })) };
    const [fromCluster, fromSingle] = await Promise.all([post(urls.cluster, body), post(urls.single, body)]);
    expect(fromCluster.status).toBe(200);
    const { decision_id: _a, ...clusterAnswer } = fromCluster.body;
    const { decision_id: _b, ...singleAnswer } = fromSingle.body;
    expect(clusterAnswer).toStrictEqual(singleAnswer);
    const at = (iso: string) => new Date(iso).toISOString();
    expect(clusterAnswer).toStrictEqual({
      service: 'fraud_model',
      features: ['spend', 'visits'],
      rows: Array.from({ length: USERS }, (_, i) =>
        i % 3 === 0 ? { values: [i / 4, i], statuses: ['present', 'present'], event_times: [at(present), at(present)] }
        : i % 3 === 1 ? { values: [null, null], statuses: ['expired', 'expired'], event_times: [at(expired), at(expired)] }
        : { values: [null, null], statuses: ['missing', 'missing'], event_times: [null, null] }),
    });
  });

  it('serves a context and 120 candidates over three views (a composite key included) as one Redis does', async () => {
    const body = { service: 'ranking', context: { user_id: 1 }, candidates: Array.from({ length: ITEMS }, (_, i) => ({ item_id: i })), metadata: false };
    const [fromCluster, fromSingle] = await Promise.all([post(urls.cluster, body), post(urls.single, body)]);
    expect(fromCluster.status).toBe(200);
    const { decision_id: _a, ...clusterAnswer } = fromCluster.body;
    const { decision_id: _b, ...singleAnswer } = fromSingle.body;
    expect(clusterAnswer).toStrictEqual(singleAnswer);
    // User 1 was written an expired value: spend and visits are null in every row.
    expect(clusterAnswer.features).toEqual(['spend', 'visits', 'title', 'clicks']);
    expect(clusterAnswer.rows).toStrictEqual(Array.from({ length: ITEMS }, (_, i) => ({ values: [null, null, i % 2 === 0 ? `item ${i}` : null, i % 3 === 0 ? i / 3 : null] })));
  });

  it('answers readiness with the cluster', async () => {
    const ready = await fetch(`${urls.cluster}/readyz`);
    expect(ready.status).toBe(200);
  });
});
