import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ActivityDeps } from '../activities/deps.ts';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { createOfflineEngine } from '../connectors/offline/create-offline-engine.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { ResolvedConfig } from '../runtime/load-config.ts';

/** Wires the profile's connectors into what activities need. */
export function activityDepsFromConfig(config: ResolvedConfig): ActivityDeps {
  const scratchDir = join(config.stateDir, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return {
    project: config.project,
    openEngine: (options) => createOfflineEngine(config.profile.offline, options),
    registry: (engine) => new WarehouseRegistry(engine),
    materializationState: (engine) => new WarehouseMaterializationState(engine),
    objectStore: createObjectStore(config.profile.objectStore),
    scratchDir,
    stateDir: config.stateDir,
    projectRoot: config.projectRoot,
  };
}
