import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';

/**
 * The typed model of a point-in-time join: spine rows, each joined to the feature rows that were
 * known as of its timestamp. Semantics (docs/point-in-time.md):
 * - a feature row matches a spine row when all join keys are equal and its event time is at or
 *   before the spine timestamp; of those, the latest wins. A later row never leaks in;
 * - rows with the same keys and event time are reduced to one first: the latest created time wins
 *   (nulls last), then the smallest feature values, so the result is deterministic;
 * - a match older than the view's ttl (spine time − event time > ttl) reads as null;
 * - a spine row with a null key or no earlier feature row gets nulls; every spine row is kept, once,
 *   in spine order, duplicates included.
 */
export interface PointInTimeJoin {
  readonly spine: {
    /** Qualified name of the relation holding the spine rows. */
    readonly relation: string;
    readonly timestampField: string;
    /** Spine columns copied to the output, in order. */
    readonly columns: readonly string[];
    /** Keep only spine rows with from <= timestamp < to (ISO-8601 instants). */
    readonly from?: string;
    readonly to?: string;
  };
  readonly views: readonly PointInTimeView[];
}

export interface PointInTimeView {
  /** Qualified name of the relation holding the view's rows (join keys, event time, features). */
  readonly relation: string;
  readonly joinKeys: readonly string[];
  readonly timestampField: string;
  readonly createdTimestampField?: string;
  /** Feature columns to take; each becomes an output column of the same name. */
  readonly features: readonly string[];
  readonly ttlSeconds: number | null;
}

const SPINE = '__fw_spine';
const SPINE_TS = '__fw_spine_ts';
const ROW = '__fw_row';
const VIEW_TS = '__fw_ts';

/** Compiles the join to one statement: one ASOF JOIN per feature view, never a row-by-row loop. */
export function compilePointInTimeJoin(join: PointInTimeJoin, dialect: Dialect): CompiledQuery {
  const id = dialect.identifier;
  const parameters: unknown[] = [];
  const { spine } = join;

  const filters: string[] = [];
  if (spine.from !== undefined) {
    filters.push(`${dialect.asInstant(id(spine.timestampField))} >= ${dialect.asInstant('?')}`);
    parameters.push(spine.from);
  }
  if (spine.to !== undefined) {
    filters.push(`${dialect.asInstant(id(spine.timestampField))} < ${dialect.asInstant('?')}`);
    parameters.push(spine.to);
  }
  const ctes = [
    `${id(SPINE)} AS (\n  SELECT ${[
      ...spine.columns.map(id),
      `${dialect.asInstant(id(spine.timestampField))} AS ${id(SPINE_TS)}`,
      `${dialect.scanRowNumber()} AS ${id(ROW)}`,
    ].join(', ')}\n  FROM ${dialect.qualified(spine.relation)}${filters.length ? `\n  WHERE ${filters.join(' AND ')}` : ''}\n)`,
  ];

  const selected = spine.columns.map((column) => `s.${id(column)}`);
  const joins: string[] = [];
  join.views.forEach((view, index) => {
    const cte = `__fw_v${index}`;
    const alias = `v${index}`;
    const tieBreak = [
      ...(view.createdTimestampField ? [`${id(view.createdTimestampField)} DESC NULLS LAST`] : []),
      ...view.features.map((f) => `${id(f)} ASC NULLS LAST`),
    ];
    const partition = [...view.joinKeys.map(id), id(view.timestampField)].join(', ');
    ctes.push(
      `${id(cte)} AS (\n  SELECT ${[...view.joinKeys.map(id), `${dialect.asInstant(id(view.timestampField))} AS ${id(VIEW_TS)}`, ...view.features.map(id)].join(', ')}\n` +
        `  FROM ${dialect.qualified(view.relation)}\n` +
        `  QUALIFY row_number() OVER (PARTITION BY ${partition}${tieBreak.length ? ` ORDER BY ${tieBreak.join(', ')}` : ''}) = 1\n)`,
    );
    joins.push(
      dialect.asofLeftJoin({
        right: id(cte),
        alias,
        keyPairs: view.joinKeys.map((key) => [`s.${id(key)}`, `${alias}.${id(key)}`] as [string, string]),
        leftTime: `s.${id(SPINE_TS)}`,
        rightTime: `${alias}.${id(VIEW_TS)}`,
      }),
    );
    for (const feature of view.features) {
      const value = `${alias}.${id(feature)}`;
      selected.push(
        view.ttlSeconds === null
          ? `${value} AS ${id(feature)}`
          : `CASE WHEN ${alias}.${id(VIEW_TS)} >= ${dialect.minusSeconds(`s.${id(SPINE_TS)}`, view.ttlSeconds)} THEN ${value} END AS ${id(feature)}`,
      );
    }
  });

  const text =
    `WITH ${ctes.join(',\n')}\n` +
    `SELECT ${selected.join(',\n  ')}\n` +
    `FROM ${id(SPINE)} AS s${joins.map((j) => `\n${j}`).join('')}\n` +
    `ORDER BY s.${id(ROW)}`;
  return { sql: text, parameters };
}
