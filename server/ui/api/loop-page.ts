import { readDatasetManifest, readLabelDatasetManifest } from '../../../connectors/object-store/dataset-manifests.ts';
import { WarehouseMaterializationState } from '../../../connectors/registry/materialization-state.ts';
import { WarehouseRegistry, type RegistryVersion } from '../../../connectors/registry/warehouse-registry.ts';
import { INGEST_SWEEP_EVERY_SECONDS } from '../../../core/ingest/sweep.ts';
import { materializationStatuses, scheduleIntervalSeconds, STALE_AFTER_INTERVALS, type ViewMaterializationStatus } from '../../../core/materialization/status.ts';
import { scheduleTimes } from '../../../core/plan/schedules.ts';
import type { ScheduleSpec } from '../../../core/definitions/specs.ts';
import { ingestLedgerTableName } from '../../../core/sql/warehouse-objects.ts';
import { loopGraph, type LoopGraphNode, type LoopNodeKind } from '../loop-graph.ts';
import { cachedLayout } from '../loop-layout.ts';
import { nodeStatus, RUN_KIND_OF_NODE, type NodeFacts, type NodeHealth } from '../node-health.ts';
import { compileStreamLoads } from '../sql/ui-queries.ts';
import type { RunSummary } from '../temporal-runs.ts';
import type { UiSources } from '../ui-sources.ts';
import { NothingAppliedYetError } from './applied.ts';
import { latestRunByObject, recentRuns } from './runs-index.ts';

/** `GET /api/loop`: the Loop page, every node placed, with its health, lag and last run. */
export interface LoopPage {
  readonly project: string;
  readonly registryVersion: number;
  readonly now: string;
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly LoopPageNode[];
  readonly edges: readonly { readonly from: string; readonly to: string; readonly points: readonly { readonly x: number; readonly y: number }[] }[];
  /** Nodes per health, every health listed. */
  readonly health: Readonly<Record<NodeHealth, number>>;
  /** Why there are no runs (Temporal not reachable), or null. */
  readonly runsUnavailable: string | null;
  /** How long the layout took on the server, in milliseconds (about 0 when it was cached: the graph is the applied version's). */
  readonly layoutMs: number;
}

export interface LoopPageNode extends LoopGraphNode {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly health: NodeHealth;
  readonly lagSeconds: number | null;
  readonly lastRun: Pick<RunSummary, 'workflowId' | 'status' | 'startTime' | 'closeTime' | 'url'> | null;
}

/** What the warehouse and the object store say about each node, gathered once per page. */
interface LoopFacts {
  readonly statuses: readonly ViewMaterializationStatus[];
  readonly loads: ReadonlyMap<string, string>;
  readonly published: ReadonlyMap<string, string | null>;
}

export async function loopPage(sources: UiSources): Promise<LoopPage> {
  const now = sources.now();
  // Temporal's visibility is asked while the warehouse is read (recentRuns never rejects: Temporal away is shown, not thrown).
  const runsCall = recentRuns(sources);
  // The registry and the state tables in one opening of the warehouse (each opening of a DuckDB file
  // costs tens of milliseconds), kept while the warehouse is unchanged; ages are computed from them after.
  const { applied, states, loads } = await sources.warehouse.readCached('loop:facts', async (engine) => {
    const applied = await new WarehouseRegistry(engine).latest(sources.project);
    if (!applied) throw new NothingAppliedYetError(sources.project);
    const states = await new WarehouseMaterializationState(engine).list(sources.project);
    const ledger = (await engine.tableFacts(ingestLedgerTableName())).isTable;
    const rows = ledger ? await engine.all<{ stream: string; last_loaded_at: string }>(compileStreamLoads(engine.dialect)) : [];
    return { applied, states, loads: new Map(rows.map((row) => [row.stream, row.last_loaded_at])) as ReadonlyMap<string, string> };
  });
  const { spec } = applied;
  const facts: Omit<LoopFacts, 'published'> = { statuses: materializationStatuses(spec, states, now), loads };
  const graph = loopGraph(spec);
  const started = performance.now();
  const layoutCall = cachedLayout(graph).then((layout) => ({ layout, layoutMs: Math.round((performance.now() - started) * 10) / 10 }));
  const published = new Map<string, string | null>();
  await Promise.all([
    ...Object.values(spec.labels).map(async (labels) => published.set(`labels:${labels.name}`, (await readLabelDatasetManifest(sources.objectStore, labels))?.updatedAt ?? null)),
    ...Object.values(spec.trainingSets).map(async (set) => published.set(`trainingSet:${set.name}`, (await readDatasetManifest(sources.objectStore, set))?.updatedAt ?? null)),
  ]);
  const { layout, layoutMs } = await layoutCall;
  const { runs, unavailable } = await runsCall;
  const latest = latestRunByObject(runs);
  const placed = new Map(layout.nodes.map((node) => [node.id, node]));
  const health: Record<NodeHealth, number> = { fresh: 0, stale: 0, failing: 0, never: 0, static: 0 };
  const nodes = graph.nodes.map((node): LoopPageNode => {
    const runKind = RUN_KIND_OF_NODE[node.kind];
    const lastRun = runKind ? latest.get(`${runKind}/${node.name}`) : undefined;
    const status = nodeStatus(node, factsOf(node, { ...facts, published }, spec, lastRun, now), now);
    health[status.health] += 1;
    const box = placed.get(node.id)!;
    return {
      ...node, x: box.x, y: box.y, width: box.width, height: box.height, ...status,
      lastRun: lastRun ? { workflowId: lastRun.workflowId, status: lastRun.status, startTime: lastRun.startTime, closeTime: lastRun.closeTime, url: lastRun.url } : null,
    };
  });
  return { project: sources.project, registryVersion: applied.version, now: now.toISOString(), width: layout.width, height: layout.height, nodes, edges: layout.edges, health, runsUnavailable: unavailable, layoutMs };
}

function factsOf(node: LoopGraphNode, facts: LoopFacts, spec: RegistryVersion['spec'], lastRun: RunSummary | undefined, now: Date): NodeFacts {
  const base = lastRun ? { lastRun } : {};
  const kind: LoopNodeKind = node.kind;
  switch (kind) {
    case 'featureView': {
      const materialization = facts.statuses.find((status) => status.view === node.name);
      return materialization ? { ...base, materialization } : base;
    }
    case 'streamTable':
      return { ...base, producedAt: facts.loads.get(node.name) ?? null, staleAfterSeconds: STALE_AFTER_INTERVALS * INGEST_SWEEP_EVERY_SECONDS };
    case 'labels':
      return { ...base, producedAt: facts.published.get(node.id) ?? null, staleAfterSeconds: staleAfter(spec.labels[node.name]?.schedule, now) };
    case 'trainingSet':
      return { ...base, producedAt: facts.published.get(node.id) ?? null, staleAfterSeconds: staleAfter(spec.trainingSets[node.name]?.schedule, now) };
    default:
      return base;
  }
}

/** Twice a schedule's interval; null without a schedule (built on demand: never stale). */
function staleAfter(schedule: ScheduleSpec | undefined, now: Date): number | null {
  if (!schedule) return null;
  const interval = scheduleIntervalSeconds(scheduleTimes(schedule), now);
  return interval === null ? null : STALE_AFTER_INTERVALS * interval;
}
