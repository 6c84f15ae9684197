import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes Flywheel sets on its workflows so runs are easy to find in the Temporal UI
 * (`FlywheelObject = "fraud_training"`). The dev server and the test setup register them; on a
 * cluster, `flywheel apply` registers them when it manages schedules (or an operator does, once).
 */
export const FLYWHEEL_PROJECT = defineSearchAttributeKey('FlywheelProject', SearchAttributeType.KEYWORD);
export const FLYWHEEL_KIND = defineSearchAttributeKey('FlywheelKind', SearchAttributeType.KEYWORD);
export const FLYWHEEL_OBJECT = defineSearchAttributeKey('FlywheelObject', SearchAttributeType.KEYWORD);
export const FLYWHEEL_RANGE_START = defineSearchAttributeKey('FlywheelRangeStart', SearchAttributeType.DATETIME);
export const FLYWHEEL_RANGE_END = defineSearchAttributeKey('FlywheelRangeEnd', SearchAttributeType.DATETIME);

/** A backfill's progress, kept current so the UI's list can show (and filter on) it. */
export const FLYWHEEL_PARTITIONS_TOTAL = defineSearchAttributeKey('FlywheelPartitionsTotal', SearchAttributeType.INT);
export const FLYWHEEL_PARTITIONS_DONE = defineSearchAttributeKey('FlywheelPartitionsDone', SearchAttributeType.INT);
export const FLYWHEEL_PARTITIONS_FAILED = defineSearchAttributeKey('FlywheelPartitionsFailed', SearchAttributeType.INT);

export const FLYWHEEL_SEARCH_ATTRIBUTES = [
  FLYWHEEL_PROJECT, FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_RANGE_START, FLYWHEEL_RANGE_END,
  FLYWHEEL_PARTITIONS_TOTAL, FLYWHEEL_PARTITIONS_DONE, FLYWHEEL_PARTITIONS_FAILED,
] as const;

/** Where a run belongs: its project, what kind of run it is, the object it is about and its time range. */
export interface RunLabels {
  readonly project: string;
  readonly kind: 'training-set' | 'backfill' | 'ingest' | 'materialization' | 'loop' | 'labels' | 'retention';
  readonly object?: string;
  readonly from?: string;
  readonly to?: string;
}

/**
 * The search attributes of a run, set the same way by clients when they start it and by the
 * workflow itself (so runs started by a Schedule or a parent are just as easy to find).
 */
export function runSearchAttributes(labels: RunLabels) {
  return [
    { key: FLYWHEEL_PROJECT, value: labels.project },
    { key: FLYWHEEL_KIND, value: labels.kind },
    ...(labels.object !== undefined ? [{ key: FLYWHEEL_OBJECT, value: labels.object }] : []),
    ...(labels.from ? [{ key: FLYWHEEL_RANGE_START, value: new Date(labels.from) }] : []),
    ...(labels.to ? [{ key: FLYWHEEL_RANGE_END, value: new Date(labels.to) }] : []),
  ];
}
