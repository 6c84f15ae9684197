import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { ServerMetrics } from '../metrics.ts';
import type { FeatureServing } from './feature-serving.ts';

/**
 * `POST /v1/features` taken on Node's request and response before the Hono app sees it. The serving
 * path is the server's hot path: under Hono each request also built a web Request, a Context and a
 * Response and copied the answer through them, about a tenth of the serving process's CPU at 100
 * candidates (bench/serving.ts under `--cpu-prof`). Everything else (and this route while the server
 * shuts down, so the app answers 503 as for every route) goes to the app. The request is observed in
 * the metrics as the app observes it (route, method, status, seconds).
 */
export const FEATURES_PATH = '/v1/features';

export function withFeaturesRoute(serving: FeatureServing, options: { readonly metrics?: ServerMetrics; readonly isShuttingDown: () => boolean }, app: RequestListener): RequestListener {
  const { metrics, isShuttingDown } = options;
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    // Hono routes by path, so a query string does not change the route.
    if (req.method !== 'POST' || (url !== FEATURES_PATH && !url.startsWith(`${FEATURES_PATH}?`)) || isShuttingDown()) {
      app(req, res);
      return;
    }
    const start = performance.now();
    void serving.handleNode(req, res).then((status) => metrics?.observeRequest(FEATURES_PATH, 'POST', status, (performance.now() - start) / 1000));
  };
}
