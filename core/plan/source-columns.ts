import type { SourceSpec } from '../definitions/specs.ts';
import { isAssignable, type ValueType } from '../types.ts';

/** A column as the warehouse reports it (the shape of an offline engine's `describe` rows). */
export interface WarehouseColumn {
  readonly name: string;
  readonly engineType: string;
  /** The Flywheel type the engine type maps to, if any. */
  readonly type: ValueType | undefined;
}

/** A declared source column the warehouse lacks or holds with an incompatible type, or a relation it cannot read. */
export interface SourceColumnIssue {
  readonly source: string;
  readonly column?: string;
  readonly message: string;
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
export function checkSourceColumns(source: SourceSpec, actual: readonly WarehouseColumn[]): SourceColumnIssue[] {
  const byName = new Map(actual.map((column) => [column.name.toLowerCase(), column]));
  const issues: SourceColumnIssue[] = [];
  for (const declared of source.columns) {
    const found = byName.get(declared.name.toLowerCase());
    if (!found) {
      const known = actual.map((c) => c.name).join(', ');
      issues.push({ source: source.name, column: declared.name, message: `no such column in ${describeSourceRelation(source)} (its columns are ${known || 'none'})` });
    } else if (!compatible(found, declared.type)) {
      issues.push({ source: source.name, column: declared.name, message: `declared ${declared.type} but the warehouse column is ${found.engineType}` });
    }
  }
  return issues;
}

function compatible(column: WarehouseColumn, declared: ValueType): boolean {
  if (column.type !== undefined) return isAssignable(column.type, declared);
  return /^(DECIMAL|NUMERIC|NUMBER)\b/i.test(column.engineType) && (declared === 'float64' || declared === 'float32');
}
