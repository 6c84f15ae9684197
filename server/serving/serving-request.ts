import type { OnlineKeyPart } from '../../connectors/online-store/online-store.ts';
import type { ValueType } from '../../core/types.ts';
import { ApiError } from '../api-errors.ts';
import { describeValue, NORMALIZERS, ValueProblem } from '../validation/value-normalizers.ts';
import type { ServingTarget } from './resolve-service.ts';
import type { ServedKeyValue } from './served-decision.ts';

/**
 * The body of `POST /v1/features` (docs/serving.md), checked by hand rather than by a schema so that
 * a valid request of 10,000 rows costs one pass over its keys:
 *
 *     { "service": "fraud_model", "entities": [{ "user_id": 1 }, { "user_id": 2 }] }
 *     { "service": "recs", "context": { "user_id": 1 }, "candidates": [{ "item_id": 7 }, { "item_id": 9 }] }
 *     { "features": ["user_stats:txn_count_7d"], "entities": [{ "user_id": 1 }] }
 *
 * Rows must hold exactly the join keys of the target's views: a missing key, a key of the wrong type
 * and a field that is not one of them are refused (a misspelt key is never silently ignored).
 */

/** The join key values of a request's rows, by key (the target's `keys` order). */
export interface EntityRows {
  readonly count: number;
  /** Per key: every row's value, or undefined when the key comes from the context. */
  readonly columns: readonly (OnlineKeyPart[] | undefined)[];
  /** Per key: the context's value, shared by every row, or undefined. */
  readonly shared: readonly (OnlineKeyPart | undefined)[];
  /** The context as checked (int64 beyond 2^53 as digits), for the decision log; undefined for `entities`. */
  readonly context: Record<string, ServedKeyValue> | undefined;
}

/** One problem with one row (or the context), as listed in a `400 invalid_entities`. */
export interface EntityIssue {
  /** The row of `entities` or `candidates`; absent for a problem of the context. */
  readonly index?: number;
  /** The field at fault (`user_id`, `context.user_id`). */
  readonly field?: string;
  readonly message: string;
}

export interface ServingLimits {
  /** Most entity rows (entities, or candidates) in one request. Default 10,000. */
  readonly maxRows: number;
  /** Problems listed in a `400 invalid_entities` at most. Default 100. */
  readonly maxIssues: number;
}

export const DEFAULT_SERVING_LIMITS: ServingLimits = { maxRows: 10_000, maxIssues: 100 };

/** The fields a request may have. */
const REQUEST_FIELDS = new Set(['service', 'features', 'entities', 'context', 'candidates', 'metadata']);

/** A request's shape, before its target is known. */
export interface ServingRequestShape {
  readonly body: Record<string, unknown>;
  /** The service named, or undefined for a `features` list. */
  readonly service: string | undefined;
  /** The `features` list, when no service is named. */
  readonly features: readonly string[] | undefined;
  /** False when the request asks for `"metadata": false` (values only). */
  readonly metadata: boolean;
}

/** Checks the request's top-level shape: an object, a service or a feature list, and a row form. */
export function checkRequestShape(body: unknown): ServingRequestShape {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid(`the body must be a JSON object such as {"service": "<name>", "entities": [{...}]}, got ${describeValue(body)}`);
  }
  const request = body as Record<string, unknown>;
  for (const field in request) {
    if (!REQUEST_FIELDS.has(field)) {
      throw invalid(`unknown field ${JSON.stringify(field)}; a request has "service" or "features", and "entities" or "context" with "candidates" (and optionally "metadata")`);
    }
  }
  const { service, features, entities, context, candidates, metadata } = request;
  if (service !== undefined && features !== undefined) throw invalid('give "service" or "features", not both');
  if (service === undefined && features === undefined) throw invalid('name a feature service ("service": "<name>") or list features ("features": ["<view>:<feature>", ...])');
  if (service !== undefined && typeof service !== 'string') throw invalid(`"service" must be a string, got ${describeValue(service)}`);
  if (features !== undefined && (!Array.isArray(features) || features.length === 0 || !features.every((f) => typeof f === 'string'))) {
    throw invalid('"features" must be a non-empty array of "<view>:<feature>" strings');
  }
  if (entities !== undefined && (context !== undefined || candidates !== undefined)) throw invalid('give "entities", or "context" with "candidates", not both');
  if (entities === undefined && candidates === undefined) {
    throw invalid(context === undefined ? 'give the rows: "entities": [{...}], or "context": {...} with "candidates": [{...}]' : '"context" goes with "candidates": [{...}]');
  }
  if (entities !== undefined && !Array.isArray(entities)) throw invalid(`"entities" must be an array of objects, got ${describeValue(entities)}`);
  if (candidates !== undefined && !Array.isArray(candidates)) throw invalid(`"candidates" must be an array of objects, got ${describeValue(candidates)}`);
  if (context !== undefined && (typeof context !== 'object' || context === null || Array.isArray(context))) {
    throw invalid(`"context" must be an object of join keys, got ${describeValue(context)}`);
  }
  if (metadata !== undefined && typeof metadata !== 'boolean') throw invalid(`"metadata" must be true or false, got ${describeValue(metadata)}`);
  return { body: request, service: service as string | undefined, features: features as string[] | undefined, metadata: metadata !== false };
}

/**
 * The rows' join keys for `target`: `entities`, or each candidate merged with the context (a key in
 * both is refused). Throws ApiError `too_many_rows` (413) or `invalid_entities` (400) listing the
 * problems of every row (the first `maxIssues`).
 */
export function readEntityRows(shape: ServingRequestShape, target: ServingTarget, limits: ServingLimits): EntityRows {
  const rows = (shape.body.entities ?? shape.body.candidates) as unknown[];
  const fromCandidates = shape.body.entities === undefined;
  const label = fromCandidates ? 'candidates' : 'entities';
  if (rows.length > limits.maxRows) {
    throw new ApiError('too_many_rows', `the request has ${rows.length} ${label}; at most ${limits.maxRows} rows are served per request — split it`, { limit: limits.maxRows });
  }
  const issues = new IssueList(limits.maxIssues);
  const { keys, keyIndex } = target;
  const shared: (OnlineKeyPart | undefined)[] = new Array(keys.length).fill(undefined);
  const inContext: boolean[] = new Array(keys.length).fill(false);
  let context: Record<string, ServedKeyValue> | undefined;

  const contextObject = shape.body.context as Record<string, unknown> | undefined;
  if (fromCandidates && contextObject !== undefined) {
    context = {};
    for (const name in contextObject) {
      const at = keyIndex.get(name);
      if (at === undefined) {
        issues.add(undefined, `context.${name}`, notAKey(target));
        continue;
      }
      inContext[at] = true;
      const value = keyValue(keys[at]!.type, contextObject[name]);
      if (value instanceof ValueProblem) issues.add(undefined, `context.${name}`, value.message);
      else {
        shared[at] = value;
        context[name] = typeof value === 'bigint' ? value.toString() : value;
      }
    }
  }

  const columns: (OnlineKeyPart[] | undefined)[] = keys.map((_, at) => (inContext[at] ? undefined : new Array<OnlineKeyPart>(rows.length)));
  // Keys named like Object.prototype members (`constructor`) must be own properties of the row.
  const inherited = keys.map((k) => k.name in Object.prototype);
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index];
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      issues.add(index, undefined, `${fromCandidates ? 'a candidate' : 'an entity row'} must be a JSON object of join keys, got ${describeValue(row)}`);
      continue;
    }
    const fields = row as Record<string, unknown>;
    for (let at = 0; at < keys.length; at++) {
      const key = keys[at]!;
      const raw = inherited[at] && !Object.hasOwn(fields, key.name) ? undefined : fields[key.name];
      const column = columns[at];
      if (column === undefined) {
        // From the context; the row must not give it again.
        if (raw !== undefined) issues.add(index, key.name, 'also given in "context"; a key goes in the context or in each candidate, not both');
        continue;
      }
      if (raw === undefined) {
        issues.add(index, key.name, `required key is missing (${key.type})${fromCandidates && contextObject === undefined ? '; shared keys go in "context"' : ''}`);
        continue;
      }
      const value = keyValue(key.type, raw);
      if (value instanceof ValueProblem) issues.add(index, key.name, value.message);
      else column[index] = value;
    }
    // Any other field is refused.
    for (const name in fields) if (!keyIndex.has(name)) issues.add(index, name, notAKey(target));
  }

  if (issues.total > 0) {
    const rowsWithProblems = issues.rows.size;
    const where = `${rowsWithProblems > 0 ? `${rowsWithProblems} of ${rows.length} ${label} ${rowsWithProblems === 1 ? 'is' : 'are'} invalid` : 'the context is invalid'}`;
    const contextToo = rowsWithProblems > 0 && issues.contextProblems > 0 ? ' and the context is invalid' : '';
    const omitted = issues.total - issues.listed.length;
    throw new ApiError(
      'invalid_entities',
      `${where}${contextToo} (${issues.total} problem${issues.total === 1 ? '' : 's'}); nothing was served${omitted > 0 ? `; the first ${issues.listed.length} are listed, ${omitted} more are not` : ''}`,
      issues.listed,
    );
  }
  return { count: rows.length, columns, shared, context };
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/**
 * A join key value as the online store keys it: integers as numbers (int64 beyond 2^53, sent as a
 * string of digits, as a bigint), strings as they are, timestamps in ISO-8601 UTC, dates as
 * `YYYY-MM-DD`. The common cases are checked inline; the log API's normalizers say the rest.
 */
export function keyValue(type: ValueType, value: unknown): OnlineKeyPart | ValueProblem {
  switch (type) {
    case 'int64':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      break;
    case 'string':
      if (typeof value === 'string') return value;
      break;
    case 'int32':
      if (typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) return value;
      break;
    default:
      break;
  }
  if (value === null) return new ValueProblem('a join key must not be null');
  const normal = NORMALIZERS[type](value);
  if (normal instanceof ValueProblem) return normal;
  if (typeof normal === 'string' && type === 'int64') return BigInt(normal);
  return normal as OnlineKeyPart;
}

function notAKey(target: ServingTarget): string {
  return `not a join key of ${target.service !== undefined ? `service "${target.service}"` : 'these features'}; its join keys are ${target.keysText}`;
}

function invalid(message: string): ApiError {
  return new ApiError('invalid_request', message);
}

class IssueList {
  readonly listed: EntityIssue[] = [];
  readonly rows = new Set<number>();
  total = 0;
  contextProblems = 0;
  constructor(private readonly max: number) {}

  add(index: number | undefined, field: string | undefined, message: string): void {
    this.total++;
    if (index === undefined) this.contextProblems++;
    else this.rows.add(index);
    if (this.listed.length < this.max) {
      this.listed.push({ ...(index !== undefined ? { index } : {}), ...(field !== undefined ? { field } : {}), message });
    }
  }
}
