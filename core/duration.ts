/**
 * Durations in definitions are written like `30m`, `1h`, `7d` or `2w` (or a number of seconds) and
 * stored as whole seconds, so the same ttl reads the same offline and online.
 */
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;
const DURATION_PATTERN = /^(\d+)\s*(s|m|h|d|w)$/;

export type DurationInput = string | number;

/** Seconds for a duration, or a message saying why it cannot be read. */
export function parseDuration(input: unknown): { seconds: number } | { error: string } {
  if (typeof input === 'number') {
    if (Number.isInteger(input) && input > 0) return { seconds: input };
    return { error: `expected a positive whole number of seconds, got ${input}` };
  }
  if (typeof input !== 'string') return { error: `expected a duration such as "1h" or "7d", got ${typeof input}` };
  const match = DURATION_PATTERN.exec(input.trim());
  if (!match) return { error: `expected a duration such as "30m", "1h", "7d" or "2w", got ${JSON.stringify(input)}` };
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
  if (seconds <= 0) return { error: 'a duration must be greater than zero' };
  return { seconds };
}

/**
 * The shortest exact spelling of a number of seconds (`86400` → `1d`). `weeks: false` stops at days,
 * as people write a ttl or a retention (`604800` → `7d`, not `1w`).
 */
export function formatDuration(seconds: number, options: { weeks?: boolean } = {}): string {
  for (const [unit, size] of [['w', 604_800], ['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (unit === 'w' && options.weeks === false) continue;
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
