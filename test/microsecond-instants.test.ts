import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { MaterializeDeps } from '../activities/materialize.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { compileIngestBatch } from '../core/sql/ingest.ts';
import { runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Instants keep their microseconds from the CLI through Temporal to the SQL (docs/point-in-time.md,
 * "Instants"): materialization, a training set and a labels build, each driven by the real CLI
 * against a worker on the shared Temporal dev server, with events exactly at the instant and 1 µs on
 * either side. Truncating any of these instants to milliseconds changes at least one expected value
 * below (worked out in the comments). Also: an integer sum outside int64 fails naming itself.
 */

const PROJECT = 'micros_test';
/** The instant of every check; its microseconds (…719310) are what a Date would drop. */
const T = '2026-03-01T12:00:00.719310Z';
const BEFORE = '2026-03-01T12:00:00.719309Z'; // T - 1 µs
const AFTER = '2026-03-01T12:00:00.719311Z'; // T + 1 µs
const HOUR_BEFORE = '2026-03-01T11:00:00.719310Z'; // T - 1h: exactly where a 1h window (T - 1h, T] opens, so out
const HOUR_BEFORE_IN = '2026-03-01T11:00:00.719311Z'; // 1 µs inside it
const HOUR_BEFORE_OUT = '2026-03-01T11:00:00.719309Z'; // 1 µs outside it
/** Labels are built as of T + 1h: a decision at T has just matured (d + w = A), one at T + 1 µs has not. */
const A = '2026-03-01T13:00:00.719310Z';
const A_AFTER = '2026-03-01T13:00:00.719311Z';
const INT64_MAX = '9223372036854775807';

const definitions = `
import { entity, eventStream, featureService, featureView, labels, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });

export const taps = source({ name: 'taps', table: 'taps', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', qty: 'int64' } });
export const tapWindows = featureView({ name: 'user_taps', entities: [user], source: taps, online: true,
  aggregations: [{ function: 'count', windows: ['1h'] }, { column: 'qty', function: 'sum', windows: ['1h'] }] });
export const moods = source({ name: 'moods', table: 'moods', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', mood: 'string' } });
export const moodView = featureView({ name: 'user_mood', entities: [user], source: moods, ttl: '1h', online: true, features: { mood: 'string' } });
export const probes = source({ name: 'probes', table: 'probes', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
export const tapModel = featureService({ name: 'tap_model', features: [tapWindows, moodView] });
export const tapTraining = trainingSet({ name: 'tap_training', spine: probes, features: tapModel, output: { path: 'datasets/taps' } });

export const big = source({ name: 'big', table: 'big', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', qty: 'int64' } });
export const bigWindows = featureView({ name: 'user_big', entities: [user], source: big, online: true, aggregations: [{ column: 'qty', function: 'sum', windows: ['1h'] }] });
export const bigModel = featureService({ name: 'big_model', features: [bigWindows] });
export const bigTraining = trainingSet({ name: 'big_training', spine: probes, features: bigModel, output: { path: 'datasets/big' } });

export const logged = featureService({ name: 'mood_model', features: [moodView], logging: { sampleRate: 1 } });
export const payouts = eventStream({ name: 'payouts', entities: [user], timestampField: 'ts', fields: { decision_id: 'string', cents: 'int64' }, retention: '365d' });
export const paid = labels({ name: 'paid', decisions: logged, outcomes: payouts,
  match: { by: 'decision_id', outcomeField: 'decision_id' }, window: '1h', value: { kind: 'sum', field: 'cents' } });
`;

let project: TempProject;
let warehouse: string;
let objectsRoot: string;
let onlineStore: SqliteOnlineStore;
let batches = 0;
const taskQueue = testTaskQueue();

function deps(): MaterializeDeps {
  const scratchDir = join(project.dir, '.flywheel', 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return {
    project: PROJECT,
    openEngine: () => openDuckDBEngine({ path: warehouse }),
    registry: (engine) => new WarehouseRegistry(engine),
    materializationState: (engine) => new WarehouseMaterializationState(engine),
    objectStore: new LocalObjectStore(objectsRoot),
    scratchDir,
    onlineStore,
  };
}

/** The real CLI, with a worker of this test answering its workflows. */
const cli = (...args: string[]) => runWorker({ taskQueue, activities: createActivities(deps()) }, () => project.cliAsync(...args));

async function sql<T extends Record<string, unknown> = Record<string, unknown>>(text: string): Promise<T[]> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return await engine.all<T>({ sql: text, parameters: [] });
  } finally {
    await engine.close();
  }
}

/** Stores events through the ingestion statements, as one batch. */
async function ingest(stream: string, events: Record<string, unknown>[]): Promise<void> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    const spec = (await new WarehouseRegistry(engine).latest(PROJECT))!.spec.eventStreams[stream]!;
    const batch = `batch-${++batches}`;
    const file = join(project.dir, `${batch}.ndjson`);
    const loadedAt = '2026-03-01T14:00:00Z';
    writeFileSync(file, events.map((e) => JSON.stringify({ _received_at: loadedAt, ...e })).join('\n'));
    await engine.transaction(async (tx) => {
      for (const statement of compileIngestBatch(spec, { batch, stagingRelation: { kind: 'staged', files: { locations: [file], format: 'jsonLines' } }, loadedAt }, engine.dialect)) await tx.run(statement);
    });
  } finally {
    await engine.close();
  }
}

/** Every row of a dataset's one day partition, in file order. */
const datasetRows = (path: string) => sql(`SELECT * FROM read_parquet('${join(objectsRoot, path, 'day=2026-03-01', '*.parquet')}', hive_partitioning = false)`);

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions,
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  objectsRoot = join(project.dir, '.flywheel', 'objects');
  onlineStore = new SqliteOnlineStore({ path: join(project.dir, '.flywheel', 'online.sqlite') });
  const ts = (instant: string) => `TIMESTAMPTZ '${instant}'`;
  await sql(`
    CREATE TABLE taps (user_id BIGINT, ts TIMESTAMPTZ, qty BIGINT);
    INSERT INTO taps VALUES
      (1, ${ts(HOUR_BEFORE)}, 1), (1, ${ts(HOUR_BEFORE_IN)}, 10), (1, ${ts(T)}, 100), (1, ${ts(AFTER)}, 1000),
      (2, ${ts(BEFORE)}, 5), (2, ${ts(HOUR_BEFORE_OUT)}, 7),
      (3, ${ts(AFTER)}, 9);
    CREATE TABLE moods (user_id BIGINT, ts TIMESTAMPTZ, mood VARCHAR);
    INSERT INTO moods VALUES (1, ${ts(T)}, 'now'), (1, ${ts(AFTER)}, 'future'), (2, ${ts(HOUR_BEFORE)}, 'edge'), (3, ${ts(HOUR_BEFORE_OUT)}, 'stale');
    CREATE TABLE probes (user_id BIGINT, ts TIMESTAMPTZ);
    INSERT INTO probes VALUES (1, ${ts(T)}), (2, ${ts(T)}), (3, ${ts(T)}), (1, ${ts(BEFORE)});
    CREATE TABLE big (user_id BIGINT, ts TIMESTAMPTZ, qty BIGINT);
    INSERT INTO big VALUES (1, ${ts(BEFORE)}, ${INT64_MAX}), (1, ${ts(T)}, 1), (2, ${ts(T)}, ${INT64_MAX});
  `);
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
});

afterAll(async () => {
  await onlineStore?.close();
  project?.remove();
});

describe('an instant with microseconds', () => {
  it('materializes as of exactly that instant, and the training set at that instant agrees', async () => {
    // user_taps as of T, window (T - 1h, T]:
    //   user 1: HOUR_BEFORE is out (exactly T - 1h), HOUR_BEFORE_IN and T are in, AFTER is in the future: 2 events, 10 + 100;
    //   user 2: BEFORE is in, HOUR_BEFORE_OUT is out: 1 event, 5;
    //   user 3: its only event is 1 µs after T: no row.
    // Cut to …719Z, T itself would fall out and HOUR_BEFORE come in (user 1: 1 + 10), and BEFORE fall out (user 2: nothing).
    const taps = await cli('materialize', 'user_taps', '--to', T, '--json');
    expect(taps.code).toBe(0);
    expect(JSON.parse(taps.stdout)).toMatchObject({ view: 'user_taps', mode: 'full', to: T, rows: 2, watermarkAdvanced: true, watermark: T });
    const moods = await cli('materialize', 'user_mood', '--to', T, '--json');
    expect(moods.code).toBe(0);
    expect(JSON.parse(moods.stdout)).toMatchObject({ view: 'user_mood', to: T, rows: 2, watermark: T });

    const read = async (view: string) =>
      (await onlineStore.read([1, 2, 3].map((user) => ({ view, key: [user], ttlSeconds: null })), new Date(T)))
        .map((v) => (v.status === 'missing' ? null : { values: v.values, eventTime: v.eventTime }));
    expect(await read('user_taps')).toEqual([
      { values: { count_1h: 2, qty_sum_1h: 110 }, eventTime: T },
      { values: { count_1h: 1, qty_sum_1h: 5 }, eventTime: T },
      null,
    ]);
    // user_mood, ttl 1h: user 1's latest row at or before T is T's ('now'), not AFTER's; user 2's is
    // exactly 1h old (kept); user 3's is 1 µs past the ttl.
    expect(await read('user_mood')).toEqual([
      { values: { mood: 'now' }, eventTime: T },
      { values: { mood: 'edge' }, eventTime: HOUR_BEFORE },
      null,
    ]);
    // The stored watermark keeps its microseconds, so the next run starts exactly there.
    expect(await sql(`SELECT watermark FROM flywheel.materialization_state WHERE feature_view = 'user_taps'`)).toEqual([{ watermark: T }]);
    const again = await cli('materialize', 'user_taps', '--to', T, '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ mode: 'incremental', from: T, to: T, chunks: 0, rows: 0 });

    // Offline, the same instants: the spine rows at T get exactly the online values (0 and null for user 3);
    // the row at BEFORE sees (BEFORE - 1h, BEFORE]: HOUR_BEFORE and HOUR_BEFORE_IN (1 + 10), not T; no mood yet.
    const built = await cli('run', 'training-set', 'tap_training', '--from', '2026-03-01', '--to', '2026-03-02', '--json');
    expect(built.stderr).not.toMatch(/Error/);
    expect(built.code).toBe(0);
    expect(await datasetRows('datasets/taps')).toEqual([
      { user_id: 1, ts: T, count_1h: 2, qty_sum_1h: 110, mood: 'now' },
      { user_id: 2, ts: T, count_1h: 1, qty_sum_1h: 5, mood: 'edge' },
      { user_id: 3, ts: T, count_1h: 0, qty_sum_1h: null, mood: null },
      { user_id: 1, ts: BEFORE, count_1h: 2, qty_sum_1h: 11, mood: null },
    ]);
  });

  it('labels as of exactly that instant: matured at d + w = asOf, not 1 µs later; outcomes at both window edges count', async () => {
    const decision = (id: string, at: string) => ({ _event_id: `${id}:0`, user_id: 1, served_at: at, decision_id: id, row_index: 0, mood__status: 'missing' });
    const payout = (id: string, decisionId: string, at: string, cents: number | string) => ({ _event_id: id, user_id: 1, ts: at, decision_id: decisionId, cents });
    await ingest('mood_model_decisions', [decision('dT', T), decision('dAfter', AFTER), decision('dBefore', BEFORE)]);
    await ingest('payouts', [
      payout('p0', 'dT', BEFORE, 1000), // 1 µs before its decision: out
      payout('p1', 'dT', T, 1), // exactly at the decision: in
      payout('p2', 'dT', A, 10), // exactly d + w: in
      payout('p3', 'dT', A_AFTER, 100), // 1 µs past the window: out
    ]);
    // As of A = T + 1h: dT is mature (T + 1h = A), dBefore too, dAfter is not (its window closes 1 µs after A).
    // Cut to …719Z, maturity (A - 1h) would fall before both T and BEFORE: no decision would be labeled.
    const built = await cli('labels', 'build', 'paid', '--as-of', A, '--include-open', '--json');
    expect(built.code).toBe(0);
    expect(JSON.parse(built.stdout)).toMatchObject({ labels: 'paid', asOf: A });
    expect(await datasetRows('labels/paid')).toEqual([
      { decision_id: 'dBefore', row_index: 0, user_id: 1, served_at: BEFORE, label: null, outcome_count: 0, first_outcome_at: null, labeled_at: A },
      { decision_id: 'dT', row_index: 0, user_id: 1, served_at: T, label: 11, outcome_count: 2, first_outcome_at: T, labeled_at: A },
    ]);
  });

  it('is refused with more than six fractional digits, and a range must fall exactly on partition boundaries', async () => {
    const nanos = project.cli('materialize', 'user_taps', '--to', '2026-03-01T12:00:00.7193101Z');
    expect(nanos.code).toBe(1);
    expect(nanos.stderr).toContain('error: --to "2026-03-01T12:00:00.7193101Z" has 7 fractional digits; instants are kept to the microsecond, so give at most six');
    const offBoundary = await cli('run', 'training-set', 'tap_training', '--from', '2026-03-01T00:00:00.000001Z', '--to', '2026-03-02');
    expect(offBoundary.code).toBe(1);
    expect(offBoundary.stderr).toContain('--from 2026-03-01T00:00:00.000001Z is not on a day boundary; partitions are rebuilt whole, so use e.g. 2026-03-01T00:00:00.000Z');
  });
});

describe('an integer sum outside int64', () => {
  // user_big, sum over (T - 1h, T]: user 1 holds 2^63 - 1 (at BEFORE) + 1 (at T) = 2^63, one past int64.
  const message = `feature view "user_big", feature "qty_sum_1h" (sum of "qty" over 1h): the sum 9223372036854775808 is outside int64, for user_id=1 as of ${T}. Integer sums are exact and must fit int64; sum a float64 column for larger totals.`;

  it('fails the training set, naming the feature view, feature, window, entity and instant', async () => {
    const built = await cli('run', 'training-set', 'big_training', '--from', '2026-03-01', '--to', '2026-03-02');
    expect(built.code).not.toBe(0);
    expect(built.stderr).toContain(message);
  });

  it('fails materialization the same way, and writes nothing', async () => {
    const run = await cli('materialize', 'user_big', '--to', T);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(message);
    const values = await onlineStore.read([{ view: 'user_big', key: [1], ttlSeconds: null }, { view: 'user_big', key: [2], ttlSeconds: null }], new Date(T));
    expect(values.map((v) => v.status)).toEqual(['missing', 'missing']);
  });

  it('fails a labels build, naming the labels and the decision', async () => {
    await ingest('mood_model_decisions', [{ _event_id: 'dBig:0', user_id: 2, served_at: T, decision_id: 'dBig', row_index: 0, mood__status: 'missing' }]);
    await ingest('payouts', [
      { _event_id: 'q1', user_id: 2, ts: T, decision_id: 'dBig', cents: INT64_MAX },
      { _event_id: 'q2', user_id: 2, ts: A, decision_id: 'dBig', cents: INT64_MAX },
    ]);
    const built = await cli('labels', 'build', 'paid', '--as-of', A, '--include-open');
    // The partition fails (the others would go on); the CLI exits 3 and says why.
    expect(built.code).toBe(3);
    expect(built.stdout).toContain('day=2026-03-01    failed');
    // Every run summary ends with how long it took and where it is in the Temporal UI.
    expect(built.stdout).toMatch(/\n {2}took \d+\.\d s; in the Temporal UI: http:\/\/localhost:8233\/namespaces\/default\/workflows\/micros_test%2Flabels%2Fpaid%2F\S+\n$/);
    expect(built.stdout).toContain(`labels "paid", label "label" (sum of "cents" within 1h): the sum 18446744073709551614 is outside int64, for decision_id=dBig, row_index=0 as of ${T}.`);
  });
});
