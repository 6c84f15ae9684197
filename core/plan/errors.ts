import { FlywheelError } from '../errors.ts';
import type { PlanChange } from './diff.ts';
import type { WarehouseColumnIssue } from './warehouse-columns.ts';

/** Thrown by apply when the plan holds breaking changes and the caller did not allow them. */
export class BreakingChangesError extends FlywheelError {
  readonly changes: readonly PlanChange[];
  constructor(changes: readonly PlanChange[], hint?: string) {
    const reasons = changes.flatMap((change) => change.reasons);
    const head = `Refusing to apply ${changes.length} breaking change${changes.length === 1 ? '' : 's'}${hint ? ` (${hint})` : ''}:`;
    super(`${head}\n${reasons.map((reason) => `  - ${reason}`).join('\n')}`);
    this.changes = changes;
  }
}

/**
 * Thrown by plan and apply when the warehouse lacks a source's relation or columns, holds them with
 * other types, or a feature view's transformation does not return what the view declares.
 */
export class WarehouseSchemaError extends FlywheelError {
  readonly issues: readonly WarehouseColumnIssue[];
  constructor(issues: readonly WarehouseColumnIssue[], options?: { cause?: unknown }) {
    const head = issues.length === 1 ? 'The warehouse does not match a definition:' : `The warehouse does not match the definitions (${issues.length} problems):`;
    super(`${head}\n${issues.map((issue) => `  - ${formatWarehouseColumnIssue(issue)}`).join('\n')}`, options);
    this.issues = issues;
  }
}

export function formatWarehouseColumnIssue(issue: WarehouseColumnIssue): string {
  return `${issue.kind === 'source' ? 'source' : 'feature view'} "${issue.object}"${issue.column ? `, column "${issue.column}"` : ''}: ${issue.message}`;
}
