import type { DurationInput } from '../duration.ts';
import { isDefinition, makeDefinition, refName, type Definition, type Ref } from './definition.ts';
import type { EventStreamDefinition } from './event-stream.ts';
import type { FeatureServiceDefinition } from './feature-service.ts';
import type { ScheduleInput } from './schedule-input.ts';

/**
 * How an outcome finds the decisions it labels.
 *
 * - `{ by: 'decision_id', outcomeField }`: the outcome carries the id of the decision it follows, in
 *   `outcomeField`; the decision's is in `decisionIdField` (default `decision_id`, the column of a
 *   feature service's decision log). `keys` (columns of both streams, such as `item_id`) must be equal
 *   too, when one decision has several rows (a ranked list) and an outcome is about one of them.
 * - `{ by: 'keys' }`: the outcome has the decision's entity keys (`keys`, default: the join keys both
 *   streams have) and counts for the decisions of those keys whose window holds it: every one
 *   (`attribution: 'all'`, the default), or only the latest at or before it (`'last'`).
 */
export type LabelsMatchInput =
  | { by: 'decision_id'; decisionIdField?: string; outcomeField: string; keys?: string[] }
  | { by: 'keys'; keys?: string[]; attribution?: 'all' | 'last' };

/**
 * A decision's label, from the outcomes matched in its window:
 * - `{ kind: 'any' }`: 1 when there is at least one, 0 when there is none once the window has closed;
 * - `{ kind: 'count' }`: how many;
 * - `{ kind: 'sum' | 'avg' | 'min' | 'max' | 'last', field, default? }`: an aggregate of an outcome
 *   field (`last`: the value of the latest outcome); `default` replaces a null result (no outcome).
 */
export type LabelValueInput =
  | { kind: 'any' }
  | { kind: 'count' }
  | { kind: 'sum' | 'avg' | 'min' | 'max' | 'last'; field: string; default?: number | string | boolean };

/** When the labels are built: a five-field cron or an interval, in UTC. Each run builds every partition that is due. */
export type LabelsScheduleInput = ScheduleInput;

export interface LabelsInput {
  name: string;
  /**
   * The decisions to label: an event stream (object or name), or a feature service with `logging`,
   * whose decision stream (the served-feature log) is then read.
   */
  decisions: Ref<EventStreamDefinition> | FeatureServiceDefinition;
  /** What followed the decisions: an event stream (object or name), such as clicks, purchases or chargebacks. */
  outcomes: Ref<EventStreamDefinition>;
  match: LabelsMatchInput;
  /** How long after a decision its outcomes count (`'30m'` for a click, `'60d'` for a chargeback); its label waits until then. */
  window: DurationInput;
  value: LabelValueInput;
  /** UTC partitions of the decision time; default `day`. */
  partitionBy?: 'day' | 'hour';
  /** Where the dataset is written: Parquet under `path` in the object store (default `labels/<name>`). */
  output?: { format?: 'parquet'; path?: string };
  /** Build on a schedule (UTC); `flywheel apply` keeps the Temporal Schedule. */
  schedule?: LabelsScheduleInput;
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
}

/** What the builder stores: the input with references turned into names. */
export interface LabelsResolvedInput extends Omit<LabelsInput, 'decisions' | 'outcomes'> {
  decisions: { stream: string | undefined } | { service: string | undefined };
  outcomes: string | undefined;
}

export type LabelsDefinition = Definition<'labels', LabelsResolvedInput>;

/**
 * Labels for decisions, from the outcomes that followed them (docs/labels.md). Each decision gets its
 * label once its window has closed; until then it has none (it is never counted as a negative).
 *
 * @example
 * export const clicked = labels({
 *   name: 'clicked', decisions: rankingModel, outcomes: clicks,
 *   match: { by: 'decision_id', outcomeField: 'decision_id', keys: ['item_id'] },
 *   window: '30m', value: { kind: 'any' }, partitionBy: 'hour',
 * });
 */
export function labels(input: LabelsInput): LabelsDefinition {
  const { decisions, outcomes, ...rest } = input;
  return makeDefinition('labels', input.name, {
    ...rest,
    decisions: isDefinition(decisions) && decisions.kind === 'featureService'
      ? { service: decisions.name }
      : { stream: refName(decisions as Ref<EventStreamDefinition>) },
    outcomes: refName(outcomes),
  });
}
