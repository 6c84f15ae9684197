import { makeDefinition, refName, type Definition, type Ref } from './definition.ts';
import { resolveSelections, type FeatureSelectionInput, type FeatureSelectionResolvedInput, type FeatureServiceDefinition } from './feature-service.ts';
import type { SourceDefinition } from './source.ts';

export interface TrainingSetInput {
  name: string;
  /** The rows of the training set: entity keys, a timestamp and any label columns. */
  spine: Ref<SourceDefinition>;
  /** A feature service, or a list of feature views and selections. */
  features: Ref<FeatureServiceDefinition> | FeatureSelectionInput<any>[];
  output?: { format?: 'parquet'; path?: string };
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
}

export interface TrainingSetResolvedInput extends Omit<TrainingSetInput, 'spine' | 'features'> {
  spine: string | undefined;
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
 */
export function trainingSet(input: TrainingSetInput): TrainingSetDefinition {
  const { spine, features, ...rest } = input;
  return makeDefinition('trainingSet', input.name, {
    ...rest,
    spine: refName(spine),
    features: Array.isArray(features)
      ? { views: resolveSelections(features) }
      : { service: refName(features as Ref<FeatureServiceDefinition>) },
  });
}
