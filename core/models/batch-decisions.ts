import { createHash } from 'node:crypto';
import type { EventStreamSpec, ProjectSpec } from '../definitions/specs.ts';
import { BATCH_COLUMN, EVENT_ID_COLUMN, eventStreamTableColumns, RECEIVED_AT_COLUMN } from '../sql/warehouse-objects.ts';
import type { ResolvedBatchScoring } from './batch-scoring.ts';

/**
 * Batch predictions logged as decisions (docs/models.md, "Logged as decisions"): one row per scored
 * spine row in the model's service's decision stream, as `POST /v1/decide` logs one, so outcomes
 * that follow become labels like any other. Logged through the log path: each chunk's decisions are a
 * sealed segment of the stream under node `batch-<model>` (batchDecisionRecords), loaded by the
 * ingest workflow, whose dedupe on `_event_id` keeps a chunk done again (or a re-run) from storing a
 * decision twice.
 *
 *   decision_id      `score:<model>:<version>:<as_of>:<spine row>`, or for a spine scored at each row's own
 *                    time `score:<model>:<version>:spine=<spine>:<row's as_of>:<spine row>` (row_index 0)
 *   served_at        as_of (the run's instant, or a spine row's own time)
 *   <feature>        the value computed point in time; `<feature>__status` present or missing
 *   <view>__event_time  null (the join does not carry it)
 *   context          JSON: {"batch_run": <run id>, "spine": <source>, <request inputs>}
 *   model_name, model_version, model_score  when the stream has them (a service a model reads)
 */

export function batchDecisionStream(project: ProjectSpec, resolved: ResolvedBatchScoring): EventStreamSpec | undefined {
  const stream = project.featureServices[resolved.model.service]?.logging?.stream;
  return stream === undefined ? undefined : project.eventStreams[stream];
}

/**
 * What a run's decisions are named by: its as-of instant, or (a spine scored at each row's own time)
 * `spine=<source or file>`, so a re-run of the same spine and version logs the same ids.
 */
export function batchScope(plan: { readonly asOf: string | null; readonly spine: string }): string {
  return plan.asOf ?? `spine=${plan.spine}`;
}

const batchPrefix = (model: string, version: string, scope: string) => `score:${model}:${version}:${scope}:`;

/**
 * As of an instant: `score:<model>:<version>:<as_of>:<spine row>`; each row at its own time:
 * `score:<model>:<version>:spine=<spine>:<the row's as_of>:<spine row>`. Stable for a run's row, so a
 * chunk done again writes the same ids; different spines scored at one instant never share one.
 */
export function batchDecisionId(plan: { readonly model: string; readonly version: string; readonly asOf: string | null; readonly spine: string }, rowAsOfText: string, spineRow: number): string {
  return `${batchPrefix(plan.model, plan.version, batchScope(plan))}${plan.asOf === null ? `${rowAsOfText}:` : ''}${spineRow}`;
}

/** The node id a model's batch decisions are logged under, beside the log API nodes' (`batch-<model>`). */
export function batchDecisionNode(model: string): string {
  return `batch-${model}`.slice(0, 64);
}

/**
 * A chunk's segment id: `<16 hex of the SHA-256 of (run, model, version, scope, chunk size)>-<chunk, 6
 * digits>`. The same for a chunk done again in its run (so a retry writes the same segment, which the
 * ingest ledger then skips), different for another version, scope or chunking under the same run id.
 */
export function batchDecisionSegmentId(plan: { readonly model: string; readonly version: string; readonly asOf: string | null; readonly spine: string; readonly chunkSize: number }, runId: string, chunk: number): string {
  const run = createHash('sha256').update(JSON.stringify([runId, plan.model, plan.version, batchScope(plan), plan.chunkSize])).digest('hex').slice(0, 16);
  return `${run}-${String(chunk).padStart(6, '0')}`;
}

export interface BatchDecisionRows {
  readonly plan: { readonly model: string; readonly version: string; readonly asOf: string | null; readonly spine: string };
  readonly resolved: ResolvedBatchScoring;
  readonly runId?: string;
  /** The chunk's rows as read from the scoring table (keys, request columns, features, spine_row). */
  readonly rows: readonly Readonly<Record<string, unknown>>[];
  readonly scores: Float64Array;
  /** Every record's `_received_at`: fixed for the run (its start), so a chunk done again logs the same bytes. */
  readonly receivedAt: string;
}

const FIXED: Readonly<Record<string, (row: Readonly<Record<string, unknown>>, i: number, input: BatchDecisionRows) => unknown>> = {
  decision_id: (row, _i, { plan }) => batchDecisionId(plan, rowAsOf(row), Number(row['spine_row'])),
  row_index: () => 0,
  model_name: (_row, _i, { plan }) => plan.model,
  model_version: (_row, _i, { plan }) => plan.version,
  model_score: (_row, i, { scores }) => scores[i],
  context: (row, _i, { plan, resolved, runId }) =>
    JSON.stringify({ batch_run: runId ?? null, spine: plan.spine, ...Object.fromEntries(resolved.requestColumns.map((c) => [c, row[c] ?? null])) }),
};

/** A chunk row's time (its `as_of`, the run's instant or the spine row's own), as an ISO instant. */
export function rowAsOf(row: Readonly<Record<string, unknown>>): string {
  return new Date(row['as_of'] as string | Date).toISOString();
}

/**
 * The chunk's decisions as the log API would log them: one JSON object per row with the stream's
 * columns (`_event_id` `<decision_id>:0`, `_received_at`; `_batch` is the ingest's), the payloads of
 * the chunk's sealed segment.
 */
export function batchDecisionRecords(stream: EventStreamSpec, input: BatchDecisionRows): string[] {
  const columns = eventStreamTableColumns(stream).filter((c) => c.name !== BATCH_COLUMN);
  const valueOf = (column: (typeof columns)[number], row: Readonly<Record<string, unknown>>, i: number): unknown => {
    if (column.name === EVENT_ID_COLUMN) return `${FIXED['decision_id']!(row, i, input) as string}:0`;
    if (column.name === RECEIVED_AT_COLUMN) return input.receivedAt;
    if (column.name === stream.timestampField) return rowAsOf(row);
    const fixed = FIXED[column.name];
    if (fixed) return fixed(row, i, input);
    if (column.name.endsWith('__status')) {
      const feature = column.name.slice(0, -'__status'.length);
      return row[feature] === null || row[feature] === undefined ? 'missing' : 'present';
    }
    return jsonValue(row[column.name] ?? null, column.type);
  };
  return input.rows.map((row, i) => JSON.stringify(Object.fromEntries(columns.map((c) => [c.name, valueOf(c, row, i)]))));
}

/** A warehouse value as the log API's JSON carries it: instants as ISO text, 64-bit integers as numbers (as text past 2^53). */
function jsonValue(value: unknown, type: string): unknown {
  if (value === null) return null;
  if (type === 'timestamp') return new Date(value as string | Date).toISOString();
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}
