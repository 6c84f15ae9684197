import { isDefinition, makeDefinition, refName, type Definition, type Ref } from './definition.ts';
import { resolveSelections, type FeatureSelectionInput, type FeatureSelectionResolvedInput, type FeatureServiceDefinition } from './feature-service.ts';
import type { LabelsDefinition } from './labels.ts';
import type { SourceDefinition } from './source.ts';
import type { ScheduleInput } from './schedule-input.ts';

export interface TrainingSetInput {
  name: string;
  /**
   * The rows of the training set: a source (entity keys, a timestamp and any label columns), or
   * `{ labels }`, a labels dataset: one row per labeled decision, as of its decision time.
   */
  spine: Ref<SourceDefinition> | { labels: Ref<LabelsDefinition> };
  /** A feature service (`rankingModel` or `{ service: rankingModel }`), or a list of feature views and selections. */
  features: Ref<FeatureServiceDefinition> | { service: Ref<FeatureServiceDefinition> } | FeatureSelectionInput<any>[];
  /**
   * With a labels spine over a feature service's decision log: take each feature's value from the log
   * (what the model saw when the decision was made) where the log holds it, and compute the rest point
   * in time. Default: true when the labels' decisions are a decision log that holds some of the features.
   */
  fromLog?: boolean;
  /**
   * Where and how the dataset is written: Parquet under `path` (default `training_sets/<name>`),
   * one folder per partition of the spine timestamp (`partitionBy`, default `day`; UTC).
   */
  output?: { format?: 'parquet'; path?: string; partitionBy?: 'day' | 'hour' | 'month' | 'none' };
  /** Build the training set on a schedule (UTC), one day partition per run; `flywheel apply` creates it on Temporal. */
  schedule?: TrainingSetScheduleInput;
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
}

/**
 * When a scheduled training set is built: a five-field cron or an interval, in UTC. Each run builds
 * one UTC day: the day it is scheduled on, minus `partitionLag` days.
 */
export type TrainingSetScheduleInput = ScheduleInput & {
  /** How many day partitions back from the scheduled day to build; default 1 (yesterday). */
  partitionLag?: number;
};

export interface TrainingSetResolvedInput extends Omit<TrainingSetInput, 'spine' | 'features'> {
  spine: string | undefined | { labels: string | undefined };
  features: { service: string | undefined } | { views: FeatureSelectionResolvedInput[] };
}

export type TrainingSetDefinition = Definition<'trainingSet', TrainingSetResolvedInput>;

/**
 * A point-in-time correct dataset: for each spine row, the feature values as they were at its timestamp.
 *
 * @example
 * export const fraudTraining = trainingSet({
 *   name: 'fraud_training', spine: labeledTransactions, features: fraudModel,
 *   output: { path: 'training/fraud' },
 * });
 * // The decisions of a logged service with their labels, and the feature values the model saw:
 * export const clickTraining = trainingSet({ name: 'click_training', spine: { labels: clicked }, features: rankingModel });
 */
export function trainingSet(input: TrainingSetInput): TrainingSetDefinition {
  const { spine, features, ...rest } = input;
  return makeDefinition('trainingSet', input.name, {
    ...rest,
    spine: isLabelsSpine(spine) ? { labels: refName(spine.labels) } : refName(spine),
    features: Array.isArray(features)
      ? { views: resolveSelections(features) }
      : { service: refName(isServiceWrapper(features) ? features.service : features) },
  });
}

function isLabelsSpine(spine: TrainingSetInput['spine']): spine is { labels: Ref<LabelsDefinition> } {
  return typeof spine === 'object' && spine !== null && !isDefinition(spine) && 'labels' in spine;
}

function isServiceWrapper(features: TrainingSetInput['features']): features is { service: Ref<FeatureServiceDefinition> } {
  return typeof features === 'object' && features !== null && !Array.isArray(features) && !isDefinition(features) && 'service' in features;
}
