import { makeDefinition, refName, type Definition } from './definition.ts';
import type { FeatureViewDefinition } from './feature-view.ts';

/** A whole feature view, or some of its features. */
export type FeatureSelectionInput<F extends string = string> =
  | FeatureViewDefinition<F>
  | string
  | { view: FeatureViewDefinition<F> | string; features: F[] };

export interface FeatureServiceInput {
  name: string;
  features: FeatureSelectionInput<any>[];
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
}

export interface FeatureSelectionResolvedInput {
  view: string | undefined;
  /** Undefined means every feature of the view. */
  features?: string[];
}

export interface FeatureServiceResolvedInput extends Omit<FeatureServiceInput, 'features'> {
  features: FeatureSelectionResolvedInput[];
}

export type FeatureServiceDefinition = Definition<'featureService', FeatureServiceResolvedInput>;

export function resolveSelections(selections: FeatureSelectionInput<any>[]): FeatureSelectionResolvedInput[] {
  if (!Array.isArray(selections)) return selections as never;
  return selections.map((selection) => {
    if (typeof selection === 'string') return { view: selection };
    if ('view' in selection && 'features' in selection && !('kind' in selection)) {
      return { view: refName(selection.view as FeatureViewDefinition | string), features: selection.features };
    }
    return { view: refName(selection as FeatureViewDefinition) };
  });
}

/**
 * A named selection of features that a model uses, in order.
 *
 * @example
 * export const fraudModel = featureService({
 *   name: 'fraud_model',
 *   features: [userStats, { view: merchantStats, features: ['fraud_rate_30d'] }],
 * });
 */
export function featureService(input: FeatureServiceInput): FeatureServiceDefinition {
  return makeDefinition('featureService', input.name, { ...input, features: resolveSelections(input.features) });
}
