import type { EventStreamSpec, ProjectSpec } from '../definitions/specs.ts';

/**
 * What retention keeps: the events of a stream whose event time is at or after `asOf - retention`.
 * Older ones are deleted by the retention workflow (workflows/enforce-retention.ts); one exactly
 * `retention` old is kept (the same edge as a feature value exactly `ttl` old, which is still served).
 * Pure.
 *
 * @example
 * retentionCutoff('2024-03-31T00:00:00.000Z', 30 * 86_400); // '2024-03-01T00:00:00.000Z'
 */
export function retentionCutoff(asOf: string, retentionSeconds: number): string {
  const millis = Date.parse(asOf);
  if (Number.isNaN(millis)) throw new RangeError(`not an ISO-8601 instant: ${JSON.stringify(asOf)}`);
  return new Date(millis - retentionSeconds * 1000).toISOString();
}

/**
 * The streams a retention run covers, by name: `only` (when given and present), else every stream of
 * the project; with `unscheduledOnly`, those without a `retentionSchedule` of their own (what the
 * ingest sweep's daily run covers, so no stream is enforced by two recurring runs).
 */
export function streamsUnderRetention(spec: ProjectSpec, only?: string, options: { readonly unscheduledOnly?: boolean } = {}): EventStreamSpec[] {
  const streams = Object.values(spec.eventStreams)
    .filter((stream) => !options.unscheduledOnly || stream.retentionSchedule === undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
  return only === undefined ? streams : streams.filter((stream) => stream.name === only);
}

/** A stream whose retention a plan changes: the stored events the new retention would delete, counted as of the plan. */
export interface RetentionChange {
  readonly stream: string;
  readonly beforeSeconds: number;
  readonly afterSeconds: number;
  /** Events older than this (ISO-8601) are deleted by the next retention run. */
  readonly cutoff: string;
  /** Stored events older than the cutoff now. */
  readonly rows: number;
}

/**
 * The streams present in both the applied and the desired spec whose retention differs, by name:
 * their tables exist, so plan can count what the new retention deletes. A new stream has nothing
 * stored; a removed one keeps its table untouched.
 */
export function changedRetentions(applied: ProjectSpec | undefined, desired: ProjectSpec): { stream: EventStreamSpec; beforeSeconds: number }[] {
  if (!applied) return [];
  return streamsUnderRetention(desired).flatMap((stream) => {
    const before = applied.eventStreams[stream.name];
    return before && before.retentionSeconds !== stream.retentionSeconds ? [{ stream, beforeSeconds: before.retentionSeconds }] : [];
  });
}
