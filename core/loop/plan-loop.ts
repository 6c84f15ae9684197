import type { FeatureSelection, ProjectSpec, TrainingSetSpec } from '../definitions/specs.ts';
import { FlywheelError } from '../errors.ts';
import { parseInstant } from '../instant.ts';
import { partitionOf } from '../training-set/partitions.ts';

/**
 * The flywheel loop as a DAG of stages, derived from a project's definitions (docs/loop.md). Pure:
 * no I/O, no Temporal. Each stage is one child workflow of `flywheelLoop` that can also run alone.
 *
 * Stages are found by what they **produce** and what they **read**: `ingest:<stream>` produces the
 * rows of an event stream, `labels:<name>` a labels dataset; a stage depends on every stage that
 * produces something it reads. Feature views get no stage: they are SQL views computed when read,
 * so a stage that reads a view reads what the view reads (its event stream, if it has one).
 *
 * @example
 * const stages = planLoop(spec, { project: 'card_fraud', asOf: '2024-05-02T03:00:00.000Z' });
 * // [{ id: 'ingest:transactions', ... }, { id: 'trainingSet:fraud_training', dependsOn: ['ingest:transactions'], ... }, ...]
 * selectStages(stages, ['materialize']);   // only the materializations, without their dependencies
 */

export const LOOP_STAGE_KINDS = ['ingest', 'labels', 'trainingSet', 'materialize'] as const;
export type LoopStageKind = (typeof LOOP_STAGE_KINDS)[number];

/** The workflow type each kind of stage runs (exported under these names by workflows/index.ts). */
export const LOOP_STAGE_WORKFLOWS = {
  ingest: 'ingestStream',
  labels: 'buildLabels',
  trainingSet: 'buildTrainingSet',
  materialize: 'materializeFeatureView',
} as const satisfies Record<LoopStageKind, string>;

/** The input of each kind of stage's workflow: references and times only. */
export interface LoopStageArgs {
  readonly ingest: { readonly project: string; readonly stream: string };
  readonly labels: { readonly project: string; readonly labels: string; readonly asOf?: string };
  readonly trainingSet: { readonly project: string; readonly trainingSet: string; readonly from?: string; readonly to?: string; readonly registryVersion?: number };
  readonly materialize: { readonly project: string; readonly view: string; readonly to?: string };
}

interface StageOf<K extends LoopStageKind> {
  /** `<kind>:<object>`, unique in the project: `ingest:clicks`, `trainingSet:fraud_training`. */
  readonly id: string;
  readonly kind: K;
  /** The definition the stage runs: the event stream, labels, training set or feature view. */
  readonly object: string;
  /** Ids of the stages that must succeed first, in the loop's order. */
  readonly dependsOn: readonly string[];
  readonly workflowType: (typeof LOOP_STAGE_WORKFLOWS)[K];
  /** The workflow's single argument. */
  readonly args: LoopStageArgs[K];
}

export type LoopStage = { [K in LoopStageKind]: StageOf<K> }[LoopStageKind];

/** Thrown when stages depend on each other in a circle (definitions cannot do it today; the check stays). */
export class LoopCycleError extends FlywheelError {
  readonly cycle: readonly string[];
  constructor(cycle: readonly string[]) {
    super(`The loop's stages depend on each other in a cycle: ${[...cycle, cycle[0]].join(' → ')}`);
    this.cycle = cycle;
  }
}

/** Thrown when `only` names a stage or kind the loop does not have. */
export class LoopSelectionError extends FlywheelError {
  readonly unknown: readonly string[];
  constructor(unknown: readonly string[], known: readonly string[]) {
    const list = known.length > 0 ? `the loop's stages are ${known.join(', ')}` : 'the loop has no stages';
    super(`Unknown loop stage${unknown.length === 1 ? '' : 's'} ${unknown.map((u) => JSON.stringify(u)).join(', ')}: give a kind (${LOOP_STAGE_KINDS.join(', ')}) or a stage id; ${list}`);
    this.unknown = unknown;
  }
}

export interface PlanLoopOptions {
  readonly project: string;
  /**
   * The instant the run is for (ISO-8601): labels are built as of it (the partitions due by then), a
   * training set builds its latest complete partition before it, a materialization computes its
   * values as of it.
   */
  readonly asOf: string;
  /** Pin training sets to this registry version (the one the loop was planned from). */
  readonly registryVersion?: number;
}

/** What a stage produces or reads: the rows of an event stream, or a labels dataset. */
export type LoopResource = `stream:${string}` | `labels:${string}`;

/** A stage before its dependencies are known: what it produces and reads. */
export type LoopNode = {
  [K in LoopStageKind]: Omit<StageOf<K>, 'dependsOn'> & {
    readonly produces: readonly LoopResource[];
    readonly reads: readonly LoopResource[];
  };
}[LoopStageKind];

/**
 * Every stage of the project's loop, in a deterministic dependency order (dependencies first; ties by
 * kind in the order of LOOP_STAGE_KINDS, then by name):
 *
 * - `ingest:<stream>` for every event stream (declared, or a feature service's decision stream);
 * - `labels:<name>` for every labels definition, after the ingestion of its decisions and outcomes;
 * - `trainingSet:<name>` for every training set, after the ingestion of every stream its feature
 *   views read and, for a spine that is a labels dataset, after those labels;
 * - `materialize:<view>` for every online feature view, after the ingestion of its stream, if any.
 */
export function planLoop(spec: ProjectSpec, options: PlanLoopOptions): LoopStage[] {
  return orderLoop(loopNodes(spec, options));
}

/** The stages of a project before ordering: each with what it produces and reads. */
export function loopNodes(spec: ProjectSpec, options: PlanLoopOptions): LoopNode[] {
  const { project } = options;
  const streamOfView = (view: string): LoopResource[] => {
    const source = spec.featureViews[view]?.source;
    return source !== undefined && spec.eventStreams[source] ? [`stream:${source}`] : [];
  };
  const nodes: LoopNode[] = [];
  for (const stream of Object.keys(spec.eventStreams)) {
    nodes.push({
      id: stageId('ingest', stream), kind: 'ingest', object: stream, workflowType: LOOP_STAGE_WORKFLOWS.ingest,
      args: { project, stream }, produces: [`stream:${stream}`], reads: [],
    });
  }
  // Specs applied before labels existed have none.
  for (const labels of Object.values(spec.labels ?? {})) {
    nodes.push({
      id: stageId('labels', labels.name), kind: 'labels', object: labels.name, workflowType: LOOP_STAGE_WORKFLOWS.labels,
      args: { project, labels: labels.name, asOf: parseInstant(options.asOf, 'asOf') }, produces: [`labels:${labels.name}`], reads: [`stream:${labels.decisions}`, `stream:${labels.outcomes}`],
    });
  }
  for (const set of Object.values(spec.trainingSets)) {
    const views = selectionsOf(spec, set).map((selection) => selection.view);
    nodes.push({
      id: stageId('trainingSet', set.name), kind: 'trainingSet', object: set.name, workflowType: LOOP_STAGE_WORKFLOWS.trainingSet,
      args: {
        project, trainingSet: set.name, ...latestPartition(set, options.asOf),
        ...(options.registryVersion !== undefined ? { registryVersion: options.registryVersion } : {}),
      },
      produces: [],
      reads: [...spineReads(set), ...views.flatMap(streamOfView)],
    });
  }
  for (const view of Object.values(spec.featureViews)) {
    if (!view.online) continue;
    nodes.push({
      id: stageId('materialize', view.name), kind: 'materialize', object: view.name, workflowType: LOOP_STAGE_WORKFLOWS.materialize,
      args: { project, view: view.name, to: parseInstant(options.asOf, 'asOf') }, produces: [], reads: streamOfView(view.name),
    });
  }
  return nodes;
}

/** The ids of every stage of the project's loop, sorted (what a loop's `only` may name). */
export function loopStageIds(spec: ProjectSpec): string[] {
  // The instant only shapes the stages' inputs, not which stages there are.
  return loopNodes(spec, { project: '', asOf: '1970-01-01T00:00:00.000Z' }).map((node) => node.id).sort();
}

export function stageId(kind: LoopStageKind, object: string): string {
  return `${kind}:${object}`;
}

/**
 * Orders nodes so that every stage comes after the stages producing what it reads (Kahn's algorithm;
 * among the stages ready at once, by kind in the order of LOOP_STAGE_KINDS, then by name). A read
 * nothing produces (a source table, a stream outside the plan) adds no dependency. Throws
 * LoopCycleError when the dependencies go round in a circle.
 */
export function orderLoop(nodes: readonly LoopNode[]): LoopStage[] {
  const producers = new Map<LoopResource, string[]>();
  for (const node of nodes) for (const resource of node.produces) producers.set(resource, [...(producers.get(resource) ?? []), node.id]);
  const byId = new Map(nodes.map((node) => [node.id, node]));
  if (byId.size !== nodes.length) throw new FlywheelError(`Two loop stages share an id: ${nodes.map((n) => n.id).filter((id, i, all) => all.indexOf(id) !== i).join(', ')}`);
  const dependencies = new Map(nodes.map((node) => [
    node.id,
    new Set(node.reads.flatMap((resource) => producers.get(resource) ?? []).filter((id) => id !== node.id)),
  ]));

  const rank = (node: LoopNode) => LOOP_STAGE_KINDS.indexOf(node.kind);
  const before = (a: LoopNode, b: LoopNode) => rank(a) - rank(b) || (a.object < b.object ? -1 : a.object > b.object ? 1 : 0);
  const placed = new Map<string, number>();
  const ordered: LoopNode[] = [];
  while (ordered.length < nodes.length) {
    const ready = nodes.filter((node) => !placed.has(node.id) && [...dependencies.get(node.id)!].every((id) => placed.has(id)));
    if (ready.length === 0) throw new LoopCycleError(findCycle(nodes.filter((node) => !placed.has(node.id)).map((node) => node.id), dependencies));
    const next = ready.sort(before)[0]!;
    placed.set(next.id, ordered.length);
    ordered.push(next);
  }
  return ordered.map((node) => {
    const { produces: _produces, reads: _reads, ...stage } = node;
    const dependsOn = [...dependencies.get(node.id)!].sort((a, b) => placed.get(a)! - placed.get(b)!);
    return { ...stage, dependsOn } as LoopStage;
  });
}

/** A cycle among `left` (stages none of which could be placed): follow unplaced dependencies until one repeats. */
function findCycle(left: readonly string[], dependencies: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const remaining = new Set(left);
  const path: string[] = [];
  let current = [...left].sort()[0]!;
  while (!path.includes(current)) {
    path.push(current);
    current = [...dependencies.get(current)!].filter((id) => remaining.has(id)).sort()[0]!;
  }
  return path.slice(path.indexOf(current));
}

/**
 * The stages `only` names, by kind (`materialize`) or id (`trainingSet:fraud_training`), in loop
 * order; an empty or absent `only` keeps every stage. A selected stage keeps only its dependencies
 * that are selected too: the others are not run, and their outputs are used as they are.
 * Throws LoopSelectionError for a name that is neither a kind nor a stage of the loop.
 */
export function selectStages(stages: readonly LoopStage[], only: readonly string[] | undefined): LoopStage[] {
  if (!only || only.length === 0) return [...stages];
  const unknown = unknownSelections(stages, only);
  if (unknown.length > 0) throw new LoopSelectionError(unknown, stages.map((stage) => stage.id));
  const wanted = new Set(only);
  const selected = stages.filter((stage) => wanted.has(stage.kind) || wanted.has(stage.id));
  const ids = new Set(selected.map((stage) => stage.id));
  return selected.map((stage) => ({ ...stage, dependsOn: stage.dependsOn.filter((id) => ids.has(id)) }));
}

/** The entries of `only` that are neither a stage kind nor the id of one of `stages`. */
export function unknownSelections(stages: readonly Pick<LoopStage, 'id'>[], only: readonly string[]): string[] {
  const known = new Set<string>([...LOOP_STAGE_KINDS, ...stages.map((stage) => stage.id)]);
  return only.filter((entry) => !known.has(entry));
}

/** Every stage that depends on `id`, directly or through others, in loop order (`stages` in loop order, as planned). */
export function dependentsOf(stages: readonly LoopStage[], id: string): string[] {
  const reached = new Set([id]);
  for (const stage of stages) if (stage.dependsOn.some((dependency) => reached.has(dependency))) reached.add(stage.id);
  reached.delete(id);
  return stages.filter((stage) => reached.has(stage.id)).map((stage) => stage.id);
}

/** The feature selections of a training set: its service's, or its own. */
function selectionsOf(spec: ProjectSpec, set: TrainingSetSpec): readonly FeatureSelection[] {
  return 'service' in set.features ? spec.featureServices[set.features.service]?.features ?? [] : set.features.views;
}

/**
 * What a training set's spine is read from, beyond the warehouse: nothing for a source spine (no
 * stage produces a source); `labels:<name>` for a spine that is a labels dataset (`{ labels }`), so
 * the training set runs after that labels stage. Read structurally, so specs from before labels
 * spines existed (a plain source name) and after read alike.
 */
function spineReads(set: TrainingSetSpec): LoopResource[] {
  const spine: unknown = set.spine;
  return typeof spine === 'object' && spine !== null && 'labels' in spine && typeof spine.labels === 'string' ? [`labels:${spine.labels}`] : [];
}

const DAY_MS = 86_400_000;

/**
 * The range a loop builds of a training set, as of `asOf`: like its schedule does, the UTC day
 * `partitionLag` days before the day of `asOf` (default 1: yesterday) for day and hour partitions;
 * the month before for month partitions; everything (no range) for an unpartitioned one.
 */
export function latestPartition(set: TrainingSetSpec, asOf: string): { from?: string; to?: string } {
  const at = new Date(asOf);
  switch (set.output.partitionBy) {
    case 'none':
      return {};
    case 'month': {
      const current = partitionOf(at, 'month');
      const previous = partitionOf(new Date(Date.parse(current.start!) - 1), 'month');
      return { from: previous.start!, to: previous.end! };
    }
    case 'day':
    case 'hour': {
      const day = partitionOf(new Date(at.getTime() - (set.schedule?.partitionLag ?? 1) * DAY_MS), 'day');
      return { from: day.start!, to: day.end! };
    }
  }
}
