import type { EventStreamSpec, FeatureViewSpec, LabelsSchedule, LabelsSpec, MaterializationSchedule, ProjectSpec, ScheduleSpec, TrainingSetSchedule, TrainingSetSpec } from '../definitions/specs.ts';
import type { LoopSchedule, LoopSpec, ModelSpec } from '../definitions/specs.ts';
import type { ApplyDocument, PlanDocument } from './plan.ts';
import { formatDuration } from '../duration.ts';
import { scheduledRunIdBase, type RunIdKind } from '../run-ids.ts';
import { splitWorkloadQueues, taskQueueOf, type FlywheelWorkflowType, type TaskQueues } from '../task-queues.ts';
import { formatCronCalendar, parseCron, type CronCalendar } from '../validation/cron.ts';

/**
 * Schedules as plan sees them (a training set's builds, a feature view's materialization): the Temporal Schedules the definitions want, the ones
 * that exist (read by runtime/temporal-schedules.ts), and the diff between the two, kept apart
 * from carrying it out and from printing it (cli/format/plan-text.ts). Pure: no I/O, no Temporal.
 *
 * @example
 * const desired = desiredSchedules({ project: 'demo', spec, taskQueues: resolveTaskQueues('demo', {}) });
 * const changes = diffSchedules(desired, existing);   // existing: read from Temporal
 * changes.filter((c) => c.action !== 'unchanged');     // what apply will do
 */

/** The workflow a schedule starts (exported by workflows/scheduled-training-set.ts under this name). */
export const SCHEDULED_TRAINING_SET_WORKFLOW = 'scheduledTrainingSet' satisfies FlywheelWorkflowType;

/** The workflow a materialization schedule starts (exported by workflows/materialize.ts under this name). */
export const MATERIALIZATION_WORKFLOW = 'materializeFeatureView' satisfies FlywheelWorkflowType;

/** The workflow a labels schedule starts (exported by workflows/build-labels.ts under this name). */
export const LABELS_WORKFLOW = 'buildLabels' satisfies FlywheelWorkflowType;

/** The workflow a loop's schedule starts (exported by workflows/flywheel-loop.ts under this name). */
export const LOOP_WORKFLOW = 'flywheelLoop' satisfies FlywheelWorkflowType;

/** The workflow a stream's retention schedule starts (exported by workflows/enforce-retention.ts under this name). */
export const RETENTION_WORKFLOW = 'enforceRetention' satisfies FlywheelWorkflowType;

/** The workflow a model's batch schedule starts (exported by workflows/batch-score.ts under this name). */
export const BATCH_SCORE_WORKFLOW = 'batchScore' satisfies FlywheelWorkflowType;

/** The overlap policy of every Flywheel schedule: a run still going when the next is due makes it skip. */
export const SCHEDULE_OVERLAP = 'SKIP';

/** `flywheel:<project>:training-set:<name>`: the schedule's id, also the base of the ids of the runs it starts. */
export function trainingSetScheduleId(project: string, trainingSet: string): string {
  return `${scheduleIdPrefix(project)}${trainingSet}`;
}

/** The training set a schedule id belongs to, or undefined if it is not a training-set schedule of `project`. */
export function trainingSetOfScheduleId(project: string, id: string): string | undefined {
  const prefix = scheduleIdPrefix(project);
  return id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : undefined;
}

function scheduleIdPrefix(project: string): string {
  return `flywheel:${project}:training-set:`;
}

/** `flywheel:<project>:materialization:<view>`: the id of a feature view's materialization schedule. */
export function materializationScheduleId(project: string, featureView: string): string {
  return `${materializationIdPrefix(project)}${featureView}`;
}

/** The feature view a schedule id belongs to, or undefined if it is not a materialization schedule of `project`. */
export function featureViewOfScheduleId(project: string, id: string): string | undefined {
  const prefix = materializationIdPrefix(project);
  return id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : undefined;
}

function materializationIdPrefix(project: string): string {
  return `flywheel:${project}:materialization:`;
}

/** `flywheel:<project>:labels:<name>`: the id of a labels dataset's schedule. */
export function labelsScheduleId(project: string, labels: string): string {
  return `${labelsIdPrefix(project)}${labels}`;
}

/** The labels a schedule id belongs to, or undefined if it is not a labels schedule of `project`. */
export function labelsOfScheduleId(project: string, id: string): string | undefined {
  const prefix = labelsIdPrefix(project);
  // Builds of one partition have the id `<schedule id>/<partition>`; they are workflows, not schedules.
  return id.startsWith(prefix) && id.length > prefix.length && !id.includes('/', prefix.length) ? id.slice(prefix.length) : undefined;
}

function labelsIdPrefix(project: string): string {
  return `flywheel:${project}:labels:`;
}

/** `flywheel:<project>:loop:<name>`: the id of a loop's schedule. */
export function loopScheduleId(project: string, loop: string): string {
  return `${loopIdPrefix(project)}${loop}`;
}

/** The loop a schedule id belongs to, or undefined if it is not a loop schedule of `project`. */
export function loopOfScheduleId(project: string, id: string): string | undefined {
  const prefix = loopIdPrefix(project);
  return id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : undefined;
}

function loopIdPrefix(project: string): string {
  return `flywheel:${project}:loop:`;
}

/** `flywheel:<project>:retention:<stream>`: the id of an event stream's retention schedule. */
export function retentionScheduleId(project: string, stream: string): string {
  return `${retentionIdPrefix(project)}${stream}`;
}

/** The event stream a schedule id belongs to, or undefined if it is not a retention schedule of `project`. */
export function streamOfRetentionScheduleId(project: string, id: string): string | undefined {
  const prefix = retentionIdPrefix(project);
  return id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : undefined;
}

function retentionIdPrefix(project: string): string {
  return `flywheel:${project}:retention:`;
}

/** `flywheel:<project>:score:<model>`: the id of a model's batch-scoring schedule (docs/models.md). */
export function modelScheduleId(project: string, model: string): string {
  return `${modelIdPrefix(project)}${model}`;
}

/** The model a schedule id belongs to, or undefined if it is not a batch-scoring schedule of `project`. */
export function modelOfScheduleId(project: string, id: string): string | undefined {
  const prefix = modelIdPrefix(project);
  return id.startsWith(prefix) && id.length > prefix.length ? id.slice(prefix.length) : undefined;
}

function modelIdPrefix(project: string): string {
  return `flywheel:${project}:score:`;
}

/** What a schedule runs: a training set's builds, a feature view's materialization or a labels dataset's builds (exactly one of the names). */
export type ScheduleTarget =
  | { readonly trainingSet: string; readonly featureView?: never; readonly labels?: never }
  | { readonly featureView: string; readonly trainingSet?: never; readonly labels?: never }
  | { readonly labels: string; readonly trainingSet?: never; readonly featureView?: never }
  | { /** A flywheel loop (docs/loop.md). */ readonly loop: string; readonly trainingSet?: never; readonly featureView?: never; readonly labels?: never }
  | { /** An event stream's retention (docs/collect.md). */ readonly retention: string; readonly loop?: never; readonly trainingSet?: never; readonly featureView?: never; readonly labels?: never }
  | { /** A model's batch scoring (docs/models.md). */ readonly model: string; readonly retention?: never; readonly loop?: never; readonly trainingSet?: never; readonly featureView?: never; readonly labels?: never };

/** The target of a Flywheel schedule id of `project`, or undefined for any other id. */
export function scheduleTargetOfId(project: string, id: string): ScheduleTarget | undefined {
  const trainingSet = trainingSetOfScheduleId(project, id);
  if (trainingSet !== undefined) return { trainingSet };
  const featureView = featureViewOfScheduleId(project, id);
  if (featureView !== undefined) return { featureView };
  const labels = labelsOfScheduleId(project, id);
  if (labels !== undefined) return { labels };
  const loop = loopOfScheduleId(project, id);
  if (loop !== undefined) return { loop };
  const retention = streamOfRetentionScheduleId(project, id);
  if (retention !== undefined) return { retention };
  const model = modelOfScheduleId(project, id);
  return model !== undefined ? { model } : undefined;
}

/** When a schedule fires. Flywheel writes calendars (from a cron) and intervals; anything else is `other`. */
export type ScheduleTimes =
  | { readonly type: 'calendar'; readonly calendar: CronCalendar; /** The cron as written, when known. */ readonly cron?: string }
  | { readonly type: 'interval'; readonly everySeconds: number; readonly offsetSeconds: number }
  | { /** A spec Flywheel never writes (several calendars, a time zone, skips, start/end): always a difference. */ readonly type: 'other'; readonly description: string };

/**
 * A schedule in the terms both sides can state: what the definitions want (from the spec and the
 * profile's task queue) and what Temporal describes. Its target is a training set or a feature view.
 */
export type ScheduleState = ScheduleTarget & ScheduleStateFields;

interface ScheduleStateFields {
  readonly id: string;
  readonly times: ScheduleTimes;
  readonly paused: boolean;
  readonly overlap: string;
  readonly catchupWindowSeconds: number;
  /** Search attributes on the schedule itself (how plan lists a project's schedules). */
  readonly searchAttributes: Readonly<Record<string, string>>;
  readonly action: {
    readonly workflowType: string;
    /** The base of the started runs' ids, `<project>/<kind>/<object>/scheduled` (Temporal appends `-<scheduled time>`). */
    readonly workflowId: string;
    readonly taskQueue: string;
    /** The workflow's single argument. */
    readonly input: unknown;
    readonly searchAttributes: Readonly<Record<string, string>>;
  };
}

/** The training sets of a project that declare a schedule, by name. */
export function scheduledTrainingSets(spec: ProjectSpec | undefined): (TrainingSetSpec & { readonly schedule: TrainingSetSchedule })[] {
  return Object.values(spec?.trainingSets ?? {})
    .filter((set): set is TrainingSetSpec & { readonly schedule: TrainingSetSchedule } => set.schedule !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The online feature views of a project that declare a materialization schedule, by name. */
export function scheduledFeatureViews(spec: ProjectSpec | undefined): (FeatureViewSpec & { readonly materialize: MaterializationSchedule })[] {
  return Object.values(spec?.featureViews ?? {})
    .filter((view): view is FeatureViewSpec & { readonly materialize: MaterializationSchedule } => view.materialize !== undefined && view.online)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The labels of a project that declare a schedule, by name. */
export function scheduledLabels(spec: ProjectSpec | undefined): (LabelsSpec & { readonly schedule: LabelsSchedule })[] {
  return Object.values(spec?.labels ?? {})
    .filter((labels): labels is LabelsSpec & { readonly schedule: LabelsSchedule } => labels.schedule !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The loops of a project that declare a schedule, by name. */
export function scheduledLoops(spec: ProjectSpec | undefined): (LoopSpec & { readonly schedule: LoopSchedule })[] {
  // Specs applied before loops existed have none.
  return Object.values(spec?.loops ?? {})
    .filter((loop): loop is LoopSpec & { readonly schedule: LoopSchedule } => loop.schedule !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The event streams of a project (decision streams included) that declare a retention schedule, by name. */
export function scheduledRetentions(spec: ProjectSpec | undefined): (EventStreamSpec & { readonly retentionSchedule: ScheduleSpec })[] {
  return Object.values(spec?.eventStreams ?? {})
    .filter((stream): stream is EventStreamSpec & { readonly retentionSchedule: ScheduleSpec } => stream.retentionSchedule !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The models of a project whose batch scoring declares a schedule, by name. */
export function scheduledModels(spec: ProjectSpec | undefined): (ModelSpec & { readonly batch: NonNullable<ModelSpec['batch']> & { readonly schedule: ScheduleSpec } })[] {
  // Specs applied before models existed have none.
  return Object.values(spec?.models ?? {})
    .filter((model): model is ModelSpec & { readonly batch: NonNullable<ModelSpec['batch']> & { readonly schedule: ScheduleSpec } } => model.batch?.schedule !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Whether plan must ask Temporal about schedules: when the definitions declare one, or the applied
 * registry version did (its schedule may still exist and need deleting). Apply deletes schedules
 * before it saves a registry version and creates them after, so a Flywheel schedule on Temporal
 * always belongs to a training set or feature view scheduled in the latest applied version; a
 * project that declares none and applied none needs no Temporal at all.
 */
export function schedulesInvolved(applied: ProjectSpec | undefined, desired: ProjectSpec): boolean {
  return [desired, applied].some((spec) => scheduledTrainingSets(spec).length > 0 || scheduledFeatureViews(spec).length > 0 || scheduledLabels(spec).length > 0 || scheduledLoops(spec).length > 0 || scheduledRetentions(spec).length > 0 || scheduledModels(spec).length > 0);
}

/** The ids to describe on Temporal for certain, whatever listing (eventually consistent) returns. */
export function knownScheduleIds(project: string, applied: ProjectSpec | undefined, desired: ProjectSpec): string[] {
  const ids = [desired, applied].flatMap((spec) => [
    ...scheduledTrainingSets(spec).map((set) => trainingSetScheduleId(project, set.name)),
    ...scheduledFeatureViews(spec).map((view) => materializationScheduleId(project, view.name)),
    ...scheduledLabels(spec).map((labels) => labelsScheduleId(project, labels.name)),
    ...scheduledLoops(spec).map((loop) => loopScheduleId(project, loop.name)),
    ...scheduledRetentions(spec).map((stream) => retentionScheduleId(project, stream.name)),
    ...scheduledModels(spec).map((model) => modelScheduleId(project, model.name)),
  ]);
  return [...new Set(ids)].sort();
}

/**
 * The schedules the definitions want: one per scheduled training set, then one per feature view
 * with a materialization schedule, one per scheduled labels dataset and one per scheduled loop,
 * each kind in name order.
 */
export function desiredSchedules(args: { project: string; spec: ProjectSpec; taskQueues: TaskQueues }): ScheduleState[] {
  const { project } = args;
  // Each run starts on its workload's queue (core/task-queues.ts); a loop's stages on theirs, named in its input when split.
  const stageQueues = splitWorkloadQueues(args.taskQueues);
  const state = (target: ScheduleTarget, object: string, kind: string, schedule: ScheduleSpec, workflowType: FlywheelWorkflowType, input: Record<string, unknown>): ScheduleState => {
    const id = scheduleIdOf(project, target);
    const searchAttributes = { FlywheelProject: project, FlywheelKind: kind, FlywheelObject: object };
    return {
      id,
      ...target,
      times: scheduleTimes(schedule),
      paused: schedule.paused,
      overlap: SCHEDULE_OVERLAP,
      catchupWindowSeconds: schedule.catchupWindowSeconds,
      searchAttributes,
      // Runs read `<project>/<kind>/<object>/scheduled-<time>` in the UI, like every run (core/run-ids.ts).
      action: { workflowType, workflowId: scheduledRunIdBase(project, RUN_ID_KIND[kind] ?? 'training-set', object), taskQueue: taskQueueOf(args.taskQueues, workflowType), input: { project, ...input }, searchAttributes },
    };
  };
  return [
    ...scheduledTrainingSets(args.spec).map((set) =>
      state({ trainingSet: set.name }, set.name, 'training-set', set.schedule, SCHEDULED_TRAINING_SET_WORKFLOW, { trainingSet: set.name, partitionLag: set.schedule.partitionLag }),
    ),
    // A run reads its lookback and chunks from the registry, so the schedule only names the view.
    ...scheduledFeatureViews(args.spec).map((view) => state({ featureView: view.name }, view.name, 'materialization', view.materialize, MATERIALIZATION_WORKFLOW, { view: view.name })),
    // Each run builds every partition that is due as of the time it was scheduled for; the schedule only names the labels.
    ...scheduledLabels(args.spec).map((labels) => state({ labels: labels.name }, labels.name, 'labels', labels.schedule, LABELS_WORKFLOW, { labels: labels.name })),
    // A run reads the loop's stages and concurrency from the registry, so the schedule only names the loop.
    ...scheduledLoops(args.spec).map((loop) => state({ loop: loop.name }, loop.name, 'loop', loop.schedule, LOOP_WORKFLOW, { loop: loop.name, ...(stageQueues ? { taskQueues: stageQueues } : {}) })),
    // A run reads the stream's retention from the registry and deletes as of the time it was scheduled for.
    ...scheduledRetentions(args.spec).map((stream) => state({ retention: stream.name }, stream.name, 'retention', stream.retentionSchedule, RETENTION_WORKFLOW, { stream: stream.name })),
    // A run scores the model's batch spine with the version promoted when it starts, as of when it starts.
    ...scheduledModels(args.spec).map((model) => state({ model: model.name }, model.name, 'score', model.batch.schedule, BATCH_SCORE_WORKFLOW, { model: model.name })),
  ];
}

/** The run-id kind (core/run-ids.ts) of each schedule kind. */
const RUN_ID_KIND: Readonly<Record<string, RunIdKind>> = { 'training-set': 'training-set', materialization: 'materialize', labels: 'labels', loop: 'loop', retention: 'retention', score: 'score' };

/** The id of the schedule of a target. */
function scheduleIdOf(project: string, target: ScheduleTarget): string {
  if (target.trainingSet !== undefined) return trainingSetScheduleId(project, target.trainingSet);
  if (target.featureView !== undefined) return materializationScheduleId(project, target.featureView);
  if (target.labels !== undefined) return labelsScheduleId(project, target.labels);
  if (target.loop !== undefined) return loopScheduleId(project, target.loop);
  if ('model' in target && target.model !== undefined) return modelScheduleId(project, target.model);
  return retentionScheduleId(project, target.retention!);
}

/** When a schedule fires. */
export function scheduleTimes(schedule: Pick<ScheduleSpec, 'cron' | 'everySeconds' | 'offsetSeconds'>): ScheduleTimes {
  if (schedule.cron !== undefined) {
    const parsed = parseCron(schedule.cron);
    // Validation accepted the cron, so it parses; a spec from elsewhere that does not is reported, not applied.
    if ('error' in parsed) return { type: 'other', description: `cron ${JSON.stringify(schedule.cron)} (${parsed.error})` };
    return { type: 'calendar', calendar: parsed.calendar, cron: schedule.cron };
  }
  return { type: 'interval', everySeconds: schedule.everySeconds ?? 0, offsetSeconds: schedule.offsetSeconds ?? 0 };
}

// ---------------------------------------------------------------------------------------------
// Diff

export type ScheduleChangeAction = 'create' | 'update' | 'delete' | 'unchanged';

/** One difference of an existing schedule from the desired one, as short display strings. */
export interface ScheduleFieldChange {
  /** `spec`, `paused`, `catchupWindow`, `overlap`, `action.input.partitionLag`, `searchAttributes.FlywheelObject`, … */
  readonly path: string;
  readonly before: string;
  readonly after: string;
}

export type ScheduleChange = ScheduleTarget & (
  | { readonly action: 'create'; readonly id: string; readonly desired: ScheduleState }
  | { readonly action: 'update'; readonly id: string; readonly desired: ScheduleState; readonly existing: ScheduleState; readonly fields: readonly ScheduleFieldChange[] }
  | { readonly action: 'delete'; readonly id: string; readonly existing: ScheduleState }
  | { readonly action: 'unchanged'; readonly id: string; readonly desired: ScheduleState }
);

/** The target of a schedule, alone (a training set's name, a feature view's or a labels dataset's). */
export function targetOf(state: ScheduleTarget): ScheduleTarget {
  if ('loop' in state && state.loop !== undefined) return { loop: state.loop };
  if ('retention' in state && state.retention !== undefined) return { retention: state.retention };
  if ('model' in state && state.model !== undefined) return { model: state.model };
  if (state.trainingSet !== undefined) return { trainingSet: state.trainingSet };
  return state.featureView !== undefined ? { featureView: state.featureView } : { labels: state.labels! };
}

/** The schedule part of a plan: where the schedules live, and what to do to each. */
export interface SchedulePlan {
  readonly temporal: { readonly address: string; readonly namespace: string };
  readonly changes: readonly ScheduleChange[];
}

export interface ScheduleSummary {
  readonly create: number;
  readonly update: number;
  readonly delete: number;
  readonly unchanged: number;
}

/**
 * What to do to each schedule, by id: create the desired ones that do not exist, update those that
 * differ (listing how), delete existing ones no longer desired, leave the rest. `existing` holds only
 * Flywheel schedules of the project.
 */
export function diffSchedules(desired: readonly ScheduleState[], existing: readonly ScheduleState[]): ScheduleChange[] {
  const before = new Map(existing.map((state) => [state.id, state]));
  const after = new Map(desired.map((state) => [state.id, state]));
  const ids = [...new Set([...before.keys(), ...after.keys()])].sort();
  return ids.map((id): ScheduleChange => {
    const old = before.get(id);
    const now = after.get(id);
    if (now && !old) return { action: 'create', id, ...targetOf(now), desired: now };
    if (old && !now) return { action: 'delete', id, ...targetOf(old), existing: old };
    const fields = compareSchedules(old!, now!);
    return fields.length === 0
      ? { action: 'unchanged', id, ...targetOf(now!), desired: now! }
      : { action: 'update', id, ...targetOf(now!), desired: now!, existing: old!, fields };
  });
}

export function summarizeSchedules(changes: readonly ScheduleChange[]): ScheduleSummary {
  const count = (action: ScheduleChangeAction) => changes.filter((change) => change.action === action).length;
  return { create: count('create'), update: count('update'), delete: count('delete'), unchanged: count('unchanged') };
}

export function hasScheduleChanges(changes: readonly ScheduleChange[]): boolean {
  return changes.some((change) => change.action !== 'unchanged');
}

function compareSchedules(old: ScheduleState, now: ScheduleState): ScheduleFieldChange[] {
  const fields: ScheduleFieldChange[] = [];
  const check = (path: string, same: boolean, before: string, after: string) => {
    if (!same) fields.push({ path, before, after });
  };
  check('spec', sameTimes(old.times, now.times), describeTimes(old.times), describeTimes(now.times));
  check('paused', old.paused === now.paused, String(old.paused), String(now.paused));
  check('overlap', old.overlap === now.overlap, old.overlap, now.overlap);
  check('catchupWindow', old.catchupWindowSeconds === now.catchupWindowSeconds, formatDuration(old.catchupWindowSeconds), formatDuration(now.catchupWindowSeconds));
  fields.push(...compareRecords('searchAttributes', old.searchAttributes, now.searchAttributes));
  check('action.workflowType', old.action.workflowType === now.action.workflowType, old.action.workflowType, now.action.workflowType);
  check('action.workflowId', old.action.workflowId === now.action.workflowId, old.action.workflowId, now.action.workflowId);
  check('action.taskQueue', old.action.taskQueue === now.action.taskQueue, old.action.taskQueue, now.action.taskQueue);
  if (isRecord(old.action.input) && isRecord(now.action.input)) fields.push(...compareRecords('action.input', old.action.input, now.action.input));
  else check('action.input', jsonEqual(old.action.input, now.action.input), JSON.stringify(old.action.input) ?? 'none', JSON.stringify(now.action.input) ?? 'none');
  fields.push(...compareRecords('action.searchAttributes', old.action.searchAttributes, now.action.searchAttributes));
  return fields;
}

function compareRecords(path: string, before: Readonly<Record<string, unknown>>, after: Readonly<Record<string, unknown>>): ScheduleFieldChange[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys
    .filter((key) => !jsonEqual(before[key], after[key]))
    .map((key) => ({ path: `${path}.${key}`, before: displayValue(before[key]), after: displayValue(after[key]) }));
}

function displayValue(value: unknown): string {
  return value === undefined ? 'none' : typeof value === 'string' ? value : JSON.stringify(value);
}

function sameTimes(a: ScheduleTimes, b: ScheduleTimes): boolean {
  if (a.type === 'calendar' && b.type === 'calendar') return jsonEqual(a.calendar, b.calendar);
  if (a.type === 'interval' && b.type === 'interval') return a.everySeconds === b.everySeconds && a.offsetSeconds === b.offsetSeconds;
  return false;
}

/** `cron "0 3 * * *" UTC`, `every 1d offset 3h`: how plan shows when a schedule fires. */
export function describeTimes(times: ScheduleTimes): string {
  switch (times.type) {
    case 'calendar': return `cron "${times.cron ?? formatCronCalendar(times.calendar)}" UTC`;
    case 'interval': return `every ${formatDuration(times.everySeconds)}${times.offsetSeconds > 0 ? ` offset ${formatDuration(times.offsetSeconds)}` : ''}`;
    case 'other': return times.description;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Equality of JSON values (key order ignored). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((key) => jsonEqual(a[key], b[key]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// JSON form

/** One schedule in the `schedules` list of `flywheel plan --json` and `flywheel apply --json`. */
export type ScheduleDocumentEntry = ScheduleTarget & {
  readonly action: ScheduleChangeAction;
  readonly id: string;
  /** When the desired schedule fires (absent for a delete): `cron "0 3 * * *" UTC`, `every 1d`. */
  readonly spec?: string;
  /** Present for action "update" only. */
  readonly fields?: readonly ScheduleFieldChange[];
};

/** The `schedules` of a plan document: each with `trainingSet` or `featureView`, whichever it runs. */
export function toScheduleDocument(changes: readonly ScheduleChange[]): ScheduleDocumentEntry[] {
  return changes.map((change) => ({
    action: change.action,
    id: change.id,
    ...targetOf(change),
    ...(change.action !== 'delete' ? { spec: describeTimes(change.desired.times) } : {}),
    ...(change.action === 'update' ? { fields: change.fields.map((f) => ({ path: f.path, before: f.before, after: f.after })) } : {}),
  }));
}

/**
 * A plan document with its `schedules` (empty when Temporal was not consulted: nothing is or was
 * scheduled); `hasChanges` also counts schedules to create, update or delete.
 */
export interface PlanDocumentWithSchedules extends PlanDocument {
  readonly schedules: readonly ScheduleDocumentEntry[];
}

/**
 * What `flywheel apply --json` prints. `result` is null when no registry version was written, even
 * if schedules were changed; every schedule change listed was carried out.
 */
export type ApplyDocumentWithSchedules = PlanDocumentWithSchedules & Pick<ApplyDocument, 'result'>;

export function planDocumentWithSchedules(document: PlanDocument, schedules: SchedulePlan | undefined): PlanDocumentWithSchedules {
  const changes = schedules?.changes ?? [];
  return { ...document, hasChanges: document.hasChanges || hasScheduleChanges(changes), schedules: toScheduleDocument(changes) };
}
