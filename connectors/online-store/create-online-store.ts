import type { OnlineStoreConfig } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import type { OnlineStore } from './online-store.ts';
import { RedisClusterOnlineStore } from './redis-cluster/redis-cluster-online-store.ts';
import { redactUrl, RedisOnlineStore } from './redis/redis-online-store.ts';
import { SqliteOnlineStore } from './sqlite/sqlite-online-store.ts';

export interface OnlineStoreContext {
  /** The project's name: Redis keys start with `fw:<project>:` unless the profile sets `keyPrefix`. */
  project: string;
  /** Where `passwordEnv` is looked up. Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Opens the online store a profile names. A SQLite `path` should be absolute (the config loader
 * resolves it against the project root). A Redis password comes from the environment variable
 * named by `passwordEnv`, read here, never from the config; the store connects in the background
 * and its first call fails within about a second when Redis is unreachable. A Redis Cluster
 * (`redis-cluster`) is found from any of its `urls` and shares the same password.
 *
 * @example
 * const store = await createOnlineStore(profile.onlineStore, { project: config.project });
 */
export async function createOnlineStore(config: OnlineStoreConfig, context: OnlineStoreContext): Promise<OnlineStore> {
  switch (config.type) {
    case 'sqlite':
      return new SqliteOnlineStore({ path: config.path });
    case 'redis': {
      const password = passwordFrom(config.passwordEnv, context);
      return new RedisOnlineStore({ url: config.url, keyPrefix: config.keyPrefix ?? `fw:${context.project}:`, ...(password !== undefined ? { password } : {}) });
    }
    case 'redis-cluster': {
      const password = passwordFrom(config.passwordEnv, context);
      // The same keys as on one Redis, so a store moves to a cluster with its keys as they are.
      return new RedisClusterOnlineStore({ urls: config.urls, keyPrefix: config.keyPrefix ?? `fw:${context.project}:`, ...(password !== undefined ? { password } : {}) });
    }
    default:
      return unknownType(config);
  }
}

/** The password in the environment variable a profile names; ConfigError when it names one that is not set. */
function passwordFrom(passwordEnv: string | undefined, context: OnlineStoreContext): string | undefined {
  if (passwordEnv === undefined) return undefined;
  const password = (context.env ?? process.env)[passwordEnv];
  if (!password) throw new ConfigError(`environment variable ${passwordEnv} is not set`, { field: 'onlineStore.passwordEnv' });
  return password;
}

/** How messages name the store a profile configures (never with a password). */
export function describeOnlineStore(config: OnlineStoreConfig): string {
  switch (config.type) {
    case 'sqlite':
      return `sqlite:${config.path}`;
    case 'redis':
      return redactUrl(config.url);
    case 'redis-cluster':
      return `Redis Cluster ${config.urls.map(redactUrl).join(',')}`;
    default:
      return unknownType(config);
  }
}

function unknownType(config: never): never {
  throw new ConfigError(`Unknown online store type ${JSON.stringify((config as { type?: unknown }).type)}`, { field: 'onlineStore.type' });
}
