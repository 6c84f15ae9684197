/**
 * Errors of the Flywheel client. `log()` never throws: apart from `ClientOptionsError` (thrown by
 * `createFlywheelClient`), each log error reaches the application only through the `onError` option,
 * and the events concerned are counted in `stats()`. `getFeatures()` rejects with FeatureServingError.
 */
import { FlywheelError } from '../core/errors.ts';

/** One problem the server found in one event of a batch (`400 invalid_events`). */
export interface EventIssue {
  /** Position of the event in the rejected batch: `events[index]` of the error that carries it. */
  readonly index: number;
  readonly field: string | undefined;
  readonly message: string;
}

/** Base class of the errors `onError` receives. */
export class FlywheelClientError extends FlywheelError {
  /** The stream the events were logged to. */
  readonly stream: string;
  constructor(message: string, stream: string, options?: { cause?: unknown }) {
    super(message, options);
    this.stream = stream;
  }
}

/** Thrown by `createFlywheelClient` when an option is missing or out of range. */
export class ClientOptionsError extends FlywheelError {
  readonly option: string;
  constructor(option: string, message: string) {
    super(`Flywheel client option "${option}": ${message}`);
    this.option = option;
  }
}

/**
 * Reported when `log()` dropped events because `maxBufferedEvents` were waiting to be sent;
 * at most once per second, with the number of events dropped since the previous report.
 */
export class BufferFullError extends FlywheelClientError {
  readonly maxBufferedEvents: number;
  /** Events dropped since the previous BufferFullError (this one included). */
  readonly droppedSinceLastReport: number;
  constructor(stream: string, maxBufferedEvents: number, droppedSinceLastReport: number) {
    super(
      `Flywheel client buffer full (${maxBufferedEvents} events waiting): dropped ${droppedSinceLastReport} event(s), the latest on stream "${stream}"`,
      stream,
    );
    this.maxBufferedEvents = maxBufferedEvents;
    this.droppedSinceLastReport = droppedSinceLastReport;
  }
}

/** Reported when `log()` refused an event that cannot be sent: not a JSON object, or an invalid stream name. */
export class InvalidEventError extends FlywheelClientError {
  constructor(stream: string, reason: string, options?: { cause?: unknown }) {
    super(`Flywheel client cannot log this event to stream "${stream}": ${reason}`, stream, options);
  }
}

/**
 * Reported when the server refused a batch for good (400, 401, 403, 404, 413 for a single event, other
 * 4xx). Nothing of the batch was stored; its events are counted as failed and are not retried.
 */
export class EventsRejectedError extends FlywheelClientError {
  /** HTTP status of the refusal. */
  readonly status: number;
  /** The server's `error.code` (`invalid_events`, …), else one derived from the status (`unknown_stream`, …). */
  readonly code: string;
  /** Per-event problems the server listed (400 `invalid_events`); empty otherwise. */
  readonly details: readonly EventIssue[];
  /** The refused events as the JSON that was sent (with their `_event_id`), in batch order. */
  readonly events: readonly string[];
  constructor(context: { stream: string; status: number; code: string; message: string; details: readonly EventIssue[]; events: readonly string[] }) {
    super(
      `Flywheel log API refused ${context.events.length} event(s) on stream "${context.stream}" (${context.status} ${context.code}): ${context.message}`,
      context.stream,
    );
    this.status = context.status;
    this.code = context.code;
    this.details = context.details;
    this.events = context.events;
  }
}

/**
 * Reported when a batch still failed after `maxRetries` retries (5xx, 429, timeouts, connection
 * errors). The server may have stored some of it; the events are counted as failed.
 */
export class DeliveryFailedError extends FlywheelClientError {
  /** Requests made for this batch (the first one and the retries). */
  readonly attempts: number;
  /** HTTP status of the last attempt, undefined when it got no response. */
  readonly status: number | undefined;
  /** The events as the JSON that was sent (with their `_event_id`), in batch order. */
  readonly events: readonly string[];
  constructor(context: { stream: string; attempts: number; status: number | undefined; events: readonly string[] }, options?: { cause?: unknown }) {
    const last = context.status === undefined ? describeCause(options?.cause) : `HTTP ${context.status}`;
    super(
      `Flywheel client gave up on ${context.events.length} event(s) on stream "${context.stream}" after ${context.attempts} attempt(s); last: ${last}`,
      context.stream,
      options,
    );
    this.attempts = context.attempts;
    this.status = context.status;
    this.events = context.events;
  }
}

/**
 * Thrown by `getFeatures()` when no features were served: the server refused the request (`status`
 * and the API's `code`: `invalid_entities`, `unknown_service`, `forbidden`, `online_store_unavailable`...),
 * or there was no answer (`status` undefined; `code` `timeout`, `aborted` or `connection_failed`).
 */
export class FeatureServingError extends FlywheelError {
  /** HTTP status of the refusal; undefined when no answer came. */
  readonly status: number | undefined;
  /** The API's `error.code`, `http_<status>` when the body named none, or `timeout`, `aborted`, `connection_failed`, `bad_response`. */
  readonly code: string;
  /** The API's `error.details`: for `invalid_entities`, `[{ index, field, message }]`. */
  readonly details: unknown;
  /** True when the same request may succeed later: 5xx, 429, timeouts and connection failures. */
  override readonly retryable: boolean;
  constructor(context: { status: number | undefined; code: string; message: string; details: unknown }, options?: { cause?: unknown }) {
    super(`Flywheel serving API${context.status !== undefined ? ` (${context.status} ${context.code})` : ` (${context.code})`}: ${context.message}`, options);
    this.status = context.status;
    this.code = context.code;
    this.details = context.details;
    this.retryable = context.status === undefined ? context.code !== 'aborted' : context.status >= 500 || context.status === 429;
  }
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  // fetch() says only "fetch failed"; the reason (ECONNREFUSED, …) is its cause.
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : '';
  return `${cause.message}${inner}`;
}
