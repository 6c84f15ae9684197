import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ServerMetrics } from '../metrics.ts';
import type { DecisionApi } from './decision-api.ts';

/**
 * `POST /v1/decide` taken on Node's request and response before the Hono app sees it, as
 * `POST /v1/features` is (server/serving/features-route.ts): a decide request is on the same hot
 * path, and under Hono it also built a web Request, a Context and a Response and copied the answer
 * through them. Everything else (and this route while the server shuts down, so the app answers 503
 * as for every route) goes to the app. The request is observed in the metrics as the app observes it
 * (route, method, status, seconds).
 */
export const DECIDE_PATH = '/v1/decide';

export function withDecideRoute(decide: DecisionApi, options: { readonly metrics?: ServerMetrics; readonly isShuttingDown: () => boolean }, app: RequestListener): RequestListener {
  const { metrics, isShuttingDown } = options;
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    // Hono routes by path, so a query string does not change the route.
    if (req.method !== 'POST' || (url !== DECIDE_PATH && !url.startsWith(`${DECIDE_PATH}?`)) || isShuttingDown()) {
      app(req, res);
      return;
    }
    const start = performance.now();
    void decide.handleNode(req, res).then((status) => metrics?.observeRequest(DECIDE_PATH, 'POST', status, (performance.now() - start) / 1000));
  };
}
