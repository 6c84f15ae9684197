/**
 * One request to the serving API, `POST {url}/v1/features` (docs/serving.md), and its answer as
 * typed rows: each row's values, statuses and event times by feature name. Not retried: serving is
 * on the caller's latency budget, so a failure is thrown at once as a FeatureServingError saying
 * whether a retry may help.
 */
import { FeatureServingError } from './client-errors.ts';
import type { LogApiTarget } from './send-batch.ts';

/** A join key value: an integer, a string; a bigint for int64 values beyond 2^53 (sent as its digits). */
export type EntityKeyValue = string | number | bigint;

/** A feature value as served: numbers, strings (timestamps in ISO-8601 UTC, int64 beyond 2^53 as digits), booleans, null. */
export type FeatureValue = string | number | boolean | null;

/** `present`: a value within the view's ttl; `missing`: nothing stored for the key; `expired`: stored but older than the ttl (served as null). */
export type FeatureStatus = 'present' | 'missing' | 'expired';

type EntityKeys = Readonly<Record<string, EntityKeyValue>>;

/** What to serve: a feature service, or a list of `view:feature` references (which needs the scope `read`). */
export type FeatureTarget = { readonly service: string; readonly features?: never } | { readonly features: readonly string[]; readonly service?: never };

/** For whom: entity rows, or a context shared by a list of candidates (each row is the context plus one candidate). */
export type FeatureRows =
  | { readonly entities: readonly EntityKeys[]; readonly context?: never; readonly candidates?: never }
  | { readonly context?: EntityKeys; readonly candidates: readonly EntityKeys[]; readonly entities?: never };

export type GetFeaturesRequest = FeatureTarget & FeatureRows;

export interface GetFeaturesOptions {
  /** The whole request, the answer included. Default: the client's `requestTimeoutMs`. */
  readonly timeoutMs?: number;
  /** Aborts the request (with the timeout, whichever comes first). */
  readonly signal?: AbortSignal;
}

/** One entity row of the answer, in request order. */
export interface FeatureRow<F extends Record<string, FeatureValue>> {
  /** Feature name → value (null when missing or expired). */
  readonly values: F;
  readonly statuses: { readonly [K in keyof F]: FeatureStatus };
  /** Feature name → the value's event time (ISO-8601 UTC), null when missing. */
  readonly eventTimes: { readonly [K in keyof F]: string | null };
}

export interface FeaturesResponse<F extends Record<string, FeatureValue>> {
  /** The id of this decision (a UUIDv7): log it with what the model decided. */
  readonly decisionId: string;
  /** The service served; null for a list of features. */
  readonly service: string | null;
  /** The features in the service's order. */
  readonly features: readonly (keyof F & string)[];
  readonly rows: readonly FeatureRow<F>[];
}

/** The answer's body as the server sends it. */
interface WireResponse {
  readonly decision_id: string;
  readonly service: string | null;
  readonly features: readonly string[];
  readonly rows: readonly { readonly values: readonly FeatureValue[]; readonly statuses: readonly FeatureStatus[]; readonly event_times: readonly (string | null)[] }[];
}

export function featuresUrl(baseUrl: string): string {
  return `${baseUrl}/v1/features`;
}

export async function getFeatures<F extends Record<string, FeatureValue>>(
  target: LogApiTarget,
  request: GetFeaturesRequest,
  options: GetFeaturesOptions = {},
): Promise<FeaturesResponse<F>> {
  const body = JSON.stringify(request, (_, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
  const timeout = AbortSignal.timeout(options.timeoutMs ?? target.requestTimeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  let text: string;
  try {
    response = await target.fetch(featuresUrl(target.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${target.token}` },
      body,
      signal,
    });
    text = await response.text();
  } catch (cause) {
    const timedOut = timeout.aborted && !options.signal?.aborted;
    throw new FeatureServingError(
      {
        status: undefined,
        code: timedOut ? 'timeout' : options.signal?.aborted ? 'aborted' : 'connection_failed',
        message: timedOut ? `no answer within ${options.timeoutMs ?? target.requestTimeoutMs} ms` : describeCause(cause),
        details: undefined,
      },
      { cause },
    );
  }
  if (response.status !== 200) throw refusal(response.status, text);
  let wire: WireResponse;
  try {
    wire = JSON.parse(text) as WireResponse;
  } catch (cause) {
    throw new FeatureServingError({ status: response.status, code: 'bad_response', message: `the answer is not JSON: ${text.slice(0, 200)}`, details: undefined }, { cause });
  }
  return toResponse<F>(wire);
}

function toResponse<F extends Record<string, FeatureValue>>(wire: WireResponse): FeaturesResponse<F> {
  const names = wire.features;
  const rows = wire.rows.map((row): FeatureRow<F> => {
    const values: Record<string, FeatureValue> = {};
    const statuses: Record<string, FeatureStatus> = {};
    const eventTimes: Record<string, string | null> = {};
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      values[name] = row.values[i] ?? null;
      statuses[name] = row.statuses[i]!;
      eventTimes[name] = row.event_times[i] ?? null;
    }
    return { values: values as F, statuses: statuses as FeatureRow<F>['statuses'], eventTimes: eventTimes as FeatureRow<F>['eventTimes'] };
  });
  return { decisionId: wire.decision_id, service: wire.service, features: names as (keyof F & string)[], rows };
}

/** Reads the contract's `{ error: { code, message, details } }`, tolerating any other body. */
function refusal(status: number, text: string): FeatureServingError {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = isRecord(body) && isRecord(body.error) ? body.error : {};
  return new FeatureServingError({
    status,
    code: typeof error.code === 'string' ? error.code : `http_${status}`,
    message: typeof error.message === 'string' ? error.message : text.slice(0, 200) || `HTTP ${status}`,
    details: error.details,
  });
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
