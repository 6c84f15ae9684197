import type { ReplayedQuarantine } from '../../activities/quarantine.ts';

/** A quarantined event as `flywheel streams quarantine --json` prints it. */
export interface QuarantinedEventDocument {
  readonly batch: string;
  readonly eventIndex: number;
  readonly eventId: string | null;
  readonly error: string;
  readonly quarantinedAt: string;
  /** The event's stored JSON, as received. */
  readonly event: string;
}

/**
 * How `flywheel streams quarantine <stream>` prints for people: each event with where it came from,
 * the warehouse's reason and its JSON.
 *
 *   Stream "clicks": 1 event in quarantine.
 *
 *   seg-000042 event 3 (id e9), quarantined 2024-05-01T12:00:00.000Z
 *     error: Constraint Error: NOT NULL constraint failed: stream_clicks.page
 *     event: {"_event_id":"e9","user_id":1,...}
 *
 *   After a fix, load them again with: flywheel streams quarantine clicks --replay
 */
export function formatQuarantineText(stream: string, events: readonly QuarantinedEventDocument[]): string {
  if (events.length === 0) return `Stream "${stream}": no events in quarantine.\n`;
  const blocks = events.map((e) => [
    `${e.batch} event ${e.eventIndex}${e.eventId === null ? '' : ` (id ${e.eventId})`}, quarantined ${e.quarantinedAt}`,
    `  error: ${e.error}`,
    `  event: ${e.event}`,
  ].join('\n'));
  return `Stream "${stream}": ${events.length} event${events.length === 1 ? '' : 's'} in quarantine.\n\n${blocks.join('\n\n')}\n\nAfter a fix, load them again with: flywheel streams quarantine ${stream} --replay\n`;
}

/** One line on what a replay did. */
export function formatReplayText(result: ReplayedQuarantine): string {
  if (result.alreadyReplayed) return `This replay of stream "${result.stream}" had committed already (${result.loaded} loaded).\n`;
  if (result.events === 0) return `Stream "${result.stream}": no events in quarantine, nothing to replay.\n`;
  const s = (n: number) => (n === 1 ? '' : 's');
  return `Replayed ${result.events} quarantined event${s(result.events)} of stream "${result.stream}": ${result.loaded} loaded, ${result.alreadyStored} already stored, ${result.refused} still refused.\n`;
}
