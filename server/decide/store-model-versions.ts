import type { ObjectStore } from '../../connectors/object-store/object-store.ts';
import { loadModelVersion } from '../../connectors/model-runtime/index.ts';
import { readPromoted } from '../../connectors/model-store/model-store.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { ModelVersions } from './model-versions.ts';

/**
 * The model versions of a project's models as a server reads them: from the object store alone
 * (`models/<name>/promoted.json` and the versions' artifacts, connectors/model-store), so any node
 * with the store's address serves the same versions.
 *
 * @example
 * const versions = storeModelVersions({ project, store, projectRoot, log });
 * await versions.start();
 */
export function storeModelVersions(args: {
  readonly project: ProjectSpec;
  readonly store: ObjectStore;
  /** Where TypeScript models' modules are resolved from (the project root). */
  readonly projectRoot: string;
  readonly pollMs?: number;
  readonly log: (line: string) => void;
}): ModelVersions {
  const { project, store, projectRoot } = args;
  return new ModelVersions({
    models: Object.keys(project.models ?? {}),
    load: (name, version) => loadModelVersion({ store, definitions: project, name, version, projectRoot }),
    promotion: (name) => readPromoted(store, name),
    ...(args.pollMs !== undefined ? { pollMs: args.pollMs } : {}),
    log: args.log,
  });
}
