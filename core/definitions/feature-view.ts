import type { DurationInput } from '../duration.ts';
import type { ValueType } from '../types.ts';
import { makeDefinition, refName, type Definition, type Ref } from './definition.ts';
import type { EntityDefinition } from './entity.ts';
import type { EventStreamDefinition } from './event-stream.ts';
import type { SourceDefinition } from './source.ts';
import type { AggregationFunction } from './specs.ts';
import type { ScheduleInput } from './schedule-input.ts';

export type FeatureInput = ValueType | { type: ValueType; description?: string };

/**
 * Features computed from the view's events in trailing windows: one feature per window, named
 * `<column>_<function>_<window>` (`count_<window>` for count) unless a single window is given a `name`.
 * For an instant t and a window w, the events with t - w < event time <= t count.
 */
export interface AggregationInput {
  /** `count` (events), `sum`, `avg`, `min`, `max`, `last` (the latest event's value) or `distinct_count`. */
  function: AggregationFunction;
  /** The column it reads (a source column, or one of `inputs` with a transformation); none for `count`. */
  column?: string;
  /** Trailing windows, such as `['1h', '1d', '7d']`; one feature each. */
  windows: readonly DurationInput[];
  /** The feature's name instead of the generated one; only with a single window. */
  name?: string;
  description?: string;
}

type WindowName<W> = W extends string ? W : string;

/** The names of the features an aggregation generates, at the type level (so `select` checks them). */
export type AggregationFeatureName<A> = A extends { name: infer N extends string }
  ? N
  : A extends { function: 'count'; windows: readonly (infer W)[] }
    ? `count_${WindowName<W>}`
    : A extends { column: infer C extends string; function: infer Fn extends string; windows: readonly (infer W)[] }
      ? `${C}_${Fn}_${WindowName<W>}`
      : string;

export interface FeatureViewInput<F extends string = string, A extends readonly AggregationInput[] = readonly AggregationInput[]> {
  name: string;
  entities: Ref<EntityDefinition>[];
  /** A source, or an event stream (its columns: the entities' join keys, the timestamp and the fields). */
  source: Ref<SourceDefinition> | Ref<EventStreamDefinition>;
  /** The features and their types, for example `{ amount_7d: 'float64' }`. Give this or `aggregations`. */
  features?: Record<F, FeatureInput>;
  /**
   * Windowed aggregations of the view's rows, which are then events (every row counts, none is
   * replaced by a later one). Give this or `features`; no `ttl` (the windows say how long an event counts).
   */
  aggregations?: A;
  /**
   * With a transformation and aggregations: the types of the transformation's output columns that the
   * aggregations read, for example `{ amount_usd: 'float64' }`. Without a transformation they are the source's.
   */
  inputs?: Record<string, ValueType>;
  /**
   * SQL over the source, which it names as `{{source}}`. Its output must hold the entities' join keys,
   * the source's timestamp field and every feature (or every input of the aggregations). Without it,
   * features and aggregation columns are read as source columns.
   */
  transformation?: string;
  /** How long a value stays valid after its event time (`"30d"`); omitted means forever. Not with aggregations. */
  ttl?: DurationInput;
  online?: boolean;
  offline?: boolean;
  /**
   * Over an event stream: write each event's values to the online store as soon as the log API has
   * stored it, instead of waiting for materialization (docs/collect-api.md, "Pushed features"). Needs
   * an event stream as source, `online`, and plain features (no transformation, no aggregations).
   */
  push?: boolean;
  /**
   * Materialize the view on a schedule (UTC): `flywheel apply` keeps a Temporal Schedule that writes
   * the values that changed since the last run to the online store (docs/materialization.md).
   * For example `{ every: '1h' }` or `{ cron: '*\/15 * * * *', lookback: '10m' }`.
   */
  materialize?: MaterializationScheduleInput;
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
}

/** When an online feature view is materialized: a five-field cron or an interval, in UTC. */
export type MaterializationScheduleInput = ScheduleInput & {
  /**
   * How far before the last run's watermark each run looks for rows that arrived late (their event
   * time is before the watermark); default: the lookback of the event stream the view reads when it
   * loads from a table (`from.lookback`), else none. Aggregation views need none for events within
   * their longest window.
   */
  lookback?: DurationInput;
  /** Disjoint buckets of entity keys a run is split into, one activity each; default 4. */
  chunks?: number;
};

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
 * A set of features for one or more entities, computed from a source: the latest row's values
 * (`features`), or aggregates of its rows in trailing windows (`aggregations`).
 *
 * @example
 * export const userStats = featureView({
 *   name: 'user_stats', entities: [user], source: userDaily, ttl: '7d',
 *   features: { txn_count_7d: 'int64', amount_sum_7d: 'float64' },
 * });
 * export const userWindows = featureView({
 *   name: 'user_windows', entities: [user], source: transactions,
 *   aggregations: [
 *     { function: 'count', windows: ['1h', '1d'] },                                      // count_1h, count_1d
 *     { column: 'amount', function: 'avg', windows: ['7d'], name: 'avg_ticket_7d' },
 *   ],
 * });
 */
export function featureView<F extends string = never, const A extends readonly AggregationInput[] = readonly []>(
  input: FeatureViewInput<F, A>,
): FeatureViewDefinition<F | AggregationFeatureName<A[number]>> {
  const { entities, source, ...rest } = input;
  return makeDefinition('featureView', input.name, {
    ...rest,
    entities: Array.isArray(entities) ? entities.map((e) => refName(e)) : (entities as never),
    source: refName(source),
  });
}
