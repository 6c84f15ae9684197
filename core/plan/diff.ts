import {
  COLLECTION_OF_KIND,
  DEFINITION_KINDS,
  type DefinitionKind,
  type DefinitionSpec,
  type FeatureSelection,
  type FeatureViewSpec,
  type ProjectSpec,
} from '../definitions/specs.ts';
import { formatDuration } from '../duration.ts';
import { eventStreamTableName } from '../sql/warehouse-objects.ts';

/**
 * The diff between the applied registry version and the desired definitions: a list of typed
 * changes, kept apart from applying them (core/sql/warehouse-objects.ts, the registry store) and from
 * printing them (cli/format/plan-text.ts). Pure: no I/O.
 */

/** One field of an object that differs. `before` is absent for an added field, `after` for a removed one. */
export interface FieldChange {
  /**
   * Dotted path into the spec. Arrays of named things are keyed by name (`features.amount.type`,
   * `joinKeys.user_id`), feature selections by view (`features.user_spend.features.amount`), lists of
   * names by the name itself (`entities.user`). `features.$order` is the order of a service's features.
   */
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly breaking: boolean;
}

interface ChangeCommon {
  readonly kind: DefinitionKind;
  readonly name: string;
  /** Whether applying this change can break readers, stored data or running pipelines. */
  readonly breaking: boolean;
  /** Why it is breaking, one sentence per rule that fired; empty when it is not. */
  readonly reasons: readonly string[];
}

export interface AddChange extends ChangeCommon {
  readonly action: 'add';
  readonly after: DefinitionSpec;
}

export interface RemoveChange extends ChangeCommon {
  readonly action: 'remove';
  readonly before: DefinitionSpec;
}

export interface ModifyChange extends ChangeCommon {
  readonly action: 'change';
  readonly fields: readonly FieldChange[];
}

export type PlanChange = AddChange | RemoveChange | ModifyChange;
export type PlanAction = PlanChange['action'];

export interface PlanSummary {
  readonly add: number;
  readonly change: number;
  readonly remove: number;
  readonly breaking: number;
}

/**
 * Every object added, removed or changed between `applied` (undefined: nothing applied yet) and
 * `desired`, in the order of DEFINITION_KINDS and then by name. Reordering named things (features,
 * columns, join keys, entities) is not a change.
 */
export function diffProjects(applied: ProjectSpec | undefined, desired: ProjectSpec): PlanChange[] {
  const usage: Usage = { consumers: featureUsage(applied, desired), streamReaders: streamReaders(applied, desired) };
  const changes: PlanChange[] = [];
  for (const kind of DEFINITION_KINDS) {
    const collection = COLLECTION_OF_KIND[kind];
    const before: Readonly<Record<string, DefinitionSpec>> = applied?.[collection] ?? {};
    const after: Readonly<Record<string, DefinitionSpec>> = desired[collection];
    const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const name of names) {
      const old = before[name];
      const now = after[name];
      if (old === undefined && now !== undefined) {
        changes.push({ action: 'add', kind, name, after: now, breaking: false, reasons: [] });
      } else if (old !== undefined && now === undefined) {
        const reasons = removalReasons(old, usage);
        changes.push({ action: 'remove', kind, name, before: old, breaking: reasons.length > 0, reasons });
      } else if (old !== undefined && now !== undefined) {
        const raw: RawFieldChange[] = [];
        diffValues([], old, now, raw);
        raw.push(...selectionOrderChanges(old, now));
        if (raw.length === 0) continue;
        const reasons: string[] = [];
        const fields = raw.map((field): FieldChange => {
          const reason = BREAKING_FIELD_RULES[kind](name, field, usage);
          if (reason) reasons.push(reason);
          return { path: field.segments.join('.'), ...presentValues(field), breaking: reason !== undefined };
        });
        changes.push({ action: 'change', kind, name, fields, breaking: reasons.length > 0, reasons });
      }
    }
  }
  return changes;
}

export function summarizeChanges(changes: readonly PlanChange[]): PlanSummary {
  return {
    add: changes.filter((c) => c.action === 'add').length,
    change: changes.filter((c) => c.action === 'change').length,
    remove: changes.filter((c) => c.action === 'remove').length,
    breaking: changes.filter((c) => c.breaking).length,
  };
}

// ---------------------------------------------------------------------------------------------
// Field-by-field comparison

interface RawFieldChange {
  readonly segments: readonly string[];
  readonly before: unknown;
  readonly after: unknown;
}

function presentValues(field: RawFieldChange): { before?: unknown; after?: unknown } {
  return { ...(field.before !== undefined ? { before: field.before } : {}), ...(field.after !== undefined ? { after: field.after } : {}) };
}

function diffValues(segments: readonly string[], before: unknown, after: unknown, out: RawFieldChange[]): void {
  if (deepEqual(before, after)) return;
  if (Array.isArray(before) && Array.isArray(after)) {
    const keyOf = arrayKey(before, after);
    if (keyOf) {
      const oldItems = new Map(before.map((item) => [keyOf(item), item]));
      const newItems = new Map(after.map((item) => [keyOf(item), item]));
      for (const [key, item] of oldItems) {
        if (!newItems.has(key)) out.push({ segments: [...segments, key], before: item, after: undefined });
      }
      for (const [key, item] of newItems) {
        const old = oldItems.get(key);
        if (old === undefined) out.push({ segments: [...segments, key], before: undefined, after: item });
        else diffValues([...segments, key], old, item, out);
      }
      return;
    }
  } else if (isRecord(before) && isRecord(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    for (const key of keys) diffValues([...segments, key], before[key], after[key], out);
    return;
  }
  out.push({ segments, before, after });
}

/**
 * How the items of an array are identified across versions, when they can be: named objects by
 * name, feature selections by view, lists of distinct names by the name. Anything else is compared
 * as a whole.
 */
function arrayKey(before: readonly unknown[], after: readonly unknown[]): ((item: unknown) => string) | undefined {
  const items = [...before, ...after];
  if (items.length === 0) return undefined;
  const candidates: [(item: unknown) => boolean, (item: unknown) => string][] = [
    [(item) => isRecord(item) && typeof item.name === 'string', (item) => (item as { name: string }).name],
    [(item) => isRecord(item) && typeof item.view === 'string' && !('name' in item), (item) => (item as { view: string }).view],
    [(item) => typeof item === 'string', (item) => item as string],
  ];
  const distinct = (list: readonly unknown[], key: (item: unknown) => string) => new Set(list.map(key)).size === list.length;
  for (const [applies, key] of candidates) {
    if (items.every(applies)) return distinct(before, key) && distinct(after, key) ? key : undefined;
  }
  return undefined;
}

/**
 * A service's features are a model's inputs in order (and a training set's list of views its columns),
 * so a new order among the features both versions keep is a change, reported as `features.$order`.
 */
function selectionOrderChanges(before: DefinitionSpec, after: DefinitionSpec): RawFieldChange[] {
  const selectionsOf = (spec: DefinitionSpec): { segments: string[]; selections: readonly FeatureSelection[] } | undefined =>
    spec.kind === 'featureService' ? { segments: ['features'], selections: spec.features }
    : spec.kind === 'trainingSet' && 'views' in spec.features ? { segments: ['features', 'views'], selections: spec.features.views }
    : undefined;
  const old = selectionsOf(before);
  const now = selectionsOf(after);
  if (!old || !now) return [];
  const flatten = (selections: readonly FeatureSelection[]) => selections.flatMap((s) => s.features.map((f) => `${s.view}.${f}`));
  const oldOrder = flatten(old.selections);
  const newOrder = flatten(now.selections);
  const kept = (list: string[], other: string[]) => list.filter((f) => other.includes(f));
  if (deepEqual(kept(oldOrder, newOrder), kept(newOrder, oldOrder))) return [];
  return [{ segments: [...now.segments, '$order'], before: oldOrder, after: newOrder }];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((key) => deepEqual(a[key], b[key]));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Breaking rules

/** A feature service or training set, and the features (`view.feature`) and views it reads. */
interface Consumer {
  readonly label: string;
  readonly features: ReadonlySet<string>;
  readonly views: ReadonlySet<string>;
}

/**
 * The consumers that exist in the desired project, with what they read in either version: a
 * feature they read before and that disappears breaks them even if they now select less.
 */
function featureUsage(applied: ProjectSpec | undefined, desired: ProjectSpec): readonly Consumer[] {
  const consumer = (label: string, selections: readonly (readonly FeatureSelection[])[]): Consumer => {
    const all = selections.flat();
    return { label, features: new Set(all.flatMap((s) => s.features.map((f) => `${s.view}.${f}`))), views: new Set(all.map((s) => s.view)) };
  };
  const selectionsOf = (spec: { features: { service: string } | { views: readonly FeatureSelection[] } } | undefined) =>
    spec && 'views' in spec.features ? [spec.features.views] : [];
  return [
    ...Object.values(desired.featureServices).map((service) =>
      consumer(`feature service "${service.name}"`, [service.features, applied?.featureServices[service.name]?.features ?? []])),
    ...Object.values(desired.trainingSets).map((set) =>
      consumer(`training set "${set.name}"`, [...selectionsOf(set), ...selectionsOf(applied?.trainingSets[set.name])])),
  ];
}

/** What reads what, in either version: the breaking rules look here. */
interface Usage {
  readonly consumers: readonly Consumer[];
  /** The feature views (as `feature view "x"`) that read column `column` of stream `stream`. */
  readonly streamReaders: (stream: string, column: string) => string[];
}

/**
 * Which feature views read which columns of event streams, in the applied or the desired version. A
 * view without a transformation reads its features' or aggregations' columns; with one, any column
 * its SQL names (as a whole word, ignoring case: a guess that errs on the side of "reads it").
 */
function streamReaders(applied: ProjectSpec | undefined, desired: ProjectSpec): Usage['streamReaders'] {
  const views = [...Object.values(applied?.featureViews ?? {}), ...Object.values(desired.featureViews)];
  const streams = new Set([...Object.keys(applied?.eventStreams ?? {}), ...Object.keys(desired.eventStreams)]);
  const reads = (view: FeatureViewSpec, column: string) => {
    if (view.transformation !== undefined) return new RegExp(`\\b${column}\\b`, 'i').test(view.transformation);
    const columns = view.aggregations ? (view.aggregationInputs ?? []) : view.features;
    return columns.some((c) => c.name === column);
  };
  return (stream, column) => {
    if (!streams.has(stream)) return [];
    const labels = views.filter((view) => view.source === stream && reads(view, column)).map((view) => `feature view "${view.name}"`);
    return [...new Set(labels)].sort();
  };
}

function usersOf(consumers: readonly Consumer[], test: (consumer: Consumer) => boolean): string {
  return consumers.filter(test).map((c) => c.label).join(', ');
}

function removalReasons(removed: DefinitionSpec, usage: Usage): string[] {
  if (removed.kind === 'eventStream') {
    return [`event stream "${removed.name}" is removed; apply keeps its table ${eventStreamTableName(removed.name)} and the events in it (drop the table by hand to delete them)`];
  }
  if (removed.kind !== 'featureView') return [];
  const users = usersOf(usage.consumers, (c) => c.views.has(removed.name));
  return users ? [`feature view "${removed.name}" is removed but ${users} still uses it`] : [];
}

type FieldRule = (name: string, field: RawFieldChange, usage: Usage) => string | undefined;

const isTypeChange = (field: RawFieldChange, collection: string) =>
  field.segments.length === 3 && field.segments[0] === collection && field.segments[2] === 'type' && field.before !== undefined && field.after !== undefined;

const describe = (value: unknown) => (isRecord(value) && typeof value.type === 'string' ? value.type : JSON.stringify(value));

/** For each kind, whether a changed field breaks something, and why. Checked exhaustively per kind. */
const BREAKING_FIELD_RULES: Record<DefinitionKind, FieldRule> = {
  entity: (name, field) => {
    if (field.segments[0] !== 'joinKeys') return undefined;
    const key = field.segments[1] ?? '';
    // A key's description may change freely; its presence and type are what rows are matched on.
    const what = field.segments.length === 2 && field.after === undefined ? `join key "${key}" is removed`
      : field.segments.length === 2 && field.before === undefined ? `join key "${key}" is added`
      : isTypeChange(field, 'joinKeys') ? `join key "${key}" changes type ${String(field.before)} → ${String(field.after)}`
      : field.segments.length === 1 ? 'join keys change'
      : undefined;
    if (what === undefined) return undefined;
    return `entity "${name}": ${what}; feature views keyed by it, their stored rows and training spines no longer match`;
  },
  source: (name, field) => {
    if (isTypeChange(field, 'columns')) {
      return `source "${name}": column "${field.segments[1]}" changes type ${String(field.before)} → ${String(field.after)}; views and readers of the old type break`;
    }
    if (field.segments.length === 1 && field.segments[0] === 'timestampField') {
      return `source "${name}": timestamp field changes ${describe(field.before)} → ${describe(field.after)}; event times of existing features and training sets change meaning`;
    }
    return undefined;
  },
  eventStream: (name, field, usage) => {
    const [first, column] = field.segments;
    const stream = `event stream "${name}"`;
    const added = field.segments.length === 2 && field.before === undefined;
    const removed = field.segments.length === 2 && field.after === undefined;
    if (first === 'fields' && removed) {
      const readers = usage.streamReaders(name, column!);
      return readers.length > 0 ? `${stream}: field "${column}" is removed but ${readers.join(', ')} read it; its column and values are kept in the table, and new events leave it null` : undefined;
    }
    if (isTypeChange(field, 'fields') || isTypeChange(field, 'keys')) {
      const what = first === 'fields' ? 'field' : 'join key';
      return `${stream}: ${what} "${column}" changes type ${String(field.before)} → ${String(field.after)}; apply --allow-breaking converts the stored column if the warehouse can (to a wider type, or to string), and stops otherwise`;
    }
    if (first === 'keys' && added) return `${stream}: join key "${column}" is added; the stored events have no value for it, so apply refuses (declare a new event stream)`;
    if (first === 'keys' && removed) return `${stream}: join key "${column}" is removed; its column and values are kept in the table, and new events leave it null`;
    if (first === 'timestampField') {
      return `${stream}: timestamp field changes ${describe(field.before)} → ${describe(field.after)}; the stored events keep their time in the old column`;
    }
    if (first === 'eventIdField') {
      return `${stream}: event id field changes ${describe(field.before ?? null)} → ${describe(field.after ?? null)}; an event sent or loaded again after the change gets another id and is stored twice`;
    }
    if (first === 'retentionSeconds' && typeof field.before === 'number' && typeof field.after === 'number' && field.after < field.before) {
      return `${stream}: retention shrinks ${formatDuration(field.before)} → ${formatDuration(field.after)}; stored events older than ${formatDuration(field.after)} will be deleted`;
    }
    const path = field.segments.join('.');
    if ((path === 'from.table' || path === 'from.watermark.column') && field.before !== undefined && field.after !== undefined) {
      return `${stream}: it loads from another ${path === 'from.table' ? 'table' : 'watermark column'}, which the last load's watermark does not describe; rows older than that watermark (minus the lookback) are skipped`;
    }
    return undefined;
  },
  featureView: (name, field, usage) => {
    if (isTypeChange(field, 'features')) {
      return `feature view "${name}": feature "${field.segments[1]}" changes type ${String(field.before)} → ${String(field.after)}; readers and stored values of the old type break`;
    }
    if (field.segments.length === 2 && field.segments[0] === 'features' && field.after === undefined) {
      const feature = field.segments[1]!;
      const users = usersOf(usage.consumers, (c) => c.features.has(`${name}.${feature}`));
      if (users) return `feature view "${name}": feature "${feature}" is removed but ${users} still uses it`;
    }
    return undefined;
  },
  featureService: (name, field) => {
    const [first, view, third, feature] = field.segments;
    if (first !== 'features' || field.after !== undefined || view === '$order') return undefined;
    if (field.segments.length === 2) {
      return `feature service "${name}": no longer serves feature view "${view}"; readers of the service break`;
    }
    if (field.segments.length === 4 && third === 'features') {
      return `feature service "${name}": no longer serves "${view}.${feature}"; readers of the service break`;
    }
    return undefined;
  },
  trainingSet: () => undefined,
  labels: (name, field) => {
    const path = field.segments.join('.');
    // Published partitions are keyed by the old unit and would stay beside the new ones.
    if (path === 'output.partitionBy' && field.before !== undefined && field.after !== undefined) {
      return `labels "${name}": partitions change from ${String(field.before)} to ${String(field.after)}; the published ${String(field.before)} partitions would stay beside the new ones, so write to a new output.path (or delete the dataset first)`;
    }
    return undefined;
  },
  // A loop only orchestrates: changing it changes what runs next, never stored data.
  loop: () => undefined,
  // Versions live in the object store; a changed definition is checked when a version is registered.
  model: () => undefined,
};
