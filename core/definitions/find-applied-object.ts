import { FlywheelError } from '../errors.ts';
import { COLLECTION_OF_KIND, DEFINITION_KINDS, type DefinitionKind, type ProjectSpec } from './specs.ts';
import { editDistance } from '../edit-distance.ts';

export { editDistance };

/** How a kind reads in a sentence: `"user_spnd" is not a feature view`. */
const KIND_WORDS: Readonly<Record<DefinitionKind, string>> = {
  entity: 'an entity',
  source: 'a source',
  eventStream: 'an event stream',
  featureView: 'a feature view',
  featureService: 'a feature service',
  trainingSet: 'a training set',
  labels: 'labels',
  loop: 'a loop',
  model: 'a model',
};

/** The same kinds in the plural, for the list of what exists: `applied feature views: a, b`. */
const KIND_PLURALS: Readonly<Record<DefinitionKind, string>> = {
  entity: 'entities',
  source: 'sources',
  eventStream: 'event streams',
  featureView: 'feature views',
  featureService: 'feature services',
  trainingSet: 'training sets',
  labels: 'labels',
  loop: 'loops',
  model: 'models',
};

/**
 * Thrown (by the CLI, before it starts a run) when a run names an object that the applied
 * definitions do not hold as that kind: a typo, another kind's name, or a definition not applied yet.
 */
export class UnknownObjectError extends FlywheelError {
  readonly project: string;
  readonly kind: DefinitionKind;
  readonly objectName: string;
  /** The closest name of that kind, when one is close enough to be a typo. */
  readonly suggestion: string | undefined;
  /** The kind the name has, when it names an object of another kind. */
  readonly actualKind: DefinitionKind | undefined;
  constructor(message: string, context: { project: string; kind: DefinitionKind; objectName: string; suggestion?: string; actualKind?: DefinitionKind }) {
    super(message);
    this.project = context.project;
    this.kind = context.kind;
    this.objectName = context.objectName;
    this.suggestion = context.suggestion;
    this.actualKind = context.actualKind;
  }
}

/**
 * The candidate closest to `name` by edit distance, if it is close enough to be a typo: at most a
 * third of the name's length (at least 1, at most 3 edits), or the same name in another case. Ties
 * go to the name first in alphabetical order, so the answer does not depend on definition order.
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  const tolerance = Math.max(1, Math.min(3, Math.floor(name.length / 3)));
  let best: { name: string; distance: number } | undefined;
  for (const candidate of [...candidates].sort()) {
    const distance = candidate.toLowerCase() === name.toLowerCase() ? 0 : editDistance(candidate, name);
    if (distance <= tolerance && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

/** Where the applied definitions come from, for the message. */
export interface AppliedDefinitions {
  readonly project: string;
  readonly version: number;
  readonly spec: ProjectSpec;
}

/**
 * The object `name` of `kind` in the applied definitions, or an UnknownObjectError that says what
 * the user probably meant: the closest name of that kind, or the kind the name has. `defined` are the
 * names of that kind in the definitions folder, to say when one is defined but not applied yet.
 *
 * @example
 * findAppliedObject(applied, 'featureView', 'user_spnd');
 * // UnknownObjectError: "user_spnd" is not a feature view of project "card_fraud" (applied registry v3); did you mean "user_spend"?
 */
export function findAppliedObject<K extends DefinitionKind>(
  applied: AppliedDefinitions,
  kind: K,
  name: string,
  defined: readonly string[] = [],
): NonNullable<ProjectSpec[(typeof COLLECTION_OF_KIND)[K]][string]> {
  const collection = applied.spec[COLLECTION_OF_KIND[kind]] as Readonly<Record<string, unknown>> | undefined;
  const found = collection && Object.hasOwn(collection, name) ? collection[name] : undefined;
  if (found !== undefined) return found as NonNullable<ProjectSpec[(typeof COLLECTION_OF_KIND)[K]][string]>;

  const names = Object.keys(collection ?? {}).sort();
  const where = `project "${applied.project}" (applied registry v${applied.version})`;
  const actualKind = DEFINITION_KINDS.find((other) => other !== kind && Object.hasOwn(applied.spec[COLLECTION_OF_KIND[other]] ?? {}, name));
  const known = names.length > 0 ? `the applied ${KIND_PLURALS[kind]} are ${names.join(', ')}` : `no ${KIND_PLURALS[kind]} are applied`;
  if (actualKind !== undefined) {
    const suggestion = closestName(name, names);
    throw new UnknownObjectError(
      `"${name}" is ${KIND_WORDS[actualKind]}, not ${KIND_WORDS[kind]}; ${suggestion !== undefined ? `did you mean "${suggestion}"?` : `${known}`}`,
      { project: applied.project, kind, objectName: name, actualKind, ...(suggestion !== undefined ? { suggestion } : {}) },
    );
  }
  if (defined.includes(name)) {
    throw new UnknownObjectError(
      `"${name}" is defined in the definitions folder but not applied to ${where}; run \`flywheel plan\` and \`flywheel apply\` first`,
      { project: applied.project, kind, objectName: name },
    );
  }
  const suggestion = closestName(name, names);
  throw new UnknownObjectError(
    `"${name}" is not ${KIND_WORDS[kind]} of ${where}; ${suggestion !== undefined ? `did you mean "${suggestion}"?` : known}`,
    { project: applied.project, kind, objectName: name, ...(suggestion !== undefined ? { suggestion } : {}) },
  );
}
