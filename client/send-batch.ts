/**
 * One request to the log API, `POST {url}/v1/streams/{stream}/events`, and what its answer means
 * for the client: delivered, refused for good, too large (split it), or worth retrying.
 */
import { EventsRejectedError, type EventIssue } from './client-errors.ts';
import { parseRetryAfter } from './retry-delay.ts';

export interface LogApiTarget {
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly token: string;
  readonly requestTimeoutMs: number;
  readonly fetch: typeof fetch;
}

export type SendOutcome =
  /** 2xx: the server stored the batch. */
  | { readonly kind: 'accepted' }
  /** Refused for good (400, 401, 403, 404, other 4xx): retrying would get the same answer. */
  | { readonly kind: 'rejected'; readonly error: EventsRejectedError }
  /** 413: the body or the number of events is over the server's limit; a smaller batch may pass. */
  | { readonly kind: 'too_large'; readonly error: EventsRejectedError }
  /** 5xx, 408, 429, a timeout or a connection error: the same batch may pass later. */
  | { readonly kind: 'transient'; readonly status: number | undefined; readonly retryAfterMs: number | undefined; readonly cause: unknown };

/** Codes for refusals whose body names none. */
const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_events',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'unknown_stream',
  413: 'too_large',
};

export function eventsUrl(baseUrl: string, stream: string): string {
  return `${baseUrl}/v1/streams/${encodeURIComponent(stream)}/events`;
}

/** Sends `events` (each already JSON) as one array. Never throws: failures are outcomes. */
export async function sendBatch(target: LogApiTarget, stream: string, events: readonly string[]): Promise<SendOutcome> {
  let response: Response;
  let text: string;
  try {
    response = await target.fetch(eventsUrl(target.url, stream), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${target.token}` },
      body: `[${events.join(',')}]`,
      // Covers reading the answer too, so a server that stalls mid-body cannot hang the stream.
      signal: AbortSignal.timeout(target.requestTimeoutMs),
    });
    text = await response.text();
  } catch (cause) {
    return { kind: 'transient', status: undefined, retryAfterMs: undefined, cause };
  }

  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'accepted' };
  if (status >= 500 || status === 408 || status === 429) {
    return { kind: 'transient', status, retryAfterMs: parseRetryAfter(response.headers.get('retry-after')), cause: new Error(`HTTP ${status}: ${text.slice(0, 200)}`) };
  }
  const error = rejection(stream, status, text, events);
  return status === 413 ? { kind: 'too_large', error } : { kind: 'rejected', error };
}

/** Reads the contract's `{ error: { code, message, details } }`, tolerating any other body. */
function rejection(stream: string, status: number, text: string, events: readonly string[]): EventsRejectedError {
  const body = parseJson(text);
  const error = isRecord(body) && isRecord(body.error) ? body.error : {};
  const details = Array.isArray(error.details) ? error.details.filter(isRecord).map(toIssue) : [];
  return new EventsRejectedError({
    stream,
    status,
    code: typeof error.code === 'string' ? error.code : (CODE_BY_STATUS[status] ?? `http_${status}`),
    message: typeof error.message === 'string' ? error.message : text.slice(0, 200) || `HTTP ${status}`,
    details,
    events,
  });
}

function toIssue(detail: Record<string, unknown>): EventIssue {
  return {
    index: typeof detail.index === 'number' ? detail.index : -1,
    field: typeof detail.field === 'string' ? detail.field : undefined,
    message: typeof detail.message === 'string' ? detail.message : JSON.stringify(detail),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
