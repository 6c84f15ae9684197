import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { closestName, editDistance } from '../core/definitions/find-applied-object.ts';
import { createFlywheelWorker } from '../worker/create-worker.ts';
import { connectClient, temporalAddress, temporalNamespace, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * Names checked before anything starts (issue 13): every command that starts a run reads the applied
 * registry first and refuses a name that is not an applied object of its kind, with a "did you mean",
 * and a range off the training set's partitions; no workflow is started. A worker refuses a run of
 * another project. No worker polls this file's task queue except in the last test, so a run that was
 * started by mistake would be seen in the list below.
 */

const taskQueue = testTaskQueue();
let project: TempProject;

const config = (name: string, queue?: string) => `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${name}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}'${queue ? `, taskQueue: '${queue}'` : ''} }) } });
`;

const DEFINITIONS = `
import { entity, featureView, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const stats = source({ name: 'stats', table: 'stats', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicks: 'int64' } });
export const spine = source({ name: 'impressions', table: 'impressions', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicked: 'bool' } });
export const view = featureView({ name: 'user_clicks', entities: [user], source: stats, features: { clicks: 'int64' }, online: true });
export const training = trainingSet({ name: 'clicks', spine, features: [view], output: { path: 'datasets/clicks' } });
export const offlineView = featureView({ name: 'clicks_offline', entities: [user], source: stats, features: { clicks: 'int64' }, online: false });
`;

/** The runs of project `names_test` the server knows of (the CLI never started one if this is empty). */
async function startedRuns(): Promise<string[]> {
  const client = await connectClient();
  try {
    const ids: string[] = [];
    for await (const execution of client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) ids.push(execution.workflowId);
    return ids;
  } finally {
    await client.connection.close();
  }
}

/** The two source tables of DEFINITIONS, one row each. */
async function createTables(target: TempProject): Promise<void> {
  const engine = await openDuckDBEngine({ path: join(target.dir, '.flywheel', 'warehouse.duckdb') });
  await engine.run({
    sql: `CREATE TABLE stats AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-03-01 00:00:00+00' AS ts, 10::BIGINT AS clicks;
          CREATE TABLE impressions AS SELECT 1::BIGINT AS user_id, TIMESTAMPTZ '2024-03-01 06:00:00+00' AS ts, true AS clicked;`,
    parameters: [],
  });
  await engine.close();
}

beforeAll(async () => {
  project = createTempProject({ 'flywheel.config.ts': config('names_test', taskQueue), 'definitions/all.ts': DEFINITIONS });
  await createTables(project);
  expect(project.cli('apply').code).toBe(0);
});

afterAll(() => project?.remove());

describe('names checked before a run starts', () => {
  it('suggests the closest name by edit distance, ties by name', () => {
    expect(editDistance('user_spnd', 'user_spend')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closestName('fraud_trainin', ['fraud_training', 'returns_training'])).toBe('fraud_training');
    expect(closestName('USER_SPEND', ['user_spend'])).toBe('user_spend');
    expect(closestName('ab', ['ad', 'ac', 'ab_c'])).toBe('ac'); // ac and ad one edit away, alphabetical first; ab_c too far for 2 letters
    expect(closestName('zzz', ['clicks'])).toBeUndefined();
  });

  const refusals: [string, string[], string][] = [
    ['run training-set', ['run', 'training-set', 'clickz', '--no-wait'], '"clickz" is not a training set of project "names_test" (applied registry v1); did you mean "clicks"?'],
    ['materialize', ['materialize', 'user_clikcs'], '"user_clikcs" is not a feature view of project "names_test" (applied registry v1); did you mean "user_clicks"?'],
    ['materialize of a view that is not online', ['materialize', 'clicks_offline'], 'feature view "clicks_offline" is not online (online: false), so it has nothing to materialize; set online: true and apply'],
    ['labels build', ['labels', 'build', 'user_clicks', '--no-wait'], '"user_clicks" is a feature view, not labels; no labels are applied'],
    ['loop run', ['loop', 'run', 'dayly', '--no-wait'], '"dayly" is not a loop of project "names_test" (applied registry v1); no loops are applied'],
    ['datasets show', ['datasets', 'show', 'clikcs'], '"clikcs" is not a training set of project "names_test" (applied registry v1); did you mean "clicks"?'],
    ['backfill of a feature view', ['backfill', 'user_clicks', '--from', '2024-03-01', '--to', '2024-03-02', '--no-wait'],
      '"user_clicks" is a feature view, not a training set: backfilling a feature view means materializing it: flywheel materialize user_clicks --full'],
    ['backfill of another kind', ['backfill', 'impressions', '--from', '2024-03-01', '--to', '2024-03-02', '--no-wait'], '"impressions" is a source, not a training set; the applied training sets are clicks'],
    ['a training set run off its partitions', ['run', 'training-set', 'clicks', '--from', '2024-03-01T06:00:00Z', '--to', '2024-03-02', '--no-wait'],
      '--from 2024-03-01T06:00:00.000Z is not on a day boundary; partitions are rebuilt whole, so use e.g. 2024-03-01T00:00:00.000Z'],
    ['a registry version never applied', ['run', 'training-set', 'clicks', '--registry-version', '7', '--no-wait'], 'registry version "7" not found. Project "names_test" has no such applied version'],
  ];

  it.each(refusals)('%s: refused at once with one message, exit code 1', (_what, args, message) => {
    const result = project.cli(...args);
    expect(result).toEqual({ code: 1, stdout: '', stderr: `error: ${message}\n` });
  });

  it('says when a name is defined but not applied yet', () => {
    project.write('definitions/later.ts', `import { trainingSet } from 'flywheel';\nimport { spine, view } from './all.ts';\nexport const later = trainingSet({ name: 'clicks_later', spine, features: [view], output: { path: 'datasets/later' } });\n`);
    try {
      expect(project.cli('run', 'training-set', 'clicks_later', '--no-wait')).toEqual({
        code: 1, stdout: '', stderr: 'error: "clicks_later" is defined in the definitions folder but not applied to project "names_test" (applied registry v1); run `flywheel plan` and `flywheel apply` first\n',
      });
    } finally {
      project.write('definitions/later.ts', '');
    }
  });

  it('refuses every run of a project that was never applied', () => {
    const fresh = createTempProject({ 'flywheel.config.ts': config('fresh_project', taskQueue), 'definitions/all.ts': DEFINITIONS });
    try {
      expect(fresh.cli('materialize', 'user_clicks')).toEqual({
        code: 1, stdout: '', stderr: 'error: Project "fresh_project" has no applied definitions in this profile\'s warehouse; run `flywheel plan` and `flywheel apply` first\n',
      });
    } finally {
      fresh.remove();
    }
  });

  it('started no workflow for any of them', async () => {
    expect(await startedRuns()).toEqual([]);
  });
});

describe('a warehouse held by another process', () => {
  it('waits 5 s for it, then starts the run unchecked and says so (the worker checks the name)', async () => {
    // This process holds the DuckDB file, as a worker in the middle of an activity would.
    const held = await openDuckDBEngine({ path: join(project.dir, '.flywheel', 'warehouse.duckdb') });
    const client = await connectClient();
    try {
      const started = Date.now();
      const result = await project.cliAsync('run', 'training-set', 'clickz', '--no-wait');
      const waitedMs = Date.now() - started;
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(new RegExp(
        '^note: the names were not checked before starting \\(The DuckDB file "[^"]+/warehouse\\.duckdb" is locked by another process[^)]*\\)[^;]*; the worker checks them\\n' +
        `Started names_test/training-set/clickz/all on task queue ${taskQueue}\\n$`,
      ));
      expect(waitedMs).toBeGreaterThanOrEqual(5_000);
    } finally {
      await held.close();
      await client.workflow.getHandle('names_test/training-set/clickz/all').terminate('test: started unchecked on purpose').catch(() => undefined);
      await client.connection.close();
    }
  }, 60_000);
});

describe('task queues and projects', () => {
  it('gives each project its own task queue by default, flywheel-<project>, and names runs <project>/<kind>/<object>/<range>', async () => {
    const plain = createTempProject({ 'flywheel.config.ts': config('returns'), 'definitions/all.ts': DEFINITIONS });
    const client = await connectClient();
    try {
      await createTables(plain);
      expect(plain.cli('apply').code).toBe(0);
      const started = plain.cli('run', 'training-set', 'clicks', '--from', '2024-03-01', '--to', '2024-03-08', '--no-wait', '--json');
      expect(started).toEqual({
        code: 0,
        stdout: '{"workflowId":"returns/training-set/clicks/2024-03-01..2024-03-08"}\n',
        stderr: 'Started returns/training-set/clicks/2024-03-01..2024-03-08 on task queue flywheel-returns\n',
      });
      const description = await client.workflow.getHandle('returns/training-set/clicks/2024-03-01..2024-03-08').describe();
      expect(description.taskQueue).toBe('flywheel-returns');
      // The same range again while the first waits for a worker: one build of a partition at a time.
      expect(plain.cli('run', 'training-set', 'clicks', '--from', '2024-03-01', '--to', '2024-03-08', '--no-wait')).toMatchObject({
        code: 1, stderr: 'error: A run with id "returns/training-set/clicks/2024-03-01..2024-03-08" is already in progress (the same partitions, started by you, a backfill or a schedule); wait for it to finish\n',
      });
      await client.workflow.getHandle('returns/training-set/clicks/2024-03-01..2024-03-08').terminate('test: no worker polls flywheel-returns');
    } finally {
      await client.connection.close();
      plain.remove();
    }
  });

  it("a worker refuses another project's run at once, naming both projects, and writes nothing", async () => {
    // A worker of project "fraud" on the task queue names_test's profile uses (two projects told to share one).
    const connection = await NativeConnection.connect({ address: temporalAddress() });
    const scratchDir = join(project.dir, 'fraud-scratch');
    mkdirSync(scratchDir, { recursive: true });
    const otherWarehouse = join(project.dir, 'fraud.duckdb');
    try {
      const worker = await createFlywheelWorker({
        connection, namespace: temporalNamespace(), taskQueue,
        deps: { project: 'fraud', openEngine: () => openDuckDBEngine({ path: otherWarehouse }), registry: (e) => new WarehouseRegistry(e), objectStore: new LocalObjectStore(join(project.dir, 'fraud-objects')), scratchDir },
      });
      const result = await worker.runUntil(project.cliAsync('run', 'training-set', 'clicks'));
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(
        `^Started names_test/training-set/clicks/\\S+ on task queue ${taskQueue}\\n` +
        `error: This worker serves project "fraud", but the run is for project "names_test" \\(task queue "${taskQueue}"\\); ` +
        'start a worker in project "names_test", or give each project its own task queue \\(temporal\\.taskQueue; the default is flywheel-<project>\\)\\n' +
        '\\(run names_test/training-set/clicks/\\S+; see it in the Temporal UI\\)\\n$',
      ));
    } finally {
      await connection.close();
    }
    // Nothing of either project was read or written: the guard runs before the workflow's first activity.
    expect(existsSync(join(project.dir, '.flywheel', 'objects', 'datasets'))).toBe(false);
    expect(existsSync(otherWarehouse)).toBe(false);
  }, 120_000);
});
