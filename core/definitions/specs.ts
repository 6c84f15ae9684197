import type { ValueType } from '../types.ts';

/**
 * Normalized, JSON-serializable specs: what validation produces from the builders' input, what the
 * registry stores, what plan diffs and what workers read back from the warehouse. References between
 * objects are by name.
 */

export interface ColumnSpec {
  readonly name: string;
  readonly type: ValueType;
  readonly description?: string;
}

export interface EntitySpec {
  readonly kind: 'entity';
  readonly name: string;
  readonly joinKeys: readonly ColumnSpec[];
  readonly description?: string;
}

export type SourceLocation =
  | { readonly type: 'table'; readonly table: string }
  | { readonly type: 'query'; readonly query: string }
  | { readonly type: 'parquet'; readonly path: string };

export interface SourceSpec {
  readonly kind: 'source';
  readonly name: string;
  readonly location: SourceLocation;
  readonly timestampField: string;
  readonly createdTimestampField?: string;
  readonly columns: readonly ColumnSpec[];
  /** Columns no two rows share all at once: the owner's promise, checked on a sample at plan (runtime/warehouse-checks.ts). */
  readonly unique?: readonly string[];
  readonly description?: string;
  readonly owner?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** A field of an event stream: a column of its table, non-null unless declared `nullable`. */
export interface EventFieldSpec {
  readonly name: string;
  readonly type: ValueType;
  readonly nullable: boolean;
  /** String fields: the longest value the log API takes (UTF-16 code units). Absent: the default (core/definitions/event-limits.ts). */
  readonly maxLength?: number;
  readonly description?: string;
}

/**
 * How a `from` stream finds the rows of its external table it has not loaded yet: rows whose
 * `column` is later than the last load's watermark minus the lookback. `eventTime`: the column is
 * when the event happened (a row arriving later than the lookback is missed); `loadedAt`: when the
 * row was written to the table (late events are picked up when they land).
 */
export type EventStreamWatermark =
  | { readonly type: 'eventTime'; readonly column: string }
  | { readonly type: 'loadedAt'; readonly column: string };

/** An existing warehouse table that another system fills, which the stream loads from (docs/collect.md). */
export interface EventStreamFrom {
  readonly table: string;
  readonly watermark: EventStreamWatermark;
  /** How far before the last watermark each load reads again, for rows that landed late. */
  readonly lookbackSeconds: number;
}

/**
 * A stream of events Flywheel stores in its own table, `flywheel.stream_<name>` (core/sql/warehouse-objects.ts):
 * one row per event id, with the join keys and the timestamp (never null) and the fields.
 * Feature views may name it as their `source`.
 */
export interface EventStreamSpec {
  readonly kind: 'eventStream';
  readonly name: string;
  readonly entities: readonly string[];
  /**
   * The join keys of the entities, in entity order, each once: columns of every event, never null.
   * Kept with the stream (not only in its entities) because they are columns of its table.
   */
  readonly keys: readonly ColumnSpec[];
  /** The column holding each event's time (a UTC instant). */
  readonly timestampField: string;
  /** A string field that identifies an event; without it, a `from` stream's ids hash the keys, timestamp and fields. */
  readonly eventIdField?: string;
  /** The fields, in declared order (the keys and the timestamp are not among them). */
  readonly fields: readonly EventFieldSpec[];
  /** How long events are kept after their event time. */
  readonly retentionSeconds: number;
  /**
   * Present when `flywheel apply` keeps a Temporal Schedule that deletes the events older than the
   * retention (workflows/enforce-retention.ts). Absent (never undefined): specs applied before it existed hash as they did.
   */
  readonly retentionSchedule?: ScheduleSpec;
  /** How far after the log API's clock an event time may be; absent: the default of a day (core/definitions/event-limits.ts). */
  readonly maxEventTimeAheadSeconds?: number;
  /** Present when the events are loaded from an existing table rather than sent to Flywheel. */
  readonly from?: EventStreamFrom;
  readonly description?: string;
  readonly owner?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** What a windowed aggregation computes over the events in its window (docs/point-in-time.md, "Windowed aggregations"). */
export type AggregationFunction = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'last' | 'distinct_count';

/** One feature of an aggregation view: a function of the view's events in a trailing window. */
export interface AggregationSpec {
  /** The feature it produces (also in FeatureViewSpec.features, with its type). */
  readonly name: string;
  readonly function: AggregationFunction;
  /** The column it reads; absent for `count`, which counts events. */
  readonly column?: string;
  /** Events with event time e count for an instant t when t - window < e <= t. */
  readonly windowSeconds: number;
}

export interface FeatureViewSpec {
  readonly kind: 'featureView';
  readonly name: string;
  readonly entities: readonly string[];
  /** The name of a source or of an event stream (a source and a stream never share a name). */
  readonly source: string;
  /** The features, in order. For an aggregation view, the features its aggregations generate. */
  readonly features: readonly ColumnSpec[];
  /**
   * Present for an aggregation view: its rows are events, and each feature aggregates the events in a
   * trailing window of the time it is read as of. Absent for a plain view (the latest row's values).
   */
  readonly aggregations?: readonly AggregationSpec[];
  /** For an aggregation view, the columns its aggregations read, with their types (from the source, or the declared `inputs` of a transformation). */
  readonly aggregationInputs?: readonly ColumnSpec[];
  /** SQL over the source, which it names as `{{source}}`; its output holds the join keys, the timestamp and the features (or the aggregation inputs). */
  readonly transformation?: string;
  /** Values older than this (relative to the time they are read as of) read as null; null means no limit (always null for an aggregation view). */
  readonly ttlSeconds: number | null;
  readonly online: boolean;
  readonly offline: boolean;
  /**
   * `true` for a view over an event stream whose events the log API writes to the online store once
   * they are stored (server/push/). Absent means not pushed (never `false`): specs applied before
   * the field existed hash and diff as they did.
   */
  readonly push?: true;
  /**
   * Present when the view is materialized on a schedule: `flywheel apply` keeps a Temporal Schedule
   * that runs its incremental materialization (docs/materialization.md). Absent: only on demand.
   */
  readonly materialize?: MaterializationSchedule;
  readonly owner?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * When a Flywheel schedule fires, in UTC: exactly one of `cron` or `everySeconds` (with
 * `offsetSeconds`), with its catch-up window and paused state. What each kind adds is in its own type.
 */
export interface ScheduleSpec {
  /** Five-field cron, single-spaced. */
  readonly cron?: string;
  readonly everySeconds?: number;
  /** Present, possibly 0, with `everySeconds`. */
  readonly offsetSeconds?: number;
  readonly catchupWindowSeconds: number;
  readonly paused: boolean;
}

/** When and how an online feature view is materialized, in UTC. */
export interface MaterializationSchedule extends ScheduleSpec {
  /**
   * How far before the stored watermark each incremental run looks for rows that arrived late.
   * Absent: the lookback of the event stream the view reads when it loads from a table, else none.
   */
  readonly lookbackSeconds?: number;
  /** Disjoint buckets of entity keys each run is split into, one activity each. */
  readonly chunks: number;
}

export interface FeatureSelection {
  readonly view: string;
  readonly features: readonly string[];
}

/**
 * A feature service whose responses are logged: a sample of its decisions is appended to its
 * decision stream, an event stream derived from the service (core/definitions/decision-stream.ts).
 */
export interface FeatureServiceLogging {
  /** The share of decisions logged, in (0, 1]; which ones is decided by a hash of the decision id. */
  readonly sampleRate: number;
  /** The decision stream's name (`<service>_decisions` unless declared); it is in `ProjectSpec.eventStreams`. */
  readonly stream: string;
  /** How long logged decisions are kept after they were served. */
  readonly retentionSeconds: number;
  /** When the decisions older than the retention are deleted; copied to the decision stream's spec. */
  readonly retentionSchedule?: ScheduleSpec;
}

export interface FeatureServiceSpec {
  readonly kind: 'featureService';
  readonly name: string;
  readonly features: readonly FeatureSelection[];
  /** Absent when the service's decisions are not logged (specs applied before logging existed hash as they did). */
  readonly logging?: FeatureServiceLogging;
  readonly owner?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export type TrainingSetFeatures =
  | { readonly service: string }
  | { readonly views: readonly FeatureSelection[] };

export const PARTITION_UNITS = ['day', 'hour', 'month', 'none'] as const;
/** How a training set's rows are split into partitions, by the UTC spine timestamp. */
export type PartitionUnit = (typeof PARTITION_UNITS)[number];

export interface TrainingSetOutput {
  readonly format: 'parquet';
  /** Key prefix in the object store under which the dataset is written. */
  readonly path: string;
  readonly partitionBy: PartitionUnit;
}

/**
 * A training set's schedule, in UTC. Each run builds the UTC day `partitionLag` days before the day
 * it is scheduled on.
 */
export interface TrainingSetSchedule extends ScheduleSpec {
  readonly partitionLag: number;
}

/**
 * A training set whose rows are a labels dataset's (docs/training-from-logs.md): each decision with
 * its label, as of the decision time. With `fromLog`, each feature takes the value the decision log
 * holds for the decision (what the model saw) and the point-in-time join fills the rest.
 */
export interface TrainingSetLabelsSpine {
  readonly labels: string;
  /** Only for labels over a feature service's decision log (the default there). */
  readonly fromLog: boolean;
}

/** A source's name (its rows are the spine), or a labels dataset. */
export type TrainingSetSpine = string | TrainingSetLabelsSpine;

export interface TrainingSetSpec {
  readonly kind: 'trainingSet';
  readonly name: string;
  /**
   * The rows of the training set: a source (its name) whose rows hold entity keys, a timestamp and
   * any label columns, or a labels dataset. A source spine stays a plain string, so specs applied
   * before labels spines existed hash and diff as they did.
   */
  readonly spine: TrainingSetSpine;
  readonly features: TrainingSetFeatures;
  readonly output: TrainingSetOutput;
  /** Build on a schedule; `flywheel apply` keeps a Temporal Schedule in step with it. */
  readonly schedule?: TrainingSetSchedule;
  readonly owner?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * How outcomes find the decisions they label (docs/labels.md): by the decision id the outcome carries
 * (and, optionally, columns both streams have, such as the item of a ranked row), or by entity keys,
 * an outcome counting for a decision of the same keys whose window holds it.
 */
export type LabelsMatch =
  | {
      readonly by: 'decision_id';
      /** The decision stream's column holding the decision id (`decision_id` for a service's decision log). */
      readonly decisionIdField: string;
      /** The outcome stream's column holding the id of the decision it follows. */
      readonly outcomeField: string;
      /** Columns of both streams that must be equal too (the row of a multi-row decision); often none. */
      readonly keys: readonly string[];
    }
  | {
      readonly by: 'keys';
      /** Columns of both streams that must all be equal (and not null). */
      readonly keys: readonly string[];
      /** `all`: an outcome counts for every decision whose window holds it; `last`: only for the latest decision at or before it. */
      readonly attribution: 'all' | 'last';
    };

export const LABEL_VALUE_KINDS = ['any', 'count', 'sum', 'avg', 'min', 'max', 'last'] as const;
export type LabelValueKind = (typeof LABEL_VALUE_KINDS)[number];

/**
 * A decision's label, from the outcomes matched in its window: `any` is 1 when there is at least
 * one, else 0; `count` is how many; the others aggregate an outcome field, null (or `default`) when
 * nothing is there to aggregate.
 */
export type LabelValue =
  | { readonly kind: 'any' }
  | { readonly kind: 'count' }
  | {
      readonly kind: 'sum' | 'avg' | 'min' | 'max' | 'last';
      /** The outcome stream's field it reads. */
      readonly field: string;
      /** The label when the aggregate is null (no outcome, or none with a value); absent: null. */
      readonly default?: number | string | boolean;
    };

/** A labels dataset's schedule, in UTC. Each run builds what is due. */
export type LabelsSchedule = ScheduleSpec;

/**
 * How outcomes become labels for decisions (docs/labels.md): each decision of the `decisions`
 * stream whose window `[decision time, decision time + window]` has closed gets a label computed
 * from the `outcomes` that match it in that window. Written as Parquet partitioned by decision time.
 */
export interface LabelsSpec {
  readonly kind: 'labels';
  readonly name: string;
  /** An event stream (declared, or a feature service's decision stream): one row per decision. */
  readonly decisions: string;
  /** An event stream: one row per outcome. */
  readonly outcomes: string;
  readonly match: LabelsMatch;
  readonly windowSeconds: number;
  readonly value: LabelValue;
  /** Parquet under `path` (default `labels/<name>`), one folder per UTC day or hour of the decision time. */
  readonly output: { readonly format: 'parquet'; readonly path: string; readonly partitionBy: 'day' | 'hour' };
  /** Build on a schedule; `flywheel apply` keeps a Temporal Schedule in step with it. */
  readonly schedule?: LabelsSchedule;
  readonly owner?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** A loop's schedule, in UTC. */
export type LoopSchedule = ScheduleSpec;

/**
 * A named run of the flywheel loop (docs/loop.md): the project's stages (ingest, labels, training
 * sets, materialization) in dependency order, each a child workflow, all of them or `only` some.
 * With a `schedule`, `flywheel apply` keeps a Temporal Schedule that starts it.
 */
export interface LoopSpec {
  readonly kind: 'loop';
  readonly name: string;
  /** Stage kinds (`materialize`) or stage ids (`trainingSet:fraud_training`); absent: every stage. */
  readonly only?: readonly string[];
  /** Stages running at once. */
  readonly concurrency: number;
  readonly schedule?: LoopSchedule;
  readonly owner?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** One input of a model: a feature its service serves, or a request field (a spine column in batch scoring). */
export type ModelInputSpec = { readonly feature: string } | { readonly request: string };

/** How a model version's artifact scores (docs/models.md, "Artifact formats"). */
export type ModelArtifactSpec =
  | { readonly format: 'onnx' }
  | {
      readonly format: 'typescript';
      /** The module's path relative to the project root (written relative to the defining file). */
      readonly module: string;
      readonly export: string;
    };

/** Batch scoring of a model (docs/models.md): the spine source, rows per chunk, and an optional schedule. */
export interface ModelBatchSpec {
  readonly spine: string;
  readonly chunkSize: number;
  readonly schedule?: ScheduleSpec;
}

/**
 * A model (docs/models.md): the feature service it reads, its inputs in order, its output, and the
 * format of its versions' artifacts. Versions live in the object store, not in the registry.
 */
/** Cold-start policies of a model: `uniform-random` shows the first k of a uniformly random order, each with propensity 1 / n. */
export const MODEL_COLD_STARTS = ['uniform-random'] as const;
export type ModelColdStart = (typeof MODEL_COLD_STARTS)[number];

export interface ModelSpec {
  readonly kind: 'model';
  readonly name: string;
  readonly service: string;
  readonly inputs: readonly ModelInputSpec[];
  readonly output: { readonly name: string; readonly kind: 'score' | 'probability' };
  readonly artifact: ModelArtifactSpec;
  readonly batch?: ModelBatchSpec;
  /** Named filter expressions for `/v1/decide` (docs/decide.md); absent when none are declared. */
  readonly filters?: Readonly<Record<string, string>>;
  /** How `/v1/decide` decides before any version is promoted (docs/decide.md, "Cold start"); absent: it answers 503. */
  readonly coldStart?: ModelColdStart;
  readonly owner?: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
}

export type DefinitionSpec = EntitySpec | SourceSpec | EventStreamSpec | FeatureViewSpec | FeatureServiceSpec | TrainingSetSpec | LabelsSpec | LoopSpec | ModelSpec;
export type DefinitionKind = DefinitionSpec['kind'];

export const DEFINITION_KINDS = ['entity', 'source', 'eventStream', 'featureView', 'featureService', 'trainingSet', 'labels', 'loop', 'model'] as const satisfies readonly DefinitionKind[];

/** Everything a project declares, by kind and name. Produced by validateProject; stored as a registry version. */
export interface ProjectSpec {
  readonly entities: Readonly<Record<string, EntitySpec>>;
  readonly sources: Readonly<Record<string, SourceSpec>>;
  readonly eventStreams: Readonly<Record<string, EventStreamSpec>>;
  readonly featureViews: Readonly<Record<string, FeatureViewSpec>>;
  readonly featureServices: Readonly<Record<string, FeatureServiceSpec>>;
  readonly trainingSets: Readonly<Record<string, TrainingSetSpec>>;
  readonly labels: Readonly<Record<string, LabelsSpec>>;
  readonly loops: Readonly<Record<string, LoopSpec>>;
  readonly models: Readonly<Record<string, ModelSpec>>;
}

export const COLLECTION_OF_KIND = {
  entity: 'entities',
  source: 'sources',
  eventStream: 'eventStreams',
  featureView: 'featureViews',
  featureService: 'featureServices',
  trainingSet: 'trainingSets',
  labels: 'labels',
  loop: 'loops',
  model: 'models',
} as const satisfies Record<DefinitionKind, keyof ProjectSpec>;

export function emptyProject(): ProjectSpec {
  return { entities: {}, sources: {}, eventStreams: {}, featureViews: {}, featureServices: {}, trainingSets: {}, labels: {}, loops: {}, models: {} };
}
