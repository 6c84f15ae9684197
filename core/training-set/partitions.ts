import type { PartitionUnit } from '../definitions/specs.ts';
import { FlywheelError } from '../errors.ts';
import { parseInstant } from '../instant.ts';

/**
 * Partitions of a training set: UTC intervals of the spine timestamp. A partition's key is also its
 * folder (`day=2024-03-01`, `hour=2024-03-01T05`, `month=2024-03`, hive style, so pandas, polars and
 * DuckDB read the folder as a dataset); `none` puts every row in one partition, `all`.
 */
export interface Partition {
  /** Folder name, `<unit>=<value>`, or `all`. */
  readonly key: string;
  readonly value: string;
  /** Inclusive start and exclusive end, ISO-8601 instants; null for `none`. */
  readonly start: string | null;
  readonly end: string | null;
}

/** Thrown when a requested time range does not start and end on partition boundaries. */
export class PartitionRangeError extends FlywheelError {}

const ALL: Partition = { key: 'all', value: 'all', start: null, end: null };

/** The partition holding `instant`. */
export function partitionOf(instant: Date, unit: PartitionUnit): Partition {
  if (unit === 'none') return ALL;
  const start = truncate(instant, unit);
  return describe(start, unit);
}

/** The partition with folder key `key` (`day=2024-03-01`), or undefined when it is not one of `unit`. */
export function partitionFromKey(key: string, unit: PartitionUnit): Partition | undefined {
  if (unit === 'none') return key === 'all' ? ALL : undefined;
  const prefix = `${unit}=`;
  if (!key.startsWith(prefix)) return undefined;
  const value = key.slice(prefix.length);
  const iso = unit === 'month' ? `${value}-01T00:00:00Z` : unit === 'day' ? `${value}T00:00:00Z` : `${value}:00:00Z`;
  const start = new Date(iso);
  if (Number.isNaN(start.getTime())) return undefined;
  const partition = describe(start, unit);
  return partition.key === key ? partition : undefined;
}

/**
 * The partitions covering [from, to). Both ends must fall on partition boundaries, since a partition
 * is always rebuilt whole (re-running it replaces it exactly).
 */
export function partitionsInRange(from: string, to: string, unit: PartitionUnit): Partition[] {
  if (unit === 'none') throw new PartitionRangeError('this training set is not partitioned (partitionBy: "none"); build it without --from/--to');
  const [start, end] = ([['--from', from], ['--to', to]] as const).map(([name, text]) => {
    // Compared as text in canonical form: a Date would drop the microseconds of 00:00:00.000001Z.
    const instant = parseInstant(text, name);
    const boundary = truncate(new Date(instant), unit);
    if (boundary.toISOString() !== instant) {
      throw new PartitionRangeError(`${name} ${instant} is not on a ${unit} boundary; partitions are rebuilt whole, so use e.g. ${boundary.toISOString()}`);
    }
    return boundary;
  }) as [Date, Date];
  if (start >= end) throw new PartitionRangeError(`--from ${start.toISOString()} must be before --to ${end.toISOString()}`);
  const partitions: Partition[] = [];
  for (let cursor = start; cursor < end; cursor = next(cursor, unit)) partitions.push(describe(cursor, unit));
  return partitions;
}

function describe(start: Date, unit: Exclude<PartitionUnit, 'none'>): Partition {
  const iso = start.toISOString();
  const value = unit === 'month' ? iso.slice(0, 7) : unit === 'day' ? iso.slice(0, 10) : iso.slice(0, 13);
  return { key: `${unit}=${value}`, value, start: iso, end: next(start, unit).toISOString() };
}

function truncate(instant: Date, unit: Exclude<PartitionUnit, 'none'>): Date {
  const d = new Date(instant.getTime());
  if (unit === 'hour') d.setUTCMinutes(0, 0, 0);
  else d.setUTCHours(0, 0, 0, 0);
  if (unit === 'month') d.setUTCDate(1);
  return d;
}

function next(start: Date, unit: Exclude<PartitionUnit, 'none'>): Date {
  const d = new Date(start.getTime());
  if (unit === 'hour') d.setUTCHours(d.getUTCHours() + 1);
  else if (unit === 'day') d.setUTCDate(d.getUTCDate() + 1);
  else d.setUTCMonth(d.getUTCMonth() + 1);
  return d;
}
