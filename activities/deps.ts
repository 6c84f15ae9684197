import type { OpenEngineOptions } from '../connectors/offline/create-offline-engine.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import type { OnlineStore } from '../connectors/online-store/online-store.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import type { MaterializationState } from '../core/materialization/run-plan.ts';
import { activityStatementContext } from './statement-context.ts';

/** An applied registry version as activities read it. */
export interface RegistryVersion {
  readonly version: number;
  readonly spec: ProjectSpec;
}

/** Reads applied registry versions from the warehouse (implemented by connectors/registry). */
export interface RegistryReader {
  latest(project: string): Promise<RegistryVersion | undefined>;
  get(project: string, version: number): Promise<RegistryVersion | undefined>;
}

/** Reads and records the materialization state of feature views (implemented by connectors/registry/materialization-state.ts). */
export interface MaterializationStateStore {
  get(project: string, featureView: string): Promise<MaterializationState | undefined>;
  /** Writes `next` when `accept` says so given the stored state, atomically. */
  record(next: MaterializationState, accept: (current: MaterializationState | undefined) => boolean): Promise<{ recorded: boolean; previous: MaterializationState | undefined }>;
}

/**
 * What activities are built from. The worker wires real connectors from the profile; tests inject
 * real ones over temporary files. Credentials never pass through here from workflows: the
 * connectors read them from the worker's environment.
 */
export interface ActivityDeps {
  readonly project: string;
  /**
   * Opens the offline engine for the length of one activity. DuckDB allows one writer process per
   * file, so the worker holds it only while it works and `flywheel apply` can run between activities.
   * `options.statementContext` tags the activity's statements and cancels them on the warehouse when
   * the activity is cancelled (Snowflake; DuckDB ignores it): pass it on to createOfflineEngine.
   */
  openEngine(options?: OpenEngineOptions): Promise<OfflineEngine>;
  registry(engine: OfflineEngine): RegistryReader;
  readonly objectStore: ObjectStore;
  /** A local folder for files on their way to the object store. */
  readonly scratchDir: string;
  /**
   * The project's state folder, where `flywheel serve` keeps its log segments (`<stateDir>/segments`).
   * Ingestion reads segments from here, so it runs on a worker that shares the server's disk.
   */
  readonly stateDir?: string;
  /** The project's folder, where a TypeScript model's module path starts (docs/models.md); default the working directory. */
  readonly projectRoot?: string;
  /** Where materialization writes the latest feature values; workers get it from the profile. */
  readonly onlineStore?: OnlineStore;
  /** Where materialization keeps each view's watermark: a table in the warehouse, next to the registry. */
  materializationState?(engine: OfflineEngine): MaterializationStateStore;
}

/**
 * Runs `work` with an engine opened for it, and always closes it. Inside an activity the engine's
 * statements carry the activity's statement context (activityStatementContext).
 */
export async function withEngine<T>(deps: ActivityDeps, work: (engine: OfflineEngine) => Promise<T>): Promise<T> {
  const engine = await deps.openEngine({ statementContext: activityStatementContext(deps.project) });
  try {
    return await work(engine);
  } finally {
    await engine.close();
  }
}
