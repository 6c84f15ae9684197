import { COLLECTION_OF_KIND, DEFINITION_KINDS, type DefinitionKind, type DefinitionSpec } from '../../../core/definitions/specs.ts';
import { NotFoundError } from '../../../core/errors.ts';
import { definitionTypeScript } from '../definition-typescript.ts';
import type { RunSummary } from '../temporal-runs.ts';
import type { UiSources } from '../ui-sources.ts';
import { appliedObject, readApplied } from './applied.ts';
import { recentRuns } from './runs-index.ts';

/** `GET /api/project`: what every page's header shows. */
export interface ProjectOverview {
  readonly project: string;
  readonly registryVersion: number;
  readonly appliedAt: string;
  readonly hash: string;
  /** Applied definitions per kind, every kind listed. */
  readonly counts: Readonly<Record<DefinitionKind, number>>;
  /** Names per kind (for the navigation). */
  readonly names: Readonly<Record<DefinitionKind, readonly string[]>>;
  readonly temporalUi: string | null;
}

export async function projectOverview(sources: UiSources): Promise<ProjectOverview> {
  const applied = await readApplied(sources);
  const names = Object.fromEntries(DEFINITION_KINDS.map((kind) => [kind, Object.keys(applied.spec[COLLECTION_OF_KIND[kind]]).sort()])) as Record<DefinitionKind, string[]>;
  const counts = Object.fromEntries(DEFINITION_KINDS.map((kind) => [kind, names[kind].length])) as Record<DefinitionKind, number>;
  return { project: sources.project, registryVersion: applied.version, appliedAt: applied.appliedAt, hash: applied.hash, counts, names, temporalUi: sources.temporalUi?.url ?? null };
}

/** Runs listed on the Runs page. */
export const RUNS_LISTED = 200;

/** `GET /api/runs[?kind=][&object=]`: recent runs, newest first, each linking to the Temporal UI. */
export interface RunsPage {
  readonly project: string;
  readonly kind: string | null;
  readonly object: string | null;
  readonly runs: readonly RunSummary[];
  readonly unavailable: string | null;
  readonly temporalUi: string | null;
}

export async function runsPage(sources: UiSources, filter: { kind?: string; object?: string }): Promise<RunsPage> {
  const { runs, unavailable } = await recentRuns(sources, { ...filter, limit: RUNS_LISTED });
  return { project: sources.project, kind: filter.kind ?? null, object: filter.object ?? null, runs, unavailable, temporalUi: sources.temporalUi?.url ?? null };
}

/** `GET /api/definitions/:kind/:name`: one applied definition, as TypeScript and as its stored spec. */
export interface DefinitionPage {
  readonly kind: DefinitionKind;
  readonly name: string;
  readonly registryVersion: number;
  readonly typescript: string;
  readonly spec: DefinitionSpec;
}

export async function definitionPage(sources: UiSources, kind: string, name: string): Promise<DefinitionPage> {
  if (!(DEFINITION_KINDS as readonly string[]).includes(kind)) throw new NotFoundError('definition kind', kind, `Kinds: ${DEFINITION_KINDS.join(', ')}`);
  const applied = await readApplied(sources);
  const spec = appliedObject(applied.spec, kind as DefinitionKind, name) as DefinitionSpec;
  return { kind: kind as DefinitionKind, name, registryVersion: applied.version, typescript: definitionTypeScript(spec), spec };
}
