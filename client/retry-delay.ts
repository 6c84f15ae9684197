/** How long the client waits before retrying a batch: exponential backoff with full jitter, or Retry-After. */

export interface BackoffPolicy {
  /** Ceiling of the first wait; doubles with each retry. */
  readonly baseDelayMs: number;
  /** Largest ceiling. */
  readonly maxDelayMs: number;
}

/** A Retry-After larger than this is cut to it, so one answer cannot stall a stream (and `flush()`) for hours. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Wait before retry number `retry` (0 for the first): a uniform draw from
 * [0, min(maxDelayMs, baseDelayMs · 2^retry)] ("full jitter"), so clients that failed together
 * do not retry together. When the server sent Retry-After, at least that long (up to MAX_RETRY_AFTER_MS).
 */
export function retryDelayMs(retry: number, policy: BackoffPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  const backoff = Math.floor(random() * ceiling);
  return retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

/** A Retry-After header (delay-seconds or an HTTP date) in milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
