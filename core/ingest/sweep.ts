/**
 * The ingestion safety net (workflows/ingest-sweep.ts): one long-lived workflow per project, started
 * by `flywheel serve`, that every INGEST_SWEEP_EVERY_SECONDS loads the closed segments whose
 * triggered ingestion did not happen, and `from` table streams by watermark. Kept here, apart from
 * the Temporal client, so `flywheel plan` can show it without loading Temporal.
 */

/** How often the sweep looks for work: segments are loaded as they close, so the sweep only catches what was missed. */
export const INGEST_SWEEP_EVERY_SECONDS = 600;

/** `<project>/ingest/sweep`: one per project, whatever the number of servers (a second start finds it running). */
export function ingestSweepWorkflowId(project: string): string {
  return `${project}/ingest/sweep`;
}

/** What `flywheel plan --json` says of the sweep (`ingestSweep`), for a project with event streams; undefined without. */
export interface IngestSweepDocument {
  readonly workflowId: string;
  readonly everySeconds: number;
  /** Not apply: `flywheel serve` starts it, or finds it running. */
  readonly startedBy: 'flywheel serve';
}

export function ingestSweepDocument(project: string, streams: readonly string[]): IngestSweepDocument | undefined {
  return streams.length > 0 ? { workflowId: ingestSweepWorkflowId(project), everySeconds: INGEST_SWEEP_EVERY_SECONDS, startedBy: 'flywheel serve' } : undefined;
}
