import { ApiError } from '../api-errors.ts';
import { describeValue } from '../validation/value-normalizers.ts';
import type { SplitArm } from './ab-split.ts';

/**
 * The body of `POST /v1/decide` (docs/decide.md), checked by hand like `POST /v1/features`:
 *
 *     {
 *       "model": "ranker",                          // optional when the project has one model
 *       "version": "3",                             // optional: default the promoted version
 *       "split": { "key": "user_id", "shares": { "3": 0.9, "4": 0.1 } },   // optional, instead of version
 *       "context": { "user_id": 42, "hour": 9 },    // join keys shared by every candidate, and request fields
 *       "candidates": [{ "item_id": 7 }, { "item_id": 9 }],   // or "entity": { "user_id": 42 } for one row
 *       "filters": ["in_stock"],                    // names of the model's declared filters
 *       "topK": 5,                                  // default: every eligible candidate
 *       "explore": { "epsilon": 0.1, "key": "r-81" } // default: no exploration; "key": optional, names the draws
 *     }
 *
 * What the join keys must be, and which fields are request inputs, depends on the model: the caller
 * checks that (readDecideRows); this checks the shape alone.
 */

export interface DecideRequest {
  readonly model: string | undefined;
  readonly version: string | undefined;
  readonly split: { readonly key: string; readonly arms: readonly SplitArm[] } | undefined;
  readonly context: Readonly<Record<string, unknown>> | undefined;
  /** The rows to score: the candidates, or the one entity. */
  readonly rows: readonly unknown[];
  /** True for `entity` (one row, no context), false for `candidates`. */
  readonly single: boolean;
  readonly filters: readonly string[];
  readonly topK: number | undefined;
  readonly epsilon: number;
  /** What the exploration draws are keyed by (exploration-draws.ts); undefined: the decision id. */
  readonly exploreKey: string | undefined;
}

/** The longest `explore.key`, in characters. */
export const MAX_EXPLORE_KEY_LENGTH = 256;

const FIELDS = new Set(['model', 'version', 'split', 'context', 'candidates', 'entity', 'filters', 'topK', 'explore']);

/** The request's shape; throws ApiError `invalid_request` naming the field at fault. */
export function readDecideRequest(body: unknown): DecideRequest {
  if (!isObject(body)) throw invalid(`the body must be a JSON object such as {"model": "<name>", "context": {...}, "candidates": [{...}]}, got ${describeValue(body)}`);
  for (const field in body) {
    if (!FIELDS.has(field)) throw invalid(`unknown field ${JSON.stringify(field)}; a request has ${[...FIELDS].map((f) => `"${f}"`).join(', ')}`);
  }
  const { model, version, split, context, candidates, entity, filters, topK, explore } = body;
  if (model !== undefined && (typeof model !== 'string' || model === '')) throw invalid(`"model" must be a model's name, got ${describeValue(model)}`);
  if (version !== undefined && (typeof version !== 'string' || version === '')) throw invalid(`"version" must be a version string such as "3", got ${describeValue(version)}`);
  if (version !== undefined && split !== undefined) throw invalid('give "version" or "split", not both');
  if (entity !== undefined && (candidates !== undefined || context !== undefined)) throw invalid('give "entity", or "context" with "candidates", not both');
  if (entity === undefined && candidates === undefined) throw invalid('give the rows to score: "candidates": [{...}] (with an optional "context": {...}), or "entity": {...}');
  if (candidates !== undefined && !Array.isArray(candidates)) throw invalid(`"candidates" must be an array of objects, got ${describeValue(candidates)}`);
  if (entity !== undefined && !isObject(entity)) throw invalid(`"entity" must be an object of join keys, got ${describeValue(entity)}`);
  if (context !== undefined && !isObject(context)) throw invalid(`"context" must be an object of join keys and request fields, got ${describeValue(context)}`);
  if (filters !== undefined && (!Array.isArray(filters) || !filters.every((f) => typeof f === 'string'))) {
    throw invalid(`"filters" must be an array of the model's filter names, got ${describeValue(filters)}`);
  }
  if (topK !== undefined && (typeof topK !== 'number' || !Number.isSafeInteger(topK) || topK < 1)) throw invalid(`"topK" must be a positive integer, got ${describeValue(topK)}`);
  const splitRead = split === undefined ? undefined : readSplit(split);
  const exploration = explore === undefined ? { epsilon: 0, key: undefined } : readExplore(explore);
  return {
    model: model as string | undefined,
    version: version as string | undefined,
    split: splitRead,
    context: context as Record<string, unknown> | undefined,
    rows: entity !== undefined ? [entity] : (candidates as unknown[]),
    single: entity !== undefined,
    filters: (filters as string[] | undefined) ?? [],
    topK: topK as number | undefined,
    epsilon: exploration.epsilon,
    exploreKey: exploration.key,
  };
}

function readSplit(split: unknown): { key: string; arms: SplitArm[] } {
  if (!isObject(split) || typeof split.key !== 'string' || !isObject(split.shares)) {
    throw invalid(`"split" must be {"key": "<context key>", "shares": {"<version>": <share>, ...}}, got ${describeValue(split)}`);
  }
  for (const field in split) if (field !== 'key' && field !== 'shares') throw invalid(`unknown field "split.${field}"; a split has "key" and "shares"`);
  const arms: SplitArm[] = [];
  for (const [version, share] of Object.entries(split.shares)) {
    if (typeof share !== 'number' || !(share > 0) || share > 1) throw invalid(`"split.shares.${version}" must be a share in (0, 1], got ${describeValue(share)}`);
    arms.push({ version, share });
  }
  const total = arms.reduce((sum, arm) => sum + arm.share, 0);
  if (arms.length === 0 || Math.abs(total - 1) > 1e-9) throw invalid(`"split.shares" must add up to 1, got ${arms.length === 0 ? 'none' : total}`);
  return { key: split.key, arms };
}

function readExplore(explore: unknown): { epsilon: number; key: string | undefined } {
  if (!isObject(explore) || Object.keys(explore).some((k) => k !== 'epsilon' && k !== 'key')) {
    throw invalid(`"explore" must be {"epsilon": <chance in [0, 1]>} with an optional "key": "<text>", got ${describeValue(explore)}`);
  }
  const { epsilon, key } = explore;
  if (typeof epsilon !== 'number' || !(epsilon >= 0 && epsilon <= 1)) throw invalid(`"explore.epsilon" must be a number in [0, 1], got ${describeValue(epsilon)}`);
  if (key !== undefined && (typeof key !== 'string' || key === '' || key.length > MAX_EXPLORE_KEY_LENGTH)) {
    throw invalid(`"explore.key" must be a non-empty string of at most ${MAX_EXPLORE_KEY_LENGTH} characters (one per decision, such as a request id), got ${describeValue(key)}`);
  }
  return { epsilon, key: key as string | undefined };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): ApiError {
  return new ApiError('invalid_request', message);
}
