import { createHash } from 'node:crypto';
import type { FeatureViewSpec, ProjectSpec } from '../definitions/specs.ts';
import { viewSourceOf } from '../definitions/view-source.ts';
import { canonicalJson } from '../plan/definition-hash.ts';
import { compareInstants, instantPlusSeconds, parseInstant } from '../instant.ts';

/**
 * Incremental materialization, decided without I/O: which range a run covers (full, from the stored
 * watermark, or a range given by hand), and whether its end may become the new watermark. The
 * activities read and write the state (connectors/registry/materialization-state.ts); the rule for
 * which entities a range recomputes is in core/sql/latest-values.ts. docs/materialization.md tells
 * the whole story.
 *
 * @example
 * const plan = planMaterializationRun({ state, definitionHash: materializationHash(view, spec), to: now, lookbackSeconds: 0 });
 * // { mode: 'incremental', from: '2024-05-01T11:00:00.000Z', to: ..., changedSince: ..., reason: 'from the stored watermark' }
 */

/** What the warehouse keeps about a feature view's last materialization that moved its watermark. */
export interface MaterializationState {
  readonly project: string;
  readonly featureView: string;
  /** Every value as of this instant is in the online store (the `to` of the run that set it), ISO-8601 UTC. */
  readonly watermark: string;
  /** materializationHash of the view the values were computed with. */
  readonly definitionHash: string;
  readonly registryVersion: number;
  readonly mode: MaterializationMode;
  /** Rows the run wrote. */
  readonly rows: number;
  /** When the run finished, ISO-8601 UTC. */
  readonly finishedAt: string;
  /** The Temporal workflow id of the run. */
  readonly runId: string;
}

/** `full`: every entity as of `to`; `incremental`: the entities whose values may have changed in (from, to]. */
export type MaterializationMode = 'full' | 'incremental';

export interface MaterializationRunPlan {
  readonly mode: MaterializationMode;
  /** The instant values are computed as of: the end of the range. */
  readonly to: string;
  /** The start of the range (exclusive), for an incremental run. */
  readonly from?: string;
  /** `from` minus the lookback: where rows that arrived since the last run are looked for (compileLatestValues' changedSince). */
  readonly changedSince?: string;
  readonly lookbackSeconds: number;
  /** Why this mode, for people: `no watermark yet`, `the definition changed since the last run`, ... */
  readonly reason: string;
  /** True when there is nothing to do: the stored watermark is already at or past `to`. */
  readonly upToDate: boolean;
}

export interface PlanRunArgs {
  /** The stored state, if any. */
  readonly state: Pick<MaterializationState, 'watermark' | 'definitionHash'> | undefined;
  /** materializationHash of the view as it is now. */
  readonly definitionHash: string;
  /** The end of the run (ISO-8601). */
  readonly to: string;
  /** A range start given by hand (ISO-8601): an incremental run from there, whatever is stored. */
  readonly from?: string;
  /** Recompute every entity. */
  readonly full?: boolean;
  readonly lookbackSeconds: number;
}

/**
 * The range of a run:
 * - `full` asked, or no `from` and no stored watermark, or a stored watermark computed with another
 *   definition: a full run as of `to`;
 * - `from` given: incremental over (from, to];
 * - otherwise: incremental from the stored watermark, (watermark, to]; up to date when `to` is not
 *   after it.
 * An incremental run looks for changed rows from `from - lookback`.
 */
export function planMaterializationRun(args: PlanRunArgs): MaterializationRunPlan {
  const to = parseInstant(args.to, 'to');
  const lookbackSeconds = args.lookbackSeconds;
  const full = (reason: string): MaterializationRunPlan => ({ mode: 'full', to, lookbackSeconds, reason, upToDate: false });
  const incremental = (from: string, reason: string): MaterializationRunPlan => ({
    mode: 'incremental', to, from, changedSince: instantPlusSeconds(from, -lookbackSeconds), lookbackSeconds, reason,
    upToDate: compareInstants(from, to) >= 0,
  });
  if (args.full) return full('a full run was asked for');
  if (args.from !== undefined) return incremental(parseInstant(args.from, 'from'), 'the range was given');
  if (!args.state) return full('no watermark yet');
  if (args.state.definitionHash !== args.definitionHash) return full('the definition changed since the last run');
  return incremental(parseInstant(args.state.watermark, 'the stored watermark'), 'from the stored watermark');
}

/** A finished run, as the final activity sees it. */
export interface FinishedRun {
  readonly plan: Pick<MaterializationRunPlan, 'mode' | 'from' | 'to'>;
  readonly definitionHash: string;
  readonly registryVersion: number;
}

/**
 * Whether a finished run's `to` becomes the stored watermark, against the state stored now (another
 * run may have moved it while this one ran). The watermark only moves forward, and only to an instant
 * up to which every change is in the store:
 * - nothing stored: a full run sets it; an incremental one does not (it saw only its range);
 * - stored with the same definition: moves to `to` when `to` is later and the run covers everything
 *   since the stored watermark (a full run, or `from` at or before it); a range that starts later
 *   leaves a gap, so it does not move;
 * - stored with another definition: a full run replaces it unless it was computed with an older
 *   registry version than the stored one; an incremental run does not.
 */
export function watermarkDecision(current: Pick<MaterializationState, 'watermark' | 'definitionHash' | 'registryVersion'> | undefined, run: FinishedRun): { readonly advance: boolean; readonly reason: string } {
  if (!current) {
    return run.plan.mode === 'full'
      ? { advance: true, reason: 'first watermark' }
      : { advance: false, reason: 'no watermark is stored, and an incremental run covers only its range' };
  }
  if (current.definitionHash !== run.definitionHash) {
    if (run.plan.mode !== 'full') return { advance: false, reason: 'the stored watermark was computed with another definition' };
    if (run.registryVersion < current.registryVersion) return { advance: false, reason: `the stored watermark comes from a newer registry version (${current.registryVersion})` };
    return { advance: true, reason: 'a full run with a new definition' };
  }
  if (compareInstants(run.plan.to, current.watermark) <= 0) return { advance: false, reason: `the stored watermark ${current.watermark} is not earlier` };
  if (run.plan.mode === 'incremental' && compareInstants(run.plan.from!, current.watermark) > 0) {
    return { advance: false, reason: `the range starts after the stored watermark ${current.watermark}, leaving a gap` };
  }
  return { advance: true, reason: 'moved forward' };
}

/**
 * The lookback of a view's runs unless one is given: its schedule's `lookback`, else the lookback of
 * the event stream it reads when the stream loads from a table (`from.lookback`), else none.
 */
export function defaultLookbackSeconds(view: FeatureViewSpec, project: ProjectSpec): number {
  if (view.materialize?.lookbackSeconds !== undefined) return view.materialize.lookbackSeconds;
  const source = viewSourceOf(project, view.source);
  return source?.kind === 'eventStream' ? (source.spec.from?.lookbackSeconds ?? 0) : 0;
}

/**
 * What the materialized values of a view depend on, hashed: the view without what does not change
 * them (its schedule, owner, description, tags, online/offline flags, push), its source or stream
 * without its descriptions, and its entities' join keys. A different hash means the stored values
 * may no longer be what the view computes, so the next run is full.
 */
export function materializationHash(view: FeatureViewSpec, project: ProjectSpec): string {
  const { materialize: _schedule, owner: _owner, description: _description, tags: _tags, online: _online, offline: _offline, push: _push, ...computed } = view;
  const source = viewSourceOf(project, view.source);
  const input = source && withoutPresentation(source.spec as unknown as Record<string, unknown>);
  const entities = view.entities.map((name) => ({ name, joinKeys: project.entities[name]?.joinKeys.map((k) => ({ name: k.name, type: k.type })) ?? [] }));
  return createHash('sha256').update(canonicalJson({ view: computed, source: input ?? null, entities })).digest('hex');
}

function withoutPresentation(spec: Record<string, unknown>): Record<string, unknown> {
  const { description: _description, owner: _owner, tags: _tags, retentionSeconds: _retention, ...rest } = spec;
  const strip = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(strip)
    : value !== null && typeof value === 'object' ? Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'description').map(([key, v]) => [key, strip(v)]))
    : value;
  return strip(rest) as Record<string, unknown>;
}
