import * as zlib from 'node:zlib';
import type { RecordBuilder } from '../../connectors/log-store/segment-log/index.ts';
import { DEFAULT_MAX_STRING_LENGTH, MAX_EVENT_ID_LENGTH } from '../../core/definitions/event-limits.ts';
import { CONTEXT_COLUMN, DECISION_ID_COLUMN, ROW_INDEX_COLUMN, SCORING_COLUMNS, SERVED_AT_COLUMN, type DecisionStreamLayout } from '../../core/definitions/decision-stream.ts';
import type { ValueType } from '../../core/types.ts';
import type { StreamSchema } from '../stream-schema.ts';
import { latestEventTimeOf } from '../validation/event-time-bound.ts';
import { EVENT_ID, RECEIVED_AT, stringLengthLimits } from '../validation/event-validator.ts';
import { NORMALIZERS, stringNormalizer, ValueProblem, type Normalizer } from '../validation/value-normalizers.ts';
import { numberKindsOf, numbersPiece } from './numbers-piece.ts';
import type { ServedFragments } from './served-decision.ts';

/**
 * A decision's rows written straight into their stored form (the JSON text of each event as the log
 * API stores it: `_event_id` first, the decision stream's columns in order, `_received_at` last),
 * from the fragments the answer was built from (`ServedFragments`), without an object per row.
 *
 * Why not through the stream's ingest like a client's events: those checks look every member of every
 * event up by name, for input nobody typed; a decision's values were typed when they were stored and
 * served, and its columns are the layout's. What the general path does to a value is still done, with
 * the same normalizers, but once per stored record rather than once per row, and a record shared by
 * many rows (a context's) is written once. The text is exactly what `JSON.stringify` of the validated
 * event gives (test/decision-records.test.ts compares the two byte for byte).
 *
 * Anything the direct path does not expect (a key or status missing, a value its column's normalizer
 * refuses, a service whose selections are not in the layout's order, an id too long) makes `start` or
 * `rows` answer undefined / false, and the decision log then sends the spelt-out decision through the
 * general checks, which name the problem exactly as for any event.
 *
 * @example
 * const encoder = new DecisionRecordEncoder(layout, ingest.schema);
 * const encoding = encoder.start(decision, receivedAt);          // undefined: use the general path
 * const texts: string[] = [];
 * if (encoding && encoding.rows(0, decision.rowCount, texts)) ingest.acceptStored(ids, texts);
 */
export class DecisionRecordEncoder {
  readonly #layout: DecisionStreamLayout;
  readonly #schema: StreamSchema;
  readonly #normalize: (name: string, type: ValueType) => Normalizer;
  /** Per `groups` array of a serving target (one per route, as long as the server lives). */
  readonly #plans = new WeakMap<ServedFragments['groups'], GroupsPlan | null>();
  /** Per `keyNames` array: where each of the layout's keys is. */
  readonly #keyPlans = new WeakMap<readonly string[], Int32Array | null>();
  /** Key column prefixes `,"user_id":`, in the layout's order. */
  readonly #keyPrefixes: readonly string[];
  readonly #keyNormalizers: readonly Normalizer[];
  readonly #featureNormalizers: readonly Normalizer[];
  readonly #stringOf: Normalizer;
  readonly #contextOf: Normalizer;
  readonly #timestampOf: Normalizer;
  /** The scoring columns of a decision that was not scored (a `POST /v1/features` response of a scored service). */
  readonly #unscored: string;

  constructor(layout: DecisionStreamLayout, schema: StreamSchema) {
    this.#layout = layout;
    this.#schema = schema;
    const limits = stringLengthLimits(schema);
    this.#normalize = (name, type) => (type === 'string' ? stringNormalizer(limits.get(name) ?? DEFAULT_MAX_STRING_LENGTH) : NORMALIZERS[type]);
    this.#keyPrefixes = layout.keys.map((key) => `,${JSON.stringify(key.name)}:`);
    this.#keyNormalizers = layout.keys.map((key) => this.#normalize(key.name, key.type));
    this.#featureNormalizers = layout.features.map((feature) => this.#normalize(feature.name, feature.type));
    this.#stringOf = this.#normalize(DECISION_ID_COLUMN, 'string');
    this.#contextOf = this.#normalize(CONTEXT_COLUMN, 'string');
    this.#timestampOf = NORMALIZERS.timestamp;
    const c = SCORING_COLUMNS;
    this.#unscored = [c.model, c.version, c.score, c.rank, c.position, c.propensity, c.explored, c.exploreKey].map((name) => `,"${name}":null`).join('');
  }

  /**
   * Prepares a decision's encoding (what its rows share), events received at `receivedAt`; undefined
   * when the decision needs the general checks.
   */
  start(decision: ServedFragments, receivedAt: string): DecisionEncoding | undefined {
    const plan = this.#plan(decision.groups);
    const keys = this.#keyPlan(decision.keyNames);
    if (plan === null || keys === null) return undefined;
    const lastId = `${decision.decisionId}:${Math.max(0, decision.rowCount - 1)}`;
    if (typeof decision.decisionId !== 'string' || lastId.length > MAX_EVENT_ID_LENGTH || !wellFormed(lastId)) return undefined;
    const servedAt = this.#timestampOf(decision.servedAt);
    if (typeof servedAt !== 'string' || Date.parse(servedAt) > latestEventTimeOf(this.#schema, receivedAt).ms) return undefined;
    const decisionId = this.#stringOf(decision.decisionId);
    const context = decision.context === undefined ? null : this.#contextOf(JSON.stringify(decision.context));
    if (decisionId instanceof ValueProblem || context instanceof ValueProblem) return undefined;
    const scoring = this.#layout.scored ? this.#scoringParts(decision) : { head: '', tail: '', rows: false };
    if (scoring === undefined) return undefined;
    return new DecisionEncoding({
      decision,
      plan,
      keys,
      keyPrefixes: this.#keyPrefixes,
      keyNormalizers: this.#keyNormalizers,
      featureNormalizers: this.#featureNormalizers,
      timestampOf: this.#timestampOf,
      idPrefix: `{"${EVENT_ID}":${JSON.stringify(`${decision.decisionId}:`).slice(0, -1)}`,
      shared: `,"${SERVED_AT_COLUMN}":${JSON.stringify(servedAt)},"${DECISION_ID_COLUMN}":${JSON.stringify(decisionId)},"${ROW_INDEX_COLUMN}":`,
      context: `,"${CONTEXT_COLUMN}":${JSON.stringify(context)}`,
      scoringHead: scoring.head,
      scoringTail: scoring.tail,
      scored: scoring.rows,
      end: `,"${RECEIVED_AT}":${JSON.stringify(receivedAt)}}`,
    });
  }

  /**
   * The scoring columns: the decision's own (model, version, explored, explore key) and whether rows
   * carry their score, rank, position and propensity; undefined when a value is not of its column's type.
   */
  #scoringParts(decision: ServedFragments): { head: string; tail: string; rows: boolean } | undefined {
    const scoring = decision.scoring;
    if (scoring === undefined) return { head: this.#unscored, tail: '', rows: false };
    if (scoring.rows.length !== decision.rowCount) return undefined;
    const model = this.#stringOf(scoring.model);
    const version = scoring.version === null ? null : this.#stringOf(scoring.version);
    const exploreKey = scoring.exploreKey === undefined ? null : this.#stringOf(scoring.exploreKey);
    const explored = NORMALIZERS.bool(scoring.explored);
    if (model instanceof ValueProblem || version instanceof ValueProblem || exploreKey instanceof ValueProblem || explored instanceof ValueProblem) return undefined;
    const c = SCORING_COLUMNS;
    return {
      head: `,"${c.model}":${JSON.stringify(model)},"${c.version}":${JSON.stringify(version)}`,
      tail: `,"${c.explored}":${String(explored)},"${c.exploreKey}":${JSON.stringify(exploreKey)}`,
      rows: true,
    };
  }

  /** How the layout's features map onto a target's selections: null when not one after the other in the layout's order. */
  #plan(groups: ServedFragments['groups']): GroupsPlan | null {
    let plan = this.#plans.get(groups);
    if (plan !== undefined) return plan;
    plan = groupsPlanOf(this.#layout, groups);
    this.#plans.set(groups, plan);
    return plan;
  }

  #keyPlan(keyNames: readonly string[]): Int32Array | null {
    let plan = this.#keyPlans.get(keyNames);
    if (plan !== undefined) return plan;
    const at = Int32Array.from(this.#layout.keys, (key) => keyNames.indexOf(key.name));
    plan = at.includes(-1) ? null : at;
    this.#keyPlans.set(keyNames, plan);
    return plan;
  }
}

/** Where a target's selections sit in the layout (they must follow its order), and their column names. */
interface GroupsPlan {
  /** Per group: the index of its first feature in the layout. */
  readonly firstFeature: Int32Array;
  /** Per group: `,"<feature>":` for each of its features. */
  readonly valuePrefixes: readonly (readonly string[])[];
  /** Per group: `,"<feature>__status":` for each of its features. */
  readonly statusPrefixes: readonly (readonly string[])[];
  /** Per group whose features are all numbers: each one's kind (numbers-piece.ts); undefined for other groups. */
  readonly numberKinds: readonly (Uint8Array | undefined)[];
  /** Per group: `valuePrefixes` as bytes, and their total length. */
  readonly valuePrefixBytes: readonly (readonly Buffer[])[];
  readonly prefixBytes: Int32Array;
  /** Per group: its statuses' text → the columns' bytes, built once (the texts are the group's few constants). */
  readonly statusBytes: Map<string, Buffer | null>[];
  /** Per layout view: `,"<view>__event_time":`, and its groups in order. */
  readonly views: readonly { readonly prefix: string; readonly groups: readonly number[] }[];
}

function groupsPlanOf(layout: DecisionStreamLayout, groups: ServedFragments['groups']): GroupsPlan | null {
  const firstFeature = new Int32Array(groups.length);
  let next = 0;
  const groupOfFeature: number[] = [];
  for (let g = 0; g < groups.length; g++) {
    firstFeature[g] = next;
    for (const name of groups[g]!.features) {
      if (layout.features[next]?.name !== name) return null;
      groupOfFeature.push(g);
      next++;
    }
  }
  if (next !== layout.features.length) return null;
  const views = layout.views.map((view) => {
    const of = new Set<number>();
    for (const name of view.features) of.add(groupOfFeature[layout.features.findIndex((f) => f.name === name)]!);
    return { prefix: `,${JSON.stringify(view.eventTimeColumn)}:`, groups: [...of].sort((a, b) => a - b) };
  });
  // A view's event time is the first its features report, in the layout's order: its groups must not interleave with another view's features.
  for (const view of layout.views) {
    const names = groups.flatMap((group, g) => (views[layout.views.indexOf(view)]!.groups.includes(g) ? group.features : []));
    if (names.join('\u0000') !== view.features.join('\u0000')) return null;
  }
  return {
    firstFeature,
    valuePrefixes: groups.map((group) => group.features.map((name) => `,${JSON.stringify(name)}:`)),
    statusPrefixes: groups.map((group, g) => group.features.map((_, i) => `,${JSON.stringify(layout.features[firstFeature[g]! + i]!.statusColumn)}:`)),
    valuePrefixBytes: groups.map((group) => group.features.map((name) => Buffer.from(`,${JSON.stringify(name)}:`))),
    prefixBytes: Int32Array.from(groups, (group) => group.features.reduce((sum, name) => sum + Buffer.byteLength(`,${JSON.stringify(name)}:`), 0)),
    statusBytes: groups.map(() => new Map()),
    numberKinds: groups.map((group, g) => numberKindsOf(group.features.map((_, i) => layout.features[firstFeature[g]! + i]!.type))),
    views,
  };
}

interface EncodingParts {
  readonly decision: ServedFragments;
  readonly plan: GroupsPlan;
  readonly keys: Int32Array;
  readonly keyPrefixes: readonly string[];
  readonly keyNormalizers: readonly Normalizer[];
  readonly featureNormalizers: readonly Normalizer[];
  readonly timestampOf: Normalizer;
  readonly idPrefix: string;
  /** served_at and decision_id, then the `row_index` column's name. */
  readonly shared: string;
  readonly context: string;
  /** The scoring columns the rows share: before each row's own (score, rank, position, propensity) and after them; `head` alone when the rows have none. */
  readonly scoringHead: string;
  readonly scoringTail: string;
  readonly scored: boolean;
  readonly end: string;
}

/** One decision being encoded; rows may be asked for in slices (the decision log bounds its work per turn of the event loop). */
export class DecisionEncoding {
  readonly #parts: EncodingParts;
  readonly #bytes: FixedBytes;
  /** Per fragment: its values' columns as bytes, or null when a value is refused by its column's normalizer. */
  readonly #values = new Map<number, Buffer | null>();
  /** Per fragment: its first non-null event time, as JSON text (`null` for none), or undefined when refused. */
  readonly #times = new Map<number, string | undefined>();
  readonly #timesByText = new Map<string, string | undefined>();
  /** Per view and time text: `,"<view>__event_time":"…"` as bytes. */
  readonly #timePieces: Map<string, Buffer>[];
  /** Per group: the fragments' statuses' texts → `,"f0__status":"present",…` as bytes (null: refused). */
  readonly #statusPieces: Map<string, Buffer | null>[];
  readonly #pieces: Buffer[] = [];

  constructor(parts: EncodingParts) {
    this.#parts = parts;
    this.#bytes = {
      idPrefix: Buffer.from(parts.idPrefix), shared: Buffer.from(parts.shared), context: Buffer.from(parts.context),
      scoringHead: Buffer.from(parts.scoringHead), scoringTail: Buffer.from(parts.scoringTail), end: Buffer.from(parts.end),
    };
    this.#timePieces = parts.plan.views.map(() => new Map());
    this.#statusPieces = parts.plan.statusBytes;
  }

  /**
   * Frames the stored form of rows [from, to) into `records`, skipping the rows `skip` says (stored
   * already); false when a row needs the general checks (`records` then holds some of the rows: drop it).
   */
  rows(from: number, to: number, records: RecordBuilder, skip?: (row: number) => boolean): boolean {
    const { decision, plan, keys, keyPrefixes, keyNormalizers, scored } = this.#parts;
    const fixed = this.#bytes;
    const groupCount = plan.firstFeature.length;
    const pieces = this.#pieces;
    for (let row = from; row < to; row++) {
      if (skip?.(row) === true) continue;
      // The row's parts first (each checked), then written in one go into a record of their size:
      // its selections' values, then their statuses, then its views' event times.
      pieces.length = 2 * groupCount + plan.views.length;
      let text = `${row}"`;
      for (let k = 0; k < keys.length; k++) {
        const value = decision.key(row, keys[k]!);
        if (value === undefined || value === null) return false;
        const normal = keyNormalizers[k]!(value);
        if (normal instanceof ValueProblem) return false;
        text += keyPrefixes[k]! + (typeof normal === 'number' ? String(normal) : JSON.stringify(normal));
      }
      let bytes = fixed.idPrefix.length + fixed.shared.length + fixed.context.length + fixed.scoringHead.length + fixed.scoringTail.length + fixed.end.length + 3 * text.length + 16;
      for (let g = 0; g < groupCount; g++) {
        const at = decision.fragment(row, g);
        const values = this.#valuesOf(g, at);
        const statuses = values === null ? null : this.#statusesOf(g, at);
        if (values === null || statuses === null) return false;
        pieces[g] = values;
        pieces[groupCount + g] = statuses;
        bytes += values.length + statuses.length;
      }
      for (let v = 0; v < plan.views.length; v++) {
        let time = 'null';
        for (const g of plan.views[v]!.groups) {
          const own = this.#timeOf(decision.fragment(row, g));
          if (own === undefined) return false;
          if (own !== 'null') {
            time = own;
            break;
          }
        }
        const piece = this.#timePiece(v, time);
        pieces[2 * groupCount + v] = piece;
        bytes += piece.length;
      }
      let scoring = '';
      if (scored) {
        const own = this.#scoredRow(row);
        if (own === undefined) return false;
        scoring = own;
        bytes += own.length;
      }
      const at = records.open(bytes);
      const out = records.bytes;
      let end = copy(fixed.idPrefix, out, at);
      end += out.write(text, end, 'utf8');
      end = copy(fixed.shared, out, end);
      end += out.write(String(row), end, 'latin1');
      for (const piece of pieces) end = copy(piece, out, end);
      end = copy(fixed.context, out, end);
      end = copy(fixed.scoringHead, out, end);
      if (scored) {
        end += out.write(scoring, end, 'latin1');
        end = copy(fixed.scoringTail, out, end);
      }
      end = copy(fixed.end, out, end);
      records.close(at, end, nativeCrc32 === undefined ? undefined : nativeCrc32(out.subarray(at, end)));
    }
    return true;
  }

  /**
   * `,"f0":0.5,"f1":null,…` for a fragment of group `g`, as bytes, built once per fragment. Each value
   * is checked by its column's normalizer on the parsed array. A number's bytes are the fragment's own
   * (between top-level commas), so no number is formatted again: the same bytes as the general path's
   * JSON.stringify when the online store holds JSON.stringify's text (materialization writes it so),
   * else the same number once read (`1.0` for `1`). Other values are written as JSON.stringify writes them.
   */
  #valuesOf(g: number, at: number): Buffer | null {
    let piece = this.#values.get(at);
    if (piece !== undefined) return piece;
    const { decision, plan, featureNormalizers } = this.#parts;
    const source = decision.values(at);
    const prefixes = plan.valuePrefixBytes[g]!;
    const kinds = plan.numberKinds[g];
    if (kinds !== undefined) {
      // A selection of numbers only: checked and copied byte by byte, with no parse (else read below).
      // One byte per character is enough: outside its strings JSON text is ASCII, and numbersPiece
      // refuses a string at its opening quote, before any character it might hold.
      const bytes = Buffer.from(source, 'latin1');
      const out = Buffer.allocUnsafe(plan.prefixBytes[g]! + bytes.length + 2 * prefixes.length);
      const end = numbersPiece(bytes, prefixes, kinds, out);
      if (end >= 0) {
        piece = out.subarray(0, end);
        this.#values.set(at, piece);
        return piece;
      }
    }
    piece = null;
    const values = parsedFragment(source);
    if (Array.isArray(values) && values.length === prefixes.length) {
      const first = plan.firstFeature[g]!;
      const bytes = Buffer.from(source, 'utf8');
      const out = Buffer.allocUnsafe(plan.prefixBytes[g]! + bytes.length + 40 * prefixes.length);
      let end = 0;
      let start = 0;
      let i = 0;
      for (; i < prefixes.length; i++) {
        const close = i === prefixes.length - 1 ? bytes.length : topLevelComma(bytes, start);
        if (close < 0) break;
        end = copy(prefixes[i]!, out, end);
        const value: unknown = values[i];
        if (value === null) end += out.write('null', end, 'latin1');
        else {
          const normal = featureNormalizers[first + i]!(value);
          if (normal instanceof ValueProblem) break;
          // A rewritten value (an int64 given as digits) in its stored form; -0 as JSON.stringify writes it (0).
          if (typeof value === 'number' && normal === value && !Object.is(value, -0)) end = copyTrimmed(bytes, start, close, out, end);
          else end += out.write(JSON.stringify(normal), end, 'utf8');
        }
        start = close + 1;
      }
      if (i === prefixes.length) piece = out.subarray(0, end);
    }
    this.#values.set(at, piece);
    return piece;
  }

  /** `,"f0__status":"present",…`: the group's statuses are a few constant texts, so each is built once per target. */
  #statusesOf(g: number, at: number): Buffer | null {
    const source = this.#parts.decision.statuses(at);
    const pieces = this.#statusPieces[g]!;
    let piece = pieces.get(source);
    if (piece !== undefined) return piece;
    piece = null;
    const statuses = parsedFragment(source);
    const prefixes = this.#parts.plan.statusPrefixes[g]!;
    if (Array.isArray(statuses) && statuses.length === prefixes.length && statuses.every((s) => s === 'present' || s === 'missing' || s === 'expired')) {
      piece = Buffer.from(prefixes.map((prefix, i) => prefix + JSON.stringify(statuses[i])).join(''));
    }
    // Bounded: a record lacking some features gives its own mix, still one of few per selection.
    if (pieces.size < 64) pieces.set(source, piece);
    return piece;
  }

  #timePiece(view: number, time: string): Buffer {
    const pieces = this.#timePieces[view]!;
    let piece = pieces.get(time);
    if (piece === undefined) pieces.set(time, (piece = Buffer.from(this.#parts.plan.views[view]!.prefix + time)));
    return piece;
  }

  /** The fragment's first event time that is not null, normalized, as JSON text (`null` when none); undefined when refused. */
  #timeOf(at: number): string | undefined {
    if (this.#times.has(at)) return this.#times.get(at);
    const source = this.#parts.decision.eventTimes(at);
    // Records of one instant share one text (served-fragments.ts): read once.
    if (this.#timesByText.has(source)) {
      const known = this.#timesByText.get(source);
      this.#times.set(at, known);
      return known;
    }
    let text: string | undefined;
    const times = parsedFragment(source);
    if (Array.isArray(times)) {
      const first: unknown = times.find((time) => time !== null);
      if (first === undefined) text = 'null';
      else {
        const normal = this.#parts.timestampOf(first);
        if (!(normal instanceof ValueProblem)) text = JSON.stringify(normal);
      }
    }
    this.#times.set(at, text);
    this.#timesByText.set(source, text);
    return text;
  }

  /** A row's score, rank, position and propensity columns; undefined when one is not of its type. */
  #scoredRow(row: number): string | undefined {
    const scored = this.#parts.decision.scoring!.rows[row];
    if (scored === undefined) return undefined;
    const c = SCORING_COLUMNS;
    const score = numberText(scored.score, NORMALIZERS.float64);
    const rank = numberText(scored.rank, NORMALIZERS.int32);
    const position = numberText(scored.position, NORMALIZERS.int32);
    const propensity = numberText(scored.propensity, NORMALIZERS.float64);
    if (score === undefined || rank === undefined || position === undefined || propensity === undefined) return undefined;
    return `,"${c.score}":${score},"${c.rank}":${rank},"${c.position}":${position},"${c.propensity}":${propensity}`;
  }
}

/** The parts every row of a decision has, as bytes. */
interface FixedBytes {
  readonly idPrefix: Buffer;
  readonly shared: Buffer;
  readonly context: Buffer;
  readonly scoringHead: Buffer;
  readonly scoringTail: Buffer;
  readonly end: Buffer;
}

/**
 * zlib's CRC-32 (Node 20.15 and later; the same value as the segment log's crc32.ts): a decision row is
 * ~2.5 KB, where it is about twice as fast as the JavaScript one (whose edge is short records).
 */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

/** Copies `source` whole into `target` at `at`; the offset after it. */
function copy(source: Buffer, target: Buffer, at: number): number {
  if (source.length < 16) {
    for (let i = 0; i < source.length; i++) target[at + i] = source[i]!;
    return at + source.length;
  }
  return at + source.copy(target, at);
}

/** Copies `source[start, end)` without the white space JSON allows around a value; the offset after it. */
function copyTrimmed(source: Buffer, start: number, end: number, target: Buffer, at: number): number {
  while (start < end && isJsonSpace(source[start]!)) start++;
  while (end > start && isJsonSpace(source[end - 1]!)) end--;
  for (let i = start; i < end; i++) target[at++] = source[i]!;
  return at;
}

/** The index of the first comma at or after `from` that is not inside a string, or -1 (UTF-8: no byte of a longer character is ASCII). */
function topLevelComma(bytes: Buffer, from: number): number {
  let inString = false;
  for (let i = from; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c /* backslash */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x2c /* , */) return i;
    else if (c === 0x22) inString = true;
  }
  return -1;
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function numberText(value: number | null | undefined, normalize: Normalizer): string | undefined {
  if (value === null || value === undefined) return 'null';
  const normal = normalize(value);
  return normal instanceof ValueProblem ? undefined : String(normal);
}

function wellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** A fragment (`v1,v2,…`) parsed as the array it is a piece of, or undefined when it is not JSON. */
function parsedFragment(source: string): unknown {
  try {
    return JSON.parse(`[${source}]`) as unknown;
  } catch {
    return undefined;
  }
}
