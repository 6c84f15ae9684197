import type { ColumnSpec, FeatureServiceSpec, ModelSpec, ProjectSpec, SourceSpec, TrainingSetSpec } from '../definitions/specs.ts';
import { NotFoundError } from '../errors.ts';
import { compilePointInTimeJoin } from '../sql/point-in-time.ts';
import type { CompiledQuery } from '../sql/compiled-query.ts';
import type { Dialect } from '../sql/dialect.ts';
import { DEFAULT_WAREHOUSE_SCHEMA, sourceViewName } from '../sql/warehouse-objects.ts';
import { resolveTrainingSet } from '../training-set/resolve-training-set.ts';
import { modelInputName } from '../validation/model.ts';

/**
 * Batch scoring in SQL (docs/models.md, "Batch scoring"): the spine's rows as of one time, their
 * features computed point in time by the training-set compiler, numbered for chunks; predictions
 * written to `flywheel.predictions_<model>`, keyed by the entity keys, `as_of` and `model_version`.
 * Pure: statements only.
 */

export const AS_OF_COLUMN = 'as_of';
export const MODEL_VERSION_COLUMN = 'model_version';
export const SPINE_ROW_COLUMN = 'spine_row';
export const RUN_ID_COLUMN = 'run_id';
export const SCORED_AT_COLUMN = 'scored_at';

export function predictionsTableName(model: string, schema: string = DEFAULT_WAREHOUSE_SCHEMA): string {
  return `${schema}.predictions_${model}`;
}

/** Where a run keeps its spine with features while it scores; dropped at the end. */
export function scoringTableName(model: string, runKey: string, schema: string = DEFAULT_WAREHOUSE_SCHEMA): string {
  return `${schema}.scoring_${model}_${runKey}`;
}

/**
 * Where a run's spine rows come from: a source (by name) or a Parquet file (a local path or an
 * object-store URI). `asOf` scores every distinct row as of one instant (the entities of a table);
 * without it each row is scored as of its own time (`timeColumn`), point in time like a training set.
 */
export type BatchSpineInput =
  | { readonly kind: 'source'; readonly name: string }
  | { readonly kind: 'file'; readonly uri: string; readonly timeColumn: string };

/** What a batch run of a model reads and writes, every reference followed. */
export interface ResolvedBatchScoring {
  readonly model: ModelSpec;
  /** The spine's columns and time: a source, or (for a file) one described from the model's keys and request inputs. */
  readonly spine: SourceSpec;
  /** The relation the spine's rows are read from when it is not the source's view (a staged file). */
  readonly relation?: string;
  /** The join keys of the service's entities, each once, in order: the predictions' key. */
  readonly keys: readonly ColumnSpec[];
  /** The spine columns a request input reads. */
  readonly requestColumns: readonly string[];
  /** The model's feature inputs. */
  readonly features: readonly string[];
  /** Every feature the service serves (kept in the scoring table, and logged with each decision). */
  readonly serviceFeatures: readonly string[];
}

export function resolveBatchScoring(project: ProjectSpec, modelName: string, spineInput?: string | BatchSpineInput): ResolvedBatchScoring {
  const model = project.models[modelName];
  if (!model) throw new NotFoundError('model', modelName, `Defined models: ${Object.keys(project.models).sort().join(', ') || 'none'}`);
  const input: BatchSpineInput | undefined = typeof spineInput === 'string' ? { kind: 'source', name: spineInput } : spineInput;
  if (input?.kind === 'file') return resolveFileSpine(project, model, input);
  const name = input?.name ?? model.batch?.spine;
  if (name === undefined) throw new NotFoundError('batch spine of model', modelName, 'Give --spine <source or file>, or batch: { spine } in the model');
  const spine = project.sources[name];
  if (!spine) throw new NotFoundError('source', name, `Sources: ${Object.keys(project.sources).sort().join(', ') || 'none'}. A file spine is a path or URI ending in .parquet`);
  const { service, keys } = serviceKeys(project, model);
  const columns = new Set(spine.columns.map((c) => c.name));
  const requestColumns = model.inputs.flatMap((input) => ('request' in input ? [input.request] : []));
  const missing = [...keys.map((k) => k.name), ...requestColumns].filter((c) => !columns.has(c));
  if (missing.length > 0) {
    throw new NotFoundError(`column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of spine source`, spine.name, `Batch scoring of model "${modelName}" reads the entity keys (${keys.map((k) => k.name).join(', ')}) and request inputs from the spine; its columns are ${[...columns].join(', ')}`);
  }
  return {
    model, spine, keys, requestColumns,
    features: model.inputs.flatMap((input) => ('feature' in input ? [input.feature] : [])),
    serviceFeatures: service.features.flatMap((selection) => selection.features),
  };
}

/** The model's feature service and the entity keys its views are read by, each once, in the service's order. */
function serviceKeys(project: ProjectSpec, model: ModelSpec): { service: FeatureServiceSpec; keys: ColumnSpec[] } {
  const service = project.featureServices[model.service];
  if (!service) throw new NotFoundError('feature service', model.service);
  const keys: ColumnSpec[] = [];
  for (const selection of service.features) {
    for (const entity of project.featureViews[selection.view]?.entities ?? []) {
      for (const key of project.entities[entity]?.joinKeys ?? []) if (!keys.some((k) => k.name === key.name)) keys.push(key);
    }
  }
  return { service, keys };
}

/** The name a file spine goes by inside the run (its URI is the plan's `spine`). */
export const FILE_SPINE_NAME = '__file_spine';

/**
 * A file spine: its columns are the service's entity keys, the model's request inputs (typed as the
 * model's batch spine source types them, else as float64) and its time column.
 */
function resolveFileSpine(project: ProjectSpec, model: ModelSpec, input: Extract<BatchSpineInput, { kind: 'file' }>): ResolvedBatchScoring {
  const declared = model.batch?.spine !== undefined ? project.sources[model.batch.spine] : undefined;
  const { service, keys } = serviceKeys(project, model);
  const requestColumns = model.inputs.flatMap((i) => ('request' in i ? [i.request] : []));
  const columns: ColumnSpec[] = [
    ...keys,
    ...requestColumns.map((name) => ({ name, type: declared?.columns.find((c) => c.name === name)?.type ?? ('float64' as const) })),
    { name: input.timeColumn, type: 'timestamp' as const },
  ];
  const spine: SourceSpec = { kind: 'source', name: FILE_SPINE_NAME, location: { type: 'parquet', path: input.uri }, timestampField: input.timeColumn, columns, tags: {} };
  return {
    model, spine, keys, requestColumns,
    features: model.inputs.flatMap((i) => ('feature' in i ? [i.feature] : [])),
    serviceFeatures: service.features.flatMap((selection) => selection.features),
  };
}

/**
 * The run's spine: with `asOf`, each distinct (keys, request columns) row of the spine stamped with
 * `asOf` (a parameter), the entities of a table as of one time; without it, each distinct row at its
 * own time (the spine's timestamp column), point in time like a training set's spine.
 */
export function compileScoringSpine(resolved: ResolvedBatchScoring, asOf: string | null, dialect: Dialect): CompiledQuery {
  const id = (c: string) => dialect.identifier(c);
  const columns = [...resolved.keys.map((k) => k.name), ...resolved.requestColumns];
  const relation = resolved.relation ?? dialect.qualified(sourceViewName(resolved.spine.name));
  const time = asOf === null ? dialect.asInstant(id(resolved.spine.timestampField)) : dialect.asInstant('?');
  return {
    sql: `SELECT DISTINCT ${columns.map(id).join(', ')}, ${time} AS ${id(AS_OF_COLUMN)} FROM ${relation}${asOf === null ? ` WHERE ${id(resolved.spine.timestampField)} IS NOT NULL` : ''}`,
    parameters: asOf === null ? [] : [asOf],
  };
}

/**
 * The spine's rows with the model's features as of their time (the training-set compiler over the
 * service's views), numbered in key order as `spine_row` from 0, so a chunk is a range of rows.
 */
export function compileScoringFeatures(project: ProjectSpec, resolved: ResolvedBatchScoring, spineTable: string, dialect: Dialect): CompiledQuery {
  const name = `__score_${resolved.model.name}`;
  const set: TrainingSetSpec = {
    kind: 'trainingSet', name, spine: resolved.spine.name, features: { service: resolved.model.service },
    output: { format: 'parquet', path: `_scoring/${resolved.model.name}`, partitionBy: 'none' }, tags: {},
  };
  const spineColumns = [...resolved.keys.map((k) => k.name), ...resolved.requestColumns, AS_OF_COLUMN];
  const spine: SourceSpec = {
    ...resolved.spine, timestampField: AS_OF_COLUMN,
    columns: spineColumns.map((name) => ({ name, type: name === AS_OF_COLUMN ? 'timestamp' : resolved.spine.columns.find((c) => c.name === name)!.type })),
  };
  const withSet: ProjectSpec = { ...project, sources: { ...project.sources, [spine.name]: spine }, trainingSets: { ...project.trainingSets, [name]: set } };
  const resolvedSet = resolveTrainingSet(withSet, name);
  const join = compilePointInTimeJoin({ ...resolvedSet.join, spine: { ...resolvedSet.join.spine, relation: spineTable, columns: spineColumns } }, dialect);
  const id = (c: string) => dialect.identifier(c);
  // Keys, then time (one time in a run as of an instant), then request columns: each row's place is fixed by its values.
  const order = resolved.keys.map((k) => id(k.name)).concat(id(AS_OF_COLUMN), ...resolved.requestColumns.map(id)).join(', ');
  const keep = [...spineColumns, ...resolved.serviceFeatures].map(id).join(', ');
  return {
    sql: `SELECT ${keep}, ROW_NUMBER() OVER (ORDER BY ${order}) - 1 AS ${id(SPINE_ROW_COLUMN)} FROM (\n${join.sql}\n) AS ${id('scored')}`,
    parameters: join.parameters,
  };
}

/** The columns of the predictions table, in order. */
export function predictionColumns(resolved: ResolvedBatchScoring): { name: string; type: ColumnSpec['type'] }[] {
  return [
    ...resolved.keys.map((k) => ({ name: k.name, type: k.type })),
    { name: AS_OF_COLUMN, type: 'timestamp' as const },
    { name: MODEL_VERSION_COLUMN, type: 'string' as const },
    { name: resolved.model.output.name, type: 'float64' as const },
    { name: SPINE_ROW_COLUMN, type: 'int64' as const },
    { name: RUN_ID_COLUMN, type: 'string' as const },
    { name: SCORED_AT_COLUMN, type: 'timestamp' as const },
  ];
}

export function compileCreatePredictions(resolved: ResolvedBatchScoring, dialect: Dialect): CompiledQuery {
  const columns = predictionColumns(resolved).map((c) => `${dialect.identifier(c.name)} ${dialect.columnType(c.type)}`);
  return { sql: `CREATE TABLE IF NOT EXISTS ${dialect.qualified(predictionsTableName(resolved.model.name))} (${columns.join(', ')})`, parameters: [] };
}

/** Deletes a run's predictions (every row of this as_of and version), or those of rows [from, to) of its spine. */
export function compileDeletePredictions(model: string, asOf: string, version: string, dialect: Dialect, rows?: { from: number; to: number }): CompiledQuery {
  const id = (c: string) => dialect.identifier(c);
  const range = rows ? ` AND ${id(SPINE_ROW_COLUMN)} >= ? AND ${id(SPINE_ROW_COLUMN)} < ?` : '';
  return {
    sql: `DELETE FROM ${dialect.qualified(predictionsTableName(model))} WHERE ${dialect.asInstant(id(AS_OF_COLUMN))} = ${dialect.asInstant('?')} AND ${id(MODEL_VERSION_COLUMN)} = ?${range}`,
    parameters: [asOf, version, ...(rows ? [rows.from, rows.to] : [])],
  };
}

/**
 * Deletes what an earlier run wrote for the spine rows of this one, each at its own time: every
 * prediction of `version` with the keys and `as_of` of a row of the scoring table.
 */
export function compileDeleteSpinePredictions(resolved: ResolvedBatchScoring, scoringTable: string, version: string, dialect: Dialect): CompiledQuery {
  const id = (c: string) => dialect.identifier(c);
  const predictions = dialect.qualified(predictionsTableName(resolved.model.name));
  const match = [...resolved.keys.map((k) => `${id('s')}.${id(k.name)} = ${predictions}.${id(k.name)}`), `${dialect.asInstant(`${id('s')}.${id(AS_OF_COLUMN)}`)} = ${dialect.asInstant(`${predictions}.${id(AS_OF_COLUMN)}`)}`];
  return {
    sql: `DELETE FROM ${predictions} WHERE ${id(MODEL_VERSION_COLUMN)} = ? AND EXISTS (SELECT 1 FROM ${dialect.qualified(scoringTable)} AS ${id('s')} WHERE ${match.join(' AND ')})`,
    parameters: [version],
  };
}

/** Deletes what an earlier attempt of this run wrote for rows [from, to) of its spine (a chunk done again replaces itself). */
export function compileDeleteRunChunkPredictions(model: string, runId: string, version: string, rows: { from: number; to: number }, dialect: Dialect): CompiledQuery {
  const id = (c: string) => dialect.identifier(c);
  return {
    sql: `DELETE FROM ${dialect.qualified(predictionsTableName(model))} WHERE ${id(RUN_ID_COLUMN)} = ? AND ${id(MODEL_VERSION_COLUMN)} = ? AND ${id(SPINE_ROW_COLUMN)} >= ? AND ${id(SPINE_ROW_COLUMN)} < ?`,
    parameters: [runId, version, rows.from, rows.to],
  };
}

/** One chunk of the run's scoring table: rows [from, to) in spine order. */
export function compileScoringChunk(table: string, resolved: ResolvedBatchScoring, rows: { from: number; to: number }, dialect: Dialect): CompiledQuery {
  const id = (c: string) => dialect.identifier(c);
  const columns = [...resolved.keys.map((k) => k.name), ...resolved.requestColumns, AS_OF_COLUMN, ...resolved.serviceFeatures, SPINE_ROW_COLUMN];
  return {
    sql: `SELECT ${columns.map(id).join(', ')} FROM ${dialect.qualified(table)} WHERE ${id(SPINE_ROW_COLUMN)} >= ? AND ${id(SPINE_ROW_COLUMN)} < ? ORDER BY ${id(SPINE_ROW_COLUMN)}`,
    parameters: [rows.from, rows.to],
  };
}

/** Inserts predictions: `values` rows in predictionColumns order (as_of and scored_at as ISO instants). */
export function compileInsertPredictions(resolved: ResolvedBatchScoring, values: readonly (readonly unknown[])[], dialect: Dialect): CompiledQuery {
  const columns = predictionColumns(resolved);
  const placeholders = columns.map((c) => (c.type === 'timestamp' ? dialect.asInstant('?') : '?')).join(', ');
  return {
    sql: `INSERT INTO ${dialect.qualified(predictionsTableName(resolved.model.name))} (${columns.map((c) => dialect.identifier(c.name)).join(', ')}) SELECT ${placeholders}${values.length > 1 ? ` UNION ALL SELECT ${placeholders}`.repeat(values.length - 1) : ''}`,
    parameters: values.flat(),
  };
}

/** The model's inputs of a row read from a chunk: features and request columns by the input's name. */
export function modelInputsOf(model: ModelSpec): string[] {
  return model.inputs.map(modelInputName);
}
