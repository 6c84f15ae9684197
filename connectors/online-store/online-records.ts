import { identifierProblem } from '../../core/identifiers.ts';
import { describeKey, encodeOnlineKey, keyPartProblem } from './online-key.ts';
import { InvalidOnlineRecordError } from './online-store-errors.ts';
import type { OnlineFeatureValue, OnlineKeyPart, OnlineReadRequest, OnlineRecord, OnlineValue } from './online-store.ts';
import { isExpired, isoFromMicros, microsFromDate, microsFromIso } from './online-time.ts';

/**
 * What every engine shares: checking records and requests before touching the store, and turning a
 * stored record into a read result (status, ttl, feature subset). Engines only store and fetch.
 */

/** Feature names starting with this are the store's own (`__event_time`, `__written_at` in Redis hashes). */
export const RESERVED_FEATURE_PREFIX = '__';

/** A record checked and encoded for storage. */
export interface PreparedRecord {
  readonly view: string;
  readonly encodedKey: string;
  readonly eventMicros: number;
  readonly values: Readonly<Record<string, OnlineFeatureValue>>;
}

/** A read request checked and encoded. */
export interface PreparedRequest {
  readonly request: OnlineReadRequest;
  readonly encodedKey: string;
}

/** A record as an engine returns it: its values (all, or the requested ones), event and write times. */
export interface StoredRecord {
  readonly values: Readonly<Record<string, OnlineFeatureValue>>;
  readonly eventMicros: number;
  readonly writtenMicros: number;
}

/** Checks every record (throwing InvalidOnlineRecordError for the first bad one) and encodes keys and times. */
export function prepareRecords(records: readonly OnlineRecord[]): PreparedRecord[] {
  if (!Array.isArray(records)) throw new InvalidOnlineRecordError('write() takes an array of records', { field: 'records' });
  return records.map((record) => {
    if (typeof record !== 'object' || record === null) throw new InvalidOnlineRecordError('a record must be an object', { field: 'records' });
    const { view, key } = checkViewAndKey(record.view, record.key);
    const at = { view, key: describeKey(key) };
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
    for (const [name, value] of Object.entries(values)) {
      checkFeatureName(name, at);
      const problem = valueProblem(value);
      if (problem) throw new InvalidOnlineRecordError(problem, { ...at, field: `values.${name}` });
    }
    return { view, encodedKey: encodeOnlineKey(key), eventMicros, values };
  });
}

/** Checks every read request and encodes its key. */
export function prepareRequests(requests: readonly OnlineReadRequest[]): PreparedRequest[] {
  if (!Array.isArray(requests)) throw new InvalidOnlineRecordError('read() takes an array of requests', { field: 'requests' });
  return requests.map((request) => {
    if (typeof request !== 'object' || request === null) throw new InvalidOnlineRecordError('a request must be an object', { field: 'requests' });
    const { view, key } = checkViewAndKey(request.view, request.key);
    const at = { view, key: describeKey(key) };
    const ttl = request.ttlSeconds;
    if (ttl !== null && !(typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl >= 0)) {
      throw new InvalidOnlineRecordError(`expected a whole number of seconds >= 0 or null, got ${String(ttl)}`, { ...at, field: 'ttlSeconds' });
    }
    if (request.features !== undefined) {
      if (!Array.isArray(request.features)) throw new InvalidOnlineRecordError('expected an array of feature names', { ...at, field: 'features' });
      for (const name of request.features) checkFeatureName(name, at);
    }
    return { request, encodedKey: encodeOnlineKey(key) };
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
export function toOnlineValues(prepared: readonly PreparedRequest[], found: readonly (StoredRecord | undefined)[], now: number): OnlineValue[] {
  const printed = new Map<number, string>();
  const iso = (micros: number) => {
    let text = printed.get(micros);
    if (text === undefined) printed.set(micros, (text = isoFromMicros(micros)));
    return text;
  };
  return prepared.map((p, i) => toOnlineValue(p, found[i], now, iso));
}

function toOnlineValue(prepared: PreparedRequest, stored: StoredRecord | undefined, now: number, iso: (micros: number) => string): OnlineValue {
  const { view, key, features, ttlSeconds } = prepared.request;
  if (stored === undefined) return { status: 'missing', view, key, values: {}, eventTime: null, writtenAt: null };
  const eventTime = iso(stored.eventMicros);
  const writtenAt = iso(stored.writtenMicros);
  if (isExpired(stored.eventMicros, now, ttlSeconds)) return { status: 'expired', view, key, values: {}, eventTime, writtenAt };
  let values = stored.values;
  if (features !== undefined) {
    const picked: Record<string, OnlineFeatureValue> = {};
    for (const name of features) picked[name] = Object.hasOwn(stored.values, name) ? stored.values[name]! : null;
    values = picked;
  }
  return { status: 'present', view, key, values, eventTime, writtenAt };
}

/** Checks a view name alone (deleteView). */
export function checkView(view: unknown): string {
  const problem = identifierProblem(view);
  if (problem) throw new InvalidOnlineRecordError(`the view name ${problem}`, { view: String(view), field: 'view' });
  return view as string;
}

function checkViewAndKey(view: unknown, key: unknown): { view: string; key: readonly OnlineKeyPart[] } {
  const name = checkView(view);
  if (!Array.isArray(key) || key.length === 0) {
    throw new InvalidOnlineRecordError('expected a non-empty array of join key values, in entity order', { view: name, field: 'key' });
  }
  for (const [i, part] of key.entries()) {
    const problem = keyPartProblem(part);
    if (problem) throw new InvalidOnlineRecordError(problem, { view: name, key: describeKey(key), field: `key[${i}]` });
  }
  return { view: name, key: key as OnlineKeyPart[] };
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
