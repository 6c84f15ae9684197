import { isDefinition, makeDefinition, refName, type Definition } from './definition.ts';
import type { FeatureViewDefinition } from './feature-view.ts';

/** A whole feature view, or some of its features. */
export type FeatureSelectionInput<F extends string = string> =
  | FeatureViewDefinition<F>
  | string
  | { view: FeatureViewDefinition<F> | string; features: F[] };

/**
 * Some features of a view, checked by the compiler against the view's feature names
 * (a plain `{ view, features }` object is accepted too, but checked only when definitions load).
 *
 * @example
 * featureService({ name: 'fraud', features: [userSpend, select(merchantRisk, ['merchant_fraud_rate_30d'])] });
 */
export function select<F extends string>(view: FeatureViewDefinition<F>, features: NoInfer<F>[]): { view: FeatureViewDefinition<F>; features: F[] } {
  return { view, features };
}

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
    if (!isDefinition(selection) && 'view' in selection) {
      const { view, features } = selection as { view: FeatureViewDefinition | string; features?: string[] };
      return { view: refName(view), ...(features !== undefined ? { features } : {}) };
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
