/**
 * Errors raised by Flywheel's core. Each carries the context a user needs to fix the problem
 * (file, object, field) as read-only fields. The core knows nothing of CLIs, HTTP or Temporal:
 * the CLI turns these into messages and exit codes, activities into retryable or non-retryable failures.
 */

/** Base class of every error Flywheel raises on purpose. `retryable` tells activities how to fail. */
export class FlywheelError extends Error {
  readonly retryable: boolean = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found in a definition: where it is and what is wrong. */
export interface DefinitionIssue {
  readonly file: string | undefined;
  readonly kind: string | undefined;
  readonly object: string | undefined;
  readonly field: string | undefined;
  readonly message: string;
}

export function formatIssue(issue: DefinitionIssue): string {
  const where = [
    issue.file,
    issue.kind && issue.object ? `${issue.kind} "${issue.object}"` : issue.object,
    issue.field ? `field "${issue.field}"` : undefined,
  ].filter(Boolean);
  return `${where.join(', ')}: ${issue.message}`;
}

/** Thrown when loading or validating definitions finds problems; lists all of them at once. */
export class DefinitionError extends FlywheelError {
  readonly issues: readonly DefinitionIssue[];
  constructor(issues: readonly DefinitionIssue[], options?: { cause?: unknown }) {
    const head = issues.length === 1 ? 'Invalid definition' : `${issues.length} problems in the definitions`;
    super(`${head}:\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`, options);
    this.issues = issues;
  }
}

/** Thrown when flywheel.config.ts or a profile is invalid, or an environment variable it names is missing. */
export class ConfigError extends FlywheelError {
  readonly file: string | undefined;
  readonly field: string | undefined;
  constructor(message: string, context: { file?: string; field?: string } = {}, options?: { cause?: unknown }) {
    const where = [context.file, context.field ? `field "${context.field}"` : undefined].filter(Boolean).join(', ');
    super(where ? `${where}: ${message}` : message, options);
    this.file = context.file;
    this.field = context.field;
  }
}

/** Thrown when an identifier from a definition is not safe to put into SQL. */
export class IdentifierError extends FlywheelError {
  readonly identifier: string;
  constructor(identifier: string, reason: string) {
    super(`Invalid identifier ${JSON.stringify(identifier)}: ${reason}`);
    this.identifier = identifier;
  }
}

/** Thrown when an object a run refers to (a training set, a table, a registry version) does not exist. */
export class NotFoundError extends FlywheelError {
  readonly what: string;
  readonly objectName: string;
  constructor(what: string, objectName: string, hint?: string) {
    super(`${what} "${objectName}" not found${hint ? `. ${hint}` : ''}`);
    this.what = what;
    this.objectName = objectName;
  }
}

/** Thrown by connectors when an engine or store fails in a way a retry may fix (connection lost, lock held). */
export class TransientError extends FlywheelError {
  override readonly retryable = true;
}
