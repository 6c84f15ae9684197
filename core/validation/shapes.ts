import { z } from 'zod';
import { parseDuration } from '../duration.ts';
import { identifierProblem, qualifiedNameProblem } from '../identifiers.ts';
import { VALUE_TYPES } from '../types.ts';
import { AGGREGATION_FUNCTIONS } from '../aggregations/functions.ts';
import { MODEL_COLD_STARTS, PARTITION_UNITS } from '../definitions/specs.ts';
import { MAX_DECLARED_STRING_LENGTH } from '../definitions/event-limits.ts';
import { parseCron } from './cron.ts';

/**
 * Shape checks for each kind of definition, one zod schema per kind. Cross-object rules (references,
 * join keys, column types) live in validate-project.ts.
 */

const identifier = z.string().superRefine((value, ctx) => {
  const problem = identifierProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a valid identifier: ${problem}` });
});

/**
 * Names of objects that become warehouse objects (`flywheel.fv_<name>`, `flywheel.src_<name>`,
 * `run_ts_<name>_<run key>`) leave room for those prefixes and suffixes within 63 characters.
 */
const objectName = identifier.refine((value) => value.length <= 30, 'must be at most 30 characters (it prefixes warehouse object names)');

const qualifiedName = z.string().superRefine((value, ctx) => {
  const problem = qualifiedNameProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a valid table name: ${problem}` });
});

const valueType = z.enum(VALUE_TYPES, {
  error: (issue) => `unknown type ${JSON.stringify(issue.input)}; expected one of ${VALUE_TYPES.join(', ')}`,
});

/** Names in one record (columns, keys, features) must differ in more than case: warehouses fold case. */
const distinctIgnoringCase = (record: Record<string, unknown>) =>
  new Set(Object.keys(record).map((k) => k.toLowerCase())).size === Object.keys(record).length;

const columns = z
  .record(identifier, valueType)
  .refine((record) => Object.keys(record).length > 0, 'declare at least one column')
  .refine(distinctIgnoringCase, 'column names may not differ only in case');

const tags = z.record(z.string(), z.string()).optional();

const reference = (what: string) =>
  z.string({ error: `expected a ${what} (the object or its name)` }).pipe(identifier);

const duration = z.union([z.string(), z.number()]).superRefine((value, ctx) => {
  const parsed = parseDuration(value);
  if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
});

export const entityShape = z.strictObject({
  name: identifier,
  joinKeys: z.record(identifier, valueType).refine((keys) => Object.keys(keys).length > 0, 'declare at least one join key'),
  description: z.string().optional(),
});

export const sourceShape = z
  .strictObject({
    name: objectName,
    table: qualifiedName.optional(),
    query: z.string().min(1).optional(),
    parquet: z.string().min(1).optional(),
    timestampField: identifier,
    createdTimestampField: identifier.optional(),
    columns,
    unique: z.array(identifier).min(1, 'name at least one column').optional(),
    description: z.string().optional(),
    owner: z.string().optional(),
    tags,
  })
  .superRefine((value, ctx) => {
    const given = (['table', 'query', 'parquet'] as const).filter((k) => value[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['table'],
        message: given.length === 0 ? 'give one of table, query or parquet' : `give only one of table, query or parquet (got ${given.join(', ')})`,
      });
    }
  });

const featureObject = z.strictObject({ type: valueType, description: z.string().optional() });

/** A feature is a type name or `{ type, description }`; checked by form so errors name the real problem. */
const feature = z.unknown().transform((value, ctx) => {
  const result = (typeof value === 'string' ? valueType : featureObject).safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

/** One windowed aggregation; its column and generated names are checked against the source in aggregations.ts. */
const aggregation = z
  .strictObject({
    function: z.enum(AGGREGATION_FUNCTIONS, {
      error: (issue) => `unknown function ${JSON.stringify(issue.input)}; expected one of ${AGGREGATION_FUNCTIONS.join(', ')}`,
    }),
    column: identifier.optional(),
    windows: z.array(duration).min(1, 'give at least one window, such as ["1h", "1d"]'),
    name: identifier.optional(),
    description: z.string().optional(),
  })
  .superRefine((value, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (value.function === 'count' && value.column !== undefined) issue('column', 'count counts events and takes no column (distinct_count counts distinct values of a column)');
    if (value.function !== 'count' && value.column === undefined) issue('column', `${value.function} needs a column`);
    if (value.name !== undefined && value.windows.length !== 1) {
      issue('name', `a name is allowed only with a single window (got ${value.windows.length}); without one, each window's feature gets a generated name`);
    }
  });

export const featureViewShape = z
  .strictObject({
    name: objectName,
    entities: z.array(reference('entity')).min(1, 'declare at least one entity'),
    source: reference('source or event stream'),
    features: z.record(identifier, feature).refine((f) => Object.keys(f).length > 0, 'declare at least one feature').optional(),
    aggregations: z.array(aggregation).min(1, 'declare at least one aggregation').optional(),
    inputs: z.record(identifier, valueType).optional(),
    transformation: z.string().min(1).optional(),
    ttl: duration.optional(),
    online: z.boolean().optional(),
    offline: z.boolean().optional(),
    push: z.boolean({ error: 'expected true or false' }).optional(),
    // Lazy: the schedule shapes are declared further down, with the training set's.
    materialize: z.lazy(() => materializationSchedule).optional(),
    owner: z.string().optional(),
    description: z.string().optional(),
    tags,
  })
  .superRefine((value, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (value.materialize !== undefined && value.online === false) issue('materialize', 'materialization writes to the online store, so a materialized view cannot be online: false');
    if (value.push === true) {
      // The log API writes each event's fields as they are: nothing to compute, and somewhere to write them.
      if (value.online === false) issue('online', 'a pushed view is written to the online store, so it cannot be online: false');
      if (value.transformation !== undefined) issue('transformation', 'a pushed view takes no transformation: its features are fields of the stream\'s events, written as they arrive');
      if (value.aggregations !== undefined) issue('aggregations', 'a pushed view takes no aggregations: it holds the latest event\'s fields (aggregate them in a view that is not pushed)');
    }
    if (value.features !== undefined && value.aggregations !== undefined) issue('aggregations', 'give either features or aggregations, not both (declare the aggregations in a view of their own)');
    if (value.features === undefined && value.aggregations === undefined) issue('features', 'declare features (the latest row\'s values) or aggregations (over trailing windows)');
    if (value.aggregations !== undefined && value.ttl !== undefined) issue('ttl', 'a view with aggregations takes no ttl: each window says how long an event counts');
    if (value.inputs !== undefined && value.aggregations === undefined) issue('inputs', 'inputs are the columns aggregations read, and this view has no aggregations');
    else if (value.inputs !== undefined && value.transformation === undefined) {
      issue('inputs', 'inputs declare columns of a transformation\'s output; without a transformation, aggregations read the source\'s columns');
    }
  });

/** A string field's `maxLength`: a whole number from 1 to MAX_DECLARED_STRING_LENGTH (whether the field is a string is checked in validate-project.ts). */
const maxLength = z.number({ error: 'expected a whole number of characters, such as 256' }).superRefine((value, ctx) => {
  if (!Number.isInteger(value) || value < 1 || value > MAX_DECLARED_STRING_LENGTH) {
    ctx.addIssue({ code: 'custom', message: `expected a whole number from 1 to ${MAX_DECLARED_STRING_LENGTH} (16 MiB), got ${value}` });
  }
});

const eventFieldObject = z.strictObject({ type: valueType, nullable: z.boolean({ error: 'expected true or false' }).optional(), maxLength: maxLength.optional(), description: z.string().optional() });

/** A stream's field is a type name or `{ type, nullable, maxLength, description }`; checked by form, like a feature. */
const eventField = z.unknown().transform((value, ctx) => {
  const result = (typeof value === 'string' ? valueType : eventFieldObject).safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

/** A `from` stream's watermark: a column name (event time) or `{ loadedAtColumn }`. */
const loadedAtWatermark = z.strictObject({
  loadedAtColumn: z.string({ error: 'expected the name of the column that holds when each row was loaded' }).pipe(identifier),
});
const watermark = z.unknown().transform((value, ctx) => {
  if (typeof value !== 'string' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    ctx.addIssue({ code: 'custom', message: 'expected a column name (the event time) or { loadedAtColumn: "<column>" }' });
    return z.NEVER;
  }
  const result = (typeof value === 'string' ? identifier : loadedAtWatermark).safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

/** Fields, keys and timestamps named like this are refused; Flywheel's own columns start with "_". */
export const RESERVED_COLUMN_PREFIX = '_';

/** An event stream; its entities, names and event id field are checked against each other in validate-project.ts. */
export const eventStreamShape = z.strictObject({
  name: objectName,
  entities: z.array(reference('entity')).min(1, 'declare at least one entity'),
  timestampField: identifier,
  eventIdField: identifier.optional(),
  fields: z.record(identifier, eventField).refine(distinctIgnoringCase, 'field names may not differ only in case'),
  retention: duration,
  maxEventTimeAhead: duration.optional(),
  // Lazy: the schedule shapes are declared further down, with the training set's.
  retentionSchedule: z.lazy(() => plainSchedule).optional(),
  from: z
    .strictObject({
      table: qualifiedName,
      watermark,
      lookback: duration,
    })
    .optional(),
  description: z.string().optional(),
  owner: z.string().optional(),
  tags,
});

const selection = z.strictObject({
  view: reference('feature view'),
  features: z.array(identifier).min(1, 'select at least one feature').optional(),
});

/** The share of decisions a logged service keeps: more than none, at most all. */
const sampleRate = z.number({ error: 'expected a number greater than 0 and at most 1, such as 0.1 (one decision in ten)' }).superRefine((value, ctx) => {
  if (!(value > 0 && value <= 1)) {
    ctx.addIssue({ code: 'custom', message: `${value} is not a sample rate: give a number greater than 0 and at most 1 (0.1 logs one decision in ten, 1 logs every one); to log nothing, leave logging out` });
  }
});

/** A feature service's decision log; the stream it derives is checked in validate-project.ts. */
const serviceLogging = z.strictObject({
  sampleRate,
  stream: objectName.optional(),
  retention: duration.optional(),
  retentionSchedule: z.lazy(() => plainSchedule).optional(),
}, { error: (issue) => (issue.code === 'invalid_type' ? 'expected { sampleRate, stream?, retention?, retentionSchedule? }' : undefined) });

export const featureServiceShape = z.strictObject({
  name: identifier,
  features: z.array(selection).min(1, 'select at least one feature view'),
  logging: serviceLogging.optional(),
  owner: z.string().optional(),
  description: z.string().optional(),
  tags,
});

/** The shortest schedule interval and catch-up window: the grain of a cron, and well above Temporal's own minimum. */
const MIN_SCHEDULE_SECONDS = 60;

const secondsOf = (value: string | number | undefined): number | undefined => {
  const parsed = value === undefined ? undefined : parseDuration(value);
  return parsed && 'seconds' in parsed ? parsed.seconds : undefined;
};

/** When a schedule fires, in UTC: a cron or an interval. Shared by training-set and materialization schedules. */
const scheduleTimeFields = {
  cron: z
    .string({ error: 'expected a cron expression such as "0 3 * * *"' })
    .superRefine((value, ctx) => {
      const parsed = parseCron(value);
      if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
    })
    .optional(),
  every: duration.optional(),
  offset: duration.optional(),
  catchupWindow: duration.optional(),
  paused: z.boolean({ error: 'expected true or false' }).optional(),
  // Declared only to say why it is refused.
  timezone: z
    .unknown()
    .refine(() => false, { error: 'schedules run in UTC only; remove timezone and write the cron in UTC (3:00 in Berlin is "0 2 * * *" in winter)' })
    .optional(),
};

/** Cross-field rules of scheduleTimeFields (one of cron or every, offset below every), run once the fields themselves are fine. */
function checkScheduleTimes(
  value: { cron?: string | undefined; every?: string | number | undefined; offset?: string | number | undefined; catchupWindow?: string | number | undefined },
  ctx: z.RefinementCtx,
): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  if (value.cron === undefined && value.every === undefined) issue('cron', 'give one of cron or every');
  if (value.cron !== undefined && value.every !== undefined) issue('every', 'give only one of cron or every');
  const every = secondsOf(value.every);
  const offset = secondsOf(value.offset);
  if (value.offset !== undefined && value.every === undefined) issue('offset', 'offset applies to every only; with a cron, put the offset in its minute and hour fields');
  if (every !== undefined && every < MIN_SCHEDULE_SECONDS) issue('every', 'must be at least 1m');
  if (every !== undefined && offset !== undefined && offset >= every) issue('offset', `must be shorter than every (${String(value.every)})`);
  const catchup = secondsOf(value.catchupWindow);
  if (catchup !== undefined && catchup < MIN_SCHEDULE_SECONDS) issue('catchupWindow', 'must be at least 1m');
}

/**
 * When a training set is built on its own: a cron or an interval, always in UTC. Each run builds one
 * UTC day, `partitionLag` days before the day it is scheduled on.
 */
const trainingSetSchedule = z
  .strictObject({
    ...scheduleTimeFields,
    partitionLag: z
      .number({ error: 'expected a whole number of days (0 or more)' })
      .int({ error: 'expected a whole number of days (0 or more)' })
      .min(0, { error: 'expected a whole number of days (0 or more)' })
      .optional(),
  })
  .superRefine(checkScheduleTimes);

/** The most chunks a materialization run is split into. */
export const MAX_MATERIALIZATION_CHUNKS = 1024;

/**
 * When an online feature view is materialized on its own: a cron or an interval in UTC, with the
 * lookback each incremental run takes for late rows and the chunks it is split into.
 */
const materializationSchedule = z
  .strictObject({
    ...scheduleTimeFields,
    lookback: duration.optional(),
    chunks: z
      .number({ error: `expected a whole number of chunks from 1 to ${MAX_MATERIALIZATION_CHUNKS}` })
      .int({ error: `expected a whole number of chunks from 1 to ${MAX_MATERIALIZATION_CHUNKS}` })
      .min(1, { error: `expected a whole number of chunks from 1 to ${MAX_MATERIALIZATION_CHUNKS}` })
      .max(MAX_MATERIALIZATION_CHUNKS, { error: `expected a whole number of chunks from 1 to ${MAX_MATERIALIZATION_CHUNKS}` })
      .optional(),
  })
  .superRefine(checkScheduleTimes);

/** Where a dataset is written in the object store: a relative key prefix that readers do not skip. */
const outputPath = z
  .string()
  .regex(/^[A-Za-z0-9_\-./]+$/, 'use letters, digits, "_", "-", "." and "/" only')
  .refine((p) => !p.split('/').includes('..') && !p.startsWith('/'), 'must be a relative path without ".."')
  .refine((p) => !p.split('/').some((part) => part === '' || part === '.' || part.startsWith('_')), 'must not have empty or "." segments, or segments starting with "_" (readers skip those)');

export const trainingSetShape = z.strictObject({
  name: objectName,
  spine: z.union([reference('source'), z.strictObject({ labels: reference('labels') })], {
    error: 'expected a source (the object or its name) or { labels } (a labels definition or its name)',
  }),
  features: z.union([z.strictObject({ service: reference('feature service') }), z.strictObject({ views: z.array(selection).min(1) })]),
  fromLog: z.boolean({ error: 'expected true or false' }).optional(),
  output: z
    .strictObject({
      format: z.literal('parquet').optional(),
      path: outputPath.optional(),
      partitionBy: z.enum(PARTITION_UNITS, { error: (issue) => `expected one of ${PARTITION_UNITS.join(', ')}, got ${JSON.stringify(issue.input)}` }).optional(),
    })
    .optional(),
  schedule: trainingSetSchedule.optional(),
  owner: z.string().optional(),
  description: z.string().optional(),
  tags,
});

/** A schedule with nothing beside its times (labels, loops): a cron or an interval in UTC. */
const plainSchedule = z.strictObject({ ...scheduleTimeFields }).superRefine(checkScheduleTimes);

const labelsMatch = z.discriminatedUnion('by', [
  z.strictObject({
    by: z.literal('decision_id'),
    decisionIdField: identifier.optional(),
    outcomeField: identifier,
    keys: z.array(identifier).optional(),
  }),
  z.strictObject({
    by: z.literal('keys'),
    keys: z.array(identifier).min(1, 'give at least one key, or leave keys out to match on the join keys both streams have').optional(),
    attribution: z.enum(['all', 'last'], { error: (issue) => `expected "all" or "last", got ${JSON.stringify(issue.input)}` }).optional(),
  }),
], { error: (issue) => (issue.code === 'invalid_union' ? 'expected { by: "decision_id", outcomeField } or { by: "keys" }' : undefined) });

const labelValue = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('any') }),
  z.strictObject({ kind: z.literal('count') }),
  z.strictObject({
    kind: z.enum(['sum', 'avg', 'min', 'max', 'last']),
    field: identifier,
    default: z.union([z.number(), z.string(), z.boolean()], { error: 'expected a number, a string or a boolean' }).optional(),
  }),
], { error: (issue) => (issue.code === 'invalid_union' ? 'expected { kind: "any" }, { kind: "count" } or { kind: "sum" | "avg" | "min" | "max" | "last", field }' : undefined) });

/** A labels definition; its streams, match columns and value field are checked against each other in labels.ts. */
export const labelsShape = z.strictObject({
  name: objectName,
  decisions: z.union([z.strictObject({ stream: reference('event stream') }), z.strictObject({ service: reference('feature service') })], {
    error: 'expected an event stream or a logged feature service (the object or its name)',
  }),
  outcomes: reference('event stream'),
  match: labelsMatch,
  window: duration,
  value: labelValue,
  partitionBy: z.enum(['day', 'hour'], { error: (issue) => `expected "day" or "hour", got ${JSON.stringify(issue.input)}` }).optional(),
  output: z
    .strictObject({
      format: z.literal('parquet').optional(),
      path: outputPath.optional(),
    })
    .optional(),
  schedule: plainSchedule.optional(),
  owner: z.string().optional(),
  description: z.string().optional(),
  tags,
});

/** The most stages a loop runs at once. */
export const MAX_LOOP_CONCURRENCY = 16;

/** A loop; its `only` is checked against the project's stages in validate-project.ts. */
export const loopShape = z.strictObject({
  name: identifier,
  schedule: plainSchedule.optional(),
  only: z.array(z.string({ error: 'expected a stage kind or a stage id' }).min(1)).min(1, 'name at least one stage or kind, or leave only out to run every stage').optional(),
  concurrency: z
    .number({ error: `expected a whole number of stages from 1 to ${MAX_LOOP_CONCURRENCY}` })
    .int({ error: `expected a whole number of stages from 1 to ${MAX_LOOP_CONCURRENCY}` })
    .min(1, { error: `expected a whole number of stages from 1 to ${MAX_LOOP_CONCURRENCY}` })
    .max(MAX_LOOP_CONCURRENCY, { error: `expected a whole number of stages from 1 to ${MAX_LOOP_CONCURRENCY}` })
    .optional(),
  owner: z.string().optional(),
  description: z.string().optional(),
  tags,
});

/** Rows a batch-scoring chunk holds at most. */
export const MAX_SCORING_CHUNK_SIZE = 1_000_000;

/** A model; its service, inputs and batch spine are checked against the project in core/validation/model.ts. */
export const modelShape = z.strictObject({
  name: objectName,
  service: reference('feature service'),
  inputs: z
    .array(z.union([identifier, z.strictObject({ request: identifier })], { error: 'expected a feature name the service serves, or { request: "<field>" }' }))
    .min(1, 'declare at least one input'),
  output: z.strictObject({
    name: identifier,
    kind: z.enum(['score', 'probability'], { error: (issue) => `expected score or probability, got ${JSON.stringify(issue.input)}` }),
  }),
  artifact: z.discriminatedUnion('format', [
    z.strictObject({ format: z.literal('onnx') }),
    z.strictObject({ format: z.literal('typescript'), module: z.string().min(1, 'give the module path, relative to this file'), export: identifier.optional() }),
  ], { error: 'expected { format: "onnx" } or { format: "typescript", module: "./ranker.ts" }' }),
  batch: z
    .strictObject({
      spine: reference('source'),
      schedule: plainSchedule.optional(),
      chunkSize: z
        .number({ error: `expected a whole number of rows from 1 to ${MAX_SCORING_CHUNK_SIZE}` })
        .int({ error: `expected a whole number of rows from 1 to ${MAX_SCORING_CHUNK_SIZE}` })
        .min(1, { error: `expected a whole number of rows from 1 to ${MAX_SCORING_CHUNK_SIZE}` })
        .max(MAX_SCORING_CHUNK_SIZE, { error: `expected a whole number of rows from 1 to ${MAX_SCORING_CHUNK_SIZE}` })
        .optional(),
    })
    .optional(),
  filters: z.record(identifier, z.string({ error: 'expected a filter expression' })).optional(),
  coldStart: z.enum(MODEL_COLD_STARTS, { error: (issue) => `expected ${MODEL_COLD_STARTS.map((p) => `"${p}"`).join(' or ')} (how /v1/decide decides before any version is promoted), got ${JSON.stringify(issue.input)}` }).optional(),
  owner: z.string().optional(),
  description: z.string().optional(),
  tags,
});
