import type { ObjectStoreConfig } from '../../core/config.ts';
import { ConfigError } from '../../core/errors.ts';
import { LocalObjectStore } from './local/local-object-store.ts';
import type { ObjectStore } from './object-store.ts';

/**
 * Creates the object store a profile names. A local `root` should be absolute (the config loader
 * resolves it against the project root); a relative one resolves against the working directory.
 */
export function createObjectStore(config: ObjectStoreConfig): ObjectStore {
  switch (config.type) {
    case 'local':
      return new LocalObjectStore(config.root);
    case 's3':
      throw new ConfigError(
        'The S3 object store arrives in a later version of Flywheel; use { type: "local" } for now',
        { field: 'objectStore.type' },
      );
    default:
      return unknownType(config);
  }
}

function unknownType(config: never): never {
  throw new ConfigError(`Unknown object store type ${JSON.stringify((config as { type?: unknown }).type)}`, { field: 'objectStore.type' });
}
