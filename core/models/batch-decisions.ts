import type { EventStreamSpec, ProjectSpec } from '../definitions/specs.ts';
import type { CompiledQuery } from '../sql/compiled-query.ts';
import type { Dialect } from '../sql/dialect.ts';
import { BATCH_COLUMN, EVENT_ID_COLUMN, eventStreamTableColumns, eventStreamTableName, RECEIVED_AT_COLUMN } from '../sql/warehouse-objects.ts';
import type { ResolvedBatchScoring } from './batch-scoring.ts';

/**
 * Batch predictions logged as decisions (docs/models.md, "Logged as decisions"): one row per scored
 * spine row in the model's service's decision stream, as `POST /v1/decide` logs one, so outcomes
 * that follow become labels like any other. Written straight into the stream's table in the same
 * transaction as the chunk's predictions; `_batch` names the run's chunk, so a retried chunk replaces
 * its rows and a re-run of the same (model, version, as_of) replaces the run's.
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
 * What a run's decisions are replaced by: its as-of instant, or (a spine scored at each row's own
 * time) `spine=<source or file>`, so a re-run of the same spine and version replaces them.
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

/** Deletes every decision a run of (model, version, scope) logged. */
export function clearBatchDecisions(stream: EventStreamSpec, model: string, version: string, scope: string, dialect: Dialect): CompiledQuery {
  // A prefix compared with substr, not LIKE: names hold `_`, and the engines escape LIKE differently.
  const prefix = batchPrefix(model, version, scope);
  return {
    sql: `DELETE FROM ${dialect.qualified(eventStreamTableName(stream.name))} WHERE substr(${dialect.identifier(BATCH_COLUMN)}, 1, ${prefix.length}) = ?`,
    parameters: [prefix],
  };
}

export interface BatchDecisionRows {
  readonly plan: { readonly model: string; readonly version: string; readonly asOf: string | null; readonly spine: string };
  readonly resolved: ResolvedBatchScoring;
  readonly runId?: string;
  /** The chunk's rows as read from the scoring table (keys, request columns, features, spine_row). */
  readonly rows: readonly Readonly<Record<string, unknown>>[];
  readonly scores: Float64Array;
  readonly chunk: number;
  readonly scoredAt: string;
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

/** Statements that delete the chunk's earlier rows and insert its decisions. */
export function logBatchDecisions(stream: EventStreamSpec, input: BatchDecisionRows, dialect: Dialect): CompiledQuery[] {
  const table = dialect.qualified(eventStreamTableName(stream.name));
  const batch = `${batchPrefix(input.plan.model, input.plan.version, batchScope(input.plan))}${input.chunk}`;
  const columns = eventStreamTableColumns(stream);
  const valueOf = (column: (typeof columns)[number], row: Readonly<Record<string, unknown>>, i: number): unknown => {
    if (column.name === EVENT_ID_COLUMN) return `${FIXED['decision_id']!(row, i, input) as string}:0`;
    if (column.name === BATCH_COLUMN) return batch;
    if (column.name === RECEIVED_AT_COLUMN) return input.scoredAt;
    if (column.name === stream.timestampField) return rowAsOf(row);
    const fixed = FIXED[column.name];
    if (fixed) return fixed(row, i, input);
    if (column.name.endsWith('__status')) {
      const feature = column.name.slice(0, -'__status'.length);
      return row[feature] === null || row[feature] === undefined ? 'missing' : 'present';
    }
    return row[column.name] ?? null;
  };
  const placeholders = columns.map((c) => (c.type === 'timestamp' ? dialect.asInstant('?') : c.type === 'string' ? '?' : `CAST(? AS ${dialect.columnType(c.type)})`)).join(', ');
  const statements: CompiledQuery[] = [{ sql: `DELETE FROM ${table} WHERE ${dialect.identifier(BATCH_COLUMN)} = ?`, parameters: [batch] }];
  const INSERT_ROWS = 500;
  for (let start = 0; start < input.rows.length; start += INSERT_ROWS) {
    const slice = input.rows.slice(start, start + INSERT_ROWS);
    statements.push({
      sql: `INSERT INTO ${table} (${columns.map((c) => dialect.identifier(c.name)).join(', ')}) SELECT ${placeholders}${slice.length > 1 ? ` UNION ALL SELECT ${placeholders}`.repeat(slice.length - 1) : ''}`,
      parameters: slice.flatMap((row, j) => columns.map((c) => valueOf(c, row, start + j))),
    });
  }
  return statements;
}
