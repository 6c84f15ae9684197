import type { z } from 'zod';
import { acceptedTypes, acceptsType } from '../aggregations/functions.ts';
import { parseDuration } from '../duration.ts';
import type { DefinitionKind, EventStreamSpec, FeatureServiceSpec, LabelsMatch, LabelsSpec, LabelValue, TrainingSetSpec } from '../definitions/specs.ts';
import { eventStreamColumns } from '../definitions/view-source.ts';
import { isDecisionLog, labelColumns } from '../labels/columns.ts';
import type { ValueType } from '../types.ts';
import type { labelsShape } from './shapes.ts';

/**
 * The cross-object rules of a `labels` definition whose shape is valid, and its normalized spec:
 * the streams exist (a feature service named as `decisions` logs its decisions), the match columns
 * are columns of both streams with matching types, the value's field is an outcome column of a type
 * its aggregate accepts, a `default` fits the label's type, and the output's columns and path are
 * its own. Problems are reported with the field they are about; the spec (without its schedule,
 * which validateProject normalizes like the others) is returned either way.
 */

export type LabelsShaped = z.output<typeof labelsShape>;

export interface LabelsContext {
  readonly eventStreams: Readonly<Record<string, EventStreamSpec>>;
  readonly featureServices: Readonly<Record<string, FeatureServiceSpec>>;
  readonly sources: Readonly<Record<string, unknown>>;
  readonly trainingSets: Readonly<Record<string, TrainingSetSpec>>;
  /** Output paths of the labels checked before this one, by name. */
  readonly labelPaths: ReadonlyMap<string, string>;
  readonly suggest: (name: string, candidates: readonly string[]) => string;
  /** Whether a definition of that kind and name failed its shape check (already reported: no second problem). */
  readonly isFailed: (kind: DefinitionKind, name: string) => boolean;
}

export function labelsSpecOf(name: string, input: LabelsShaped, context: LabelsContext, report: (field: string, message: string) => void): Omit<LabelsSpec, 'schedule'> {
  const streamNames = Object.keys(context.eventStreams);
  const unknownStream = (field: string, stream: string) => {
    const isSource = context.sources[stream] !== undefined;
    if (!isSource && context.isFailed('eventStream', stream)) return;
    report(field, isSource
      ? `"${stream}" is a source; ${field} must be an event stream (Flywheel needs its event ids and load times)`
      : `unknown event stream "${stream}"${context.suggest(stream, streamNames)}`);
  };

  // The decisions: a stream, or the decision log of a feature service.
  let decisionsName: string;
  if ('service' in input.decisions) {
    const service = context.featureServices[input.decisions.service];
    decisionsName = service?.logging?.stream ?? input.decisions.service;
    if (!service) {
      if (!context.isFailed('featureService', input.decisions.service)) report('decisions', `unknown feature service "${input.decisions.service}"${context.suggest(input.decisions.service, Object.keys(context.featureServices))}`);
    } else if (!service.logging) {
      report('decisions', `feature service "${service.name}" does not log its decisions; add logging: { sampleRate } to it, or name an event stream`);
    } else if (!context.eventStreams[service.logging.stream]) {
      report('decisions', `the decision stream "${service.logging.stream}" of feature service "${service.name}" is not valid (see the service's problems)`);
    }
  } else {
    decisionsName = input.decisions.stream;
    if (!context.eventStreams[decisionsName]) unknownStream('decisions', decisionsName);
  }
  const decisions = context.eventStreams[decisionsName];
  const outcomes = context.eventStreams[input.outcomes];
  if (!outcomes) unknownStream('outcomes', input.outcomes);
  if (decisions && outcomes && decisions.name === outcomes.name) {
    report('outcomes', `event stream "${outcomes.name}" is also the decision stream; outcomes come from another stream`);
  }

  const match = matchSpec(input.match, decisions, outcomes, report);
  const value = valueSpec(input.value, outcomes, report);
  const path = input.output?.path ?? `labels/${name}`;
  checkOutputPath(path, context, report);

  const spec: Omit<LabelsSpec, 'schedule'> = {
    kind: 'labels', name, decisions: decisionsName, outcomes: input.outcomes, match,
    windowSeconds: secondsOf(input.window), value,
    output: { format: 'parquet', path, partitionBy: input.partitionBy ?? 'day' },
    tags: input.tags ?? {},
    ...(input.owner !== undefined ? { owner: input.owner } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
  };

  // The output's columns come from the decision stream and from Flywheel; two may not share a name.
  if (decisions && outcomes) {
    const columns = labelColumns(spec, decisions, outcomes, isDecisionLog(context, decisions.name)).all;
    const seen = new Map<string, string>();
    for (const column of columns) {
      const other = seen.get(column.name.toLowerCase());
      if (other !== undefined) {
        report('decisions', `the labels would have two columns named "${column.name}" (a column of event stream "${decisions.name}" has the name of one Flywheel adds: label, outcome_count, first_outcome_at, labeled_at, event_id); rename it in the stream`);
      }
      seen.set(column.name.toLowerCase(), column.name);
    }
  }
  return spec;
}

/** The match, defaults filled in, with each column checked in both streams. */
function matchSpec(input: LabelsShaped['match'], decisions: EventStreamSpec | undefined, outcomes: EventStreamSpec | undefined, report: (field: string, message: string) => void): LabelsMatch {
  const typeIn = (stream: EventStreamSpec, column: string): ValueType | undefined => eventStreamColumns(stream).find((c) => c.name === column)?.type;
  const describe = (stream: EventStreamSpec) => eventStreamColumns(stream).map((c) => c.name);
  /** A column of both streams with types that compare: equal, or both integers. */
  const checkPair = (field: string, decisionColumn: string, outcomeColumn: string) => {
    // Each side is checked on its own, so a typo shows even while the other stream is unknown.
    const left = decisions && typeIn(decisions, decisionColumn);
    const right = outcomes && typeIn(outcomes, outcomeColumn);
    if (decisions && left === undefined) report(field, `"${decisionColumn}" is not a column of decision stream "${decisions.name}" (its columns: ${describe(decisions).join(', ')})`);
    if (outcomes && right === undefined) report(field, `"${outcomeColumn}" is not a column of outcome stream "${outcomes.name}" (its columns: ${describe(outcomes).join(', ')})`);
    if (!decisions || !outcomes || left === undefined || right === undefined) return;
    if (decisionColumn === decisions.timestampField || outcomeColumn === outcomes.timestampField) {
      report(field, 'a time column cannot be matched on: the window says which times match');
    } else if (!comparable(left, right)) {
      report(field, `"${decisionColumn}" is ${left} in decision stream "${decisions.name}" but "${outcomeColumn}" is ${right} in outcome stream "${outcomes.name}"; matched columns need the same type`);
    }
  };
  const checkKeys = (keys: readonly string[]) => {
    const seen = new Set<string>();
    keys.forEach((key, index) => {
      if (seen.has(key)) report(`match.keys.${index}`, `"${key}" is listed twice`);
      seen.add(key);
      checkPair(`match.keys.${index}`, key, key);
    });
  };

  if (input.by === 'decision_id') {
    const decisionIdField = input.decisionIdField ?? 'decision_id';
    checkPair(input.decisionIdField === undefined ? 'match' : 'match.decisionIdField', decisionIdField, input.outcomeField);
    const keys = input.keys ?? [];
    checkKeys(keys);
    return { by: 'decision_id', decisionIdField, outcomeField: input.outcomeField, keys };
  }
  let keys = input.keys;
  if (keys === undefined) {
    keys = decisions && outcomes ? decisions.keys.map((k) => k.name).filter((k) => outcomes.keys.some((o) => o.name === k)) : [];
    if (decisions && outcomes && keys.length === 0) {
      report('match', `event streams "${decisions.name}" (keys ${decisions.keys.map((k) => k.name).join(', ')}) and "${outcomes.name}" (keys ${outcomes.keys.map((k) => k.name).join(', ')}) share no join key; give match.keys`);
    }
  } else {
    checkKeys(keys);
  }
  return { by: 'keys', keys, attribution: input.attribution ?? 'all' };
}

/** The value, with its field checked against the outcome stream and its default against the label's type. */
function valueSpec(input: LabelsShaped['value'], outcomes: EventStreamSpec | undefined, report: (field: string, message: string) => void): LabelValue {
  if (input.kind === 'any' || input.kind === 'count') return { kind: input.kind };
  const value: LabelValue = { kind: input.kind, field: input.field, ...(input.default !== undefined ? { default: input.default } : {}) };
  if (!outcomes) return value;
  const column = eventStreamColumns(outcomes).find((c) => c.name === input.field);
  if (!column) {
    report('value.field', `"${input.field}" is not a column of outcome stream "${outcomes.name}" (its columns: ${eventStreamColumns(outcomes).map((c) => c.name).join(', ')})`);
    return value;
  }
  if (!acceptsType(input.kind, column.type)) {
    report('value.field', `${input.kind} cannot aggregate "${input.field}", a ${column.type} column of outcome stream "${outcomes.name}"; it takes ${acceptedTypes(input.kind)}`);
    return value;
  }
  if (input.default !== undefined) {
    const type = input.kind === 'avg' ? 'float64' : input.kind === 'sum' && (column.type === 'float32' || column.type === 'float64') ? 'float64' : input.kind === 'sum' ? 'int64' : column.type;
    const problem = defaultProblem(input.default, type);
    if (problem) report('value.default', problem);
  }
  return value;
}

/** Why a default does not fit a label of `type`, or undefined when it does. */
function defaultProblem(value: number | string | boolean, type: ValueType): string | undefined {
  switch (type) {
    case 'int32':
    case 'int64':
      return typeof value === 'number' && Number.isSafeInteger(value) ? undefined : `the label is ${type}, so the default must be a whole number, got ${JSON.stringify(value)}`;
    case 'float32':
    case 'float64':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `the label is ${type}, so the default must be a number, got ${JSON.stringify(value)}`;
    case 'string':
      return typeof value === 'string' ? undefined : `the label is a string, so the default must be a string, got ${JSON.stringify(value)}`;
    case 'bool':
      return typeof value === 'boolean' ? undefined : `the label is a bool, so the default must be true or false, got ${JSON.stringify(value)}`;
    case 'timestamp':
    case 'date':
      return `the label is a ${type}, which takes no default (leave it null)`;
  }
}

/** Two datasets never share a folder: each writes and indexes its own partitions. */
function checkOutputPath(path: string, context: LabelsContext, report: (field: string, message: string) => void): void {
  const nested = (a: string, b: string) => a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
  const others = [
    ...Object.values(context.trainingSets).map((set) => ({ path: set.output.path, what: `training set "${set.name}"` })),
    ...[...context.labelPaths].map(([name, other]) => ({ path: other, what: `labels "${name}"` })),
  ];
  const clash = others.find((other) => nested(path, other.path));
  if (clash) report('output.path', `"${path}" overlaps the output of ${clash.what} ("${clash.path}"); each dataset needs a folder of its own`);
}

function comparable(a: ValueType, b: ValueType): boolean {
  const integer = (t: ValueType) => t === 'int32' || t === 'int64';
  return a === b || (integer(a) && integer(b));
}

function secondsOf(value: string | number): number {
  const parsed = parseDuration(value);
  return 'seconds' in parsed ? parsed.seconds : 0;
}
