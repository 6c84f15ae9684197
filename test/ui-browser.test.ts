import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import axe from 'axe-core';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import { readDatasetManifest, readLabelDatasetManifest, readPartitionManifest } from '../connectors/object-store/dataset-manifests.ts';
import { ingestScheduleId, ingestSweepWorkflowId } from '../cli/serve/ingestion-starter.ts';
import { startProjectUi, type RunningProjectUi } from '../cli/serve/start-project-ui.ts';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { loadConfig, type ResolvedConfig } from '../runtime/load-config.ts';
import { TokenTable } from '../server/auth/bearer-tokens.ts';
import { loopGraph } from '../server/ui/loop-graph.ts';
import { UI_ASSETS_ENV } from '../server/ui/ui-assets-dir.ts';
import { writeCatalog } from '../examples/slates/catalog.ts';
import { runSlatesLoop, TRAINING_SET } from '../examples/slates/slates-loop.ts';
import { createWorld } from '../examples/slates/world.ts';
import { activityDepsFromConfig } from '../worker/activity-deps.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, REPO_ROOT, type TempProject } from './support/temp-project.ts';

/**
 * The UI in a real browser (Debian's chromium, driven by playwright-core; no browser is downloaded)
 * against the real stack after one turn of the slates example's loop: the example's definitions in a
 * temporary project, its catalog, `flywheel apply`, one turn of 20 users (serve, log, ingest, label,
 * build the training set from the decision log) with a worker in this process, then the frontend built
 * by Vite into a temporary folder and `flywheel ui`'s server. Each page loads without console errors,
 * shows the numbers the warehouse and the object store hold (read here, in the same test), links to the
 * next, passes axe-core with no serious or critical violation, and is screenshotted into
 * test-artifacts/ui/ (git-ignored).
 */

const PROJECT = 'slates_ui';
const CHROMIUM = process.env.FLYWHEEL_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'ui');
const exampleDir = fileURLToPath(new URL('../examples/slates/', import.meta.url));
const taskQueue = testTaskQueue();
const world = createWorld({ users: 20, items: 120, seed: 5 });
const TOKEN = 'browser-test-token';
/** The User Timing mark the Loop page sets once its graph is painted (ui/src/pages/LoopPage.tsx). */
const LOOP_GRAPH_PAINTED = 'flywheel:loop-graph-painted';
/**
 * The first render's bound: navigation start to the loop graph painted, a cold server (just started)
 * and a cold browser (a new context, nothing cached). The target, under a second, is asserted while
 * the machine is not oversubscribed (a 1-minute load average at most its cores). Beyond, CPU time is
 * shared: on this 2-core machine at a load of 15 to 26 (other tests running), every step takes 7 to
 * 13 times its CPU time, and 3 s is asserted instead. docs/ui.md gives the figures measured both ways.
 */
function firstRenderLimitMs(): { limitMs: number; why: string } {
  const load = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  const cores = availableParallelism();
  return load <= cores ? { limitMs: 1_000, why: `load ${load} on ${cores} cores` } : { limitMs: 3_000, why: `oversubscribed: load ${load} on ${cores} cores` };
}

let project: TempProject;
let config: ResolvedConfig;
let warehouse: string;
let assets: string;
let ui: RunningProjectUi;
let browser: Browser;

async function query<Row extends Record<string, unknown>>(text: string): Promise<Row[]> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return await engine.all<Row>(sql(text));
  } finally {
    await engine.close();
  }
}

/** Opens `path`, waits for its heading, and returns the console errors and failed requests seen on the way. */
async function open(page: Page, path: string, heading: RegExp): Promise<string[]> {
  const problems: string[] = [];
  const onConsole = (message: { type(): string; text(): string }) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  };
  const onError = (error: Error) => problems.push(`page error: ${error.message}`);
  page.on('console', onConsole);
  page.on('pageerror', onError);
  await page.goto(`${ui.server.url}${path}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor({ timeout: 20_000 });
  await page.waitForLoadState('networkidle');
  page.off('console', onConsole);
  page.off('pageerror', onError);
  return problems;
}

/** Milliseconds from navigation start to the loop graph's first paint, as the page marked it. */
async function loopPaintedAt(page: Page): Promise<number> {
  await page.waitForFunction((mark) => performance.getEntriesByName(mark).length > 0, LOOP_GRAPH_PAINTED, { timeout: 20_000 });
  return page.evaluate((mark) => performance.getEntriesByName(mark)[0]!.startTime, LOOP_GRAPH_PAINTED);
}

/** Where a load's time went: the document, then each file and API call (start–end from navigation start, and the server's own time). */
async function loadBreakdown(page: Page): Promise<string> {
  return page.evaluate(() => {
    // The browser's PerformanceNavigationTiming and PerformanceResourceTiming, as far as read here (this file is typed without the DOM).
    type Entry = { name: string; startTime: number; responseEnd: number; serverTiming?: { name: string; duration: number }[] };
    const entries = (type: string) => (performance as unknown as { getEntriesByType(type: string): Entry[] }).getEntriesByType(type);
    const ms = (value: number) => value.toFixed(0);
    const [document] = entries('navigation');
    const resources = entries('resource').map((entry) => {
      const server = entry.serverTiming?.find((timing) => timing.name === 'app');
      return `${new URL(entry.name).pathname} ${ms(entry.startTime)}-${ms(entry.responseEnd)}${server ? ` (server ${ms(server.duration)})` : ''}`;
    });
    return [`document ${ms(document!.startTime)}-${ms(document!.responseEnd)}`, ...resources].join(', ');
  });
}

/** axe-core's serious and critical violations of the page as it is now. */
async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's Content-Security-Policy allows no inline script, rightly.
  await page.evaluate(axe.source);
  const results = await page.evaluate(async () => {
    const run = (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown[] }[] }[] }> } }).axe.run();
    return (await run).violations;
  });
  return results.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')}`);
}

async function check(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  expect(await seriousViolations(page), `axe on ${name}`).toEqual([]);
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // The frontend, built as `npm run build:ui` builds it, into a folder of this test's own.
  assets = await mkdtemp(join(tmpdir(), 'flywheel-ui-build-'));
  const { build } = await import('vite');
  await build({ configFile: join(REPO_ROOT, 'ui', 'vite.config.ts'), build: { outDir: assets, emptyOutDir: true }, logLevel: 'warn' });

  const definitions = Object.fromEntries(
    readdirSync(join(exampleDir, 'definitions')).filter((f) => f.endsWith('.ts')).map((f) => {
      const text = readFileSync(join(exampleDir, 'definitions', f), 'utf8');
      return [`definitions/${f}`, f === 'labels.ts' ? text.replace("window: '5s'", "window: '3s'") : text];
    }),
  );
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions', profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    ...definitions,
    // The ranker's scoring code, beside the definitions as in the example (its model definition names '../model.ts').
    'model.ts': readFileSync(join(exampleDir, 'model.ts'), 'utf8'),
  });
  config = await loadConfig({ cwd: project.dir, profile: 'local' });
  if (config.profile.offline.type !== 'duckdb') throw new Error('expected the local profile');
  warehouse = config.profile.offline.path;
  await writeCatalog(warehouse, world.items);
  const applied = project.cli('apply');
  expect(applied.code, applied.stderr).toBe(0);
  const onlineStore = await createOnlineStore(config.profile.onlineStore, { project: config.project });
  try {
    await runWorker({ taskQueue, activities: createActivities({ ...activityDepsFromConfig(config), onlineStore }) }, () =>
      runSlatesLoop({
        config, world, turns: 1, rounds: 2, roundGapMs: 1_000, exploreShare: 0.5, seed: 3, segmentAgeMs: 300,
        flywheel: async (args) => {
          const run = await project.cliAsync(...args);
          if (run.code !== 0) throw new Error(`flywheel ${args.join(' ')} exited with ${run.code}: ${run.stderr}`);
          return run.stdout;
        },
      }),
    );
  } finally {
    await onlineStore.close();
  }

  process.env[UI_ASSETS_ENV] = assets;
  ui = await startProjectUi(config, { tokens: TokenTable.parse(`${TOKEN}=read`), host: '127.0.0.1', port: 0, sessionToken: TOKEN });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
  delete process.env[UI_ASSETS_ENV];
  const client = await connectClient();
  try {
    await client.schedule.getHandle(ingestScheduleId(PROJECT)).delete().catch(() => undefined);
    await client.workflow.getHandle(ingestSweepWorkflowId(PROJECT)).terminate('test over').catch(() => undefined);
  } finally {
    await client.connection.close();
  }
  if (assets) await rm(assets, { recursive: true, force: true });
  project?.remove();
});

describe('the UI in a real browser, after a turn of the slates loop', { timeout: 120_000 }, () => {
  it('Loop: the graph of every definition, coloured by health, painted first within a second of navigation (3 s when the machine is oversubscribed); a node opens its page', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const problems = await open(page, `/?token=${TOKEN}`, /^Loop$/);
    const firstMs = await loopPaintedAt(page);
    const firstBreakdown = await loadBreakdown(page);
    expect(problems).toEqual([]);
    // The token left the address bar for the tab's session storage.
    expect(new URL(page.url()).search).toBe('');

    const applied = await (async () => {
      const engine = await openDuckDBEngine({ path: warehouse });
      try {
        return (await new WarehouseRegistry(engine).latest(PROJECT))!;
      } finally {
        await engine.close();
      }
    })();
    const graph = loopGraph(applied.spec);
    expect(await page.locator('a.node').count()).toBe(graph.nodes.length);
    expect(await page.locator('.graph polyline').count()).toBe(graph.edges.length);
    // Every node is coloured; after a turn none has failed, and the views the turn materialized are fresh.
    const health = await page.locator('a.node').evaluateAll((nodes) => Object.fromEntries(nodes.map((n) => [n.getAttribute('data-node'), n.getAttribute('data-health')])));
    expect(Object.values(health).filter((h) => h === 'failing')).toEqual([]);
    for (const view of Object.keys(applied.spec.featureViews).filter((v) => applied.spec.featureViews[v]!.online)) expect(health[`featureView:${view}`]).toBe('fresh');
    expect(health['labels:clicked']).toBe('fresh');
    expect(health[`trainingSet:${TRAINING_SET}`]).toBe('fresh');
    const legend = await page.locator('.legend li strong').allTextContents();
    expect(legend.map(Number).reduce((a, b) => a + b, 0)).toBe(graph.nodes.length);
    await check(page, 'loop');

    // Warm loads, what a user sees coming back to the page (the script cached, the server warm).
    const reloads: number[] = [];
    for (let i = 0; i < 3; i++) {
      await page.reload();
      reloads.push(await loopPaintedAt(page));
    }
    const { limitMs, why } = firstRenderLimitMs();
    process.stdout.write(`Loop page: first render ${firstMs.toFixed(0)} ms (cold server and browser: ${firstBreakdown}), reloads ${reloads.map((ms) => ms.toFixed(0)).join(', ')} ms, ${graph.nodes.length} nodes; bound ${limitMs} ms (${why})\n`);
    expect(firstMs).toBeLessThan(limitMs);
    expect(Math.max(...reloads)).toBeLessThan(limitMs);

    await page.locator('a.node[data-node="featureView:item_profile"]').click();
    await page.getByRole('heading', { level: 1, name: /Feature view item_profile/ }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/feature-views/item_profile');
    await page.close();
  });

  it('Feature view: definition, freshness, runs and the skew histogram over the catalog', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    expect(await open(page, `/feature-views/item_profile?token=${TOKEN}`, /Feature view item_profile/)).toEqual([]);
    const [{ items }] = (await query<{ items: bigint }>('SELECT count(*) AS items FROM items')) as [{ items: bigint }];
    expect(await page.getByTestId('sample').textContent()).toBe(String(Number(items)));
    expect(await page.getByTestId('differing').textContent()).toBe('0');
    expect(await page.locator('figure.code pre').first().textContent()).toContain("name: 'item_profile'");
    expect(await page.locator('table.runs tbody tr').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('table.runs a').first().getAttribute('href')).toMatch(/^http:\/\/localhost:8233\/namespaces\/[^/]+\/workflows\/.+\/history$/);
    await check(page, 'feature-view');
    // The source link opens the source's page.
    await page.getByRole('link', { name: 'items', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: /source items/ }).waitFor();
    await page.close();
  });

  it('Training set: versions, partitions, columns with provenance, the consistency report and the snippets', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    expect(await open(page, `/training-sets/${TRAINING_SET}?token=${TOKEN}`, new RegExp(`Training set ${TRAINING_SET}`))).toEqual([]);
    const store = createObjectStore(config.profile.objectStore);
    const spec = (await import('../cli/project/load-definitions.ts')).loadDefinitions(config.definitionsDir, config.projectRoot);
    const set = (await spec).trainingSets[TRAINING_SET]!;
    const manifest = (await readDatasetManifest(store, set))!;
    const partition = (await readPartitionManifest(store, set, manifest.partitions[0]!.key))!;
    const files = partition.files.map((f) => `'${fileURLToPath(f.uri).replaceAll("'", "''")}'`).join(', ');
    const [{ rows }] = (await query<{ rows: bigint }>(`SELECT count(*) AS rows FROM read_parquet([${files}])`)) as [{ rows: bigint }];
    expect(await page.getByTestId('rows').textContent()).toBe(Number(rows).toLocaleString('en-US'));
    expect(await page.locator(`tr[data-partition="${manifest.partitions[0]!.key}"] td`).nth(1).textContent()).toBe(Number(rows).toLocaleString('en-US'));
    // Built from the decision log: the served features are logged; the consistency report is drawn.
    const provenance = await page.locator('section[aria-labelledby="columns"] tbody tr').evaluateAll((rows) => Object.fromEntries(rows.map((r) => [r.children[0]!.textContent, r.children[2]!.textContent])));
    expect(provenance.label).toBe('spine');
    expect(provenance.category).toBe('logged');
    expect(await page.getByRole('heading', { name: 'Consistency: logged against recomputed' }).count()).toBe(1);
    expect(await page.locator('figure.code pre').first().textContent()).toContain(fileURLToPath(partition.files[0]!.uri));
    await check(page, 'training-set');
    await page.close();
  });

  it('Labels: partitions by state, the positive rate, and the outcome delays', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    expect(await open(page, `/labels/clicked?token=${TOKEN}`, /Labels clicked/)).toEqual([]);
    const store = createObjectStore(config.profile.objectStore);
    const spec = (await (await import('../cli/project/load-definitions.ts')).loadDefinitions(config.definitionsDir, config.projectRoot)).labels.clicked!;
    const manifest = (await readLabelDatasetManifest(store, spec))!;
    const root = fileURLToPath(store.uri(spec.output.path));
    const [{ rows, positives }] = (await query<{ rows: bigint; positives: bigint }>(`SELECT count(*) AS rows, sum(CASE WHEN label THEN 1 ELSE 0 END) AS positives FROM read_parquet('${root}/*/*.parquet')`)) as [{ rows: bigint; positives: bigint }];
    expect(manifest.rowCount).toBe(Number(rows));
    expect(await page.getByTestId('rows').textContent()).toBe(Number(rows).toLocaleString('en-US'));
    expect(await page.getByTestId('positives').textContent()).toBe(Number(positives).toLocaleString('en-US'));
    // The hour in progress, built with --include-open: open.
    expect(await page.locator(`tr[data-partition="${manifest.partitions[0]!.key}"] td`).nth(1).textContent()).toBe('open');
    expect(await page.getByRole('heading', { name: 'Outcome delay' }).count()).toBe(1);
    await check(page, 'labels');
    await page.getByRole('link', { name: 'clicks', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: /Stream clicks/ }).waitFor();
    await page.close();
  });

  it('Streams: every stream with its events; one stream\'s events per minute, lag, quarantine and retention', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    expect(await open(page, `/streams?token=${TOKEN}`, /^Streams$/)).toEqual([]);
    const counts = await query<{ stream: string; events: bigint }>(
      "SELECT 'clicks' AS stream, count(*) AS events FROM flywheel.stream_clicks UNION ALL SELECT 'impressions', count(*) FROM flywheel.stream_impressions UNION ALL SELECT 'ranking_decisions', count(*) FROM flywheel.stream_ranking_decisions",
    );
    for (const { stream, events } of counts) {
      expect(Number(events)).toBeGreaterThan(0);
      expect(await page.locator(`tr[data-stream="${stream}"] td`).nth(2).textContent()).toBe(Number(events).toLocaleString('en-US'));
    }
    await check(page, 'streams');
    await page.getByRole('link', { name: 'clicks', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: /Stream clicks/ }).waitFor();
    await page.waitForLoadState('networkidle');
    const clicks = counts.find((c) => c.stream === 'clicks')!;
    expect(await page.getByTestId('events').textContent()).toBe(Number(clicks.events).toLocaleString('en-US'));
    expect(await page.getByTestId('quarantined').textContent()).toBe('0');
    await check(page, 'stream');
    await page.close();
  });

  it('Runs: recent runs per object, linking to the Temporal UI; Plan: nothing to change', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    expect(await open(page, `/runs?token=${TOKEN}`, /^Runs$/)).toEqual([]);
    const rows = await page.locator('table.runs tbody tr').count();
    expect(rows).toBeGreaterThanOrEqual(4);
    const objects = new Set(await page.locator('table.runs tbody tr td:first-child').allTextContents());
    for (const object of ['clicked', TRAINING_SET, 'item_profile']) expect(objects.has(object)).toBe(true);
    await check(page, 'runs');

    expect(await open(page, `/plan?token=${TOKEN}`, /^Plan$/)).toEqual([]);
    expect(await page.getByTestId('plan-summary').textContent()).toBe('No changes: the applied version matches the definitions.');
    // The warehouse checks flywheel plan makes: the catalog source and the one transformation, both passing.
    const checkRows = async () => page.locator('tr[data-check]').evaluateAll((rows) => rows.map((row) => [row.getAttribute('data-check'), row.getAttribute('data-outcome')]));
    expect(await checkRows()).toEqual([['source/items', 'pass'], ['featureView/user_category_clicks', 'pass']]);
    expect(await page.getByTestId('schedules-note').textContent()).toBe('Neither the definitions nor the applied version schedule anything: Temporal is not asked.');
    expect(await page.getByTestId('ingest-sweep').textContent()).toBe(
      `The ingest sweep ${PROJECT}/ingest/sweep: every 10m, one long-lived workflow; it loads the closed segments whose ingestion did not start as they closed, and from tables by watermark. ` +
        'The retention of clicks, impressions, ranking_decisions: every 1d from the sweep (streams without a retentionSchedule).',
    );
    await check(page, 'plan');

    // A scheduled view and a source whose table is missing: the schedule to create on Temporal, and the failed check with the view over it not run.
    project.write('definitions/more.ts', `import { featureView, source } from 'flywheel';
import { item } from './entities.ts';
import { items } from './sources.ts';
export const ghost = source({ name: 'ghost', table: 'ghost', timestampField: 'ts', columns: { item_id: 'int64', ts: 'timestamp' } });
export const ghostView = featureView({ name: 'ghost_view', entities: [item], source: ghost, features: { n: 'int64' }, transformation: 'SELECT item_id, ts, 1 AS n FROM {{source}}' });
export const itemPrice = featureView({ name: 'item_price', entities: [item], source: items, features: { price: 'float64' }, online: true, materialize: { every: '1h' } });
`);
    try {
      expect(await open(page, '/plan', /^Plan$/)).toEqual([]);
      expect(await page.getByTestId('plan-summary').textContent()).toBe('3 to add, 0 to change, 0 to remove. Schedules: 1 to create, 0 to update, 0 to delete.');
      expect(await page.locator('tr[data-change]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-change')))).toEqual(['source/ghost', 'featureView/ghost_view', 'featureView/item_price']);
      const schedule = page.locator(`tr[data-schedule="flywheel:${PROJECT}:materialization:item_price"] td`);
      expect(await schedule.allTextContents()).toEqual(['create', `flywheel:${PROJECT}:materialization:item_price`, 'materialization of item_price', 'every 1h', '']);
      expect(await checkRows()).toEqual([['source/ghost', 'fail'], ['source/items', 'pass'], ['featureView/ghost_view', 'skipped'], ['featureView/user_category_clicks', 'pass']]);
      expect(await page.locator('tr[data-check="source/ghost"] td').nth(4).textContent()).toMatch(/^cannot read table "ghost" in the warehouse: .*ghost does not exist/);
      expect(await page.getByTestId('checks-failed').textContent()).toBe('1 warehouse check fails: flywheel plan and flywheel apply stop until the warehouse matches the definitions.');
      await check(page, 'plan-changes');
    } finally {
      project.write('definitions/more.ts', 'export {};\n');
    }
    // The header's links go between pages.
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Loop' }).click();
    await page.getByRole('heading', { level: 1, name: /^Loop$/ }).waitFor();
    await page.close();
  });
});
