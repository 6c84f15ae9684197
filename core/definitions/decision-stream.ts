import { identifierProblem } from '../identifiers.ts';
import type { ValueType } from '../types.ts';
import type { ColumnSpec, EventFieldSpec, EventStreamSpec, FeatureServiceLogging, FeatureServiceSpec, ProjectSpec } from './specs.ts';

/**
 * The decision stream of a feature service with `logging`: an event stream derived from the
 * service, never declared, into which the serving API logs what it served (server/serving/decision-log.ts).
 * Validation adds it to `ProjectSpec.eventStreams`, so it is planned, applied (its table
 * `flywheel.stream_<name>`), served by the log API and ingested exactly like a declared stream.
 *
 * One event per served entity row, with the event id `<decision id>:<row index>`:
 *
 *   <join keys>             the row's keys (the join keys of the service's entities, in order)   NOT NULL
 *   served_at               when the features were read: the event time                          NOT NULL
 *   decision_id             the response's decision id                                            NOT NULL
 *   row_index               the row's position in the request, from 0                             NOT NULL
 *   <feature>               the value served, with the feature's type (null when missing/expired)
 *   <feature>__status       present, missing or expired                                           NOT NULL
 *   <view>__event_time      the event time of the values served from the view (null when missing)
 *   context                 the request's shared context as JSON text (null without one)
 *
 * A service that a model reads (`model({ service })`, scored by `POST /v1/decide`) has eight more
 * columns, after those, null in the rows `POST /v1/features` logs (docs/decide.md, "What is logged"):
 *
 *   model_name              the model that scored the decision
 *   model_version           the version that scored it
 *   model_score             the row's score (null: a filter removed the candidate before scoring)
 *   model_rank              its place in the greedy order of the eligible candidates, from 0
 *   shown_position          where it was shown, from 0 (null: not shown)
 *   propensity              the chance the policy shows it there (null: not shown)
 *   explored                whether the slate was the exploration branch's random one
 *   explore_key             the request's `explore.key`, which keyed its draws (null: keyed by the decision id)
 *
 * They come last and are nullable, so adding a model to a logged service only adds columns
 * (`flywheel apply` alters the table) and training sets from the log read the features as before.
 *
 * Features keep their names, so a training set can read the logged values in the columns it would
 * have computed. All features of a view come from one stored record, so they share one event time.
 *
 * Pure: no I/O.
 *
 * @example
 * const stream = decisionStreamSpec(project.featureServices.fraud_model!, project); // fraud_model_decisions
 */

export const DECISION_ID_COLUMN = 'decision_id';
export const ROW_INDEX_COLUMN = 'row_index';
export const SERVED_AT_COLUMN = 'served_at';
export const CONTEXT_COLUMN = 'context';
export const STATUS_COLUMN_SUFFIX = '__status';
export const EVENT_TIME_COLUMN_SUFFIX = '__event_time';

/** The columns a scored decision adds (see above), in order. */
export const SCORING_COLUMNS = {
  model: 'model_name',
  version: 'model_version',
  score: 'model_score',
  rank: 'model_rank',
  position: 'shown_position',
  propensity: 'propensity',
  explored: 'explored',
  exploreKey: 'explore_key',
} as const;

/** What a layout needs of the project's models: which services they read. */
export type ScoringModels = { readonly models?: Readonly<Record<string, { readonly service: string | undefined }>> };

/** How long logged decisions are kept unless `logging.retention` says otherwise: a year. */
export const DEFAULT_DECISION_RETENTION_SECONDS = 365 * 86_400;

export function defaultDecisionStreamName(service: string): string {
  return `${service}_decisions`;
}

/** The column holding a feature's status. */
export function statusColumn(feature: string): string {
  return `${feature}${STATUS_COLUMN_SUFFIX}`;
}

/** The column holding the event time of the values served from a view. */
export function eventTimeColumn(view: string): string {
  return `${view}${EVENT_TIME_COLUMN_SUFFIX}`;
}

/** The event id of a decision's row: the same for every copy of the decision, so a retried log is stored once. */
export function decisionEventId(decisionId: string, rowIndex: number): string {
  return `${decisionId}:${rowIndex}`;
}

/** A feature service that logs its decisions. */
export type LoggedFeatureService = FeatureServiceSpec & { readonly logging: FeatureServiceLogging };

export function isLogged(service: FeatureServiceSpec): service is LoggedFeatureService {
  return service.logging !== undefined;
}

/** A served feature: its column, type, status column and the view it is read from. */
export interface DecisionFeature {
  readonly name: string;
  readonly type: ValueType;
  readonly view: string;
  readonly statusColumn: string;
}

/** The features served from one view, which share one event time. */
export interface DecisionViewGroup {
  readonly view: string;
  readonly eventTimeColumn: string;
  readonly features: readonly string[];
}

/** What a decision row holds, column by column: what the decision log writes and the stream spec declares. */
export interface DecisionStreamLayout {
  readonly service: string;
  readonly stream: string;
  readonly sampleRate: number;
  /** The entities of the service's views, in the order they are first used, each once. */
  readonly entities: readonly string[];
  /** Their join keys, each once (the first entity declaring a key gives its type). */
  readonly keys: readonly ColumnSpec[];
  /** In the service's order. */
  readonly features: readonly DecisionFeature[];
  /** In the order the service first selects each view. */
  readonly views: readonly DecisionViewGroup[];
  /** Whether a model reads the service: its rows carry the SCORING_COLUMNS. */
  readonly scored: boolean;
}

/** The columns of a logged service's decision rows. Features of views that do not exist are left out (validation reports them). */
export function decisionStreamLayout(service: LoggedFeatureService, project: Pick<ProjectSpec, 'entities' | 'featureViews'> & ScoringModels): DecisionStreamLayout {
  const entities: string[] = [];
  const keys: ColumnSpec[] = [];
  const features: DecisionFeature[] = [];
  const views = new Map<string, string[]>();
  for (const selection of service.features) {
    const view = project.featureViews[selection.view];
    if (!view) continue;
    for (const entity of view.entities) {
      if (entities.includes(entity)) continue;
      entities.push(entity);
      for (const key of project.entities[entity]?.joinKeys ?? []) {
        if (!keys.some((k) => k.name === key.name)) keys.push({ name: key.name, type: key.type });
      }
    }
    const group = views.get(view.name) ?? [];
    views.set(view.name, group);
    for (const name of selection.features) {
      const feature = view.features.find((f) => f.name === name);
      if (!feature) continue;
      features.push({ name, type: feature.type, view: view.name, statusColumn: statusColumn(name) });
      group.push(name);
    }
  }
  return {
    service: service.name, stream: service.logging.stream, sampleRate: service.logging.sampleRate, entities, keys, features,
    views: [...views].map(([view, names]) => ({ view, eventTimeColumn: eventTimeColumn(view), features: names })),
    scored: Object.values(project.models ?? {}).some((model) => model.service === service.name),
  };
}

/** The fields of a decision stream, in order (the keys and `served_at` are not among them). */
export function decisionStreamFields(layout: DecisionStreamLayout): EventFieldSpec[] {
  return [
    { name: DECISION_ID_COLUMN, type: 'string', nullable: false },
    { name: ROW_INDEX_COLUMN, type: 'int32', nullable: false },
    ...layout.features.map((f): EventFieldSpec => ({ name: f.name, type: f.type, nullable: true })),
    ...layout.features.map((f): EventFieldSpec => ({ name: f.statusColumn, type: 'string', nullable: false })),
    ...layout.views.map((v): EventFieldSpec => ({ name: v.eventTimeColumn, type: 'timestamp', nullable: true })),
    { name: CONTEXT_COLUMN, type: 'string', nullable: true },
    ...(layout.scored ? scoringFields() : []),
  ];
}

function scoringFields(): EventFieldSpec[] {
  const c = SCORING_COLUMNS;
  return [
    { name: c.model, type: 'string', nullable: true },
    { name: c.version, type: 'string', nullable: true },
    { name: c.score, type: 'float64', nullable: true },
    { name: c.rank, type: 'int32', nullable: true },
    { name: c.position, type: 'int32', nullable: true },
    { name: c.propensity, type: 'float64', nullable: true },
    { name: c.explored, type: 'bool', nullable: true },
    { name: c.exploreKey, type: 'string', nullable: true },
  ];
}

/** The event stream a logged service's decisions are stored in, as validation adds it to the project. */
export function decisionStreamSpec(service: LoggedFeatureService, project: Pick<ProjectSpec, 'entities' | 'featureViews'> & ScoringModels): EventStreamSpec {
  const layout = decisionStreamLayout(service, project);
  return {
    kind: 'eventStream',
    name: layout.stream,
    entities: layout.entities,
    keys: layout.keys,
    timestampField: SERVED_AT_COLUMN,
    fields: decisionStreamFields(layout),
    retentionSeconds: service.logging.retentionSeconds,
    ...(service.logging.retentionSchedule ? { retentionSchedule: service.logging.retentionSchedule } : {}),
    description: `What feature service "${service.name}" served: one row per entity row of each logged decision (derived from the service's logging)`,
    ...(service.owner !== undefined ? { owner: service.owner } : {}),
    tags: {},
  };
}

/** The decision stream of every logged service of a project, by stream name. */
export function decisionLayoutsOf(project: Pick<ProjectSpec, 'entities' | 'featureViews' | 'featureServices'> & ScoringModels): Map<string, DecisionStreamLayout> {
  const layouts = new Map<string, DecisionStreamLayout>();
  for (const service of Object.values(project.featureServices)) {
    if (isLogged(service)) layouts.set(service.logging.stream, decisionStreamLayout(service, project));
  }
  return layouts;
}

/**
 * What keeps a logged service's decision rows from being a table: two entities that give one join key
 * different types, a column name that is not an identifier (`<feature>__status` over 63 characters),
 * starts with `_`, or is taken twice (ignoring case: a feature named `served_at`, a feature that is
 * also a join key, a feature `x__status` beside a feature `x`). Each as `{ field, message }` of the service.
 */
export function decisionStreamProblems(service: LoggedFeatureService, project: Pick<ProjectSpec, 'entities' | 'featureViews'> & ScoringModels): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const layout = decisionStreamLayout(service, project);
  const stream = `decision stream "${layout.stream}"`;

  for (const entity of layout.entities) {
    for (const key of project.entities[entity]?.joinKeys ?? []) {
      const first = layout.keys.find((k) => k.name === key.name);
      if (first && first.type !== key.type) {
        problems.push({ field: 'logging', message: `entity "${entity}" join key "${key.name}" is ${key.type}, but another entity of the service declares it ${first.type}; the ${stream} has one column per join key` });
      }
    }
  }

  const columns: { name: string; what: string }[] = [
    ...layout.keys.map((k) => ({ name: k.name, what: `join key "${k.name}"` })),
    { name: SERVED_AT_COLUMN, what: 'the time the decision was served' },
    { name: DECISION_ID_COLUMN, what: 'the decision id' },
    { name: ROW_INDEX_COLUMN, what: 'the row index' },
    ...layout.features.map((f) => ({ name: f.name, what: `feature "${f.name}"` })),
    ...layout.features.map((f) => ({ name: f.statusColumn, what: `the status of feature "${f.name}"` })),
    ...layout.views.map((v) => ({ name: v.eventTimeColumn, what: `the event time of feature view "${v.view}"` })),
    { name: CONTEXT_COLUMN, what: 'the request context' },
    ...(layout.scored ? Object.values(SCORING_COLUMNS).map((name) => ({ name, what: `the decision's ${name.replace('_', ' ')} (a model reads the service)` })) : []),
  ];
  const seen = new Map<string, string>();
  for (const column of columns) {
    const problem = identifierProblem(column.name);
    if (problem) {
      problems.push({ field: 'logging', message: `the column of ${column.what} in the ${stream} would be "${column.name}", which is not a valid identifier: ${problem}` });
      continue;
    }
    if (column.name.startsWith('_')) {
      problems.push({ field: 'logging', message: `the column of ${column.what} in the ${stream} would be "${column.name}", which starts with "_", reserved for Flywheel's columns (_event_id, _received_at, _batch)` });
      continue;
    }
    const other = seen.get(column.name.toLowerCase());
    if (other !== undefined) {
      problems.push({ field: 'logging', message: `the ${stream} would have two columns named "${column.name}": ${other} and ${column.what} (names are compared ignoring case); rename one of them` });
      continue;
    }
    seen.set(column.name.toLowerCase(), column.what);
  }
  return problems;
}
