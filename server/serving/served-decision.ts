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
 * Where the serving route offers decisions: the decision log (server/serving/decision-log.ts)
 * implements it. Both calls are on the request's hot path: they must not block or throw.
 */
export interface DecisionSink {
  /** Whether decisions of this service are logged (its `logging` option); when false nothing is built or offered. */
  logs(service: string): boolean;
  /** Takes a decision without waiting (queues it, or drops and counts it when full). */
  offer(decision: ServedDecision): void;
}
