import { emptyProject, type ProjectSpec } from '../../core/definitions/specs.ts';
import { FlywheelError } from '../../core/errors.ts';
import { definitionHash } from '../../core/plan/definition-hash.ts';
import type { CompiledQuery } from '../../core/sql/compiled-query.ts';
import { registryStatements, type RegistryRow, type RegistryStatements } from '../../core/sql/registry-sql.ts';
import { DEFAULT_WAREHOUSE_SCHEMA } from '../../core/sql/warehouse-objects.ts';
import type { OfflineEngine } from '../offline/offline-engine.ts';

/** One applied version of a project's definitions, as the registry stores it. */
export interface RegistryVersion {
  readonly version: number;
  /** ISO 8601 instant. */
  readonly appliedAt: string;
  readonly project: string;
  /** definitionHash(spec). */
  readonly hash: string;
  readonly spec: ProjectSpec;
  readonly appliedBy: string;
}

export interface SaveOptions {
  /** Statements to run in the same transaction, before the new version is written (the warehouse objects' DDL). */
  readonly statements?: readonly CompiledQuery[];
  /** Who applied it (a user name, a CI job); stored with the version. */
  readonly appliedBy?: string;
  /** Defaults to now. */
  readonly appliedAt?: Date;
  /**
   * The version the change was planned against (0: none). When another apply saved a newer version
   * meanwhile, save fails with RegistryConflictError and writes nothing.
   */
  readonly basedOn?: number;
}

/** Thrown by save when the registry moved past the version a plan was made against. */
export class RegistryConflictError extends FlywheelError {
  readonly project: string;
  readonly expected: number;
  readonly actual: number;
  constructor(project: string, expected: number, actual: number) {
    super(`Registry of project "${project}" is at version ${actual}, but this change was planned against ${expected === 0 ? 'an empty registry' : `version ${expected}`}; plan again`);
    this.project = project;
    this.expected = expected;
    this.actual = actual;
  }
}

/** Thrown when a stored registry row cannot be read back (not JSON, or its hash does not match its spec). */
export class RegistryCorruptError extends FlywheelError {
  readonly project: string;
  readonly version: number;
  constructor(project: string, version: number, reason: string, options?: { cause?: unknown }) {
    super(`Registry version ${version} of project "${project}" cannot be read: ${reason}`, options);
    this.project = project;
    this.version = version;
  }
}

/**
 * The registry kept in the warehouse itself, in the table `<schema>.registry` (see
 * core/sql/registry-sql.ts): versions are numbered per project from 1, and a version is written in
 * the same transaction as the DDL that creates its warehouse objects, so a failed apply leaves none
 * where DDL is transactional (Dialect.transactionalDdl: DuckDB). On Snowflake the DDL runs first and
 * a failed apply can leave objects without a version; they are idempotent, so the next apply converges.
 *
 * @example
 * const registry = new WarehouseRegistry(engine);
 * const current = await registry.latest('card_fraud');
 * const { version } = await registry.save('card_fraud', spec, { statements: ddl, appliedBy: 'ci' });
 */
export class WarehouseRegistry {
  private readonly statements: RegistryStatements;

  constructor(
    private readonly engine: OfflineEngine,
    options: { readonly schema?: string } = {},
  ) {
    this.statements = registryStatements(engine.dialect, options.schema ?? DEFAULT_WAREHOUSE_SCHEMA);
  }

  /** The newest version of `project`, or undefined when none was applied (or the registry table does not exist yet). */
  async latest(project: string): Promise<RegistryVersion | undefined> {
    if (!(await this.tableExists())) return undefined;
    const [row] = await this.engine.all<Record<string, unknown>>(this.statements.latest(project));
    return row ? toVersion(row) : undefined;
  }

  /** One version of `project`, or undefined when it does not exist. */
  async get(project: string, version: number): Promise<RegistryVersion | undefined> {
    if (!(await this.tableExists())) return undefined;
    const [row] = await this.engine.all<Record<string, unknown>>(this.statements.get(project, version));
    return row ? toVersion(row) : undefined;
  }

  /**
   * Runs `options.statements` and stores `spec` as the next version of `project` (the newest + 1), in
   * one transaction: either both land, or neither does.
   */
  async save(project: string, spec: ProjectSpec, options: SaveOptions = {}): Promise<{ version: number; hash: string }> {
    const hash = definitionHash(spec);
    const appliedAt = (options.appliedAt ?? new Date()).toISOString();
    const ddl = [...(options.statements ?? []), this.statements.createSchema(), this.statements.createTable()];
    // Where DDL commits on its own (Snowflake), a transaction around it would hold nothing back: the
    // objects are created first (each statement is idempotent, so a failed apply re-run converges) and
    // only the version is written in the transaction.
    if (!this.engine.dialect.transactionalDdl) for (const statement of ddl) await this.engine.run(statement);
    return this.engine.transaction(async (tx) => {
      if (this.engine.dialect.transactionalDdl) for (const statement of ddl) await tx.run(statement);
      const [next] = await tx.all<{ version: unknown }>(this.statements.nextVersion(project));
      const version = Number(next?.version ?? 1);
      if (options.basedOn !== undefined && options.basedOn !== version - 1) throw new RegistryConflictError(project, options.basedOn, version - 1);
      await tx.run(this.statements.insert({
        version, applied_at: appliedAt, project, hash, spec: JSON.stringify(spec), applied_by: options.appliedBy ?? 'unknown',
      }));
      return { version, hash };
    });
  }

  private async tableExists(): Promise<boolean> {
    const [row] = await this.engine.all<{ exists: unknown }>(this.statements.tableExists());
    return Number(row?.exists ?? 0) > 0;
  }
}

function toVersion(row: Record<string, unknown>): RegistryVersion {
  const stored = row as unknown as RegistryRow;
  const version = Number(stored.version);
  let spec: ProjectSpec;
  try {
    spec = JSON.parse(String(stored.spec)) as ProjectSpec;
  } catch (cause) {
    throw new RegistryCorruptError(stored.project, version, 'its spec is not valid JSON', { cause });
  }
  if (definitionHash(spec) !== stored.hash) throw new RegistryCorruptError(stored.project, version, 'its spec does not match its hash');
  return {
    version,
    appliedAt: toIsoString(row.applied_at),
    project: stored.project,
    hash: stored.hash,
    // Versions applied before a kind existed (event streams) lack its collection: read it as empty.
    spec: { ...emptyProject(), ...spec },
    appliedBy: stored.applied_by,
  };
}

function toIsoString(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  const parsed = new Date(String(value));
  return Number.isNaN(parsed.getTime()) ? String(value) : parsed.toISOString();
}
