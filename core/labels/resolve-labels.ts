import { createHash } from 'node:crypto';
import type { ColumnSpec, EventStreamSpec, LabelsSpec, ProjectSpec } from '../definitions/specs.ts';
import { NotFoundError } from '../errors.ts';
import { canonicalJson } from '../plan/definition-hash.ts';
import { eventStreamTableName } from '../sql/warehouse-objects.ts';
import type { LabelJoin, LabelStream } from '../sql/labels.ts';
import { isDecisionLog, labelColumns } from './columns.ts';

/** A labels definition with every reference followed: the join to compile, and the columns it writes. */
export interface ResolvedLabels {
  readonly spec: LabelsSpec;
  readonly decisions: EventStreamSpec;
  readonly outcomes: EventStreamSpec;
  readonly join: LabelJoin;
  /** The dataset's columns, in order. */
  readonly columns: readonly ColumnSpec[];
  /**
   * The sha256 of what the rows depend on: the match, window, value and partitioning, and the columns
   * they are written with. A partition built with another hash is rebuilt; a new schedule, owner or
   * description does not change it.
   */
  readonly definitionHash: string;
}

/** Resolves labels `name` of an applied project. Throws NotFoundError when it (or a stream it reads) is missing. */
export function resolveLabels(project: ProjectSpec, name: string): ResolvedLabels {
  const spec = project.labels?.[name];
  if (!spec) {
    const known = Object.keys(project.labels ?? {});
    throw new NotFoundError('labels', name, known.length > 0 ? `Known labels: ${known.join(', ')}` : 'No labels are applied; declare them with labels() and run flywheel apply');
  }
  const decisions = project.eventStreams[spec.decisions];
  if (!decisions) throw new NotFoundError('event stream', spec.decisions, `Labels "${name}" read their decisions from it`);
  const outcomes = project.eventStreams[spec.outcomes];
  if (!outcomes) throw new NotFoundError('event stream', spec.outcomes, `Labels "${name}" read their outcomes from it`);
  const columns = labelColumns(spec, decisions, outcomes, isDecisionLog(project, decisions.name));

  const stream = (s: EventStreamSpec): LabelStream => ({
    relation: eventStreamTableName(s.name),
    stream: s.name,
    timestampField: s.timestampField,
    // A pushed stream's rows are loaded by segment: the ledger says when. A `from` stream's rows carry
    // the time of the load that stored them (a late row may join a batch the ledger holds already).
    loadTime: s.from ? 'receivedAt' : 'ledger',
  });
  const { match } = spec;
  const pairs: [string, string][] = match.by === 'decision_id'
    ? [[match.decisionIdField, match.outcomeField], ...match.keys.map((key): [string, string] => [key, key])]
    : match.keys.map((key): [string, string] => [key, key]);

  const join: LabelJoin = {
    labels: spec.name,
    decisions: { ...stream(decisions), identity: columns.identity, keys: columns.keys },
    outcomes: { ...stream(outcomes), ...(spec.value.kind !== 'any' && spec.value.kind !== 'count' ? { valueField: spec.value.field } : {}) },
    pairs,
    attribution: match.by === 'keys' ? match.attribution : 'all',
    windowSeconds: spec.windowSeconds,
    value: spec.value,
    label: columns.label,
  };
  const { schedule: _schedule, owner: _owner, description: _description, tags: _tags, ...content } = spec;
  const definitionHash = createHash('sha256').update(canonicalJson({ content, columns: columns.all })).digest('hex');
  return { spec, decisions, outcomes, join, columns: columns.all, definitionHash };
}
