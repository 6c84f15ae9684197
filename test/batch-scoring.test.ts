import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import { createOfflineEngine } from '../connectors/offline/create-offline-engine.ts';
import type { OfflineStoreConfig } from '../core/config.ts';
import { denseOnnxModel } from '../core/models/onnx-writer.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { compileIngestBatch } from '../core/sql/ingest.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { loadConfig } from '../runtime/load-config.ts';
import { activityDepsFromConfig } from '../worker/activity-deps.ts';
import { SNOWFLAKE_EMULATOR_TIMEOUT_MS, startSnowflakeEmulator, type SnowflakeEmulator } from './setup/snowflake-emulator.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type CliResult, type TempProject } from './support/temp-project.ts';

/**
 * Models and batch scoring (issue 18, items 1 and 3) through the real CLI and a worker on the Temporal
 * dev server, once on DuckDB and once on the Snowflake engine over the emulator, on the same data:
 * a training set built, model versions registered (with their lineage) and promoted, and a spine
 * scored as of a time into flywheel.predictions_<model> and the service's decision stream, with
 * hand-computed predictions; a retried chunk, a re-run, and a model returning NaN.
 */

const AS_OF = '2024-05-02T00:00:00.000Z';
const PASSWORD_ENV = 'FW_TEST_BATCH_SCORING_PASSWORD';

const DEFINITIONS = `
import { entity, eventStream, featureService, featureView, labels, model, source, trainingSet } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const stats = source({ name: 'stats', table: 'raw.stats', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', ctr: 'float64', visits: 'int64' } });
export const clickSpine = source({ name: 'click_spine', table: 'raw.click_spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicked: 'bool' } });
export const toScore = source({ name: 'to_score', table: 'raw.to_score', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', position: 'int64' } });
export const scorePoints = source({ name: 'score_points', table: 'raw.score_points', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', position: 'int64' } });
export const userStats = featureView({ name: 'user_stats', entities: [user], source: stats, features: { ctr: 'float64', visits: 'int64' } });
export const ranking = featureService({ name: 'ranking', features: [userStats], logging: { sampleRate: 1 } });
export const conversions = eventStream({ name: 'conversions', entities: [user], timestampField: 'ts', fields: { decision_id: 'string' }, retention: '365d' });
export const converted = labels({ name: 'converted', decisions: ranking, outcomes: conversions, match: { by: 'decision_id', outcomeField: 'decision_id' }, window: '7d', value: { kind: 'any' } });
export const rankerTraining = trainingSet({ name: 'ranker_training', spine: clickSpine, features: ranking });
export const ranker = model({
  name: 'ranker', service: ranking, inputs: ['ctr', 'visits', { request: 'position' }], output: { name: 'score', kind: 'score' },
  artifact: { format: 'typescript', module: '../models/ranker-model.ts' }, batch: { spine: toScore, chunkSize: 2 },
});
export const flaky = model({
  name: 'flaky', service: ranking, inputs: ['ctr'], output: { name: 'p', kind: 'probability' },
  artifact: { format: 'typescript', module: '../models/flaky-model.ts' }, batch: { spine: toScore, chunkSize: 2 },
});
export const tiny = model({ name: 'tiny', service: ranking, inputs: ['ctr', 'visits'], output: { name: 'p', kind: 'probability' }, artifact: { format: 'onnx' } });
`;

// w·(ctr, visits, position) + b, nulls as 0; NaN for the user named by nanFor (a broken version).
const RANKER_MODULE = `
export function score(params: { w: number[]; b: number; nanFor?: number }, rows: Record<string, number | null>[]) {
  return rows.map((r) => params.nanFor !== undefined && r.user_id === params.nanFor ? Number.NaN
    : params.w[0]! * (r.ctr ?? 0) + params.w[1]! * (r.visits ?? 0) + params.w[2]! * (r.position ?? 0) + params.b);
}
`;

// Fails once, retryably, on the chunk holding user 3 (as a worker losing a remote resource would); then scores ctr, nulls as 0.5.
const FLAKY_MODULE = `
import { existsSync, writeFileSync } from 'node:fs';
export function score(params: { marker: string }, rows: Record<string, number | null>[]) {
  if (rows.some((r) => r.user_id === 3) && !existsSync(params.marker)) {
    writeFileSync(params.marker, 'failed once');
    throw Object.assign(new Error('lost the feature cache'), { retryable: true });
  }
  return rows.map((r) => r.ctr ?? 0.5);
}
`;

function seedStatements(kind: 'duckdb' | 'snowflake'): string[] {
  const [int, tz, float, bool] = kind === 'duckdb' ? ['BIGINT', 'TIMESTAMPTZ', 'DOUBLE', 'BOOLEAN'] : ['NUMBER(19,0)', 'TIMESTAMP_TZ', 'FLOAT', 'BOOLEAN'];
  const ts = (text: string) => (kind === 'duckdb' ? `TIMESTAMPTZ '${text}'` : `'${text}'::TIMESTAMP_TZ`);
  return [
    'CREATE SCHEMA raw',
    `CREATE TABLE raw.stats (user_id ${int}, ts ${tz}, ctr ${float}, visits ${int})`,
    // User 1's second row comes after the as-of time: not used. User 3 has no stats.
    `INSERT INTO raw.stats VALUES (1, ${ts('2024-05-01 00:00:00+00:00')}, 0.5, 2), (1, ${ts('2024-05-03 00:00:00+00:00')}, 0.9, 9), (2, ${ts('2024-05-01 12:00:00+00:00')}, 0.25, 4)`,
    `CREATE TABLE raw.click_spine (user_id ${int}, ts ${tz}, clicked ${bool})`,
    `INSERT INTO raw.click_spine VALUES (1, ${ts('2024-05-01 06:00:00+00:00')}, true), (2, ${ts('2024-05-01 18:00:00+00:00')}, false)`,
    `CREATE TABLE raw.to_score (user_id ${int}, ts ${tz}, position ${int})`,
    // User 2 twice with the same position: one row to score.
    `INSERT INTO raw.to_score VALUES (2, ${ts('2024-04-01 00:00:00+00:00')}, 4), (1, ${ts('2024-04-01 00:00:00+00:00')}, 0), (3, ${ts('2024-04-01 00:00:00+00:00')}, 1), (2, ${ts('2024-04-02 00:00:00+00:00')}, 4)`,
    // A training-set-shaped spine: user 1 before and after its second stats row, user 2 before any stats and after.
    `CREATE TABLE raw.score_points (user_id ${int}, ts ${tz}, position ${int})`,
    `INSERT INTO raw.score_points VALUES (1, ${ts('2024-05-04 00:00:00+00:00')}, 1), (2, ${ts('2024-04-30 00:00:00+00:00')}, 2), (1, ${ts('2024-05-02 00:00:00+00:00')}, 1), (2, ${ts('2024-05-03 00:00:00+00:00')}, 2)`,
  ];
}

let emulator: SnowflakeEmulator | undefined;

/** stderr without Node's process warnings (snowflake-sdk's AWS SDK warns that it will soon need Node 22). */
const withoutNodeWarnings = (stderr: string) => stderr.replace(/\(node:\d+\) Warning: [\s\S]*?\(Use `node --trace-warnings \.\.\.` to show where the warning was created\)\n/g, '');

beforeAll(async () => {
  emulator = await startSnowflakeEmulator();
}, SNOWFLAKE_EMULATOR_TIMEOUT_MS);

afterAll(async () => {
  await emulator?.stop();
}, 30_000);

function offlineFor(kind: 'duckdb' | 'snowflake'): string {
  if (kind === 'duckdb') return `{ type: 'duckdb', path: '.flywheel/warehouse.duckdb' }`;
  const options = emulator!.connectionOptions({ database: `FW_SCORE_${randomBytes(4).toString('hex').toUpperCase()}`, schema: 'PUBLIC' });
  process.env[PASSWORD_ENV] = options.password;
  return JSON.stringify({ type: 'snowflake', account: options.account, username: options.username, database: options.database, schema: options.schema, accessUrl: options.accessUrl, passwordEnv: PASSWORD_ENV });
}

describe.each(['duckdb', 'snowflake'] as const)('models and batch scoring on %s', (kind) => {
  const taskQueue = testTaskQueue();
  let project: TempProject;
  let offline: OfflineStoreConfig;

  async function withEngine<T>(use: (engine: Awaited<ReturnType<typeof createOfflineEngine>>) => Promise<T>): Promise<T> {
    const engine = await createOfflineEngine(offline);
    try {
      return await use(engine);
    } finally {
      await engine.close();
    }
  }

  /** Runs the CLI while a worker of this project serves the task queue. */
  async function withWorker(...args: string[]): Promise<CliResult> {
    const config = await loadConfig({ cwd: project.dir });
    const activities = createActivities(activityDepsFromConfig(config));
    return runWorker({ taskQueue, activities }, () => project.cliAsync(...args));
  }

  // A run prints its start and progress to stderr (one line per stage without a terminal); nothing else.
  const ok = (result: CliResult) => {
    expect(withoutNodeWarnings(result.stderr).split('\n').filter((line) => line !== '' && !/^Started |: \S.* \(\d+\/\d+\)$/.test(line))).toEqual([]);
    expect(result.code).toBe(0);
    return result.stdout;
  };

  const predictions = (model: string, output: string) =>
    withEngine(async (engine) => (await engine.all(sql(`SELECT user_id, as_of, model_version, ${output}, spine_row FROM flywheel.predictions_${model} ORDER BY model_version, user_id`)))
      .map((r) => [Number(r['user_id']), r['as_of'], r['model_version'], r[output] === null ? null : Number(r[output]), Number(r['spine_row'])]));

  const decisions = (model: string) =>
    withEngine(async (engine) => (await engine.all(sql(`SELECT decision_id, user_id, served_at, ctr, ctr__status, visits, model_name, model_version, model_score, context FROM flywheel.stream_ranking_decisions WHERE model_name = '${model}' ORDER BY decision_id`)))
      .map((r) => [r['decision_id'], Number(r['user_id']), r['served_at'], r['ctr'] === null ? null : Number(r['ctr']), r['ctr__status'], r['visits'] === null ? null : Number(r['visits']), r['model_version'], Number(r['model_score']), JSON.parse(String(r['context']))]));

  /** Each logged decision's `_event_id`, `_received_at` (ISO) and `_batch` (`<node>/<segment id>`). */
  const loggedAs = (model: string) =>
    withEngine(async (engine) => (await engine.all(sql(`SELECT _event_id, _received_at, _batch FROM flywheel.stream_ranking_decisions WHERE model_name = '${model}' ORDER BY _event_id`)))
      .map((r) => [r['_event_id'], new Date(r['_received_at'] as string).toISOString(), r['_batch']]));

  /** The decision stream's sealed segments still in the object store (waiting to be ingested). */
  const sealedDecisionSegments = () => {
    const dir = join(project.dir, '.flywheel/objects/_log/sealed/ranking_decisions');
    return existsSync(dir) ? readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.seg')) : [];
  };

  /**
   * When the latest run of a workflow id started, as the workflow saw it (the `loggedAt` it gave
   * planBatchScoring, read from its history): the `_received_at` its logged decisions carry.
   */
  async function runStartTime(workflowId: string): Promise<string> {
    const client = await connectClient();
    try {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const plan = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'planBatchScoring')!;
      const [payload] = plan.activityTaskScheduledEventAttributes!.input!.payloads!;
      return (JSON.parse(Buffer.from(payload!.data!).toString('utf8')) as { loggedAt: string }).loggedAt;
    } finally {
      await client.connection.close();
    }
  }

  beforeAll(async () => {
    project = createTempProject({
      'flywheel.config.ts': `import { defineConfig } from 'flywheel';
export default defineConfig({ project: 'score_${kind}', definitions: './definitions',
  profiles: { local: {
    offline: ${offlineFor(kind)},
    objectStore: { type: 'local', root: '.flywheel/objects' },
    onlineStore: { type: 'sqlite', path: '.flywheel/online.sqlite' },
    temporal: { address: '${temporalAddress()}', namespace: 'default', taskQueue: '${taskQueue}' },
  } } });
`,
      'definitions/all.ts': DEFINITIONS,
      'models/ranker-model.ts': RANKER_MODULE,
      'models/flaky-model.ts': FLAKY_MODULE,
    });
    mkdirSync(join(project.dir, '.flywheel'), { recursive: true });
    offline = (await loadConfig({ cwd: project.dir })).profile.offline;
    await withEngine(async (engine) => {
      for (const statement of seedStatements(kind)) await engine.run(sql(statement));
    });
    writeFileSync(join(project.dir, 'ranker-v1.json'), JSON.stringify({ w: [2, 0.5, -0.25], b: 1 }));
    writeFileSync(join(project.dir, 'ranker-nan.json'), JSON.stringify({ w: [2, 0.5, -0.25], b: 1, nanFor: 2 }));
    writeFileSync(join(project.dir, 'flaky.json'), JSON.stringify({ marker: join(project.dir, 'flaky.marker') }));
    writeFileSync(join(project.dir, 'tiny.onnx'), denseOnnxModel({ inputWidth: 2, layers: [{ weights: [[1], [0.0625]], bias: [0] }] }));
    writeFileSync(join(project.dir, 'tiny-wide.onnx'), denseOnnxModel({ inputWidth: 3, layers: [{ weights: [[1], [1], [1]], bias: [0] }] }));
    writeFileSync(join(project.dir, 'broken.json'), '{"w": [2, 0.5');
    ok(project.cli('apply'));
    ok(await withWorker('run', 'training-set', 'ranker_training'));
  }, SNOWFLAKE_EMULATOR_TIMEOUT_MS);

  afterAll(() => project?.remove());

  it('registers versions with the training-set version they were trained on, refusing what does not fit, and promotes one', async () => {
    const bad = (...args: string[]) => {
      const result = project.cli('models', 'register', ...args);
      expect(result.code).toBe(1);
      return withoutNodeWarnings(result.stderr);
    };
    expect(bad('rankr', 'ranker-v1.json', '--trained-on', 'ranker_training')).toBe('error: model "rankr" not found. Defined models: flaky, ranker, tiny\n');
    expect(bad('ranker', 'ranker-v1.json', '--trained-on', 'ranker_train')).toBe('error: training set "ranker_train" not found. Defined training sets: ranker_training\n');
    expect(bad('ranker', 'ranker-v1.json', '--trained-on', 'ranker_training@20240101T000000_000000000000'))
      .toMatch(/^error: model "ranker": training set "ranker_training" has no version "20240101T000000_000000000000"; its partitions' versions: \d{8}T\d{6}_[0-9a-f]{12}\n$/);
    expect(bad('ranker', 'broken.json', '--trained-on', 'ranker_training'))
      .toMatch(new RegExp(`^error: model "ranker", artifact ${join(project.dir, 'broken.json').replaceAll('/', '\\/')}: not valid JSON \\(a TypeScript model's artifact is its parameters as JSON\\): `));
    expect(bad('tiny', 'tiny-wide.onnx', '--trained-on', 'ranker_training'))
      .toBe(`error: model "tiny", artifact ${join(project.dir, 'tiny-wide.onnx')}: input "input" has shape [batch, 3]; the model declares 2 inputs (ctr, visits), so it must be [batch, 2]\n`);

    const first = ok(project.cli('models', 'register', 'ranker', 'ranker-v1.json', '--trained-on', 'ranker_training', '--json'));
    const { created, manifest } = JSON.parse(first) as { created: boolean; manifest: { version: string; trainedOn: { trainingSet: string; version: string; partitions: { key: string; rowCount: number }[] } } };
    expect([created, manifest.version, manifest.trainedOn.trainingSet]).toEqual([true, 'v1', 'ranker_training']);
    expect(manifest.trainedOn.partitions.map((p) => [p.key, p.rowCount])).toEqual([['day=2024-05-01', 2]]);
    expect(ok(project.cli('models', 'register', 'ranker', 'ranker-v1.json', '--trained-on', `ranker_training@${manifest.trainedOn.version}`)))
      .toBe('Already registered: these bytes are ranker v1 (sha256 ' + JSON.parse(first).manifest.sha256.slice(0, 12) + '); nothing stored.\n');
    expect(ok(project.cli('models', 'register', 'ranker', 'ranker-nan.json', '--trained-on', 'ranker_training'))).toMatch(/^Registered ranker v2 \(sha256 [0-9a-f]{12}\), trained on ranker_training@\d{8}T\d{6}_[0-9a-f]{12}\.\nPromote it: flywheel models promote ranker v2\n$/);
    ok(project.cli('models', 'register', 'flaky', 'flaky.json', '--trained-on', 'ranker_training'));
    ok(project.cli('models', 'register', 'tiny', 'tiny.onnx', '--trained-on', 'ranker_training'));

    const promote = project.cli('models', 'promote', 'ranker', 'v3');
    expect([promote.code, withoutNodeWarnings(promote.stderr)]).toEqual([1, 'error: model "ranker": no version v3; registered: v1, v2\n']);
    // An A/B split for /v1/decide (docs/models.md, "A/B splits"): refused precisely, then declared, listed, and cleared by a plain promote.
    const badSplit = (...args: string[]) => {
      const result = project.cli('models', 'promote', 'ranker', 'v1', ...args);
      return [result.code, withoutNodeWarnings(result.stderr)];
    };
    expect(badSplit('--split', 'v1=0.5,v2=0.4', '--by', 'user_id')).toEqual([1, 'error: model "ranker": --split shares add up to 0.9, not 1\n']);
    expect(badSplit('--split', 'v1=0.5,v3=0.5', '--by', 'user_id')).toEqual([1, 'error: model "ranker": --split names version v3, which is not registered; registered: v1, v2\n']);
    expect(ok(project.cli('models', 'promote', 'ranker', 'v1', '--split', 'v1=0.9,v2=0.1', '--by', 'user_id')))
      .toBe('Promoted ranker v1; /v1/decide splits requests by "user_id": v1 0.9, v2 0.1.\n');
    expect(ok(project.cli('models', 'list', 'ranker')).split('\n')[0]).toBe('ranker (promoted: v1, split by user_id: v1 0.9, v2 0.1)');
    expect(ok(project.cli('models', 'promote', 'ranker', 'v1'))).toBe('Promoted ranker v1.\n');
    ok(project.cli('models', 'promote', 'flaky', 'v1'));
    const list = ok(project.cli('models', 'list', 'ranker'));
    expect(list.replace(/registered \S+/g, 'registered T').replace(/@\S+/g, '@V').replace(/sha256 [0-9a-f]{12}/g, 'sha256 H')).toBe([
      'ranker (promoted: v1)',
      '* v1  typescript  registered T  trained on ranker_training@V (1 partition, 2 rows)  sha256 H',
      '  v2  typescript  registered T  trained on ranker_training@V (1 partition, 2 rows)  sha256 H',
      '',
    ].join('\n'));
  }, 300_000);

  it('scores the spine as of a time into flywheel.predictions_<model> and logs each prediction as a decision', async () => {
    const out = ok(await withWorker('score', 'ranker', '--as-of', '2024-05-02'));
    expect(out).toBe([
      `Scored 3 rows with ranker v1 as of ${AS_OF} in 2 chunks.`,
      '  predictions: flywheel.predictions_ranker',
      '  decisions:   flywheel.stream_ranking_decisions',
      '',
    ].join('\n'));
    // 2·ctr + 0.5·visits − 0.25·position + 1, features as of 2024-05-02 (user 1's row of 05-03 not yet), user 3 without stats.
    const expected = [[1, AS_OF, 'v1', 3, 0], [2, AS_OF, 'v1', 2.5, 1], [3, AS_OF, 'v1', 0.75, 2]];
    expect(await predictions('ranker', 'score')).toEqual(expected);
    expect(await decisions('ranker')).toEqual([
      [`score:ranker:v1:${AS_OF}:0`, 1, AS_OF, 0.5, 'present', 2, 'v1', 3, { batch_run: `score_${kind}/score/ranker/2024-05-02`, spine: 'to_score', position: 0 }],
      [`score:ranker:v1:${AS_OF}:1`, 2, AS_OF, 0.25, 'present', 4, 'v1', 2.5, { batch_run: `score_${kind}/score/ranker/2024-05-02`, spine: 'to_score', position: 4 }],
      [`score:ranker:v1:${AS_OF}:2`, 3, AS_OF, null, 'missing', null, 'v1', 0.75, { batch_run: `score_${kind}/score/ranker/2024-05-02`, spine: 'to_score', position: 1 }],
    ]);
    // Logged through the log path: node batch-ranker, one segment per chunk (rows 0 and 1, then 2), each
    // event's id its decision id with row index 0, received when the run started; the segments loaded and gone.
    const run = `score_${kind}/score/ranker/2024-05-02`;
    const firstStart = await runStartTime(run);
    const logged = await loggedAs('ranker');
    expect(logged.map((r) => [r[0], r[1], r[2]])).toEqual([
      [`score:ranker:v1:${AS_OF}:0:0`, firstStart, logged[0]![2]],
      [`score:ranker:v1:${AS_OF}:1:0`, firstStart, logged[0]![2]],
      [`score:ranker:v1:${AS_OF}:2:0`, firstStart, logged[2]![2]],
    ]);
    expect([logged[0]![2], logged[2]![2]]).toEqual([expect.stringMatching(/^batch-ranker\/[0-9a-f]{16}-000000$/), expect.stringMatching(/^batch-ranker\/[0-9a-f]{16}-000001$/)]);
    expect(sealedDecisionSegments()).toEqual([]);
    // Run again (the same run id, so the same segments, which the ingest ledger finds loaded): the
    // predictions replaced, each decision once, as first logged.
    ok(await withWorker('score', 'ranker', '--as-of', AS_OF));
    expect(await runStartTime(run)).not.toBe(firstStart);
    expect(await predictions('ranker', 'score')).toEqual(expected);
    expect(await loggedAs('ranker')).toEqual(logged);
    // Again in one chunk of 3 (other segment ids, not in the ledger): ingestion's dedupe on event ids stores none of them again.
    expect(ok(await withWorker('score', 'ranker', '--as-of', AS_OF, '--chunk-size', '3')).split('\n')[0]).toBe(`Scored 3 rows with ranker v1 as of ${AS_OF} in 1 chunk.`);
    expect(await predictions('ranker', 'score')).toEqual(expected);
    expect(await loggedAs('ranker')).toEqual(logged);
    expect(await decisions('ranker')).toHaveLength(3);
    expect(sealedDecisionSegments()).toEqual([]);
  }, 300_000);

  it('resumes a retried chunk run where it stopped, writing each row once', async () => {
    ok(await withWorker('score', 'flaky', '--as-of', AS_OF));
    expect(await predictions('flaky', 'p')).toEqual([[1, AS_OF, 'v1', 0.5, 0], [2, AS_OF, 'v1', 0.25, 1], [3, AS_OF, 'v1', 0.5, 2]]);
    expect((await decisions('flaky')).map((d) => [d[0], d[7]])).toEqual([
      [`score:flaky:v1:${AS_OF}:0`, 0.5], [`score:flaky:v1:${AS_OF}:1`, 0.25], [`score:flaky:v1:${AS_OF}:2`, 0.5],
    ]);
  }, 240_000);

  it('fails a run whose model returns NaN, naming the row, and leaves other versions\' predictions alone', async () => {
    const result = await withWorker('score', 'ranker', '--model-version', 'v2', '--as-of', AS_OF);
    expect(result.code).toBe(1);
    expect(withoutNodeWarnings(result.stderr).split('\n').filter((line) => !/^Started |: \S.* \(\d+\/\d+\)$/.test(line)).join('\n')).toBe(
      `error: model "ranker" version v2, row 1: the model returned NaN; spine row user_id=2\n(run score_${kind}/score/ranker/2024-05-02; see it in the Temporal UI)\n`,
    );
    expect((await predictions('ranker', 'score')).map((r) => r[2])).toEqual(['v1', 'v1', 'v1']);
  }, 240_000);

  it('scores each row of a --spine source as of its own time, point in time, and replaces them on a re-run', async () => {
    const run = `score_${kind}/score/ranker/spine-score_points`;
    expect(ok(await withWorker('score', 'ranker', '--spine', 'score_points'))).toBe([
      'Scored 4 rows with ranker v1 each as of its own time (spine score_points) in 2 chunks.',
      '  predictions: flywheel.predictions_ranker',
      '  decisions:   flywheel.stream_ranking_decisions',
      '',
    ].join('\n'));
    // 2·ctr + 0.5·visits − 0.25·position + 1 with the features as of each row's time: user 1 on 05-02 (0.5, 2) and
    // on 05-04 (0.9, 9, the row of 05-03); user 2 on 04-30 (no stats yet) and on 05-03 (0.25, 4).
    const expected = [
      [1, '2024-05-02T00:00:00.000Z', 'v1', 2.75, 0, run], [1, '2024-05-04T00:00:00.000Z', 'v1', 7.05, 1, run],
      [2, '2024-04-30T00:00:00.000Z', 'v1', 0.5, 2, run], [2, '2024-05-03T00:00:00.000Z', 'v1', 3, 3, run],
    ];
    const spinePredictions = () => withEngine(async (engine) => (await engine.all(sql(`SELECT user_id, as_of, model_version, score, spine_row, run_id FROM flywheel.predictions_ranker WHERE run_id = '${run}' ORDER BY user_id, as_of`)))
      .map((r) => [Number(r['user_id']), r['as_of'], r['model_version'], Number(r['score']), Number(r['spine_row']), r['run_id']]));
    expect(await spinePredictions()).toEqual(expected);
    const spineDecisions = async () => (await decisions('ranker')).filter((d) => (d[8] as { spine: string }).spine === 'score_points').map((d) => [d[0], d[1], d[2], d[3], d[4], d[7]]);
    expect(await spineDecisions()).toEqual([
      ['score:ranker:v1:spine=score_points:2024-04-30T00:00:00.000Z:2', 2, '2024-04-30T00:00:00.000Z', null, 'missing', 0.5],
      ['score:ranker:v1:spine=score_points:2024-05-02T00:00:00.000Z:0', 1, '2024-05-02T00:00:00.000Z', 0.5, 'present', 2.75],
      ['score:ranker:v1:spine=score_points:2024-05-03T00:00:00.000Z:3', 2, '2024-05-03T00:00:00.000Z', 0.25, 'present', 3],
      ['score:ranker:v1:spine=score_points:2024-05-04T00:00:00.000Z:1', 1, '2024-05-04T00:00:00.000Z', 0.9, 'present', 7.05],
    ]);
    // Again: the same four rows, none added; --as-of with --spine is refused, naming what each means.
    ok(await withWorker('score', 'ranker', '--spine', 'score_points'));
    expect(await spinePredictions()).toEqual(expected);
    expect(await spineDecisions()).toHaveLength(4);
    const both = project.cli('score', 'ranker', '--spine', 'score_points', '--as-of', AS_OF);
    expect([both.code, withoutNodeWarnings(both.stderr)]).toEqual([1, "error: --as-of and --spine do not go together: --as-of scores every entity of the model's batch spine as of one time; --spine scores each of its rows as of the row's own time\n"]);
  }, 240_000);

  it('scores a Parquet file given as --spine, each row as of its own time', async () => {
    const file = join(project.dir, 'points.parquet');
    const local = await createOfflineEngine({ type: 'duckdb', path: join(project.dir, 'scratch.duckdb') });
    try {
      await local.exportParquet(sql(`SELECT * FROM (VALUES (1, TIMESTAMPTZ '2024-05-04 00:00:00+00:00', 0), (3, TIMESTAMPTZ '2024-05-04 00:00:00+00:00', 4)) AS t(user_id, ts, position)`), file);
    } finally {
      await local.close();
    }
    const result = ok(await withWorker('score', 'ranker', '--spine', 'points.parquet', '--json'));
    const run = (JSON.parse(result) as { spine: string }).spine;
    expect(run).toBe(file);
    // User 1 on 05-04: 2·0.9 + 0.5·9 + 1 = 7.3; user 3 without stats: −0.25·4 + 1 = 0.
    expect(await withEngine(async (engine) => (await engine.all(sql(`SELECT user_id, as_of, score FROM flywheel.predictions_ranker WHERE spine_row < 2 AND run_id LIKE '%/spine-file-%' ORDER BY user_id`)))
      .map((r) => [Number(r['user_id']), r['as_of'], Number(r['score'])]))).toEqual([[1, '2024-05-04T00:00:00.000Z', 7.3], [3, '2024-05-04T00:00:00.000Z', 0]]);
    const csv = project.cli('score', 'ranker', '--spine', 'points.csv');
    expect([csv.code, withoutNodeWarnings(csv.stderr)]).toEqual([1, `error: --spine ${join(project.dir, 'points.csv')}: a file spine is Parquet (.parquet); load a CSV into a source, or write it as Parquet\n`]);
  }, 240_000);

  it('answers the lineage of a logged decision: the version, its code, the training-set version and its partitions\' feature views', async () => {
    const shown = JSON.parse(ok(project.cli('models', 'show', 'ranker', 'v1', '--json'))) as {
      model: { sha256: string; code: { file: string; sha256: string }; trainedOn: { version: string } };
      partitions: { key: string; version: string; registryVersion: number; manifest: string; featureViews: { name: string; definitionHash: string }[]; sourceWatermarks: Record<string, string> }[];
    };
    const [partition] = shown.partitions;
    expect([shown.partitions.length, partition!.key, partition!.manifest, partition!.featureViews.map((v) => v.name), partition!.sourceWatermarks]).toEqual([
      1, 'day=2024-05-01', 'current', ['user_stats'], { user_stats: '2024-05-03T00:00:00.000Z' },
    ]);
    const text = ok(project.cli('models', 'lineage', `score:ranker:v1:${AS_OF}:1`)).replace(/registered \S+/, 'registered T');
    expect(text).toBe([
      `decision score:ranker:v1:${AS_OF}:1  served at ${AS_OF}  in flywheel.stream_ranking_decisions`,
      `model ranker v1  typescript  registered T  artifact params.${shown.model.sha256.slice(0, 12)}.json (sha256 ${shown.model.sha256.slice(0, 12)})  code ${shown.model.code.file} from models/ranker-model.ts (sha256 ${shown.model.code.sha256.slice(0, 12)})`,
      `trained on ranker_training@${shown.model.trainedOn.version}`,
      `  partition day=2024-05-01  version ${partition!.version}  registry version ${partition!.registryVersion}  2 rows`,
      `    feature view user_stats  definition ${partition!.featureViews[0]!.definitionHash.slice(0, 12)}  source watermark 2024-05-03T00:00:00.000Z`,
      '',
    ].join('\n'));
    const unknown = project.cli('models', 'lineage', 'score:ranker:v9:nope');
    expect([unknown.code, withoutNodeWarnings(unknown.stderr)]).toEqual([1, 'error: scored decision "score:ranker:v9:nope" not found. Looked in flywheel.stream_ranking_decisions (decisions reach them when their stream is ingested)\n']);
  }, 120_000);

  it('labels batch decisions with their outcomes like any decision', async () => {
    // A conversion that names the decision on user 1 of 05-02 (spine score_points), a day after it; stored by the ingestion statements.
    const clicked = 'score:ranker:v1:spine=score_points:2024-05-02T00:00:00.000Z:0';
    const ndjson = join(project.dir, 'conversions.ndjson');
    writeFileSync(ndjson, `${JSON.stringify({ _event_id: 'c1', _received_at: '2024-05-03T00:00:00.000Z', user_id: 1, ts: '2024-05-03T00:00:00.000Z', decision_id: clicked })}\n`);
    await withEngine(async (engine) => {
      const stream = (await new WarehouseRegistry(engine).latest(`score_${kind}`))!.spec.eventStreams['conversions']!;
      const files = await engine.stageFiles([ndjson], { name: 'conversions-1', format: 'jsonLines' });
      try {
        await engine.transaction(async (tx) => {
          for (const statement of compileIngestBatch(stream, { batch: 'conversions-1', stagingRelation: { kind: 'staged', files }, loadedAt: '2024-05-03T00:00:00.000Z' }, engine.dialect)) await tx.run(statement);
        });
      } finally {
        await engine.unstageFiles(files);
      }
    });
    ok(await withWorker('labels', 'build', 'converted', '--from', '2024-04-30', '--to', '2024-05-05'));
    const local = await createOfflineEngine({ type: 'duckdb', path: ':memory:' });
    try {
      const rows = await local.all(sql(`SELECT decision_id, user_id, served_at, label, outcome_count FROM read_parquet('${join(project.dir, '.flywheel/objects/labels/converted')}/*/*.parquet', hive_partitioning = false) WHERE decision_id LIKE 'score:ranker:v1:spine=score_points:%' ORDER BY decision_id`));
      expect(rows.map((r) => [r['decision_id'], Number(r['user_id']), new Date(r['served_at'] as string).toISOString(), Number(r['label']), Number(r['outcome_count'])])).toEqual([
        ['score:ranker:v1:spine=score_points:2024-04-30T00:00:00.000Z:2', 2, '2024-04-30T00:00:00.000Z', 0, 0],
        [clicked, 1, '2024-05-02T00:00:00.000Z', 1, 1],
        ['score:ranker:v1:spine=score_points:2024-05-03T00:00:00.000Z:3', 2, '2024-05-03T00:00:00.000Z', 0, 0],
        ['score:ranker:v1:spine=score_points:2024-05-04T00:00:00.000Z:1', 1, '2024-05-04T00:00:00.000Z', 0, 0],
      ]);
    } finally {
      await local.close();
    }
  }, 240_000);

  it.runIf(kind === 'duckdb')('flywheel apply keeps a Temporal Schedule for a model whose batch has a schedule, and deletes it with the schedule', async () => {
    const scheduled = DEFINITIONS.replace('batch: { spine: toScore, chunkSize: 2 },', "batch: { spine: toScore, chunkSize: 2, schedule: { cron: '0 4 * * *', paused: true } },");
    expect(scheduled).not.toBe(DEFINITIONS);
    project.write('definitions/all.ts', scheduled);
    expect(ok(project.cli('apply'))).toContain('flywheel:score_duckdb:score:ranker');
    const client = await connectClient();
    try {
      const description = await client.schedule.getHandle('flywheel:score_duckdb:score:ranker').describe();
      expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'batchScore', workflowId: 'score_duckdb/score/ranker/scheduled', taskQueue, args: [{ project: 'score_duckdb', model: 'ranker' }] });
      expect([description.state.paused, description.spec.calendars?.length]).toEqual([true, 1]);
      project.write('definitions/all.ts', DEFINITIONS);
      ok(project.cli('apply'));
      await expect(client.schedule.getHandle('flywheel:score_duckdb:score:ranker').describe()).rejects.toThrow(/not found/i);
    } finally {
      await client.schedule.getHandle('flywheel:score_duckdb:score:ranker').delete().catch(() => undefined);
      await client.connection.close();
    }
  }, 120_000);
});
