import type { z } from 'zod';
import { parseDuration } from '../duration.ts';
import { editDistance } from '../edit-distance.ts';
import { MAX_EVENT_ID_LENGTH } from '../definitions/event-limits.ts';
import { DefinitionError, type DefinitionIssue } from '../errors.ts';
import { isAssignable, type ValueType } from '../types.ts';
import type { Definition } from '../definitions/definition.ts';
import {
  type ColumnSpec,
  type DefinitionKind,
  type EntitySpec,
  type EventFieldSpec,
  type EventStreamSpec,
  type FeatureSelection,
  type FeatureServiceLogging,
  type FeatureServiceSpec,
  type FeatureViewSpec,
  type LabelsSpec,
  type LoopSpec,
  type ModelSpec,
  type MaterializationSchedule,
  type ProjectSpec,
  type SourceSpec,
  type TrainingSetSchedule,
  type TrainingSetSpec,
} from '../definitions/specs.ts';
import { normalizeCronSpacing } from './cron.ts';
import { normalizeAggregations } from './aggregations.ts';
import { viewSourceOf } from '../definitions/view-source.ts';
import { DEFAULT_DECISION_RETENTION_SECONDS, decisionStreamProblems, decisionStreamSpec, defaultDecisionStreamName, isLogged } from '../definitions/decision-stream.ts';
import { entityShape, eventStreamShape, featureServiceShape, featureViewShape, labelsShape, loopShape, modelShape, RESERVED_COLUMN_PREFIX, sourceShape, trainingSetShape } from './shapes.ts';
import { labelsSpecOf } from './labels.ts';
import { modelSpecOf } from './model.ts';
import { labelsSpineSpecOf } from './labels-spine.ts';
import { LOOP_STAGE_KINDS, loopStageIds } from '../loop/plan-loop.ts';

/** A definition together with the file it was exported from (for messages). */
export interface LoadedDefinition {
  readonly file?: string;
  readonly definition: Definition;
}

const SHAPES = {
  entity: entityShape,
  source: sourceShape,
  eventStream: eventStreamShape,
  featureView: featureViewShape,
  featureService: featureServiceShape,
  trainingSet: trainingSetShape,
  labels: labelsShape,
  loop: loopShape,
  model: modelShape,
} as const satisfies Record<DefinitionKind, z.ZodType>;

type Shaped = { [K in DefinitionKind]: z.output<(typeof SHAPES)[K]> };

/**
 * Checks every definition and returns the normalized project, or throws one DefinitionError listing
 * every problem with its file, object and field.
 */
export function validateProject(loaded: readonly LoadedDefinition[]): ProjectSpec {
  const issues: DefinitionIssue[] = [];
  const files = new Map<string, string | undefined>();
  const names = new Map<string, string>();
  const shaped: { [K in DefinitionKind]: Map<string, Shaped[K]> } = {
    entity: new Map(),
    source: new Map(),
    eventStream: new Map(),
    featureView: new Map(),
    featureService: new Map(),
    trainingSet: new Map(),
    labels: new Map(),
    loop: new Map(),
    model: new Map(),
  };

  // One mistake, one message: a definition that fails its shape check is reported once, and a
  // reference to it from another definition (by object or by name) is not a second problem.
  const results = loaded.map(({ definition }) => SHAPES[definition.kind].safeParse(definition.input));
  const failedObjects = new Set(loaded.filter((_, i) => !results[i]!.success).map(({ definition }) => definition));
  const failedNames = new Set([...failedObjects].flatMap(({ kind, name }) => (typeof name === 'string' ? [`${kind}:${name.toLowerCase()}`] : [])));
  const isFailed = (kind: DefinitionKind, name: string) => failedNames.has(`${kind}:${name.toLowerCase()}`);

  loaded.forEach(({ file, definition }, index) => {
    const { kind, name } = definition;
    const objectName = typeof name === 'string' ? name : '(unnamed)';
    // Warehouses compare unquoted names without case, so `User` and `user` would collide there.
    const key = `${kind}:${objectName.toLowerCase()}`;
    if (files.has(key)) {
      const first = files.get(key);
      const other = names.get(key);
      const sameCase = other === objectName;
      issues.push({
        file, kind, object: objectName, field: 'name',
        message: `duplicate name: ${article(kind)} ${kind} named "${other}" is also defined${first ? ` in ${first}` : ''}${sameCase ? '' : ' (names may not differ only in case)'}`,
      });
      return;
    }
    files.set(key, file);
    names.set(key, objectName);
    const result = results[index]!;
    if (!result.success) {
      for (const issue of result.error.issues) {
        if (refersToFailed(definition.input, issue.path, failedObjects)) continue; // reported on that definition
        // A bad record key (`joinKeys: { '1st': ... }`) nests the reason; show it, not zod's "Invalid key in record".
        const message = issue.code === 'invalid_key' && issue.issues[0] ? issue.issues[0].message : issue.message;
        issues.push({ file, kind, object: objectName, field: issue.path.map(String).join('.') || undefined, message });
      }
      return;
    }
    (shaped[kind] as Map<string, unknown>).set(objectName, result.data);
  });

  const at = (kind: DefinitionKind, object: string, field: string | undefined, message: string) =>
    issues.push({ file: files.get(`${kind}:${object.toLowerCase()}`), kind, object, field, message });
  /**
   * ` (definitions/entities.ts)`: where another definition a message names is, when it is not in the
   * file of the definition the message is about (`about`), so both sides of a disagreement are found.
   */
  const inFile = (about: readonly [DefinitionKind, string], kind: DefinitionKind, object: string) => {
    const file = files.get(`${kind}:${object.toLowerCase()}`);
    return file === undefined || file === files.get(`${about[0]}:${about[1].toLowerCase()}`) ? '' : ` (${file})`;
  };

  const entities: Record<string, EntitySpec> = {};
  for (const [name, input] of shaped.entity) {
    entities[name] = { kind: 'entity', name, joinKeys: columnsOf(input.joinKeys), ...optional({ description: input.description }) };
  }

  const sources: Record<string, SourceSpec> = {};
  for (const [name, input] of shaped.source) {
    const columns = columnsOf(input.columns);
    for (const field of ['timestampField', 'createdTimestampField'] as const) {
      const column = input[field];
      if (column === undefined) continue;
      const type = input.columns[column];
      if (type === undefined) at('source', name, field, `unknown column "${column}"; the source's columns are ${Object.keys(input.columns).join(', ')}`);
      else if (type !== 'timestamp') at('source', name, field, `column "${column}" has type ${type}; a time column must be a timestamp`);
    }
    for (const column of input.unique ?? []) {
      if (input.columns[column] === undefined) at('source', name, 'unique', `unknown column "${column}"; the source's columns are ${Object.keys(input.columns).join(', ')}`);
    }
    if (input.unique !== undefined && new Set(input.unique).size !== input.unique.length) at('source', name, 'unique', `a column is named twice in [${input.unique.join(', ')}]`);
    const location: SourceSpec['location'] =
      input.table !== undefined ? { type: 'table', table: input.table }
      : input.query !== undefined ? { type: 'query', query: input.query }
      : { type: 'parquet', path: input.parquet ?? '' };
    sources[name] = {
      kind: 'source', name, location, timestampField: input.timestampField, columns, tags: input.tags ?? {},
      ...optional({ createdTimestampField: input.createdTimestampField, unique: input.unique, description: input.description, owner: input.owner }),
    };
  }

  const eventStreams: Record<string, EventStreamSpec> = {};
  for (const [name, input] of shaped.eventStream) {
    eventStreams[name] = eventStreamSpec(name, input, entities, (field, message) => at('eventStream', name, field, message), {
      isFailed,
      sourceNamed: Object.keys(sources).find((s) => s.toLowerCase() === name.toLowerCase()),
    });
  }

  // Decision streams are derived from feature services, after the views: a view cannot read one.
  const decisionStreamNames = new Map<string, string>();
  for (const [name, input] of shaped.featureService) {
    if (input.logging) decisionStreamNames.set((input.logging.stream ?? defaultDecisionStreamName(name)).toLowerCase(), name);
  }

  const featureViews: Record<string, FeatureViewSpec> = {};
  for (const [name, input] of shaped.featureView) {
    const declared: ColumnSpec[] = Object.entries(input.features ?? {}).map(([featureName, feature]) =>
      typeof feature === 'string'
        ? { name: featureName, type: feature }
        : { name: featureName, type: feature.type, ...optional({ description: feature.description }) },
    );
    input.entities.forEach((entityName, index) => {
      if (!entities[entityName] && !isFailed('entity', entityName)) at('featureView', name, `entities.${index}`, `unknown entity "${entityName}"${didYouMean(entityName, Object.keys(entities))}`);
    });
    // The source is a source or an event stream; a stream offers its join keys, timestamp and fields as columns.
    const source = viewSourceOf({ sources, eventStreams }, input.source);
    const sourceTypes = new Map(source?.columns.map((c) => [c.name, c.type]));
    const loggingService = decisionStreamNames.get(input.source.toLowerCase());
    if (!source && loggingService !== undefined) {
      at('featureView', name, 'source', `"${input.source}" is the decision stream of feature service "${loggingService}", which a feature view cannot read (decision streams are derived after the views); read its table flywheel.stream_${input.source} in a source instead`);
    } else if (!source) {
      if (!isFailed('source', input.source) && !isFailed('eventStream', input.source)) at('featureView', name, 'source', `unknown source "${input.source}"${didYouMean(input.source, [...Object.keys(sources), ...Object.keys(eventStreams)])}`);
    } else if (input.transformation === undefined) {
      // Without a transformation the view reads source columns directly, so every key and feature must be one.
      for (const entityName of input.entities) {
        for (const key of entities[entityName]?.joinKeys ?? []) {
          checkColumn(sourceTypes, key, (message) => at('featureView', name, 'entities', `entity "${entityName}"${inFile(['featureView', name], 'entity', entityName)} join key ${message} in ${source.label}${inFile(['featureView', name], source.kind, source.name)}`));
        }
      }
      for (const feature of declared) {
        checkColumn(sourceTypes, feature, (message) => at('featureView', name, `features.${feature.name}`, `${message} in ${source.label}`));
      }
    }
    const keyNames = new Set(input.entities.flatMap((e) => entities[e]?.joinKeys.map((k) => k.name) ?? []));
    for (const feature of declared) {
      if (keyNames.has(feature.name)) at('featureView', name, `features.${feature.name}`, 'a feature cannot have the name of a join key');
      if (source && feature.name === source.timestampField) at('featureView', name, `features.${feature.name}`, 'a feature cannot have the name of the timestamp field');
    }
    // An aggregation view generates its features from its aggregations (core/validation/aggregations.ts).
    const aggregated = input.aggregations && normalizeAggregations(input.aggregations, {
      columns: input.transformation !== undefined ? new Map(Object.entries(input.inputs ?? {})) : source && sourceTypes,
      where: input.transformation !== undefined ? 'inputs' : (source?.label ?? `source "${input.source}"`),
      transformation: input.transformation !== undefined,
      keys: keyNames,
      timestampField: source?.timestampField,
      createdTimestampField: input.transformation === undefined ? source?.createdTimestampField : undefined,
      declaredInputs: input.inputs,
      suggest: didYouMean,
    }, (field, message) => at('featureView', name, field, message));
    if (input.push === true && source) {
      // Only events that come through the log API can be pushed as they arrive.
      if (source.kind !== 'eventStream') at('featureView', name, 'push', `a pushed view reads an event stream, and ${source.label} is not one`);
      else if (source.spec.from !== undefined) at('featureView', name, 'push', `${source.label} loads its events from table "${source.spec.from.table}", so none arrive through the log API to push`);
    }
    const ttl = input.ttl === undefined ? null : parseDuration(input.ttl);
    featureViews[name] = {
      kind: 'featureView', name, entities: input.entities, source: input.source, features: aggregated ? aggregated.features : declared,
      ...(aggregated ? { aggregations: aggregated.aggregations, aggregationInputs: aggregated.inputs } : {}),
      ttlSeconds: ttl && 'seconds' in ttl ? ttl.seconds : null,
      online: input.online ?? true, offline: input.offline ?? true, tags: input.tags ?? {},
      ...optional({
        transformation: input.transformation, push: input.push === true ? (true as const) : undefined,
        materialize: input.materialize && materializationScheduleSpec(input.materialize), owner: input.owner, description: input.description,
      }),
    };
  }

  const checkSelections = (kind: DefinitionKind, object: string, field: string, selections: readonly { view: string; features?: string[] | undefined }[]): FeatureSelection[] => {
    const seen = new Map<string, string>();
    return selections.map((selection, index) => {
      const view = featureViews[selection.view];
      if (!view) {
        if (!isFailed('featureView', selection.view)) at(kind, object, `${field}.${index}.view`, `unknown feature view "${selection.view}"${didYouMean(selection.view, Object.keys(featureViews))}`);
        return { view: selection.view, features: selection.features ?? [] };
      }
      const names = selection.features ?? view.features.map((f) => f.name);
      for (const feature of names) {
        if (!view.features.some((f) => f.name === feature)) {
          at(kind, object, `${field}.${index}.features`, `feature view "${view.name}" has no feature "${feature}"${didYouMean(feature, view.features.map((f) => f.name))}`);
        } else if (seen.has(feature)) {
          at(kind, object, `${field}.${index}.features`, `feature "${feature}" is selected from both "${seen.get(feature)}" and "${view.name}"; output columns must be unique`);
        } else {
          seen.set(feature, view.name);
        }
      }
      return { view: view.name, features: names };
    });
  };

  const featureServices: Record<string, FeatureServiceSpec> = {};
  for (const [name, input] of shaped.featureService) {
    let logging: FeatureServiceLogging | undefined;
    if (input.logging) {
      const stream = input.logging.stream ?? defaultDecisionStreamName(name);
      if (input.logging.stream === undefined && stream.length > 30) {
        at('featureService', name, 'logging.stream', `the decision stream would be named "${stream}" (${stream.length} characters), and a stream name has at most 30; set logging.stream to a shorter name`);
      }
      const retentionSeconds = input.logging.retention === undefined ? DEFAULT_DECISION_RETENTION_SECONDS : secondsOf(input.logging.retention);
      logging = {
        sampleRate: input.logging.sampleRate, stream, retentionSeconds,
        ...(input.logging.retentionSchedule ? { retentionSchedule: scheduleTimesSpec(input.logging.retentionSchedule) } : {}),
      };
    }
    featureServices[name] = {
      kind: 'featureService', name, features: checkSelections('featureService', name, 'features', input.features), tags: input.tags ?? {},
      ...optional({ logging, owner: input.owner, description: input.description }),
    };
  }

  // Each logged service's decision stream joins the declared streams: planned, applied and ingested like them.
  const loggedTo = new Map<string, string>();
  const declaredStreams = Object.keys(eventStreams);
  // A service a model reads logs the decisions of POST /v1/decide too: its stream has the scoring columns.
  const scoringModels = { models: Object.fromEntries([...shaped.model].map(([name, input]) => [name, { service: input.service }])) };
  for (const service of Object.values(featureServices)) {
    if (!isLogged(service)) continue;
    const stream = service.logging.stream;
    const lower = stream.toLowerCase();
    const declared = declaredStreams.find((s) => s.toLowerCase() === lower);
    const sourceNamed = Object.keys(sources).find((s) => s.toLowerCase() === lower);
    const otherService = loggedTo.get(lower);
    const rename = service.logging.stream === defaultDecisionStreamName(service.name) ? 'set logging.stream to another name' : 'choose another logging.stream';
    if (declared !== undefined) {
      const where = files.get(`eventStream:${lower}`);
      at('featureService', service.name, 'logging.stream', `feature service "${service.name}" logs its decisions to the event stream "${stream}", and event stream "${declared}"${where ? ` (${where})` : ''} is declared with that name; ${rename} or rename the declared stream`);
    } else if (sourceNamed !== undefined) {
      at('featureService', service.name, 'logging.stream', `feature service "${service.name}" logs its decisions to the event stream "${stream}", and source "${sourceNamed}" has that name (feature views name their source or stream, so the two may not share one); ${rename}`);
    } else if (otherService !== undefined) {
      at('featureService', service.name, 'logging.stream', `feature service "${service.name}" logs its decisions to the event stream "${stream}", and so does feature service "${otherService}"; each service needs a decision stream of its own`);
    } else {
      loggedTo.set(lower, service.name);
      const problems = decisionStreamProblems(service, { entities, featureViews, ...scoringModels });
      for (const problem of problems) at('featureService', service.name, problem.field, problem.message);
      if (problems.length === 0) eventStreams[stream] = decisionStreamSpec(service, { entities, featureViews, ...scoringModels });
    }
  }

  const trainingSets: Record<string, TrainingSetSpec> = {};
  for (const [name, input] of shaped.trainingSet) {
    let selections: readonly FeatureSelection[] = [];
    if ('service' in input.features) {
      const service = featureServices[input.features.service];
      if (service) selections = service.features;
      else if (!isFailed('featureService', input.features.service)) at('trainingSet', name, 'features', `unknown feature service "${input.features.service}"${didYouMean(input.features.service, Object.keys(featureServices))}`);
    } else {
      selections = checkSelections('trainingSet', name, 'features', input.features.views);
    }
    const spine = typeof input.spine === 'string' ? sources[input.spine] : undefined;
    if (typeof input.spine !== 'string') {
      // A labels spine is checked after the labels, below.
    } else if (!spine) {
      if (!isFailed('source', input.spine)) at('trainingSet', name, 'spine', `unknown source "${input.spine}"${didYouMean(input.spine, Object.keys(sources))}`);
    } else {
      const spineTypes = new Map(spine.columns.map((c) => [c.name, c.type]));
      const checkedEntities = new Set<string>();
      for (const selection of selections) {
        for (const entityName of featureViews[selection.view]?.entities ?? []) {
          if (checkedEntities.has(entityName)) continue;
          checkedEntities.add(entityName);
          for (const key of entities[entityName]?.joinKeys ?? []) {
            checkColumn(spineTypes, key, (message) => at('trainingSet', name, 'spine', `entity "${entityName}"${inFile(['trainingSet', name], 'entity', entityName)} (used by feature view "${selection.view}") join key ${message} in spine source "${spine.name}"${inFile(['trainingSet', name], 'source', spine.name)}`));
          }
        }
        for (const feature of selection.features) {
          if (spineTypes.has(feature)) at('trainingSet', name, 'features', `feature "${feature}" has the name of a column of spine source "${spine.name}"; output columns must be unique`);
        }
      }
    }
    if (typeof input.spine === 'string' && input.fromLog !== undefined) {
      at('trainingSet', name, 'fromLog', `fromLog takes feature values from a decision log, so the spine must be { labels } over a logged feature service's decisions; the spine is the source "${input.spine}"`);
    }
    trainingSets[name] = {
      kind: 'trainingSet', name, spine: typeof input.spine === 'string' ? input.spine : { labels: input.spine.labels, fromLog: input.fromLog ?? false },
      features: 'service' in input.features ? { service: input.features.service } : { views: selections },
      output: { format: 'parquet', path: input.output?.path ?? `training_sets/${name}`, partitionBy: input.output?.partitionBy ?? 'day' },
      tags: input.tags ?? {},
      ...optional({ schedule: input.schedule && scheduleSpec(input.schedule), owner: input.owner, description: input.description }),
    };
    // A scheduled run builds one UTC day: the output must be split into days or hours to hold it.
    const partitionBy = input.output && 'partitionBy' in input.output ? input.output.partitionBy : undefined;
    if (input.schedule && (partitionBy === 'month' || partitionBy === 'none')) {
      at('trainingSet', name, 'schedule', `a scheduled run builds one UTC day, which output.partitionBy "${partitionBy}" cannot hold; use "day" (the default) or "hour"`);
    }
  }

  // Labels read event streams, decision streams included, so they come after the services.
  const labels: Record<string, LabelsSpec> = {};
  for (const [name, input] of shaped.labels) {
    const labelPaths = new Map(Object.values(labels).map((l) => [l.name, l.output.path]));
    const spec = labelsSpecOf(name, input, { eventStreams, featureServices, sources, trainingSets, labelPaths, suggest: didYouMean, isFailed }, (field, message) => at('labels', name, field, message));
    labels[name] = { ...spec, ...(input.schedule ? { schedule: scheduleTimesSpec(input.schedule) } : {}) };
  }

  // A training set whose spine is a labels dataset: its rows are the labels', so it is checked against them.
  for (const [name, input] of shaped.trainingSet) {
    const set = trainingSets[name];
    if (!set || typeof input.spine === 'string') continue;
    const selections = 'service' in set.features ? featureServices[set.features.service]?.features ?? [] : set.features.views;
    const spine = labelsSpineSpecOf({ labels: input.spine.labels, fromLog: input.fromLog }, selections, { entities, eventStreams, featureViews, featureServices, labels, suggest: didYouMean, isFailed }, (field, message) => at('trainingSet', name, field, message));
    trainingSets[name] = { ...set, spine };
  }

  // A loop's `only` names kinds or stages of the loop every other definition makes.
  const loops: Record<string, LoopSpec> = {};
  const stages = loopStageIds({ entities, sources, eventStreams, featureViews, featureServices, trainingSets, labels, loops: {}, models: {} });
  for (const [name, input] of shaped.loop) {
    input.only?.forEach((entry, index) => {
      if (!(LOOP_STAGE_KINDS as readonly string[]).includes(entry) && !stages.includes(entry)) {
        at('loop', name, `only.${index}`, `unknown stage "${entry}"${didYouMean(entry, stages)}; give a kind (${LOOP_STAGE_KINDS.join(', ')}) or a stage id (flywheel loop plan lists them)`);
      }
    });
    loops[name] = {
      kind: 'loop', name, concurrency: input.concurrency ?? 2, tags: input.tags ?? {},
      ...optional({ only: input.only, schedule: input.schedule && scheduleTimesSpec(input.schedule), owner: input.owner, description: input.description }),
    };
  }

  const models: Record<string, ModelSpec> = {};
  for (const [name, input] of shaped.model) {
    const context = { featureServices, sources, file: files.get(`model:${name.toLowerCase()}`), suggest: didYouMean, isFailed, schedule: scheduleTimesSpec };
    models[name] = modelSpecOf(name, input, context, (field, message) => at('model', name, field, message));
  }

  if (issues.length > 0) throw new DefinitionError(issues);
  return { entities, sources, eventStreams, featureViews, featureServices, trainingSets, labels, loops, models };
}

/**
 * The normalized spec of an event stream whose shape is valid, reporting what does not fit together:
 * unknown entities, names that clash with a key, the timestamp or Flywheel's own columns, an event id
 * field that is not a non-null string field, a watermark that is not a timestamp.
 */
function eventStreamSpec(
  name: string,
  input: Shaped['eventStream'],
  entities: Readonly<Record<string, EntitySpec>>,
  report: (field: string | undefined, message: string) => void,
  context: { sourceNamed: string | undefined; isFailed?: (kind: DefinitionKind, name: string) => boolean },
): EventStreamSpec {
  if (context.sourceNamed !== undefined) {
    report('name', `a source named "${context.sourceNamed}" exists; feature views name their source or event stream, so the two may not share a name`);
  }
  const reserved = (column: string) => column.startsWith(RESERVED_COLUMN_PREFIX);
  const reservedMessage = (what: string, column: string) =>
    `${what} "${column}" starts with "${RESERVED_COLUMN_PREFIX}", which is reserved for Flywheel's columns (_event_id, _received_at, _batch)`;

  input.entities.forEach((entityName, index) => {
    const entity = entities[entityName];
    if (!entity) {
      if (!context.isFailed?.('entity', entityName)) report(`entities.${index}`, `unknown entity "${entityName}"${didYouMean(entityName, Object.keys(entities))}`);
      return;
    }
    for (const key of entity.joinKeys) if (reserved(key.name)) report(`entities.${index}`, reservedMessage(`entity "${entityName}" join key`, key.name));
  });
  // The keys in entity order, each once. Two entities sharing a key must agree on its type: the table has one column per key.
  const keys: ColumnSpec[] = [];
  for (const entityName of input.entities) {
    for (const key of entities[entityName]?.joinKeys ?? []) {
      const first = keys.find((k) => k.name === key.name);
      if (!first) keys.push(key);
      else if (first.type !== key.type) report('entities', `entity "${entityName}" join key "${key.name}" is ${key.type}, but another entity of the stream declares it ${first.type}`);
    }
  }
  const keyNames = new Set(keys.map((k) => k.name.toLowerCase()));

  const timestamp = input.timestampField;
  if (reserved(timestamp)) report('timestampField', reservedMessage('the timestamp field', timestamp));
  else if (keyNames.has(timestamp.toLowerCase())) report('timestampField', `"${timestamp}" is a join key; the timestamp field needs a column of its own`);

  const fields = Object.entries(input.fields).map(([fieldName, field]): EventFieldSpec =>
    typeof field === 'string'
      ? { name: fieldName, type: field, nullable: false }
      : { name: fieldName, type: field.type, nullable: field.nullable ?? false, ...optional({ maxLength: field.maxLength, description: field.description }) },
  );
  for (const field of fields) {
    const path = `fields.${field.name}`;
    if (field.maxLength !== undefined && field.type !== 'string') report(`${path}.maxLength`, `maxLength bounds string values, and this field is ${field.type}`);
    if (reserved(field.name)) report(path, reservedMessage('the field', field.name));
    else if (keyNames.has(field.name.toLowerCase())) report(path, 'a field cannot have the name of a join key (the keys are columns of every event already)');
    else if (field.name.toLowerCase() === timestamp.toLowerCase()) report(path, 'a field cannot have the name of the timestamp field (it is a column of every event already)');
  }

  if (input.eventIdField !== undefined) {
    const idField = fields.find((f) => f.name === input.eventIdField);
    if (!idField) report('eventIdField', `"${input.eventIdField}" is not a field of the stream${didYouMean(input.eventIdField, fields.map((f) => f.name))}; declare it in fields as a string`);
    else if (idField.type !== 'string') report('eventIdField', `field "${idField.name}" is ${idField.type}; an event id field must be a string`);
    else if (idField.nullable) report('eventIdField', `field "${idField.name}" is nullable; every event needs an id`);
    else if ((idField.maxLength ?? 0) > MAX_EVENT_ID_LENGTH) report(`fields.${idField.name}.maxLength`, `an event id is at most ${MAX_EVENT_ID_LENGTH} characters; declare a maxLength of at most that, or none`);
  }
  if (input.from && input.maxEventTimeAhead !== undefined) {
    report('maxEventTimeAhead', 'a stream loaded from a table receives no events over HTTP, which is what maxEventTimeAhead bounds; leave it out');
  }

  let from: EventStreamSpec['from'];
  if (input.from) {
    const column = typeof input.from.watermark === 'string' ? input.from.watermark : input.from.watermark.loadedAtColumn;
    const declared = [...keys, { name: timestamp, type: 'timestamp' as const }, ...fields].find((c) => c.name === column);
    if (declared && declared.type !== 'timestamp') {
      report(typeof input.from.watermark === 'string' ? 'from.watermark' : 'from.watermark.loadedAtColumn', `column "${column}" is ${declared.type}; a watermark must be a timestamp`);
    }
    from = {
      table: input.from.table,
      watermark: typeof input.from.watermark === 'string' ? { type: 'eventTime', column } : { type: 'loadedAt', column },
      lookbackSeconds: secondsOf(input.from.lookback),
    };
  }

  return {
    kind: 'eventStream', name, entities: input.entities, keys, timestampField: timestamp, fields,
    retentionSeconds: secondsOf(input.retention), tags: input.tags ?? {},
    ...(input.maxEventTimeAhead !== undefined ? { maxEventTimeAheadSeconds: secondsOf(input.maxEventTimeAhead) } : {}),
    ...optional({ eventIdField: input.eventIdField, from, description: input.description, owner: input.owner }),
    ...(input.retentionSchedule ? { retentionSchedule: scheduleTimesSpec(input.retentionSchedule) } : {}),
  };
}

/** The seconds of a duration whose shape was checked already. */
function secondsOf(value: string | number): number {
  const parsed = parseDuration(value);
  return 'seconds' in parsed ? parsed.seconds : 0;
}

/** The normalized schedule of a training set whose shape is valid: seconds, defaults filled in, cron single-spaced. */
function scheduleSpec(input: NonNullable<Shaped['trainingSet']['schedule']>): TrainingSetSchedule {
  return { ...scheduleTimesSpec(input), partitionLag: input.partitionLag ?? 1 };
}

/** When a schedule whose shape is valid fires, and its catch-up window and paused state, defaults filled in. */
function scheduleTimesSpec(input: NonNullable<Shaped['trainingSet']['schedule']> | NonNullable<Shaped['featureView']['materialize']> | NonNullable<Shaped['eventStream']['retentionSchedule']> | NonNullable<NonNullable<Shaped['model']['batch']>['schedule']>) {
  const times = input.cron !== undefined
    ? { cron: normalizeCronSpacing(input.cron) }
    : { everySeconds: secondsOf(input.every ?? 0), offsetSeconds: input.offset === undefined ? 0 : secondsOf(input.offset) };
  return {
    ...times,
    catchupWindowSeconds: input.catchupWindow === undefined ? DEFAULT_CATCHUP_WINDOW_SECONDS : secondsOf(input.catchupWindow),
    paused: input.paused ?? false,
  };
}

/** How late a missed scheduled run may still start (after Temporal was down): one day. */
const DEFAULT_CATCHUP_WINDOW_SECONDS = 86_400;

/** The normalized materialization schedule of a feature view whose shape is valid: 4 chunks unless given, the lookback when given. */
function materializationScheduleSpec(input: NonNullable<Shaped['featureView']['materialize']>): MaterializationSchedule {
  return {
    ...scheduleTimesSpec(input), chunks: input.chunks ?? DEFAULT_MATERIALIZATION_CHUNKS,
    ...(input.lookback !== undefined ? { lookbackSeconds: secondsOf(input.lookback) } : {}),
  };
}

/** Chunks of a scheduled materialization run unless the view says otherwise (as `flywheel materialize` defaults to). */
export const DEFAULT_MATERIALIZATION_CHUNKS = 4;

function columnsOf(record: Record<string, ValueType>): ColumnSpec[] {
  return Object.entries(record).map(([name, type]) => ({ name, type }));
}

function checkColumn(available: Map<string, ValueType>, wanted: ColumnSpec, report: (message: string) => void): void {
  const actual = available.get(wanted.name);
  if (actual === undefined) report(`"${wanted.name}" is an unknown column${didYouMean(wanted.name, [...available.keys()])}`);
  else if (!isAssignable(actual, wanted.type)) report(`"${wanted.name}" is declared ${wanted.type} but the column is ${actual}`);
}

/** Drops undefined values so specs stay canonical (and hash and diff the same however they were written). */
function optional<T extends Record<string, unknown>>(fields: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as never;
}

function didYouMean(name: string, candidates: readonly string[]): string {
  const tolerance = Math.min(2, Math.floor(name.length / 3));
  const close = candidates.find((c) => c.toLowerCase() === name.toLowerCase() || editDistance(c, name) <= tolerance);
  return close ? ` (did you mean "${close}"?)` : candidates.length > 0 && candidates.length <= 8 ? ` (known: ${candidates.join(', ')})` : '';
}

/** Whether a zod issue's path passes through a definition object that failed its own shape check. */
function refersToFailed(input: unknown, path: readonly PropertyKey[], failed: ReadonlySet<unknown>): boolean {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return false;
    value = (value as Record<PropertyKey, unknown>)[key];
    if (failed.has(value)) return true;
  }
  return false;
}

/** `a` or `an`, for a kind in a message (`an entity`, `a source`). */
function article(kind: string): string {
  return /^[aeiou]/i.test(kind) ? 'an' : 'a';
}
