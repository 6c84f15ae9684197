import type { ColumnSpec, DefinitionKind, EntitySpec, EventStreamSpec, FeatureSelection, FeatureServiceSpec, FeatureViewSpec, LabelsSpec, TrainingSetLabelsSpine } from '../definitions/specs.ts';
import { isDecisionLog, labelColumns } from '../labels/columns.ts';
import { decisionLogOf, loggedFeatures } from '../training-set/labels-spine.ts';
import { isAssignable } from '../types.ts';

/**
 * The rules of a training set whose spine is a labels dataset (docs/training-from-logs.md), checked
 * once the labels are: the labels exist; their columns hold every join key the features need, with a
 * compatible type, and no feature has the name of one of them; `fromLog: true` needs labels over a
 * logged feature service's decisions that logs some of the selected features. Returns the spine with
 * `fromLog` normalized: as given, else true exactly when the labels' decision log holds a selected feature.
 */

export interface LabelsSpineContext {
  readonly entities: Readonly<Record<string, EntitySpec>>;
  readonly eventStreams: Readonly<Record<string, EventStreamSpec>>;
  readonly featureViews: Readonly<Record<string, FeatureViewSpec>>;
  readonly featureServices: Readonly<Record<string, FeatureServiceSpec>>;
  readonly labels: Readonly<Record<string, LabelsSpec>>;
  readonly suggest: (name: string, candidates: readonly string[]) => string;
  /** Whether a definition of that kind and name failed its shape check (already reported: no second problem). */
  readonly isFailed: (kind: DefinitionKind, name: string) => boolean;
}

export function labelsSpineSpecOf(
  input: { readonly labels: string; readonly fromLog?: boolean | undefined },
  selections: readonly FeatureSelection[],
  context: LabelsSpineContext,
  report: (field: string, message: string) => void,
): TrainingSetLabelsSpine {
  const unchecked = { labels: input.labels, fromLog: input.fromLog ?? false };
  const labels = context.labels[input.labels];
  if (!labels) {
    if (!context.isFailed('labels', input.labels)) report('spine.labels', `unknown labels "${input.labels}"${context.suggest(input.labels, Object.keys(context.labels))}`);
    return unchecked;
  }
  const decisions = context.eventStreams[labels.decisions];
  const outcomes = context.eventStreams[labels.outcomes];
  // The labels' own problems are reported on them; their columns are unknown until those are fixed.
  if (!decisions || !outcomes) return unchecked;

  const what = `labels "${labels.name}"`;
  const columns = labelColumns(labels, decisions, outcomes, isDecisionLog(context, decisions.name)).all;
  const types = new Map(columns.map((c) => [c.name, c.type]));
  const checked = new Set<string>();
  for (const selection of selections) {
    for (const entityName of context.featureViews[selection.view]?.entities ?? []) {
      if (checked.has(entityName)) continue;
      checked.add(entityName);
      for (const key of context.entities[entityName]?.joinKeys ?? []) {
        const problem = columnProblem(types, key, context.suggest);
        if (problem) report('spine', `entity "${entityName}" (used by feature view "${selection.view}") join key ${problem} in the rows of ${what}`);
      }
    }
    for (const feature of selection.features) {
      if (types.has(feature)) report('features', `feature "${feature}" has the name of a column of ${what}; output columns must be unique`);
    }
  }

  const layout = decisionLogOf(context, decisions.name);
  const logged = layout ? loggedFeatures(layout, selections) : [];
  if (input.fromLog === true) {
    if (!layout) {
      report('fromLog', `${what} read their decisions from event stream "${decisions.name}", which is not a feature service's decision log; fromLog takes feature values from a log, so give labels whose decisions are a feature service with logging`);
    } else if (logged.length === 0) {
      report('fromLog', `feature service "${layout.service}" logs none of the selected features (it logs ${layout.features.map((f) => `${f.view}.${f.name}`).join(', ') || 'none'}); select features it serves, or leave fromLog out`);
    }
  }
  return { labels: labels.name, fromLog: input.fromLog ?? logged.length > 0 };
}

function columnProblem(available: ReadonlyMap<string, ColumnSpec['type']>, wanted: ColumnSpec, suggest: LabelsSpineContext['suggest']): string | undefined {
  const actual = available.get(wanted.name);
  if (actual === undefined) return `"${wanted.name}" is an unknown column${suggest(wanted.name, [...available.keys()])}`;
  if (!isAssignable(actual, wanted.type)) return `"${wanted.name}" is declared ${wanted.type} but the column is ${actual}`;
  return undefined;
}
