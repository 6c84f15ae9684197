import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { TemporalConfig } from '../../core/config.ts';
import { FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_PROJECT, FLYWHEEL_RANGE_END, FLYWHEEL_RANGE_START } from '../../workflows/search-attributes.ts';

/**
 * Runs of a project as Temporal's visibility lists them, found by the search attributes every
 * Flywheel workflow carries (`FlywheelProject`, `FlywheelKind`, `FlywheelObject`; workflows/search-attributes.ts).
 * Read-only: the UI lists runs, it never starts or stops one.
 */

/** One workflow run, as the UI's API answers it. */
export interface RunSummary {
  readonly workflowId: string;
  readonly runId: string;
  readonly workflowType: string;
  /** `training-set`, `labels`, `materialization`, `ingest`, `loop`, `backfill`, `retention` (FlywheelKind). */
  readonly kind: string | null;
  /** The definition the run is about (FlywheelObject), null for a loop of every stage. */
  readonly object: string | null;
  /** RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW. */
  readonly status: string;
  readonly startTime: string;
  readonly closeTime: string | null;
  /** closeTime − startTime, null while running. */
  readonly durationMs: number | null;
  readonly rangeStart: string | null;
  readonly rangeEnd: string | null;
  /** The run's page in the Temporal Web UI. */
  readonly url: string | null;
}

export interface RunQuery {
  readonly kind?: string;
  readonly object?: string;
  /** Most runs returned, newest first. */
  readonly limit: number;
}

/** Finds runs; one per UI server, closed with it. */
export interface RunFinder {
  list(project: string, query: RunQuery): Promise<RunSummary[]>;
  close(): Promise<void>;
}

/** A visibility query with each value as a quoted string (keyword attributes), so a name cannot change its meaning. */
export function runsVisibilityQuery(project: string, query: Omit<RunQuery, 'limit'>): string {
  const clause = (attribute: string, value: string) => `${attribute} = ${JSON.stringify(value)}`;
  return [
    clause(FLYWHEEL_PROJECT.name, project),
    ...(query.kind !== undefined ? [clause(FLYWHEEL_KIND.name, query.kind)] : []),
    ...(query.object !== undefined ? [clause(FLYWHEEL_OBJECT.name, query.object)] : []),
  ].join(' AND ');
}

/** The run's page in the Temporal Web UI (`<ui>/namespaces/<ns>/workflows/<id>/<run>/history`). */
export function temporalRunUrl(uiUrl: string, namespace: string, workflowId: string, runId: string): string {
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

export function toRunSummary(info: WorkflowExecutionInfo, ui: { readonly url: string; readonly namespace: string } | undefined): RunSummary {
  const attributes = info.typedSearchAttributes;
  const instant = (value: Date | undefined) => (value ? value.toISOString() : null);
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    workflowType: info.type,
    kind: attributes.get(FLYWHEEL_KIND) ?? null,
    object: attributes.get(FLYWHEEL_OBJECT) ?? null,
    status: info.status.name,
    startTime: info.startTime.toISOString(),
    closeTime: instant(info.closeTime),
    durationMs: info.closeTime ? info.closeTime.getTime() - info.startTime.getTime() : null,
    rangeStart: instant(attributes.get(FLYWHEEL_RANGE_START)),
    rangeEnd: instant(attributes.get(FLYWHEEL_RANGE_END)),
    url: ui ? temporalRunUrl(ui.url, ui.namespace, info.workflowId, info.runId) : null,
  };
}

/** Connects to the profile's Temporal; the UI's Runs links go to `uiUrl` (the Temporal Web UI). */
export async function connectRunFinder(config: TemporalConfig, uiUrl: string | undefined): Promise<RunFinder> {
  // Loaded when the UI starts, not at the CLI's start (docs/development.md, "Startup").
  const { Client } = await import('@temporalio/client');
  const { connectClient } = await import('../../runtime/temporal-connection.ts');
  const connection = await connectClient(config);
  const client: Client = new Client({ connection, namespace: config.namespace });
  const ui = uiUrl ? { url: uiUrl, namespace: config.namespace } : undefined;
  return {
    async list(project, query) {
      const runs: RunSummary[] = [];
      // Visibility lists newest first; the limit bounds what one page of the UI costs.
      for await (const info of client.workflow.list({ query: runsVisibilityQuery(project, query), pageSize: Math.min(query.limit, 1_000) })) {
        runs.push(toRunSummary(info, ui));
        if (runs.length >= query.limit) break;
      }
      return runs;
    },
    close: () => connection.close(),
  };
}
