/**
 * The Labels page's outcome delay distribution: how long after its decision each labeled row's first
 * outcome came, in `DELAY_BINS` equal bins from 0 to the labels' window (an outcome counts only within
 * the window, so no delay is longer). Pure.
 */
export const DELAY_BINS = 10;

export interface DelayBin {
  readonly label: string;
  /** [fromSeconds, toSeconds), the last bin closed. */
  readonly fromSeconds: number;
  readonly toSeconds: number;
  readonly rows: number;
}

export function delayHistogram(delaysSeconds: readonly number[], windowSeconds: number): DelayBin[] {
  const width = windowSeconds / DELAY_BINS;
  const counts = new Array<number>(DELAY_BINS).fill(0);
  for (const delay of delaysSeconds) counts[Math.max(0, Math.min(DELAY_BINS - 1, Math.floor(delay / width)))]! += 1;
  return counts.map((rows, i) => {
    const from = i * width;
    const to = (i + 1) * width;
    return { label: `${formatSeconds(from)}–${formatSeconds(to)}`, fromSeconds: from, toSeconds: to, rows };
  });
}

/** `0.5s`, `12s`, `4.5m`, `2h`: a bin edge as people read it. */
export function formatSeconds(seconds: number): string {
  const trim = (value: number) => Number(value.toPrecision(3)).toString();
  if (seconds < 60) return `${trim(seconds)}s`;
  if (seconds < 3600) return `${trim(seconds / 60)}m`;
  if (seconds < 86_400) return `${trim(seconds / 3600)}h`;
  return `${trim(seconds / 86_400)}d`;
}
