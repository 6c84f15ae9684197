import type { ObjectStoreConfig } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import { LocalObjectStore } from './local/local-object-store.ts';
import { ObjectKeyError } from './object-key.ts';
import type { ObjectStore } from './object-store.ts';
import { S3ObjectStore } from './s3/s3-object-store.ts';

/**
 * Creates the object store a profile names. A local `root` should be absolute (the config loader
 * resolves it against the project root); a relative one resolves against the working directory.
 * S3 credentials come from the AWS SDK's default chain, never from the config (see S3ObjectStore).
 */
export function createObjectStore(config: ObjectStoreConfig): ObjectStore {
  switch (config.type) {
    case 'local':
      return new LocalObjectStore(config.root);
    case 's3':
      try {
        return new S3ObjectStore(config);
      } catch (error) {
        if (error instanceof ObjectKeyError) throw new ConfigError(error.message, { field: 'objectStore.prefix' }, { cause: error });
        throw error;
      }
    default:
      return unknownType(config);
  }
}

function unknownType(config: never): never {
  throw new ConfigError(`Unknown object store type ${JSON.stringify((config as { type?: unknown }).type)}`, { field: 'objectStore.type' });
}
