import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { LabelDatasetManifest, LabelPartitionManifest } from '../core/labels/manifest.ts';
import type { PlanDocumentWithSchedules } from '../core/plan/schedules.ts';
import { compileIngestBatch } from '../core/sql/ingest.ts';
import { buildLabels, labelsProgressQuery, type BuildLabelsInput, type BuildLabelsResult, type LabelsProgress } from '../workflows/build-labels.ts';
import { FLYWHEEL_KIND, FLYWHEEL_OBJECT, FLYWHEEL_PARTITIONS_DONE, FLYWHEEL_PARTITIONS_TOTAL } from '../workflows/search-attributes.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * The labels workflow end to end on the shared Temporal dev server: a project applied with the real
 * CLI, decisions and outcomes stored in a real DuckDB file through the ingestion statements, the
 * dataset written to a real local object store; expected rows worked out by hand.
 */

const PROJECT = 'labels_test';
const SCHEDULE_ID = `flywheel:${PROJECT}:labels:charged_back`;

const definitions = (schedule = '') => `
import { entity, eventStream, featureService, featureView, labels, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const spend = source({ name: 'spend', table: 'spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
export const userSpend = featureView({ name: 'user_spend', entities: [user], source: spend, features: { amount: 'float64' } });
export const fraud = featureService({ name: 'fraud_model', features: [userSpend], logging: { sampleRate: 1 } });
export const chargebacks = eventStream({ name: 'chargebacks', entities: [user], timestampField: 'ts', fields: { decision_id: 'string', amount: 'float64' }, retention: '365d' });
export const chargedBack = labels({
  name: 'charged_back', decisions: fraud, outcomes: chargebacks,
  match: { by: 'decision_id', outcomeField: 'decision_id' }, window: '1h', value: { kind: 'sum', field: 'amount', default: 0 },${schedule}
});
`;

let project: TempProject;
let client: Client;
let warehouse: string;
let objectsRoot: string;
let batches = 0;
const taskQueue = testTaskQueue();
/** The day partitions 02-29 and 03-01 are complete as of this (their end + 1h has passed); 03-02 is open. */
const AS_OF = '2024-03-03T00:30:00.000Z';

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

/** Stores events through the ingestion statements, as one batch loaded at `loadedAt`. */
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

const decision = (id: string, userId: number, at: string) => ({
  _event_id: `${id}:0`, user_id: userId, served_at: at, decision_id: id, row_index: 0, amount: null, amount__status: 'missing', user_spend__event_time: null, context: null,
});
const chargeback = (id: string, decisionId: string, userId: number, at: string, amount: number) => ({ _event_id: id, user_id: userId, ts: at, decision_id: decisionId, amount });

/** Runs buildLabels as of AS_OF on a worker of this test, and reads its progress query before the worker stops. */
async function build(input: Partial<BuildLabelsInput> = {}, workflowId = `labels-${++batches}-${taskQueue}`): Promise<{ result: BuildLabelsResult; workflowId: string; firstRunId: string; progress: LabelsProgress }> {
  return runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
    const handle = await client.workflow.start(buildLabels, { taskQueue, workflowId, args: [{ project: PROJECT, labels: 'charged_back', asOf: AS_OF, ...input }] });
    const result = await handle.result();
    return { result, workflowId, firstRunId: handle.firstExecutionRunId, progress: await handle.query(labelsProgressQuery) };
  });
}

const folder = () => join(objectsRoot, 'labels', 'charged_back');
const readJson = async <T>(path: string) => JSON.parse(await readFile(path, 'utf8')) as T;
const partitionManifest = (day: string) => readJson<LabelPartitionManifest>(join(folder(), '_partitions', `day=${day}.json`));

/** The rows of one published partition, in file order. */
async function rowsOf(day: string): Promise<Record<string, unknown>[]> {
  const engine = await openDuckDBEngine({ path: ':memory:' });
  try {
    return await engine.all({ sql: `SELECT * FROM read_parquet('${join(folder(), `day=${day}`, 'part-00000.parquet')}', hive_partitioning = false)`, parameters: [] });
  } finally {
    await engine.close();
  }
}

/** Every file under the dataset with its bytes: what a run that writes nothing must leave as it was. */
async function snapshot(): Promise<Record<string, string>> {
  const store = new LocalObjectStore(objectsRoot);
  const files: Record<string, string> = {};
  for (const object of await store.list('labels/')) files[object.key] = Buffer.from((await store.get(object.key))!).toString('base64');
  return files;
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/all.ts': definitions(),
  });
  warehouse = join(project.dir, '.flywheel', 'warehouse.duckdb');
  objectsRoot = join(project.dir, '.flywheel', 'objects');
  client = await connectClient();
  const engine = await openDuckDBEngine({ path: warehouse });
  await engine.run({ sql: 'CREATE TABLE spend (user_id BIGINT, ts TIMESTAMPTZ, amount DOUBLE)', parameters: [] });
  await engine.close();
  const applied = project.cli('apply');
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);

  await ingest('fraud_model_decisions', [
    decision('d1', 1, '2024-02-29T10:00:00Z'), decision('d2', 2, '2024-02-29T12:00:00Z'),
    decision('d3', 1, '2024-03-01T09:00:00Z'), decision('d4', 2, '2024-03-01T23:30:00Z'),
    decision('d5', 1, '2024-03-02T08:00:00Z'),
  ], '2024-03-02T12:00:00Z');
  await ingest('chargebacks', [
    chargeback('k1', 'd1', 1, '2024-02-29T10:30:00Z', 50),
    chargeback('k2', 'd4', 2, '2024-03-02T00:15:00Z', 20), // d4's window crosses midnight
    chargeback('k3', 'd5', 1, '2024-03-02T08:10:00Z', 5),
  ], '2024-03-02T12:00:00Z');
});

afterAll(async () => {
  await client?.schedule.getHandle(SCHEDULE_ID).delete().catch(() => undefined);
  await client?.connection.close();
  project?.remove();
});

describe('buildLabels workflow', () => {
  it('builds the complete partitions, leaves the open one, and says so in its result, memo and search attributes', async () => {
    const { result, workflowId, progress } = await build();
    expect(result).toMatchObject({
      labels: 'charged_back', registryVersion: 1, asOf: AS_OF, built: 2, rebuilt: 0, upToDate: 0, open: 1, failed: 0, upToDateRun: false,
      watermarks: { decisions: '2024-03-02T12:00:00.000Z', outcomes: '2024-03-02T12:00:00.000Z' },
      datasetUri: `file://${folder()}`, manifestUri: `file://${folder()}/_manifest.json`,
    });
    expect(result.partitions).toEqual([
      { key: 'day=2024-02-29', action: 'built', reason: 'new', version: 1, rowCount: 2, positives: 1 },
      { key: 'day=2024-03-01', action: 'built', reason: 'new', version: 1, rowCount: 2, positives: 1 },
      { key: 'day=2024-03-02', action: 'open', reason: 'open: its last decisions mature at 2024-03-03T01:00:00.000Z' },
    ]);

    expect(await rowsOf('2024-02-29')).toEqual([
      { decision_id: 'd1', row_index: 0, user_id: 1, served_at: '2024-02-29T10:00:00.000Z', label: 50, outcome_count: 1, first_outcome_at: '2024-02-29T10:30:00.000Z', labeled_at: AS_OF },
      { decision_id: 'd2', row_index: 0, user_id: 2, served_at: '2024-02-29T12:00:00.000Z', label: 0, outcome_count: 0, first_outcome_at: null, labeled_at: AS_OF },
    ]);
    expect(await rowsOf('2024-03-01')).toEqual([
      { decision_id: 'd3', row_index: 0, user_id: 1, served_at: '2024-03-01T09:00:00.000Z', label: 0, outcome_count: 0, first_outcome_at: null, labeled_at: AS_OF },
      { decision_id: 'd4', row_index: 0, user_id: 2, served_at: '2024-03-01T23:30:00.000Z', label: 20, outcome_count: 1, first_outcome_at: '2024-03-02T00:15:00.000Z', labeled_at: AS_OF },
    ]);
    const manifest = await partitionManifest('2024-03-01');
    expect(manifest).toMatchObject({
      formatVersion: 1, project: PROJECT, labels: 'charged_back', version: 1, reason: 'new', causes: ['new'], registryVersion: 1,
      partition: { key: 'day=2024-03-01', start: '2024-03-01T00:00:00.000Z', end: '2024-03-02T00:00:00.000Z' },
      asOf: AS_OF, complete: true, watermarks: { decisions: '2024-03-02T12:00:00.000Z', outcomes: '2024-03-02T12:00:00.000Z' },
      rowCount: 2, positives: 1, files: [{ key: 'labels/charged_back/day=2024-03-01/part-00000.parquet', rowCount: 2 }],
      columnStats: { label: { nulls: 0, min: 0, max: 20, mean: 10 } },
    });
    expect(manifest.schema.map((c) => `${c.name}:${c.type}`)).toEqual([
      'decision_id:string', 'row_index:int32', 'user_id:int64', 'served_at:timestamp', 'label:float64', 'outcome_count:int64', 'first_outcome_at:timestamp', 'labeled_at:timestamp',
    ]);
    expect(manifest.previous).toBeUndefined();
    const index = await readJson<LabelDatasetManifest>(join(folder(), '_manifest.json'));
    expect(index).toMatchObject({
      labels: 'charged_back', partitionBy: 'day', rowCount: 4, positives: 2, timeRange: { from: '2024-02-29T00:00:00.000Z', to: '2024-03-02T00:00:00.000Z' },
      partitions: [{ key: 'day=2024-02-29', version: 1, reason: 'new', complete: true }, { key: 'day=2024-03-01', version: 1, reason: 'new', complete: true }],
    });
    expect(Object.keys(await snapshot()).some((key) => key.includes('_staging'))).toBe(false);

    // The Temporal UI: found by kind and name, with the partitions built and why in the memo; each partition its own child workflow.
    const description = await client.workflow.getHandle(workflowId).describe();
    expect(description.typedSearchAttributes.get(FLYWHEEL_KIND)).toBe('labels');
    expect(description.typedSearchAttributes.get(FLYWHEEL_OBJECT)).toBe('charged_back');
    expect(description.typedSearchAttributes.get(FLYWHEEL_PARTITIONS_TOTAL)).toBe(2);
    expect(description.typedSearchAttributes.get(FLYWHEEL_PARTITIONS_DONE)).toBe(2);
    expect(await description.memo).toEqual({
      asOf: AS_OF, watermarks: { decisions: '2024-03-02T12:00:00.000Z', outcomes: '2024-03-02T12:00:00.000Z' },
      built: ['day=2024-02-29 v1: new', 'day=2024-03-01 v1: new'], upToDate: 0, open: 1,
    });
    const child = await client.workflow.getHandle(`${PROJECT}/labels/charged_back/day=2024-03-01`).describe();
    expect(child.type).toBe('buildLabelPartition');
    expect(await child.memo).toEqual({ reason: 'new' });
    expect(progress).toEqual({ stage: 'done', total: 2, done: 2, failed: 0, running: [], pending: 0 });
  });

  it('writes nothing when nothing changed, and says the labels are up to date', async () => {
    const before = await snapshot();
    const { result } = await build();
    expect(result).toMatchObject({ built: 0, rebuilt: 0, upToDate: 2, open: 1, upToDateRun: true });
    expect(result.partitions.map((p) => [p.key, p.action, p.version])).toEqual([['day=2024-02-29', 'up-to-date', 1], ['day=2024-03-01', 'up-to-date', 1], ['day=2024-03-02', 'open', undefined]]);
    expect(await snapshot()).toEqual(before);
  });

  it('rebuilds exactly the partition a late outcome changes, as version 2, with the reason', async () => {
    // A chargeback of d3 (2024-03-01 09:00), loaded after the partition was built.
    await ingest('chargebacks', [chargeback('k4', 'd3', 1, '2024-03-01T09:20:00Z', 7)], '2024-03-02T18:00:00Z');
    const before = await partitionManifest('2024-02-29');
    const { result, workflowId } = await build();
    expect(await (await client.workflow.getHandle(workflowId).describe()).memo).toMatchObject({
      rebuilt: ['day=2024-03-01 v2: late outcomes: 1 outcome loaded after version 1'], upToDate: 1, open: 1,
    });
    expect(result.partitions).toEqual([
      { key: 'day=2024-02-29', action: 'up-to-date', reason: 'up to date: nothing loaded since version 1 changes it', version: 1 },
      { key: 'day=2024-03-01', action: 'rebuilt', reason: 'late outcomes: 1 outcome loaded after version 1', version: 2, rowCount: 2, positives: 2 },
      { key: 'day=2024-03-02', action: 'open', reason: 'open: its last decisions mature at 2024-03-03T01:00:00.000Z' },
    ]);
    expect((await rowsOf('2024-03-01'))[0]).toMatchObject({ decision_id: 'd3', label: 7, outcome_count: 1, first_outcome_at: '2024-03-01T09:20:00.000Z' });
    const manifest = await partitionManifest('2024-03-01');
    expect(manifest).toMatchObject({
      version: 2, reason: 'late outcomes: 1 outcome loaded after version 1', causes: ['late outcomes'],
      watermarks: { decisions: '2024-03-02T12:00:00.000Z', outcomes: '2024-03-02T18:00:00.000Z' },
      previous: { version: 1 },
    });
    expect(await partitionManifest('2024-02-29')).toEqual(before);
    const index = await readJson<LabelDatasetManifest>(join(folder(), '_manifest.json'));
    expect(index.partitions.map((p) => [p.key, p.version, p.reason])).toEqual([
      ['day=2024-02-29', 1, 'new'], ['day=2024-03-01', 2, 'late outcomes: 1 outcome loaded after version 1'],
    ]);
  });

  it('rebuilds a partition a late decision lands in', async () => {
    await ingest('fraud_model_decisions', [decision('d6', 3, '2024-02-29T15:00:00Z')], '2024-03-02T19:00:00Z');
    const { result } = await build();
    expect(result.partitions.filter((p) => p.action !== 'up-to-date' && p.action !== 'open')).toEqual([
      { key: 'day=2024-02-29', action: 'rebuilt', reason: 'late decisions: 1 decision loaded after version 1', version: 2, rowCount: 3, positives: 1 },
    ]);
  });

  it('builds an open partition when asked through the CLI, and rebuilds it once its window has closed', async () => {
    const cli = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
      project.cliAsync('labels', 'build', 'charged_back', '--from', '2024-03-02', '--to', '2024-03-03', '--include-open', '--as-of', AS_OF),
    );
    expect(cli.code).toBe(0);
    expect(cli.stdout.split('\n')).toEqual([
      `Labels charged_back as of ${AS_OF} (registry v1): 1 built, 0 rebuilt, 0 up to date.`,
      `  day=2024-03-02  v1  built  1 row, 1 positive  new (open: only the decisions mature as of ${AS_OF})`,
      `  dataset:  file://${folder()}`,
      `  manifest: file://${folder()}/_manifest.json`,
      expect.stringMatching(/^ {2}took \d+\.\d s; in the Temporal UI: http:\/\/localhost:8233\/namespaces\/default\/workflows\/labels_test%2Flabels%2Fcharged_back%2F2024-03-02..2024-03-03$/),
      '',
    ]);
    expect(cli.stderr).toMatch(/^Started labels_test\/labels\/charged_back\/2024-03-02..2024-03-03 on task queue /);
    expect(await partitionManifest('2024-03-02')).toMatchObject({ version: 1, complete: false });

    // Half an hour later every decision of 03-02 is mature: the next run completes it.
    const later = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
      project.cliAsync('labels', 'build', 'charged_back', '--as-of', '2024-03-03T01:00:00Z', '--json'),
    );
    expect(later.code).toBe(0);
    const result = JSON.parse(later.stdout) as BuildLabelsResult;
    expect(result.partitions.map((p) => [p.key, p.action, p.version, p.reason])).toEqual([
      ['day=2024-02-29', 'up-to-date', 2, 'up to date: nothing loaded since version 2 changes it'],
      ['day=2024-03-01', 'up-to-date', 2, 'up to date: nothing loaded since version 2 changes it'],
      ['day=2024-03-02', 'rebuilt', 2, `was open: version 1 was built as of ${AS_OF}, before every decision matured`],
    ]);
    expect(await partitionManifest('2024-03-02')).toMatchObject({ version: 2, complete: true });

    const again = await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
      project.cliAsync('labels', 'build', 'charged_back', '--as-of', '2024-03-03T01:00:00Z'),
    );
    expect(again.stdout).toMatch(/^Labels charged_back as of 2024-03-03T01:00:00.000Z \(registry v1\): up to date \(3 partitions\); nothing was written.\n {2}took \d+\.\d s; in the Temporal UI: \S+\n$/);
  });

  it('shows the dataset, its versions and why each was built', () => {
    const shown = project.cli('labels', 'show', 'charged_back', '--partition', 'day=2024-03-01');
    expect(shown.stderr).toBe('');
    expect(shown.stdout).toContain('Labels charged_back: 6 rows (4 with an outcome) in 3 partitions by day, 2024-02-29T00:00:00.000Z .. 2024-03-03T00:00:00.000Z');
    expect(shown.stdout).toMatch(/day=2024-03-01\s+v2\s+2\s+2\s+yes\s+2024-03-03T00:30:00.000Z\s+late outcomes: 1 outcome loaded after version 1/);
    expect(shown.stdout).toContain('  reason: late outcomes: 1 outcome loaded after version 1');
    expect(shown.stdout).toMatch(/ {2}replaced version 1 \(build \d{8}T\d{6}_[0-9a-f]{12}, created /);
    const list = project.cli('labels', 'list');
    expect(list.stdout).toMatch(/^LABELS\s+PARTITIONS\s+ROWS\s+POSITIVES\s+FROM\s+TO\s+UPDATED\s+LOCATION\ncharged_back\s+3 \(day\)\s+6\s+4\s+/);
    const missing = project.cli('labels', 'build', 'nope', '--from', '2024-03-02');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('give both --from and --to, or neither');
  });
});

describe('buildLabels workflow, asked to rebuild', () => {
  it('rebuilds every partition of the range with the reason requested, continuing as new to keep its history small', async () => {
    const { result, progress, workflowId, firstRunId } = await build({ asOf: '2024-03-03T01:00:00Z', rebuild: true, concurrency: 1, partitionsPerRun: 1 });
    expect((await client.workflow.getHandle(workflowId, firstRunId).describe()).status.name).toBe('CONTINUED_AS_NEW');
    expect(result.partitions.map((p) => [p.key, p.action, p.version, p.reason])).toEqual([
      ['day=2024-02-29', 'rebuilt', 3, 'requested'], ['day=2024-03-01', 'rebuilt', 3, 'requested'], ['day=2024-03-02', 'rebuilt', 3, 'requested'],
    ]);
    expect(progress).toMatchObject({ stage: 'done', total: 3, done: 3, failed: 0 });
    expect(await partitionManifest('2024-03-01')).toMatchObject({ version: 3, causes: ['requested'], previous: { version: 2 } });
    expect((await rowsOf('2024-03-01')).map((r) => r.label)).toEqual([7, 20]);
  });
});

describe('scheduled labels', () => {
  const cli = (...args: string[]) => {
    const result = project.cli(...args);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return result.stdout;
  };

  it('apply creates the schedule, plan shows it, and a second apply changes nothing', async () => {
    project.write('definitions/all.ts', definitions(`\n  schedule: { every: '1h', offset: '10m' },`));
    const plan = JSON.parse(cli('plan', '--json')) as PlanDocumentWithSchedules;
    expect(plan.schedules).toEqual([{ action: 'create', id: SCHEDULE_ID, labels: 'charged_back', spec: 'every 1h offset 10m' }]);
    expect(cli('apply')).toContain(`  schedule ${SCHEDULE_ID} (created)\nRegistry version 2 saved`);

    const description = await client.schedule.getHandle(SCHEDULE_ID).describe();
    expect(description.spec.intervals).toEqual([{ every: 3_600_000, offset: 600_000 }]);
    expect(description.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 86_400_000 });
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'buildLabels', workflowId: `${PROJECT}/labels/charged_back/scheduled`, taskQueue, args: [{ project: PROJECT, labels: 'charged_back' }] });
    expect(description.typedSearchAttributes.get(FLYWHEEL_KIND)).toBe('labels');
    expect(cli('apply')).toBe(`No changes. Registry version 2 is current.\n  schedule ${SCHEDULE_ID} (unchanged)\n`);
  });

  it('a triggered run labels as of its scheduled time: a schedule is not a definition change, so everything is up to date', async () => {
    const handle = client.schedule.getHandle(SCHEDULE_ID);
    const result = await runWorker({ taskQueue, activities: createActivities(deps()) }, async () => {
      await handle.trigger();
      let workflowId: string | undefined;
      for (let attempt = 0; attempt < 100 && workflowId === undefined; attempt++) {
        workflowId = (await handle.describe()).info.recentActions[0]?.action.workflow.workflowId;
        if (workflowId === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return (await client.workflow.getHandle(workflowId!).result()) as BuildLabelsResult;
    });
    expect(result).toMatchObject({ labels: 'charged_back', registryVersion: 2, upToDate: 3, built: 0, rebuilt: 0, upToDateRun: true });
    expect(Date.parse(result.asOf)).toBeGreaterThan(Date.parse('2025-01-01T00:00:00Z'));
  });

  it('removing the schedule deletes it', async () => {
    project.write('definitions/all.ts', definitions());
    expect(cli('apply')).toContain(`  schedule ${SCHEDULE_ID} (deleted)`);
    await expect(client.schedule.getHandle(SCHEDULE_ID).describe()).rejects.toThrow();
  });
});
