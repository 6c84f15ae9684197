import type { ColumnSpec, FeatureSelection, FeatureViewSpec, ProjectSpec, SourceSpec, TrainingSetSpec } from '../definitions/specs.ts';
import { NotFoundError } from '../errors.ts';
import { aggregationEventsOf } from '../aggregations/aggregation-events.ts';
import type { PointInTimeJoin, PointInTimeView } from '../sql/point-in-time.ts';
import { featureViewBaseTable, featureViewColumns, featureViewViewName, sourceViewName } from '../sql/warehouse-objects.ts';
import { decisionLogJoin, labelsSpineTable, resolveLabelsSpine, type ResolvedLabelsSpine } from './labels-spine.ts';

/** A training set with every reference followed: what to join, and the columns it will have. */
export interface ResolvedTrainingSet {
  readonly spec: TrainingSetSpec;
  /** The spine's source; absent when the spine is a labels dataset (`labelsSpine`). */
  readonly spine: SourceSpec | undefined;
  /** A labels spine: the labels, and the decision log features are read from (core/training-set/labels-spine.ts). */
  readonly labelsSpine?: ResolvedLabelsSpine;
  /**
   * In the order of `join.views`. `baseTable`: the table a plain view reads row for row, whose
   * uniqueness constraints let the join skip its tie-break (joinWithTableFacts).
   */
  readonly views: readonly { readonly view: FeatureViewSpec; readonly features: readonly ColumnSpec[]; readonly baseTable?: string }[];
  /** Spine columns then features, in the order of the output files. */
  readonly columns: readonly ColumnSpec[];
  readonly join: PointInTimeJoin;
}

export interface TimeRange {
  /** Inclusive lower bound on the spine timestamp (ISO-8601 instant). */
  readonly from?: string;
  /** Exclusive upper bound. */
  readonly to?: string;
}

export function resolveTrainingSet(project: ProjectSpec, name: string, range: TimeRange = {}): ResolvedTrainingSet {
  const spec = project.trainingSets[name];
  if (!spec) throw new NotFoundError('training set', name, knownNames(project.trainingSets));
  const selections: readonly FeatureSelection[] =
    'service' in spec.features ? must(project.featureServices[spec.features.service], 'feature service', spec.features.service).features : spec.features.views;
  const spine = typeof spec.spine === 'string' ? must(project.sources[spec.spine], 'source', spec.spine) : undefined;
  // A labels spine's rows are loaded by the run into a table of its session; its time is the decision's.
  const labelsSpine = typeof spec.spine === 'string' ? undefined : resolveLabelsSpine(project, spec.spine, selections);
  const spineColumns = spine?.columns ?? labelsSpine?.labels.columns ?? [];
  const spineTime = spine?.timestampField ?? labelsSpine?.labels.decisions.timestampField ?? '';

  const views = selections.map((selection) => {
    const view = must(project.featureViews[selection.view], 'feature view', selection.view);
    const features = selection.features.map((feature) => must(view.features.find((f) => f.name === feature), `feature of ${view.name}`, feature));
    const baseTable = view.aggregations ? undefined : featureViewBaseTable(view, project);
    return { view, features, ...(baseTable !== undefined ? { baseTable } : {}) };
  });

  return {
    spec,
    spine,
    ...(labelsSpine ? { labelsSpine } : {}),
    views,
    columns: [...spineColumns, ...views.flatMap((v) => v.features)],
    join: {
      ...(labelsSpine?.log ? { log: decisionLogJoin(labelsSpine.log, spineTime) } : {}),
      spine: {
        relation: spine ? sourceViewName(spine.name) : labelsSpineTable(spec.name),
        timestampField: spineTime,
        columns: spineColumns.map((c) => c.name),
        ...(range.from !== undefined ? { from: range.from } : {}),
        ...(range.to !== undefined ? { to: range.to } : {}),
      },
      views: views.map(({ view, features }): PointInTimeView => {
        if (view.aggregations) return { kind: 'aggregation', ...aggregationEventsOf(view, project, features.map((f) => f.name)) };
        const columns = featureViewColumns(view, project);
        return {
          kind: 'latest',
          relation: featureViewViewName(view.name),
          joinKeys: columns.joinKeys.map((k) => k.name),
          timestampField: columns.timestamp,
          ...(columns.createdTimestamp ? { createdTimestampField: columns.createdTimestamp } : {}),
          features: features.map((f) => f.name),
          ttlSeconds: view.ttlSeconds,
          ...(declaredUnique(view, project, [...columns.joinKeys.map((k) => k.name), columns.timestamp]) ? { uniqueEventTimes: true } : {}),
        };
      }),
    },
  };
}

/**
 * The view reads its source row for row (no transformation) and the source promises (`unique`) that a
 * set of columns within the view's join keys and event time is unique: no two rows can tie.
 */
function declaredUnique(view: FeatureViewSpec, project: ProjectSpec, keysAndTime: readonly string[]): boolean {
  const unique = view.transformation === undefined ? project.sources[view.source]?.unique : undefined;
  if (unique === undefined) return false;
  const covered = new Set(keysAndTime.map((c) => c.toLowerCase()));
  return unique.every((c) => covered.has(c.toLowerCase()));
}

// The registry was validated when it was applied, so a dangling reference means it was edited by hand.
function must<T>(value: T | undefined, what: string, name: string): T {
  if (value === undefined) throw new NotFoundError(what, name, 'The applied registry refers to it; run `flywheel apply` again');
  return value;
}

function knownNames(record: Record<string, unknown>): string {
  const names = Object.keys(record);
  return names.length ? `Known training sets: ${names.join(', ')}` : 'No training sets are applied; run `flywheel apply`';
}
