/**
 * The Flywheel side of bench/serving.ts: the project the benchmark serves (one entity, one online
 * view of N float features, one service selecting all of them) and the server `flywheel serve` runs
 * for it, over a RedisOnlineStore or a RedisClusterOnlineStore. Split from serving.ts so the child process imports only this.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OnlineStore } from '../connectors/online-store/online-store.ts';
import { RedisClusterOnlineStore } from '../connectors/online-store/redis-cluster/redis-cluster-online-store.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { entity } from '../core/definitions/entity.ts';
import { featureService } from '../core/definitions/feature-service.ts';
import { featureView } from '../core/definitions/feature-view.ts';
import { source } from '../core/definitions/source.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { startLogServer, TokenTable, type RunningLogServer } from '../server/index.ts';
import type { ServingWarmUpOptions } from '../server/serving/warm-up.ts';

/** The benchmark's project: `item` entities with `features` float64 features in `item_features`, all served by `ranking`. */
export function benchProject(features: number): ProjectSpec {
  const names = Array.from({ length: features }, (_, i) => `f${i}`);
  const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
  const items = source({ name: 'items', table: 'items', timestampField: 'ts', columns: { item_id: 'int64', ts: 'timestamp', ...Object.fromEntries(names.map((n) => [n, 'float64' as const])) } });
  const view = featureView({ name: 'item_features', entities: [item], source: items, ttl: '30d', online: true, features: Object.fromEntries(names.map((n) => [n, 'float64' as const])) });
  const service = featureService({ name: 'ranking', features: [view] });
  return validateProject([item, items, view, service].map((definition) => ({ file: 'bench/serving-server.ts', definition })));
}

/** The server over one Redis (`redisUrl`) or a Redis Cluster (`clusterUrls`). */
export async function startFlywheelServing(options: ({ redisUrl: string } | { clusterUrls: string[] }) & { features: number; warmUp?: boolean | ServingWarmUpOptions; log?: (line: string) => void }): Promise<RunningLogServer> {
  const project = benchProject(options.features);
  const store: OnlineStore = 'clusterUrls' in options ? new RedisClusterOnlineStore({ urls: options.clusterUrls, keyPrefix: 'fw:bench:' }) : new RedisOnlineStore({ url: options.redisUrl, keyPrefix: 'fw:bench:' });
  await store.ping();
  return startLogServer({
    stateDir: await mkdtemp(join(tmpdir(), 'flywheel-bench-serve-')),
    streams: [],
    tokens: TokenTable.fromEnv(),
    port: 0,
    log: options.log ?? (() => undefined),
    serving: { project, store },
    ...(options.warmUp === false ? { servingWarmUp: false as const } : typeof options.warmUp === 'object' ? { servingWarmUp: options.warmUp } : {}),
  });
}
