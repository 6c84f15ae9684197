import type { RequestListener } from 'node:http';
import type { ServerMetrics } from '../metrics.ts';
import { withPostRoute } from '../node-route.ts';
import type { DecisionApi } from './decision-api.ts';

/**
 * `POST /v1/decide` taken on Node's request and response before the Hono app sees it, as
 * `POST /v1/features` is (server/serving/features-route.ts): a decide request is on the same hot
 * path, and under Hono it also built a web Request, a Context and a Response and copied the answer
 * through them.
 */
export const DECIDE_PATH = '/v1/decide';

export function withDecideRoute(decide: DecisionApi, options: { readonly metrics?: ServerMetrics; readonly isShuttingDown: () => boolean }, app: RequestListener): RequestListener {
  return withPostRoute(DECIDE_PATH, (req, res) => decide.handleNode(req, res), options, app);
}
