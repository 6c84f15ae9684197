import { AGGREGATION_RULES, lastTieBreak } from '../aggregations/functions.ts';
import { aggregationColumns, type AggregationEvents, type WindowAggregation } from '../aggregations/aggregation-events.ts';
import { checkedAggregate, featureSubject, isRangeChecked } from '../aggregations/overflow.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import type { PartitionUnit } from '../definitions/specs.ts';
import type { ValueType } from '../types.ts';
import { PARTITION_COLUMN, partitionStartSql } from './partition-sql.ts';
import { EVENT_ID_COLUMN } from './warehouse-objects.ts';

/**
 * The typed model of a point-in-time join: spine rows, each joined to what the feature views knew as
 * of its timestamp. Semantics (docs/point-in-time.md):
 * - a plain ('latest') view gives the values of its latest row at or before the spine time: all join
 *   keys equal, event time <= spine time; rows with the same keys and event time are reduced to one
 *   first (latest created time, nulls last, then the smallest feature values), unless the warehouse
 *   keeps them unique (uniqueEventTimes); a match older than the ttl reads as null;
 * - an 'aggregation' view gives, for each feature, an aggregate of its events with
 *   spine time - window < event time <= spine time (core/aggregations);
 * - a spine row with a null key or nothing to match gets nulls (counts: 0 when the keys are not null);
 *   every spine row is kept, once, in spine order, duplicates included.
 */
export interface PointInTimeJoin {
  readonly spine: {
    /** Qualified name of the relation holding the spine rows. */
    readonly relation: string;
    readonly timestampField: string;
    /**
     * The relation is a stored table: number its rows (spine order) by the engine's row identifier,
     * in parallel, where the dialect has one; otherwise rows are numbered as a scan returns them.
     */
    readonly rowIds?: boolean;
    /** Spine columns copied to the output, in order. */
    readonly columns: readonly string[];
    /** Keep only spine rows with from <= timestamp < to (ISO-8601 instants). */
    readonly from?: string;
    readonly to?: string;
    /**
     * Adds the start of each row's partition (an instant; null for a null timestamp) as the column
     * `__fw_partition` and orders the output by it, then spine order, so a table of the result is
     * clustered by partition.
     */
    readonly partitionBy?: PartitionUnit;
  };
  readonly views: readonly PointInTimeView[];
  /**
   * Take features from a decision log where it holds them (a labels spine, docs/training-from-logs.md):
   * each spine row is joined to its decision's logged row, and a feature whose status the row holds
   * (it was served) takes the logged value, even a null one (missing or expired: what the model saw);
   * otherwise the join's value. The join's rules do not change.
   */
  readonly log?: DecisionLogJoin;
}

/** The decision log a training set reads logged feature values from. */
export interface DecisionLogJoin {
  /** Qualified name of the decision stream's table. */
  readonly relation: string;
  /** Columns of both the spine and the log that identify a decision row (`decision_id`, `row_index`). */
  readonly keys: readonly string[];
  /** The log's time column; a spine row's time is that of its decision, so a spine range bounds it too. */
  readonly timestampField: string;
  /** Output features the log may hold, each with its status column (null: not served, or the row predates the feature). */
  readonly features: readonly { readonly name: string; readonly type: ValueType; readonly statusColumn: string }[];
  /**
   * Also output, for the consistency report: per logged feature i, `__fw_log_src<i>` (1 when the value
   * came from the log, else 0) and `__fw_log_pit<i>` (the join's value where the log gave it, else
   * null); and `__fw_log_row` (1 when the decision's row is in the log). See logCompareColumns.
   */
  readonly compare?: boolean;
}

/** The names of the columns `DecisionLogJoin.compare` adds. */
export const logCompareColumns = {
  row: '__fw_log_row',
  source: (index: number) => `__fw_log_src${index}`,
  recomputed: (index: number) => `__fw_log_pit${index}`,
} as const;

/** How a view's features are read: a tagged union, compiled by VIEW_COMPILERS (one compiler per kind). */
export type PointInTimeView = LatestValueView | WindowAggregationView;
export type PointInTimeViewKind = NonNullable<PointInTimeView['kind']>;

/** Each feature is the value of the view's latest row as of the spine time. */
export interface LatestValueView {
  /** Omitted means 'latest'. */
  readonly kind?: 'latest';
  /** Qualified name of the relation holding the view's rows (join keys, event time, features). */
  readonly relation: string;
  readonly joinKeys: readonly string[];
  readonly timestampField: string;
  readonly createdTimestampField?: string;
  /** Feature columns to take; each becomes an output column of the same name. */
  readonly features: readonly string[];
  readonly ttlSeconds: number | null;
  /**
   * No two rows of the relation share join keys and event time, because the warehouse enforces it
   * (a primary key or unique constraint, see OfflineEngine.tableFacts): the rows join as they
   * are, without first reducing ties, the largest cost of the join after the ASOF itself.
   */
  readonly uniqueEventTimes?: boolean;
}

/** Each feature aggregates the view's events in a trailing window of the spine time; each becomes an output column. */
export interface WindowAggregationView extends AggregationEvents {
  readonly kind: 'aggregation';
}

export interface PointInTimeOptions {
  /**
   * With a spine range [from, to), drop feature rows that cannot match any spine row in each view's
   * CTE: event time >= to; with a ttl, older than from - ttl; for aggregations, at or before
   * from - the largest window. Same results, less work. Default true.
   */
  readonly rangePushdown?: boolean;
}

const SPINE = '__fw_spine';
const SPINE_TS = '__fw_spine_ts';
const ROW = '__fw_row';
const VIEW_TS = '__fw_ts';
const TICK = '__fw_tick';
const EVENT = '__fw_event';
const LOG = '__fw_log';
const LOG_ALIAS = 'dl';

/** What the compilers of every view kind share: the dialect, the parameters in text order, and the spine range. */
interface Context {
  readonly dialect: Dialect;
  readonly id: (name: string) => string;
  /** Appends a parameter and returns its placeholder; call in the order the text is written. */
  readonly bind: (value: unknown) => string;
  readonly range: { readonly from?: string; readonly to?: string };
  readonly pushdown: boolean;
}

/** The SQL a view contributes: CTEs (in order), joins to the spine `s`, and one output expression per feature. */
interface CompiledView {
  readonly ctes: readonly string[];
  readonly joins: readonly string[];
  readonly selected: readonly { readonly feature: string; readonly value: string }[];
}

type ViewCompilers = { [K in PointInTimeViewKind]: (view: Extract<PointInTimeView, { kind?: K }>, index: number, ctx: Context) => CompiledView };

/**
 * Compiles the join to one statement: an ASOF JOIN per plain view, and for an aggregation view one
 * pass of window functions over its events merged with the spine rows. No row-by-row loop and no
 * spine × events intermediate.
 */
export function compilePointInTimeJoin(join: PointInTimeJoin, dialect: Dialect, options: PointInTimeOptions = {}): CompiledQuery {
  const id = dialect.identifier;
  const parameters: unknown[] = [];
  const bind = (value: unknown) => {
    parameters.push(value);
    return '?';
  };
  const { spine } = join;

  const filters: string[] = [];
  if (spine.from !== undefined) filters.push(`${dialect.asInstant(id(spine.timestampField))} >= ${dialect.asInstant(bind(spine.from))}`);
  if (spine.to !== undefined) filters.push(`${dialect.asInstant(id(spine.timestampField))} < ${dialect.asInstant(bind(spine.to))}`);
  const spineBody =
    `\n  SELECT ${[
      ...spine.columns.map(id),
      `${dialect.asInstant(id(spine.timestampField))} AS ${id(SPINE_TS)}`,
      `${(spine.rowIds ? dialect.tableRowId : undefined) ?? dialect.scanRowNumber()} AS ${id(ROW)}`,
      ...(spine.partitionBy ? [`${partitionStartSql(spine.timestampField, spine.partitionBy, dialect)} AS ${id(PARTITION_COLUMN)}`] : []),
    ].join(', ')}\n  FROM ${dialect.qualified(spine.relation)}${filters.length ? `\n  WHERE ${filters.join(' AND ')}` : ''}\n`;
  // Aggregation views read the spine a second time (as markers); its row numbers must be the same both times.
  const readTwice = join.views.some((view) => view.kind === 'aggregation');
  const ctes = [readTwice ? dialect.materializedCte(id(SPINE), spineBody) : `${id(SPINE)} AS (${spineBody})`];

  const ctx: Context = {
    dialect, id, bind, pushdown: options.rangePushdown ?? true,
    range: { ...(spine.from !== undefined ? { from: spine.from } : {}), ...(spine.to !== undefined ? { to: spine.to } : {}) },
  };
  const selected = [...spine.columns, ...(spine.partitionBy ? [PARTITION_COLUMN] : [])].map((column) => `s.${id(column)}`);
  const joins: string[] = [];
  const features: { feature: string; value: string }[] = [];
  join.views.forEach((view, index) => {
    const compiled = compileView(view, index, ctx);
    ctes.push(...compiled.ctes);
    joins.push(...compiled.joins);
    features.push(...compiled.selected);
  });
  if (join.log) {
    const logged = compileLogJoin(join.log, features, ctx);
    ctes.push(...logged.ctes);
    joins.push(...logged.joins);
    selected.push(...logged.selected);
  } else {
    selected.push(...features.map(({ feature, value }) => `${value} AS ${id(feature)}`));
  }

  const text =
    `WITH ${ctes.join(',\n')}\n` +
    `SELECT ${selected.join(',\n  ')}\n` +
    `FROM ${id(SPINE)} AS s${joins.map((j) => `\n${j}`).join('')}\n` +
    `ORDER BY ${spine.partitionBy ? `s.${id(PARTITION_COLUMN)}, ` : ''}s.${id(ROW)}`;
  return { sql: text, parameters };
}

const VIEW_COMPILERS: ViewCompilers = {
  latest: (view, index, ctx) => {
    const { dialect, id } = ctx;
    const cte = `__fw_v${index}`;
    const alias = `v${index}`;
    const tieBreak = [
      ...(view.createdTimestampField ? [`${id(view.createdTimestampField)} DESC NULLS LAST`] : []),
      ...view.features.map((f) => `${id(f)} ASC NULLS LAST`),
    ];
    const partition = [...view.joinKeys.map(id), id(view.timestampField)].join(', ');
    const filters = rangeFilters(dialect.asInstant(id(view.timestampField)), view.ttlSeconds === null ? undefined : { seconds: view.ttlSeconds, inclusive: true }, ctx);
    return {
      ctes: [
        `${id(cte)} AS (\n  SELECT ${[...view.joinKeys.map(id), `${dialect.asInstant(id(view.timestampField))} AS ${id(VIEW_TS)}`, ...view.features.map(id)].join(', ')}\n` +
          `  FROM ${dialect.qualified(view.relation)}\n` +
          (filters.length ? `  WHERE ${filters.join(' AND ')}\n` : '') +
          (view.uniqueEventTimes ? ')' : `  QUALIFY row_number() OVER (PARTITION BY ${partition}${tieBreak.length ? ` ORDER BY ${tieBreak.join(', ')}` : ''}) = 1\n)`),
      ],
      joins: [asofJoin(view.joinKeys, cte, alias, ctx)],
      selected: view.features.map((feature) => {
        const value = `${alias}.${id(feature)}`;
        return {
          feature,
          value: view.ttlSeconds === null ? value : `CASE WHEN ${alias}.${id(VIEW_TS)} >= ${dialect.minusSeconds(`s.${id(SPINE_TS)}`, view.ttlSeconds)} THEN ${value} END`,
        };
      }),
    };
  },

  /**
   * The view's events and the spine rows (as markers with null values) in one relation, partitioned
   * by the join keys and ordered by time in ticks; each aggregate is a window function over a RANGE
   * frame of (window - 1 tick) PRECEDING AND CURRENT ROW, which holds exactly the events with
   * t - window < e <= t (peers included). Only marker rows are kept and joined back by spine row.
   * `last` is an ASOF join per column instead (the latest event, then its age against the window).
   */
  aggregation: (view, index, ctx) => {
    const { dialect, id } = ctx;
    const keys = view.joinKeys.map(id);
    const keysNotNull = keys.map((k) => `${k} IS NOT NULL`);
    const instant = dialect.asInstant(id(view.timestampField));
    // Each aggregation with its reducer (`count`, `sum`, …), or among the `last` ones.
    const reducers = new Map(view.aggregations.flatMap((a) => {
      const method = AGGREGATION_RULES[a.function].method;
      return method.kind === 'reduce' ? [[a, method.sql] as const] : [];
    }));
    const reduced = [...reducers.keys()];
    const latest = view.aggregations.filter((a) => !reducers.has(a));
    const ctes: string[] = [];
    const joins: string[] = [];
    const expressions = new Map<string, string>();

    if (reduced.length > 0) {
      const events = `__fw_v${index}_events`;
      const cte = `__fw_v${index}`;
      const alias = `v${index}`;
      const inputs = aggregationColumns(reduced);
      const intervals = dialect.windowedDistinctCount === 'intervals' ? reduced.filter((a) => a.function === 'distinct_count') : [];
      const nextOf = new Map(aggregationColumns(intervals).map((column, j) => [column, `__fw_next${j}`]));
      const tick = dialect.instantTicks(instant);
      const filters = [...keysNotNull, ...rangeFilters(instant, { seconds: maxWindow(reduced), inclusive: false }, ctx)];
      ctes.push(
        `${id(events)} AS (\n  SELECT ${[
          ...keys,
          `${tick} AS ${id(TICK)}`,
          ...inputs.map(id),
          ...[...nextOf].map(([column, next]) => `lead(${tick}) OVER (PARTITION BY ${[...keys, id(column)].join(', ')} ORDER BY ${tick}) AS ${id(next)}`),
        ].join(', ')}\n  FROM ${dialect.qualified(view.relation)}\n  WHERE ${filters.join(' AND ')}\n)`,
      );

      // The merged relation's columns, each with its value in every branch: events, window ends (intervals only), markers.
      const dc = (i: number) => `__fw_dc${i}`;
      const columns: { name: string; event: string; marker: string; end: (i: number) => string }[] = [
        ...view.joinKeys.map((key) => ({ name: key, event: id(key), marker: id(key), end: () => id(key) })),
        { name: TICK, event: id(TICK), marker: dialect.instantTicks(id(SPINE_TS)), end: (i) => endTick(intervals[i]!, nextOf, ctx) },
        { name: ROW, event: 'NULL', marker: id(ROW), end: () => 'NULL' },
        { name: EVENT, event: '1', marker: 'NULL', end: () => 'NULL' },
        ...inputs.map((column) => ({ name: column, event: id(column), marker: 'NULL', end: () => 'NULL' })),
        ...intervals.map((a, i) => ({ name: dc(i), event: `CASE WHEN ${id(a.column ?? '')} IS NOT NULL THEN 1 END`, marker: 'NULL', end: (j: number) => (j === i ? '-1' : 'NULL') })),
      ];
      const branches = [
        `    SELECT ${columns.map((c) => (c.event === id(c.name) ? c.event : `${c.event} AS ${id(c.name)}`)).join(', ')}\n    FROM ${id(events)}`,
        ...intervals.map((a, i) => `    SELECT ${columns.map((c) => c.end(i)).join(', ')}\n    FROM ${id(events)}\n    WHERE ${id(a.column ?? '')} IS NOT NULL`),
        `    SELECT ${columns.map((c) => c.marker).join(', ')}\n    FROM ${id(SPINE)}\n    WHERE ${keysNotNull.join(' AND ')}`,
      ];
      const partition = `PARTITION BY ${keys.join(', ')} ORDER BY ${id(TICK)}`;
      const aggregates = [...reducers].map(([aggregation, reduce]) => {
        const intervalIndex = intervals.indexOf(aggregation);
        const value =
          intervalIndex >= 0
            ? `COALESCE(SUM(${id(dc(intervalIndex))}) OVER (${partition} RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 0)`
            : `${reduce(aggregation.column === undefined ? id(EVENT) : id(aggregation.column))} OVER (${partition} RANGE BETWEEN ${windowTicks(aggregation, dialect) - 1n} PRECEDING AND CURRENT ROW)`;
        const column = `${alias}.${id(aggregation.feature)}`;
        if (isRangeChecked(aggregation.function, aggregation.type)) {
          // The exact sum leaves this CTE; the final SELECT checks its range with the spine row at hand.
          const keyValues = view.joinKeys.map((key) => [key, `s.${id(key)}`] as const);
          const asOf = dialect.jsonValue(`s.${id(SPINE_TS)}`, 'timestamp');
          expressions.set(aggregation.feature, checkedAggregate(column, { subject: featureSubject(view.featureView, aggregation), keys: keyValues, asOf }, dialect));
          return `${value} AS ${id(aggregation.feature)}`;
        }
        expressions.set(aggregation.feature, column);
        return `CAST(${value} AS ${dialect.columnType(aggregation.type)}) AS ${id(aggregation.feature)}`;
      });
      ctes.push(
        `${id(cte)} AS (\n  SELECT ${[id(ROW), ...aggregates].join(',\n    ')}\n` +
          `  FROM (\n${branches.join('\n    UNION ALL\n')}\n  ) AS ${id('__fw_merged')}\n` +
          `  QUALIFY ${id(ROW)} IS NOT NULL\n)`,
      );
      joins.push(`LEFT JOIN ${id(cte)} AS ${alias} ON ${alias}.${id(ROW)} = s.${id(ROW)}`);
    }

    aggregationColumns(latest).forEach((column, j) => {
      const cte = `__fw_v${index}_last${j}`;
      const alias = `v${index}l${j}`;
      const mine = latest.filter((a) => a.column === column);
      const filters = [...keysNotNull, ...rangeFilters(instant, { seconds: maxWindow(mine), inclusive: false }, ctx)];
      const partition = [...keys, id(view.timestampField)].join(', ');
      ctes.push(
        `${id(cte)} AS (\n  SELECT ${[...keys, `${instant} AS ${id(VIEW_TS)}`, id(column)].join(', ')}\n` +
          `  FROM ${dialect.qualified(view.relation)}\n` +
          `  WHERE ${filters.join(' AND ')}\n` +
          `  QUALIFY row_number() OVER (PARTITION BY ${partition} ORDER BY ${lastTieBreak(id(column), view.createdTimestampField && id(view.createdTimestampField)).join(', ')}) = 1\n)`,
      );
      joins.push(asofJoin(view.joinKeys, cte, alias, ctx));
      for (const aggregation of mine) {
        expressions.set(
          aggregation.feature,
          `CASE WHEN ${alias}.${id(VIEW_TS)} > ${dialect.minusSeconds(`s.${id(SPINE_TS)}`, aggregation.windowSeconds)} THEN ${alias}.${id(column)} END`,
        );
      }
    });

    return { ctes, joins, selected: view.aggregations.map((a) => ({ feature: a.feature, value: expressions.get(a.feature)! })) };
  },
};

/**
 * The decision log's part: a CTE of its rows (one per decision row; the spine range bounds its time),
 * a LEFT JOIN on the decision's identity, and per feature the logged value when its status is there,
 * else the join's. With `compare`, the columns of the consistency report.
 */
function compileLogJoin(log: DecisionLogJoin, features: readonly { feature: string; value: string }[], ctx: Context): { ctes: string[]; joins: string[]; selected: string[] } {
  const { dialect, id, bind, range } = ctx;
  const time = dialect.asInstant(id(log.timestampField));
  const filters: string[] = [];
  if (ctx.pushdown && range.from !== undefined) filters.push(`${time} >= ${dialect.asInstant(bind(range.from))}`);
  if (ctx.pushdown && range.to !== undefined) filters.push(`${time} < ${dialect.asInstant(bind(range.to))}`);
  const keys = log.keys.map(id);
  const cte =
    `${id(LOG)} AS (\n  SELECT ${[...keys, ...log.features.flatMap((f) => [id(f.name), id(f.statusColumn)])].join(', ')}\n` +
    `  FROM ${dialect.qualified(log.relation)}\n` +
    (filters.length ? `  WHERE ${filters.join(' AND ')}\n` : '') +
    // The log stores a decision row once (its event id is `<decision_id>:<row_index>`); this keeps every spine row once whatever it holds.
    `  QUALIFY row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY ${id(EVENT_ID_COLUMN)}) = 1\n)`;
  const join = `LEFT JOIN ${id(LOG)} AS ${LOG_ALIAS} ON ${keys.map((k) => `${LOG_ALIAS}.${k} = s.${k}`).join(' AND ')}`;

  const served = (statusColumn: string) => `${LOG_ALIAS}.${id(statusColumn)} IS NOT NULL`;
  const selected = features.map(({ feature, value }) => {
    const logged = log.features.find((f) => f.name === feature);
    return logged ? `CASE WHEN ${served(logged.statusColumn)} THEN ${LOG_ALIAS}.${id(feature)} ELSE ${value} END AS ${id(feature)}` : `${value} AS ${id(feature)}`;
  });
  if (log.compare) {
    selected.push(`CASE WHEN ${LOG_ALIAS}.${keys[0]} IS NOT NULL THEN 1 ELSE 0 END AS ${id(logCompareColumns.row)}`);
    log.features.forEach((logged, index) => {
      const value = features.find((f) => f.feature === logged.name)?.value ?? 'NULL';
      selected.push(
        `CASE WHEN ${served(logged.statusColumn)} THEN 1 ELSE 0 END AS ${id(logCompareColumns.source(index))}`,
        `CASE WHEN ${served(logged.statusColumn)} THEN ${value} END AS ${id(logCompareColumns.recomputed(index))}`,
      );
    });
  }
  return { ctes: [cte], joins: [join], selected };
}

function compileView(view: PointInTimeView, index: number, ctx: Context): CompiledView {
  switch (view.kind) {
    case undefined:
    case 'latest': return VIEW_COMPILERS.latest(view, index, ctx);
    case 'aggregation': return VIEW_COMPILERS.aggregation(view, index, ctx);
    default: return unknownKind(view);
  }
}

function unknownKind(view: never): never {
  throw new Error(`unknown point-in-time view kind ${JSON.stringify((view as { kind?: unknown }).kind)}`);
}

function asofJoin(joinKeys: readonly string[], cte: string, alias: string, { dialect, id }: Context): string {
  return dialect.asofLeftJoin({
    right: id(cte),
    alias,
    keyPairs: joinKeys.map((key) => [`s.${id(key)}`, `${alias}.${id(key)}`] as [string, string]),
    leftTime: `s.${id(SPINE_TS)}`,
    rightTime: `${alias}.${id(VIEW_TS)}`,
  });
}

/**
 * Range pushdown: the conditions on a view's event time `time` that keep every row a spine row in
 * [from, to) can use. `lookback` is how far before the spine time a row still counts: a ttl
 * (t - e <= ttl, inclusive) or a window (t - e < window); undefined means any age.
 */
function rangeFilters(time: string, lookback: { seconds: number; inclusive: boolean } | undefined, ctx: Context): string[] {
  if (!ctx.pushdown) return [];
  const { dialect, bind, range } = ctx;
  const filters: string[] = [];
  if (range.to !== undefined) filters.push(`${time} < ${dialect.asInstant(bind(range.to))}`);
  if (range.from !== undefined && lookback !== undefined) {
    filters.push(`${time} ${lookback.inclusive ? '>=' : '>'} ${dialect.minusSeconds(dialect.asInstant(bind(range.from)), lookback.seconds)}`);
  }
  return filters;
}

const maxWindow = (aggregations: readonly WindowAggregation[]) => Math.max(...aggregations.map((a) => a.windowSeconds));

const windowTicks = (aggregation: WindowAggregation, dialect: Dialect) => BigInt(aggregation.windowSeconds) * dialect.ticksPerSecond;

/** Where an event stops counting for a windowed distinct count: at the next event with the same value, or when it leaves the window. */
function endTick(aggregation: WindowAggregation, nextOf: ReadonlyMap<string, string>, { id, dialect }: Context): string {
  const expiry = `${id(TICK)} + ${windowTicks(aggregation, dialect)}`;
  return `LEAST(COALESCE(${id(nextOf.get(aggregation.column ?? '') ?? '')}, ${expiry}), ${expiry})`;
}
