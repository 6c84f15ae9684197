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
