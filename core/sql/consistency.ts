import type { ValueType } from '../types.ts';
import { isNumericType, relativeTolerance, type FeatureConsistency, type PartitionConsistency } from '../training-set/consistency.ts';
import type { CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import { logCompareColumns } from './point-in-time.ts';

/**
 * One pass over the working table of a join with `DecisionLogJoin.compare` (core/sql/point-in-time.ts)
 * giving, per group (a partition), what the consistency report needs: the rows, the rows whose
 * decision is in the log, and per logged feature the rows whose value came from the log, how many of
 * those differ from the recomputed value (and how many because exactly one is null), and for numbers
 * the mean and largest absolute and relative differences over the rows where both are values and
 * differ. Output columns are positional (`f<i>_log`, …), so any feature name is safe.
 *
 * @example
 * const rows = await engine.all(compileConsistency(table, features, engine.dialect, { groupBy: PARTITION_COLUMN }));
 * const byPartition = rows.map((row) => [row.g, readConsistency(row, features)]);
 */

/** A feature of the log, in the order of DecisionLogJoin.features (its index names its compare columns). */
export interface ComparedFeature {
  readonly name: string;
  readonly type: ValueType;
}

export function compileConsistency(from: string, features: readonly ComparedFeature[], dialect: Dialect, options: { groupBy?: string } = {}): CompiledQuery {
  const id = dialect.identifier;
  const count = (condition: string) => `sum(CASE WHEN ${condition} THEN 1 ELSE 0 END)`;
  const parts = [...(options.groupBy ? [`${id(options.groupBy)} AS "g"`] : []), 'count(*) AS "n"', `${count(`${id(logCompareColumns.row)} = 1`)} AS "logged"`];
  features.forEach((feature, i) => {
    const logged = id(feature.name);
    const recomputed = id(logCompareColumns.recomputed(i));
    const fromLog = `${id(logCompareColumns.source(i))} = 1`;
    const nullMismatch = `${fromLog} AND (${logged} IS NULL) <> (${recomputed} IS NULL)`;
    const both = `${fromLog} AND ${logged} IS NOT NULL AND ${recomputed} IS NOT NULL`;
    const double = (e: string) => `CAST(${e} AS ${dialect.columnType('float64')})`;
    const absolute = `abs(${double(logged)} - ${double(recomputed)})`;
    const magnitude = `greatest(abs(${double(logged)}), abs(${double(recomputed)}))`;
    const tolerance = relativeTolerance(feature.type);
    const valueDiffers = tolerance !== undefined ? `${both} AND ${absolute} > ${tolerance} * ${magnitude}` : `${both} AND ${logged} <> ${recomputed}`;
    parts.push(
      `${count(fromLog)} AS "f${i}_log"`,
      `${count(`(${nullMismatch}) OR (${valueDiffers})`)} AS "f${i}_diff"`,
      `${count(nullMismatch)} AS "f${i}_nulls"`,
    );
    if (isNumericType(feature.type)) {
      parts.push(
        `avg(CASE WHEN ${valueDiffers} THEN ${absolute} END) AS "f${i}_abs_mean"`,
        `max(CASE WHEN ${valueDiffers} THEN ${absolute} END) AS "f${i}_abs_max"`,
        `avg(CASE WHEN ${valueDiffers} THEN ${absolute} / ${magnitude} END) AS "f${i}_rel_mean"`,
        `max(CASE WHEN ${valueDiffers} THEN ${absolute} / ${magnitude} END) AS "f${i}_rel_max"`,
      );
    }
  });
  return { sql: `SELECT ${parts.join(',\n  ')}\nFROM ${from}${options.groupBy ? `\nGROUP BY ${id(options.groupBy)}` : ''}`, parameters: [] };
}

/** Reads one row of compileConsistency back. */
export function readConsistency(row: Record<string, unknown>, features: readonly ComparedFeature[]): PartitionConsistency {
  const num = (key: string) => Number(row[key] ?? 0);
  const rows = num('n');
  const out: Record<string, FeatureConsistency> = {};
  features.forEach((feature, i) => {
    const log = num(`f${i}_log`);
    const differing = num(`f${i}_diff`);
    const stats = (kind: 'abs' | 'rel') => (row[`f${i}_${kind}_max`] === null || row[`f${i}_${kind}_max`] === undefined ? null : { mean: num(`f${i}_${kind}_mean`), max: num(`f${i}_${kind}_max`) });
    out[feature.name] = {
      type: feature.type,
      source: { log, join: rows - log },
      compared: log,
      differing,
      differingShare: log > 0 ? differing / log : null,
      nullMismatches: num(`f${i}_nulls`),
      ...(isNumericType(feature.type) ? { absoluteDifference: stats('abs'), relativeDifference: stats('rel') } : {}),
    };
  });
  return { rows, rowsWithLog: num('logged'), features: out };
}
