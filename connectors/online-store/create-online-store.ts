import type { OnlineStoreConfig } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import type { OnlineStore } from './online-store.ts';
import { RedisOnlineStore } from './redis/redis-online-store.ts';
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
 * and its first call fails within about a second when Redis is unreachable.
 *
 * @example
 * const store = await createOnlineStore(profile.onlineStore, { project: config.project });
 */
export async function createOnlineStore(config: OnlineStoreConfig, context: OnlineStoreContext): Promise<OnlineStore> {
  switch (config.type) {
    case 'sqlite':
      return new SqliteOnlineStore({ path: config.path });
    case 'redis': {
      const env = context.env ?? process.env;
      let password: string | undefined;
      if (config.passwordEnv !== undefined) {
        password = env[config.passwordEnv];
        if (!password) throw new ConfigError(`environment variable ${config.passwordEnv} is not set`, { field: 'onlineStore.passwordEnv' });
      }
      return new RedisOnlineStore({ url: config.url, keyPrefix: config.keyPrefix ?? `fw:${context.project}:`, ...(password !== undefined ? { password } : {}) });
    }
    default:
      return unknownType(config);
  }
}

function unknownType(config: never): never {
  throw new ConfigError(`Unknown online store type ${JSON.stringify((config as { type?: unknown }).type)}`, { field: 'onlineStore.type' });
}
