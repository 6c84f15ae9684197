import type { RequestListener } from 'node:http';
import type { ServerMetrics } from '../metrics.ts';
import { withPostRoute } from '../node-route.ts';
import type { FeatureServing } from './feature-serving.ts';

/**
 * `POST /v1/features` taken on Node's request and response before the Hono app sees it. The serving
 * path is the server's hot path: under Hono each request also built a web Request, a Context and a
 * Response and copied the answer through them, about a tenth of the serving process's CPU at 100
 * candidates (bench/serving.ts under `--cpu-prof`).
 */
export const FEATURES_PATH = '/v1/features';

export function withFeaturesRoute(serving: FeatureServing, options: { readonly metrics?: ServerMetrics; readonly isShuttingDown: () => boolean }, app: RequestListener): RequestListener {
  return withPostRoute(FEATURES_PATH, (req, res) => serving.handleNode(req, res), options, app);
}
