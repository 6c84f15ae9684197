/**
 * The decide half of the card-fraud loop, as `npm run demo` runs it after the training set, and as
 * test/examples-card-fraud-loop.test.ts runs it on a small dataset:
 *
 *   1. pick an authorization from the warehouse (a user and a merchant that exist);
 *   2. start the project's server (log API + serving API) in this process, with ingestion on Temporal;
 *   3. score the authorization: `getFeatures` on `fraud_model` with the TypeScript client;
 *   4. wait until the logged decision is a row of the decision stream's warehouse table: the segment
 *      closes after `segmentAgeMs`, the server starts its ingestion workflow, a worker loads it.
 *
 * Materializing the online views first is the caller's (`flywheel materialize <view>`), and so is
 * running a worker on the profile's task queue.
 */
import { createFlywheelClient } from '../../client/index.ts';
import type { FeaturesResponse, FeatureValue, GetFeaturesRequest } from '../../client/index.ts';
import { startProjectServer, type RunningProjectServer } from '../../cli/serve/start-project-server.ts';
import type { ResolvedConfig } from '../../runtime/load-config.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { queryWarehouse } from '../demo-stack.ts';
import { duckdbDialect } from '../../core/sql/dialect.ts';
import { eventStreamTableName } from '../../core/sql/warehouse-objects.ts';
import { listSegments, streamSegmentsDir, TokenTable } from '../../server/index.ts';

/** The demo server's one token: it may read every service and write every stream. */
export const DEMO_TOKEN = 'demo-token';
export const FRAUD_SERVICE = 'fraud_model';

/** One card authorization of the generated data: who pays whom, when, how much. */
export interface Authorization {
  readonly transactionId: number;
  readonly userId: number;
  readonly merchantId: number;
  readonly ts: string;
  readonly amount: number;
}

/** The project's online feature views, by name: what `flywheel materialize` fills the online store with. */
export function onlineViewsOf(project: ProjectSpec): string[] {
  return Object.values(project.featureViews).filter((view) => view.online).map((view) => view.name).sort();
}

/** The decision stream a service logs to (`<service>_decisions` unless declared otherwise). */
export function decisionStreamOf(project: ProjectSpec, service: string): string {
  const logging = project.featureServices[service]?.logging;
  if (!logging) throw new Error(`feature service "${service}" has no logging: its decisions are not stored`);
  return logging.stream;
}

/** The latest authorization in the `transactions` table: its user and merchant have the freshest features. */
export async function latestAuthorization(warehousePath: string): Promise<Authorization> {
  const [row] = await queryWarehouse<{ transaction_id: number; user_id: number; merchant_id: number; ts: string; amount: number }>(
    warehousePath,
    'SELECT transaction_id, user_id, merchant_id, ts, amount FROM transactions ORDER BY ts DESC, transaction_id DESC LIMIT 1',
  );
  if (!row) throw new Error(`no transactions in ${warehousePath}; generate the data first`);
  return { transactionId: row.transaction_id, userId: row.user_id, merchantId: row.merchant_id, ts: row.ts, amount: row.amount };
}

/**
 * Starts the project's server as `flywheel serve` does, on 127.0.0.1 and a free port, with one token
 * (`DEMO_TOKEN`, scopes `read,write:*`). Closed segments start their ingestion workflows on the
 * profile's Temporal. Close it before stopping the worker, so its last segments are handed over.
 */
export function startDemoServer(config: ResolvedConfig, options: { segmentAgeMs: number; log?: (line: string) => void }): Promise<RunningProjectServer> {
  return startProjectServer(config, {
    tokens: TokenTable.parse(`${DEMO_TOKEN}=read,write:*`),
    host: '127.0.0.1',
    port: 0,
    ingest: true,
    segmentAgeMs: options.segmentAgeMs,
    ...(options.log ? { log: options.log } : {}),
  });
}

export interface ScoredAuthorization {
  readonly response: FeaturesResponse<Record<string, FeatureValue>>;
  /** From sending the request to the parsed answer, as the caller sees it. */
  readonly latencyMs: number;
}

/** The serving request for an authorization: `fraud_model`'s features of its user and merchant. */
export function fraudModelRequest(authorization: Authorization): GetFeaturesRequest {
  return { service: FRAUD_SERVICE, entities: [{ user_id: authorization.userId, merchant_id: authorization.merchantId }] };
}

/** Asks the serving API for `fraud_model`'s features of the authorization, as the scoring service would, with the TypeScript client. */
export async function scoreAuthorization(url: string, authorization: Authorization): Promise<ScoredAuthorization> {
  const client = createFlywheelClient({ url, token: DEMO_TOKEN });
  try {
    const started = performance.now();
    const response = await client.getFeatures(fraudModelRequest(authorization));
    return { response, latencyMs: performance.now() - started };
  } finally {
    await client.close();
  }
}

/** Where a logged decision is on its way to the warehouse, as far as this machine can see. */
export type DecisionStage = 'queued' | 'segment open' | 'segment closed, loading' | 'in the warehouse';

export interface WaitForDecisionOptions {
  readonly warehousePath: string;
  /** The project's state folder: the server's segments are under `<stateDir>/segments/<stream>/`. */
  readonly stateDir: string;
  readonly stream: string;
  readonly decisionId: string;
  readonly timeoutMs: number;
  /** Default 500 ms. */
  readonly pollMs?: number;
  /** Called after each poll that did not find the decision yet. */
  readonly onPoll?: (progress: { elapsedMs: number; stage: DecisionStage }) => void;
}

/**
 * Polls the decision stream's table until the decision's rows are there and returns them (every
 * column, by row index). Each poll opens the DuckDB file for one query and closes it. Throws after
 * `timeoutMs`, saying where the decision was last seen.
 */
export async function waitForDecision(options: WaitForDecisionOptions): Promise<Record<string, unknown>[]> {
  const table = duckdbDialect.qualified(eventStreamTableName(options.stream));
  const started = performance.now();
  let stage: DecisionStage = 'queued';
  for (;;) {
    const rows = await queryWarehouse(options.warehousePath, `SELECT * FROM ${table} WHERE decision_id = ? ORDER BY row_index`, [options.decisionId]);
    if (rows.length > 0) return rows;
    const elapsedMs = performance.now() - started;
    const seen = await segmentStage(options.stateDir, options.stream);
    // A sealed segment leaves the node's disk once it is uploaded to the object store: still loading.
    stage = seen === 'queued' && stage !== 'queued' ? 'segment closed, loading' : seen;
    if (elapsedMs >= options.timeoutMs) {
      throw new Error(
        `decision ${options.decisionId} was not in ${eventStreamTableName(options.stream)} after ${Math.round(elapsedMs / 1000)} s ` +
          `(last seen: ${stage}); is a worker polling the profile's task queue?`,
      );
    }
    options.onPoll?.({ elapsedMs, stage });
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 500));
  }
}

/** What the stream's segment folder shows: an open segment (being written), a sealed one (waiting for its upload), or none. */
async function segmentStage(stateDir: string, stream: string): Promise<DecisionStage> {
  const segments = await listSegments(streamSegmentsDir(stateDir, stream));
  if (segments.some((s) => s.state === 'closed')) return 'segment closed, loading';
  if (segments.some((s) => s.state === 'open')) return 'segment open';
  return 'queued';
}
