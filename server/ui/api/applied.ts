import { WarehouseRegistry, type RegistryVersion } from '../../../connectors/registry/warehouse-registry.ts';
import { COLLECTION_OF_KIND, type DefinitionKind, type ProjectSpec } from '../../../core/definitions/specs.ts';
import { FlywheelError, NotFoundError } from '../../../core/errors.ts';
import type { UiSources } from '../ui-sources.ts';

/** Thrown when the project has no applied registry version in the profile's warehouse: the UI shows the applied definitions only. */
export class NothingAppliedYetError extends FlywheelError {
  readonly project: string;
  constructor(project: string) {
    super(`Project "${project}" has no applied definitions in this profile's warehouse; run \`flywheel plan\` and \`flywheel apply\` first`);
    this.project = project;
  }
}

/** The latest applied registry version of the project. */
export async function readApplied(sources: UiSources): Promise<RegistryVersion> {
  // Kept while the warehouse is unchanged: every page asks for it, and a registry version never changes once written.
  const applied = await sources.warehouse.readCached('registry:latest', (engine) => new WarehouseRegistry(engine).latest(sources.project));
  if (!applied) throw new NothingAppliedYetError(sources.project);
  return applied;
}

/** One applied definition by kind and name, or a NotFoundError that lists the applied names of that kind. */
export function appliedObject<K extends DefinitionKind>(spec: ProjectSpec, kind: K, name: string): NonNullable<ProjectSpec[(typeof COLLECTION_OF_KIND)[K]][string]> {
  const collection = spec[COLLECTION_OF_KIND[kind]] as Readonly<Record<string, unknown>>;
  if (!Object.hasOwn(collection, name)) {
    const known = Object.keys(collection).sort();
    throw new NotFoundError(KIND_WORDS[kind], name, known.length > 0 ? `Applied: ${known.join(', ')}` : `The applied version has no ${KIND_WORDS[kind]}`);
  }
  return collection[name] as NonNullable<ProjectSpec[(typeof COLLECTION_OF_KIND)[K]][string]>;
}

export const KIND_WORDS: Readonly<Record<DefinitionKind, string>> = {
  entity: 'entity',
  source: 'source',
  eventStream: 'event stream',
  featureView: 'feature view',
  featureService: 'feature service',
  trainingSet: 'training set',
  labels: 'labels',
  loop: 'loop',
  model: 'model',
};
