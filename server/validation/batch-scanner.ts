import type { ValueType } from '../../core/types.ts';
import type { StreamSchema } from '../stream-schema.ts';
import { DEFAULT_MAX_STRING_LENGTH } from '../../core/definitions/event-limits.ts';
import { EVENT_ID, MAX_EVENT_ID_LENGTH, RECEIVED_AT, stringLengthLimits } from './event-validator.ts';
import { isCalendarDate } from './value-normalizers.ts';

/**
 * Where the events of a JSON array body sit, found by `BatchScanner.scan` in one pass over its bytes.
 * Offsets are byte offsets in the body. Valid until the scanner's next `scan`: the arrays are reused.
 */
export interface ScannedBatch {
  readonly count: number;
  /** Offset of each event's `{`. */
  readonly starts: Int32Array;
  /** Offset of each event's closing `}`. */
  readonly closes: Int32Array;
  /**
   * The bytes of each event's id between its quotes (`_event_id`, or the stream's `eventIdField`),
   * plain text that needs no escaping; both -1 when the event has none (the server assigns one).
   */
  readonly idStarts: Int32Array;
  readonly idEnds: Int32Array;
  /** The ids are the stream's `eventIdField` values (else the clients' `_event_id`s, where sent). */
  readonly idFromField: boolean;
}

/** A value's kind as the scanner checks it: the stream's column types, and the client's `_event_id`. */
const KIND = { int32: 0, int64: 1, float32: 2, float64: 3, string: 4, bool: 5, timestamp: 6, date: 7, clientId: 8 } as const;
type Kind = (typeof KIND)[keyof typeof KIND];
const KIND_OF: Readonly<Record<ValueType, Kind>> = KIND;

interface ScanColumn {
  readonly name: Uint8Array;
  readonly kind: Kind;
  readonly required: boolean;
  /** This column's bit in the per-event mask of columns seen. */
  readonly bit: number;
  /** String columns: the longest value taken, in UTF-16 code units (a value of at most this many bytes is within it). */
  readonly maxLength: number;
  /** The stream's event time: checked against the latest event time the batch may carry. */
  readonly eventTime: boolean;
  /** Its values are the events' ids (the client's `_event_id`, or the stream's `eventIdField`). */
  readonly isId: boolean;
  /** `{"name":`, this column's key as an event's first. */
  readonly firstKey: KeyBytes;
  /** `,"name":`, this column's key after a value. */
  readonly nextKey: KeyBytes;
}

/**
 * A key as it is written when nothing separates it from what is around it, as 32-bit words to compare
 * with the body's: the words at offsets 0, 4, 8, ... then the last four bytes (overlapping the one
 * before when the length is not a multiple of four; every key is at least `{"":` long).
 */
class KeyBytes {
  readonly words: Int32Array;
  constructor(readonly bytes: Buffer) {
    const count = Math.ceil(bytes.length / 4);
    this.words = new Int32Array(count);
    for (let w = 0; w < count - 1; w++) this.words[w] = bytes.readInt32LE(4 * w);
    this.words[count - 1] = bytes.readInt32LE(bytes.length - 4);
  }

  /** The body (viewed by `words`) has these bytes at `at` (the caller checks `at + length` is within it). */
  at(words: DataView, at: number): boolean {
    const own = this.words;
    const last = own.length - 1;
    for (let w = 0; w < last; w++) if (words.getInt32(at + 4 * w, true) !== own[w]) return false;
    return words.getInt32(at + this.bytes.length - 4, true) === own[last];
  }
}

/** Options of a BatchScanner; the defaults are what the log API runs. */
export interface BatchScannerOptions {
  /** Events laid out as the one before are checked key by key as whole words (`layout`); off, every event takes the general scan (for tests that compare the two). */
  readonly matchLayout?: boolean;
}

// Local on purpose (event-spans.ts and batch-scanner.ts each keep theirs): imported from a shared
// module these became property loads in the hot loops, about 8% more CPU per event (bench/log-api.ts).
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
/** Returned by the value checks when the scanner leaves the batch to the general path. */
const BAIL = -1;
/** Returned by the scan of an event as laid out as the one before it, when it is not: the general scan decides. */
const NOT_AS_LAID_OUT = -2;

/**
 * The fast path of the log API for the common batch: a JSON array of events that are valid and
 * already in their stored form, which is then stored from the body's bytes as they came. One pass over
 * the bytes checks the JSON syntax and each value against the stream's schema, without building any
 * object or string, where the general path (`parseBatch` then `EventValidator`) decodes the body,
 * JSON.parses it, finds each event's text again, and checks the parsed values.
 *
 * It is conservative: `scan` answers undefined for any batch it does not take whole, and the caller
 * then runs the general path, which accepts exactly what it always did and names every problem. So a
 * batch the scanner takes must be one the general path would take and store alike: valid JSON, every
 * event an object of known fields, each key once, on one line, with each value valid and in its normal
 * form (int64 as a number of at most 15 digits, a timestamp as `YYYY-MM-DDTHH:MM:SS.sssZ`, ...), and
 * ids that need no escaping. Anything else (escapes in a timestamp, exponents, nulls where they are
 * not allowed, a problem of any kind) is left to the general path.
 */
export class BatchScanner {
  /** Columns by name length, then by name. */
  private readonly byLength: ScanColumn[][];
  private readonly requiredMask: number;
  /** The column whose values are the events' ids, when the stream has an `eventIdField`. */
  private readonly idColumn: ScanColumn | undefined;
  /** False when the schema has a shape the scanner does not handle; then `scan` always answers undefined. */
  private readonly usable: boolean;
  /** The columns of the latest event scanned, in the order of its keys. */
  private readonly order: (ScanColumn | undefined)[] = [];
  /**
   * The keys events are expected in: `layout[0, layoutLength)`, each column once, the required ones
   * all there; at first the columns in their declared order, then the keys of two events in a row
   * that the general scan took (see `learnLayout`). An event written as `{"k1":v1,"k2":v2,...}` with
   * these keys, nothing between them, is checked key by key as whole words (`scanAsLaidOut`); any
   * other goes through the general scan.
   */
  private readonly layout: ScanColumn[];
  private layoutLength: number;
  /** The keys of the latest event the general scan took, and how many events in a row it took with them (none taken as laid out between). */
  private readonly candidate: ScanColumn[] = [];
  private candidateLength = 0;
  private candidateRuns = 0;
  private readonly matchLayout: boolean;
  /**
   * The date (`YYYY-MM-DD`, as three overlapping words) of the latest canonical timestamp checked in
   * this scan, known to be a calendar date from year 0001; and how it compares with the latest event
   * time's date (-1 before, 0 the same day). Most events of a batch share their day: only its time is
   * checked then. Forgotten at each scan (the latest event time changes).
   */
  private dateKnown = false;
  private date0 = 0;
  private date1 = 0;
  private date2 = 0;
  private dateOrder = 0;
  private starts = new Int32Array(1024);
  private closes = new Int32Array(1024);
  private idStarts = new Int32Array(1024);
  private idEnds = new Int32Array(1024);
  /** The latest event time of the batch being scanned, `YYYY-MM-DDTHH:MM:SS.sssZ` as bytes. */
  private readonly latest: Buffer = Buffer.alloc(24);

  constructor(
    readonly schema: StreamSchema,
    options: BatchScannerOptions = {},
  ) {
    this.matchLayout = options.matchLayout ?? true;
    const columns = new Map<string, { kind: Kind; required: boolean }>();
    const add = (name: string, type: ValueType, required: boolean) => {
      if (!columns.has(name)) columns.set(name, { kind: KIND_OF[type], required });
    };
    // The same columns, types and required flags as EventValidator.
    for (const key of schema.keys) add(key.name, key.type, true);
    const timestamp = schema.fields.find((f) => f.name === schema.timestampField);
    add(schema.timestampField, timestamp?.type ?? 'timestamp', true);
    if (schema.eventIdField !== undefined) {
      const idField = schema.fields.find((f) => f.name === schema.eventIdField);
      add(schema.eventIdField, idField?.type ?? 'string', true);
    }
    for (const field of schema.fields) add(field.name, field.type, !field.nullable);
    const names = [...columns.keys()];
    const idKind = schema.eventIdField !== undefined ? columns.get(schema.eventIdField)!.kind : KIND.clientId;
    this.usable =
      names.length < 31 &&
      // Names written in JSON as they are (so a key's bytes equal to a name's are that name).
      names.every((name) => [...name].every((ch) => ch !== '"' && ch !== '\\' && ch >= ' ')) &&
      !names.includes(EVENT_ID) &&
      !names.includes(RECEIVED_AT) &&
      // Ids taken as written: strings, or whole numbers (whose text is what String(number) gives).
      (idKind === KIND.clientId || idKind === KIND.string || idKind === KIND.int64 || idKind === KIND.int32);
    const maxLengths = stringLengthLimits(schema);
    const column = (name: string, kind: Kind, required: boolean, bit: number, maxLength: number): ScanColumn => ({
      name: Buffer.from(name, 'utf8'), kind, required, bit, maxLength, eventTime: name === schema.timestampField,
      isId: kind === KIND.clientId || name === schema.eventIdField,
      firstKey: new KeyBytes(Buffer.from(`{"${name}":`, 'utf8')), nextKey: new KeyBytes(Buffer.from(`,"${name}":`, 'utf8')),
    });
    const scanColumns: ScanColumn[] = names.map((name, bit) => column(name, columns.get(name)!.kind, columns.get(name)!.required, bit, maxLengths.get(name) ?? DEFAULT_MAX_STRING_LENGTH));
    // The declared order: the layout events are first expected in (before any `_event_id`, which is optional).
    this.layout = [...scanColumns];
    this.layoutLength = scanColumns.length;
    // A client's `_event_id` is checked as a column too; on a stream with an `eventIdField` the general path stores it otherwise.
    if (schema.eventIdField === undefined) scanColumns.push(column(EVENT_ID, KIND.clientId, false, scanColumns.length, MAX_EVENT_ID_LENGTH));
    this.byLength = [];
    for (const column of scanColumns) (this.byLength[column.name.length] ??= []).push(column);
    for (let i = 0; i < this.byLength.length; i++) this.byLength[i] ??= [];
    this.requiredMask = scanColumns.filter((c) => c.required).reduce((mask, c) => mask | (1 << c.bit), 0);
    this.idColumn = schema.eventIdField !== undefined ? scanColumns.find((c) => c.name.toString() === schema.eventIdField) : undefined;
  }

  /**
   * The events of `body` (a JSON array, UTF-8 checked), when every one of them is valid and in its
   * stored form, none has an event time after `latestEventTime` (`YYYY-MM-DDTHH:MM:SS.sssZ`), and
   * there are at most `maxEvents`; otherwise undefined, for the general path to decide.
   */
  scan(body: Uint8Array, maxEvents: number, latestEventTime: string): ScannedBatch | undefined {
    if (!this.usable) return undefined;
    this.latest.write(latestEventTime, 0, 24, 'latin1');
    this.dateKnown = false;
    const words = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const end = body.length;
    let i = skipSpace(body, 0, end);
    if (i >= end || body[i] !== OPEN_BRACKET) return undefined;
    i = skipSpace(body, i + 1, end);
    let count = 0;
    if (i < end && body[i] === CLOSE_BRACKET) {
      i++;
    } else {
      for (;;) {
        if (count === maxEvents) return undefined;
        if (count === this.starts.length) this.grow();
        let close = this.matchLayout ? this.scanAsLaidOut(body, words, i, end, count) : NOT_AS_LAID_OUT;
        if (close === NOT_AS_LAID_OUT) close = this.scanEvent(body, words, i, end, count);
        else this.candidateRuns = 0;
        if (close === BAIL) return undefined;
        this.starts[count] = i;
        this.closes[count] = close;
        count++;
        i = skipSpace(body, close + 1, end);
        if (i >= end) return undefined;
        const c = body[i];
        if (c === CLOSE_BRACKET) {
          i++;
          break;
        }
        if (c !== COMMA) return undefined;
        i = skipSpace(body, i + 1, end);
      }
    }
    if (skipSpace(body, i, end) !== end) return undefined;
    return { count, starts: this.starts, closes: this.closes, idStarts: this.idStarts, idEnds: this.idEnds, idFromField: this.idColumn !== undefined };
  }

  /**
   * The common case of `scanEvent`: the event at `i` written as `{"k1":v1,"k2":v2,...}` with the keys
   * of `layout`, in its order, nothing between keys and values. Its keys are compared as whole words,
   * with no search and no check for a key seen twice (the layout has each column once, the required
   * ones all there); each value is checked as the general scan checks it. Returns the offset of its
   * closing brace, or NOT_AS_LAID_OUT for anything else (another layout, whitespace, an invalid value,
   * the body's end): the general scan then decides, so this takes only events the general scan takes,
   * with the same result.
   */
  private scanAsLaidOut(body: Uint8Array, words: DataView, i: number, end: number, n: number): number {
    const layout = this.layout;
    const length = this.layoutLength;
    this.idStarts[n] = -1;
    this.idEnds[n] = -1;
    for (let k = 0; k < length; k++) {
      const column = layout[k]!;
      const key = k === 0 ? column.firstKey : column.nextKey;
      const valueStart = i + key.bytes.length;
      if (valueStart >= end || !key.at(words, i)) return NOT_AS_LAID_OUT;
      i = this.scanValue(body, words, valueStart, end, column);
      if (i === BAIL) return NOT_AS_LAID_OUT;
      if (column.isId) {
        const quoted = body[valueStart] === QUOTE ? 1 : 0;
        this.idStarts[n] = valueStart + quoted;
        this.idEnds[n] = i - quoted;
      }
    }
    return i < end && body[i] === CLOSE_BRACE ? i : NOT_AS_LAID_OUT;
  }

  /** Checks the event object at `i`; returns the offset of its closing brace, or BAIL. */
  private scanEvent(body: Uint8Array, words: DataView, i: number, end: number, n: number): number {
    if (i >= end || body[i] !== OPEN_BRACE) return BAIL;
    let seen = 0;
    this.idStarts[n] = -1;
    this.idEnds[n] = -1;
    i = skipInlineSpace(body, i + 1, end);
    if (i >= end || body[i] !== QUOTE) return BAIL; // `{}` is never valid: the timestamp is required
    let k = 0;
    for (; ; k++) {
      // A key: plain text (an escaped key could spell a column's name otherwise). Events of a batch
      // mostly list their keys in the same order: the key the previous event had here is tried first.
      const keyStart = i + 1;
      let column = this.order[k];
      let keyEnd = column === undefined ? -1 : keyStart + column.name.length;
      if (column === undefined || !startsWith(body, keyStart, column.name) || keyEnd >= end || body[keyEnd] !== QUOTE) {
        keyEnd = keyStart;
        while (keyEnd < end) {
          const c = body[keyEnd]!;
          if (c === QUOTE) break;
          if (c === BACKSLASH || c < SPACE) return BAIL;
          keyEnd++;
        }
        if (keyEnd >= end) return BAIL;
        column = this.columnAt(body, keyStart, keyEnd);
        if (column === undefined) return BAIL;
        this.order[k] = column;
      }
      const bit = 1 << column.bit;
      if ((seen & bit) !== 0) return BAIL;
      seen |= bit;
      i = skipInlineSpace(body, keyEnd + 1, end);
      if (i >= end || body[i] !== COLON) return BAIL;
      i = skipInlineSpace(body, i + 1, end);
      if (i >= end) return BAIL;
      const valueEnd = this.scanValue(body, words, i, end, column);
      if (valueEnd === BAIL) return BAIL;
      if (column.isId) {
        // Strings: the text between the quotes; numbers: their digits.
        const quoted = body[i] === QUOTE ? 1 : 0;
        this.idStarts[n] = i + quoted;
        this.idEnds[n] = valueEnd - quoted;
      }
      i = skipInlineSpace(body, valueEnd, end);
      if (i >= end) return BAIL;
      const c = body[i];
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) return BAIL;
      i = skipInlineSpace(body, i + 1, end);
      if (i >= end || body[i] !== QUOTE) return BAIL;
    }
    if ((seen & this.requiredMask) !== this.requiredMask) return BAIL;
    this.learnLayout(k + 1);
    return i;
  }

  /**
   * After the general scan took an event (its keys `order[0, keys)`): when the event before was taken
   * by the general scan too, with the same keys, the next events are expected laid out so. Not after
   * one event: in a batch whose events alternate between two layouts (an optional field sent or left
   * out), following each event made every event miss the layout and be scanned twice (about 25% more
   * than the general scan alone); so the layout stays, and half of them are taken as laid out.
   */
  private learnLayout(keys: number): void {
    const order = this.order;
    const candidate = this.candidate;
    let same = this.candidateRuns > 0 && keys === this.candidateLength;
    for (let k = 0; k < keys && same; k++) same = candidate[k] === order[k];
    if (!same) {
      for (let k = 0; k < keys; k++) candidate[k] = order[k]!;
      this.candidateLength = keys;
      this.candidateRuns = 0;
    }
    if (++this.candidateRuns < 2) return;
    for (let k = 0; k < keys; k++) this.layout[k] = candidate[k]!;
    this.layoutLength = keys;
    this.candidateRuns = 0;
  }

  private columnAt(body: Uint8Array, start: number, end: number): ScanColumn | undefined {
    const candidates = this.byLength[end - start];
    if (candidates === undefined) return undefined;
    for (const column of candidates) if (startsWith(body, start, column.name)) return column;
    return undefined;
  }

  /** Checks the value at `i` for `column`; returns the offset just after it, or BAIL. */
  private scanValue(body: Uint8Array, words: DataView, i: number, end: number, column: ScanColumn): number {
    const c = body[i]!;
    if (c === 0x6e /* n */) {
      if (column.required || column.kind === KIND.clientId) return BAIL;
      return i + 4 <= end && words.getInt32(i, true) === NULL_WORD ? i + 4 : BAIL;
    }
    switch (column.kind) {
      case KIND.int32:
        return integerEnd(body, i, end, 9, column.isId);
      case KIND.int64:
        return integerEnd(body, i, end, 15, column.isId);
      case KIND.float32:
        return numberEnd(body, i, end, 38);
      case KIND.float64:
        return numberEnd(body, i, end, 300);
      case KIND.bool:
        if (i + 4 > end) return BAIL;
        if (words.getInt32(i, true) === TRUE_WORD) return i + 4;
        return i + 5 <= end && words.getInt32(i, true) === FALS_WORD && body[i + 4] === 0x65 /* e */ ? i + 5 : BAIL;
      case KIND.string: {
        if (c !== QUOTE) return BAIL;
        const close = stringEnd(body, i, end, column.isId);
        // At most as many bytes as the limit in characters is within it (a character is at least one byte); more is counted by the general path.
        return close !== BAIL && close - i - 2 > column.maxLength ? BAIL : close;
      }
      case KIND.clientId: {
        if (c !== QUOTE) return BAIL;
        const close = stringEnd(body, i, end, true);
        // Non-empty and at most MAX_EVENT_ID_LENGTH characters: a byte count within that is fine (never fewer bytes than characters); longer is decoded to count.
        if (close === BAIL || close - i === 2 || (close - i - 2 > MAX_EVENT_ID_LENGTH && Buffer.from(body.buffer, body.byteOffset + i + 1, close - i - 2).toString('utf8').length > MAX_EVENT_ID_LENGTH)) return BAIL;
        return close;
      }
      case KIND.timestamp: {
        if (c !== QUOTE) return BAIL;
        return this.timestampEnd(body, words, i, end, column.eventTime);
      }
      case KIND.date: {
        if (c !== QUOTE) return BAIL;
        const close = dateEnd(body, i, end);
        // A date as the event time is its midnight: later than the latest instant when its day is.
        return close !== BAIL && column.eventTime && isAfter(body, i + 1, this.latest, 10) ? BAIL : close;
      }
    }
  }

  /**
   * `canonicalTimestampEnd`, and for the event time no later than the latest one (canonical timestamps
   * compare as text: a later one is refused by the general path); a date seen just before in this scan
   * is not checked again, nor compared with the latest one's.
   */
  private timestampEnd(body: Uint8Array, words: DataView, open: number, end: number, eventTime: boolean): number {
    const s = open + 1;
    if (s + 25 > end) return BAIL;
    const w0 = words.getInt32(s, true);
    const w1 = words.getInt32(s + 4, true);
    const w2 = words.getInt32(s + 6, true);
    if (!this.dateKnown || w0 !== this.date0 || w1 !== this.date1 || w2 !== this.date2) {
      const close = canonicalTimestampEnd(body, open, end);
      if (close === BAIL) return BAIL;
      const order = compareBytes(body, s, this.latest, 0, 10);
      if (eventTime && (order > 0 || (order === 0 && compareBytes(body, s + 10, this.latest, 10, 14) > 0))) return BAIL;
      if (order > 0) return close; // not remembered: only an event time's order matters, and a later one is refused
      this.dateKnown = true;
      this.date0 = w0;
      this.date1 = w1;
      this.date2 = w2;
      this.dateOrder = order;
      return close;
    }
    // The same day as the timestamp before: `THH:MM:SS.sssZ"` left to check.
    if (body[s + 10] !== 0x54 /* T */ || body[s + 13] !== COLON || body[s + 16] !== COLON || body[s + 19] !== DOT || body[s + 23] !== 0x5a /* Z */ || body[s + 24] !== QUOTE) return BAIL;
    const hour = digitsAt(body, s + 11, 2);
    const minute = digitsAt(body, s + 14, 2);
    const second = digitsAt(body, s + 17, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || digitsAt(body, s + 20, 3) < 0) return BAIL;
    if (eventTime && this.dateOrder === 0 && compareBytes(body, s + 10, this.latest, 10, 14) > 0) return BAIL;
    return s + 25;
  }

  private grow(): void {
    const size = this.starts.length * 2;
    const grown = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.starts = grown(this.starts);
    this.closes = grown(this.closes);
    this.idStarts = grown(this.idStarts);
    this.idEnds = grown(this.idEnds);
  }
}

/** `body[at, at + length)` sorts after `bound[0, length)` (byte by byte: text of equal form). */
function isAfter(body: Uint8Array, at: number, bound: Uint8Array, length: number): boolean {
  for (let k = 0; k < length; k++) {
    const d = body[at + k]! - bound[k]!;
    if (d !== 0) return d > 0;
  }
  return false;
}

/** The order of `a[at, at + length)` and `b[bt, bt + length)`, byte by byte: -1, 0 or 1. */
function compareBytes(a: Uint8Array, at: number, b: Uint8Array, bt: number, length: number): number {
  for (let k = 0; k < length; k++) {
    const d = a[at + k]! - b[bt + k]!;
    if (d !== 0) return d > 0 ? 1 : -1;
  }
  return 0;
}

/** `body` has the bytes of `name` at `at` (the caller checks `at + name.length` is within the body). */
function startsWith(body: Uint8Array, at: number, name: Uint8Array): boolean {
  for (let k = 0; k < name.length; k++) if (body[at + k] !== name[k]) return false;
  return true;
}

/** `null`, `true` and the first four bytes of `false`, each read as one little-endian word. */
const NULL_WORD = Buffer.from('null').readInt32LE(0);
const TRUE_WORD = Buffer.from('true').readInt32LE(0);
const FALS_WORD = Buffer.from('fals').readInt32LE(0);

/** JSON whitespace, newlines included: between the array's elements. */
function skipSpace(body: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = body[i];
    if (c !== SPACE && c !== NEWLINE && c !== RETURN && c !== TAB) break;
    i++;
  }
  return i;
}

/** Whitespace inside an event: spaces and tabs (an event's text spanning lines is left to the general path). */
function skipInlineSpace(body: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = body[i];
    if (c !== SPACE && c !== TAB) break;
    i++;
  }
  return i;
}

/**
 * A JSON integer of at most `maxDigits` digits (so within the type's range and exact), without a
 * fraction or an exponent (JSON.parse reads `1.0` as 1, which is stored as written: left to the
 * general path). An id's text must be what String(number) gives: no `-0`.
 */
function integerEnd(body: Uint8Array, i: number, end: number, maxDigits: number, isId: boolean): number {
  const start = i;
  if (body[i] === MINUS) i++;
  const first = i;
  if (i >= end) return BAIL;
  if (body[i] === ZERO) {
    i++;
    if (isId && first !== start) return BAIL;
  } else {
    while (i < end && body[i]! >= ZERO && body[i]! <= NINE) i++;
  }
  const digits = i - first;
  if (digits === 0 || digits > maxDigits) return BAIL;
  if (i < end && ((body[i]! >= ZERO && body[i]! <= NINE) || body[i] === DOT || body[i] === LOWER_E || body[i] === UPPER_E)) return BAIL;
  return i;
}

/**
 * A JSON number whose integer part has at most `maxIntegerDigits` digits, with a fraction and an
 * exponent of at most two digits that, added to the integer's digits, is at most 308 (so it is finite,
 * and within float32's range when the limit is 38 and there is no exponent).
 */
function numberEnd(body: Uint8Array, i: number, end: number, maxIntegerDigits: number): number {
  if (body[i] === MINUS) i++;
  const first = i;
  if (i >= end) return BAIL;
  if (body[i] === ZERO) i++;
  else while (i < end && body[i]! >= ZERO && body[i]! <= NINE) i++;
  const digits = i - first;
  if (digits === 0 || digits > maxIntegerDigits) return BAIL;
  if (i < end && body[i]! >= ZERO && body[i]! <= NINE) return BAIL; // a leading zero
  if (i < end && body[i] === DOT) {
    i++;
    const fraction = i;
    while (i < end && body[i]! >= ZERO && body[i]! <= NINE) i++;
    if (i === fraction) return BAIL;
  }
  if (i < end && (body[i] === LOWER_E || body[i] === UPPER_E)) {
    if (maxIntegerDigits < 300) return BAIL; // float32: its range is checked by the general path
    i++;
    const negative = i < end && body[i] === MINUS;
    if (i < end && (body[i] === PLUS || body[i] === MINUS)) i++;
    const exponent = i;
    while (i < end && body[i]! >= ZERO && body[i]! <= NINE) i++;
    if (i === exponent || i - exponent > 2) return BAIL;
    // Below 10^(digits + exponent) <= 10^308 < 1.79e308: finite. Larger may overflow to Infinity (`9e308`): the general path decides.
    const e = i - exponent === 1 ? body[exponent]! - ZERO : (body[exponent]! - ZERO) * 10 + body[exponent + 1]! - ZERO;
    if (!negative && digits + e > 308) return BAIL;
  }
  return i;
}

/**
 * The offset after the JSON string opening at `open`. Escapes must be well formed; control characters
 * are not allowed (as in JSON). `plain`: the string must have no escape at all (its bytes are its value).
 */
function stringEnd(body: Uint8Array, open: number, end: number, plain: boolean): number {
  let i = open + 1;
  while (i < end) {
    const c = body[i]!;
    if (c === QUOTE) return i + 1;
    if (c < SPACE) return BAIL;
    if (c === BACKSLASH) {
      if (plain || i + 1 >= end) return BAIL;
      const e = body[i + 1]!;
      if (e === 0x75 /* u */) {
        if (i + 6 > end) return BAIL;
        for (let k = i + 2; k < i + 6; k++) if (!isHexDigit(body[k]!)) return BAIL;
        // \uD800-\uDFFF: half of a surrogate pair, or a lone one (refused); the general path tells them apart.
        const h = body[i + 3]!; // a hex digit: 8, 9 or a letter is 8 or more
        if ((body[i + 2]! | 0x20) === 0x64 /* d */ && (h === 0x38 || h === 0x39 || h >= 0x41)) return BAIL;
        i += 6;
        continue;
      }
      // " \ / b f n r t
      if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return BAIL;
      i += 2;
      continue;
    }
    i++;
  }
  return BAIL;
}

function isHexDigit(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** `"YYYY-MM-DDTHH:MM:SS.sssZ"`, a valid instant from year 0001: the one timestamp form stored as written. */
function canonicalTimestampEnd(body: Uint8Array, open: number, end: number): number {
  const s = open + 1;
  if (s + 25 > end || body[s + 24] !== QUOTE) return BAIL;
  if (body[s + 4] !== MINUS || body[s + 7] !== MINUS || body[s + 10] !== 0x54 /* T */ || body[s + 13] !== COLON || body[s + 16] !== COLON || body[s + 19] !== DOT || body[s + 23] !== 0x5a /* Z */) return BAIL;
  const year = digitsAt(body, s, 4);
  const month = digitsAt(body, s + 5, 2);
  const day = digitsAt(body, s + 8, 2);
  const hour = digitsAt(body, s + 11, 2);
  const minute = digitsAt(body, s + 14, 2);
  const second = digitsAt(body, s + 17, 2);
  if (digitsAt(body, s + 20, 3) < 0) return BAIL;
  if (year < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || !isCalendarDate(year, month, day)) return BAIL;
  return s + 25;
}

/** `"YYYY-MM-DD"`, a valid date from year 0001. */
function dateEnd(body: Uint8Array, open: number, end: number): number {
  const s = open + 1;
  if (s + 11 > end || body[s + 10] !== QUOTE || body[s + 4] !== MINUS || body[s + 7] !== MINUS) return BAIL;
  const year = digitsAt(body, s, 4);
  if (year < 1 || !isCalendarDate(year, digitsAt(body, s + 5, 2), digitsAt(body, s + 8, 2))) return BAIL;
  return s + 11;
}

/** The number written by `count` digits at `start`, or -1 if any is not a digit. */
function digitsAt(body: Uint8Array, start: number, count: number): number {
  let n = 0;
  for (let i = start; i < start + count; i++) {
    const d = body[i]! - ZERO;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
