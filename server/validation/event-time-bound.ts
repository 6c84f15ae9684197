import { DEFAULT_MAX_EVENT_TIME_AHEAD_SECONDS } from '../../core/definitions/event-limits.ts';
import type { StreamSchema } from '../stream-schema.ts';

/**
 * The latest event time a batch may carry: the time the server received it plus the stream's
 * `maxEventTimeAheadSeconds` (default a day). Computed once per request, and the same for both request
 * paths, so they refuse the same events. An event time far in the future would stay the newest of its
 * entity for ever (the online store keeps the newest event time's values).
 */
export interface LatestEventTime {
  /** Epoch milliseconds. */
  readonly ms: number;
  /** The same instant as the log API stores a timestamp, `YYYY-MM-DDTHH:MM:SS.sssZ`: canonical timestamps compare with it as text. */
  readonly iso: string;
  readonly aheadSeconds: number;
}

/** The last instant written with a four-digit year (so `iso` stays 24 characters), 9999-12-31T23:59:59.999Z. */
const MAX_INSTANT_MS = 253402300799999;

/** The bound computed last, and for which `receivedAt`. */
let last: { readonly receivedAt: string; readonly bound: LatestEventTime } | undefined;

export function latestEventTimeOf(schema: StreamSchema, receivedAt: string): LatestEventTime {
  const aheadSeconds = schema.maxEventTimeAheadSeconds ?? DEFAULT_MAX_EVENT_TIME_AHEAD_SECONDS;
  // The requests of one millisecond share it: parsing and formatting two dates per request showed in the log API's profile.
  if (last !== undefined && last.receivedAt === receivedAt && last.bound.aheadSeconds === aheadSeconds) return last.bound;
  const ms = Math.min(Date.parse(receivedAt) + aheadSeconds * 1000, MAX_INSTANT_MS);
  const bound = { ms, iso: new Date(ms).toISOString(), aheadSeconds };
  last = { receivedAt, bound };
  return bound;
}
