import { IdentifierError } from './errors.ts';

/**
 * Names from definitions (entities, columns, tables, feature views) end up in SQL, file paths and
 * Temporal ids. They must match this pattern; anything else is rejected when definitions are loaded,
 * and every dialect still quotes them when it prints SQL.
 */
export const IDENTIFIER_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Returns the reason `name` is not a safe identifier, or undefined when it is. */
export function identifierProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `expected a string, got ${typeof name}`;
  if (name.length === 0) return 'must not be empty';
  if (name.length > 63) return 'must be at most 63 characters';
  if (!IDENTIFIER_PATTERN.test(name)) {
    return 'must start with a letter or underscore and contain only letters, digits and underscores';
  }
  return undefined;
}

export function assertIdentifier(name: string): string {
  const problem = identifierProblem(name);
  if (problem) throw new IdentifierError(name, problem);
  return name;
}

/** A possibly qualified relation name such as `raw.transactions` or `db.schema.table`. */
export function parseQualifiedName(name: string): string[] {
  const parts = name.split('.');
  if (parts.length > 3) throw new IdentifierError(name, 'a table name has at most three parts (database.schema.table)');
  for (const part of parts) assertIdentifier(part);
  return parts;
}

export function qualifiedNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `expected a string, got ${typeof name}`;
  const parts = name.split('.');
  if (parts.length > 3) return 'a table name has at most three parts (database.schema.table)';
  for (const part of parts) {
    const problem = identifierProblem(part);
    if (problem) return `"${part}" ${problem}`;
  }
  return undefined;
}
