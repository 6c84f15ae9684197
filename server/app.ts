import { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { routePath } from 'hono/route';
import { ApiError, toApiError } from './api-errors.ts';
import { scopesOfHeader, type TokenTable } from './auth/bearer-tokens.ts';
import type { ServerMetrics } from './metrics.ts';
import { healthBody, readinessChecks } from './operations.ts';
import { readBody } from './read-body.ts';
import type { FeatureServing } from './serving/feature-serving.ts';
import type { DecisionApi } from './decide/decision-api.ts';
import type { StreamLogFailure, StreamLogStats } from '../connectors/log-store/segment-log/index.ts';
import type { OnlinePushStats } from './push/online-push.ts';
import type { StreamIngest } from './stream-ingest.ts';
import { postEvents } from './post-events.ts';

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

  // Taken on Node's request before the app while the server runs (server/events-route.ts); both call postEvents.
  app.post('/v1/streams/:stream/events', async (c) => {
    const answer = await postEvents(deps, {
      stream: c.req.param('stream'), authorization: c.req.header('authorization'), contentType: c.req.header('content-type'), ids: c.req.query('ids'),
      readBody: (limit) => readBody(c.req.raw, limit, incomingOf(c)),
    });
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

/** The Node request under @hono/node-server (read directly: faster than its web stream), else undefined. */
function incomingOf(c: Context): IncomingMessage | undefined {
  const env = c.env as { incoming?: unknown } | undefined;
  return env?.incoming instanceof IncomingMessage ? env.incoming : undefined;
}
