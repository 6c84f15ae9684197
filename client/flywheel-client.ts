/**
 * The Flywheel client. `log()` queues an event in memory and returns at once; batches go to
 * `POST {url}/v1/streams/{stream}/events` in the background, one in flight per stream, retried on
 * transient failures. Delivery is at least once; every event carries an `_event_id` the server
 * dedupes on, so a retried batch is stored once. `getFeatures()` reads feature values from
 * `POST {url}/v1/features`. See docs/client.md and docs/serving.md.
 */
import {
  BufferFullError,
  ClientOptionsError,
  DeliveryFailedError,
  InvalidEventError,
  type FlywheelClientError,
} from './client-errors.ts';
import { EVENT_ID_FIELD, uuidv7 } from './event-id.ts';
import { getFeatures, type FeaturesResponse, type FeatureValue, type GetFeaturesOptions, type GetFeaturesRequest } from './get-features.ts';
import { retryDelayMs, type BackoffPolicy } from './retry-delay.ts';
import { sendBatch, type LogApiTarget } from './send-batch.ts';
import { StreamQueue, type BatchLimits, type QueuedEvent } from './stream-queue.ts';

/** Event types by stream name; the default accepts any JSON object on any stream. */
export type EventsByStream = Record<string, object>;

export interface FlywheelClientOptions {
  /** Base URL of the log API (`https://flywheel.example.com`; a path prefix is kept). */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Events per request; a stream whose queue reaches it sends at once. Default 500 (the server takes up to 10,000). */
  maxBatchSize?: number;
  /** JSON bytes per request (one larger event still goes alone). Default 4 MiB (the server takes up to 10 MiB). */
  maxBatchBytes?: number;
  /** Longest an event waits for its batch to fill. Default 200 ms. */
  flushIntervalMs?: number;
  /** Events held in memory across all streams (queued or being sent); `log()` drops beyond it. Default 10,000. */
  maxBufferedEvents?: number;
  /** Retries of a batch after a transient failure (5xx, 408, 429, timeout, connection error). Default 8. */
  maxRetries?: number;
  /** Ceiling of the first retry's wait, doubled at each retry (full jitter). Default 100 ms. */
  retryBaseDelayMs?: number;
  /** Largest ceiling of a retry's wait. Default 10 s. */
  retryMaxDelayMs?: number;
  /** Per-request timeout, answer included (`AbortSignal.timeout`). Default 10 s. */
  requestTimeoutMs?: number;
  /**
   * Called, never awaited, for events that will not be delivered: BufferFullError (at most once a
   * second), InvalidEventError, EventsRejectedError, DeliveryFailedError. What it throws is ignored.
   * Default: one line on stderr.
   */
  onError?: (error: FlywheelClientError) => void;
  /** The fetch to use. Default: the global one (Node 20). */
  fetch?: typeof fetch;
}

/** Event counts since the client was created. */
export interface ClientStats {
  /** Logged and not yet delivered or failed (queued or in flight). */
  readonly buffered: number;
  /** Delivered: in a batch the server answered 2xx. */
  readonly sent: number;
  /** Refused by `log()`: buffer full, or the client closed. */
  readonly dropped: number;
  /** Given up on: refused by the server, retries exhausted, or not a JSON object. */
  readonly failed: number;
  /** Requests re-sent after a transient failure. */
  readonly retries: number;
}

export interface FlywheelClient<Events extends EventsByStream = EventsByStream> {
  /**
   * Queues `event` for `stream`, giving it an `_event_id` unless it has one. Never throws, never
   * waits: returns false (and counts a drop) when the buffer is full or the client is closed.
   */
  log<Stream extends keyof Events & string>(stream: Stream, event: Events[Stream]): boolean;
  /** Resolves once every event logged before the call has been delivered or has failed. Never rejects. */
  flush(): Promise<void>;
  /** Stops accepting events, flushes, and stops the timers. Idempotent. */
  close(): Promise<void>;
  stats(): ClientStats;
  /**
   * Feature values from the serving API, one row per entity row (or candidate) in request order.
   * Not retried; rejects with FeatureServingError (its `retryable` says whether trying again may help).
   * `F` names the service's features and their value types.
   */
  getFeatures<F extends Record<string, FeatureValue> = Record<string, FeatureValue>>(request: GetFeaturesRequest, options?: GetFeaturesOptions): Promise<FeaturesResponse<F>>;
}

interface ResolvedOptions extends BatchLimits, BackoffPolicy {
  readonly maxBufferedEvents: number;
  readonly maxRetries: number;
  readonly target: LogApiTarget;
  readonly onError: (error: FlywheelClientError) => void;
}

/** BufferFullError is reported at most this often. */
const BUFFER_FULL_REPORT_INTERVAL_MS = 1000;

/**
 * @example
 * const client = createFlywheelClient<{ decisions: { user_id: number; score: number } }>({
 *   url: 'https://flywheel.example.com', token: process.env.FLYWHEEL_TOKEN!,
 *   onError: (error) => logger.warn(error),
 * });
 * client.log('decisions', { user_id: 42, score: 0.93 });
 * const { decisionId, rows } = await client.getFeatures<{ txn_count_7d: number | null }>({ service: 'fraud_model', entities: [{ user_id: 42 }] });
 * await client.close(); // on shutdown
 */
export function createFlywheelClient<Events extends EventsByStream = EventsByStream>(options: FlywheelClientOptions): FlywheelClient<Events> {
  const config = resolveOptions(options);
  const streams = new Map<string, StreamQueue>();
  let buffered = 0;
  let sent = 0;
  let dropped = 0;
  let failed = 0;
  let retries = 0;
  let closing: Promise<void> | undefined;
  let lastBufferFullReport = -Infinity;
  let droppedSinceReport = 0;

  function report(error: FlywheelClientError): void {
    try {
      config.onError(error);
    } catch {
      // The application's handler failing must not stop delivery.
    }
  }

  function drop(stream: string): false {
    dropped += 1;
    if (closing !== undefined) return false;
    droppedSinceReport += 1;
    const now = performance.now();
    if (now - lastBufferFullReport >= BUFFER_FULL_REPORT_INTERVAL_MS) {
      lastBufferFullReport = now;
      report(new BufferFullError(stream, config.maxBufferedEvents, droppedSinceReport));
      droppedSinceReport = 0;
    }
    return false;
  }

  function log(stream: string, event: object): boolean {
    if (closing !== undefined || buffered >= config.maxBufferedEvents) return drop(stream);
    let json: string;
    try {
      json = serializeEvent(stream, event);
    } catch (error) {
      failed += 1;
      report(error instanceof InvalidEventError ? error : new InvalidEventError(String(stream), 'it cannot be serialized', { cause: error }));
      return false;
    }
    let queue = streams.get(stream);
    if (queue === undefined) streams.set(stream, (queue = new StreamQueue(stream)));
    queue.push(json, Buffer.byteLength(json), performance.now());
    buffered += 1;
    schedule(queue);
    return true;
  }

  /** Sends the stream's next batch if one is due, else arms the timer for when it will be. */
  function schedule(queue: StreamQueue): void {
    if (queue.inFlight) return; // the running send() schedules again when it is done
    const now = performance.now();
    if (queue.isDue(now, config)) {
      clearTimer(queue);
      // Claimed now, sent once the caller's synchronous code is done: log() only queues.
      queue.inFlight = true;
      queueMicrotask(() => void send(queue));
    } else if (queue.length === 0) {
      clearTimer(queue);
      if (queue.idle) streams.delete(queue.name);
    } else if (queue.timer === undefined) {
      queue.timer = setTimeout(() => {
        queue.timer = undefined;
        schedule(queue);
      }, queue.msUntilDue(now, config));
    }
  }

  /** Sends batches of one stream, one after the other, while they are due. Never rejects. */
  async function send(queue: StreamQueue): Promise<void> {
    try {
      while (queue.isDue(performance.now(), config)) {
        const batch = queue.takeBatch(config);
        await deliver(queue.name, batch);
        queue.settle(batch);
      }
    } finally {
      queue.inFlight = false;
    }
    schedule(queue);
  }

  /** Delivers one batch: retries transient failures, splits on 413; settles its events as sent or failed. */
  async function deliver(stream: string, batch: readonly QueuedEvent[]): Promise<void> {
    const events = batch.map((e) => e.json);
    for (let attempt = 1; ; attempt++) {
      const outcome = await sendBatch(config.target, stream, events);
      switch (outcome.kind) {
        case 'accepted':
          buffered -= batch.length;
          sent += batch.length;
          return;
        case 'rejected':
          return fail(batch.length, outcome.error);
        case 'too_large': {
          if (batch.length === 1) return fail(1, outcome.error);
          // Halves keep the order: the second goes only after the first has settled.
          const half = Math.ceil(batch.length / 2);
          await deliver(stream, batch.slice(0, half));
          return deliver(stream, batch.slice(half));
        }
        case 'transient':
          if (attempt > config.maxRetries) {
            return fail(batch.length, new DeliveryFailedError({ stream, attempts: attempt, status: outcome.status, events }, { cause: outcome.cause }));
          }
          retries += 1;
          await sleep(retryDelayMs(attempt - 1, config, outcome.retryAfterMs));
          break;
        default:
          return assertNever(outcome);
      }
    }
  }

  function fail(count: number, error: FlywheelClientError): void {
    buffered -= count;
    failed += count;
    report(error);
  }

  async function flush(): Promise<void> {
    const pending: Promise<void>[] = [];
    for (const queue of streams.values()) {
      const settled = queue.flush();
      if (settled === undefined) continue;
      pending.push(settled);
      schedule(queue);
    }
    await Promise.all(pending);
  }

  function close(): Promise<void> {
    closing ??= flush().then(() => {
      for (const queue of streams.values()) clearTimer(queue);
    });
    return closing;
  }

  return {
    log: (stream, event) => log(stream, event),
    flush,
    close,
    stats: () => ({ buffered, sent, dropped, failed, retries }),
    getFeatures: (request, options) => getFeatures(config.target, request, options),
  };
}

/** The event as JSON with an `_event_id` (its own when it has one). Throws InvalidEventError. */
function serializeEvent(stream: string, event: object): string {
  if (typeof stream !== 'string' || stream === '') throw new InvalidEventError(String(stream), 'the stream name must be a non-empty string');
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InvalidEventError(stream, `an event must be a JSON object, got ${Array.isArray(event) ? 'an array' : String(event)}`);
  }
  const id = (event as Record<string, unknown>)[EVENT_ID_FIELD];
  const withId = id === undefined || id === null ? { ...event, [EVENT_ID_FIELD]: uuidv7() } : event;
  try {
    return JSON.stringify(withId);
  } catch (cause) {
    throw new InvalidEventError(stream, `it cannot be serialized to JSON (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
}

function resolveOptions(options: FlywheelClientOptions): ResolvedOptions {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch (cause) {
    throw new ClientOptionsError('url', `not a URL: ${JSON.stringify(options.url)} (${String(cause)})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ClientOptionsError('url', `must be http(s), got ${url.protocol}`);
  if (typeof options.token !== 'string' || options.token === '') throw new ClientOptionsError('token', 'must be a non-empty string');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new ClientOptionsError('fetch', 'no global fetch (Node 18 or later is needed); pass one');
  return {
    maxBatchSize: positiveInteger(options, 'maxBatchSize', 500),
    maxBatchBytes: positiveInteger(options, 'maxBatchBytes', 4 * 1024 * 1024),
    flushIntervalMs: nonNegativeNumber(options, 'flushIntervalMs', 200),
    maxBufferedEvents: positiveInteger(options, 'maxBufferedEvents', 10_000),
    maxRetries: nonNegativeInteger(options, 'maxRetries', 8),
    baseDelayMs: nonNegativeNumber(options, 'retryBaseDelayMs', 100),
    maxDelayMs: nonNegativeNumber(options, 'retryMaxDelayMs', 10_000),
    target: {
      url: url.href.replace(/\/+$/, ''),
      token: options.token,
      requestTimeoutMs: positiveInteger(options, 'requestTimeoutMs', 10_000),
      fetch: fetchImpl,
    },
    onError: options.onError ?? ((error) => console.error(`[flywheel client] ${error.message}`)),
  };
}

type NumericOption = 'maxBatchSize' | 'maxBatchBytes' | 'flushIntervalMs' | 'maxBufferedEvents' | 'maxRetries' | 'retryBaseDelayMs' | 'retryMaxDelayMs' | 'requestTimeoutMs';

function positiveInteger(options: FlywheelClientOptions, name: NumericOption, fallback: number): number {
  const value = options[name] ?? fallback;
  if (!Number.isInteger(value) || value < 1) throw new ClientOptionsError(name, `must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInteger(options: FlywheelClientOptions, name: NumericOption, fallback: number): number {
  const value = options[name] ?? fallback;
  if (!Number.isInteger(value) || value < 0) throw new ClientOptionsError(name, `must be a non-negative integer, got ${value}`);
  return value;
}

function nonNegativeNumber(options: FlywheelClientOptions, name: NumericOption, fallback: number): number {
  const value = options[name] ?? fallback;
  if (!Number.isFinite(value) || value < 0) throw new ClientOptionsError(name, `must be a non-negative number, got ${value}`);
  return value;
}

function clearTimer(queue: StreamQueue): void {
  if (queue.timer === undefined) return;
  clearTimeout(queue.timer);
  queue.timer = undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function assertNever(value: never): never {
  throw new Error(`Unexpected send outcome: ${JSON.stringify(value)}`);
}
