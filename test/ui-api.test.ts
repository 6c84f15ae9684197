import { spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { sql as compiled } from '../core/sql/compiled-query.ts';
import { TokenTable } from '../server/auth/bearer-tokens.ts';
import { connectRunFinder, type RunFinder, type RunSummary } from '../server/ui/temporal-runs.ts';
import { createUiApp } from '../server/ui/ui-app.ts';
import type { UiSources } from '../server/ui/ui-sources.ts';
import { WarehouseAccess } from '../server/ui/warehouse-access.ts';
import { warehouseChangeToken } from '../connectors/offline/warehouse-change-token.ts';
import { loadDefinitions } from '../cli/project/load-definitions.ts';
import { loadConfig } from '../runtime/load-config.ts';
import { TemporalSchedules } from '../runtime/temporal-schedules.ts';
import type { ResolvedTemporalConfig } from '../core/config.ts';
import { REPO_ROOT, createTempProject, type TempProject } from './support/temp-project.ts';
import { runWorker, temporalAddress, temporalNamespace, testTaskQueue } from './setup/temporal.ts';
import { putSealedSegment } from './support/sealed-segments.ts';

/**
 * The UI's JSON API (server/ui/ui-app.ts) over a small project made by hand: two streams (one sent
 * through the log API as a sealed segment, one loaded from a table), a profile source, two online views,
 * a training set and labels, one turn of the loop as of a fixed instant on the shared Temporal dev
 * server, with real DuckDB, SQLite and local object store files. The API is read with the clock fixed
 * an hour after the loop's instant, so every age and every count below is computed by hand from the
 * rows written here. Then `flywheel ui` itself: it serves the same API on 127.0.0.1 with the token it
 * prints.
 */

const PROJECT = 'ui_api';
const AS_OF = '2024-05-02T06:00:00.000Z';
const NOW = '2024-05-02T07:00:00.000Z';
const READ_TOKEN = 'ui-read-token';
const WRITE_TOKEN = 'ui-write-token';
/** DuckDB's first line for a table that does not exist (the engine's own words, as plan shows them). */
const GHOST_ERROR = 'duckdb query failed: Catalog Error: Table with name ghost does not exist!';

const DEFINITIONS = `
import { entity, eventStream, featureView, labels, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64' } });
export const orders = eventStream({ name: 'orders', entities: [user], timestampField: 'ts', eventIdField: 'order_id', retention: '365d',
  fields: { order_id: 'string', amount: 'float64' }, from: { table: 'raw_orders', watermark: 'ts', lookback: '1h' } });
export const profile = source({ name: 'profile', table: 'profile', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', country: 'string', score: 'float64' } });
export const spine = source({ name: 'spine', table: 'spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', label: 'bool' } });
export const userClicks = featureView({ name: 'user_clicks', entities: [user], source: clicks, aggregations: [{ function: 'count', windows: ['1d'] }] });
export const userProfile = featureView({ name: 'user_profile', entities: [user], source: profile, features: { country: 'string', score: 'float64' }, ttl: '30d' });
export const profileTraining = trainingSet({ name: 'profile_training', spine, features: [userProfile] });
// An order is a decision; a click by the same user within the hour labels it.
export const clickedAfter = labels({ name: 'clicked_after', decisions: orders, outcomes: clicks, match: { by: 'keys' }, window: '1h', value: { kind: 'any' } });
`;

let project: TempProject;
let stateDir: string;
let warehouse: string;
let store: SqliteOnlineStore;
let runs: RunFinder;
let schedules: TemporalSchedules | undefined;
let temporal: ResolvedTemporalConfig;
let sources: UiSources;
let app: ReturnType<typeof createUiApp>;
const taskQueue = testTaskQueue();

async function sql(text: string): Promise<Record<string, unknown>[]> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return await engine.all(compiled(text));
  } finally {
    await engine.close();
  }
}

async function api<T = Record<string, unknown>>(path: string, token: string | null = READ_TOKEN): Promise<{ status: number; body: T; headers: Headers }> {
  const response = await app.request(path, token === null ? {} : { headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as T, headers: response.headers };
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': DEFINITIONS,
  });
  stateDir = join(project.dir, '.flywheel');
  warehouse = join(stateDir, 'warehouse.duckdb');
  mkdirSync(stateDir, { recursive: true });
  await sql(`
    CREATE TABLE raw_orders (user_id BIGINT, ts TIMESTAMPTZ, order_id VARCHAR, amount DOUBLE);
    INSERT INTO raw_orders VALUES (1, '2024-05-01 10:00:00+00', 'o1', 20.0), (1, '2024-05-01 12:00:00+00', 'o2', 5.0), (2, '2024-05-01 11:00:00+00', 'o3', 7.5);
    CREATE TABLE profile (user_id BIGINT, ts TIMESTAMPTZ, country VARCHAR, score DOUBLE);
    INSERT INTO profile VALUES (1, '2024-04-20 00:00:00+00', 'DE', 0.5), (2, '2024-04-21 00:00:00+00', 'FR', 1.5), (3, '2024-04-22 00:00:00+00', 'DE', 2.5);
    CREATE TABLE spine (user_id BIGINT, ts TIMESTAMPTZ, label BOOLEAN);
    INSERT INTO spine VALUES (1, '2024-05-01 13:00:00+00', true), (2, '2024-05-01 14:00:00+00', false);`);
  // A sealed log segment of clicks, as flywheel serve leaves it in the object store.
  const click = (id: string, user: number, ts: string, item: number) => JSON.stringify({ _event_id: id, user_id: user, ts, item_id: item, _received_at: '2024-05-01T12:00:00.000Z' });
  await putSealedSegment(new LocalObjectStore(join(stateDir, 'objects')), { stream: 'clicks', segmentId: 'seg-0001' },
    encodeRecords([click('c1', 1, '2024-05-01T10:20:00Z', 10), click('c2', 1, '2024-05-01T10:50:00Z', 11), click('c3', 2, '2024-05-01T09:00:00Z', 12)]));

  store = new SqliteOnlineStore({ path: join(stateDir, 'online.sqlite') });
  const applied = project.cli('apply');
  expect(applied.code, applied.stderr).toBe(0);
  const scratchDir = join(stateDir, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  const deps = {
    project: PROJECT, openEngine: () => openDuckDBEngine({ path: warehouse }), registry: (engine: Awaited<ReturnType<typeof openDuckDBEngine>>) => new WarehouseRegistry(engine),
    materializationState: (engine: Awaited<ReturnType<typeof openDuckDBEngine>>) => new WarehouseMaterializationState(engine),
    objectStore: new LocalObjectStore(join(stateDir, 'objects')), scratchDir, stateDir, onlineStore: store,
  };
  const loop = await runWorker({ taskQueue, activities: createActivities(deps) }, () => project.cliAsync('loop', 'run', '--as-of', AS_OF));
  expect(loop.code, `${loop.stdout}\n${loop.stderr}`).toBe(0);

  ({ temporal } = (await loadConfig({ cwd: project.dir, profile: 'local' })).profile);
  runs = await connectRunFinder({ address: temporalAddress(), namespace: temporalNamespace(), taskQueue }, 'http://localhost:8233');
  sources = {
    project: PROJECT,
    warehouse: new WarehouseAccess(() => openDuckDBEngine({ path: warehouse }), { changeToken: warehouseChangeToken({ type: 'duckdb', path: warehouse })! }),
    objectStore: new LocalObjectStore(join(stateDir, 'objects')),
    onlineStore: store,
    runs,
    temporalUi: { url: 'http://localhost:8233', namespace: temporalNamespace() },
    loadDefinitions: () => loadDefinitions(join(project.dir, 'definitions'), project.dir),
    resolvePath: (path) => join(project.dir, path),
    schedules: { temporal, connect: async () => (schedules ??= await TemporalSchedules.connectToRead(PROJECT, temporal)) },
    now: () => new Date(NOW),
  };
  app = createUiApp({ sources, tokens: TokenTable.parse(`${READ_TOKEN}=read;${WRITE_TOKEN}=write:*`), assetsDir: undefined });
});

afterAll(async () => {
  await runs?.close();
  await schedules?.close();
  await store?.close();
  project?.remove();
});

describe('the UI API', { timeout: 60_000 }, () => {
  it('needs a token with the read scope, answers GET only, and names a missing route', async () => {
    const none = await api('/api/project', null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="flywheel"');
    expect(none.body).toEqual({ error: { code: 'unauthorized', message: 'missing bearer token; send Authorization: Bearer <token> (a token with the read scope)' } });
    expect((await api('/api/project', 'nope')).body).toEqual({ error: { code: 'unauthorized', message: 'unknown token' } });
    const writer = await api('/api/loop', WRITE_TOKEN);
    expect(writer.status).toBe(403);
    expect(writer.body).toEqual({ error: { code: 'forbidden', message: 'this token may not read: the UI needs the read scope (read or read:*)' } });
    const post = await app.request('/api/loop', { method: 'POST', headers: { Authorization: `Bearer ${READ_TOKEN}` } });
    expect(post.status).toBe(405);
    expect((await api('/api/nope')).body).toEqual({ error: { code: 'not_found', message: 'no API route GET /api/nope; see docs/ui.md for the routes' } });
    // Without a built frontend, a page says how to build it (the API works without it).
    const page = await app.request('/feature-views/user_profile');
    expect(page.status).toBe(404);
    expect(((await page.json()) as { error: { message: string } }).error.message).toContain('npm run build:ui');
  });

  it('GET /api/project: the applied version and its definitions by kind', async () => {
    const { status, body } = await api('/api/project');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      project: PROJECT, registryVersion: 1, temporalUi: 'http://localhost:8233',
      counts: { entity: 1, source: 2, eventStream: 2, featureView: 2, featureService: 0, trainingSet: 1, labels: 1, loop: 0 },
      names: { eventStream: ['clicks', 'orders'], featureView: ['user_clicks', 'user_profile'], source: ['profile', 'spine'], trainingSet: ['profile_training'], labels: ['clicked_after'] },
    });
  });

  it('GET /api/loop: every definition placed, with its health, lag and last run', async () => {
    const { body } = await api<{ nodes: { id: string; health: string; lagSeconds: number | null; href: string; lastRun: { status: string } | null; x: number; y: number }[]; edges: { from: string; to: string; points: unknown[] }[]; health: Record<string, number>; runsUnavailable: string | null; now: string }>('/api/loop');
    expect(body.now).toBe(NOW);
    expect(body.runsUnavailable).toBeNull();
    const nodes = Object.fromEntries(body.nodes.map((n) => [n.id, { health: n.health, lag: n.lagSeconds, href: n.href, lastRun: n.lastRun?.status ?? null }]));
    // The views were materialized as of AS_OF: an hour old at NOW. Loads and publishes happened in real time, after NOW: lag 0.
    expect(nodes).toEqual({
      'source:profile': { health: 'static', lag: null, href: '/definitions/source/profile', lastRun: null },
      'source:spine': { health: 'static', lag: null, href: '/definitions/source/spine', lastRun: null },
      'eventStream:clicks': { health: 'static', lag: null, href: '/streams/clicks', lastRun: null },
      'streamTable:clicks': { health: 'fresh', lag: 0, href: '/streams/clicks', lastRun: 'COMPLETED' },
      'eventStream:orders': { health: 'static', lag: null, href: '/streams/orders', lastRun: null },
      'streamTable:orders': { health: 'fresh', lag: 0, href: '/streams/orders', lastRun: 'COMPLETED' },
      'featureView:user_clicks': { health: 'fresh', lag: 3600, href: '/feature-views/user_clicks', lastRun: 'COMPLETED' },
      'featureView:user_profile': { health: 'fresh', lag: 3600, href: '/feature-views/user_profile', lastRun: 'COMPLETED' },
      'labels:clicked_after': { health: 'fresh', lag: 0, href: '/labels/clicked_after', lastRun: 'COMPLETED' },
      'trainingSet:profile_training': { health: 'fresh', lag: 0, href: '/training-sets/profile_training', lastRun: 'COMPLETED' },
    });
    expect(body.health).toEqual({ fresh: 6, stale: 0, failing: 0, never: 0, static: 4 });
    expect(body.edges.map((e) => `${e.from} -> ${e.to}`).sort()).toEqual([
      'eventStream:clicks -> streamTable:clicks',
      'eventStream:orders -> streamTable:orders',
      'featureView:user_profile -> trainingSet:profile_training',
      'source:profile -> featureView:user_profile',
      'source:spine -> trainingSet:profile_training',
      'streamTable:clicks -> featureView:user_clicks',
      'streamTable:clicks -> labels:clicked_after',
      'streamTable:orders -> labels:clicked_after',
    ]);
    // Laid out left to right: every edge goes from a node to one further right, along a routed polyline.
    const x = new Map(body.nodes.map((n) => [n.id, n.x]));
    for (const edge of body.edges) {
      expect(x.get(edge.to)!).toBeGreaterThan(x.get(edge.from)!);
      expect(edge.points.length).toBeGreaterThanOrEqual(2);
    }
    // The same layout on every load.
    const again = await api<{ nodes: { id: string; x: number; y: number }[] }>('/api/loop');
    expect(again.body.nodes.map((n) => [n.id, n.x, n.y])).toEqual(body.nodes.map((n) => [n.id, n.x, n.y]));
  });

  it('GET /api/feature-views/:name: definition, freshness, runs and the skew histogram', async () => {
    const [state] = await sql("SELECT \"rows\" FROM flywheel.materialization_state WHERE feature_view = 'user_profile'");
    const { body } = await api<Record<string, unknown> & { freshness: { at: string; ageSeconds: number }[]; runs: RunSummary[]; histogram: { bins: { label: string; offline: number; online: number }[] } }>('/api/feature-views/user_profile');
    expect(body).toMatchObject({
      name: 'user_profile', registryVersion: 1, now: NOW,
      source: { name: 'profile', kind: 'source', href: '/definitions/source/profile' },
      entities: ['user'], joinKeys: ['user_id'], features: [{ name: 'country', type: 'string' }, { name: 'score', type: 'float64' }],
      ttlSeconds: 2_592_000, online: true,
      status: { view: 'user_profile', schedule: null, watermark: AS_OF, ageSeconds: 3600, state: 'unscheduled', stale: false, mode: 'full', rows: Number(state!.rows), definitionChanged: false },
      runsUnavailable: null, histogramUnavailable: null,
    });
    expect(body.typescript).toBe([
      'featureView({',
      "  name: 'user_profile',",
      "  entities: ['user'],",
      "  source: 'profile',",
      "  features: { country: 'string', score: 'float64' },",
      "  ttl: '30d',",
      '  online: true,',
      '  offline: true,',
      '});',
      '',
    ].join('\n'));
    // One materialization (the loop's), completed; its point is the age of AS_OF when it ended, then now's.
    expect(body.runs.map((run) => [run.kind, run.object, run.status, run.rangeEnd])).toEqual([['materialization', 'user_profile', 'COMPLETED', AS_OF]]);
    expect(body.runs[0]!.url).toBe(`http://localhost:8233/namespaces/${temporalNamespace()}/workflows/${encodeURIComponent(body.runs[0]!.workflowId)}/${body.runs[0]!.runId}/history`);
    expect(body.freshness.at(-1)).toEqual({ at: NOW, ageSeconds: 3600 });
    expect(body.freshness).toHaveLength(2);
    expect(body.freshness[0]!.ageSeconds).toBe(Math.round((Date.parse(body.runs[0]!.closeTime!) - Date.parse(AS_OF)) / 1000));
    // The first numeric feature, score: 0.5, 1.5 and 2.5 offline and online, in 10 bins of 0.2.
    expect(body.histogram).toMatchObject({ feature: 'score', type: 'float64', sample: 3, nulls: { offline: 0, online: 0 }, differing: 0 });
    expect(body.histogram.bins.map((b) => [b.label, b.offline, b.online])).toEqual([
      ['0.5–0.7', 1, 1], ['0.7–0.9', 0, 0], ['0.9–1.1', 0, 0], ['1.1–1.3', 0, 0], ['1.3–1.5', 0, 0],
      ['1.5–1.7', 1, 1], ['1.7–1.9', 0, 0], ['1.9–2.1', 0, 0], ['2.1–2.3', 0, 0], ['2.3–2.5', 1, 1],
    ]);
    // A string feature is counted by value (most frequent first, ties by value); user 3's row changed offline since: it differs.
    await sql("UPDATE profile SET country = 'FR', ts = '2024-05-02 06:30:00+00' WHERE user_id = 3");
    const country = await api<{ histogram: unknown }>('/api/feature-views/user_profile?feature=country');
    expect(country.body.histogram).toEqual({ feature: 'country', type: 'string', sample: 3, bins: [{ label: 'DE', offline: 1, online: 2 }, { label: 'FR', offline: 2, online: 1 }], nulls: { offline: 0, online: 0 }, differing: 1 });
    await sql("UPDATE profile SET country = 'DE', ts = '2024-04-22 00:00:00+00' WHERE user_id = 3");
    const unknown = await api('/api/feature-views/user_profile?feature=nope');
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: 'bad_request', message: 'Feature view "user_profile" has no feature "nope"; its features are country, score' } } });
    const missing = await api('/api/feature-views/user_profil');
    expect(missing).toMatchObject({ status: 404, body: { error: { code: 'not_found', message: 'feature view "user_profil" not found. Applied: user_clicks, user_profile' } } });
  });

  it('GET /api/training-sets/:name: versions, partitions, columns with provenance, and the snippets', async () => {
    const { body } = await api<{ dataset: { rowCount: number; bytes: number; versions: { version: string; partitions: number; rows: number }[]; partitions: { key: string; rows: number; bytes: number; files: number; version: string }[]; columns: unknown[] }; snippets: { python: string; typescript: string }; consistency: unknown }>('/api/training-sets/profile_training');
    const partition = join(stateDir, 'objects', 'training_sets', 'profile_training', 'day=2024-05-01', 'part-00000.parquet');
    // The loop built the day before AS_OF: the spine's two rows of 2024-05-01.
    expect(body.dataset.rowCount).toBe(2);
    expect(body.dataset.partitions).toHaveLength(1);
    expect(body.dataset.partitions[0]).toMatchObject({ key: 'day=2024-05-01', rows: 2, files: 1 });
    const size = statSync(partition).size;
    expect(body.dataset.partitions[0]!.bytes).toBe(size);
    expect(body.dataset.bytes).toBe(size);
    expect(body.dataset.versions).toEqual([{ version: body.dataset.partitions[0]!.version, createdAt: expect.any(String), registryVersion: 1, partitions: 1, rows: 2 }]);
    expect(body.dataset.columns).toEqual([
      { name: 'user_id', type: 'int64', provenance: 'spine', log: null, join: null },
      { name: 'ts', type: 'timestamp', provenance: 'spine', log: null, join: null },
      { name: 'label', type: 'bool', provenance: 'spine', log: null, join: null },
      { name: 'country', type: 'string', provenance: 'recomputed', log: null, join: null },
      { name: 'score', type: 'float64', provenance: 'recomputed', log: null, join: null },
    ]);
    expect(body.consistency).toBeNull();
    expect(body.snippets.python).toContain(`files = [\n    ${JSON.stringify(partition)},\n]`);
    expect(body.snippets.typescript).toContain(`const files = [\n  '${partition}',\n];`);
    const unknown = await api('/api/training-sets/profile_training?version=nope');
    expect(unknown.status).toBe(404);
  });

  it('GET /api/labels/:name: partitions by state, the positive rate, and the outcome delays', async () => {
    const { body } = await api<{ dataset: Record<string, unknown> & { partitions: Record<string, unknown>[] }; delays: { partitions: number; rows: number; bins: { label: string; rows: number }[] } }>('/api/labels/clicked_after');
    // o1 (user 1, 10:00) is followed by c1 at 10:20: labeled 1 after 1,200 s; o2 (user 1, 12:00) and o3 (user 2, 11:00) by none.
    expect(body.dataset).toMatchObject({ rowCount: 3, positives: 1, states: { open: 0, matured: 1, 'late-rebuilt': 0 } });
    expect(body.dataset.partitions).toEqual([{
      key: 'day=2024-05-01', start: '2024-05-01T00:00:00.000Z', end: '2024-05-02T00:00:00.000Z', version: 1, state: 'matured', rows: 3, positives: 1,
      positiveRate: 1 / 3, reason: 'new', asOf: AS_OF, createdAt: expect.any(String),
    }]);
    expect(body.delays.partitions).toBe(1);
    expect(body.delays.rows).toBe(1);
    // Ten bins of 6 minutes over the 1 h window: 20 minutes falls in the fourth, [18m, 24m).
    expect(body.delays.bins.map((b) => [b.label, b.rows])).toEqual([
      ['0s–6m', 0], ['6m–12m', 0], ['12m–18m', 0], ['18m–24m', 1], ['24m–30m', 0], ['30m–36m', 0], ['36m–42m', 0], ['42m–48m', 0], ['48m–54m', 0], ['54m–1h', 0],
    ]);
  });

  it('GET /api/streams and /api/streams/:name: events, loads, lag, quarantine and retention', async () => {
    const list = await api<{ streams: unknown[] }>('/api/streams');
    const [loaded] = (await sql("SELECT batch FROM flywheel.ingest_ledger WHERE stream = 'clicks'")) as { batch: string }[];
    expect(list.body.streams).toEqual([
      { name: 'clicks', origin: 'log API', events: 3, batches: 1, lastLoadedAt: expect.any(String), quarantined: 0, retentionSeconds: 7_776_000 },
      { name: 'orders', origin: 'table', events: 3, batches: 1, lastLoadedAt: expect.any(String), quarantined: 0, retentionSeconds: 31_536_000 },
    ]);
    expect(loaded).toBeDefined();
    const { body } = await api<{ eventsPerMinute: { minute: string; events: number }[]; loads: { batch: string; rows: number; lagSeconds: number; loadedAt: string }[] } & Record<string, unknown>>('/api/streams/clicks');
    expect(body).toMatchObject({
      name: 'clicks', origin: 'log API', table: 'flywheel.stream_clicks', events: 3, firstEvent: '2024-05-01T09:00:00.000Z', lastEvent: '2024-05-01T10:50:00.000Z',
      quarantined: 0, quarantine: [], retention: { retentionSeconds: 7_776_000, cutoff: '2024-02-02T07:00:00.000Z', expired: 0, scheduled: false },
    });
    // 120 minutes ending with the latest event's: 08:51 to 10:50.
    expect(body.eventsPerMinute).toHaveLength(120);
    expect(body.eventsPerMinute[0]!.minute).toBe('2024-05-01T08:51:00.000Z');
    expect(body.eventsPerMinute.filter((m) => m.events > 0)).toEqual([
      { minute: '2024-05-01T09:00:00.000Z', events: 1 }, { minute: '2024-05-01T10:20:00.000Z', events: 1 }, { minute: '2024-05-01T10:50:00.000Z', events: 1 },
    ]);
    // One load; its lag is from the segment's receive time to the load.
    expect(body.loads).toHaveLength(1);
    expect(body.loads[0]).toMatchObject({ batch: loaded!.batch, rows: 3 });
    expect(loaded!.batch).toMatch(/seg-0001$/);
    // Computed in microseconds by the warehouse; loadedAt is shown to the millisecond: equal within 1 ms.
    expect(Math.abs(body.loads[0]!.lagSeconds - (Date.parse(body.loads[0]!.loadedAt) - Date.parse('2024-05-01T12:00:00.000Z')) / 1000)).toBeLessThan(0.001);
  });

  it('GET /api/runs: the project\'s runs from Temporal\'s visibility, by kind and object', async () => {
    const all = await api<{ runs: RunSummary[]; unavailable: string | null }>('/api/runs');
    expect(all.body.unavailable).toBeNull();
    // The loop and every stage it ran (a stage may run children of the same kind and object: labels per partition).
    const kinds = [...new Set(all.body.runs.map((run) => `${run.kind}/${run.object ?? 'all'}`))].sort();
    expect(kinds).toEqual([
      'ingest/clicks', 'ingest/orders', 'labels/clicked_after', 'loop/all',
      'materialization/user_clicks', 'materialization/user_profile', 'training-set/profile_training',
    ]);
    expect(all.body.runs.every((run) => run.status === 'COMPLETED' && run.durationMs! >= 0)).toBe(true);
    const one = await api<{ runs: RunSummary[] }>('/api/runs?object=clicked_after');
    expect(one.body.runs.length).toBeGreaterThanOrEqual(2);
    expect(new Set(one.body.runs.map((run) => `${run.kind}/${run.object}`))).toEqual(new Set(['labels/clicked_after']));
    const kind = await api<{ runs: RunSummary[] }>('/api/runs?kind=ingest');
    expect(new Set(kind.body.runs.map((run) => run.object))).toEqual(new Set(['clicks', 'orders']));
  });

  it('GET /api/plan: the document flywheel plan --json prints, and the warehouse checks with their outcome', async () => {
    const passing = [
      { kind: 'source', object: 'profile', relation: 'table "profile"', outcome: 'pass', message: 'table "profile" has the 4 declared columns, each of a compatible type', issues: [] },
      { kind: 'source', object: 'spine', relation: 'table "spine"', outcome: 'pass', message: 'table "spine" has the 3 declared columns, each of a compatible type', issues: [] },
      { kind: 'eventStream', object: 'orders', relation: 'table "raw_orders"', outcome: 'pass', message: 'table "raw_orders" has the stream\'s keys, timestamp, fields and watermark, each of a compatible type', issues: [] },
    ];
    const cliPlan = () => {
      const run = project.cli('plan', '--json');
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as Record<string, unknown>;
    };
    // Nothing changed: nothing scheduled, so Temporal is not asked.
    const unchanged = cliPlan();
    expect(unchanged).toMatchObject({ format: 'flywheel.plan/v1', project: PROJECT, applied: { version: 1 }, hasChanges: false, summary: { add: 0, change: 0, remove: 0, breaking: 0 }, changes: [], schedules: [] });
    expect((await api('/api/plan')).body).toEqual({ ...unchanged, warehouseChecks: passing, checksSummary: { pass: 3, fail: 0, skipped: 0 }, schedulesOn: null, schedulesUnavailable: null });

    // A view with a materialization schedule: one to add, one schedule to create on Temporal, as the CLI says.
    project.write('definitions/more.ts', `import { featureView } from 'flywheel';
import { user, profile } from './all.ts';
export const userCountry = featureView({ name: 'user_country', entities: [user], source: profile, features: { country: 'string' }, online: true, materialize: { every: '1h' } });
`);
    try {
      const scheduled = cliPlan();
      const { body } = await api('/api/plan');
      expect(body).toEqual({ ...scheduled, warehouseChecks: passing, checksSummary: { pass: 3, fail: 0, skipped: 0 }, schedulesOn: { address: temporalAddress(), namespace: temporalNamespace() }, schedulesUnavailable: null });
      expect(body).toMatchObject({
        hasChanges: true, summary: { add: 1, change: 0, remove: 0, breaking: 0 }, changes: [{ action: 'add', kind: 'featureView', name: 'user_country', breaking: false }],
        schedules: [{ action: 'create', id: `flywheel:${PROJECT}:materialization:user_country`, featureView: 'user_country', spec: 'every 1h' }],
      });

      // Temporal away: the schedules are not compared, and the page says why; the rest is shown.
      const away = createUiApp({
        sources: { ...sources, schedules: { temporal: { ...sources.schedules.temporal, address: '127.0.0.1:1' }, connect: () => TemporalSchedules.connectToRead(PROJECT, { ...temporal, address: '127.0.0.1:1' }) } },
        tokens: TokenTable.parse(`${READ_TOKEN}=read`), assetsDir: undefined,
      });
      const awayBody = (await (await away.request('/api/plan', { headers: { Authorization: `Bearer ${READ_TOKEN}` } })).json()) as Record<string, unknown>;
      expect(awayBody).toMatchObject({ hasChanges: true, summary: { add: 1 }, schedules: [], schedulesOn: null, checksSummary: { pass: 3, fail: 0, skipped: 0 } });
      expect(awayBody.schedulesUnavailable).toMatch(/^the schedules on Temporal at 127\.0\.0\.1:1 cannot be read: .+/);

      // A source whose table is missing, one that declares a column the table lacks and another of the
      // wrong type, a transformation over each (one not run), and one that runs but returns a string
      // where the view declares a number: the page lists each check (flywheel plan stops at the first failure).
      project.write('definitions/broken.ts', `import { featureView, source } from 'flywheel';
import { profile, user } from './all.ts';
export const ghost = source({ name: 'ghost', table: 'ghost', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
export const profileTyped = source({ name: 'profile_typed', table: 'profile', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', country: 'int64', city: 'string' } });
export const ghostView = featureView({ name: 'ghost_view', entities: [user], source: ghost, features: { n: 'int64' }, transformation: 'SELECT user_id, ts, 1 AS n FROM {{source}}' });
export const scoreView = featureView({ name: 'score_view', entities: [user], source: profile, features: { score: 'float64' }, transformation: 'SELECT user_id, ts, country AS score FROM {{source}}' });
`);
      const broken = project.cli('plan');
      expect(broken.code).toBe(1);
      expect(broken.stderr).toContain('The warehouse does not match the definitions (4 problems)');
      const checks = (await api<{ warehouseChecks: unknown[]; checksSummary: unknown; changes: { name: string }[] }>('/api/plan')).body;
      expect(checks.changes.map((change) => change.name)).toEqual(['ghost', 'profile_typed', 'ghost_view', 'score_view', 'user_country']);
      expect(checks.checksSummary).toEqual({ pass: 3, fail: 3, skipped: 1 });
      expect(checks.warehouseChecks).toEqual([
        {
          kind: 'source', object: 'ghost', relation: 'table "ghost"', outcome: 'fail',
          message: `cannot read table "ghost" in the warehouse: ${GHOST_ERROR}`,
          issues: [{ kind: 'source', object: 'ghost', message: `cannot read table "ghost" in the warehouse: ${GHOST_ERROR}`, unreadable: true }],
        },
        passing[0],
        {
          kind: 'source', object: 'profile_typed', relation: 'table "profile"', outcome: 'fail',
          message: 'column "country": declared int64 but the warehouse column is VARCHAR; column "city": no such column in table "profile" (its columns are user_id, ts, country, score)',
          issues: [
            { kind: 'source', object: 'profile_typed', column: 'country', message: 'declared int64 but the warehouse column is VARCHAR' },
            { kind: 'source', object: 'profile_typed', column: 'city', message: 'no such column in table "profile" (its columns are user_id, ts, country, score)' },
          ],
        },
        passing[1],
        passing[2],
        { kind: 'featureView', object: 'ghost_view', relation: 'transformation', outcome: 'skipped', message: 'not run: its source "ghost" failed its check', issues: [] },
        {
          kind: 'featureView', object: 'score_view', relation: 'transformation', outcome: 'fail',
          message: 'column "score": declared float64 but the warehouse column is VARCHAR',
          issues: [{ kind: 'featureView', object: 'score_view', column: 'score', message: 'declared float64 but the warehouse column is VARCHAR' }],
        },
      ]);
    } finally {
      project.write('definitions/more.ts', 'export {};\n');
      project.write('definitions/broken.ts', 'export {};\n');
    }
  });

  it('GET /api/definitions/:kind/:name: one applied definition as TypeScript', async () => {
    const { body } = await api('/api/definitions/source/spine');
    expect(body).toMatchObject({ kind: 'source', name: 'spine', registryVersion: 1 });
    expect(body.typescript).toBe([
      'source({',
      "  name: 'spine',",
      "  location: { type: 'table', table: 'spine' },",
      "  timestampField: 'ts',",
      "  columns: { user_id: 'int64', ts: 'timestamp', label: 'bool' },",
      '});',
      '',
    ].join('\n'));
    expect((await api('/api/definitions/widget/x')).status).toBe(404);
  });

  it('flywheel ui serves the API on 127.0.0.1 with the token it prints, until SIGTERM', async () => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), 'ui', '--port', '0'], { cwd: project.dir, env: { ...process.env, FLYWHEEL_TOKENS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      for (let i = 0; i < 300 && !/Ctrl-C stops it/.test(out); i++) await new Promise((resolve) => setTimeout(resolve, 100));
      const match = /Flywheel UI {8}(http:\/\/127\.0\.0\.1:(\d+))\/\?token=([0-9a-f]{36})\n/.exec(out);
      expect(match, out).not.toBeNull();
      const [, url, , token] = match!;
      const answer = await fetch(`${url}/api/project`, { headers: { Authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { project: string }).project).toBe(PROJECT);
      expect((await fetch(`${url}/api/project`)).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
