/**
 * End-to-end lag of the loop, on the embedded stack (a Temporal dev server, a worker, the project
 * server with ingestion on, DuckDB, SQLite, a local object store), all in this process except the
 * Temporal server:
 *
 *   (a) outcome accepted by the log API → its row in the warehouse (the segment closes after
 *       `--segment-age`, the server starts its ingestion workflow, the worker loads it);
 *   (b) outcome accepted → its decision's label in the label dataset, with labels built on demand
 *       (`buildLabels`, mature decisions of open partitions included) as soon as the decision's
 *       window has closed and the outcome is in the warehouse; reported with and without the window;
 *   (c) outcome accepted → the pushed online feature that depends on it (`last_click`, `push: true`).
 *
 * Each of `--clicks` rounds sends one decision (an impression) and, right after, its click, then
 * polls for (c), (a) and (b) every `--poll` ms. Medians and maxima over the rounds.
 *
 *   npx tsx bench/loop-lag.ts [--clicks 5] [--segment-age 1s] [--window 2s] [--poll 20] [--port 7311]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createFlywheelClient } from '../client/index.ts';
import { startDevServer } from '../cli/dev/dev-server.ts';
import { locateTemporalCli } from '../cli/dev/temporal-cli.ts';
import { loadConfig } from '../runtime/load-config.ts';
import { startProjectServer } from '../cli/serve/start-project-server.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { TokenTable } from '../server/index.ts';
import { activityDepsFromConfig } from '../worker/activity-deps.ts';
import { createFlywheelWorker } from '../worker/create-worker.ts';
import { buildLabels } from '../workflows/build-labels.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOKEN = 'lag-token';

function definitions(window: string): string {
  return `import { entity, eventStream, featureView, labels } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const impressions = eventStream({
  name: 'impressions', entities: [user], timestampField: 'ts', eventIdField: 'decision_id',
  fields: { decision_id: 'string', item_id: 'int64' }, retention: '7d',
});
export const clicks = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', eventIdField: 'click_id',
  fields: { click_id: 'string', decision_id: 'string', item_id: 'int64' }, retention: '7d',
});
export const lastClick = featureView({
  name: 'last_click', entities: [user], source: clicks, push: true, online: true,
  features: { item_id: 'int64', click_id: 'string' },
});
export const clicked = labels({
  name: 'clicked', decisions: impressions, outcomes: clicks,
  match: { by: 'decision_id', outcomeField: 'decision_id', keys: ['item_id'] },
  window: '${window}', value: { kind: 'any' }, partitionBy: 'hour',
});
`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, poll: number, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(poll);
  }
}

export async function benchLoopLag(options: { clicks: number; segmentAge: number; window: string; windowMs: number; poll: number; port: number }): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-bench-lag-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'flywheel'), 'dir');
  mkdirSync(join(dir, 'definitions'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(dir, 'definitions', 'lag.ts'), definitions(options.window));
  writeFileSync(
    join(dir, 'flywheel.config.ts'),
    `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: 'lag', definitions: './definitions', defaultProfile: 'local', profiles: { local: localProfile({ temporalAddress: '127.0.0.1:${options.port}', taskQueue: 'bench-lag' }) } });\n`,
  );

  const temporal = await startDevServer({ cliPath: await locateTemporalCli(), dbFile: join(dir, 'temporal.db'), port: options.port, uiPort: options.port + 1000 });
  const cleanups: (() => Promise<unknown>)[] = [() => temporal.stop()];
  try {
    const applied = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), 'apply'], { cwd: dir, encoding: 'utf8' });
    if (applied.status !== 0) throw new Error(`flywheel apply failed: ${applied.stderr}`);
    const config = await loadConfig({ cwd: dir, profile: 'local' });
    const connection = await NativeConnection.connect({ address: temporal.address });
    const deps = activityDepsFromConfig(config);
    const worker = await createFlywheelWorker({ connection, namespace: 'default', taskQueue: 'bench-lag', deps });
    const running = worker.run();
    cleanups.unshift(async () => {
      worker.shutdown();
      await running;
      await connection.close();
    });
    const clientConnection = await Connection.connect({ address: temporal.address });
    cleanups.unshift(() => clientConnection.close());
    const temporalClient = new Client({ connection: clientConnection });

    const server = await startProjectServer(config, { tokens: TokenTable.parse(`${TOKEN}=read,write:*`), host: '127.0.0.1', port: 0, ingest: true, segmentAgeMs: options.segmentAge, log: () => undefined });
    cleanups.unshift(() => server.close());
    const log = createFlywheelClient({ url: server.server.url, token: TOKEN });
    cleanups.unshift(() => log.close());
    const online = new SqliteOnlineStore({ path: config.profile.onlineStore.type === 'sqlite' ? config.profile.onlineStore.path : '' });
    cleanups.unshift(() => online.close());
    const warehousePath = config.profile.offline.type === 'duckdb' ? config.profile.offline.path : '';
    const query = async (text: string, parameters: unknown[]) => {
      const engine = await openDuckDBEngine({ path: warehousePath });
      try {
        return await engine.all(sql(text, parameters));
      } finally {
        await engine.close();
      }
    };

    const lags = { online: [] as number[], warehouse: [] as number[], label: [] as number[], labelAfterWindow: [] as number[] };
    for (let round = 0; round < options.clicks; round++) {
      const userId = 1000 + round;
      const decisionId = `d-${round}-${Date.now()}`;
      const clickId = `c-${round}-${Date.now()}`;
      const decidedAt = new Date();
      log.log('impressions', { user_id: userId, ts: decidedAt.toISOString(), decision_id: decisionId, item_id: 7 });
      await log.flush();
      const clickTs = new Date(decidedAt.getTime() + 5).toISOString();
      log.log('clicks', { user_id: userId, ts: clickTs, click_id: clickId, decision_id: decisionId, item_id: 7 });
      // flush() resolves once the log API has acknowledged the click: it is durable.
      await log.flush();
      const accepted = performance.now();

      // (c) the pushed feature.
      await until('the pushed feature', options.poll, 30_000, async () => {
        const [value] = await online.read([{ view: 'last_click', key: [userId], ttlSeconds: null }], new Date());
        return value?.status === 'present' && value.values.click_id === clickId ? true : undefined;
      });
      lags.online.push(performance.now() - accepted);
      // (a) the warehouse row.
      await until('the click in the warehouse', options.poll, 60_000, async () => {
        const rows = await query('SELECT 1 FROM flywheel.stream_clicks WHERE click_id = ?', [clickId]);
        return rows.length > 0 ? true : undefined;
      });
      lags.warehouse.push(performance.now() - accepted);
      // (b) the label: built once the window has closed (and the decision and its click are stored).
      const matureAt = decidedAt.getTime() + options.windowMs;
      if (Date.now() < matureAt) await sleep(matureAt - Date.now());
      await until('the impression in the warehouse', options.poll, 60_000, async () => {
        const rows = await query('SELECT 1 FROM flywheel.stream_impressions WHERE decision_id = ?', [decisionId]);
        return rows.length > 0 ? true : undefined;
      });
      const labelBuilt = performance.now();
      await temporalClient.workflow.execute(buildLabels, {
        taskQueue: 'bench-lag', workflowId: `lag-labels-${round}-${Date.now()}`,
        args: [{ project: 'lag', labels: 'clicked', includeOpen: true, asOf: new Date().toISOString() }],
      });
      const glob = join(dir, '.flywheel', 'objects', 'labels', 'clicked', '*', '*.parquet').replaceAll("'", "''");
      const [row] = (await query(`SELECT label FROM read_parquet('${glob}') WHERE decision_id = ?`, [decisionId])) as { label: number }[];
      if (row?.label !== 1) throw new Error(`the label of ${decisionId} is ${JSON.stringify(row)}, expected 1`);
      const labelLag = performance.now() - accepted;
      lags.label.push(labelLag);
      lags.labelAfterWindow.push(performance.now() - labelBuilt);
    }

    const ms = (x: number) => (x < 1000 ? `${x.toFixed(1)} ms` : `${(x / 1000).toFixed(2)} s`);
    const line = (name: string, xs: number[]) => `  ${name.padEnd(70)} median ${ms(median(xs))}, max ${ms(Math.max(...xs))}\n`;
    process.stdout.write(
      `\nLoop lag, ${options.clicks} clicks, segments closed after ${options.segmentAge} ms, label window ${options.window}\n` +
        line('(c) click accepted → pushed online feature', lags.online) +
        line('(a) click accepted → row in the warehouse', lags.warehouse) +
        line(`(b) click accepted → label in the dataset (includes the ${options.window} window)`, lags.label) +
        line('    of which the on-demand build, after the window closed', lags.labelAfterWindow),
    );
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      clicks: { type: 'string', default: '5' },
      'segment-age': { type: 'string', default: '1000' },
      window: { type: 'string', default: '2s' },
      poll: { type: 'string', default: '20' },
      port: { type: 'string', default: '7311' },
    },
  });
  const windowMs = Number(/^(\d+)s$/.exec(values.window)?.[1] ?? NaN) * 1000;
  if (!Number.isFinite(windowMs)) throw new Error('--window: give whole seconds, e.g. 2s');
  await benchLoopLag({ clicks: Number(values.clicks), segmentAge: Number(values['segment-age']), window: values.window, windowMs, poll: Number(values.poll), port: Number(values.port) });
}
