import { identifierProblem } from '../../core/identifiers.ts';
import { describeKey, encodeOnlineKey, keyPartProblem } from './online-key.ts';
import { InvalidOnlineRecordError } from './online-store-errors.ts';
import { layoutOf, type OnlineLayout } from './online-layouts.ts';
import type {
  EncodedOnlineBatch,
  EncodedOnlineRecord,
  OnlineFeatureValue,
  OnlineKeyPart,
  OnlineKeyRequest,
  OnlineReadRequest,
  OnlineRecord,
  OnlineValue,
} from './online-store.ts';
import { isExpired, isoFromMicros, microsFromDate, microsFromIso } from './online-time.ts';

/**
 * What every engine shares: checking records and requests before touching the store, and turning a
 * stored record into a read result (status, ttl, feature subset). Engines only store and fetch.
 */

/** Feature names starting with this are the store's own (`__event_time`, `__written_at` in Redis hashes). */
export const RESERVED_FEATURE_PREFIX = '__';

/** A record checked and encoded for storage: its values as one JSON array following its layout. */
export interface PreparedRecord {
  readonly view: string;
  readonly encodedKey: string;
  readonly eventMicros: number;
  readonly layout: OnlineLayout;
  /** A JSON array text, one value per feature of the layout. */
  readonly values: string;
  /** When the record expires, in whole milliseconds since the epoch (its event time plus the ttl); absent without a ttl. */
  readonly expireAtMillis?: number;
}

/** A key to fetch, checked and encoded. */
export interface PreparedKey {
  readonly view: string;
  readonly encodedKey: string;
}

/** A read request checked and encoded. */
export interface PreparedRequest {
  readonly request: OnlineReadRequest;
  readonly encodedKey: string;
}


/** Checks every record (throwing InvalidOnlineRecordError for the first bad one) and encodes keys and times. */
export function prepareRecords(records: readonly OnlineRecord[]): PreparedRecord[] {
  if (!Array.isArray(records)) throw new InvalidOnlineRecordError('write() takes an array of records', { field: 'records' });
  return records.map((record) => {
    if (typeof record !== 'object' || record === null) throw new InvalidOnlineRecordError('a record must be an object', { field: 'records' });
    const { view, key } = checkViewAndKey(record.view, record.key);
    // A checked key's encoding is how messages name it, too.
    const encodedKey = encodeOnlineKey(key);
    const at = { view, key: encodedKey };
    const eventMicros = typeof record.eventTime === 'string' ? microsFromIso(record.eventTime) : undefined;
    if (eventMicros === undefined) {
      throw new InvalidOnlineRecordError(
        `expected an ISO-8601 instant with a zone such as "2024-05-01T12:00:00Z", got ${JSON.stringify(record.eventTime)}`,
        { ...at, field: 'eventTime' },
      );
    }
    const values = record.values;
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new InvalidOnlineRecordError('expected an object of feature name → value', { ...at, field: 'values' });
    }
    const names = Object.keys(values);
    let encoded = '[';
    for (const [i, name] of names.entries()) {
      checkFeatureName(name, at);
      const value = values[name];
      const problem = valueProblem(value);
      if (problem) throw new InvalidOnlineRecordError(problem, { ...at, field: `values.${name}` });
      encoded += (i === 0 ? '' : ',') + JSON.stringify(value);
    }
    const ttlSeconds = checkTtl(record.ttlSeconds, { ...at, field: 'ttlSeconds' });
    return { view, encodedKey, eventMicros, layout: layoutOf(names), values: `${encoded}]`, ...expiry(eventMicros, ttlSeconds) };
  });
}

/**
 * Checks an encoded batch: the view, the feature names, every key and event time, and that every
 * `values` is bracketed as a JSON array. The array's content is trusted (the offline engine wrote it).
 */
export function prepareEncodedBatch(batch: EncodedOnlineBatch): PreparedRecord[] {
  if (typeof batch !== 'object' || batch === null) throw new InvalidOnlineRecordError('writeEncoded() takes { view, features, rows }', { field: 'batch' });
  const view = checkView(batch.view);
  if (!Array.isArray(batch.features)) throw new InvalidOnlineRecordError('expected an array of feature names', { view, field: 'features' });
  for (const name of batch.features) checkFeatureName(name, { view, key: '(every row)' });
  if (!Array.isArray(batch.rows)) throw new InvalidOnlineRecordError('expected an array of rows', { view, field: 'rows' });
  const layout = layoutOf(batch.features);
  const ttlSeconds = checkTtl(batch.ttlSeconds, { view, key: '(every row)', field: 'ttlSeconds' });
  const rows = batch.rows;
  const prepared = new Array<PreparedRecord>(rows.length);
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index]!;
    const key = checkKey(view, row?.key);
    const encodedKey = encodeOnlineKey(key);
    if (!Number.isSafeInteger(row.eventMicros)) {
      throw new InvalidOnlineRecordError(`expected whole microseconds since the epoch, got ${String(row.eventMicros)}`, { view, key: encodedKey, field: `rows[${index}].eventMicros` });
    }
    const values = row.values;
    if (typeof values !== 'string' || values.charCodeAt(0) !== 91 /* [ */ || values.charCodeAt(values.length - 1) !== 93 /* ] */) {
      throw new InvalidOnlineRecordError(`expected a JSON array text, got ${JSON.stringify(values)?.slice(0, 80)}`, { view, key: encodedKey, field: `rows[${index}].values` });
    }
    prepared[index] = ttlSeconds === null ? { view, encodedKey, eventMicros: row.eventMicros, layout, values } : { view, encodedKey, eventMicros: row.eventMicros, layout, values, ...expiry(row.eventMicros, ttlSeconds) };
  }
  return prepared;
}

/** A ttl as records carry it: absent or null (never expires), else a non-negative finite number of seconds. */
function checkTtl(ttlSeconds: unknown, at: { view: string; key: string; field: string }): number | null {
  if (ttlSeconds === undefined || ttlSeconds === null) return null;
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds < 0) {
    throw new InvalidOnlineRecordError(`expected a ttl in seconds (a number, 0 or more) or null, got ${JSON.stringify(ttlSeconds)}`, at);
  }
  return ttlSeconds;
}

/**
 * When a record of event time `eventMicros` expires: `eventTime + ttl`, the last instant it is
 * served, in whole milliseconds (Redis keeps a key through its expiry millisecond, so the key outlives
 * the value by less than a millisecond, never the other way round).
 */
function expiry(eventMicros: number, ttlSeconds: number | null): { expireAtMillis?: number } {
  if (ttlSeconds === null) return {};
  return { expireAtMillis: Math.floor((eventMicros + Math.round(ttlSeconds * 1_000_000)) / 1000) };
}

/** The expired-before instant of a sweep: records whose event time is before it (in µs) are expired at `now`. */
export function expiredBeforeMicros(view: string, ttlSeconds: number, now: Date): number {
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds < 0) {
    throw new InvalidOnlineRecordError(`expected a ttl in seconds (a number, 0 or more), got ${JSON.stringify(ttlSeconds)}`, { view, field: 'ttlSeconds' });
  }
  return nowMicros(now) - Math.round(ttlSeconds * 1_000_000);
}

/** A sweep's bound: a positive whole number of records. */
export function checkSweepLimit(view: string, limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidOnlineRecordError(`expected a positive whole number of records, got ${JSON.stringify(limit)}`, { view, field: 'limit' });
  return limit;
}

/** Checks the keys of readEncoded and encodes them. */
export function prepareKeys(requests: readonly OnlineKeyRequest[]): PreparedKey[] {
  if (!Array.isArray(requests)) throw new InvalidOnlineRecordError('readEncoded() takes an array of { view, key }', { field: 'requests' });
  return requests.map((request) => {
    if (typeof request !== 'object' || request === null) throw new InvalidOnlineRecordError('a request must be an object', { field: 'requests' });
    const { view, key } = checkViewAndKey(request.view, request.key);
    return { view, encodedKey: encodeOnlineKey(key) };
  });
}

/** Checks every read request and encodes its key. */
export function prepareRequests(requests: readonly OnlineReadRequest[]): PreparedRequest[] {
  if (!Array.isArray(requests)) throw new InvalidOnlineRecordError('read() takes an array of requests', { field: 'requests' });
  return requests.map((request) => {
    if (typeof request !== 'object' || request === null) throw new InvalidOnlineRecordError('a request must be an object', { field: 'requests' });
    const { view, key } = checkViewAndKey(request.view, request.key);
    const encodedKey = encodeOnlineKey(key);
    const at = { view, key: encodedKey };
    const ttl = request.ttlSeconds;
    if (ttl !== null && !(typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl >= 0)) {
      throw new InvalidOnlineRecordError(`expected a whole number of seconds >= 0 or null, got ${String(ttl)}`, { ...at, field: 'ttlSeconds' });
    }
    if (request.features !== undefined) {
      if (!Array.isArray(request.features)) throw new InvalidOnlineRecordError('expected an array of feature names', { ...at, field: 'features' });
      for (const name of request.features) checkFeatureName(name, at);
    }
    return { request, encodedKey };
  });
}

/** `now` in microseconds; throws for an invalid Date. */
export function nowMicros(now: Date): number {
  const micros = now instanceof Date ? microsFromDate(now) : undefined;
  if (micros === undefined) throw new InvalidOnlineRecordError(`expected a valid Date, got ${String(now)}`, { field: 'now' });
  return micros;
}

/**
 * Turns what an engine found for each request (undefined: nothing stored) into the results, in
 * request order. Records written together share their times, so each time is printed once.
 */
export function toOnlineValues(prepared: readonly PreparedRequest[], found: readonly (EncodedOnlineRecord | undefined)[], now: number): OnlineValue[] {
  const printed = new Map<number, string>();
  const iso = (micros: number) => {
    let text = printed.get(micros);
    if (text === undefined) printed.set(micros, (text = isoFromMicros(micros)));
    return text;
  };
  return prepared.map((p, i) => toOnlineValue(p, found[i], now, iso));
}

function toOnlineValue(prepared: PreparedRequest, stored: EncodedOnlineRecord | undefined, now: number, iso: (micros: number) => string): OnlineValue {
  const { view, key, features, ttlSeconds } = prepared.request;
  if (stored === undefined) return { status: 'missing', view, key, values: {}, eventTime: null, writtenAt: null };
  const eventTime = iso(stored.eventMicros);
  const writtenAt = iso(stored.writtenMicros);
  if (isExpired(stored.eventMicros, now, ttlSeconds)) return { status: 'expired', view, key, values: {}, eventTime, writtenAt };
  const array = JSON.parse(stored.values) as OnlineFeatureValue[];
  const values: Record<string, OnlineFeatureValue> = {};
  if (features === undefined) {
    stored.features.forEach((name, i) => {
      values[name] = array[i] ?? null;
    });
  } else {
    for (const name of features) {
      const i = stored.features.indexOf(name);
      values[name] = i === -1 ? null : (array[i] ?? null);
    }
  }
  return { status: 'present', view, key, values, eventTime, writtenAt };
}

/** View names found valid, so each key of a batch does not check its view's name again. Bounded. */
const validViews = new Set<string>();

/** Checks a view name alone (deleteView). */
export function checkView(view: unknown): string {
  if (typeof view === 'string' && validViews.has(view)) return view;
  const problem = identifierProblem(view);
  if (problem) throw new InvalidOnlineRecordError(`the view name ${problem}`, { view: String(view), field: 'view' });
  if (validViews.size >= 10_000) validViews.clear();
  validViews.add(view as string);
  return view as string;
}

function checkViewAndKey(view: unknown, key: unknown): { view: string; key: readonly OnlineKeyPart[] } {
  const name = checkView(view);
  return { view: name, key: checkKey(name, key) };
}

/** A key's parts checked (a plain loop: this runs for every key of every read and write). */
function checkKey(view: string, key: unknown): readonly OnlineKeyPart[] {
  if (!Array.isArray(key) || key.length === 0) {
    throw new InvalidOnlineRecordError('expected a non-empty array of join key values, in entity order', { view, field: 'key' });
  }
  for (let i = 0; i < key.length; i++) {
    const part: unknown = key[i];
    // The common cases first, without a call.
    if (typeof part === 'string' || (typeof part === 'number' && Number.isSafeInteger(part))) continue;
    const problem = keyPartProblem(part);
    if (problem) throw new InvalidOnlineRecordError(problem, { view, key: describeKey(key), field: `key[${i}]` });
  }
  return key as OnlineKeyPart[];
}

function checkFeatureName(name: unknown, at: { view: string; key: string }): void {
  const problem = identifierProblem(name);
  if (problem) throw new InvalidOnlineRecordError(`the feature name ${problem}`, { ...at, field: String(name) });
  if ((name as string).startsWith(RESERVED_FEATURE_PREFIX)) {
    throw new InvalidOnlineRecordError(`feature names starting with "${RESERVED_FEATURE_PREFIX}" are reserved for the store`, { ...at, field: name as string });
  }
}

function valueProblem(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} cannot be stored; values must be finite numbers, strings, booleans or null`;
    case 'object':
      if (value === null) return undefined;
      return `${value instanceof Date ? 'a Date' : Array.isArray(value) ? 'an array' : 'an object'} cannot be stored; give timestamps as ISO strings, and values as numbers, strings, booleans or null`;
    default:
      return `${typeof value} cannot be stored; values must be numbers, strings, booleans or null (int64 beyond 2^53 as decimal strings)`;
  }
}
