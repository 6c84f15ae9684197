import { AGGREGATION_RULES } from '../aggregations/functions.ts';
import { DECISION_ID_COLUMN, ROW_INDEX_COLUMN } from '../definitions/decision-stream.ts';
import type { ColumnSpec, EventStreamSpec, LabelValue, LabelsSpec, ProjectSpec } from '../definitions/specs.ts';
import type { ValueType } from '../types.ts';

/**
 * The columns of a labels dataset, in order (docs/labels.md, "The label rows"):
 *
 *   <identity>          which decision row: `decision_id`, `row_index` for a feature service's decision
 *                       log; the stream's `eventIdField` when it declares one; else `event_id` (its `_event_id`)
 *   <decision id>       with a decision-id match, the decision's id column when it is not an identity column already
 *   <join keys>         the decision stream's keys
 *   <decision time>     the decision stream's timestamp field (`served_at` for a decision log)
 *   label               the label
 *   outcome_count       how many outcomes matched in the window (int64)
 *   first_outcome_at    the time of the earliest of them (null when none)
 *   labeled_at          the instant the label is as of (the run's)
 *
 * Pure: the same columns for validation, the SQL compiler and the manifests.
 */

export const LABEL_COLUMN = 'label';
export const OUTCOME_COUNT_COLUMN = 'outcome_count';
export const FIRST_OUTCOME_AT_COLUMN = 'first_outcome_at';
export const LABELED_AT_COLUMN = 'labeled_at';

/** `_event_id` of a stream table, read as the `event_id` column when a decision row has no other identity. */
export const EVENT_ID_OUTPUT_COLUMN = 'event_id';

/** A column of the output that comes from the decision stream: its name there (`_event_id` for `event_id`). */
export interface DecisionColumn extends ColumnSpec {
  readonly from: string;
}

export interface LabelColumns {
  /** Identifies the decision row, with the decision-id column when matched by it. */
  readonly identity: readonly DecisionColumn[];
  readonly keys: readonly DecisionColumn[];
  /** The decision stream's timestamp field: each decision's time. */
  readonly time: string;
  readonly label: ColumnSpec;
  /** Every output column, in order. */
  readonly all: readonly ColumnSpec[];
}

/** Whether `stream` is the decision log of a feature service of `project`. */
export function isDecisionLog(project: Pick<ProjectSpec, 'featureServices'>, stream: string): boolean {
  return Object.values(project.featureServices).some((service) => service.logging?.stream === stream);
}

/** The output columns of labels over `decisions` (its stream spec). */
export function labelColumns(spec: Pick<LabelsSpec, 'match' | 'value'>, decisions: EventStreamSpec, outcomes: EventStreamSpec, decisionLog: boolean): LabelColumns {
  const fieldType = (stream: EventStreamSpec, name: string): ValueType | undefined =>
    stream.keys.find((k) => k.name === name)?.type ?? stream.fields.find((f) => f.name === name)?.type ?? (stream.timestampField === name ? 'timestamp' : undefined);
  const identity: DecisionColumn[] = decisionLog
    ? [{ name: DECISION_ID_COLUMN, type: 'string', from: DECISION_ID_COLUMN }, { name: ROW_INDEX_COLUMN, type: 'int32', from: ROW_INDEX_COLUMN }]
    : decisions.eventIdField !== undefined
      ? [{ name: decisions.eventIdField, type: 'string', from: decisions.eventIdField }]
      : [{ name: EVENT_ID_OUTPUT_COLUMN, type: 'string', from: '_event_id' }];
  const { match } = spec;
  if (match.by === 'decision_id' && !identity.some((c) => c.name === match.decisionIdField)) {
    identity.push({ name: match.decisionIdField, type: fieldType(decisions, match.decisionIdField) ?? 'string', from: match.decisionIdField });
  }
  const keys = decisions.keys.map((key): DecisionColumn => ({ name: key.name, type: key.type, from: key.name }));
  const label: ColumnSpec = { name: LABEL_COLUMN, type: labelType(spec.value, (field) => fieldType(outcomes, field)) };
  return {
    identity,
    keys,
    time: decisions.timestampField,
    label,
    all: [
      ...identity.map(({ name, type }) => ({ name, type })),
      ...keys.map(({ name, type }) => ({ name, type })),
      { name: decisions.timestampField, type: 'timestamp' },
      label,
      { name: OUTCOME_COUNT_COLUMN, type: 'int64' },
      { name: FIRST_OUTCOME_AT_COLUMN, type: 'timestamp' },
      { name: LABELED_AT_COLUMN, type: 'timestamp' },
    ],
  };
}

/**
 * The type of the label: `any` int32 (1 or 0), `count` int64; `sum` int64 over integers and float64
 * over floats, `avg` float64, `min`, `max` and `last` the field's own (as windowed aggregations).
 */
export function labelType(value: LabelValue, fieldType: (field: string) => ValueType | undefined): ValueType {
  switch (value.kind) {
    case 'any': return 'int32';
    case 'count': return 'int64';
    default: return AGGREGATION_RULES[value.kind].resultType(fieldType(value.field));
  }
}
