import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ApiError } from './api-errors.ts';
import type { ServerMetrics } from './metrics.ts';

/**
 * A hot `POST` route taken on Node's request and response before the Hono app sees it (under Hono
 * each request also built a web Request, a Context and a Response and copied the answer through
 * them). Everything else, and this route while the server shuts down (so the app answers 503 as for
 * every route), goes to the app. The request is observed in the metrics as the app observes it
 * (route, method, status, seconds). A query string does not change the route: Hono routes by path.
 */
export function withPostRoute(
  path: string,
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<number>,
  options: { readonly metrics?: ServerMetrics; readonly isShuttingDown: () => boolean },
  app: RequestListener,
): RequestListener {
  const { metrics, isShuttingDown } = options;
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (req.method !== 'POST' || (url !== path && !url.startsWith(`${path}?`)) || isShuttingDown()) {
      app(req, res);
      return;
    }
    const start = performance.now();
    void handle(req, res).then((status) => metrics?.observeRequest(path, 'POST', status, (performance.now() - start) / 1000));
  };
}

/**
 * Sends a JSON answer on Node's response: `produce`'s body with 200, or the ApiError `toApiError`
 * makes of its failure (it may add headers, such as `Retry-After`), with `WWW-Authenticate` on a
 * 401, as the app's error handler answers. Never rejects; resolves with the status sent.
 */
export async function sendJsonAnswer(
  res: ServerResponse,
  produce: () => Promise<Buffer | string>,
  toApiError: (error: unknown, setHeader: (name: string, value: string) => void) => ApiError,
  onUnsent: (error: unknown) => void,
): Promise<number> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  let status = 200;
  let body: Buffer | string;
  try {
    body = await produce();
  } catch (error) {
    const apiError = toApiError(error, (name, value) => {
      headers[name.toLowerCase()] = value;
    });
    if (apiError.code === 'unauthorized') headers['www-authenticate'] = 'Bearer realm="flywheel"';
    status = apiError.status;
    body = JSON.stringify(apiError.toBody());
  }
  try {
    res.writeHead(status, headers).end(body);
  } catch (error) {
    // The connection is gone (or the answer half sent): nothing more can be said to this client.
    onUnsent(error);
    res.destroy();
  }
  return status;
}
