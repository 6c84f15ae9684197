import type { ColumnSpec, LabelValue } from '../definitions/specs.ts';
import { checkedAggregate, isRangeChecked, type OverflowContext } from '../aggregations/overflow.ts';
import { formatDuration } from '../duration.ts';
import { earliestInstant, instantPlusSeconds, latestInstant } from '../instant.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import { BATCH_COLUMN, EVENT_ID_COLUMN, RECEIVED_AT_COLUMN, ingestLedgerTableName } from './warehouse-objects.ts';

/**
 * The SQL of labels (docs/labels.md): decisions joined with the outcomes that followed them, one
 * statement per partition of decision time, compiled from a typed model per dialect. Pure.
 *
 * Semantics, for a decision at time d with window w, as of T:
 * - it is labeled when d + w <= T (mature); otherwise it is left out, never labeled 0;
 * - an outcome at time t counts for it when every pair of match columns is equal (null never is) and
 *   d <= t <= d + w (both edges in); with attribution `last`, only for the latest decision of its
 *   keys at or before t (every decision tied at that time);
 * - only rows loaded at or before the watermarks count, so a build is repeatable, and rows loaded
 *   later are found by compileLateEvents.
 *
 * One pass: an equi-join on the match columns with the two time bounds as join conditions, grouped
 * per decision; no loop over decisions.
 *
 * @example
 * const query = compileLabelRows(resolved.join, { from, to, asOf, watermarks }, engine.dialect);
 * await engine.exportParquet(query, file);
 */

/** A stream read by labels: its table, its name in the ingest ledger, its time, and how its load time is known. */
export interface LabelStream {
  readonly relation: string;
  readonly stream: string;
  readonly timestampField: string;
  /**
   * When each row was stored: `ledger`, the ingest ledger's `loaded_at` of the row's batch (pushed
   * streams, loaded by segment; `_received_at` for a row of no batch in the ledger); `receivedAt`, the
   * row's `_received_at` (streams loaded from a table, whose rows carry the time of their load).
   */
  readonly loadTime: 'ledger' | 'receivedAt';
}

/** A decision-stream column of the output: its output name, and its column in the stream table. */
export interface LabelOutputColumn extends ColumnSpec {
  readonly from: string;
}

export interface LabelJoin {
  /** The labels definition's name, for messages. */
  readonly labels: string;
  readonly decisions: LabelStream & {
    /** Identifies each decision row (decision_id and row_index, an id field, or `_event_id`). */
    readonly identity: readonly LabelOutputColumn[];
    readonly keys: readonly LabelOutputColumn[];
  };
  readonly outcomes: LabelStream & { /** The field the value aggregates. */ readonly valueField?: string };
  /** [decision column, outcome column] pairs that must all be equal. */
  readonly pairs: readonly (readonly [string, string])[];
  readonly attribution: 'all' | 'last';
  readonly windowSeconds: number;
  readonly value: LabelValue;
  /** The output column of the label, with its type. */
  readonly label: ColumnSpec;
}

/** One build: the decisions with `from <= d < to`, as of `asOf`, reading rows loaded up to the watermarks. */
export interface LabelRun {
  readonly from: string;
  readonly to: string;
  readonly asOf: string;
  /** The latest load time of each stream when the run was planned (null: nothing loaded yet). */
  readonly watermarks: { readonly decisions: string | null; readonly outcomes: string | null };
}

const DECISIONS = '__fw_decisions';
const OUTCOMES = '__fw_outcomes';
const MATCHED = '__fw_matched';
const RANKED = '__fw_ranked';
const ID = '__fw_id';
const TS = '__fw_ts';
const SINCE = '__fw_since';
const VALUE = '__fw_value';
const DECISION = '__fw_decision';
const OUTCOME = '__fw_outcome';
const LABELED = '__fw_labeled';
const RANK = '__fw_rank';
const LOADED = '__fw_loaded';
const matchColumn = (i: number) => `__fw_m${i}`;

/** The output columns that every labels dataset has after the label. */
const OUTCOME_COUNT = 'outcome_count';
const FIRST_OUTCOME_AT = 'first_outcome_at';
const LABELED_AT = 'labeled_at';

/**
 * The label rows of the decisions in [run.from, run.to) that are mature as of run.asOf, ordered by
 * decision time then event id: the identity columns, the keys, the decision time, `label`,
 * `outcome_count`, `first_outcome_at` and `labeled_at` (docs/labels.md).
 */
export function compileLabelRows(join: LabelJoin, run: LabelRun, dialect: Dialect): CompiledQuery {
  const id = dialect.identifier;
  const params = placeholders();
  const bindValue = params.bind;
  const bind = (value: unknown) => dialect.asInstant(params.bind(value));
  const w = join.windowSeconds;
  const last = join.attribution === 'last';
  const at = (alias: string, column: string) => `${alias}.${id(column)}`;
  const time = (alias: string, stream: LabelStream) => dialect.asInstant(at(alias, stream.timestampField));

  // Decisions: those labeled, and with attribution `last` also the later ones that may take their outcomes.
  const d = join.decisions;
  const dLoaded = loadedSql('d', d, dialect, bindValue);
  const dTime = time('d', d);
  const decisionColumns = [
    `${at('d', EVENT_ID_COLUMN)} AS ${id(ID)}`,
    ...[...d.identity, ...d.keys].map((c) => `${at('d', c.from)} AS ${id(c.name)}`),
    `${dTime} AS ${id(TS)}`,
    ...join.pairs.map(([column], i) => `${at('d', column)} AS ${id(matchColumn(i))}`),
  ];
  const maturity = instantPlusSeconds(run.asOf, -w);
  const decisionFilters: string[] = [`${dTime} >= ${bind(run.from)}`];
  if (last) {
    // A decision up to `to + w` can be the latest before an outcome of a labeled decision's window.
    decisionFilters.push(`${dTime} <= ${bind(instantPlusSeconds(run.to, w))}`);
    decisionColumns.push(`(${dTime} < ${bind(run.to)} AND ${dTime} <= ${bind(maturity)}) AS ${id(LABELED)}`);
  } else {
    decisionFilters.push(`${dTime} < ${bind(run.to)}`, `${dTime} <= ${bind(maturity)}`);
  }
  decisionFilters.push(`${dLoaded.expression} <= ${bind(run.watermarks.decisions)}`);
  const decisionsCte = `${id(DECISIONS)} AS (\n  SELECT ${decisionColumns.join(', ')}\n  FROM ${dialect.qualified(d.relation)} AS d${dLoaded.join('\n  ')}\n  WHERE ${decisionFilters.join(' AND ')}\n)`;

  // Outcomes that can fall in a window: from the first decision time to the last one plus w.
  const o = join.outcomes;
  const oLoaded = loadedSql('o', o, dialect, bindValue);
  const oTime = time('o', o);
  const outcomeColumns = [
    `${at('o', EVENT_ID_COLUMN)} AS ${id(ID)}`,
    `${oTime} AS ${id(TS)}`,
    `${dialect.minusSeconds(oTime, w)} AS ${id(SINCE)}`,
    ...join.pairs.map(([, column], i) => `${at('o', column)} AS ${id(matchColumn(i))}`),
    ...(o.valueField !== undefined ? [`${at('o', o.valueField)} AS ${id(VALUE)}`] : []),
  ];
  const outcomeFilters = [
    `${oTime} >= ${bind(run.from)}`,
    `${oTime} <= ${bind(instantPlusSeconds(run.to, w))}`,
    `${oLoaded.expression} <= ${bind(run.watermarks.outcomes)}`,
    ...join.pairs.map(([, column]) => `${at('o', column)} IS NOT NULL`),
  ];
  const outcomesCte = `${id(OUTCOMES)} AS (\n  SELECT ${outcomeColumns.join(', ')}\n  FROM ${dialect.qualified(o.relation)} AS o${oLoaded.join('\n  ')}\n  WHERE ${outcomeFilters.join(' AND ')}\n)`;

  // Each outcome with the decisions whose window holds it: equal match columns, d <= t <= d + w.
  const on = [
    ...join.pairs.map((_, i) => `${at('d', matchColumn(i))} = ${at('o', matchColumn(i))}`),
    `${at('o', TS)} >= ${at('d', TS)}`,
    `${at('o', SINCE)} <= ${at('d', TS)}`,
  ];
  const matchedCte =
    `${id(MATCHED)} AS (\n  SELECT ${at('d', ID)} AS ${id(DECISION)}, ${at('o', ID)} AS ${id(OUTCOME)}, ${at('o', TS)} AS ${id(TS)}` +
    `${o.valueField !== undefined ? `, ${at('o', VALUE)} AS ${id(VALUE)}` : ''}\n` +
    `  FROM ${id(DECISIONS)} AS d\n  JOIN ${id(OUTCOMES)} AS o ON ${on.join(' AND ')}` +
    // The latest decision at or before the outcome takes it (all of them, when several share that time).
    `${last ? `\n  QUALIFY ${at('d', TS)} = max(${at('d', TS)}) OVER (PARTITION BY ${at('o', ID)})` : ''}\n)`;
  const ctes = [decisionsCte, outcomesCte, matchedCte];
  let matched = MATCHED;
  if (join.value.kind === 'last') {
    // The latest outcome of each decision's window gives the value; ties: the greatest event id.
    ctes.push(`${id(RANKED)} AS (\n  SELECT *, row_number() OVER (PARTITION BY ${id(DECISION)} ORDER BY ${id(TS)} DESC, ${id(OUTCOME)} DESC) AS ${id(RANK)}\n  FROM ${id(MATCHED)}\n)`);
    matched = RANKED;
  }

  const decisionOutput = [...d.identity, ...d.keys].map((c) => at('d', c.name));
  const labelSql = labelExpression(join, dialect, bindValue, { keys: d.identity.map((c) => [c.name, at('d', c.name)] as const), asOf: dialect.jsonValue(at('d', TS), 'timestamp') });
  const selected = [
    ...decisionOutput,
    `${at('d', TS)} AS ${id(d.timestampField)}`,
    `${labelSql} AS ${id(join.label.name)}`,
    `count(${at('m', OUTCOME)}) AS ${id(OUTCOME_COUNT)}`,
    `min(${at('m', TS)}) AS ${id(FIRST_OUTCOME_AT)}`,
    `${bind(run.asOf)} AS ${id(LABELED_AT)}`,
  ];
  const text =
    `WITH ${ctes.join(',\n')}\n` +
    `SELECT ${selected.join(',\n  ')}\n` +
    `FROM ${id(DECISIONS)} AS d\n` +
    `LEFT JOIN ${id(matched)} AS m ON ${at('m', DECISION)} = ${at('d', ID)}\n` +
    `${last ? `WHERE ${at('d', LABELED)}\n` : ''}` +
    `GROUP BY ${[at('d', ID), ...decisionOutput, at('d', TS)].join(', ')}\n` +
    `ORDER BY ${at('d', TS)}, ${at('d', ID)}`;
  return params.compile(text);
}

/**
 * The label of a group of matched outcomes (`m`), cast to the label's type; `default` fills a null.
 * An integer sum is range-checked (core/aggregations/overflow.ts), naming the decision (`decision`).
 */
function labelExpression(join: LabelJoin, dialect: Dialect, bind: (value: unknown) => string, decision: Pick<OverflowContext, 'keys' | 'asOf'>): string {
  const type = dialect.columnType(join.label.type);
  const m = (column: string) => `m.${dialect.identifier(column)}`;
  const { value } = join;
  const cast = (expression: string) => `CAST(${expression} AS ${type})`;
  switch (value.kind) {
    case 'any': return cast(`CASE WHEN count(${m(OUTCOME)}) > 0 THEN 1 ELSE 0 END`);
    case 'count': return `count(${m(OUTCOME)})`;
    default: {
      const aggregate = value.kind === 'last' ? `max(CASE WHEN ${m(RANK)} = 1 THEN ${m(VALUE)} END)` : `${value.kind}(${m(VALUE)})`;
      // An aggregate named several times in one GROUP BY is computed once.
      const label = isRangeChecked(value.kind, join.label.type)
        ? checkedAggregate(aggregate, { ...decision, subject: `labels "${join.labels}", label "${join.label.name}" (${value.kind} of "${value.field}" within ${formatDuration(join.windowSeconds)})` }, dialect)
        : cast(aggregate);
      return value.default === undefined ? label : `COALESCE(${label}, ${cast(bind(value.default))})`;
    }
  }
}

/** The load time of the rows of `alias`, and the join it needs (the ledger's row of each batch). */
function loadedSql(alias: string, stream: LabelStream, dialect: Dialect, bind: (value: unknown) => string): { expression: string; join: (separator: string) => string } {
  const id = dialect.identifier;
  const received = `${alias}.${id(RECEIVED_AT_COLUMN)}`;
  if (stream.loadTime === 'receivedAt') return { expression: received, join: () => '' };
  const ledger = `${alias}l`;
  // Bound once, when the join is written (parameters follow the text order).
  let text: string | undefined;
  return {
    expression: `COALESCE(${ledger}.${id('loaded_at')}, ${received})`,
    join: (separator) => {
      text ??= `LEFT JOIN ${dialect.qualified(ingestLedgerTableName())} AS ${ledger} ON ${ledger}.${id('stream')} = ${bind(stream.stream)} AND ${ledger}.${id('batch')} = ${alias}.${id(BATCH_COLUMN)}`;
      return `${separator}${text}`;
    },
  };
}

/**
 * One row, `{ watermark }`: the latest load time of any row of the stream (an ISO instant; null when
 * it has none). Everything loaded since was loaded after it.
 */
export function compileStreamWatermark(stream: LabelStream, dialect: Dialect): CompiledQuery {
  const params = placeholders();
  const loaded = loadedSql('e', stream, dialect, params.bind);
  return params.compile(`SELECT max(${loaded.expression}) AS ${dialect.identifier('watermark')} FROM ${dialect.qualified(stream.relation)} AS e${loaded.join(' ')}`);
}

/**
 * One row, `{ first, last }`: the earliest and latest time of the stream's rows loaded at or before
 * `watermark` (null when there are none). A run without a range covers the partitions between them.
 */
export function compileStreamTimeRange(stream: LabelStream, watermark: string, dialect: Dialect): CompiledQuery {
  const id = dialect.identifier;
  const params = placeholders();
  const loaded = loadedSql('e', stream, dialect, params.bind);
  const time = dialect.asInstant(`e.${id(stream.timestampField)}`);
  return params.compile(
    `SELECT min(${time}) AS ${id('first')}, max(${time}) AS ${id('last')} FROM ${dialect.qualified(stream.relation)} AS e${loaded.join(' ')} ` +
      `WHERE ${loaded.expression} <= ${dialect.asInstant(params.bind(watermark))}`,
  );
}

/** A published partition to check for rows loaded after it was built. */
export interface LateCheck {
  readonly key: string;
  /** The rows that matter: times in [from, to] (or [from, to) with `upper: 'exclusive'`). */
  readonly from: string;
  readonly to: string;
  /** The stream's watermark the partition was built with; null: nothing was loaded then. */
  readonly since: string | null;
}

/**
 * Rows `{ key, n }`: per partition, how many rows of the stream with a time in its range were loaded
 * after its watermark and at or before `until` (the watermark of the run that checks). Rows with a
 * null in `notNull` are not counted (an outcome with a null match column matches nothing).
 * Partitions without such rows have no row.
 */
export function compileLateEvents(stream: LabelStream, checks: readonly LateCheck[], options: { until: string; upper: 'inclusive' | 'exclusive'; notNull?: readonly string[] }, dialect: Dialect): CompiledQuery {
  if (checks.length === 0) throw new Error('compileLateEvents needs at least one partition');
  const id = dialect.identifier;
  const params = placeholders();
  const instant = (value: unknown) => dialect.asInstant(params.bind(value));
  const rows = checks.map((check) => `(${params.bind(check.key)}, ${instant(check.from)}, ${instant(check.to)}, ${instant(check.since ?? EPOCH)})`);
  const loaded = loadedSql('e', stream, dialect, params.bind);
  const time = dialect.asInstant(`e.${id(stream.timestampField)}`);
  // Bounds over every partition, so the engine skips what none of them needs.
  const earliest = earliestInstant(checks.map((c) => c.from));
  const latest = latestInstant(checks.map((c) => c.to));
  const since = earliestInstant(checks.map((c) => c.since ?? EPOCH));
  const filters = [
    `${time} >= ${instant(earliest)}`, `${time} <= ${instant(latest)}`, `${loaded.expression} > ${instant(since)}`, `${loaded.expression} <= ${instant(options.until)}`,
    ...(options.notNull ?? []).map((column) => `e.${id(column)} IS NOT NULL`),
  ];
  const upper = options.upper === 'inclusive' ? '<=' : '<';
  const values = `(VALUES ${rows.join(', ')}) AS p(${['key', 'lo', 'hi', 'since'].map(id).join(', ')})`;
  const inner = `SELECT ${time} AS ${id(TS)}, ${loaded.expression} AS ${id(LOADED)}\n  FROM ${dialect.qualified(stream.relation)} AS e${loaded.join('\n  ')}\n  WHERE ${filters.join(' AND ')}`;
  return params.compile(
    `SELECT p.${id('key')} AS ${id('key')}, count(*) AS ${id('n')}\n` +
      `FROM ${values}\n` +
      `JOIN (\n  ${inner}\n) AS e\n` +
      `  ON e.${id(TS)} >= p.${id('lo')} AND e.${id(TS)} ${upper} p.${id('hi')} AND e.${id(LOADED)} > p.${id('since')}\n` +
      `GROUP BY p.${id('key')}\nORDER BY p.${id('key')}`,
  );
}

const EPOCH = '1970-01-01T00:00:00.000Z';

/**
 * Parameters bound by position, whatever order the text is assembled in: `bind` returns a marker,
 * and `compile` turns the markers into `?` in text order, with their values in that order.
 */
function placeholders(): { bind: (value: unknown) => string; compile: (text: string) => CompiledQuery } {
  const values: unknown[] = [];
  return {
    bind: (value) => `\uE000${values.push(value) - 1}\uE001`,
    compile: (text) => {
      const parameters: unknown[] = [];
      const sql = text.replace(/\uE000(\d+)\uE001/g, (_, index: string) => {
        parameters.push(values[Number(index)]);
        return '?';
      });
      return { sql, parameters };
    },
  };
}

/** One row, `{ n }`: how many label rows of `relation` (compiled SQL, such as dialect.readParquet) had an outcome. */
export function compileCountPositives(relation: string, dialect: Dialect): CompiledQuery {
  return { sql: `SELECT count(*) AS ${dialect.identifier('n')} FROM ${relation} WHERE ${dialect.identifier(OUTCOME_COUNT)} > 0`, parameters: [] };
}
