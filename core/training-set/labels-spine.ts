import { DECISION_ID_COLUMN, ROW_INDEX_COLUMN, decisionLayoutsOf, type DecisionFeature, type DecisionStreamLayout } from '../definitions/decision-stream.ts';
import type { FeatureSelection, ProjectSpec, TrainingSetLabelsSpine } from '../definitions/specs.ts';
import { FlywheelError } from '../errors.ts';
import { resolveLabels, type ResolvedLabels } from '../labels/resolve-labels.ts';
import type { DecisionLogJoin } from '../sql/point-in-time.ts';
import { eventStreamTableName } from '../sql/warehouse-objects.ts';

/**
 * A training set whose spine is a labels dataset (docs/training-from-logs.md): its rows are the
 * labeled decisions, as of each decision's time, and with `fromLog` each feature takes the value the
 * decision log holds for the decision, where it holds one. Pure: what the spine is made of and which
 * features the log can give; the activity reads the label partitions and runs the join.
 *
 * @example
 * const spine = resolveLabelsSpine(project, { labels: 'clicked', fromLog: true }, selections);
 * spine.log?.features.map((f) => f.name);   // the features the decision log holds
 */

/** The features of `selections` that a logged service serves and logs: the same feature of the same view. */
export function loggedFeatures(layout: DecisionStreamLayout, selections: readonly FeatureSelection[]): DecisionFeature[] {
  const selected = new Set(selections.flatMap((s) => s.features.map((feature) => `${s.view}\u0000${feature}`)));
  return layout.features.filter((f) => selected.has(`${f.view}\u0000${f.name}`));
}

/** The decision log of labels' decisions, when they are a logged feature service's decision stream. */
export function decisionLogOf(project: Pick<ProjectSpec, 'entities' | 'featureViews' | 'featureServices'>, decisionStream: string): DecisionStreamLayout | undefined {
  return decisionLayoutsOf(project).get(decisionStream);
}

export interface ResolvedLabelsSpine {
  readonly labels: ResolvedLabels;
  /**
   * Present when the training set takes features from the log (`fromLog`) and the log holds some of
   * them: the stream, the service that logs to it, and those features, in the training set's order.
   */
  readonly log?: {
    readonly stream: string;
    readonly service: string;
    readonly features: readonly DecisionFeature[];
  };
}

/**
 * The labels a spine reads and the features their decision log holds. `selections` are the training
 * set's, in output order. Throws NotFoundError when the labels (or their streams) are not applied.
 */
export function resolveLabelsSpine(project: ProjectSpec, spine: TrainingSetLabelsSpine, selections: readonly FeatureSelection[]): ResolvedLabelsSpine {
  const labels = resolveLabels(project, spine.labels);
  const layout = spine.fromLog ? decisionLogOf(project, labels.decisions.name) : undefined;
  const order = selections.flatMap((s) => s.features);
  const features = layout ? loggedFeatures(layout, selections).sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name)) : [];
  return {
    labels,
    ...(layout && features.length > 0 ? { log: { stream: layout.stream, service: layout.service, features } } : {}),
  };
}

/**
 * The temporary table a run loads the label rows it joins into (one per run's engine session). The
 * training set's name keeps two runs in one session apart.
 */
export function labelsSpineTable(trainingSet: string): string {
  return `spine_${trainingSet}`;
}

/** The join to the decision log of a labels spine: by decision id and row index, the logged features with their status columns. */
export function decisionLogJoin(log: NonNullable<ResolvedLabelsSpine['log']>, timestampField: string): DecisionLogJoin {
  return {
    relation: eventStreamTableName(log.stream),
    keys: [DECISION_ID_COLUMN, ROW_INDEX_COLUMN],
    timestampField,
    features: log.features.map((f) => ({ name: f.name, type: f.type, statusColumn: f.statusColumn })),
  };
}

/** Thrown by a training-set run when a published label partition cannot be its spine (built with other columns). */
export class LabelsSpineError extends FlywheelError {
  readonly labels: string;
  readonly partition: string;
  constructor(labels: string, partition: string, problem: string) {
    super(`labels "${labels}" partition ${partition} cannot be read as the spine: ${problem}; rebuild it with \`flywheel labels build ${labels} --rebuild\``);
    this.labels = labels;
    this.partition = partition;
  }
}
