/**
 * Fault injection with real processes (docs/development.md, "Faults we test"): a `flywheel worker`
 * SIGKILLed in the middle of a backfill, then started again. The backfill must complete by itself and
 * its datasets be identical in content to those of a clean run of the same range.
 *
 * Everything is a real process of its own: a Temporal dev server (SQLite file, free ports on
 * 127.0.0.1), the worker (`node bin/flywheel.js worker` in a throwaway project), the backfill (`flywheel
 * backfill --json`). The clean run builds the range once; its dataset folder is then removed and the
 * range built again while the worker is killed as soon as a `writeTrainingSetFiles` activity is
 * running, and restarted `--restart-after` later. The killed activity is retried once its heartbeat
 * timeout (2 minutes) passes, so the faulted run takes about that much longer: too slow for
 * `npm test`, hence a benchmark that reports its figures and exits 1 when the datasets differ.
 *
 * Content is compared per partition: the row count and the MD5 of the rows as text, sorted (Parquet
 * bytes may differ by row order within a file or by writer metadata, the data may not), and the
 * dataset index's partitions with their row counts.
 *
 *   npx tsx bench/fault-worker-kill.ts [--days 6] [--rows-per-day 100000] [--restart-after 1000]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../cli/dev/child-process.ts';
import { startDevServer } from '../cli/dev/dev-server.ts';
import { locateTemporalCli } from '../cli/dev/temporal-cli.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { sql } from '../core/sql/compiled-query.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(REPO_ROOT, 'bin', 'flywheel.js');
const TASK_QUEUE = 'bench-fault-worker';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const definitions = `
import { entity, featureView, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const stats = source({ name: 'stats', table: 'stats', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicks: 'int64', spend: 'float64' } });
export const spine = source({ name: 'impressions', table: 'impressions', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicked: 'bool' } });
export const view = featureView({ name: 'user_stats', entities: [user], source: stats, features: { clicks: 'int64', spend: 'float64' } });
export const training = trainingSet({ name: 'clicks', spine, features: [view], output: { path: 'datasets/clicks' } });
`;

/** `flywheel worker` in the project, its output appended to `<dir>/worker.log`; killed with the whole process. */
function startWorker(dir: string): ChildProcess {
  const log = createWriteStream(join(dir, 'worker.log'), { flags: 'a' });
  const child = spawn(process.execPath, [BIN, 'worker'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  process.once('exit', () => child.kill('SIGKILL'));
  return child;
}

async function stopWorker(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const ended = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await ended;
}

function backfill(dir: string, from: string, to: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, 'backfill', 'clicks', '--from', from, '--to', to, '--concurrency', '2', '--json'], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Per partition: its rows and the MD5 of its rows as text, sorted; and the index's partitions with row counts. */
async function datasetContent(folder: string, scratch: string): Promise<{ partitions: Record<string, { rows: number; md5: string }>; index: [string, number][] }> {
  const engine = await openDuckDBEngine({ path: join(scratch, `read-${Date.now()}.duckdb`) });
  try {
    const partitions: Record<string, { rows: number; md5: string }> = {};
    for (const key of readdirSync(folder).filter((name) => name.includes('=')).sort()) {
      const glob = join(folder, key, '*.parquet').replaceAll("'", "''");
      const [row] = await engine.all<{ rows: bigint | number; md5: string }>(
        sql(`SELECT count(*) AS rows, md5(coalesce(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR)), '')) AS md5 FROM read_parquet('${glob}') t`),
      );
      partitions[key] = { rows: Number(row!.rows), md5: row!.md5 };
    }
    const manifest = JSON.parse(readFileSync(join(folder, '_manifest.json'), 'utf8')) as { partitions: { key: string; rowCount: number }[] };
    return { partitions, index: manifest.partitions.map((p) => [p.key, p.rowCount]) };
  } finally {
    await engine.close();
  }
}

/** Waits until some `buildTrainingSet` child run has a `writeTrainingSetFiles` activity started; returns its workflow id. */
async function untilWritingFiles(client: Client, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for await (const run of client.workflow.list({ query: `WorkflowType = 'buildTrainingSet' AND ExecutionStatus = 'Running'` })) {
      const description = await client.workflow.getHandle(run.workflowId, run.runId).describe();
      const writing = (description.raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'writeTrainingSetFiles' && Number(a.state) === 2 /* STARTED */);
      if (writing) return run.workflowId;
    }
    await sleep(50);
  }
  throw new Error(`no writeTrainingSetFiles activity started within ${timeoutMs} ms`);
}

export async function benchWorkerKill(options: { days: number; rowsPerDay: number; restartAfterMs: number }): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-bench-fault-worker-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'flywheel'), 'dir');
  mkdirSync(join(dir, 'definitions'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'definitions', 'all.ts'), definitions);
  const port = await freePort();
  writeFileSync(
    join(dir, 'flywheel.config.ts'),
    `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: 'fault_worker', definitions: './definitions', defaultProfile: 'local', profiles: { local: localProfile({ temporalAddress: '127.0.0.1:${port}', taskQueue: '${TASK_QUEUE}' }) } });\n`,
  );
  const scratch = join(dir, 'bench-scratch');
  mkdirSync(scratch);
  const warehouse = join(dir, '.flywheel', 'warehouse.duckdb');
  const folder = join(dir, '.flywheel', 'objects', 'datasets', 'clicks');
  const from = '2024-03-01T00:00:00Z';
  const to = new Date(Date.parse(from) + options.days * 86_400_000).toISOString();

  const temporal = await startDevServer({ cliPath: await locateTemporalCli(), dbFile: join(dir, 'temporal.db'), port, uiPort: await freePort() });
  const workers: ChildProcess[] = [];
  const clientConnection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection: clientConnection });
  try {
    // Users 0..9999; stats every hour over the range (and the day before); impressions spread over each day.
    const engine = await openDuckDBEngine({ path: warehouse });
    try {
      await engine.run(sql(`
        CREATE TABLE stats AS SELECT (i % 10000)::BIGINT AS user_id, TIMESTAMPTZ '${from}' - INTERVAL 1 DAY + to_seconds(i * 7) AS ts, (i % 97)::BIGINT AS clicks, (i % 1013) / 10.0 AS spend
          FROM range(${Math.ceil(((options.days + 1) * 86_400) / 7)}) t(i);
        CREATE TABLE impressions AS SELECT ((i * 7919) % 10000)::BIGINT AS user_id, TIMESTAMPTZ '${from}' + to_microseconds((i * ${Math.floor((86_400_000_000 * options.days) / (options.rowsPerDay * options.days))})::BIGINT) AS ts, (i % 3 = 0) AS clicked
          FROM range(${options.rowsPerDay * options.days}) t(i);`));
    } finally {
      await engine.close();
    }
    const applied = spawnSync(process.execPath, [BIN, 'apply'], { cwd: dir, encoding: 'utf8' });
    if (applied.status !== 0) throw new Error(`flywheel apply failed: ${applied.stderr}`);

    // The clean run.
    workers.push(startWorker(dir));
    const cleanStart = performance.now();
    const clean = await backfill(dir, from, to);
    const cleanMs = performance.now() - cleanStart;
    if (clean.code !== 0) throw new Error(`the clean backfill failed: ${clean.stderr}`);
    const cleanResult = JSON.parse(clean.stdout) as { total: number; succeeded: number; rowCount: number };
    const cleanContent = await datasetContent(folder, scratch);
    rmSync(folder, { recursive: true, force: true });

    // The faulted run: SIGKILL the worker while a partition's files are being written, start a new one.
    const faultStart = performance.now();
    const faulted = backfill(dir, from, to);
    const writing = await untilWritingFiles(client, 120_000);
    const killedAt = performance.now();
    await stopWorker(workers.at(-1)!, 'SIGKILL');
    await sleep(options.restartAfterMs);
    workers.push(startWorker(dir));
    const done = await faulted;
    const faultMs = performance.now() - faultStart;
    const recoveryMs = performance.now() - killedAt;
    if (done.code !== 0) throw new Error(`the faulted backfill failed: ${done.stderr}`);
    const faultResult = JSON.parse(done.stdout) as { total: number; succeeded: number; rowCount: number; failed: unknown[] };
    const faultContent = await datasetContent(folder, scratch);

    const identical = JSON.stringify(faultContent) === JSON.stringify(cleanContent);
    const leftovers = existsSync(join(dir, '.flywheel', 'scratch')) ? readdirSync(join(dir, '.flywheel', 'scratch')).length : 0;
    process.stdout.write(
      [
        `fault: worker SIGKILLed during a backfill (${options.days} daily partitions, ${cleanResult.rowCount} rows; node ${process.version})`,
        `  clean run:   ${(cleanMs / 1000).toFixed(1)} s, ${cleanResult.succeeded}/${cleanResult.total} partitions`,
        `  faulted run: ${(faultMs / 1000).toFixed(1)} s, ${faultResult.succeeded}/${faultResult.total} partitions, ${faultResult.failed.length} failed; the worker was killed while ${writing.split('/').at(-1)} wrote its files and restarted ${options.restartAfterMs} ms later; done ${(recoveryMs / 1000).toFixed(1)} s after the kill`,
        `  datasets identical in content: ${identical ? 'yes' : 'NO'} (${Object.keys(faultContent.partitions).length} partitions compared by row count and MD5 of the sorted rows, and the index)`,
        `  files left in the worker's scratch folder: ${leftovers}`,
      ].join('\n') + '\n',
    );
    if (!identical) process.stdout.write(`  clean:   ${JSON.stringify(cleanContent)}\n  faulted: ${JSON.stringify(faultContent)}\n`);
    return identical;
  } finally {
    for (const worker of workers) await stopWorker(worker, 'SIGTERM');
    await clientConnection.close();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { days: { type: 'string', default: '6' }, 'rows-per-day': { type: 'string', default: '100000' }, 'restart-after': { type: 'string', default: '1000' } } });
  const identical = await benchWorkerKill({ days: Number(values.days), rowsPerDay: Number(values['rows-per-day']), restartAfterMs: Number(values['restart-after']) });
  process.exitCode = identical ? 0 : 1;
}
