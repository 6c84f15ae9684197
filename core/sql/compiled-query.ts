/** A statement ready for a driver: SQL text with positional parameters (`?` in DuckDB, `?` in Snowflake). */
export interface CompiledQuery {
  readonly sql: string;
  readonly parameters: readonly unknown[];
}

export function sql(text: string, parameters: readonly unknown[] = []): CompiledQuery {
  return { sql: text, parameters };
}
