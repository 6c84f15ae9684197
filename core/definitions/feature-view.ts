import type { DurationInput } from '../duration.ts';
import type { ValueType } from '../types.ts';
import { makeDefinition, refName, type Definition, type Ref } from './definition.ts';
import type { EntityDefinition } from './entity.ts';
import type { SourceDefinition } from './source.ts';

export type FeatureInput = ValueType | { type: ValueType; description?: string };

export interface FeatureViewInput<F extends string = string> {
  name: string;
  entities: Ref<EntityDefinition>[];
  source: Ref<SourceDefinition>;
  /** The features and their types, for example `{ amount_7d: 'float64' }`. */
  features: Record<F, FeatureInput>;
  /**
   * SQL over the source, which it names as `{{source}}`. Its output must hold the entities' join keys,
   * the source's timestamp field and every feature. Without it, features are read as source columns.
   */
  transformation?: string;
  /** How long a value stays valid after its event time (`"30d"`); omitted means forever. */
  ttl?: DurationInput;
  online?: boolean;
  offline?: boolean;
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
}

/** What the builder stores: the input with entity and source references turned into names. */
export interface FeatureViewResolvedInput extends Omit<FeatureViewInput, 'entities' | 'source'> {
  entities: (string | undefined)[];
  source: string | undefined;
}

export interface FeatureViewDefinition<F extends string = string> extends Definition<'featureView', FeatureViewResolvedInput> {
  /** Type-level only: the feature names, so selections in feature services are checked by the compiler. */
  readonly __features?: F;
}

/**
 * A set of features for one or more entities, computed from a source.
 *
 * @example
 * export const userStats = featureView({
 *   name: 'user_stats', entities: [user], source: userDaily, ttl: '7d',
 *   features: { txn_count_7d: 'int64', amount_sum_7d: 'float64' },
 * });
 */
export function featureView<F extends string>(input: FeatureViewInput<F>): FeatureViewDefinition<F> {
  const { entities, source, ...rest } = input;
  return makeDefinition('featureView', input.name, {
    ...rest,
    entities: Array.isArray(entities) ? entities.map((e) => refName(e)) : (entities as never),
    source: refName(source),
  });
}
