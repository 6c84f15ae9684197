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
