import type { MaterializationMode, MaterializationState } from '../../core/materialization/run-plan.ts';
import { materializationStateStatements, type MaterializationStateStatements } from '../../core/sql/materialization-state-sql.ts';
import { DEFAULT_WAREHOUSE_SCHEMA } from '../../core/sql/warehouse-objects.ts';
import { EngineQueryError } from '../offline/engine-query-error.ts';
import type { OfflineEngine } from '../offline/offline-engine.ts';

/**
 * The materialization state of a project's feature views, kept in the warehouse next to the registry
 * (`<schema>.materialization_state`, core/sql/materialization-state-sql.ts): per view, the last
 * watermark and what it was computed with.
 *
 * @example
 * const states = new WarehouseMaterializationState(engine);
 * const state = await states.get('card_fraud', 'user_spend');
 * await states.record(next, (current) => watermarkDecision(current, run).advance);
 */
export class WarehouseMaterializationState {
  private readonly statements: MaterializationStateStatements;

  constructor(
    private readonly engine: OfflineEngine,
    options: { readonly schema?: string } = {},
  ) {
    this.statements = materializationStateStatements(engine.dialect, options.schema ?? DEFAULT_WAREHOUSE_SCHEMA);
  }

  /** The state of one view; undefined when it was never recorded (or the table does not exist yet). */
  async get(project: string, featureView: string): Promise<MaterializationState | undefined> {
    if (!(await this.tableExists())) return undefined;
    const [row] = await this.engine.all(this.statements.get(project, featureView));
    return row ? toState(row) : undefined;
  }

  /** The states of every view of a project that has one, by view name. */
  async list(project: string): Promise<MaterializationState[]> {
    if (!(await this.tableExists())) return [];
    return (await this.engine.all(this.statements.list(project))).map(toState);
  }

  /**
   * Replaces the state of `next.featureView` with `next` when `accept` says so, given the state
   * stored now; the read, the decision and the write are one transaction (the table is created first
   * if needed). Returns whether it was written, and the state stored before.
   */
  async record(next: MaterializationState, accept: (current: MaterializationState | undefined) => boolean): Promise<{ recorded: boolean; previous: MaterializationState | undefined }> {
    // Two runs recording a view's first state at once: the later one meets the earlier one's table
    // or row (a duplicate key, a catalog or write-write conflict). Reading again and letting `accept`
    // decide against the row now stored is what a serial order would have done.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ensureTable();
        return await this.engine.transaction(async (tx) => {
          const [row] = await tx.all(this.statements.get(next.project, next.featureView));
          const previous = row ? toState(row) : undefined;
          if (!accept(previous)) return { recorded: false, previous };
          await tx.run(this.statements.delete(next.project, next.featureView));
          await tx.run(this.statements.insert(next));
          return { recorded: true, previous };
        });
      } catch (error) {
        // A transaction that failed wrote nothing (it was rolled back), whatever the engine said about
        // why: DuckDB names the conflict, the Snowflake emulator says "Unhandled exception" for the other
        // run's row at INSERT or COMMIT. Deciding again is safe; a statement that always fails fails 5 times.
        if (attempt >= 5 || !(error instanceof EngineQueryError || /Duplicate key|conflict/i.test(String(error)))) throw error;
      }
    }
  }

  /**
   * Creates the schema and table if needed. Two runs creating them at once can fail one `CREATE … IF
   * NOT EXISTS` (of the schema or of the table) with an error that does not say why (the Snowflake
   * emulator answers "Unhandled exception" for its catalog's duplicate key): when the table is there
   * afterwards, the other run made it, which is all this wanted.
   */
  private async ensureTable(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.engine.run(this.statements.createSchema());
        await this.engine.run(this.statements.createTable());
        return;
      } catch (error) {
        if (await this.tableExists().catch(() => false)) return;
        // The schema's creation lost the race: the next attempt finds it there and goes on to the table.
        if (attempt >= 3) throw error;
      }
    }
  }

  private async tableExists(): Promise<boolean> {
    const [row] = await this.engine.all<{ exists: unknown }>(this.statements.tableExists());
    return Number(row?.exists ?? 0) > 0;
  }
}

function toState(row: Record<string, unknown>): MaterializationState {
  return {
    project: String(row.project),
    featureView: String(row.feature_view),
    watermark: String(row.watermark),
    definitionHash: String(row.definition_hash),
    registryVersion: Number(row.registry_version),
    mode: String(row.mode) as MaterializationMode,
    rows: Number(row.rows),
    finishedAt: String(row.finished_at),
    runId: String(row.run_id),
  };
}
