import { createOfflineEngine } from '../../connectors/offline/create-offline-engine.ts';
import { WarehouseRegistry } from '../../connectors/registry/warehouse-registry.ts';
import { findAppliedObject, type AppliedDefinitions } from '../../core/definitions/find-applied-object.ts';
import { COLLECTION_OF_KIND, type DefinitionKind, type ProjectSpec } from '../../core/definitions/specs.ts';
import { FlywheelError, NotFoundError } from '../../core/errors.ts';
import { loadDefinitions } from './load-definitions.ts';
import type { ResolvedConfig } from '../../runtime/load-config.ts';

/** Thrown when a run is asked for before anything was applied: every run reads the applied registry. */
export class NothingAppliedError extends FlywheelError {
  readonly project: string;
  constructor(project: string) {
    super(`Project "${project}" has no applied definitions in this profile's warehouse; run \`flywheel plan\` and \`flywheel apply\` first`);
    this.project = project;
  }
}

/** How long to wait for a warehouse another process holds (a worker's activity, `flywheel dev`). */
const BUSY_WAIT_MS = 5_000;

/**
 * Reads the applied definitions of the profile's project (a given registry version, or the latest)
 * through its offline engine, as `flywheel status` does. A warehouse that stays busy (a retryable
 * error: DuckDB's one-process lock held by a long activity) for BUSY_WAIT_MS gives undefined: the
 * caller then starts the run unchecked, and the worker's own checks still apply.
 */
export async function readAppliedDefinitions(config: ResolvedConfig, version?: number): Promise<AppliedDefinitions | undefined> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      const engine = await createOfflineEngine(config.profile.offline);
      try {
        const registry = new WarehouseRegistry(engine);
        const applied = version === undefined ? await registry.latest(config.project) : await registry.get(config.project, version);
        if (!applied) {
          if (version !== undefined && (await registry.latest(config.project))) throw new NotFoundError('registry version', String(version), `Project "${config.project}" has no such applied version`);
          throw new NothingAppliedError(config.project);
        }
        return { project: config.project, version: applied.version, spec: applied.spec };
      } finally {
        await engine.close();
      }
    } catch (error) {
      if (!(error instanceof FlywheelError) || !error.retryable) throw error;
      if (Date.now() >= deadline) {
        process.stderr.write(`note: the names were not checked before starting (${error.message.split(':')[0]}); the worker checks them\n`);
        return undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * 2 ** attempt)));
    }
  }
}

/**
 * Checks, before a run starts, that `name` is an applied object of `kind` and returns it (with the
 * registry version it was read from); throws UnknownObjectError with a "did you mean" otherwise.
 * Undefined when the warehouse could not be read in time (see readAppliedDefinitions).
 *
 * @example
 * const target = await checkRunTarget(config, 'featureView', 'user_spnd');
 * // UnknownObjectError: "user_spnd" is not a feature view of project "card_fraud" (applied registry v3); did you mean "user_spend"?
 */
export async function checkRunTarget<K extends DefinitionKind>(
  config: ResolvedConfig,
  kind: K,
  name: string,
  options: { readonly registryVersion?: number } = {},
): Promise<{ readonly spec: NonNullable<ProjectSpec[(typeof COLLECTION_OF_KIND)[K]][string]>; readonly registryVersion: number } | undefined> {
  const applied = await readAppliedDefinitions(config, options.registryVersion);
  if (!applied) return undefined;
  const collection = applied.spec[COLLECTION_OF_KIND[kind]] as Readonly<Record<string, unknown>>;
  // Only when the name is missing: is it defined locally but not applied? (A definitions error here must not hide the real one.)
  const defined = Object.hasOwn(collection, name) ? [] : await definedNames(config, kind);
  return { spec: findAppliedObject(applied, kind, name, defined), registryVersion: applied.version };
}

async function definedNames(config: ResolvedConfig, kind: DefinitionKind): Promise<string[]> {
  try {
    return Object.keys((await loadDefinitions(config.definitionsDir, config.projectRoot))[COLLECTION_OF_KIND[kind]]);
  } catch {
    return [];
  }
}
