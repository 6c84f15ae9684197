import { isNumericType } from '../../core/training-set/consistency.ts';
import type { ValueType } from '../../core/types.ts';

/**
 * The Feature view page's skew histogram: one feature's values over a sample of entities, offline (the
 * view's latest values as of now, computed by the warehouse) against online (what the online store
 * serves for the same entities). Pure: the caller reads both sides.
 *
 * Numbers fall in `BIN_COUNT` equal bins over the range both sides span (the last bin closed); other
 * types are counted by value, the most frequent first (ties by value), at most `BIN_COUNT` of them and
 * the rest as `(other)`. A null, a missing or an expired online value is counted in `nulls`, not in a bin.
 */

export const BIN_COUNT = 10;

export interface HistogramBin {
  readonly label: string;
  /** For numbers: [low, high), the last bin [low, high]. */
  readonly low?: number;
  readonly high?: number;
  readonly offline: number;
  readonly online: number;
}

export interface ValueHistogram {
  readonly feature: string;
  readonly type: ValueType;
  /** Entities in the sample. */
  readonly sample: number;
  readonly bins: readonly HistogramBin[];
  readonly nulls: { readonly offline: number; readonly online: number };
  /** Entities whose online value is not the offline one (numbers within 1e-9 relative count as equal). */
  readonly differing: number;
}

export type SampleValue = string | number | boolean | bigint | null;

export function valueHistogram(feature: string, type: ValueType, offline: readonly SampleValue[], online: readonly SampleValue[]): ValueHistogram {
  if (offline.length !== online.length) throw new RangeError(`offline has ${offline.length} values, online ${online.length}: one each per entity`);
  const differing = offline.filter((value, i) => !sameValue(value, online[i]!)).length;
  const nulls = { offline: offline.filter((v) => v === null).length, online: online.filter((v) => v === null).length };
  const bins = isNumericType(type) ? numericBins(offline, online) : categoryBins(offline, online);
  return { feature, type, sample: offline.length, bins, nulls, differing };
}

function numericBins(offline: readonly SampleValue[], online: readonly SampleValue[]): HistogramBin[] {
  const numbers = (values: readonly SampleValue[]) => values.filter((v) => v !== null).map(Number);
  const a = numbers(offline);
  const b = numbers(online);
  const all = [...a, ...b];
  if (all.length === 0) return [];
  const low = Math.min(...all);
  const high = Math.max(...all);
  if (low === high) return [{ label: formatNumber(low), low, high, offline: a.length, online: b.length }];
  const width = (high - low) / BIN_COUNT;
  const binOf = (value: number) => Math.min(BIN_COUNT - 1, Math.floor((value - low) / width));
  const counts = Array.from({ length: BIN_COUNT }, () => ({ offline: 0, online: 0 }));
  for (const value of a) counts[binOf(value)]!.offline += 1;
  for (const value of b) counts[binOf(value)]!.online += 1;
  return counts.map((count, i) => {
    const from = low + i * width;
    const to = i === BIN_COUNT - 1 ? high : low + (i + 1) * width;
    return { label: `${formatNumber(from)}–${formatNumber(to)}`, low: from, high: to, ...count };
  });
}

function categoryBins(offline: readonly SampleValue[], online: readonly SampleValue[]): HistogramBin[] {
  const counts = new Map<string, { offline: number; online: number }>();
  const tally = (values: readonly SampleValue[], side: 'offline' | 'online') => {
    for (const value of values) {
      if (value === null) continue;
      const key = String(value);
      const count = counts.get(key) ?? { offline: 0, online: 0 };
      count[side] += 1;
      counts.set(key, count);
    }
  };
  tally(offline, 'offline');
  tally(online, 'online');
  const ranked = [...counts].sort(([ka, a], [kb, b]) => b.offline + b.online - (a.offline + a.online) || (ka < kb ? -1 : ka > kb ? 1 : 0));
  const shown = ranked.slice(0, BIN_COUNT).map(([label, count]) => ({ label, ...count }));
  const rest = ranked.slice(BIN_COUNT);
  if (rest.length === 0) return shown;
  return [...shown, { label: '(other)', offline: rest.reduce((n, [, c]) => n + c.offline, 0), online: rest.reduce((n, [, c]) => n + c.online, 0) }];
}

function sameValue(a: SampleValue, b: SampleValue): boolean {
  if (a === null || b === null) return a === b;
  if (typeof a === 'number' || typeof b === 'number' || typeof a === 'bigint' || typeof b === 'bigint') {
    const x = Number(a);
    const y = Number(b);
    return x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
  }
  return String(a) === String(b);
}

/** Up to 4 significant digits, no exponent for the values a histogram shows. */
function formatNumber(value: number): string {
  return Number(value.toPrecision(4)).toString();
}
