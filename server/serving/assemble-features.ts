import { encodeOnlineKey } from '../../connectors/online-store/online-key.ts';
import type { EncodedOnlineRecord, OnlineKeyPart, OnlineKeyRequest } from '../../connectors/online-store/online-store.ts';
import { isExpired, isoFromMicros } from '../../connectors/online-store/online-time.ts';
import { BodyWriter } from './body-writer.ts';
import { repeatJoined, type ServingGroup, type ServingTarget } from './resolve-service.ts';
import type { EntityRows } from './serving-request.ts';
import type { ServedDecision, ServedFeatureStatus, ServedFeatureValue, ServedKeyValue, ServedRow } from './served-decision.ts';

/**
 * The hot path of `POST /v1/features`, in two steps around the one store call:
 *
 * 1. `planReads`: each view's distinct keys among the rows, once each (a context key shared by 500
 *    candidates is one read), as one list of store requests for every view: one round trip.
 * 2. `assembleFeatures`: the response JSON, built as a string. Each (key, selection) gets its JSON
 *    fragments once, however many rows share the key; a row is then the concatenation of its
 *    fragments. When a selection is exactly the stored record's features in stored order, the stored
 *    JSON array text is spliced in as it is, without parsing; otherwise it is parsed once and the
 *    selected values picked (the index map is cached per stored layout and selection).
 */

/** The store requests of a request, and which one each row of each view reads. */
export interface ReadPlan {
  readonly requests: readonly OnlineKeyRequest[];
  /** The view (index into ServingTarget.views) of each request. */
  readonly viewOf: readonly number[];
  /** Per view: the request every row reads (a number when all rows share it), by row. */
  readonly slots: readonly (Int32Array | number)[];
}

export function planReads(target: ServingTarget, rows: EntityRows): ReadPlan {
  const requests: OnlineKeyRequest[] = [];
  const viewOf: number[] = [];
  const slots: (Int32Array | number)[] = [];
  const { columns, shared, count } = rows;
  // No rows, nothing to read (not even a context's keys).
  if (count === 0) return { requests, viewOf, slots: target.views.map(() => new Int32Array(0)) };
  for (let v = 0; v < target.views.length; v++) {
    const view = target.views[v]!;
    const keyIndexes = view.keyIndexes;
    if (keyIndexes.every((at) => columns[at] === undefined)) {
      // Every key from the context: one read for all the rows.
      slots.push(requests.length);
      requests.push({ view: view.view, key: keyIndexes.map((at) => shared[at]!) });
      viewOf.push(v);
      continue;
    }
    const slot = new Int32Array(count);
    if (keyIndexes.length === 1) {
      // Map keys are compared as SameValueZero: 1 and "1" stay apart, 0 and -0 (one online key) do not.
      const column = columns[keyIndexes[0]!]!;
      const seen = new Map<OnlineKeyPart, number>();
      for (let row = 0; row < count; row++) {
        const value = column[row]!;
        let at = seen.get(value);
        if (at === undefined) {
          at = requests.length;
          seen.set(value, at);
          requests.push({ view: view.view, key: [value] });
          viewOf.push(v);
        }
        slot[row] = at;
      }
    } else {
      const seen = new Map<string, number>();
      for (let row = 0; row < count; row++) {
        const key = keyIndexes.map((at) => columns[at]?.[row] ?? shared[at]!);
        const id = encodeOnlineKey(key);
        let at = seen.get(id);
        if (at === undefined) {
          at = requests.length;
          seen.set(id, at);
          requests.push({ view: view.view, key });
          viewOf.push(v);
        }
        slot[row] = at;
      }
    }
    slots.push(slot);
  }
  return { requests, viewOf, slots };
}

export interface AssembleOptions {
  readonly decisionId: string;
  /** The reading instant in microseconds: the ttl is applied at it. */
  readonly nowMicros: number;
  /** False: rows carry `values` only. */
  readonly metadata: boolean;
}

/**
 * The JSON fragments of one (store request, selection): its values, statuses and event times,
 * comma-joined. The event times of a record read whole are spelt out only when asked for (`timesAt`):
 * writing an instant in ISO-8601 cost more than the rest of a record's fragments, and an answer with
 * `"metadata": false` never shows it.
 */
export interface Fragments {
  /** The values' text, or undefined where `spliced` holds the record whose bytes are the values (valuesAt). */
  readonly values: (string | undefined)[];
  /**
   * Where `values` is undefined: the record read as bytes whose JSON array is spliced whole, its
   * values `bytes[valuesStart + 1, bytes.length - 1)`. An answer copies those bytes (writeValues);
   * the text is decoded only for what reads it as text (the decision log, a model's inputs).
   */
  readonly spliced: (EncodedOnlineRecord | undefined)[];
  /** Whether any entry of `spliced` is set. */
  anySpliced: boolean;
  readonly statuses: string[];
  /** The event times' text, or undefined until `timesAt` builds it from `timeMicros` and `timeCount`. */
  readonly times: (string | undefined)[];
  /** Where `times` is undefined: the record's event time, the same for each of the selection's `timeCount` features. */
  readonly timeMicros: Float64Array;
  readonly timeCount: Int32Array;
  /**
   * The event times' fragments built so far, by feature count then event time: records written by one
   * materialization often share their event time (a daily aggregate's midnight), and spelling the same
   * instant out once per record was most of the cost of an answer with metadata (bench/serving.ts).
   */
  readonly timesByCount: Map<number, Map<number, string>>;
}

/** The values' fragment at `at`, decoded from the record's bytes on first use. */
export function valuesAt(fragments: Fragments, at: number): string {
  let values = fragments.values[at];
  if (values === undefined) {
    const record = fragments.spliced[at]!;
    values = record.bytes!.toString('utf8', record.valuesStart! + 1, record.bytes!.length - 1);
    fragments.values[at] = values;
  }
  return values;
}

/** Appends the values' fragment at `at` to `body`: the record's bytes as they were read, or the text. */
function writeValues(body: BodyWriter, fragments: Fragments, at: number): void {
  const values = fragments.values[at];
  if (values !== undefined) {
    body.text(values);
    return;
  }
  const record = fragments.spliced[at]!;
  body.bytes(record.bytes!, record.valuesStart! + 1, record.bytes!.length - 1);
}

/** The values' fragment's length at `at`, in bytes where it is bytes, else in UTF-16 units (to size a body). */
function valuesLength(fragments: Fragments, at: number): number {
  const values = fragments.values[at];
  if (values !== undefined) return values.length;
  const record = fragments.spliced[at]!;
  return record.bytes!.length - record.valuesStart! - 2;
}

/** The event times' fragment at `at`, built on first use (or taken from another record of the same time and count). */
function timesAt(fragments: Fragments, at: number): string {
  let times = fragments.times[at];
  if (times === undefined) {
    const micros = fragments.timeMicros[at]!;
    const count = fragments.timeCount[at]!;
    let byMicros = fragments.timesByCount.get(count);
    if (byMicros === undefined) fragments.timesByCount.set(count, (byMicros = new Map()));
    times = byMicros.get(micros);
    if (times === undefined) {
      times = repeatJoined(`"${isoFromMicros(micros)}"`, count);
      byMicros.set(micros, times);
    }
    fragments.times[at] = times;
  }
  return times;
}

/**
 * The JSON fragments of every stored record read (values, statuses, event times), without the
 * answer's body: what `/v1/decide` reads its candidates' inputs from. Fragments of request r for its
 * view's j-th group are at `base[r] + j`.
 */
export function assembleFragments(
  target: ServingTarget,
  plan: ReadPlan,
  found: readonly (EncodedOnlineRecord | undefined)[],
  nowMicros: number,
): { fragments: Fragments; base: Int32Array } {
  const { requests, viewOf } = plan;
  const { groups, views } = target;
  const base = new Int32Array(requests.length);
  let total = 0;
  for (let r = 0; r < requests.length; r++) {
    base[r] = total;
    total += views[viewOf[r]!]!.groups.length;
  }
  const fragments: Fragments = {
    values: new Array<string | undefined>(total), spliced: new Array<EncodedOnlineRecord | undefined>(total), statuses: new Array<string>(total), times: new Array<string | undefined>(total),
    timeMicros: new Float64Array(total), timeCount: new Int32Array(total), timesByCount: new Map(), anySpliced: false,
  };
  // Per request, not per record: each view's groups, and the projection of the last (layout, group) seen.
  const groupsOf = views.map((view) => view.groups.map((g) => groups[g]!));
  const memo: ProjectionMemo = { layout: undefined, group: undefined, projection: 'splice' };
  for (let r = 0; r < requests.length; r++) {
    const v = viewOf[r]!;
    fillFragments(fragments, base[r]!, groupsOf[v]!, found[r], views[v]!.ttlSeconds, nowMicros, memo);
  }
  return { fragments, base };
}

/**
 * The response body:
 * `{"decision_id":"…","service":"…","features":[…],"rows":[{"values":[…],"statuses":[…],"event_times":[…]},…]}`.
 * `fragments` is kept for the decision log (decisionOf).
 */
export function assembleFeatures(
  target: ServingTarget,
  rows: EntityRows,
  plan: ReadPlan,
  found: readonly (EncodedOnlineRecord | undefined)[],
  options: AssembleOptions,
): { body: Buffer; fragments: Fragments; base: Int32Array } {
  const { slots } = plan;
  const { groups } = target;
  const { fragments, base } = assembleFragments(target, plan, found, options.nowMicros);

  // Written straight into a Buffer (body-writer.ts): the values of each record as UTF-8, the statuses
  // and event times (the same text row after row) from their bytes, encoded once per answer.
  const head = `{"decision_id":"${options.decisionId}","service":${target.service === undefined ? 'null' : JSON.stringify(target.service)},"features":${target.featuresJson},"rows":[`;
  const at = new Int32Array(groups.length);
  const place = (row: number) => {
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      const slot = slots[group.viewIndex]!;
      at[g] = base[typeof slot === 'number' ? slot : slot[row]!]! + group.indexInView;
    }
  };
  if (!options.metadata && !fragments.anySpliced) return { body: valuesOnlyBody(head, groups.length, rows.count, place, at, fragments.values as string[]), fragments, base };
  // Sized from the first row, so that most answers never grow the buffer.
  let rowBytes = 64;
  if (rows.count > 0) {
    place(0);
    for (let g = 0; g < groups.length; g++) {
      rowBytes += valuesLength(fragments, at[g]!) + 1;
      if (options.metadata) rowBytes += fragments.statuses[at[g]!]!.length + timesAt(fragments, at[g]!).length + 2;
    }
  }
  const body = new BodyWriter(head.length * 3 + 2 + Math.ceil(rows.count * rowBytes * 1.25));
  body.text(head);
  for (let row = 0; row < rows.count; row++) {
    place(row);
    body.repeated(row === 0 ? '{"values":[' : ',{"values":[');
    for (let g = 0; g < groups.length; g++) {
      if (g > 0) body.repeated(',');
      writeValues(body, fragments, at[g]!);
    }
    if (options.metadata) {
      body.repeated('],"statuses":[');
      for (let g = 0; g < groups.length; g++) {
        if (g > 0) body.repeated(',');
        body.repeated(fragments.statuses[at[g]!]!);
      }
      body.repeated('],"event_times":[');
      for (let g = 0; g < groups.length; g++) {
        if (g > 0) body.repeated(',');
        body.repeated(timesAt(fragments, at[g]!));
      }
    }
    body.repeated(']}');
  }
  body.repeated(']}');
  return { body: body.finish(), fragments, base };
}

/**
 * The answer without metadata when every value is text (no record was read as bytes: the SQLite
 * store): every row's values only, built as one string and written as UTF-8 at once.
 * With nothing repeated to copy as bytes, writing it piece by piece into the BodyWriter cost more:
 * 27–30 against 11 µs of CPU for 100 rows of 50 numbers (a loop over each way alone). Records read as
 * bytes take the BodyWriter path instead, their bytes copied as they are.
 */
function valuesOnlyBody(head: string, groupCount: number, rowCount: number, place: (row: number) => void, at: Int32Array, values: readonly string[]): Buffer {
  let text = head;
  for (let row = 0; row < rowCount; row++) {
    place(row);
    text += row === 0 ? '{"values":[' : ',{"values":[';
    for (let g = 0; g < groupCount; g++) text += g === 0 ? values[at[g]!]! : `,${values[at[g]!]!}`;
    text += ']}';
  }
  text += ']}';
  // At most three bytes per UTF-16 unit: one allocation, one pass, no byte count first.
  const bytes = Buffer.allocUnsafe(text.length * 3);
  return bytes.subarray(0, bytes.write(text, 0, 'utf8'));
}

/** How a stored layout maps onto a selection: spliced as it is, or picked by index (-1: the record lacks the feature). */
type Projection = 'splice' | Int32Array;

/** Per stored layout (the frozen array records of one feature list share), per selection. */
const projections = new WeakMap<readonly string[], WeakMap<ServingGroup, Projection>>();

/**
 * The last projection looked up, for one answer: its records mostly share one layout, so most of
 * them find their projection here rather than in the two WeakMaps.
 */
interface ProjectionMemo {
  layout: readonly string[] | undefined;
  group: ServingGroup | undefined;
  projection: Projection;
}

function memoizedProjection(memo: ProjectionMemo, layout: readonly string[], group: ServingGroup): Projection {
  if (memo.layout !== layout || memo.group !== group) {
    memo.projection = projectionOf(layout, group);
    memo.layout = layout;
    memo.group = group;
  }
  return memo.projection;
}

function projectionOf(layout: readonly string[], group: ServingGroup): Projection {
  let byGroup = projections.get(layout);
  if (byGroup === undefined) projections.set(layout, (byGroup = new WeakMap()));
  let projection = byGroup.get(group);
  if (projection === undefined) {
    const selected = group.features;
    const same = selected.length === layout.length && selected.every((name, i) => layout[i] === name);
    projection = same ? 'splice' : Int32Array.from(selected, (name) => layout.indexOf(name));
    byGroup.set(group, projection);
  }
  return projection;
}

/** Whether a record's stored values are one bracketed JSON array, so a selection of all its features in stored order splices it. */
function isBracketed(record: EncodedOnlineRecord): boolean {
  const bytes = record.bytes;
  if (bytes !== undefined) return bytes[record.valuesStart!] === 0x5b && bytes[bytes.length - 1] === 0x5d;
  const text = record.values;
  return text.charCodeAt(0) === 0x5b && text.charCodeAt(text.length - 1) === 0x5d;
}

function fillFragments(
  out: Fragments,
  first: number,
  groups: readonly ServingGroup[],
  record: EncodedOnlineRecord | undefined,
  ttlSeconds: number | null,
  nowMicros: number,
  memo: ProjectionMemo,
): void {
  if (record === undefined) {
    for (let j = 0; j < groups.length; j++) {
      const group = groups[j]!;
      out.values[first + j] = group.nulls;
      out.statuses[first + j] = group.missing;
      out.times[first + j] = group.nulls;
    }
    return;
  }
  if (isExpired(record.eventMicros, nowMicros, ttlSeconds)) {
    for (let j = 0; j < groups.length; j++) {
      const group = groups[j]!;
      out.values[first + j] = group.nulls;
      out.statuses[first + j] = group.expired;
      out.times[first + j] = undefined;
      out.timeMicros[first + j] = record.eventMicros;
      out.timeCount[first + j] = group.features.length;
    }
    return;
  }
  let parsed: unknown[] | undefined;
  for (let j = 0; j < groups.length; j++) {
    const group = groups[j]!;
    const projection = memoizedProjection(memo, record.features, group);
    if (projection === 'splice' && isBracketed(record)) {
      // Read as bytes: the bytes are spliced (writeValues) and the text decoded only if asked (valuesAt).
      if (record.bytes !== undefined) {
        out.values[first + j] = undefined;
        out.spliced[first + j] = record;
        out.anySpliced = true;
      } else {
        out.values[first + j] = record.values.slice(1, -1);
      }
      out.statuses[first + j] = group.present;
      out.times[first + j] = undefined;
      out.timeMicros[first + j] = record.eventMicros;
      out.timeCount[first + j] = group.features.length;
      continue;
    }
    parsed ??= JSON.parse(record.values) as unknown[];
    const time = `"${isoFromMicros(record.eventMicros)}"`;
    const indexes = projection === 'splice' ? Int32Array.from(group.features, (_, i) => i) : projection;
    let values = '';
    let statuses = '';
    let times = '';
    for (let i = 0; i < indexes.length; i++) {
      const index = indexes[i]!;
      const comma = i === 0 ? '' : ',';
      // A feature the stored record lacks (added to the view since it was written) is missing.
      if (index < 0) {
        values += `${comma}null`;
        statuses += `${comma}"missing"`;
        times += `${comma}null`;
      } else {
        values += comma + JSON.stringify(parsed[index] ?? null);
        statuses += `${comma}"present"`;
        times += comma + time;
      }
    }
    out.values[first + j] = values;
    out.statuses[first + j] = statuses;
    out.times[first + j] = times;
  }
}

/** The decision the response was, for the decision log: every row's keys, values, event times and statuses by feature. */
export function decisionOf(
  target: ServingTarget & { service: string },
  rows: EntityRows,
  plan: ReadPlan,
  assembled: { fragments: Fragments; base: Int32Array },
  decisionId: string,
  servedAt: string,
): ServedDecision {
  const { fragments, base } = assembled;
  const parsed = new Map<number, { values: ServedFeatureValue[]; statuses: ServedFeatureStatus[]; times: (string | null)[] }>();
  const parse = (at: number) => {
    let entry = parsed.get(at);
    if (entry === undefined) {
      entry = {
        values: JSON.parse(`[${valuesAt(fragments, at)}]`) as ServedFeatureValue[],
        statuses: JSON.parse(`[${fragments.statuses[at]!}]`) as ServedFeatureStatus[],
        times: JSON.parse(`[${timesAt(fragments, at)}]`) as (string | null)[],
      };
      parsed.set(at, entry);
    }
    return entry;
  };
  const served: ServedRow[] = [];
  for (let row = 0; row < rows.count; row++) {
    const keys: Record<string, ServedKeyValue> = {};
    for (let k = 0; k < target.keys.length; k++) {
      const value = rows.columns[k]?.[row] ?? rows.shared[k]!;
      keys[target.keys[k]!.name] = typeof value === 'bigint' ? value.toString() : value;
    }
    const values: Record<string, ServedFeatureValue> = {};
    const eventTimes: Record<string, string | null> = {};
    const statuses: Record<string, ServedFeatureStatus> = {};
    for (const group of target.groups) {
      const slot = plan.slots[group.viewIndex]!;
      const entry = parse(base[typeof slot === 'number' ? slot : slot[row]!]! + group.indexInView);
      for (let i = 0; i < group.features.length; i++) {
        const name = group.features[i]!;
        values[name] = entry.values[i]!;
        eventTimes[name] = entry.times[i]!;
        statuses[name] = entry.statuses[i]!;
      }
    }
    served.push({ keys, values, eventTimes, statuses });
  }
  return { decisionId, service: target.service, servedAt, context: rows.context, features: target.features, rows: served };
}
