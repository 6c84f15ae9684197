import type { RetentionChange } from '../../core/retention/cutoff.ts';
import { formatDuration } from '../../core/duration.ts';

/**
 * What `flywheel plan` and `flywheel apply` print under the plan when a stream's retention changes:
 * how many stored events the new retention deletes, counted when the plan was made.
 *
 *   Retention (stored events counted now, 2024-03-31T00:00:00.000Z):
 *     clicks: 90d → 30d; the next retention run deletes 3 events older than 2024-03-01T00:00:00.000Z
 */
export function formatRetentionText(changes: readonly RetentionChange[], countedAt: string): string {
  if (changes.length === 0) return '';
  const lines = ['', `Retention (stored events counted now, ${countedAt}):`, ...changes.map((change) =>
    `  ${change.stream}: ${formatDuration(change.beforeSeconds)} → ${formatDuration(change.afterSeconds)}; the next retention run deletes ${change.rows} ${change.rows === 1 ? 'event' : 'events'} older than ${change.cutoff}`)];
  return `${lines.join('\n')}\n`;
}
