import { PartitionRangeError, partitionOf, partitionsInRange, type Partition } from '../training-set/partitions.ts';
import type { LateCheck } from '../sql/labels.ts';
import { compareInstants, instantPlusSeconds } from '../instant.ts';
import type { LabelBuildCause, LabelPartitionManifest } from './manifest.ts';

/**
 * Which partitions of a labels dataset a run builds, and why (docs/labels.md, "Partitions"). Pure:
 * the activity reads the manifests and counts the late rows, this decides.
 *
 * A partition [start, end) is complete as of T when end + window <= T: every decision in it is mature.
 * A run builds a partition that was never built (`new`), one whose definition changed, one published
 * while open (`was open`), one with rows loaded after its version was built (`late outcomes`,
 * `late decisions`), or every one when asked (`requested`). Open partitions are built only with
 * `includeOpen`. Anything else is up to date, and nothing is written for it.
 */

/** What the plan knows of a published partition: its manifest's version, completeness and watermarks. */
export type PublishedPartition = Pick<LabelPartitionManifest, 'version' | 'build' | 'complete' | 'asOf' | 'definitionHash' | 'watermarks'>;

export interface PartitionState {
  readonly partition: Partition;
  readonly published?: PublishedPartition;
  /** Rows loaded after the published version's watermarks that can change it (compileLateEvents). */
  readonly late?: { readonly decisions: number; readonly outcomes: number };
}

export type PartitionDecision =
  | { readonly key: string; readonly action: 'build'; readonly causes: readonly LabelBuildCause[]; readonly reason: string; /** The version the build replaces; 0 when none. */ readonly expectedVersion: number }
  | { readonly key: string; readonly action: 'up-to-date'; readonly reason: string; readonly version: number }
  | { readonly key: string; readonly action: 'open'; readonly reason: string; readonly version?: number };

export interface PlanOptions {
  readonly asOf: string;
  readonly windowSeconds: number;
  /** Build partitions whose window has not closed for every decision (only the mature decisions are labeled). */
  readonly includeOpen: boolean;
  /** Rebuild every partition of the range whatever its state (`--rebuild`). */
  readonly rebuild: boolean;
  readonly definitionHash: string;
}

/** Whether every decision of the partition is mature as of `asOf`: end + window <= asOf. */
export function isComplete(partition: Pick<Partition, 'end'>, windowSeconds: number, asOf: string): boolean {
  return partition.end !== null && compareInstants(instantPlusSeconds(partition.end, windowSeconds), asOf) <= 0;
}

/** The decision for each partition, in key order. */
export function planLabelPartitions(states: readonly PartitionState[], options: PlanOptions): PartitionDecision[] {
  return [...states].sort((a, b) => (a.partition.key < b.partition.key ? -1 : 1)).map((state): PartitionDecision => {
    const { partition, published, late } = state;
    const key = partition.key;
    const complete = isComplete(partition, options.windowSeconds, options.asOf);
    if (!complete && !options.includeOpen) {
      const closes = partition.end === null ? 'never' : instantPlusSeconds(partition.end, options.windowSeconds);
      return { key, action: 'open', reason: `open: its last decisions mature at ${closes}`, ...(published ? { version: published.version } : {}) };
    }
    const open = complete ? '' : ` (open: only the decisions mature as of ${options.asOf})`;
    if (!published) return { key, action: 'build', causes: ['new'], reason: `new${open}`, expectedVersion: 0 };
    const k = published.version;
    const causes: { cause: LabelBuildCause; text: string }[] = [];
    if (options.rebuild) causes.push({ cause: 'requested', text: 'requested' });
    if (published.definitionHash !== options.definitionHash) causes.push({ cause: 'definition changed', text: `definition changed since version ${k}` });
    if (!published.complete) causes.push({ cause: 'was open', text: `was open: version ${k} was built as of ${published.asOf}, before every decision matured` });
    if (late && late.outcomes > 0) causes.push({ cause: 'late outcomes', text: `late outcomes: ${plural(late.outcomes, 'outcome')} loaded after version ${k}` });
    if (late && late.decisions > 0) causes.push({ cause: 'late decisions', text: `late decisions: ${plural(late.decisions, 'decision')} loaded after version ${k}` });
    if (causes.length === 0) return { key, action: 'up-to-date', reason: `up to date: nothing loaded since version ${k} changes it`, version: k };
    return { key, action: 'build', causes: causes.map((c) => c.cause), reason: `${causes.map((c) => c.text).join('; ')}${open}`, expectedVersion: k };
  });
}

/**
 * The partitions a run looks at. With a range: its partitions (on partition boundaries). Without one:
 * from the partition of the first decision to that of the last one (up to `asOf`), and every
 * published partition. planLabelPartitions then leaves the open ones alone unless asked.
 */
export function runPartitions(args: {
  unit: 'day' | 'hour';
  asOf: string;
  range?: { readonly from: string; readonly to: string };
  decisionTimes: { readonly first: string; readonly last: string } | undefined;
  published: readonly Partition[];
}): Partition[] {
  if (args.range) {
    if (compareInstants(args.range.from, args.range.to) >= 0) throw new PartitionRangeError(`--from ${args.range.from} must be before --to ${args.range.to}`);
    return partitionsInRange(args.range.from, args.range.to, args.unit);
  }
  const byKey = new Map(args.published.map((p) => [p.key, p]));
  if (args.decisionTimes) {
    const start = partitionOf(new Date(args.decisionTimes.first), args.unit).start!;
    const end = partitionOf(new Date(Math.min(Date.parse(args.decisionTimes.last), Date.parse(args.asOf))), args.unit).end!;
    if (Date.parse(start) < Date.parse(end)) for (const partition of partitionsInRange(start, end, args.unit)) byKey.set(partition.key, partition);
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
}

/**
 * The late-row checks of published partitions: outcomes in [start, end + window]; decisions in
 * [start, end), or [start, end + window] with attribution `last` (a later decision takes outcomes
 * from earlier ones).
 */
export function lateChecks(states: readonly PartitionState[], windowSeconds: number, attribution: 'all' | 'last'): { outcomes: LateCheck[]; decisions: LateCheck[] } {
  const published = states.filter((s): s is PartitionState & { published: PublishedPartition } => s.published !== undefined && s.partition.start !== null && s.partition.end !== null);
  return {
    outcomes: published.map(({ partition, published: p }) => ({ key: partition.key, from: partition.start!, to: instantPlusSeconds(partition.end!, windowSeconds), since: p.watermarks.outcomes })),
    decisions: published.map(({ partition, published: p }) => ({
      key: partition.key, from: partition.start!, to: attribution === 'last' ? instantPlusSeconds(partition.end!, windowSeconds) : partition.end!, since: p.watermarks.decisions,
    })),
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
