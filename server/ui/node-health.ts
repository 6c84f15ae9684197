import type { ViewMaterializationStatus } from '../../core/materialization/status.ts';
import type { LoopGraphNode, LoopNodeKind } from './loop-graph.ts';
import type { RunSummary } from './temporal-runs.ts';

/**
 * The health of each node of the Loop page, from what the warehouse, the object store and Temporal
 * say about it. Pure: the caller gathers the facts and passes the time.
 *
 * - `failing`: the latest run of the node failed (FAILED, TIMED_OUT or TERMINATED);
 * - `never`: nothing was ever produced (no materialization watermark, no load, no published partition);
 * - `stale`: what was produced is older than twice its schedule's interval (a materialized view, see
 *   core/materialization/status.ts; a stream table: its last load older than twice the ingest sweep's);
 * - `fresh`: otherwise;
 * - `static`: a definition no Flywheel run produces (a source, a stream's log, a service, an offline view).
 */
export type NodeHealth = 'fresh' | 'stale' | 'failing' | 'never' | 'static';

/** The FlywheelKind of the runs that produce each kind of node; undefined: none do. */
export const RUN_KIND_OF_NODE: Readonly<Record<LoopNodeKind, string | undefined>> = {
  source: undefined,
  eventStream: undefined,
  decisionLog: undefined,
  streamTable: 'ingest',
  featureView: 'materialization',
  featureService: undefined,
  labels: 'labels',
  trainingSet: 'training-set',
};

const FAILED_STATUSES = new Set(['FAILED', 'TIMED_OUT', 'TERMINATED']);

export interface NodeFacts {
  /** The newest run that produced the node, if any. */
  readonly lastRun?: RunSummary;
  /** For an online feature view: its materialization status. */
  readonly materialization?: ViewMaterializationStatus;
  /** When the node's data was last produced (a load, a published partition), null: never. Undefined: not known for this kind. */
  readonly producedAt?: string | null;
  /** After how long without production the node is stale; null: never stale. */
  readonly staleAfterSeconds?: number | null;
}

export interface NodeStatus {
  readonly health: NodeHealth;
  /** Seconds since the node's data was produced (for a view: its watermark's age); null when never or not known. */
  readonly lagSeconds: number | null;
}

export function nodeStatus(node: LoopGraphNode, facts: NodeFacts, now: Date): NodeStatus {
  const failing = facts.lastRun !== undefined && FAILED_STATUSES.has(facts.lastRun.status);
  const view = facts.materialization;
  if (node.kind === 'featureView') {
    if (!view) return { health: failing ? 'failing' : 'static', lagSeconds: null };
    const health = failing ? 'failing' : view.state === 'never' ? 'never' : view.state === 'stale' ? 'stale' : 'fresh';
    return { health, lagSeconds: view.ageSeconds };
  }
  if (RUN_KIND_OF_NODE[node.kind] === undefined) return { health: 'static', lagSeconds: null };
  const producedAt = facts.producedAt ?? null;
  const lagSeconds = producedAt === null ? null : Math.max(0, Math.floor((now.getTime() - Date.parse(producedAt)) / 1000));
  if (failing) return { health: 'failing', lagSeconds };
  if (lagSeconds === null) return { health: 'never', lagSeconds };
  const limit = facts.staleAfterSeconds ?? null;
  return { health: limit !== null && lagSeconds > limit ? 'stale' : 'fresh', lagSeconds };
}
