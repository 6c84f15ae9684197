import { createServer as createHttpServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { PortInUseError } from './port-in-use-error.ts';
import { createLogApp, DEFAULT_LIMITS, type LogApiLimits } from './app.ts';
import type { TokenTable } from './auth/bearer-tokens.ts';
import { ServerMetrics, type DecisionLogCounters } from './metrics.ts';
import { openSegmentLog, type OnSegmentClosed, type SegmentLog } from '../connectors/log-store/segment-log/index.ts';
import { openNodeSegmentLog, type NodeSegmentLog, type SealedSegmentManifest, type SealedSegmentStore } from '../connectors/log-store/index.ts';
import { OnlinePush, type OnlinePushOptions } from './push/online-push.ts';
import { decisionLayoutsOf } from '../core/definitions/decision-stream.ts';
import { createDecisionLog, type DecisionLog } from './serving/decision-log.ts';
import { FeatureServing, type ServingOptions } from './serving/feature-serving.ts';
import { warmUpServing, type ServingWarmUpOptions } from './serving/warm-up.ts';
import { warmUpServingOverHttp } from './serving/warm-up-over-http.ts';
import { warmUpRequests } from './serving/warm-up-requests.ts';
import { withFeaturesRoute } from './serving/features-route.ts';
import { withEventsRoute } from './events-route.ts';
import { DecisionApi, type DecisionApiOptions } from './decide/decision-api.ts';
import { withDecideRoute } from './decide/decide-route.ts';
import { warmUpDecide } from './decide/warm-up.ts';
import { StreamIngest } from './stream-ingest.ts';
import type { StreamSchema } from './stream-schema.ts';

export interface LogServerOptions {
  /** The project's state folder; segments go to `<stateDir>/segments/<stream>/`. */
  readonly stateDir: string;
  readonly streams: readonly StreamSchema[];
  readonly tokens: TokenTable;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  readonly limits?: Partial<LogApiLimits>;
  /** Segment roll-over: by size (default 64 MiB) and by age (default 10 s). */
  readonly segments?: { readonly maxBytes?: number; readonly maxAgeMs?: number };
  /** Ids remembered per stream to drop duplicates. Default 200,000. */
  readonly recentIdsPerStream?: number;
  /**
   * Called for each closed segment (see `OnSegmentClosed`), which stays on this disk. Ignored with
   * `sealedSegments`, whose `onUploaded` is where ingestion starts then.
   */
  readonly onSegmentClosed?: OnSegmentClosed;
  /**
   * Where sealed segments go: each is uploaded to `store` (the project's object store) under
   * `nodeId`, its local copy deleted, and only then `onUploaded` is called (connectors/log-store,
   * docs/collect.md). At start, what this node left sealed or open is uploaded. Without it the
   * segments stay in the state folder (tests of the log alone, `server/standalone.ts` without
   * `--object-store`).
   */
  readonly sealedSegments?: {
    readonly store: SealedSegmentStore;
    readonly nodeId: string;
    readonly onUploaded?: (segment: SealedSegmentManifest) => void | Promise<void>;
  };
  /**
   * Events of each stream in the ingest quarantine, for `/metrics`: where ingestion records them, the
   * project's object store (connectors/log-store/quarantine-counts.ts), so every node reports the same.
   * Without it `/metrics` has no quarantine gauge.
   */
  readonly quarantineCounts?: () => Promise<Readonly<Record<string, number>>>;
  /**
   * Pushed features: once a batch is durable, the latest values of the `push: true` views over its
   * stream are written to this online store in the background (server/push/online-push.ts). The
   * server owns the store from then on and closes it when it closes. Default: nothing is pushed.
   */
  readonly push?: OnlinePushOptions | undefined;
  /**
   * The serving API, `POST /v1/features` (docs/serving.md), reading `serving.store`. The server owns
   * the store from then on and closes it when it closes; give the push the same store to share it.
   * The responses of services with `logging` go to their decision streams (server/serving/decision-log.ts),
   * unless `serving.decisions` says where else. Default: no feature serving.
   */
  readonly serving?: ServingOptions | undefined;
  /**
   * The decision API, `POST /v1/decide` (docs/decide.md), over `serving`'s store and decision log:
   * the project's models and where their versions come from. The server stops polling for
   * promotions when it closes. Default: no decision API.
   */
  readonly decide?: Omit<DecisionApiOptions, 'serving' | 'decisions'> | undefined;
  /** The counters of a decision log given as `serving.decisions`, for `GET /metrics` and `/healthz`. */
  readonly decisionLogStats?: () => DecisionLogCounters;
  /**
   * Before listening, run synthetic requests through the serving path so its first requests are not
   * served by code V8 has yet to compile (server/serving/warm-up.ts); `false` skips it. Default: on.
   */
  readonly servingWarmUp?: ServingWarmUpOptions | false;
  /** Start-up, recovery and shutdown messages. Default: stderr. */
  readonly log?: (line: string) => void;
  /** How long close() lets requests in flight finish before cutting their connections. Default 10 s. */
  readonly shutdownGraceMs?: number;
}

export interface RunningLogServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /**
   * Stops accepting connections, answers 503 on open ones, lets requests in flight finish (their
   * events become durable), then closes every open segment. Safe to call twice.
   */
  close(): Promise<void>;
}

export const DEFAULT_RECENT_IDS = 200_000;

/**
 * Recovers the segment log, then serves the log API.
 *
 * @example
 * const server = await startLogServer({ stateDir: '.flywheel', streams, tokens: TokenTable.fromEnv(), port: 8080 });
 * process.once('SIGTERM', () => void server.close());
 */
export async function startLogServer(options: LogServerOptions): Promise<RunningLogServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const logOptions = {
    stateDir: options.stateDir,
    streams: options.streams.map((s) => s.name),
    ...(options.segments?.maxBytes !== undefined ? { maxSegmentBytes: options.segments.maxBytes } : {}),
    ...(options.segments?.maxAgeMs !== undefined ? { maxSegmentAgeMs: options.segments.maxAgeMs } : {}),
    log,
  };
  const sealed = options.sealedSegments;
  const nodeLog: NodeSegmentLog | undefined = sealed
    ? await openNodeSegmentLog({ ...logOptions, store: sealed.store, nodeId: sealed.nodeId, ...(sealed.onUploaded ? { onUploaded: sealed.onUploaded } : {}) })
    : undefined;
  const segmentLog: SegmentLog = nodeLog ?? (await openSegmentLog({ ...logOptions, ...(options.onSegmentClosed ? { onSegmentClosed: options.onSegmentClosed } : {}) }));
  const push = options.push ? new OnlinePush(options.push, log) : undefined;
  const streams = new Map<string, StreamIngest>();
  for (const schema of options.streams) {
    const storedEvents = push?.batchesOf(schema.name);
    const ingest = new StreamIngest(schema, segmentLog, {
      recentIds: options.recentIdsPerStream ?? DEFAULT_RECENT_IDS, maxIssues: 100, ...(storedEvents ? { storedEvents } : {}),
    });
    // The dedupe window survives a restart: this node's newest segments, on its disk or uploaded.
    if (nodeLog) ingest.rememberIds(await nodeLog.recentIds(schema.name, options.recentIdsPerStream ?? DEFAULT_RECENT_IDS));
    else await ingest.rememberStoredIds(options.stateDir);
    streams.set(schema.name, ingest);
  }
  let shuttingDown = false;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  // The services with `logging` append what they served to their decision streams, through the same ingest.
  const decisionLog: DecisionLog | undefined =
    options.serving && options.serving.decisions === undefined && decisionLayoutsOf(options.serving.project).size > 0
      ? createDecisionLog({ streams, project: options.serving.project, log })
      : undefined;
  const decisionLogStats = decisionLog ? () => decisionLog.stats() : options.decisionLogStats;
  const metrics: ServerMetrics = new ServerMetrics({
    logStats: () => segmentLog.stats(),
    ...(options.quarantineCounts ? { quarantineCounts: options.quarantineCounts } : {}),
    ...(nodeLog ? { pendingUploads: () => nodeLog.pendingUploads() } : {}),
    ...(push ? { pushStats: () => push.stats() } : {}),
    ...(decisionLogStats ? { decisionLogStats } : {}),
    // Called at scrape time, when `serving` is set.
    ...(options.serving ? { storeAvailable: (): boolean => serving?.breaker.available ?? false } : {}),
  });
  const serving: FeatureServing | undefined = options.serving
    ? new FeatureServing({ ...options.serving, ...(decisionLog ? { decisions: decisionLog } : {}) }, { tokens: options.tokens, maxBodyBytes: limits.maxBodyBytes, metrics, log })
    : undefined;
  const decide = serving && options.decide
    ? new DecisionApi({ ...options.decide, serving, ...((decisionLog ?? options.serving?.decisions) ? { decisions: decisionLog ?? options.serving!.decisions! } : {}) }, { tokens: options.tokens, maxBodyBytes: limits.maxBodyBytes, log })
    : undefined;
  const app = createLogApp({
    streams, tokens: options.tokens, limits, isShuttingDown: () => shuttingDown,
    logStats: () => segmentLog.stats(), logFailures: () => segmentLog.failures(), ...(push ? { pushStats: () => push.stats() } : {}),
    ...(decisionLogStats ? { decisionStats: decisionLogStats } : {}),
    metrics, ...(serving ? { serving } : {}), ...(decide ? { decide } : {}),
  });
  /** Closes the serving store unless the push owns it too (the push closes its store). */
  const closeServing = async () => {
    options.decide?.versions.stop();
    if (!serving) return;
    serving.stop();
    if (serving.store === options.push?.store) return;
    try {
      await serving.store.close();
    } catch (error) {
      log(`serving: closing the online store failed: ${(error as Error).message}`);
    }
  };

  if (options.serving && options.servingWarmUp !== false) {
    // The bodies both warm-ups send, once: keys sampled from the store (real records) and synthetic ones (serving/warm-up-requests.ts).
    const chosen = await warmUpRequests(options.serving.project, options.serving.store, { deadline: performance.now() + 1000, ...(options.servingWarmUp?.maxServices !== undefined ? { maxServices: options.servingWarmUp.maxServices } : {}) });
    const warmed = await warmUpServing(options.serving.project, options.serving.store, options.servingWarmUp, chosen);
    if (warmed.requests > 0) {
      log(
        `serving: warmed the request path with ${warmed.requests} requests in ${Math.round(warmed.ms)} ms ` +
          `(${warmed.realRequests} of them of ${warmed.sampledKeys} keys sampled from the store, ${warmed.recordsRead} stored records read)`,
      );
    }
    // Then the HTTP path around it, over loopback, on a server and a token of its own (serving/warm-up-over-http.ts).
    const overHttp = await warmUpServingOverHttp(options.serving, limits.maxBodyBytes, options.servingWarmUp?.overHttp ?? {}, chosen);
    if (overHttp.requests > 0) log(`serving: warmed the HTTP path with ${overHttp.requests} requests over loopback in ${Math.round(overHttp.ms)} ms (${overHttp.realRequests} of them of sampled keys)`);
    // Then what POST /v1/decide adds: the model's rows, each model's serving version scoring, ranking (decide/warm-up.ts).
    if (options.decide) {
      const decided = await warmUpDecide(options.serving.project, options.decide.versions);
      if (decided.decisions > 0) log(`decide: warmed the decision path with ${decided.decisions} synthetic decisions in ${Math.round(decided.ms)} ms`);
    }
  }
  const host = options.host ?? '127.0.0.1';
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      // POST /v1/streams/:stream/events, /v1/decide and /v1/features are taken before the app (events-route.ts, decide/decide-route.ts, serving/features-route.ts).
      const routes = { metrics, isShuttingDown: () => shuttingDown };
      const createServer = ((serverOptions: ServerOptions, listener: RequestListener) => {
        const events = withEventsRoute({ streams, tokens: options.tokens, limits }, routes, listener);
        const decided = decide ? withDecideRoute(decide, routes, events) : events;
        return createHttpServer(serverOptions, serving ? withFeaturesRoute(serving, routes, decided) : decided);
      }) as typeof createHttpServer;
      const s = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 8080, createServer }, () => resolve(s as Server)) as Server;
      s.once('error', reject);
    });
  } catch (error) {
    await decisionLog?.close();
    await segmentLog.close();
    await push?.close();
    await closeServing();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(host, options.port ?? 8080, { cause: error });
    throw error;
  }
  // Keep-alive connections outlive the load balancer's idle timeout by default; these are Node's.
  server.keepAliveTimeout = 65_000;
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  const close = async () => {
    shuttingDown = true;
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections go as soon as they are idle: now, or when their request in flight ends.
    server.closeIdleConnections();
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const grace = setTimeout(() => server.closeAllConnections(), options.shutdownGraceMs ?? 10_000);
    await stopped;
    clearInterval(sweep);
    clearTimeout(grace);
    // Before the log: the decisions of the last responses are appended to their streams.
    await decisionLog?.close();
    await segmentLog.close();
    // After the log: every batch acknowledged has been handed to the push by then.
    await push?.close();
    await closeServing();
  };
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () => (closing ??= close()),
  };
}
