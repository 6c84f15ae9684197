import { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { routePath } from 'hono/route';
import { ApiError, toApiError } from './api-errors.ts';
import { allows, scopesOfHeader, type TokenTable } from './auth/bearer-tokens.ts';
import type { ServerMetrics } from './metrics.ts';
import { healthBody, readinessChecks } from './operations.ts';
import { readBody } from './read-body.ts';
import type { FeatureServing } from './serving/feature-serving.ts';
import type { DecisionApi } from './decide/decision-api.ts';
import type { StreamLogFailure, StreamLogStats } from '../connectors/log-store/segment-log/index.ts';
import type { OnlinePushStats } from './push/online-push.ts';
import type { AcceptedBatch, StreamIngest } from './stream-ingest.ts';
import type { EventIssue } from './validation/event-validator.ts';
import { parseBatch, type BodyFormat } from './validation/parse-body.ts';

export interface LogApiLimits {
  /** Largest request body in bytes. Default 10 MiB. */
  readonly maxBodyBytes: number;
  /** Most events in one request. Default 10,000. */
  readonly maxBatchEvents: number;
}

export const DEFAULT_LIMITS: LogApiLimits = { maxBodyBytes: 10 * 1024 * 1024, maxBatchEvents: 10_000 };

export interface LogAppDeps {
  readonly streams: ReadonlyMap<string, StreamIngest>;
  readonly tokens: TokenTable;
  readonly limits: LogApiLimits;
  /** True once shutdown began: requests are refused with 503 and connections closed. */
  readonly isShuttingDown?: () => boolean;
  /** Counters of the segment log, per stream, shown by /healthz. */
  readonly logStats?: () => Readonly<Record<string, StreamLogStats>>;
  /** Counters of the online push (pushed features), shown by /healthz when the server pushes. */
  readonly pushStats?: () => OnlinePushStats;
  /** Counters of the decision log (logged services), shown by /healthz. */
  readonly decisionStats?: () => Readonly<Record<string, number>>;
  /** Streams whose segment log failed and refuses events now: /readyz answers 503 while any does. */
  readonly logFailures?: () => Readonly<Record<string, StreamLogFailure>>;
  /** The serving API (`POST /v1/features`, docs/serving.md), when the server has an online store. */
  readonly serving?: FeatureServing;
  /** The decision API (`POST /v1/decide`, docs/decide.md), when the project has models; its model versions show in /readyz. */
  readonly decide?: DecisionApi;
  /** Prometheus metrics: observed for every request and shown by `GET /metrics`. */
  readonly metrics?: ServerMetrics;
}

/**
 * The log API as a Hono app (docs/collect-api.md), and the serving API when given (docs/serving.md):
 *
 * - `POST /v1/streams/:stream/events` — a JSON array or NDJSON batch; answers once it is durable;
 * - `POST /v1/features` — feature values from the online store (with `serving`);
 * - `GET /healthz`, `GET /readyz`, `GET /metrics` (with `metrics`).
 */
export function createLogApp(deps: LogAppDeps): Hono {
  const app = new Hono();
  const shuttingDown = deps.isShuttingDown ?? (() => false);
  const { metrics, serving } = deps;

  if (metrics) {
    app.use(async (c, next) => {
      const start = performance.now();
      await next();
      metrics.observeRequest(routeOf(c), c.req.method, c.res.status, (performance.now() - start) / 1000);
    });
  }

  app.use(async (c, next) => {
    if (shuttingDown()) {
      c.header('Connection', 'close');
      if (!OPERATIONS_PATHS.has(c.req.path)) throw new ApiError('shutting_down', 'the server is shutting down; retry on another instance or in a moment');
    }
    await next();
  });

  // No token needed; stream names, and where and why a store fails, only for a valid token (server/operations.ts).
  const withToken = (c: Context) => scopesOfHeader(deps.tokens, c.req.header('authorization')) !== undefined;
  app.get('/healthz', (c) => c.json(healthBody(deps, shuttingDown(), withToken(c)), shuttingDown() ? 503 : 200));

  // Ready to take traffic: not stopping, every stream's segment log writable, the online store answering.
  app.get('/readyz', async (c) => {
    const checks = await readinessChecks(deps, shuttingDown(), withToken(c));
    const ready = Object.values(checks).every((check) => check === 'ok');
    // A model whose promoted version failed to load does not make the server unready: its last good version serves.
    const models = deps.decide ? { models: deps.decide.modelStatus(withToken(c)) } : {};
    return c.json({ status: ready ? 'ready' : 'not_ready', checks, ...models }, ready ? 200 : 503);
  });

  if (metrics) {
    app.get('/metrics', async (c) => {
      const { text, contentType } = await metrics.exposition();
      return c.body(text, 200, { 'content-type': contentType });
    });
  }

  if (serving) app.post('/v1/features', (c) => serving.handle(c));
  const decide = deps.decide;
  if (decide) app.post('/v1/decide', (c) => decide.handle(c));

  app.post('/v1/streams/:stream/events', async (c) => {
    const name = c.req.param('stream');
    authorize(c, deps.tokens, name);
    const stream = deps.streams.get(name);
    if (!stream) throw new ApiError('unknown_stream', `no event stream "${name}"; the streams are ${[...deps.streams.keys()].join(', ') || '(none)'}`);
    // A decision stream holds what was served: taking events for it over HTTP would let a client forge decisions.
    if (stream.schema.loggedBy !== undefined) {
      throw new ApiError('forbidden', `stream "${name}" is the decision log of feature service "${stream.schema.loggedBy}": only the serving path (POST /v1/features) writes it, so that logged decisions cannot be forged; no token may post events to it`);
    }
    const withIds = idsOption(c.req.query('ids'));
    const format = bodyFormat(c.req.header('content-type'));
    const receivedAt = new Date().toISOString();
    const body = await readBody(c.req.raw, deps.limits.maxBodyBytes, incomingOf(c));
    const accepted = acceptBatch(stream, body, format, deps.limits.maxBatchEvents, receivedAt);
    // Serialized before waiting, so the ids need not outlive the fsync.
    const answer = `{"accepted":${accepted.events},"duplicates":${accepted.duplicates}${withIds ? `,"ids":${accepted.idsJson()}` : ''}}`;
    await accepted.durable;
    return c.body(answer, 200, { 'content-type': 'application/json' });
  });

  app.notFound((c) => {
    const features = serving ? ', feature values come from POST /v1/features' : '';
    const error = new ApiError('not_found', `no route ${c.req.method} ${c.req.path}; events go to POST /v1/streams/<stream>/events${features}`);
    return c.json(error.toBody(), error.status);
  });

  app.onError((raw, c) => {
    const error = toApiError(raw);
    if (error.code === 'internal') process.stderr.write(`log API: ${c.req.method} ${c.req.path}: ${raw.stack ?? raw.message}\n`);
    if (error.code === 'unauthorized') c.header('WWW-Authenticate', 'Bearer realm="flywheel"');
    return c.json(error.toBody(), error.status);
  });

  return app;
}

/** Answered while shutting down too (with their own status), so probes see the server stop. */
const OPERATIONS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** The matched route's pattern (`/v1/streams/:stream/events`) for metrics; `unmatched` when no route matched. */
function routeOf(c: Context): string {
  const route = routePath(c, -1);
  return route === '*' || route === '/*' ? 'unmatched' : route;
}

function authorize(c: Context, tokens: TokenTable, stream: string): void {
  const header = c.req.header('authorization');
  const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match) throw new ApiError('unauthorized', 'missing bearer token; send Authorization: Bearer <token>');
  const scopes = tokens.scopesOf(match[1]!);
  if (!scopes) throw new ApiError('unauthorized', 'unknown token');
  if (!allows(scopes, 'write', stream)) throw new ApiError('forbidden', `this token may not write to stream "${stream}"`);
}

function bodyFormat(contentType: string | undefined): BodyFormat {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'application/json') return 'json';
  if (mediaType === 'application/x-ndjson' || mediaType === 'application/ndjson' || mediaType === 'application/jsonl') return 'ndjson';
  throw new ApiError(
    'unsupported_media_type',
    `Content-Type must be application/json (an array of events) or application/x-ndjson (one event per line), got ${contentType ? JSON.stringify(contentType) : 'none'}`,
  );
}

function idsOption(value: string | undefined): boolean {
  if (value === undefined || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ApiError('bad_query', `ids must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * Accepts a body (synchronously: nothing of the parsed batch outlives this call but the ids): a JSON
 * array by the fast path when it takes it, else parsed and accepted or refused with its problems.
 */
function acceptBatch(stream: StreamIngest, body: Buffer, format: BodyFormat, maxEvents: number, receivedAt: string): AcceptedBatch {
  const fast = format === 'json' ? stream.acceptJsonArray(body, maxEvents, receivedAt) : undefined;
  if (fast) return fast;
  const batch = parseBatch(body.toString('utf8'), format, maxEvents, body);
  try {
    return stream.accept(batch, receivedAt);
  } catch (error) {
    throw withLines(toApiError(error), batch.lines);
  }
}

/** The Node request under @hono/node-server (read directly: faster than its web stream), else undefined. */
function incomingOf(c: Context): IncomingMessage | undefined {
  const env = c.env as { incoming?: unknown } | undefined;
  return env?.incoming instanceof IncomingMessage ? env.incoming : undefined;
}

/** For NDJSON, each problem also names the line its event was on. */
function withLines(error: ApiError, lines: readonly number[] | undefined): ApiError {
  if (error.code !== 'invalid_events' || !lines) return error;
  const issues = error.details as readonly EventIssue[];
  return new ApiError(error.code, error.message, issues.map((issue) => ({ ...issue, line: lines[issue.index] })));
}
