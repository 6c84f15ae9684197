import { Hono, type Context } from 'hono';
import { allows, scopesOfHeader, type TokenTable } from '../auth/bearer-tokens.ts';
import { ConfigError, DefinitionError, FlywheelError, NotFoundError } from '../../core/errors.ts';
import { NothingAppliedYetError } from './api/applied.ts';
import { featureViewPage, UnknownFeatureError } from './api/feature-view-page.ts';
import { labelsPage } from './api/labels-page.ts';
import { loopPage } from './api/loop-page.ts';
import { definitionPage, projectOverview, runsPage } from './api/other-pages.ts';
import { planPage } from './api/plan-page.ts';
import { streamPage, streamsList } from './api/streams-page.ts';
import { trainingSetPage } from './api/training-set-page.ts';
import { createStaticAssets, type StaticAssets } from './static-assets.ts';
import type { UiSources } from './ui-sources.ts';

/**
 * The UI's HTTP app (docs/ui.md): a read-only JSON API under `/api/` and the built frontend.
 *
 * - `GET /api/project`, `/api/loop`, `/api/feature-views/:name`, `/api/training-sets/:name`,
 *   `/api/labels/:name`, `/api/streams`, `/api/streams/:name`, `/api/runs`, `/api/plan`,
 *   `/api/definitions/:kind/:name`: each needs a bearer token with the `read` scope (`read` or
 *   `read:*`, as FLYWHEEL_TOKENS gives the other routes; server/auth/bearer-tokens.ts);
 * - every other GET: a file of the frontend, or its index.html for a page path. The files hold no
 *   data, so they need no token: the page asks for it and sends it with each API call.
 *
 * Errors are `{ "error": { "code", "message" } }`, as on the log API.
 */
export interface UiAppOptions {
  readonly sources: UiSources;
  readonly tokens: TokenTable;
  /** The built frontend's folder (with index.html); undefined: the API only, and pages answer 404 saying how to build it. */
  readonly assetsDir: string | undefined;
  /** The files of `assetsDir`, already warmed (startUiServer); default: made here, read on first request. */
  readonly staticAssets?: StaticAssets;
}

export const UI_ERROR_STATUS = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  not_applied: 404,
  bad_request: 400,
  invalid_definitions: 400,
  method_not_allowed: 405,
  unavailable: 503,
  internal: 500,
} as const;

export type UiErrorCode = keyof typeof UI_ERROR_STATUS;

class UiHttpError extends Error {
  constructor(readonly code: UiErrorCode, message: string) {
    super(message);
  }
}

export function createUiApp(options: UiAppOptions): Hono {
  const { sources, tokens } = options;
  const app = new Hono();
  const assets = options.staticAssets ?? (options.assetsDir ? createStaticAssets(options.assetsDir) : undefined);

  app.use('*', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    if (!c.req.path.startsWith('/api/')) {
      // Inline styles: the charts and the graph set them on their elements; no inline script, no other origin.
      c.header('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'");
    }
  });

  app.use('/api/*', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') throw new UiHttpError('method_not_allowed', 'the UI API is read-only: GET only');
    const header = c.req.header('authorization');
    if (!header) throw new UiHttpError('unauthorized', 'missing bearer token; send Authorization: Bearer <token> (a token with the read scope)');
    const scopes = scopesOfHeader(tokens, header);
    if (!scopes) throw new UiHttpError('unauthorized', 'unknown token');
    if (!allows(scopes, 'read', '*')) throw new UiHttpError('forbidden', 'this token may not read: the UI needs the read scope (read or read:*)');
    c.header('Cache-Control', 'no-store');
    const started = performance.now();
    await next();
    // How long the answer took to compute, for the browser's resource timing (test/ui-browser.test.ts prints it).
    c.header('Server-Timing', `app;dur=${(performance.now() - started).toFixed(1)}`);
  });

  const query = (c: Context, name: string) => c.req.query(name) || undefined;
  app.get('/api/project', async (c) => c.json(await projectOverview(sources)));
  app.get('/api/loop', async (c) => c.json(await loopPage(sources)));
  app.get('/api/feature-views/:name', async (c) => c.json(await featureViewPage(sources, c.req.param('name'), query(c, 'feature'))));
  app.get('/api/training-sets/:name', async (c) => c.json(await trainingSetPage(sources, c.req.param('name'), query(c, 'version'))));
  app.get('/api/labels/:name', async (c) => c.json(await labelsPage(sources, c.req.param('name'))));
  app.get('/api/streams', async (c) => c.json(await streamsList(sources)));
  app.get('/api/streams/:name', async (c) => c.json(await streamPage(sources, c.req.param('name'))));
  app.get('/api/runs', async (c) => c.json(await runsPage(sources, { ...(query(c, 'kind') ? { kind: query(c, 'kind')! } : {}), ...(query(c, 'object') ? { object: query(c, 'object')! } : {}) })));
  app.get('/api/plan', async (c) => c.json(await planPage(sources)));
  app.get('/api/definitions/:kind/:name', async (c) => c.json(await definitionPage(sources, c.req.param('kind'), c.req.param('name'))));
  app.all('/api/*', (c) => {
    throw new UiHttpError('not_found', `no API route ${c.req.method} ${c.req.path}; see docs/ui.md for the routes`);
  });

  app.get('*', async (c) => {
    if (!assets) throw new UiHttpError('not_found', 'the UI frontend is not built: run `npm run build:ui` in the Flywheel checkout (the API under /api/ works without it)');
    const file = await assets.file(c.req.path, c.req.header('accept-encoding'));
    if (!file) throw new UiHttpError('not_found', `no file ${c.req.path}`);
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, {
      'content-type': file.contentType, 'cache-control': file.cacheControl, vary: 'Accept-Encoding', ...(file.contentEncoding ? { 'content-encoding': file.contentEncoding } : {}),
    });
  });

  app.onError((raw, c) => {
    const error = toUiError(raw);
    if (error.code === 'internal') process.stderr.write(`flywheel ui: ${c.req.method} ${c.req.path}: ${raw.stack ?? raw.message}\n`);
    if (error.code === 'unauthorized') c.header('WWW-Authenticate', 'Bearer realm="flywheel"');
    return c.json({ error: { code: error.code, message: error.message } }, UI_ERROR_STATUS[error.code]);
  });

  return app;
}

function toUiError(error: unknown): UiHttpError {
  if (error instanceof UiHttpError) return error;
  if (error instanceof NothingAppliedYetError) return new UiHttpError('not_applied', error.message);
  if (error instanceof NotFoundError) return new UiHttpError('not_found', error.message);
  if (error instanceof UnknownFeatureError) return new UiHttpError('bad_request', error.message);
  if (error instanceof DefinitionError || error instanceof ConfigError) return new UiHttpError('invalid_definitions', error.message);
  if (error instanceof FlywheelError && error.retryable) return new UiHttpError('unavailable', `${error.message} (try again in a moment)`);
  return new UiHttpError('internal', 'internal error; the server logged it');
}
