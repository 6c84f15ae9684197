/**
 * `npm run demo`: the whole first loop on the embedded stack, from a fresh clone.
 *
 *   1. generate a few hundred thousand card transactions into a DuckDB file;
 *   2. `flywheel plan` and `flywheel apply` the example's definitions;
 *   3. start a Temporal dev server and a worker (building the Temporal CLI on first use);
 *   4. `flywheel run training-set fraud_training`: the workflow runs on Temporal;
 *   5. print where the dataset is, how many rows it has, and a preview; then stop everything.
 */
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { openDuckDBEngine } from '../../connectors/offline/duckdb/duckdb-engine.ts';
import { startDevServer } from '../../cli/dev/dev-server.ts';
import { locateTemporalCli } from '../../cli/dev/temporal-cli.ts';
import { loadConfig } from '../../cli/project/load-config.ts';
import { activityDepsFromConfig } from '../../worker/activity-deps.ts';
import { createFlywheelWorker } from '../../worker/create-worker.ts';
import { generateCardFraudData } from './generate-data.ts';

const exampleDir = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(exampleDir, '..', '..');
const bin = join(repoRoot, 'bin', 'flywheel.js');

const step = (title: string) => process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`);

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

async function main(): Promise<void> {
  // The worker's own INFO lines (bundling, state changes) would bury the demo's output.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const config = await loadConfig({ cwd: exampleDir, profile: 'local' });

  step('1. Generate card transactions (DuckDB)');
  // A fresh warehouse and object store each time; the Temporal database is kept, so earlier runs stay visible.
  await rm(join(config.stateDir, 'warehouse.duckdb'), { force: true });
  await rm(join(config.stateDir, 'warehouse.duckdb.wal'), { force: true });
  await rm(join(config.stateDir, 'objects'), { recursive: true, force: true });
  const data = await generateCardFraudData({ warehousePath: config.profile.offline.type === 'duckdb' ? config.profile.offline.path : '' });
  for (const [table, rows] of Object.entries(data.rowCounts)) process.stdout.write(`  ${table.padEnd(22)} ${rows.toLocaleString('en-US').padStart(9)} rows\n`);
  process.stdout.write(`  ${data.start.slice(0, 10)} .. ${data.end.slice(0, 10)}, fraud rate ${(data.fraudRate * 100).toFixed(2)}%, in ${(data.elapsedMs / 1000).toFixed(1)} s\n`);

  step('2. Plan and apply the definitions');
  await flywheel(['plan']);
  await flywheel(['apply']);
  await flywheel(['apply']);

  step('3. Start the embedded stack: Temporal dev server and a worker');
  const cliPath = await locateTemporalCli({ onProgress: (message) => process.stdout.write(`  ${message}\n`) });
  const { temporal } = config.profile;
  const [host, port] = temporal.address.split(':');
  const server = await startDevServer({ cliPath, dbFile: join(config.stateDir, 'temporal.db'), port: Number(port), ip: host === 'localhost' ? '127.0.0.1' : host! });
  process.stdout.write(`  Temporal ${server.reused ? 'already running' : 'started'} at ${server.address}; Web UI ${server.uiUrl}\n`);
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await createFlywheelWorker({ connection, namespace: temporal.namespace, taskQueue: temporal.taskQueue, deps: activityDepsFromConfig(config) });
  const running = worker.run();
  process.stdout.write(`  Worker polling task queue "${temporal.taskQueue}"\n`);

  try {
    step('4. Build the training set on Temporal');
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
      process.stdout.write(`  ${JSON.stringify(summary)}\n`);
    } finally {
      await engine.close();
    }
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
    await server.stop();
  }
  process.stdout.write('\nDone. Explore with `cd examples/card-fraud && npx flywheel dev` (Web UI on http://localhost:8233).\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
