import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { formatDuration } from '../../core/duration.ts';
import { INGEST_SWEEP_EVERY_SECONDS, ingestSweepWorkflowId, RETENTION_SWEEP_EVERY_SECONDS } from '../../core/ingest/sweep.ts';
import { streamsUnderRetention } from '../../core/retention/cutoff.ts';

/**
 * What plan prints, for a project with event streams, about the one recurring workflow apply does not
 * create: the ingest sweep `flywheel serve` starts. Empty for a project without streams.
 *
 * @example
 * Started by `flywheel serve` (not by apply):
 *   ingest sweep card_fraud/ingest/sweep: every 10m, one long-lived workflow; ...
 *   retention of transactions: every 1d from the sweep (streams without a retentionSchedule)
 */
export function formatIngestSweepText(project: string, spec: ProjectSpec): string {
  if (Object.keys(spec.eventStreams).length === 0) return '';
  const unscheduled = streamsUnderRetention(spec, undefined, { unscheduledOnly: true }).map((stream) => stream.name);
  return [
    '',
    'Started by `flywheel serve` (not by apply):',
    `  ingest sweep ${ingestSweepWorkflowId(project)}: every ${formatDuration(INGEST_SWEEP_EVERY_SECONDS)}, one long-lived workflow; ` +
      'loads the closed segments whose ingestion did not start as they closed, and `from` tables by watermark',
    ...(unscheduled.length > 0 ? [`  retention of ${unscheduled.join(', ')}: every ${formatDuration(RETENTION_SWEEP_EVERY_SECONDS)} from the sweep (streams without a retentionSchedule)`] : []),
    '',
  ].join('\n');
}
