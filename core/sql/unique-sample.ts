import type { SourceSpec } from '../definitions/specs.ts';
import { sql, type CompiledQuery } from './compiled-query.ts';
import type { Dialect } from './dialect.ts';
import { sourceRelationQuery } from './warehouse-objects.ts';

/**
 * How many rows of a source plan and apply read to check its `unique` promise. Bounded so that plan
 * stays quick on a table of any size: the check catches a pipeline that repeats rows everywhere,
 * not one repeated pair among billions (docs/point-in-time.md, *A source's own promise*).
 */
export const UNIQUE_SAMPLE_ROWS = 1_000_000;

/** The count column of compileUniqueSample's row. */
export const UNIQUE_SAMPLE_COUNT = '__fw_rows';

/**
 * One set of values of the source's `unique` columns that more than one of its first `rows` rows
 * share, with how many (`__fw_rows`); no row when the sample keeps the promise. Undefined for a
 * source that makes none.
 */
export function compileUniqueSample(source: SourceSpec, dialect: Dialect, resolvePath: (path: string) => string, rows = UNIQUE_SAMPLE_ROWS): CompiledQuery | undefined {
  if (source.unique === undefined) return undefined;
  const columns = source.unique.map(dialect.identifier).join(', ');
  const relation = sourceRelationQuery(source, dialect, resolvePath);
  return sql(
    `SELECT ${columns}, count(*) AS ${dialect.identifier(UNIQUE_SAMPLE_COUNT)}\n` +
      `FROM (SELECT ${columns} FROM (${relation.sql}) AS ${dialect.identifier('__fw_source')} LIMIT ${rows}) AS ${dialect.identifier('__fw_sample')}\n` +
      `GROUP BY ${columns}\nHAVING count(*) > 1\nLIMIT 1`,
    relation.parameters,
  );
}
