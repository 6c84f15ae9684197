import type { ValueType } from '../types.ts';

/**
 * The consistency report of a training set built from a decision log (docs/training-from-logs.md):
 * where a feature's value came from the log, the point-in-time join computes it too, and the two are
 * compared. Their differences are the online/offline skew. Pure: the numbers of each partition come
 * from one SQL pass (core/sql/consistency.ts); this merges them and shapes the report.
 */

/**
 * Two floats are equal when |logged − recomputed| <= tolerance × max(|logged|, |recomputed|):
 * relative, so it holds at any scale, and loose enough for a value that went through JSON and back
 * (float32 keeps about 7 digits). Integers, strings, booleans, times and dates must be equal exactly.
 */
export const CONSISTENCY_TOLERANCE = { float64: 1e-9, float32: 1e-6 } as const satisfies Partial<Record<ValueType, number>>;

export function relativeTolerance(type: ValueType): number | undefined {
  return type === 'float64' || type === 'float32' ? CONSISTENCY_TOLERANCE[type] : undefined;
}

export function isNumericType(type: ValueType): boolean {
  return type === 'int32' || type === 'int64' || type === 'float32' || type === 'float64';
}

/** Where a column's values came from: the decision log, or the point-in-time join. */
export interface ColumnSource {
  readonly log: number;
  readonly join: number;
}

/** A difference over the rows where both values are there and differ: its mean and its largest. */
export interface DifferenceStats {
  readonly mean: number;
  readonly max: number;
}

/** One feature's comparison of logged and recomputed values. */
export interface FeatureConsistency {
  readonly type: ValueType;
  /** Where the feature's values came from. */
  readonly source: ColumnSource;
  /** Rows compared: those whose value came from the log (the join's value is always there to compare with). */
  readonly compared: number;
  /** Of those, rows where the two differ: one is null and the other is not, or the values differ (beyond the tolerance for floats). */
  readonly differing: number;
  /** differing / compared; null when nothing was compared. */
  readonly differingShare: number | null;
  /** Of the differing rows, those where exactly one of the two is null. */
  readonly nullMismatches: number;
  /**
   * Numbers only: |logged − recomputed|, and that over max(|logged|, |recomputed|), over the differing
   * rows where both are values (differing − nullMismatches of them); null when there are none.
   */
  readonly absoluteDifference?: DifferenceStats | null;
  readonly relativeDifference?: DifferenceStats | null;
}

/** The comparison in one partition (also recorded in its manifest). */
export interface PartitionConsistency {
  readonly rows: number;
  /** Rows whose decision is in the log (the others were not sampled, predate the log, or are not loaded yet). */
  readonly rowsWithLog: number;
  readonly features: Readonly<Record<string, FeatureConsistency>>;
}

/** `_consistency.json`, next to the dataset: every published partition built from the log, summed. */
export interface ConsistencyReport extends PartitionConsistency {
  readonly formatVersion: 1;
  readonly project: string;
  readonly trainingSet: string;
  readonly labels: string;
  readonly decisionStream: string;
  readonly service: string;
  readonly updatedAt: string;
  readonly tolerance: { readonly relative: typeof CONSISTENCY_TOLERANCE; readonly otherTypes: 'exact' };
  readonly partitions: readonly {
    readonly key: string;
    readonly version: string;
    readonly rows: number;
    readonly rowsWithLog: number;
    readonly features: Readonly<Record<string, Pick<FeatureConsistency, 'compared' | 'differing' | 'differingShare'>>>;
  }[];
}

/** Sums the comparisons of several partitions; a feature missing from some counts only where it is. */
export function mergeConsistency(parts: readonly PartitionConsistency[]): PartitionConsistency {
  const names: string[] = [];
  for (const part of parts) for (const name of Object.keys(part.features)) if (!names.includes(name)) names.push(name);
  const features: Record<string, FeatureConsistency> = {};
  for (const name of names) {
    const each = parts.map((p) => p.features[name]).filter((f): f is FeatureConsistency => f !== undefined);
    const type = each[each.length - 1]!.type;
    const compared = sum(each.map((f) => f.compared));
    const differing = sum(each.map((f) => f.differing));
    const nullMismatches = sum(each.map((f) => f.nullMismatches));
    features[name] = {
      type,
      source: { log: sum(each.map((f) => f.source.log)), join: sum(each.map((f) => f.source.join)) },
      compared,
      differing,
      differingShare: compared > 0 ? differing / compared : null,
      nullMismatches,
      ...(isNumericType(type)
        ? {
            absoluteDifference: mergeDifferences(each.map((f) => ({ stats: f.absoluteDifference ?? null, rows: f.differing - f.nullMismatches }))),
            relativeDifference: mergeDifferences(each.map((f) => ({ stats: f.relativeDifference ?? null, rows: f.differing - f.nullMismatches }))),
          }
        : {}),
    };
  }
  return { rows: sum(parts.map((p) => p.rows)), rowsWithLog: sum(parts.map((p) => p.rowsWithLog)), features };
}

/** The dataset's report from its partitions' comparisons, in key order. */
export function buildConsistencyReport(args: {
  project: string;
  trainingSet: string;
  labels: string;
  decisionStream: string;
  service: string;
  updatedAt: string;
  partitions: readonly { readonly key: string; readonly version: string; readonly consistency: PartitionConsistency }[];
}): ConsistencyReport {
  const sorted = [...args.partitions].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    formatVersion: 1,
    project: args.project,
    trainingSet: args.trainingSet,
    labels: args.labels,
    decisionStream: args.decisionStream,
    service: args.service,
    updatedAt: args.updatedAt,
    tolerance: { relative: CONSISTENCY_TOLERANCE, otherTypes: 'exact' },
    ...mergeConsistency(sorted.map((p) => p.consistency)),
    partitions: sorted.map((p) => ({
      key: p.key,
      version: p.version,
      rows: p.consistency.rows,
      rowsWithLog: p.consistency.rowsWithLog,
      features: Object.fromEntries(Object.entries(p.consistency.features).map(([name, f]) => [name, { compared: f.compared, differing: f.differing, differingShare: f.differingShare }])),
    })),
  };
}

function mergeDifferences(parts: readonly { stats: DifferenceStats | null; rows: number }[]): DifferenceStats | null {
  const present = parts.filter((p): p is { stats: DifferenceStats; rows: number } => p.stats !== null && p.rows > 0);
  const rows = sum(present.map((p) => p.rows));
  if (rows === 0) return null;
  return { mean: sum(present.map((p) => p.stats.mean * p.rows)) / rows, max: Math.max(...present.map((p) => p.stats.max)) };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
