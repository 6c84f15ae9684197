import { formatDuration } from '../../core/duration.ts';
import type { FieldChange, PlanChange } from '../../core/plan/diff.ts';
import type { Plan } from '../../core/plan/plan.ts';
import { describeTimes, hasScheduleChanges, summarizeSchedules, type ScheduleChange, type ScheduleChangeAction, type SchedulePlan } from '../../core/plan/schedules.ts';
import type { WarehouseObjectNode } from '../../core/sql/warehouse-objects.ts';

/**
 * How `flywheel plan` and `flywheel apply` print a plan for people. Each change is one line
 * (`+` add, `~` change, `-` remove), its changed fields indented under it; a `!` in the first column
 * marks what is breaking, and the reasons follow the fields. No colours: the output is also read in CI logs.
 *
 *   Plan for project "demo" against registry version 1 (applied 2025-01-01T00:00:00.000Z).
 *
 *     + featureView user_spend
 *   ! ~ featureView merchant_risk
 *         + features.amount_7d: float64
 *       ! ~ features.amount.type: float32 → float64
 *         breaking: feature view "merchant_risk": feature "amount" changes type float32 → float64; …
 *     - source old_events
 *
 *   Plan: 1 to add, 1 to change, 1 to remove (1 breaking).
 *
 * When training sets or feature views are (or were) scheduled, the schedules on Temporal follow, one line each
 * (`+` create, `~` update with its fields, `-` delete, or unchanged):
 *
 *   Schedules on Temporal (localhost:7233, namespace "default"):
 *
 *     + schedule flywheel:demo:training-set:fraud_training: cron "0 3 * * *" UTC
 *     ~ schedule flywheel:demo:training-set:daily_labels
 *         ~ spec: every 1d → every 1d offset 3h
 *       schedule flywheel:demo:training-set:weekly (unchanged)
 *
 *   Schedules: 1 to create, 1 to update, 0 to delete, 1 unchanged.
 */
export function formatPlanText(plan: Plan, schedules?: SchedulePlan): string {
  const scheduleChanges = schedules?.changes ?? [];
  if (plan.changes.length === 0) {
    if (!hasScheduleChanges(scheduleChanges)) return `${[noChangesLine(plan), ...scheduleChanges.map(scheduleDoneLine)].join('\n')}\n`;
    const registry = plan.applied ? `The registry (version ${plan.applied.version}) matches the definitions` : 'Nothing has been applied and the definitions declare nothing';
    return `${[`${registry}; the schedules on Temporal do not.`, '', ...scheduleSection(schedules!)].join('\n')}\n`;
  }
  const against = plan.applied
    ? `registry version ${plan.applied.version} (applied ${plan.applied.appliedAt})`
    : 'an empty registry (nothing applied yet)';
  const lines = [`Plan for project "${plan.project}" against ${against}.`, '', ...plan.changes.flatMap(changeLines), '', summaryLine(plan)];
  if (schedules && scheduleChanges.length > 0) lines.push('', ...scheduleSection(schedules));
  return `${lines.join('\n')}\n`;
}

export function noChangesLine(plan: Plan): string {
  return plan.applied
    ? `No changes. The registry (version ${plan.applied.version}) matches the definitions.`
    : 'No changes. Nothing has been applied and the definitions declare nothing.';
}

export function summaryLine(plan: Plan): string {
  const { add, change, remove, breaking } = plan.summary;
  return `Plan: ${add} to add, ${change} to change, ${remove} to remove${breaking > 0 ? ` (${breaking} breaking)` : ''}.`;
}

/**
 * What apply prints after the plan: the objects it created or dropped, the schedules it changed, and
 * the new registry version (or the current one, when only schedules changed).
 */
export function formatApplyText(result: {
  saved: { version: number; hash: string } | undefined;
  current?: number | undefined;
  objects: readonly WarehouseObjectNode[];
  schedules?: readonly ScheduleChange[];
}): string {
  const registry = result.saved
    ? `Registry version ${result.saved.version} saved (hash ${result.saved.hash.slice(0, 12)}).`
    : result.current !== undefined ? `Registry version ${result.current} is current; no new version was written.` : 'No registry version was written.';
  const schedules = (result.schedules ?? []).filter((change) => change.action !== 'unchanged');
  const lines = ['', 'Applied:', ...result.objects.map((node) => `  ${describeObject(node)}`), ...schedules.map(scheduleDoneLine), registry];
  return `${lines.join('\n')}\n`;
}

export function formatNoChangesApplied(plan: Plan, schedules?: SchedulePlan): string {
  const head = plan.applied
    ? `No changes. Registry version ${plan.applied.version} is current.`
    : 'No changes. Nothing has been applied and the definitions declare nothing; no registry version was written.';
  return `${[head, ...(schedules?.changes ?? []).map(scheduleDoneLine)].join('\n')}\n`;
}

const SCHEDULE_MARK = { create: '+', update: '~', delete: '-', unchanged: ' ' } as const satisfies Record<ScheduleChangeAction, string>;
const SCHEDULE_DONE = { create: 'created', update: 'updated', delete: 'deleted', unchanged: 'unchanged' } as const satisfies Record<ScheduleChangeAction, string>;

/** The schedules part of a plan: a header naming the Temporal server, a line per schedule, a summary. */
function scheduleSection(schedules: SchedulePlan): string[] {
  const { create, update, delete: remove, unchanged } = summarizeSchedules(schedules.changes);
  return [
    `Schedules on Temporal (${schedules.temporal.address}, namespace "${schedules.temporal.namespace}"):`,
    '',
    ...schedules.changes.flatMap(scheduleLines),
    '',
    `Schedules: ${create} to create, ${update} to update, ${remove} to delete, ${unchanged} unchanged.`,
  ];
}

function scheduleLines(change: ScheduleChange): string[] {
  const head = `  ${SCHEDULE_MARK[change.action]} schedule ${change.id}`;
  switch (change.action) {
    case 'create': return [`${head}: ${describeTimes(change.desired.times)}${change.desired.paused ? ', paused' : ''}`];
    case 'update': return [head, ...change.fields.map((field) => `      ~ ${field.path}: ${field.before} → ${field.after}`)];
    case 'delete': return [head];
    case 'unchanged': return [`${head} (unchanged)`];
  }
}

/** `  schedule <id> (created)`: what apply did to a schedule, or found it needed nothing. */
function scheduleDoneLine(change: ScheduleChange): string {
  return `  schedule ${change.id} (${SCHEDULE_DONE[change.action]})`;
}

const ACTION_MARK = { add: '+', change: '~', remove: '-' } as const satisfies Record<PlanChange['action'], string>;

function changeLines(change: PlanChange): string[] {
  const head = `${change.breaking ? '!' : ' '} ${ACTION_MARK[change.action]} ${change.kind} ${change.name}`;
  const fields = change.action === 'change' ? change.fields.map(fieldLine) : [];
  const reasons = change.reasons.map((reason) => `      breaking: ${reason}`);
  return [head, ...fields, ...reasons];
}

function fieldLine(field: FieldChange): string {
  const mark = field.breaking ? '    ! ' : '      ';
  // Durations are stored in seconds; people wrote and read them as durations (`ttl: 2d → 3d`).
  const seconds = field.path.endsWith('Seconds');
  const path = seconds ? field.path.slice(0, -'Seconds'.length) : field.path;
  const show = (v: unknown) => (seconds && (typeof v === 'number' || v === null) ? (v === null ? 'none' : formatDuration(v, { weeks: false })) : formatValue(v));
  // A name added to or removed from a list of names is the last part of its path already.
  const value = (v: unknown) => (v === path.split('.').at(-1) ? '' : `: ${show(v)}`);
  if (!('before' in field)) return `${mark}+ ${path}${value(field.after)}`;
  if (!('after' in field)) return `${mark}- ${path}${value(field.before)}`;
  return `${mark}~ ${path}: ${show(field.before)} → ${show(field.after)}`;
}

const MAX_VALUE = 80;

/** A short rendering of a spec value: a column as its type, a plain word as itself, anything else as JSON. */
export function formatValue(value: unknown): string {
  let text: string;
  if (isColumn(value)) {
    text = value.type;
  } else if (typeof value === 'string' && /^[\w.:/-]+$/.test(value)) {
    text = value;
  } else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    text = `[${value.join(', ')}]`;
  } else {
    text = JSON.stringify(value) ?? String(value);
  }
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

function isColumn(value: unknown): value is { name: string; type: string } {
  return value !== null && typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string' && typeof (value as { type?: unknown }).type === 'string';
}

function describeObject(node: WarehouseObjectNode): string {
  switch (node.kind) {
    case 'createSchema': return `schema ${node.schema} (created if missing)`;
    case 'createView': return `view ${node.view} (created or replaced)`;
    case 'dropView': return `view ${node.view} (dropped)`;
    case 'createTable': return `table ${node.table} (created if missing)`;
    case 'addColumn': return `table ${node.table}: column ${node.column} ${node.type} (added, nullable)`;
    case 'alterColumnType': return `table ${node.table}: column ${node.column} ${node.from} → ${node.to} (converted)`;
    case 'dropNotNull': return `table ${node.table}: column ${node.column} (may now be null)`;
    case 'keepTable': return `table ${node.table} (kept: ${node.reason})`;
  }
}
