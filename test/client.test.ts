import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BufferFullError,
  ClientOptionsError,
  DeliveryFailedError,
  EventsRejectedError,
  InvalidEventError,
  createFlywheelClient,
  type FlywheelClient,
  type FlywheelClientError,
  type FlywheelClientOptions,
} from '../client/index.ts';
import { uuidv7 } from '../client/event-id.ts';
import { MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelayMs } from '../client/retry-delay.ts';

/**
 * The client against a real HTTP server on 127.0.0.1: a small stand-in for the log API
 * (`POST /v1/streams/{stream}/events`) that can be told to fail, be slow, refuse large requests or
 * not listen at all. It stores events deduplicated by `_event_id`, like the real server. The
 * client-to-server end-to-end test lives with the server (server/).
 */

interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

interface ReceivedRequest {
  readonly stream: string;
  readonly events: Record<string, unknown>[];
  readonly at: number;
  status: number;
}

const TOKEN = 'test-token';

class FakeLogApi {
  /** Every request, whatever it was answered. */
  readonly requests: ReceivedRequest[] = [];
  /** Applies to every request without a delay of its own (`delayNext`). */
  delayMs = 0;
  maxEvents = 10_000;
  maxBodyBytes = 10 * 1024 * 1024;
  /** Most requests of one stream the server was answering at the same time. */
  maxConcurrentPerStream = 0;
  /** Answers every `n`th request (1-based) with `status`, when set. */
  failEvery: { n: number; status: number } | undefined;
  port = 0;

  private server: Server | undefined;
  private readonly stored = new Map<string, Map<string, Record<string, unknown>>>();
  private readonly scripted: Answer[] = [];
  private readonly delays: number[] = [];
  private readonly inFlight = new Map<string, number>();

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and cuts open connections: the next requests are refused. */
  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Answers the next `count` authorised requests with `status` (before any check of the body). */
  failNext(count: number, status: number, headers?: Record<string, string>): void {
    for (let i = 0; i < count; i++) this.scripted.push({ status, headers, body: { error: { code: 'scripted', message: `scripted ${status}` } } });
  }

  /** Holds the next request `ms` before answering it. */
  delayNext(ms: number): void {
    this.delays.push(ms);
  }

  /** The events stored for `stream`, once each, in the order they were first stored. */
  storedEvents(stream: string): Record<string, unknown>[] {
    return [...(this.stored.get(stream)?.values() ?? [])];
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const match = /^\/v1\/streams\/([^/]+)\/events$/.exec(req.url ?? '');
    const stream = match?.[1] === undefined ? '' : decodeURIComponent(match[1]);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const request: ReceivedRequest = { stream, events: Array.isArray(parsed) ? (parsed as Record<string, unknown>[]) : [], at: performance.now(), status: 0 };
    this.requests.push(request);
    const concurrent = (this.inFlight.get(stream) ?? 0) + 1;
    this.inFlight.set(stream, concurrent);
    this.maxConcurrentPerStream = Math.max(this.maxConcurrentPerStream, concurrent);
    try {
      const delay = this.delays.shift() ?? this.delayMs;
      if (delay > 0) await sleep(delay);
      const answer = this.answer(req, match !== null, stream, body, parsed);
      request.status = answer.status;
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(answer.body ?? {}));
    } finally {
      this.inFlight.set(stream, (this.inFlight.get(stream) ?? 1) - 1);
    }
  }

  private answer(req: IncomingMessage, routed: boolean, stream: string, body: Buffer, parsed: unknown): Answer {
    const error = (status: number, code: string, message: string, details?: unknown[]): Answer => ({ status, body: { error: { code, message, details } } });
    if (req.method !== 'POST' || !routed) return error(404, 'not_found', 'no such route');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return error(401, 'unauthorized', 'bad token');
    if (req.headers['content-type'] !== 'application/json') return error(415, 'unsupported_media_type', 'JSON only');
    if (stream.startsWith('unknown')) return error(404, 'unknown_stream', `no stream "${stream}"`);
    const scripted = this.scripted.shift();
    if (scripted !== undefined) return scripted;
    if (this.failEvery !== undefined && this.requests.length % this.failEvery.n === 0) return error(this.failEvery.status, 'flaky', 'failing on purpose');
    if (body.length > this.maxBodyBytes) return error(413, 'payload_too_large', `body over ${this.maxBodyBytes} bytes`);
    if (!Array.isArray(parsed)) return error(400, 'invalid_body', 'expected a JSON array');
    if (parsed.length > this.maxEvents) return error(413, 'too_many_events', `over ${this.maxEvents} events`);
    const events = parsed as Record<string, unknown>[];
    const details = events.flatMap((event, index) => [
      ...(typeof event._event_id === 'string' ? [] : [{ index, field: '_event_id', message: 'must be a string' }]),
      ...('amount' in event && typeof event.amount !== 'number' ? [{ index, field: 'amount', message: 'must be a number' }] : []),
    ]);
    if (details.length > 0) return error(400, 'invalid_events', `${details.length} invalid event(s)`, details);
    let store = this.stored.get(stream);
    if (store === undefined) this.stored.set(stream, (store = new Map()));
    for (const event of events) if (!store.has(event._event_id as string)) store.set(event._event_id as string, event);
    return { status: 200, body: { accepted: events.length, ids: events.map((e) => e._event_id) } };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

function ids(request: ReceivedRequest | undefined): unknown[] {
  return request?.events.map((e) => e._event_id) ?? [];
}

describe('createFlywheelClient', () => {
  let api: FakeLogApi;
  let errors: FlywheelClientError[];

  beforeEach(async () => {
    api = new FakeLogApi();
    errors = [];
    await api.start();
  });
  afterEach(async () => {
    await api.stop();
  });

  /** A client of the fake with test-sized timings; `overrides` win. */
  function connect(overrides: Partial<FlywheelClientOptions> = {}): FlywheelClient {
    return createFlywheelClient({
      url: api.url,
      token: TOKEN,
      flushIntervalMs: 50,
      retryBaseDelayMs: 10,
      retryMaxDelayMs: 50,
      onError: (error) => errors.push(error),
      ...overrides,
    });
  }

  describe('batching', () => {
    it('sends a batch as soon as a stream has maxBatchSize events, the rest on flush', async () => {
      const client = connect({ maxBatchSize: 3, flushIntervalMs: 60_000 });
      for (let n = 0; n < 7; n++) expect(client.log('decisions', { n })).toBe(true);
      await waitFor(() => api.storedEvents('decisions').length === 6);
      await sleep(100);
      expect(api.requests.map((r) => r.events.length)).toEqual([3, 3]);
      expect(client.stats()).toMatchObject({ buffered: 1, sent: 6 });

      await client.flush();
      expect(api.requests.map((r) => r.events.length)).toEqual([3, 3, 1]);
      expect(api.storedEvents('decisions').map((e) => e.n)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(client.stats()).toEqual({ buffered: 0, sent: 7, dropped: 0, failed: 0, retries: 0 });
      await client.close();
    });

    it('sends a partial batch flushIntervalMs after its first event, with what arrived meanwhile', async () => {
      const client = connect({ flushIntervalMs: 150 });
      const start = performance.now();
      client.log('decisions', { n: 0 });
      await sleep(50);
      client.log('decisions', { n: 1 });
      await waitFor(() => api.requests.length === 1);
      const waited = api.requests[0]!.at - start;
      expect(waited).toBeGreaterThanOrEqual(140);
      expect(waited).toBeLessThan(1000);
      expect(api.requests[0]!.events.map((e) => e.n)).toEqual([0, 1]);
      await client.close();
    });

    it('keeps batches under maxBatchBytes', async () => {
      const client = connect({ maxBatchBytes: 200, flushIntervalMs: 60_000 });
      for (let n = 0; n < 10; n++) client.log('decisions', { n, pad: 'x'.repeat(20) });
      await client.flush();
      const sizes = api.requests.map((r) => Buffer.byteLength(JSON.stringify(r.events)));
      expect(Math.max(...sizes)).toBeLessThanOrEqual(200);
      expect(api.requests.every((r) => r.status === 200)).toBe(true);
      expect(api.storedEvents('decisions').map((e) => e.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      await client.close();
    });
  });

  it('keeps each stream in order with one request in flight per stream, through failures', async () => {
    api.delayMs = 3;
    api.failEvery = { n: 4, status: 503 };
    const client = connect({ maxBatchSize: 64, flushIntervalMs: 5, maxRetries: 20 });
    for (let n = 0; n < 1500; n++) {
      client.log('decisions', { n });
      client.log('outcomes', { n });
      if (n % 100 === 0) await sleep(1);
    }
    await client.close();
    for (const stream of ['decisions', 'outcomes']) {
      expect(api.storedEvents(stream).map((e) => e.n)).toEqual(Array.from({ length: 1500 }, (_, n) => n));
    }
    expect(api.maxConcurrentPerStream).toBe(1);
    expect(client.stats()).toMatchObject({ buffered: 0, sent: 3000, failed: 0 });
    expect(client.stats().retries).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });

  describe('retries', () => {
    it('retries a batch on 503 with the same events and ids, within the backoff ceilings', async () => {
      api.failNext(4, 503);
      const client = connect({ retryBaseDelayMs: 40, retryMaxDelayMs: 160 });
      for (let n = 0; n < 5; n++) client.log('decisions', { n });
      await client.flush();

      expect(api.requests.map((r) => r.status)).toEqual([503, 503, 503, 503, 200]);
      // Ids are assigned once, at log(): every attempt carries the same ones.
      const first = ids(api.requests[0]);
      expect(new Set(first).size).toBe(5);
      for (const request of api.requests) expect(ids(request)).toEqual(first);
      // Full jitter: each wait is at most min(max, base * 2^retry), plus scheduling slack.
      const ceilings = [40, 80, 160, 160];
      api.requests.slice(1).forEach((request, i) => expect(request.at - api.requests[i]!.at).toBeLessThan(ceilings[i]! + 100));
      expect(api.storedEvents('decisions')).toHaveLength(5);
      expect(client.stats()).toEqual({ buffered: 0, sent: 5, dropped: 0, failed: 0, retries: 4 });
      expect(errors).toEqual([]);
      await client.close();
    });

    it('waits as long as Retry-After says on 429', async () => {
      api.failNext(1, 429, { 'retry-after': '1' });
      const client = connect();
      client.log('decisions', { n: 0 });
      await client.flush();
      expect(api.requests.map((r) => r.status)).toEqual([429, 200]);
      expect(api.requests[1]!.at - api.requests[0]!.at).toBeGreaterThanOrEqual(990);
      await client.close();
    });

    it('retries while connections are refused and delivers once the server is back', async () => {
      const port = api.port;
      await api.stop();
      const client = connect({ maxRetries: 100, retryBaseDelayMs: 10, retryMaxDelayMs: 40 });
      for (let n = 0; n < 3; n++) client.log('decisions', { n });
      await waitFor(() => client.stats().retries >= 3);
      expect(client.stats()).toMatchObject({ buffered: 3, sent: 0 });

      await api.start(port);
      await client.flush();
      expect(api.storedEvents('decisions').map((e) => e.n)).toEqual([0, 1, 2]);
      expect(client.stats()).toMatchObject({ buffered: 0, sent: 3, failed: 0 });
      expect(errors).toEqual([]);
      await client.close();
    });

    it('gives up after maxRetries and reports the batch as failed', async () => {
      const port = api.port;
      await api.stop();
      const client = createFlywheelClient({ url: `http://127.0.0.1:${port}`, token: TOKEN, maxRetries: 2, retryBaseDelayMs: 5, onError: (e) => errors.push(e) });
      client.log('decisions', { n: 0 });
      client.log('decisions', { n: 1 });
      await client.flush();
      expect(client.stats()).toEqual({ buffered: 0, sent: 0, dropped: 0, failed: 2, retries: 2 });
      expect(errors).toHaveLength(1);
      const error = errors[0] as DeliveryFailedError;
      expect(error).toBeInstanceOf(DeliveryFailedError);
      expect(error).toMatchObject({ stream: 'decisions', attempts: 3, status: undefined });
      expect(error.events.map((e) => JSON.parse(e).n)).toEqual([0, 1]);
      expect(error.message).toMatch(/ECONNREFUSED/);
      await client.close();
    });

    it('retries a request that timed out; the server dedupes the events it got twice', async () => {
      api.delayNext(400);
      const client = connect({ requestTimeoutMs: 100 });
      client.log('decisions', { n: 0 });
      client.log('decisions', { n: 1 });
      await client.flush();
      await waitFor(() => api.requests.every((r) => r.status !== 0)); // the slow request stores too
      expect(api.requests).toHaveLength(2);
      expect(ids(api.requests[1])).toEqual(ids(api.requests[0]));
      expect(api.storedEvents('decisions').map((e) => e.n)).toEqual([0, 1]);
      expect(client.stats()).toMatchObject({ sent: 2, retries: 1, failed: 0 });
      await client.close();
    });
  });

  describe('refusals', () => {
    it('does not retry a 400; reports the server details and counts the batch as failed', async () => {
      const client = connect();
      client.log('payments', { amount: 1 });
      client.log('payments', { amount: 'ten' });
      client.log('payments', { amount: 3 });
      await client.flush();
      expect(api.requests).toHaveLength(1);
      expect(api.storedEvents('payments')).toEqual([]);
      expect(client.stats()).toEqual({ buffered: 0, sent: 0, dropped: 0, failed: 3, retries: 0 });
      expect(errors).toHaveLength(1);
      const error = errors[0] as EventsRejectedError;
      expect(error).toBeInstanceOf(EventsRejectedError);
      expect(error).toMatchObject({ stream: 'payments', status: 400, code: 'invalid_events', details: [{ index: 1, field: 'amount', message: 'must be a number' }] });
      expect(JSON.parse(error.events[1]!)).toMatchObject({ amount: 'ten' });

      // The stream goes on with the next batch.
      client.log('payments', { amount: 4 });
      await client.flush();
      expect(api.storedEvents('payments').map((e) => e.amount)).toEqual([4]);
      await client.close();
    });

    it('does not retry 401 (bad token) nor 404 (unknown stream)', async () => {
      const badToken = connect({ token: 'wrong' });
      badToken.log('decisions', { n: 0 });
      await badToken.close();
      const client = connect();
      client.log('unknown_stream', { n: 0 });
      await client.close();
      expect(api.requests.map((r) => r.status)).toEqual([401, 404]);
      expect(errors.map((e) => [e.constructor, (e as EventsRejectedError).status, (e as EventsRejectedError).code])).toEqual([
        [EventsRejectedError, 401, 'unauthorized'],
        [EventsRejectedError, 404, 'unknown_stream'],
      ]);
      expect(badToken.stats().failed + client.stats().failed).toBe(2);
    });

    it('splits a batch refused with 413 in halves until they pass, keeping the order', async () => {
      api.maxEvents = 3;
      const client = connect({ maxBatchSize: 8, flushIntervalMs: 60_000 });
      for (let n = 0; n < 8; n++) client.log('decisions', { n });
      await client.flush();
      expect(api.requests.map((r) => [r.events.length, r.status])).toEqual([
        [8, 413], [4, 413], [2, 200], [2, 200], [4, 413], [2, 200], [2, 200],
      ]);
      expect(api.storedEvents('decisions').map((e) => e.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(client.stats()).toMatchObject({ sent: 8, failed: 0, retries: 0 });
      await client.close();
    });

    it('fails a single event the server finds too large, and delivers its neighbours', async () => {
      api.maxBodyBytes = 500;
      const client = connect({ flushIntervalMs: 60_000 });
      client.log('decisions', { n: 0 });
      client.log('decisions', { n: 1, blob: 'x'.repeat(1000) });
      client.log('decisions', { n: 2 });
      await client.flush();
      expect(api.storedEvents('decisions').map((e) => e.n)).toEqual([0, 2]);
      expect(client.stats()).toMatchObject({ sent: 2, failed: 1 });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ status: 413, code: 'payload_too_large' });
      expect(JSON.parse((errors[0] as EventsRejectedError).events[0]!)).toMatchObject({ n: 1 });
      await client.close();
    });
  });

  it('drops the newest events when the buffer is full, counts them, and reports at most once a second', async () => {
    api.delayMs = 150;
    const client = connect({ maxBufferedEvents: 5, flushIntervalMs: 0 });
    const accepted = Array.from({ length: 8 }, (_, n) => client.log('decisions', { n }));
    expect(accepted).toEqual([true, true, true, true, true, false, false, false]);
    expect(client.stats()).toMatchObject({ buffered: 5, dropped: 3 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(BufferFullError);
    expect(errors[0]).toMatchObject({ stream: 'decisions', maxBufferedEvents: 5, droppedSinceLastReport: 1 });

    await client.flush();
    expect(api.storedEvents('decisions').map((e) => e.n)).toEqual([0, 1, 2, 3, 4]);
    expect(client.log('decisions', { n: 8 })).toBe(true);

    // A second overflow more than a second after the first report is reported, with the drops
    // that went unreported in between.
    await sleep(1000);
    for (let n = 9; n < 15; n++) client.log('decisions', { n });
    expect(client.stats()).toMatchObject({ buffered: 5, dropped: 4 });
    expect(errors).toHaveLength(2);
    expect(errors[1]).toMatchObject({ droppedSinceLastReport: 3 });
    await client.close();
    expect(client.stats()).toEqual({ buffered: 0, sent: 11, dropped: 4, failed: 0, retries: 0 });
  });

  describe('flush and close', () => {
    it('flush waits for what was logged before it, not after', async () => {
      const client = connect({ flushIntervalMs: 60_000 });
      await client.flush(); // nothing buffered: resolves at once

      api.delayMs = 200;
      client.log('decisions', { n: 0 });
      const flushed = client.flush();
      await sleep(20); // the batch of n: 0 is in flight
      client.log('decisions', { n: 1 });
      await flushed;
      expect(api.storedEvents('decisions').map((e) => e.n)).toEqual([0]);
      expect(client.stats()).toMatchObject({ buffered: 1, sent: 1 });
      await client.close();
      expect(api.storedEvents('decisions').map((e) => e.n)).toEqual([0, 1]);
    });

    it('close delivers what is buffered without waiting for the interval; log afterwards returns false', async () => {
      const client = connect({ flushIntervalMs: 60_000 });
      client.log('decisions', { n: 0 });
      client.log('outcomes', { n: 0 });
      const start = performance.now();
      const closed = client.close();
      expect(client.log('decisions', { n: 1 })).toBe(false);
      await closed;
      expect(performance.now() - start).toBeLessThan(1000);
      expect(api.storedEvents('decisions')).toHaveLength(1);
      expect(api.storedEvents('outcomes')).toHaveLength(1);
      expect(client.log('decisions', { n: 2 })).toBe(false);
      await client.close(); // idempotent
      await client.flush();
      expect(client.stats()).toEqual({ buffered: 0, sent: 2, dropped: 2, failed: 0, retries: 0 });
      expect(errors).toEqual([]); // drops after close are counted, not reported
      expect(api.requests).toHaveLength(2);
    });
  });

  describe('events', () => {
    it('gives each event a UUIDv7 _event_id once, keeps one it has, and leaves the caller’s object alone', async () => {
      const client = connect();
      const event = { n: 0 };
      client.log('decisions', event);
      client.log('decisions', { n: 1, _event_id: 'my-own-id' });
      await client.flush();
      expect(event).toEqual({ n: 0 });
      const [first, second] = api.storedEvents('decisions');
      expect(first!._event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(second!._event_id).toBe('my-own-id');
      await client.close();
    });

    it('refuses events that are not JSON objects, without throwing', async () => {
      const client = connect();
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const log = client.log as (stream: unknown, event: unknown) => boolean;
      expect(log('decisions', null)).toBe(false);
      expect(log('decisions', [1, 2])).toBe(false);
      expect(log('decisions', circular)).toBe(false);
      expect(log('decisions', { big: 1n })).toBe(false);
      expect(log('', { n: 0 })).toBe(false);
      expect(client.stats()).toMatchObject({ buffered: 0, failed: 5 });
      expect(errors.every((e) => e instanceof InvalidEventError)).toBe(true);
      expect(errors).toHaveLength(5);
      await client.close();
      expect(api.requests).toEqual([]);
    });

    it('keeps delivering when onError throws', async () => {
      const client = connect({
        onError: () => {
          throw new Error('handler bug');
        },
      });
      client.log('unknown_stream', { n: 0 });
      client.log('decisions', { n: 0 });
      await client.close();
      expect(client.stats()).toMatchObject({ sent: 1, failed: 1 });
    });
  });

  it('checks its options', () => {
    expect(() => createFlywheelClient({ url: 'not a url', token: TOKEN })).toThrow(ClientOptionsError);
    expect(() => createFlywheelClient({ url: api.url, token: '' })).toThrow(/token/);
    expect(() => createFlywheelClient({ url: api.url, token: TOKEN, maxBatchSize: 0 })).toThrow(/maxBatchSize/);
  });

  it('keeps a path prefix of the base URL', async () => {
    const seen: string[] = [];
    const client = connect({
      url: `${api.url}/prefix/`,
      fetch: (input, init) => {
        seen.push(String(input));
        return fetch(String(input).replace('/prefix', ''), init);
      },
    });
    client.log('a stream', { n: 0 });
    await client.close();
    expect(seen).toEqual([`${api.url}/prefix/v1/streams/a%20stream/events`]);
    expect(api.storedEvents('a stream')).toHaveLength(1);
  });
});

describe('retryDelayMs', () => {
  const policy = { baseDelayMs: 100, maxDelayMs: 10_000 };

  it('draws uniformly below a ceiling that doubles per retry up to the maximum (full jitter)', () => {
    expect([0, 1, 2, 3, 6, 7, 20].map((retry) => retryDelayMs(retry, policy, undefined, () => 0.999))).toEqual([99, 199, 399, 799, 6393, 9990, 9990]);
    expect(retryDelayMs(5, policy, undefined, () => 0)).toBe(0);
    expect(retryDelayMs(5, policy, undefined, () => 0.5)).toBe(1600);
  });

  it('waits at least Retry-After, up to a cap', () => {
    expect(retryDelayMs(0, policy, 2000, () => 0.5)).toBe(2000);
    expect(retryDelayMs(7, policy, 2000, () => 0.5)).toBe(5000);
    expect(retryDelayMs(0, policy, 3_600_000, () => 0)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('reads Retry-After in seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('uuidv7', () => {
  it('makes unique version-7 ids that sort in the order they were made', () => {
    const made = Array.from({ length: 10_000 }, () => uuidv7());
    expect(new Set(made).size).toBe(made.length);
    expect([...made].sort()).toEqual(made);
    for (const id of made.slice(0, 100)) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('puts the millisecond timestamp first and stays ordered when the clock goes back', () => {
    // Later than the clock, so the id takes this timestamp rather than the last one used.
    const at = Date.parse('2099-03-01T12:00:00Z');
    const id = uuidv7(at);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    const later = uuidv7(at - 5_000);
    expect(later > id).toBe(true);
  });
});
