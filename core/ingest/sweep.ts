import type { ProjectSpec } from '../definitions/specs.ts';
import { streamsUnderRetention } from '../retention/cutoff.ts';

/**
 * The ingestion safety net (workflows/ingest-sweep.ts): one long-lived workflow per project, started
 * by `flywheel serve`, that every INGEST_SWEEP_EVERY_SECONDS loads the closed segments whose
 * triggered ingestion did not happen, and `from` table streams by watermark. Kept here, apart from
 * the Temporal client, so `flywheel plan` can show it without loading Temporal. Once a day it also
 * enforces the retention of the streams that declare no `retentionSchedule` of their own.
 */

/** How often the sweep looks for work: segments are loaded as they close, so the sweep only catches what was missed. */
export const INGEST_SWEEP_EVERY_SECONDS = 600;

/** How often the sweep runs retention for the streams that declare no `retentionSchedule` of their own. */
export const RETENTION_SWEEP_EVERY_SECONDS = 86_400;

/** `<project>/ingest/sweep`: one per project, whatever the number of servers (a second start finds it running). */
export function ingestSweepWorkflowId(project: string): string {
  return `${project}/ingest/sweep`;
}

/** What `flywheel plan --json` says of the sweep (`ingestSweep`), for a project with event streams; undefined without. */
export interface IngestSweepDocument {
  readonly workflowId: string;
  readonly everySeconds: number;
  /** The streams whose retention the sweep enforces (those without a retentionSchedule), and how often. */
  readonly retention: { readonly streams: readonly string[]; readonly everySeconds: number };
  /** Not apply: `flywheel serve` starts it, or finds it running. */
  readonly startedBy: 'flywheel serve';
}

export function ingestSweepDocument(project: string, spec: ProjectSpec): IngestSweepDocument | undefined {
  if (Object.keys(spec.eventStreams).length === 0) return undefined;
  const retention = { streams: streamsUnderRetention(spec, undefined, { unscheduledOnly: true }).map((stream) => stream.name), everySeconds: RETENTION_SWEEP_EVERY_SECONDS };
  return { workflowId: ingestSweepWorkflowId(project), everySeconds: INGEST_SWEEP_EVERY_SECONDS, retention, startedBy: 'flywheel serve' };
}
