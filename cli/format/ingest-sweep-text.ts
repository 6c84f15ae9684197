import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { formatDuration } from '../../core/duration.ts';
import { INGEST_SWEEP_EVERY_SECONDS, ingestSweepWorkflowId } from '../../core/ingest/sweep.ts';

/**
 * What plan prints, for a project with event streams, about the one recurring workflow apply does not
 * create: the ingest sweep `flywheel serve` starts. Empty for a project without streams.
 *
 * @example
 * Started by `flywheel serve` (not by apply):
 *   ingest sweep card_fraud/ingest/sweep: every 10m, one long-lived workflow; ...
 */
export function formatIngestSweepText(project: string, spec: ProjectSpec): string {
  if (Object.keys(spec.eventStreams).length === 0) return '';
  return [
    '',
    'Started by `flywheel serve` (not by apply):',
    `  ingest sweep ${ingestSweepWorkflowId(project)}: every ${formatDuration(INGEST_SWEEP_EVERY_SECONDS)}, one long-lived workflow; ` +
      'loads the closed segments whose ingestion did not start as they closed, and `from` tables by watermark',
    '',
  ].join('\n');
}
