import type { AggregationFunction, FeatureViewSpec, ProjectSpec } from '../definitions/specs.ts';
import { featureViewColumns, featureViewViewName } from '../sql/warehouse-objects.ts';
import type { ValueType } from '../types.ts';

/** One aggregate to compute: the feature it fills, its function and column, its window, and the type it is cast to. */
export interface WindowAggregation {
  readonly feature: string;
  readonly function: AggregationFunction;
  /** Absent for `count`. */
  readonly column?: string;
  /** Events with event time e count for an instant t when t - window < e <= t. */
  readonly windowSeconds: number;
  readonly type: ValueType;
}

/**
 * The events of an aggregation view as its warehouse view (`flywheel.fv_<name>`) holds them, and the
 * aggregates to compute over them. Both the training-set join and the "as of an instant" query
 * read this model.
 */
export interface AggregationEvents {
  /** The feature view's name, for messages. */
  readonly featureView: string;
  /** Qualified name of the relation holding the events (join keys, event time, created time, input columns). */
  readonly relation: string;
  readonly joinKeys: readonly string[];
  readonly timestampField: string;
  /** Breaks ties between events with the same keys and event time for `last`. */
  readonly createdTimestampField?: string;
  readonly aggregations: readonly WindowAggregation[];
}

/**
 * The model of an aggregation view's events, computing the given features (default: all of them, in
 * declared order). Throws for a plain view or an unknown feature: the project is validated first.
 *
 * @example
 * const events = aggregationEventsOf(project.featureViews.user_txn_windows!, project, ['count_1h']);
 * const query = compileAggregatesAsOf(events, '2024-05-01T00:00:00Z', duckdbDialect);
 */
export function aggregationEventsOf(view: FeatureViewSpec, project: ProjectSpec, features?: readonly string[], schema?: string): AggregationEvents {
  const specs = view.aggregations;
  if (!specs) throw new Error(`feature view "${view.name}" has no aggregations`);
  const columns = featureViewColumns(view, project);
  const wanted = features ?? view.features.map((f) => f.name);
  return {
    featureView: view.name,
    relation: featureViewViewName(view.name, schema),
    joinKeys: columns.joinKeys.map((k) => k.name),
    timestampField: columns.timestamp,
    ...(columns.createdTimestamp ? { createdTimestampField: columns.createdTimestamp } : {}),
    aggregations: wanted.map((feature): WindowAggregation => {
      const spec = specs.find((a) => a.name === feature);
      const type = view.features.find((f) => f.name === feature)?.type;
      if (!spec || !type) throw new Error(`feature view "${view.name}" has no aggregation "${feature}"`);
      return { feature, function: spec.function, ...(spec.column !== undefined ? { column: spec.column } : {}), windowSeconds: spec.windowSeconds, type };
    }),
  };
}

/** The distinct input columns the aggregations read, in first-use order. */
export function aggregationColumns(aggregations: readonly WindowAggregation[], filter: (a: WindowAggregation) => boolean = () => true): string[] {
  return [...new Set(aggregations.filter(filter).flatMap((a) => (a.column !== undefined ? [a.column] : [])))];
}
