import type { ColumnSpec, EventStreamSpec, FeatureViewSpec, ProjectSpec, SourceSpec } from '../definitions/specs.ts';
import { eventStreamColumns } from '../definitions/view-source.ts';
import { isAssignable, type ValueType } from '../types.ts';
import { featureViewColumns } from '../sql/warehouse-objects.ts';

/** A column as the warehouse reports it (the shape of an offline engine's `describe` rows). */
export interface WarehouseColumn {
  readonly name: string;
  readonly engineType: string;
  /** The Flywheel type the engine type maps to, if any. */
  readonly type: ValueType | undefined;
}

/**
 * A declared column the warehouse lacks or holds with an incompatible type, or a relation it cannot
 * read: of a source (its table, query or files), of the table a `from` event stream loads, or of a
 * feature view's transformation.
 */
export interface WarehouseColumnIssue {
  readonly kind: 'source' | 'eventStream' | 'featureView';
  readonly object: string;
  readonly column?: string;
  readonly message: string;
  /** The relation could not be read at all (most often: it does not exist, the data was never loaded). */
  readonly unreadable?: true;
}

/** How a source's relation is named in messages: its table, Parquet path, or "query". */
export function describeSourceRelation(source: SourceSpec): string {
  switch (source.location.type) {
    case 'table': return `table "${source.location.table}"`;
    case 'parquet': return `Parquet files "${source.location.path}"`;
    case 'query': return 'query';
  }
}

/**
 * Compares a source's declared columns with the columns its relation has in the warehouse. Names
 * match case-insensitively (as DuckDB does); a column may be narrower than declared (int32 read as
 * int64), and a DECIMAL column may be declared as a float.
 */
export function checkSourceColumns(source: SourceSpec, actual: readonly WarehouseColumn[]): WarehouseColumnIssue[] {
  return checkColumns(source.columns, actual, `in ${describeSourceRelation(source)}`).map((issue) => ({ kind: 'source', object: source.name, ...issue }));
}

/**
 * Compares the table a `from` stream loads with what the stream reads from it: its join keys,
 * timestamp and fields, and the watermark column (a timestamp). A stream without `from` has nothing to check.
 */
export function checkEventStreamFromColumns(stream: EventStreamSpec, actual: readonly WarehouseColumn[]): WarehouseColumnIssue[] {
  if (!stream.from) return [];
  const expected = eventStreamColumns(stream);
  const watermark = stream.from.watermark.column;
  if (!expected.some((c) => c.name === watermark)) expected.push({ name: watermark, type: 'timestamp' });
  return checkColumns(expected, actual, `in table "${stream.from.table}"`).map((issue) => ({ kind: 'eventStream', object: stream.name, ...issue }));
}

/**
 * Compares what a feature view's transformation returns with what the view promises: its join
 * keys, the source's timestamp field and every feature with its declared type.
 */
export function checkTransformationColumns(view: FeatureViewSpec, project: ProjectSpec, actual: readonly WarehouseColumn[]): WarehouseColumnIssue[] {
  const columns = featureViewColumns(view, project);
  const expected: ColumnSpec[] = [...columns.joinKeys, { name: columns.timestamp, type: 'timestamp' }, ...columns.features];
  return checkColumns(expected, actual, 'in the output of the transformation').map((issue) => ({ kind: 'featureView', object: view.name, ...issue }));
}

function checkColumns(expected: readonly ColumnSpec[], actual: readonly WarehouseColumn[], where: string): { column: string; message: string }[] {
  const byName = new Map(actual.map((column) => [column.name.toLowerCase(), column]));
  const issues: { column: string; message: string }[] = [];
  for (const declared of expected) {
    const found = byName.get(declared.name.toLowerCase());
    if (!found) {
      const known = actual.map((c) => c.name).join(', ');
      issues.push({ column: declared.name, message: `no such column ${where} (its columns are ${known || 'none'})` });
    } else if (!compatible(found, declared.type)) {
      issues.push({ column: declared.name, message: `declared ${declared.type} but the warehouse column is ${found.engineType}` });
    }
  }
  return issues;
}

function compatible(column: WarehouseColumn, declared: ValueType): boolean {
  if (column.type !== undefined) return isAssignable(column.type, declared);
  return /^(DECIMAL|NUMERIC|NUMBER)\b/i.test(column.engineType) && (declared === 'float64' || declared === 'float32');
}
