import { randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenTable } from '../auth/bearer-tokens.ts';
import { ServerMetrics } from '../metrics.ts';
import { FeatureServing, type ServingOptions } from './feature-serving.ts';
import { FEATURES_PATH, withFeaturesRoute } from './features-route.ts';
import { warmUpRequests, type WarmUpRequests } from './warm-up-requests.ts';

/**
 * The second half of the serving warm-up (server/serving/warm-up.ts does the first, in process): real
 * `POST /v1/features` requests over loopback, so that what a request meets before and after the
 * serving core is compiled too: Node's HTTP parser and response, the route taken before the app
 * (features-route.ts), the token check, the body read, the store breaker, the decision id.
 *
 * They go to a server of their own, on 127.0.0.1 and a port of its own, closed before the real one
 * listens, answered by a FeatureServing of their own over the same store (the same code, so the
 * compiled code is shared): with a token made up for it and known to no one else, metrics of its
 * own that are thrown away (the real server's counters show no synthetic request, while the code
 * that counts is warmed) and no decision log (no synthetic decision is logged). The request bodies are warm-up-requests.ts's, 1 and 100 rows per servable service of
 * keys sampled from the store and of synthetic keys, with and without metadata. Best effort and
 * bounded: a store that does not answer gets its 503s, and nothing here stops the server from starting.
 */
export interface HttpWarmUpOptions {
  /**
   * Rounds of every body in the first session; the second has at most 10. A service has 8 bodies:
   * 1 and 100 rows, sampled and synthetic keys, with and without metadata. Default 400: measured (bench/serving-first-trace.ts, the server's CPU per request over
   * its first 1,000 requests against the next 1,000), 1,100 requests in all left the first 1,000
   * costing 1.3–1.6× the next, 3,300–5,400 about 1.1×.
   */
  readonly rounds?: number;
  /** Stop after this long (the first session within 90% of it). Default 2,000 ms. */
  readonly maxMs?: number;
  /** Services warmed at most (the first ones by name). Default 20. */
  readonly maxServices?: number;
}

export async function warmUpServingOverHttp(
  serving: Pick<ServingOptions, 'project' | 'store' | 'limits'>,
  maxBodyBytes: number,
  options: HttpWarmUpOptions = {},
  chosen?: WarmUpRequests,
): Promise<{ requests: number; realRequests: number; ms: number }> {
  const start = performance.now();
  const maxMs = options.maxMs ?? 2000;
  const deadline = start + maxMs;
  const rounds = options.rounds ?? 400;
  const token = randomBytes(24).toString('hex');
  const requests = chosen ?? (await warmUpRequests(serving.project, serving.store, { deadline, ...(options.maxServices !== undefined ? { maxServices: options.maxServices } : {}) }));
  const bodies: { text: string; real: boolean }[] = [];
  for (const { bodies: ofService } of requests.services) {
    for (const body of ofService) bodies.push(body, { text: JSON.stringify({ ...(JSON.parse(body.text) as object), metadata: false }), real: body.real });
  }
  if (bodies.length === 0) return { requests: 0, realRequests: 0, ms: performance.now() - start };

  let sent = 0;
  let realRequests = 0;
  // Two sessions, each on a server of its own: the first closes its server, sockets and agent, and in
  // doing so gives their fields values of other types than they held while serving, so V8 throws away
  // code compiled for the fields as they were (seen as "marking dependent code" and "wrong map"
  // deoptimizations). A short second session recompiles it against the objects as they are after
  // that, before the real server's first requests (deoptimizations in them, traced: 49 → 16).
  const sessions = [
    { rounds, until: start + 0.9 * maxMs },
    { rounds: Math.min(rounds, SECOND_SESSION_ROUNDS), until: start + maxMs },
  ];
  for (const session of sessions) {
    if (performance.now() >= session.until) break;
    const counted = await oneSession(serving, maxBodyBytes, token, bodies, session.rounds, session.until);
    sent += counted.sent;
    realRequests += counted.realRequests;
  }
  return { requests: sent, realRequests, ms: performance.now() - start };
}

/** Rounds of the second session: a few requests of every body. */
const SECOND_SESSION_ROUNDS = 10;

/** `rounds` rounds of every body (fewer when `until` comes first) to a server, serving object and metrics of their own, closed after. */
async function oneSession(
  serving: Pick<ServingOptions, 'project' | 'store' | 'limits'>,
  maxBodyBytes: number,
  token: string,
  bodies: readonly { text: string; real: boolean }[],
  rounds: number,
  until: number,
): Promise<{ sent: number; realRequests: number }> {
  // Metrics of its own, thrown away after: the real server's code counts every request, so counting is warmed too.
  const metrics = new ServerMetrics({}, { processMetrics: false });
  const features = new FeatureServing(
    { project: serving.project, store: serving.store, ...(serving.limits ? { limits: serving.limits } : {}) },
    { tokens: TokenTable.parse(`${token}=read`, 'the serving warm-up'), maxBodyBytes, metrics, log: () => undefined },
  );
  const server = createServer(withFeaturesRoute(features, { metrics, isShuttingDown: () => false }, (_req, res) => res.writeHead(404).end()));
  // As the real server's (log-server.ts): its sockets' timers are set the same way.
  server.keepAliveTimeout = 65_000;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let sent = 0;
  let realRequests = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    for (let round = 0; round < rounds && performance.now() < until; round++) {
      for (const body of bodies) {
        await post(agent, port, token, body.text);
        sent++;
        if (body.real) realRequests++;
      }
    }
  } catch {
    // Best effort: whatever was warmed stays warmed.
  } finally {
    agent.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    features.stop();
  }
  return { sent, realRequests };
}

/** One request, its answer read to the end (whatever its status). */
function post(agent: Agent, port: number, token: string, body: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: FEATURES_PATH, method: 'POST', agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.once('end', resolve);
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}
