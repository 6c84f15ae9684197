import { FlywheelError } from '../errors.ts';
import type { PlanChange } from './diff.ts';
import type { TableChangeIssue } from '../sql/warehouse-objects.ts';
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
 * Thrown by apply when an event stream's table would have to change in a way the warehouse cannot
 * make without losing or inventing stored data (a type it cannot convert, a new key column); no flag
 * allows these.
 */
export class UnsupportedTableChangeError extends FlywheelError {
  readonly issues: readonly TableChangeIssue[];
  constructor(issues: readonly TableChangeIssue[]) {
    const head = `Cannot apply ${issues.length === 1 ? 'a change' : `${issues.length} changes`} to event stream tables, even with --allow-breaking:`;
    super(`${head}\n${issues.map((issue) => `  - table ${issue.table}, column "${issue.column}": ${issue.message}`).join('\n')}`);
    this.issues = issues;
  }
}

/**
 * Thrown by plan and apply when the warehouse lacks a source's relation or columns (or those of the
 * table a `from` event stream loads), holds them with other types, or a feature view's transformation
 * does not return what the view declares.
 */
export class WarehouseSchemaError extends FlywheelError {
  readonly issues: readonly WarehouseColumnIssue[];
  /** `hint`: what to do about them, shown after the list (e.g. how to load data when none is there). */
  constructor(issues: readonly WarehouseColumnIssue[], options?: { cause?: unknown; hint?: string }) {
    const head = issues.length === 1 ? 'The warehouse does not match a definition:' : `The warehouse does not match the definitions (${issues.length} problems):`;
    super(`${head}\n${issues.map((issue) => `  - ${formatWarehouseColumnIssue(issue)}`).join('\n')}${options?.hint ? `\n${options.hint}` : ''}`, options);
    this.issues = issues;
  }
}

const ISSUE_KIND_LABEL = { source: 'source', eventStream: 'event stream', featureView: 'feature view' } as const satisfies Record<WarehouseColumnIssue['kind'], string>;

export function formatWarehouseColumnIssue(issue: WarehouseColumnIssue): string {
  return `${ISSUE_KIND_LABEL[issue.kind]} "${issue.object}"${issue.column ? `, column "${issue.column}"` : ''}: ${issue.message}`;
}
