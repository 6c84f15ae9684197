import type { ObjectStore } from '../../connectors/object-store/object-store.ts';
import type { OnlineStore } from '../../connectors/online-store/online-store.ts';
import type { ResolvedTemporalConfig } from '../../core/config.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import type { ScheduleReader } from '../../runtime/plan-document.ts';
import type { RunFinder } from './temporal-runs.ts';
import type { WarehouseAccess } from './warehouse-access.ts';

/**
 * Everything the UI's API reads, for one project: the warehouse (registry, state tables, stream
 * tables), the object store (dataset manifests), the online store (for the skew histogram), Temporal's
 * visibility (runs), and the definitions folder (for the Plan page). Built once per server by
 * `uiSourcesFromConfig`; tests build it from real connectors of their own.
 */
export interface UiSources {
  readonly project: string;
  readonly warehouse: WarehouseAccess;
  readonly objectStore: ObjectStore;
  /** Undefined when the profile's online store cannot be opened; the histogram then says so. */
  readonly onlineStore: OnlineStore | undefined;
  /** Undefined when Temporal is not reachable; pages then show no runs and say why. */
  readonly runs: RunFinder | undefined;
  /** Why `runs` is undefined, for the pages. */
  readonly runsUnavailable?: string;
  /** The Temporal Web UI, for links to a run's page. */
  readonly temporalUi: { readonly url: string; readonly namespace: string } | undefined;
  /** The project's definitions as they are in its folder now (what `flywheel plan` compares). */
  loadDefinitions(): Promise<ProjectSpec>;
  /** A definition's relative path (a Parquet source's) resolved against the project's folder, as plan resolves it. */
  resolvePath(path: string): string;
  /**
   * The profile's Temporal, for the Plan page's schedule diff: where its schedules live, its task
   * queues (part of each desired schedule), and a reader of them, connected when first needed (only
   * when a schedule is or was declared). `connect` throws when Temporal is away; the page says so.
   */
  readonly schedules: {
    readonly temporal: Pick<ResolvedTemporalConfig, 'address' | 'namespace' | 'taskQueues'>;
    connect(): Promise<ScheduleReader>;
  };
  /** The clock; tests fix it. */
  now(): Date;
}
