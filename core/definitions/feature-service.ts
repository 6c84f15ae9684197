import type { DurationInput } from '../duration.ts';
import type { ScheduleInput } from './schedule-input.ts';
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

/**
 * Log what the service serves (docs/serving.md, "Logging what was served"): a sample of its
 * responses, each entity row with the keys, the values served with their event times and statuses,
 * is appended to the service's decision stream and stored in the warehouse like any event stream.
 */
export interface FeatureServiceLoggingInput {
  /** The share of decisions logged, greater than 0 and at most 1 (`0.1`: one in ten; `1`: all). */
  sampleRate: number;
  /** The decision stream's name (at most 30 characters). Default `<service>_decisions`. */
  stream?: string;
  /** How long logged decisions are kept after they were served. Default `'365d'`. */
  retention?: DurationInput;
  /** When decisions older than `retention` are deleted (a Temporal Schedule kept by `flywheel apply`); see the event stream's `retentionSchedule`. */
  retentionSchedule?: ScheduleInput;
}

export interface FeatureServiceInput {
  name: string;
  features: FeatureSelectionInput<any>[];
  /** Log a sample of the decisions served; their rows land in the table `flywheel.stream_<stream>`. */
  logging?: FeatureServiceLoggingInput;
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
 *   logging: { sampleRate: 0.1 },   // one decision in ten, to the event stream fraud_model_decisions
 * });
 */
export function featureService(input: FeatureServiceInput): FeatureServiceDefinition {
  return makeDefinition('featureService', input.name, { ...input, features: resolveSelections(input.features) });
}
