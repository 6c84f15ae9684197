import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { ConsistencyReport } from '../core/training-set/consistency.ts';
import type { DatasetManifest, PartitionManifest } from '../core/training-set/manifest.ts';
import type { LabelPartitionManifest } from '../core/labels/manifest.ts';
import { compileIngestBatch } from '../core/sql/ingest.ts';
import { buildLabels } from '../workflows/build-labels.ts';
import type { BuildTrainingSetResult } from '../workflows/build-training-set.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Training sets on labels, from the logs (docs/training-from-logs.md), end to end on the shared
 * Temporal dev server: a project applied with the real CLI, decisions logged by a service that gained
 * a feature midway, clicks, a labels dataset built by its workflow, then the training set built by
 * `flywheel run training-set` into a real local object store over a real DuckDB file. Every value
 * below is worked out by hand.
 *
 * Feature rows (view user_stats, ttl 1d):       Decisions (served_at, what was logged):
 *   user 1  03-01 08:00  ctr 0.5  segment a       d0:0 user 1 03-01 08:30  ctr 0.5              (its log row is deleted later)
 *   user 1  03-01 10:00  ctr 0.6  segment b       d1:0 user 1 03-01 09:00  ctr 0.5              clicked at 09:10
 *   user 2  03-01 07:00  ctr 0.2  segment c       d1:1 user 2 03-01 09:00  ctr 0.25 (skew: 0.2)
 *   user 2  03-02 08:00  ctr 0.3  segment c       d2:0 user 3 03-01 11:00  ctr missing
 *   user 4  02-28 00:00  ctr 0.9  segment d       d3:0 user 1 03-01 11:00  ctr missing          (recomputed: 0.6)
 *                                                 d4:0 user 4 03-01 12:00  ctr expired
 *   segment is added to the service here:        d5:0 user 1 03-02 09:00  ctr 0.6, segment b   clicked at 09:05
 *                                                 d6:0 user 2 03-02 10:00  ctr 0.2, segment x   (recomputed: 0.3, c)
 */

const PROJECT = 'from_logs_test';

const definitions = (servedFeatures: string) => `
import { entity, eventStream, featureService, featureView, labels, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const stats = source({ name: 'stats', table: 'stats', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', ctr: 'float64', segment: 'string' } });
export const userStats = featureView({ name: 'user_stats', entities: [user], source: stats, ttl: '1d', features: { ctr: 'float64', segment: 'string' } });
export const ranker = featureService({ name: 'ranker', features: [{ view: userStats, features: ${servedFeatures} }], logging: { sampleRate: 1 } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', fields: { decision_id: 'string' }, retention: '30d' });
export const clicked = labels({
  name: 'clicked', decisions: ranker, outcomes: clicks,
  match: { by: 'decision_id', outcomeField: 'decision_id', keys: ['user_id'] }, window: '1h', value: { kind: 'any' },
});
export const clickTraining = trainingSet({ name: 'click_training', spine: { labels: clicked }, features: [userStats] });
export const recomputed = trainingSet({ name: 'click_recomputed', spine: { labels: clicked }, features: [userStats], fromLog: false });
export const later = labels({ name: 'clicked_later', decisions: ranker, outcomes: clicks, match: { by: 'decision_id', outcomeField: 'decision_id' }, window: '2h', value: { kind: 'any' } });
export const laterTraining = trainingSet({ name: 'later_training', spine: { labels: later }, features: [userStats] });
`;

let project: TempProject;
let client: Client;
let warehouse: string;
let objectsRoot: string;
let batches = 0;
const taskQueue = testTaskQueue();
const AS_OF = '2024-03-03T12:00:00.000Z';

function deps(): ActivityDeps {
  const scratchDir = join(project.dir, '.flywheel', 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return {
    project: PROJECT,
    openEngine: () => openDuckDBEngine({ path: warehouse }),
    registry: (engine) => new WarehouseRegistry(engine),
    objectStore: new LocalObjectStore(objectsRoot),
    scratchDir,
  };
}

async function sql(text: string): Promise<void> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    await engine.run({ sql: text, parameters: [] });
  } finally {
    await engine.close();
  }
}

/** Stores events through the ingestion statements, as one batch, with the stream as the latest registry version declares it. */
async function ingest(stream: string, events: Record<string, unknown>[], loadedAt: string): Promise<void> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    const spec = (await new WarehouseRegistry(engine).latest(PROJECT))!.spec.eventStreams[stream]!;
    const batch = `batch-${++batches}`;
    const file = join(project.dir, `${batch}.ndjson`);
    writeFileSync(file, events.map((e) => JSON.stringify({ _received_at: loadedAt, ...e })).join('\n'));
    await engine.transaction(async (tx) => {
      for (const statement of compileIngestBatch(spec, { batch, stagingRelation: { kind: 'staged', files: { locations: [file], format: 'jsonLines' } }, loadedAt }, engine.dialect)) await tx.run(statement);
    });
  } finally {
    await engine.close();
  }
}

type Served = { value: number | string | null; status: 'present' | 'missing' | 'expired' };
const decision = (id: string, row: number, userId: number, at: string, ctr: Served, segment?: Served) => ({
  _event_id: `${id}:${row}`, user_id: userId, served_at: at, decision_id: id, row_index: row,
  ctr: ctr.value, ctr__status: ctr.status, ...(segment ? { segment: segment.value, segment__status: segment.status } : {}),
  user_stats__event_time: null, context: null,
});
const present = (value: number | string): Served => ({ value, status: 'present' });
const missing: Served = { value: null, status: 'missing' };
const expired: Served = { value: null, status: 'expired' };

const folder = (name: string) => join(objectsRoot, 'training_sets', name);
const readJson = async <T>(path: string) => JSON.parse(await readFile(path, 'utf8')) as T;
const partitionManifest = (name: string, day: string) => readJson<PartitionManifest>(join(folder(name), '_partitions', `day=${day}.json`));

async function rowsOf(name: string, day: string): Promise<Record<string, unknown>[]> {
  const engine = await openDuckDBEngine({ path: ':memory:' });
  try {
    return await engine.all({ sql: `SELECT * FROM read_parquet('${join(folder(name), `day=${day}`, 'part-00000.parquet')}', hive_partitioning = false)`, parameters: [] });
  } finally {
    await engine.close();
  }
}

const features = (rows: Record<string, unknown>[]) => rows.map((r) => [r.decision_id, r.row_index, r.label, r.ctr, r.segment]);

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions(`['ctr']`),
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  objectsRoot = join(project.dir, '.flywheel', 'objects');
  client = await connectClient();
  await sql(`CREATE TABLE stats (user_id BIGINT, ts TIMESTAMPTZ, ctr DOUBLE, segment VARCHAR);
    INSERT INTO stats VALUES
      (1, '2024-03-01 08:00:00+00', 0.5, 'a'),
      (1, '2024-03-01 10:00:00+00', 0.6, 'b'),
      (2, '2024-03-01 07:00:00+00', 0.2, 'c'),
      (2, '2024-03-02 08:00:00+00', 0.3, 'c'),
      (4, '2024-02-28 00:00:00+00', 0.9, 'd')`);
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);

  // Logging began with ctr only.
  await ingest('ranker_decisions', [
    decision('d0', 0, 1, '2024-03-01T08:30:00Z', present(0.5)),
    decision('d1', 0, 1, '2024-03-01T09:00:00Z', present(0.5)),
    decision('d1', 1, 2, '2024-03-01T09:00:00Z', present(0.25)),
    decision('d2', 0, 3, '2024-03-01T11:00:00Z', missing),
    decision('d3', 0, 1, '2024-03-01T11:00:00Z', missing),
    decision('d4', 0, 4, '2024-03-01T12:00:00Z', expired),
  ], '2024-03-01T13:00:00Z');

  // segment is added to the service: its decision stream gains segment and segment__status (compatible).
  project.write('definitions/all.ts', definitions(`['ctr', 'segment']`));
  const again = project.cli('apply');
  expect(again.stderr).toBe('');
  expect(again.stdout).toContain('Registry version 2 saved');
  await ingest('ranker_decisions', [
    decision('d5', 0, 1, '2024-03-02T09:00:00Z', present(0.6), present('b')),
    decision('d6', 0, 2, '2024-03-02T10:00:00Z', present(0.2), present('x')),
  ], '2024-03-02T13:00:00Z');
  await ingest('clicks', [
    { _event_id: 'k1', user_id: 1, ts: '2024-03-01T09:10:00Z', decision_id: 'd1' },
    { _event_id: 'k2', user_id: 1, ts: '2024-03-02T09:05:00Z', decision_id: 'd5' },
  ], '2024-03-02T13:00:00Z');

  await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
    const handle = await client.workflow.start(buildLabels, { taskQueue, workflowId: `from-logs-labels-${taskQueue}`, args: [{ project: PROJECT, labels: 'clicked', asOf: AS_OF }] });
    expect((await handle.result()).built).toBe(2);
  });
  // d0's logged row is gone (as retention would remove it): its label stays, its features come from the join.
  await sql(`DELETE FROM flywheel.stream_ranker_decisions WHERE decision_id = 'd0'`);
});

afterAll(async () => {
  await client?.connection.close();
  project?.remove();
});

describe('a training set on labels, from the decision log', () => {
  let result: BuildTrainingSetResult;

  it('prints where the values came from and the skew of the logged ones', async () => {
    const cli = await runWorker({ taskQueue, activities: createActivities(deps()) }, () => project.cliAsync('run', 'training-set', 'click_training'));
    expect(cli.code).toBe(0);
    const lines = cli.stdout.split('\n');
    expect(lines[0]).toMatch(/^Training set click_training version \S+: 8 rows in 2 partitions \(registry v2\)$/);
    expect(lines.slice(3)).toEqual([
      '  from the decision log ranker_decisions: 7 of 8 rows have their decision in the log; logged values against recomputed ones:',
      '    FEATURE  FROM LOG  FROM JOIN  DIFFERING       NULL VS VALUE  MEAN |DIFF|  MAX |DIFF|  MAX REL',
      '    ctr      7         1          3 of 7 (42.9%)  1              0.075        0.1         33.3%',
      '    segment  2         6          1 of 2 (50.0%)  0',
      `  consistency: file://${folder('click_training')}/_consistency.json`,
      expect.stringMatching(/^ {2}took \d+\.\d s; in the Temporal UI: http:\/\/localhost:8233\/namespaces\/default\/workflows\/from_logs_test%2Ftraining-set%2Fclick_training%2Fall$/),
      '',
    ]);
    const json = await runWorker({ taskQueue, activities: createActivities(deps()) }, () => project.cliAsync('run', 'training-set', 'click_training', '--json'));
    result = JSON.parse(json.stdout) as BuildTrainingSetResult;
    expect(result.consistency).toMatchObject({ decisionStream: 'ranker_decisions', rows: 8, rowsWithLog: 7, sources: { ctr: { log: 7, join: 1 }, segment: { log: 2, join: 6 } } });
  });

  it('uses the logged values even where the join computes others, the join where the log has no value, and keeps logged nulls', async () => {
    const day1 = await rowsOf('click_training', '2024-03-01');
    expect(day1[1]).toEqual({
      decision_id: 'd1', row_index: 0, user_id: 1, served_at: '2024-03-01T09:00:00.000Z', label: 1, outcome_count: 1, first_outcome_at: '2024-03-01T09:10:00.000Z',
      labeled_at: AS_OF, ctr: 0.5, segment: 'a',
    });
    expect(features(day1)).toEqual([
      ['d0', 0, 0, 0.5, 'a'],   // no log row: both from the join
      ['d1', 0, 1, 0.5, 'a'],   // ctr from the log; segment was not served yet: the join
      ['d1', 1, 0, 0.25, 'c'],  // the log's 0.25, although the join gives 0.2
      ['d2', 0, 0, null, null], // missing when served, and nothing to join
      ['d3', 0, 0, null, 'b'],  // missing when served: null from the log, though the join has 0.6
      ['d4', 0, 0, null, null], // expired when served; the join expires it too
    ]);
    expect(features(await rowsOf('click_training', '2024-03-02'))).toEqual([
      ['d5', 0, 1, 0.6, 'b'],
      ['d6', 0, 0, 0.2, 'x'],   // both from the log: the join gives 0.3 and c
    ]);
    // Without fromLog, the same rows with every value recomputed; no sources, no report.
    await runWorker({ taskQueue, activities: createActivities(deps()) }, () => project.cliAsync('run', 'training-set', 'click_recomputed'));
    expect(features(await rowsOf('click_recomputed', '2024-03-01'))).toEqual([
      ['d0', 0, 0, 0.5, 'a'], ['d1', 0, 1, 0.5, 'a'], ['d1', 1, 0, 0.2, 'c'], ['d2', 0, 0, null, null], ['d3', 0, 0, 0.6, 'b'], ['d4', 0, 0, null, null],
    ]);
    expect(features(await rowsOf('click_recomputed', '2024-03-02'))).toEqual([['d5', 0, 1, 0.6, 'b'], ['d6', 0, 0, 0.3, 'c']]);
    const plain = await partitionManifest('click_recomputed', '2024-03-01');
    expect(plain.columnStats.ctr!.source).toBeUndefined();
    expect(plain.consistency).toBeUndefined();
    expect(plain.spine).toMatchObject({ labels: 'clicked' });
    expect(plain.spine!.decisionLog).toBeUndefined();
    await expect(stat(join(folder('click_recomputed'), '_consistency.json'))).rejects.toThrow();
  });

  it('records per column how many values came from the log and from the join, the label versions read, and the comparison', async () => {
    const labelVersion = (day: string) => readJson<LabelPartitionManifest>(join(objectsRoot, 'labels', 'clicked', '_partitions', `day=${day}.json`));
    const day1 = await partitionManifest('click_training', '2024-03-01');
    expect(day1.columnStats.ctr).toMatchObject({ nulls: 3, source: { log: 5, join: 1 } });
    expect(day1.columnStats.segment).toMatchObject({ nulls: 2, source: { log: 0, join: 6 } });
    expect(day1.columnStats.label!.source).toBeUndefined();
    expect(day1.spine).toEqual({
      labels: 'clicked',
      partitions: [{ key: 'day=2024-03-01', version: 1, build: (await labelVersion('2024-03-01')).build }],
      decisionLog: { stream: 'ranker_decisions', service: 'ranker', features: ['ctr', 'segment'] },
    });
    expect(day1.consistency).toEqual({
      rows: 6,
      rowsWithLog: 5,
      features: {
        ctr: {
          type: 'float64', source: { log: 5, join: 1 }, compared: 5, differing: 2, differingShare: 0.4, nullMismatches: 1,
          absoluteDifference: { mean: expect.closeTo(0.05, 12), max: expect.closeTo(0.05, 12) },
          relativeDifference: { mean: expect.closeTo(0.2, 12), max: expect.closeTo(0.2, 12) },
        },
        segment: { type: 'string', source: { log: 0, join: 6 }, compared: 0, differing: 0, differingShare: null, nullMismatches: 0 },
      },
    });
    const day2 = await partitionManifest('click_training', '2024-03-02');
    expect(day2.columnStats.ctr!.source).toEqual({ log: 2, join: 0 });
    expect(day2.consistency!.features.segment).toEqual({ type: 'string', source: { log: 2, join: 0 }, compared: 2, differing: 1, differingShare: 0.5, nullMismatches: 0 });
    const index = await readJson<DatasetManifest>(join(folder('click_training'), '_manifest.json'));
    expect(index.sources).toEqual({ ctr: { log: 7, join: 1 }, segment: { log: 2, join: 6 } });
  });

  it('writes _consistency.json next to the dataset, every published partition summed', async () => {
    const report = await readJson<ConsistencyReport>(join(folder('click_training'), '_consistency.json'));
    expect(report).toEqual({
      formatVersion: 1, project: PROJECT, trainingSet: 'click_training', labels: 'clicked', decisionStream: 'ranker_decisions', service: 'ranker',
      updatedAt: expect.any(String),
      tolerance: { relative: { float64: 1e-9, float32: 1e-6 }, otherTypes: 'exact' },
      rows: 8,
      rowsWithLog: 7,
      features: {
        ctr: {
          type: 'float64', source: { log: 7, join: 1 }, compared: 7, differing: 3, differingShare: 3 / 7, nullMismatches: 1,
          absoluteDifference: { mean: expect.closeTo(0.075, 12), max: expect.closeTo(0.1, 12) },
          relativeDifference: { mean: expect.closeTo((0.2 + 1 / 3) / 2, 12), max: expect.closeTo(1 / 3, 12) },
        },
        segment: { type: 'string', source: { log: 2, join: 6 }, compared: 2, differing: 1, differingShare: 0.5, nullMismatches: 0 },
      },
      partitions: [
        { key: 'day=2024-03-01', version: result.version, rows: 6, rowsWithLog: 5, features: { ctr: { compared: 5, differing: 2, differingShare: 0.4 }, segment: { compared: 0, differing: 0, differingShare: null } } },
        { key: 'day=2024-03-02', version: result.version, rows: 2, rowsWithLog: 2, features: { ctr: { compared: 2, differing: 1, differingShare: 0.5 }, segment: { compared: 2, differing: 1, differingShare: 0.5 } } },
      ],
    });
  });

  it('rebuilds one partition from the log (one partition, through the working table) and keeps the report whole', async () => {
    const cli = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
      project.cliAsync('run', 'training-set', 'click_training', '--from', '2024-03-02', '--to', '2024-03-03', '--json'));
    expect(cli.code).toBe(0);
    const single = JSON.parse(cli.stdout) as BuildTrainingSetResult;
    expect(single.consistency).toMatchObject({ rows: 2, rowsWithLog: 2, sources: { ctr: { log: 2, join: 0 }, segment: { log: 2, join: 0 } } });
    expect(features(await rowsOf('click_training', '2024-03-02'))).toEqual([['d5', 0, 1, 0.6, 'b'], ['d6', 0, 0, 0.2, 'x']]);
    const report = await readJson<ConsistencyReport>(join(folder('click_training'), '_consistency.json'));
    expect(report.partitions.map((p) => [p.key, p.version])).toEqual([['day=2024-03-01', result.version], ['day=2024-03-02', single.version]]);
    expect(report.features.ctr).toMatchObject({ compared: 7, differing: 3 });
  });

  it('refuses to run on labels that were never built, before any work', async () => {
    const cli = await runWorker({ taskQueue, activities: createActivities(deps()) }, () => project.cliAsync('run', 'training-set', 'later_training'));
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(`labels dataset "clicked_later" not found. Nothing is published under file://${join(objectsRoot, 'labels', 'clicked_later')}; build it first with \`flywheel labels build clicked_later\``);
  });

  it('shows the skew in `flywheel datasets show`, and in its --json', () => {
    const shown = project.cli('datasets', 'show', 'click_training', '--partition', 'day=2024-03-01');
    expect(shown.stderr).toBe('');
    expect(shown.stdout).toMatch(/\nctr\s+float64\s+3 \(50\.0%\)\s+0\.25\s+0\.5\s+0\.4167\s+5\s+1\n/);
    expect(shown.stdout).toContain(`Spine: labels clicked (day=2024-03-01 v1); features from the decision log ranker_decisions: ctr, segment\n`);
    expect(shown.stdout).toContain([
      'Consistency (2 partitions built from the decision log ranker_decisions of ranker, labels clicked):',
      '  7 of 8 rows have their decision in the log; floats equal within a relative float64 1e-9, float32 1e-6, other types exactly',
      '  FEATURE  FROM LOG  FROM JOIN  DIFFERING       NULL VS VALUE  MEAN |DIFF|  MAX |DIFF|  MAX REL',
      '  ctr      7         1          3 of 7 (42.9%)  1              0.075        0.1         33.3%',
      '  segment  2         6          1 of 2 (50.0%)  0',
      '',
    ].join('\n'));
    const json = JSON.parse(project.cli('datasets', 'show', 'click_training', '--json').stdout) as { consistency: ConsistencyReport; manifest: DatasetManifest };
    expect(json.consistency.features.ctr).toMatchObject({ compared: 7, differing: 3 });
    expect(json.manifest.sources).toEqual({ ctr: { log: 7, join: 1 }, segment: { log: 2, join: 6 } });
  });
});
