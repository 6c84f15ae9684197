/**
 * Windowed aggregations: what each function means (functions.ts), the model of an aggregation view's
 * events (aggregation-events.ts), and the aggregates of every entity as of one instant
 * (aggregates-as-of.ts). The training-set join compiles the same aggregates at every spine row
 * (core/sql/point-in-time.ts). Semantics: docs/point-in-time.md, "Windowed aggregations".
 *
 * @example
 * import { aggregationEventsOf, compileAggregatesAsOf } from './core/aggregations/index.ts';
 *
 * const events = aggregationEventsOf(project.featureViews.user_txn_windows!, project);
 * const rows = await engine.all(compileAggregatesAsOf(events, '2025-03-06T00:00:00Z', engine.dialect));
 * // [{ user_id: 1, count_1h: 0, count_1d: 3, amount_sum_1d: 41.5, ... }, ...]
 */
export { AGGREGATION_FUNCTIONS, AGGREGATION_RULES, acceptedTypes, acceptsType, aggregationFeatureName, lastTieBreak, windowLabel, type AggregationFunctionRule, type AggregationMethod } from './functions.ts';
export { aggregationColumns, aggregationEventsOf, type AggregationEvents, type WindowAggregation } from './aggregation-events.ts';
export { compileAggregatesAsOf } from './aggregates-as-of.ts';
