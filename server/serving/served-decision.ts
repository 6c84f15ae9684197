/**
 * What the serving API hands to the decision log for each response it sends (docs/serving.md):
 * which features were served to which entities, as the response had them. JSON-safe throughout (no
 * bigints, no Dates), so a decision log may `JSON.stringify` it as it is.
 *
 * The serving route builds one only for services whose decisions are logged (`DecisionSink.logs`),
 * so the cost of spelling every value out as an object is paid by logged services alone.
 */

/** A join key value as the request gave it: an integer (a safe one), a string, or an int64 beyond 2^53 as its digits. */
export type ServedKeyValue = string | number;

/** A feature value as served: numbers, strings (timestamps as ISO-8601 UTC, int64 beyond 2^53 as digits), booleans, null. */
export type ServedFeatureValue = string | number | boolean | null;

/**
 * Per feature: `present` (a value within the view's ttl), `missing` (nothing stored for the key) or
 * `expired` (stored, but older than the ttl: served as null).
 */
export type ServedFeatureStatus = 'present' | 'missing' | 'expired';

export const SERVED_FEATURE_STATUSES = ['present', 'missing', 'expired'] as const satisfies readonly ServedFeatureStatus[];

/** One entity row of a response. Every record has one entry per feature of `ServedDecision.features`. */
export interface ServedRow {
  /** The row's join keys (the context's and the candidate's merged), by join key name. */
  readonly keys: Readonly<Record<string, ServedKeyValue>>;
  /** Feature name → value (null when missing or expired). */
  readonly values: Readonly<Record<string, ServedFeatureValue>>;
  /** Feature name → the stored value's event time, ISO-8601 UTC; null when missing. Expired values keep theirs. */
  readonly eventTimes: Readonly<Record<string, string | null>>;
  /** Feature name → status. */
  readonly statuses: Readonly<Record<string, ServedFeatureStatus>>;
}

/** One response of `POST /v1/features`. */
export interface ServedDecision {
  /** The response's `decision_id`: a UUIDv7, so ids sort by the time they were served. */
  readonly decisionId: string;
  /** The feature service served. */
  readonly service: string;
  /** When the features were read (the instant the ttl was applied at), ISO-8601 UTC with milliseconds. */
  readonly servedAt: string;
  /** The request's shared `context` (for example `{ "user_id": 42 }`), or undefined for a request of `entities`. */
  readonly context: Readonly<Record<string, ServedKeyValue>> | undefined;
  /** The features in the service's declared order: the keys of each row's records. */
  readonly features: readonly string[];
  /** One per requested entity row, in request order. */
  readonly rows: readonly ServedRow[];
  /** How `POST /v1/decide` scored and ranked the rows (docs/decide.md); undefined for `POST /v1/features`. */
  readonly scoring?: DecisionScoring;
}

/** What a decision of `POST /v1/decide` adds to the rows it logs: the model version, and per row its score, rank and propensity. */
export interface DecisionScoring {
  readonly model: string;
  /** The version that scored; null for a cold start's decision (no version promoted yet, nothing scored). */
  readonly version: string | null;
  /** Whether the slate came from the exploration branch (a uniformly random slate). */
  readonly explored: boolean;
  /** The request's `explore.key`, which keyed its draws (docs/decide.md); undefined when the draws were keyed by the decision id. */
  readonly exploreKey?: string;
  /** One per row, in request order. */
  readonly rows: readonly ScoredRow[];
}

export interface ScoredRow {
  /** The model's score; null for a candidate a filter removed (never scored). */
  readonly score: number | null;
  /** Its place in the greedy order of the eligible candidates, from 0 (the best score); null when filtered out. */
  readonly rank: number | null;
  /** Where it was shown, from 0 (the top); null when not shown. */
  readonly position: number | null;
  /** The chance the policy shows this candidate at this position (see server/decide/rank-candidates.ts); null when not shown. */
  readonly propensity: number | null;
}

/**
 * A response as the serving path built it, before anything is spelt out row by row: what the decision
 * log needs to write a decision without one object per row and feature (`ServedDecision` costs ~2 ms
 * for 100 rows × 50 features). Rows that read the same stored record share its fragment: the JSON
 * text of its values, statuses and event times, as the answer used it, built once.
 * `spellOut` (served-fragments.ts) turns it into the `ServedDecision` it stands for.
 */
export interface ServedFragments {
  readonly decisionId: string;
  readonly service: string;
  readonly servedAt: string;
  readonly context: Readonly<Record<string, ServedKeyValue>> | undefined;
  /** The features in the service's declared order: the features of `groups`, in order. */
  readonly features: readonly string[];
  readonly rowCount: number;
  /** The join keys' names, in the order `key` takes them. */
  readonly keyNames: readonly string[];
  /** Key `k` of a row (the context's or the candidate's); undefined when the row lacks it. */
  key(row: number, k: number): ServedKeyValue | undefined;
  /** The service's selections, in its order: features read from one stored record of one view each. */
  readonly groups: readonly { readonly features: readonly string[] }[];
  /** The fragment a row's selection `group` was served from (rows sharing a stored record share one). */
  fragment(row: number, group: number): number;
  /** A fragment's values, statuses and event times, each the text of a JSON array without its brackets (`1.5,null`). */
  values(fragment: number): string;
  statuses(fragment: number): string;
  eventTimes(fragment: number): string;
  readonly scoring?: DecisionScoring;
}

/** Tells the two forms a decision is offered in apart. */
export function isServedFragments(decision: ServedDecision | ServedFragments): decision is ServedFragments {
  return typeof (decision as Partial<ServedFragments>).fragment === 'function';
}

/**
 * Where the serving route offers decisions: the decision log (server/serving/decision-log.ts)
 * implements it. Both calls are on the request's hot path: they must not block or throw.
 */
export interface DecisionSink {
  /** Whether decisions of this service are logged (its `logging` option); when false nothing is built or offered. */
  logs(service: string): boolean;
  /** Takes a decision without waiting (queues it, or drops and counts it when full); the fragments it holds must never change. */
  offer(decision: ServedDecision | ServedFragments): void;
}
