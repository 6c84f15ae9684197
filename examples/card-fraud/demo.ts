/**
 * `npm run demo`: the whole first loop on the embedded stack, from a fresh clone.
 *
 *   1. generate a few hundred thousand card transactions into a DuckDB file;
 *   2. start a Temporal dev server (building the Temporal CLI on first use);
 *   3. `flywheel plan` and `flywheel apply` the example's definitions: warehouse views, the table of
 *      fraud_model's decision stream, the hourly materialization schedule of user_txn_windows;
 *   4. start a worker in this process and `flywheel run training-set fraud_training` on Temporal;
 *   5. print where the dataset is, how many rows it has, and a preview;
 *   6. `flywheel materialize <view>` for every online feature view: the latest values into the
 *      SQLite online store, run by the worker;
 *   7. start the project's server (log API + serving API) in this process and score one
 *      authorization of the data with the TypeScript client: the decision id, the features with
 *      their statuses and event times, the latency;
 *   8. wait until that decision, logged by the server, is a row of flywheel.stream_fraud_model_decisions
 *      (its segment closes after 2 s, the server starts the ingestion workflow, the worker loads it);
 *      then stop everything: the server, the worker, Temporal.
 */
import { spawn } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { FeaturesResponse, FeatureValue } from '../../client/index.ts';
import { loadConfig, type ResolvedConfig } from '../../runtime/load-config.ts';
import { loadDefinitions } from '../../cli/project/load-definitions.ts';
import { openDuckDBEngine } from '../../connectors/offline/duckdb/duckdb-engine.ts';
import { eventStreamTableName } from '../../core/sql/warehouse-objects.ts';
import { resetLocalState, startLocalTemporal, withLocalWorker } from '../demo-stack.ts';
import { decisionStreamOf, DEMO_TOKEN, FRAUD_SERVICE, fraudModelRequest, latestAuthorization, onlineViewsOf, scoreAuthorization, startDemoServer, waitForDecision, type DecisionStage } from './decision-loop.ts';
import { generateCardFraudData } from './generate-data.ts';

const exampleDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(exampleDir, '..', '..');
const bin = join(repoRoot, 'bin', 'flywheel.js');

/** How long a log segment stays open: the logged decision is loaded a few seconds after it was served. */
const SEGMENT_AGE_MS = 2_000;
const DECISION_TIMEOUT_MS = 60_000;
/** The features printed for the served authorization (fraud_model serves 21). */
const SHOWN_FEATURES = ['txn_count_1d', 'amount_avg_1d', 'count_1h', 'count_1d', 'count_7d', 'amount_avg_7d', 'kyc_verified', 'credit_limit', 'merchant_chargeback_rate_30d'];

const step = (title: string) => process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`);
const say = (line: string) => process.stdout.write(`  ${line}\n`);

/** Runs the real CLI in the example folder, as a user would, and returns its stdout. */
function flywheel(args: string[], options: { echo?: boolean } = {}): Promise<string> {
  process.stdout.write(`$ flywheel ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: exampleDir, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (options.echo ?? true) process.stdout.write(chunk);
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`flywheel ${args.join(' ')} exited with code ${code}`))));
  });
}

/** A value as printed: numbers with at most six significant digits, strings as they are. */
function show(value: unknown): string {
  if (typeof value === 'number' && !Number.isInteger(value)) return String(Number(value.toPrecision(6)));
  return value === null || value === undefined ? 'null' : String(value);
}

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) say(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}

/** One progress line while waiting: redrawn in place on a terminal, one line per stage otherwise. */
function progressLine(): { update(elapsedMs: number, stage: DecisionStage): void; done(): void } {
  let lastStage: string | undefined;
  return {
    update(elapsedMs, stage) {
      const text = `waiting for the decision: ${(elapsedMs / 1000).toFixed(1)} s of ${DECISION_TIMEOUT_MS / 1000} s, ${stage}`;
      if (process.stdout.isTTY) process.stdout.write(`\r  ${text}\x1b[K`);
      else if (stage !== lastStage) say(text);
      lastStage = stage;
    },
    done() {
      if (process.stdout.isTTY && lastStage !== undefined) process.stdout.write('\r\x1b[K');
    },
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  // The worker's own INFO lines (bundling, state changes) would bury the demo's output.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const config = await loadConfig({ cwd: exampleDir, profile: 'local' });
  if (config.profile.offline.type !== 'duckdb') throw new Error('the demo runs on the local profile (DuckDB)');
  const warehousePath = config.profile.offline.path;

  step('1. Generate card transactions (DuckDB)');
  await resetLocalState(config, warehousePath);
  const data = await generateCardFraudData({ warehousePath });
  for (const [table, rows] of Object.entries(data.rowCounts)) say(`${table.padEnd(22)} ${rows.toLocaleString('en-US').padStart(9)} rows`);
  say(`${data.start.slice(0, 10)} .. ${data.end.slice(0, 10)}, fraud rate ${(data.fraudRate * 100).toFixed(2)}%, in ${(data.elapsedMs / 1000).toFixed(1)} s`);

  step('2. Start Temporal (a dev server on this machine)');
  const server = await startLocalTemporal(config, say);

  try {
    step('3. Plan and apply the definitions');
    // Apply creates the materialization schedule on Temporal, so it runs once Temporal is up, and
    // before the worker: a schedule's catch-up run (Temporal's database is kept) then finds them applied.
    await flywheel(['plan']);
    await flywheel(['apply']);
    await flywheel(['apply']);
    step('4. Start a worker and build the training set on Temporal');
    // Materialization writes to the online store; the project server of step 7 reads the same SQLite file.
    await withLocalWorker(config, say, () => runWithWorker(config, warehousePath));
  } finally {
    await server.stop();
  }
  process.stdout.write(`\nDone in ${((performance.now() - started) / 1000).toFixed(0)} s. Explore with \`cd examples/card-fraud && npx flywheel dev\` (Web UI on http://localhost:8233).\n`);
}

/** Steps 4 to 8, while a worker polls the profile's task queue in this process. */
async function runWithWorker(config: ResolvedConfig, warehousePath: string): Promise<void> {
  const result = JSON.parse(await flywheel(['run', 'training-set', 'fraud_training', '--json'], { echo: false })) as { workflowId: string; rowCount: number; partitions: unknown[]; datasetUri: string; manifestUri: string };

  step('5. The dataset');
  await flywheel(['datasets', 'list']);
  const datasetDir = fileURLToPath(result.datasetUri);
  process.stdout.write(`  location: ${relative(process.cwd(), datasetDir)} (one folder per day; _manifest.json beside them)\n  rows:     ${result.rowCount.toLocaleString('en-US')} in ${result.partitions.length} daily partitions\n  workflow: ${result.workflowId} (see it in the Web UI while \`flywheel dev\` runs)\n\n`);
  const engine = await openDuckDBEngine({ path: ':memory:' });
  try {
    const glob = join(datasetDir, '*', '*.parquet').replaceAll("'", "''");
    const preview = await engine.all({ sql: `SELECT transaction_id, user_id, ts, amount, is_fraud, count_1h, count_7d, amount_avg_1d, merchant_chargeback_rate_30d FROM read_parquet('${glob}') WHERE transaction_id % 60000 = 0 ORDER BY transaction_id`, parameters: [] });
    console.table(preview);
    const [summary] = await engine.all({ sql: `SELECT count(*) AS rows, round(avg(is_fraud::INT) * 100, 2) AS fraud_pct, round(100 - count(amount_avg_1d) * 100.0 / count(*), 1) AS pct_without_user_spend FROM read_parquet('${glob}')`, parameters: [] });
    say(JSON.stringify(summary));
  } finally {
    await engine.close();
  }

  step('6. Materialize the online feature views into the online store (SQLite)');
  const project = await loadDefinitions(config.definitionsDir, config.projectRoot);
  for (const view of onlineViewsOf(project)) await flywheel(['materialize', view]);

  await serveAndLog(config, warehousePath, decisionStreamOf(project, FRAUD_SERVICE));
}

/** Steps 7 and 8: serve one request, then find its logged decision in the warehouse. The server stops before the worker. */
async function serveAndLog(config: ResolvedConfig, warehousePath: string, stream: string): Promise<void> {
  step(`7. Serve features: ${FRAUD_SERVICE} for one card authorization`);
  const authorization = await latestAuthorization(warehousePath);
  say(`The latest authorization of the data: transaction ${authorization.transactionId}, user ${authorization.userId} paying ${show(authorization.amount)} to merchant ${authorization.merchantId} at ${authorization.ts}.`);
  const api = await startDemoServer(config, { segmentAgeMs: SEGMENT_AGE_MS, log: (line) => say(`server: ${line}`) });
  try {
    for (const line of api.description) say(line);
    // What a load balancer asks first; it also opens the connection the client's request reuses.
    const ready = await fetch(`${api.server.url}/readyz`);
    say(`GET /readyz: ${ready.status} ${await ready.text()}`);
    process.stdout.write(`\n  POST ${api.server.url}/v1/features ${JSON.stringify(fraudModelRequest(authorization))}\n`);
    process.stdout.write(`  (with the TypeScript client: createFlywheelClient({ url, token: '${DEMO_TOKEN}' }).getFeatures(...))\n\n`);
    const { response, latencyMs } = await scoreAuthorization(api.server.url, authorization);
    printServed(response, latencyMs);
    process.stdout.write('\n');
    say('Sliding windows are as of their materialization (step 6); the generated transactions stop at 00:00 UTC today.');

    step('8. The logged decision lands in the warehouse');
    const table = eventStreamTableName(stream);
    say(`${FRAUD_SERVICE} logs every decision (sampleRate 1) to the stream ${stream}: the server appends it to a log segment,`);
    say(`the segment closes after ${SEGMENT_AGE_MS / 1000} s, the server starts its ingestion workflow, the worker loads it into ${table}.`);
    const progress = progressLine();
    const waitStarted = performance.now();
    let rows;
    try {
      rows = await waitForDecision({
        warehousePath, stateDir: config.stateDir, stream, decisionId: response.decisionId, timeoutMs: DECISION_TIMEOUT_MS,
        onPoll: ({ elapsedMs, stage }) => progress.update(elapsedMs, stage),
      });
    } finally {
      progress.done();
    }
    say(`In ${table} after ${((performance.now() - waitStarted) / 1000).toFixed(1)} s:\n`);
    printLogged(rows, response);
  } finally {
    await api.close();
  }
}

function printServed(response: FeaturesResponse<Record<string, FeatureValue>>, latencyMs: number): void {
  const row = response.rows[0]!;
  say(`decision_id  ${response.decisionId}`);
  say(`latency      ${latencyMs.toFixed(1)} ms (the client's view: request, online store read, answer)`);
  const counts = new Map<string, number>();
  for (const feature of response.features) {
    const status = row.statuses[feature] ?? 'missing';
    counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  say(`features     ${response.features.length}: ${[...counts].map(([status, n]) => `${n} ${status}`).join(', ')}; some of them:\n`);
  printTable(['feature', 'value', 'status', 'event time'], SHOWN_FEATURES.filter((f) => response.features.includes(f)).map((f) => [f, show(row.values[f]), String(row.statuses[f]), row.eventTimes[f] ?? 'null']));
}

function printLogged(rows: readonly Record<string, unknown>[], response: FeaturesResponse<Record<string, FeatureValue>>): void {
  const row = rows[0]!;
  for (const column of ['decision_id', 'row_index', 'served_at', 'user_id', 'merchant_id', 'user_spend__event_time', 'user_txn_windows__event_time']) say(`${column.padEnd(28)} ${show(row[column])}`);
  process.stdout.write('\n');
  printTable(['feature', 'value', 'status'], SHOWN_FEATURES.filter((f) => f in row).map((f) => [f, show(row[f]), String(row[`${f}__status`])]));
  const served = response.rows[0]!;
  const differing = response.features.filter((f) => !sameValue(row[f], served.values[f] ?? null) || row[`${f}__status`] !== served.statuses[f]);
  process.stdout.write('\n');
  if (differing.length > 0) throw new Error(`the logged decision differs from what was served in ${differing.join(', ')}`);
  say(`All ${response.features.length} features and statuses are the ones served: a training set or a label job can read what the model saw.`);
}

/** A logged value against the served one: equal, or the same instant (a timestamp may be spelt differently). */
function sameValue(logged: unknown, served: FeatureValue): boolean {
  if (logged === served) return true;
  if (typeof logged === 'string' && typeof served === 'string') return Date.parse(logged) === Date.parse(served);
  return false;
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
