import type { CompiledQuery } from '../sql/compiled-query.ts';
import type { Dialect } from '../sql/dialect.ts';
import { aggregationColumns, type AggregationEvents } from './aggregation-events.ts';
import { AGGREGATION_RULES, lastTieBreak } from './functions.ts';
import { checkedAggregate, featureSubject, isRangeChecked } from './overflow.ts';

const EVENTS = '__fw_events';
const AGGREGATES = '__fw_aggregates';
const TS = '__fw_ts';

/**
 * The aggregates of every entity as of one instant `asOf` (an ISO-8601 instant), with the same
 * semantics as the training-set join (docs/point-in-time.md, "Windowed aggregations"): a plain
 * GROUP BY over the events with asOf - largest window < e <= asOf, each aggregate over its own window.
 * One row per entity with at least one event in its largest window, ordered by the join keys; an
 * entity without a row reads as 0 for counts and null for the rest. Entities with a null key are left out.
 *
 * This is what online materialization writes to the online store, and what a training-set row at
 * time asOf gets for the same entity.
 *
 * @example
 * const query = compileAggregatesAsOf(aggregationEventsOf(view, project), new Date().toISOString(), engine.dialect);
 * const rows = await engine.all(query);
 */
export function compileAggregatesAsOf(events: AggregationEvents, asOf: string, dialect: Dialect): CompiledQuery {
  const id = dialect.identifier;
  const parameters: unknown[] = [];
  const bind = (value: unknown) => {
    parameters.push(value);
    return '?';
  };
  const { aggregations } = events;
  if (aggregations.length === 0) throw new Error('compileAggregatesAsOf needs at least one aggregation');
  const keys = events.joinKeys.map(id);
  const instant = dialect.asInstant(id(events.timestampField));
  const windows = [...new Set(aggregations.map((a) => a.windowSeconds))].sort((a, b) => a - b);
  const inWindow = (seconds: number) => id(`__fw_in_${seconds}`);
  const latest = aggregations.filter((a) => AGGREGATION_RULES[a.function].method.kind === 'latest');
  const created = latest.length > 0 && events.createdTimestampField !== undefined ? events.createdTimestampField : undefined;

  const eventsCte =
    `${id(EVENTS)} AS (\n  SELECT ${[
      ...keys,
      `${instant} AS ${id(TS)}`,
      ...(created !== undefined ? [id(created)] : []),
      ...aggregationColumns(aggregations).map(id),
      ...windows.map((seconds) => `(${instant} > ${dialect.minusSeconds(dialect.asInstant(bind(asOf)), seconds)}) AS ${inWindow(seconds)}`),
    ].join(', ')}\n` +
    `  FROM ${dialect.qualified(events.relation)}\n` +
    `  WHERE ${[
      ...keys.map((k) => `${k} IS NOT NULL`),
      `${instant} <= ${dialect.asInstant(bind(asOf))}`,
      `${instant} > ${dialect.minusSeconds(dialect.asInstant(bind(asOf)), Math.max(...windows))}`,
    ].join(' AND ')}\n)`;

  const selected = new Map<string, string>();
  const aggregates = aggregations.flatMap((aggregation) => {
    const method = AGGREGATION_RULES[aggregation.function].method;
    if (method.kind !== 'reduce') return [];
    const value = `CASE WHEN ${inWindow(aggregation.windowSeconds)} THEN ${aggregation.column === undefined ? '1' : id(aggregation.column)} END`;
    const column = `a.${id(aggregation.feature)}`;
    if (isRangeChecked(aggregation.function, aggregation.type)) {
      // The exact sum leaves this CTE; the outer SELECT checks its range with the entity at hand.
      const keyValues = events.joinKeys.map((key) => [key, `a.${id(key)}`] as const);
      selected.set(aggregation.feature, checkedAggregate(column, { subject: featureSubject(events.featureView, aggregation), keys: keyValues, asOf: dialect.stringLiteral(asOf) }, dialect));
      return [`${method.sql(value)} AS ${id(aggregation.feature)}`];
    }
    selected.set(aggregation.feature, column);
    return [`CAST(${method.sql(value)} AS ${dialect.columnType(aggregation.type)}) AS ${id(aggregation.feature)}`];
  });
  const ctes = [eventsCte, `${id(AGGREGATES)} AS (\n  SELECT ${[...keys, ...aggregates].join(', ')}\n  FROM ${id(EVENTS)}\n  GROUP BY ${keys.join(', ')}\n)`];

  // `last`: the latest event per entity (ties broken like the training-set join), if it is inside the window.
  const joins: string[] = [];
  aggregationColumns(latest).forEach((column, j) => {
    const cte = `__fw_last${j}`;
    const alias = `l${j}`;
    const mine = latest.filter((a) => a.column === column);
    ctes.push(
      `${id(cte)} AS (\n  SELECT ${[...keys, id(TS), id(column), ...[...new Set(mine.map((a) => a.windowSeconds))].map(inWindow)].join(', ')}\n  FROM ${id(EVENTS)}\n` +
        `  QUALIFY row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY ${[`${id(TS)} DESC`, ...lastTieBreak(id(column), created && id(created))].join(', ')}) = 1\n)`,
    );
    joins.push(`LEFT JOIN ${id(cte)} AS ${alias} ON ${keys.map((k) => `${alias}.${k} = a.${k}`).join(' AND ')}`);
    for (const aggregation of mine) {
      selected.set(aggregation.feature, `CASE WHEN ${alias}.${inWindow(aggregation.windowSeconds)} THEN ${alias}.${id(column)} END`);
    }
  });

  const text =
    `WITH ${ctes.join(',\n')}\n` +
    `SELECT ${[...keys.map((k) => `a.${k}`), ...aggregations.map((a) => `${selected.get(a.feature)} AS ${id(a.feature)}`)].join(',\n  ')}\n` +
    `FROM ${id(AGGREGATES)} AS a${joins.map((j) => `\n${j}`).join('')}\n` +
    `ORDER BY ${keys.map((k) => `a.${k}`).join(', ')}`;
  return { sql: text, parameters };
}
