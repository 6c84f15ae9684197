import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { executeChild, workflowInfo } from '@temporalio/workflow';
import { buildTrainingSet, type BuildTrainingSetResult } from './build-training-set.ts';
import { trainingSetRunId } from '../core/run-ids.ts';

/** What a training set's Temporal Schedule starts (`flywheel apply` writes it into the schedule's action). */
export interface ScheduledTrainingSetInput {
  readonly project: string;
  readonly trainingSet: string;
  /** Which UTC day to build: the scheduled day minus this many days (1 = yesterday). */
  readonly partitionLag: number;
}

/** The UTC day a scheduled run builds, as `[start, end)` ISO instants, and its date (`2024-03-02`). */
export interface DayPartition {
  readonly date: string;
  readonly start: string;
  readonly end: string;
}

/** Set by Temporal on every workflow a Schedule starts: the time it was scheduled for. */
const TEMPORAL_SCHEDULED_START_TIME = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

const DAY_MS = 86_400_000;

/**
 * One run of a training set's schedule: builds the UTC day partition `partitionLag` days before the
 * day the run was scheduled on (not the day it happens to start: a run caught up after an outage
 * builds the partition it was meant to) as a child `buildTrainingSet`, and returns its result.
 *
 * The child's id is the partition's training-set run id (`demo/training-set/fraud_training/2024-03-02..2024-03-03`,
 * core/run-ids.ts), so every build of a partition, scheduled, caught up, backfilled or triggered by
 * hand, is found under one name; two builds of one partition never run at once (the second fails to start).
 */
export async function scheduledTrainingSet(input: ScheduledTrainingSetInput): Promise<BuildTrainingSetResult> {
  const info = workflowInfo();
  const scheduledAt = info.typedSearchAttributes.get(TEMPORAL_SCHEDULED_START_TIME) ?? info.runStartTime;
  const partition = dayPartition(scheduledAt, input.partitionLag);
  return executeChild(buildTrainingSet, {
    workflowId: trainingSetRunId(input.project, input.trainingSet, partition.start, partition.end),
    args: [{ project: input.project, trainingSet: input.trainingSet, from: partition.start, to: partition.end }],
  });
}

/** The UTC day `lag` days before the day of `scheduledAt`. Pure date arithmetic: deterministic on replay. */
export function dayPartition(scheduledAt: Date, lag: number): DayPartition {
  const dayStart = Math.floor(scheduledAt.getTime() / DAY_MS) * DAY_MS - lag * DAY_MS;
  const start = new Date(dayStart).toISOString();
  return { date: start.slice(0, 10), start, end: new Date(dayStart + DAY_MS).toISOString() };
}
