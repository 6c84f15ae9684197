import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, ServerResponse } from 'node:http';
import { toApiError } from './api-errors.ts';
import type { ServerMetrics } from './metrics.ts';
import { postEvents, type PostEventsDeps } from './post-events.ts';
import { readIncomingBody } from './read-body.ts';

/**
 * `POST /v1/streams/:stream/events` taken on Node's request and response before the Hono app sees
 * it, as `POST /v1/features` is (server/serving/features-route.ts): under Hono each request also
 * built a web Request, a Context and a Response and copied the answer through them, about a sixth
 * of the log server's busy CPU at batches of 100 (bench/log-api.ts under `--cpu-prof`). Both call
 * `postEvents`, so the checks, their order and the answers are the same; the error answers are
 * built as the app's error handler builds them (status, `WWW-Authenticate` for a 401, the same JSON).
 *
 * Only plain requests are taken: a stream name without percent-escapes, and no query string or only
 * `ids=<letters or digits>`. Anything else (and every request while the server shuts down, so the
 * app answers 503 as for every route) goes to the app, whose routing and decoding then decide.
 */
export const EVENTS_ROUTE = '/v1/streams/:stream/events';
const PREFIX = '/v1/streams/';
const SUFFIX = '/events';

export interface EventsRouteOptions {
  readonly metrics?: ServerMetrics;
  readonly isShuttingDown: () => boolean;
}

export function withEventsRoute(deps: PostEventsDeps, options: EventsRouteOptions, app: RequestListener): RequestListener {
  const { metrics, isShuttingDown } = options;
  return (req: IncomingMessage, res: ServerResponse) => {
    const route = req.method === 'POST' ? plainEventsRequest(req.url ?? '') : undefined;
    if (route === undefined || isShuttingDown()) {
      app(req, res);
      return;
    }
    const start = performance.now();
    void answer(deps, req, res, route).then((status) => metrics?.observeRequest(EVENTS_ROUTE, 'POST', status, (performance.now() - start) / 1000));
  };
}

/** The stream and `ids` of a plain events request's URL; undefined for any other URL (the app's to answer). */
export function plainEventsRequest(url: string): { stream: string; ids: string | undefined } | undefined {
  if (!url.startsWith(PREFIX)) return undefined;
  const slash = url.indexOf('/', PREFIX.length);
  if (slash <= PREFIX.length || !url.startsWith(SUFFIX, slash)) return undefined;
  const stream = url.slice(PREFIX.length, slash);
  if (stream.includes('%')) return undefined;
  const end = slash + SUFFIX.length;
  if (end === url.length) return { stream, ids: undefined };
  if (url.charCodeAt(end) !== 0x3f /* ? */) return undefined;
  const query = url.slice(end + 1);
  if (!query.startsWith('ids=') || !/^[A-Za-z0-9]*$/.test(query.slice(4))) return undefined;
  return { stream, ids: query.slice(4) };
}

/** Answers one request; never rejects; resolves with the status sent. */
async function answer(deps: PostEventsDeps, req: IncomingMessage, res: ServerResponse, route: { stream: string; ids: string | undefined }): Promise<number> {
  let status = 200;
  let body: string;
  const headers: OutgoingHttpHeaders = { 'content-type': 'application/json' };
  try {
    body = await postEvents(deps, {
      stream: route.stream, authorization: req.headers.authorization, contentType: req.headers['content-type'], ids: route.ids,
      readBody: (limit) => readIncomingBody(req, limit),
    });
  } catch (raw) {
    // As the app's error handler answers (server/app.ts).
    const error = toApiError(raw);
    if (error.code === 'internal') process.stderr.write(`log API: POST ${(req.url ?? '').split('?')[0]}: ${(raw as Error).stack ?? (raw as Error).message}\n`);
    if (error.code === 'unauthorized') headers['www-authenticate'] = 'Bearer realm="flywheel"';
    status = error.status;
    body = JSON.stringify(error.toBody());
  }
  headers['content-length'] = Buffer.byteLength(body);
  try {
    res.writeHead(status, headers).end(body);
  } catch {
    // The connection is gone (or the answer half sent): nothing more can be said to this client.
    res.destroy();
  }
  return status;
}
