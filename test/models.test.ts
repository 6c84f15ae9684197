import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity, featureService, featureView, model, source, trainingSet } from '../index.ts';
import type { Definition } from '../core/definitions/definition.ts';
import type { ModelSpec, ProjectSpec } from '../core/definitions/specs.ts';
import { DefinitionError, NotFoundError } from '../core/errors.ts';
import { ModelArtifactError, ModelRegistryError, ModelScoringError } from '../core/models/errors.ts';
import { denseOnnxModel } from '../core/models/onnx-writer.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { definitionHash } from '../core/plan/definition-hash.ts';
import { desiredSchedules, knownScheduleIds, scheduleTargetOfId, schedulesInvolved } from '../core/plan/schedules.ts';
import { resolveTaskQueues } from '../core/task-queues.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { readPromotedSplit } from '../core/models/promoted-split.ts';
import { listModelVersions, promoteModelVersion, readPromoted, registerModelVersion, sha256Hex } from '../connectors/model-store/model-store.ts';
import { bundleTypeScriptModel } from '../connectors/model-runtime/bundle-typescript-model.ts';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import { S3ObjectStore } from '../connectors/object-store/s3/s3-object-store.ts';
import { createTestBucket, deleteTestBucket, s3TestConfig } from './setup/s3.ts';
import { modelVersionLineage } from '../cli/models/model-lineage.ts';
import { formatModelLineage } from '../cli/format/models-text.ts';
import { loadModelVersion, scorerModel } from '../connectors/model-runtime/load-model-version.ts';

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const stats = source({ name: 'user_stats_src', table: 'user_stats', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', ctr: 'float64', visits: 'int64' } });
const spine = source({ name: 'users_to_score', table: 'users_to_score', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', position: 'int64' } });
const userStats = featureView({ name: 'user_stats', entities: [user], source: stats, features: { ctr: 'float64', visits: 'int64' } });
const ranking = featureService({ name: 'ranking', features: [userStats] });
const base = [user, stats, spine, userStats, ranking];

function validate(...definitions: Definition[]) {
  return validateProject([...base, ...definitions].map((definition) => ({ file: definition.kind === 'model' ? 'definitions/models.ts' : 'definitions/base.ts', definition })));
}

function problems(...definitions: Definition[]): string[] {
  try {
    validate(...definitions);
  } catch (error) {
    if (error instanceof DefinitionError) return error.issues.map((i) => `${i.field}: ${i.message}`);
    throw error;
  }
  return [];
}

describe('model definitions at plan', () => {
  it('normalizes a model: inputs in order, a TypeScript module relative to the project root, batch defaults', () => {
    const spec = validate(model({
      name: 'ranker', service: ranking, inputs: ['ctr', { request: 'position' }], output: { name: 'p_click', kind: 'probability' },
      artifact: { format: 'typescript', module: '../models/ranker.ts' }, batch: { spine, schedule: { cron: '0  4 * * *' } },
    }));
    expect(spec.models.ranker).toEqual({
      kind: 'model', name: 'ranker', service: 'ranking', inputs: [{ feature: 'ctr' }, { request: 'position' }],
      output: { name: 'p_click', kind: 'probability' }, artifact: { format: 'typescript', module: 'models/ranker.ts', export: 'score' },
      batch: { spine: 'users_to_score', chunkSize: 10000, schedule: { cron: '0 4 * * *', catchupWindowSeconds: 86400, paused: false } }, tags: {},
    } satisfies ModelSpec);
  });

  it('names an unknown service, an input the service does not serve (with what it serves), a repeated input, a spine missing a request column', () => {
    expect(problems(model({ name: 'm1', service: 'rankng', inputs: ['ctr'], output: { name: 's', kind: 'score' }, artifact: { format: 'onnx' } })))
      .toEqual(['service: unknown feature service "rankng" (did you mean "ranking"?)']);
    expect(problems(model({ name: 'm2', service: ranking, inputs: ['ctr', 'visit', 'ctr'], output: { name: 's', kind: 'score' }, artifact: { format: 'onnx' } }))).toEqual([
      'inputs.1: model "m2" input "visit" is not a feature of feature service "ranking"; the service serves ctr, visits (did you mean "visits"?). A field of the request is written { request: "visit" }',
      'inputs.2: input "ctr" is listed twice; each input is one column of the model',
    ]);
    expect(problems(model({ name: 'm3', service: ranking, inputs: [{ request: 'rank' }], output: { name: 's', kind: 'score' }, artifact: { format: 'onnx' }, batch: { spine } }))).toEqual([
      'batch.spine: request input "rank" is not a column of spine source "users_to_score" (its columns: user_id, ts, position); batch scoring reads request inputs from the spine',
    ]);
    expect(problems(model({ name: 'm4', service: ranking, inputs: [], output: { name: 's', kind: 'odds' as 'score' }, artifact: { format: 'pickle' } as never })).sort()).toEqual([
      'artifact.format: expected { format: "onnx" } or { format: "typescript", module: "./ranker.ts" }',
      'inputs: declare at least one input',
      'output.kind: expected score or probability, got "odds"',
    ]);
  });
});

describe('model batch schedules', () => {
  it('keeps a Temporal Schedule per model whose batch has a schedule; a project without models hashes as before', () => {
    const spec = validate(model({ name: 'ranker', service: ranking, inputs: ['ctr'], output: { name: 's', kind: 'score' }, artifact: { format: 'onnx' }, batch: { spine, schedule: { cron: '0 4 * * *' } } }));
    const searchAttributes = { FlywheelProject: 'demo', FlywheelKind: 'score', FlywheelObject: 'ranker' };
    expect(desiredSchedules({ project: 'demo', spec, taskQueues: resolveTaskQueues('demo', { taskQueues: 'per-workload' }) })).toEqual([{
      id: 'flywheel:demo:score:ranker', model: 'ranker',
      times: { type: 'calendar', calendar: expect.anything(), cron: '0 4 * * *' }, paused: false, overlap: 'SKIP', catchupWindowSeconds: 86_400, searchAttributes,
      action: { workflowType: 'batchScore', workflowId: 'demo/score/ranker/scheduled', taskQueue: 'flywheel-demo-training-sets', input: { project: 'demo', model: 'ranker' }, searchAttributes },
    }]);
    expect(scheduleTargetOfId('demo', 'flywheel:demo:score:ranker')).toEqual({ model: 'ranker' });
    expect(knownScheduleIds('demo', undefined, spec)).toEqual(['flywheel:demo:score:ranker']);
    expect([schedulesInvolved(undefined, spec), schedulesInvolved(undefined, validate())]).toEqual([true, false]);
    // A spec stored before models existed has no `models`: it hashes as the same project with none.
    const { models: _none, ...before } = validate();
    expect(definitionHash(before as ProjectSpec)).toBe(definitionHash(validate()));
  });
});

const LINEAR_MODULE = [
  'export function score(params: { w: number[]; b: number }, rows: Record<string, number>[]) {',
  '  return rows.map((r) => r.position < 0 ? Number.NaN : params.w[0]! * r.ctr + params.w[1]! * r.position + params.b);',
  '}',
].join('\n');

describe('model runtime', () => {
  let root: string;
  let store: LocalObjectStore;
  const onnxSpec = (inputs = 2): ModelSpec => ({
    kind: 'model', name: 'tiny', service: 'ranking', inputs: ['ctr', 'visits', 'x3'].slice(0, inputs).map((feature) => ({ feature })),
    output: { name: 'p', kind: 'probability' }, artifact: { format: 'onnx' }, tags: {},
  });
  const tsSpec: ModelSpec = {
    kind: 'model', name: 'linear', service: 'ranking', inputs: [{ feature: 'ctr' }, { request: 'position' }],
    output: { name: 'score', kind: 'score' }, artifact: { format: 'typescript', module: 'linear.ts', export: 'score' }, tags: {},
  };
  const trainedOn = { trainingSet: 'clicks_training', version: 'r1', partitions: [{ key: 'day=2024-05-01', version: 'r1', registryVersion: 3, rowCount: 10 }] };
  // sigmoid(0.5·ctr − 1·visits + 0.25): rows (1, 0.75) → sigmoid(0) = 0.5; (0, 0) → sigmoid(0.25).
  const tinyOnnx = denseOnnxModel({ inputWidth: 2, layers: [{ weights: [[0.5], [-1]], bias: [0.25], activation: 'sigmoid' }] });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'flywheel-models-'));
    store = new LocalObjectStore(join(root, 'store'));
    await writeFile(join(root, 'linear.ts'), LINEAR_MODULE);
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  it('scores a tiny ONNX model exactly (a 2-layer MLP with relu too)', async () => {
    const tiny = await scorerModel(onnxSpec(), { version: 'v0', file: 'tiny.onnx', bytes: tinyOnnx, projectRoot: root });
    const [zero, quarter] = await tiny.score([{ ctr: 1, visits: 0.75 }, { ctr: 0, visits: false }]);
    expect(zero).toBe(0.5);
    // ONNX Runtime computes sigmoid in float32: 1 / (1 + e^-0.25) = 0.562176500…, to float32 precision.
    expect(Math.abs(quarter! - 0.5621765008857981)).toBeLessThan(2e-7);
    // relu([x1 − x2, x2 − x1]) · [2, 3] + 1
    const mlp = denseOnnxModel({ inputWidth: 2, layers: [{ weights: [[1, -1], [-1, 1]], bias: [0, 0], activation: 'relu' }, { weights: [[2], [3]], bias: [1] }] });
    const scorer = await scorerModel({ ...onnxSpec(), output: { name: 's', kind: 'score' } }, { version: 'v0', file: 'mlp.onnx', bytes: mlp, projectRoot: root });
    expect(Array.from(await scorer.score([{ ctr: 3, visits: 1 }, { ctr: 1, visits: 3 }, { ctr: 2, visits: 2 }]))).toEqual([5, 7, 1]);
  });

  it('refuses an ONNX artifact that is not ONNX or has the wrong width, and inputs that are not numbers', async () => {
    await expect(scorerModel(onnxSpec(), { version: 'v9', file: 'x.onnx', bytes: new TextEncoder().encode('not a model'), projectRoot: root }))
      .rejects.toThrow(/^model "tiny" version v9, artifact x\.onnx: not a loadable ONNX model: /);
    await expect(scorerModel(onnxSpec(3), { version: 'v9', file: 'x.onnx', bytes: tinyOnnx, projectRoot: root }))
      .rejects.toThrow(new ModelArtifactError({ model: 'tiny', version: 'v9', file: 'x.onnx', reason: 'input "input" has shape [batch, 2]; the model declares 3 inputs (ctr, visits, x3), so it must be [batch, 3]' }));
    const tiny = await scorerModel(onnxSpec(), { version: 'v1', file: 'tiny.onnx', bytes: tinyOnnx, projectRoot: root });
    await expect(tiny.score([{ ctr: 1, visits: 1 }, { ctr: 'high', visits: 1 }])).rejects.toThrow('model "tiny" version v1, row 1: input "ctr" is "high"; an ONNX model\'s inputs are numbers or booleans');
    await expect(tiny.score([{ ctr: 1, visits: 1 }, { ctr: null, visits: 1 }])).rejects.toThrow('model "tiny" version v1, row 1: the model returned NaN (inputs null or missing: ctr)');
  });

  it('scores a TypeScript model with its JSON parameters, and names the row that gives NaN, a wrong count, or a throw', async () => {
    const params = new TextEncoder().encode(JSON.stringify({ w: [2, -0.5], b: 1 }));
    const linear = await scorerModel(tsSpec, { version: 'v2', file: 'params.json', bytes: params, projectRoot: root });
    expect(linear.inputs).toEqual(['ctr', 'position']);
    expect(Array.from(await linear.score([{ ctr: 0.25, position: 1 }, { ctr: 1, position: 4 }]))).toEqual([1, 1]);
    const error = await linear.score([{ ctr: 0.25, position: 1 }, { ctr: 1, position: -1 }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelScoringError);
    expect(error).toMatchObject({ model: 'linear', version: 'v2', rowIndex: 1, message: 'model "linear" version v2, row 1: the model returned NaN' });
    await expect(scorerModel(tsSpec, { version: 'v3', file: 'params.json', bytes: new TextEncoder().encode('{w:'), projectRoot: root }))
      .rejects.toThrow(/^model "linear" version v3, artifact params\.json: not valid JSON \(a TypeScript model's artifact is its parameters as JSON\): /);
    await expect(scorerModel({ ...tsSpec, artifact: { format: 'typescript', module: 'linear.ts', export: 'predict' } }, { version: 'v3', file: 'params.json', bytes: params, projectRoot: root }))
      .rejects.toThrow('model "linear" version v3, artifact params.json: module linear.ts has no function export "predict" (exports: score)');
    const broken = await scorerModel(tsSpec, { version: 'v4', file: 'params.json', bytes: new TextEncoder().encode('{}'), projectRoot: root });
    await expect(broken.score([{ ctr: 1, position: 1 }])).rejects.toThrow(/^model "linear" version v4: the model threw: /);
    const probability = await scorerModel({ ...tsSpec, output: { name: 'p', kind: 'probability' } }, { version: 'v5', file: 'params.json', bytes: params, projectRoot: root });
    await expect(probability.score([{ ctr: 0, position: 0 }, { ctr: 1, position: 0 }])).rejects.toThrow('model "linear" version v5, row 1: the model returned 3, and output "p" is a probability (0 to 1)');
  });

  it('reads an A/B split of `models promote --split ... --by ...`, naming the part at fault', () => {
    expect(readPromotedSplit('ranker', 'v3', undefined, undefined)).toBeUndefined();
    expect(readPromotedSplit('ranker', 'v3', 'v3=0.7,v4=0.2,v5=0.1', ' user_id ')).toEqual({
      key: 'user_id', arms: [{ version: 'v3', share: 0.7 }, { version: 'v4', share: 0.2 }, { version: 'v5', share: 0.1 }],
    });
    expect(readPromotedSplit('ranker', 'v3', 'v3=1', 'user_id')).toEqual({ key: 'user_id', arms: [{ version: 'v3', share: 1 }] });
    const error = (split: string | undefined, by: string | undefined) => {
      try {
        readPromotedSplit('ranker', 'v3', split, by);
      } catch (caught) {
        expect(caught).toBeInstanceOf(ModelRegistryError);
        return (caught as Error).message;
      }
      return 'no error';
    };
    expect([
      error('v3=0.9,v4=0.1', undefined),
      error(undefined, 'user_id'),
      error('v3=0.9,v4', 'user_id'),
      error('v3=0.9,v4=0.1,', 'user_id'),
      error('v3=1.5', 'user_id'),
      error('v3=0,v4=1', 'user_id'),
      error('v3=0.5,v4=half', 'user_id'),
      error('v3=0.5,v3=0.5', 'user_id'),
      error('v3=0.5,v4=0.4', 'user_id'),
      error('v4=0.5,v5=0.5', 'user_id'),
    ]).toEqual([
      'model "ranker": --split needs --by <context key>: the request context field whose hash picks each request\'s version',
      'model "ranker": --by names the context key of an A/B split; give the split too: --split <version>=<share>,...',
      'model "ranker": --split part 2 "v4" must be <version>=<share>, such as v4=0.1',
      'model "ranker": --split part 3 "" must be <version>=<share>, such as v4=0.1',
      'model "ranker": --split part 1 "v3=1.5": the share must be a number in (0, 1], got 1.5',
      'model "ranker": --split part 1 "v3=0": the share must be a number in (0, 1], got 0',
      'model "ranker": --split part 2 "v4=half": the share must be a number in (0, 1], got half',
      'model "ranker": --split part 2 "v3=0.5": version v3 is named twice',
      'model "ranker": --split shares add up to 0.9, not 1',
      'model "ranker": --split must give the promoted version v3 a share (batch scoring uses it); it names v4, v5',
    ]);
  });

  it('registers versions in the object store (idempotent by sha256), promotes one, and loads the promoted or a named version', async () => {
    const now = new Date('2024-05-02T10:00:00.000Z');
    await expect(loadModelVersion({ store, definitions: { ...validate(), models: { tiny: onnxSpec() } }, name: 'tiny' }))
      .rejects.toThrow(new NotFoundError('promoted version of model', 'tiny', 'Register one: flywheel models register tiny <file> --trained-on <training set>'));
    const first = await registerModelVersion(store, { spec: onnxSpec(), bytes: tinyOnnx, trainedOn, now });
    const again = await registerModelVersion(store, { spec: onnxSpec(), bytes: tinyOnnx, trainedOn, now: new Date('2024-05-03T00:00:00Z') });
    const mlp = denseOnnxModel({ inputWidth: 2, layers: [{ weights: [[0], [0]], bias: [0], activation: 'sigmoid' }] });
    const second = await registerModelVersion(store, { spec: onnxSpec(), bytes: mlp, trainedOn, now });
    expect([first.manifest.version, first.created, again.manifest.version, again.created, second.manifest.version]).toEqual(['v1', true, 'v1', false, 'v2']);
    expect(first.manifest).toEqual({
      formatVersion: 1, name: 'tiny', version: 'v1', format: 'onnx', artifact: `model.${first.manifest.sha256.slice(0, 12)}.onnx`, sha256: first.manifest.sha256,
      inputs: ['ctr', 'visits'], output: { name: 'p', kind: 'probability' }, trainedOn, registeredAt: '2024-05-02T10:00:00.000Z',
    });
    expect(first.manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await store.list('models/tiny/')).map((o) => o.key)).toEqual([
      'models/tiny/versions/v1/manifest.json', `models/tiny/versions/v1/model.${first.manifest.sha256.slice(0, 12)}.onnx`,
      'models/tiny/versions/v2/manifest.json', `models/tiny/versions/v2/model.${second.manifest.sha256.slice(0, 12)}.onnx`,
    ]);
    await expect(promoteModelVersion(store, 'tiny', 'v3', now)).rejects.toThrow(new ModelRegistryError('tiny', 'no version v3; registered: v1, v2'));
    // An A/B split declared at promotion: every arm registered, kept in promoted.json in the order given.
    const split = readPromotedSplit('tiny', 'v2', 'v2=0.75, v1=0.25', 'user_id');
    await expect(promoteModelVersion(store, 'tiny', 'v2', now, readPromotedSplit('tiny', 'v2', 'v2=0.5,v9=0.5', 'user_id')))
      .rejects.toThrow(new ModelRegistryError('tiny', '--split names version v9, which is not registered; registered: v1, v2'));
    expect(await promoteModelVersion(store, 'tiny', 'v2', now, split)).toEqual({ version: 'v2', promotedAt: '2024-05-02T10:00:00.000Z', split: { key: 'user_id', arms: [{ version: 'v2', share: 0.75 }, { version: 'v1', share: 0.25 }] } });
    expect((await readPromoted(store, 'tiny'))?.split).toEqual(split);
    // A plain promotion clears it.
    expect(await promoteModelVersion(store, 'tiny', 'v2', now)).toEqual({ version: 'v2', promotedAt: '2024-05-02T10:00:00.000Z' });
    expect(await readPromoted(store, 'tiny')).toEqual({ version: 'v2', promotedAt: '2024-05-02T10:00:00.000Z' });
    expect((await listModelVersions(store, 'tiny')).map((v) => v.version)).toEqual(['v1', 'v2']);
    const definitions = { ...validate(), models: { tiny: onnxSpec() } };
    const promoted = await loadModelVersion({ store, definitions, name: 'tiny' });
    expect([promoted.version, Array.from(await promoted.score([{ ctr: 5, visits: 5 }]))]).toEqual(['v2', [0.5]]);
    const named = await loadModelVersion({ store, definitions, name: 'tiny', version: 'v1' });
    expect([named.version, Array.from(await named.score([{ ctr: 1, visits: 0.75 }]))]).toEqual(['v1', [0.5]]);
    await expect(loadModelVersion({ store, definitions, name: 'tiny', version: 'v7' })).rejects.toThrow(new NotFoundError('version v7 of model', 'tiny', 'Registered: v1, v2'));
    await expect(loadModelVersion({ store, definitions, name: 'tine' })).rejects.toThrow(new NotFoundError('model', 'tine', 'Defined models: tiny'));
    await expect(loadModelVersion({ store, definitions: { ...definitions, models: { tiny: onnxSpec(3) } }, name: 'tiny' }))
      .rejects.toThrow(`model "tiny" version v2, artifact models/tiny/versions/v2/model.${second.manifest.sha256.slice(0, 12)}.onnx: the version was registered for inputs (ctr, visits); the definition now has (ctr, visits, x3); register a version for these inputs`);
  });

  it('keeps a TypeScript version\'s scoring code with it: editing the module after register changes new versions only', async () => {
    const now = new Date('2024-05-02T10:00:00.000Z');
    const definitions = { ...validate(), models: { linear: tsSpec } };
    const params = new TextEncoder().encode(JSON.stringify({ w: [2, -0.5], b: 1 }));
    const v1Code = await bundleTypeScriptModel(tsSpec as ModelSpec & { artifact: { format: 'typescript' } }, root);
    const v1 = await registerModelVersion(store, { spec: tsSpec, bytes: params, code: { bytes: v1Code, module: 'linear.ts', export: 'score' }, trainedOn, now });
    expect(v1.manifest.code).toEqual({ file: `score.${sha256Hex(v1Code).slice(0, 12)}.mjs`, sha256: sha256Hex(v1Code), module: 'linear.ts', export: 'score' });
    expect(new TextDecoder().decode(await store.get(`models/linear/versions/v1/${v1.manifest.code!.file}`))).toContain('params.w[0] * r.ctr');
    // The same params and the same code again: that version, nothing stored.
    expect(await registerModelVersion(store, { spec: tsSpec, bytes: params, code: { bytes: await bundleTypeScriptModel(tsSpec as never, root), module: 'linear.ts', export: 'score' }, trainedOn, now }))
      .toEqual({ manifest: v1.manifest, created: false });
    // 2·0.25 − 0.5·1 + 1 = 1; 2·1 − 0.5·4 + 1 = 1.
    const rows = [{ ctr: 0.25, position: 1 }, { ctr: 1, position: 4 }];
    expect(Array.from(await (await loadModelVersion({ store, definitions, name: 'linear', version: 'v1', projectRoot: root })).score(rows))).toEqual([1, 1]);

    // The module is edited (now w·x + b + 100, through a helper file): v1 still scores as registered.
    await writeFile(join(root, 'offset.ts'), 'export const OFFSET = 100;\n');
    await writeFile(join(root, 'linear.ts'), [
      "import { OFFSET } from './offset.ts';",
      'export function score(params: { w: number[]; b: number }, rows: Record<string, number>[]) {',
      '  return rows.map((r) => params.w[0]! * r.ctr + params.w[1]! * r.position + params.b + OFFSET);',
      '}',
    ].join('\n'));
    expect(Array.from(await (await loadModelVersion({ store, definitions, name: 'linear', version: 'v1', projectRoot: root })).score(rows))).toEqual([1, 1]);
    // The same params with the new code are a new version, which scores with the edit (the helper bundled in).
    const v2Code = await bundleTypeScriptModel(tsSpec as never, root);
    const v2 = await registerModelVersion(store, { spec: tsSpec, bytes: params, code: { bytes: v2Code, module: 'linear.ts', export: 'score' }, trainedOn, now });
    expect([v2.manifest.version, v2.created, v2.manifest.sha256 === v1.manifest.sha256]).toEqual(['v2', true, true]);
    expect(new TextDecoder().decode(v2Code)).toContain('OFFSET = 100');
    expect(Array.from(await (await loadModelVersion({ store, definitions, name: 'linear', version: 'v2', projectRoot: root })).score(rows))).toEqual([101, 101]);
    expect(Array.from(await (await loadModelVersion({ store, definitions, name: 'linear', version: 'v1', projectRoot: root })).score(rows))).toEqual([1, 1]);

    // Code whose bytes are not those the manifest names is refused; a module that does not build is named with its line.
    await store.putBytes(`models/linear/versions/v1/${v1.manifest.code!.file}`, 'export function score() { return [7, 7]; }\n');
    await expect(loadModelVersion({ store, definitions, name: 'linear', version: 'v1', projectRoot: root })).rejects.toThrow(new ModelArtifactError({
      model: 'linear', version: 'v1', file: `models/linear/versions/v1/${v1.manifest.code!.file}`,
      reason: `the scoring code's SHA-256 is ${sha256Hex(new TextEncoder().encode('export function score() { return [7, 7]; }\n'))}; the manifest says ${v1.manifest.code!.sha256}`,
    }));
    await writeFile(join(root, 'broken.ts'), 'export function score( {\n');
    await expect(bundleTypeScriptModel({ ...tsSpec, artifact: { format: 'typescript', module: 'broken.ts', export: 'score' } }, root))
      .rejects.toThrow(/^model "linear", artifact broken\.ts: cannot bundle the scoring module: broken\.ts:2: /);
    await writeFile(join(root, 'linear.ts'), LINEAR_MODULE);
  });

  it('gives each of several registrations racing for the next number its own version (local folder)', async () => {
    await registersRaceToDistinctVersions(store, 'race');
  });

  it('gives each of several registrations racing for the next number its own version (S3, versitygw)', async () => {
    const bucket = await createTestBucket();
    const s3 = new S3ObjectStore(s3TestConfig(bucket));
    try {
      await registersRaceToDistinctVersions(s3, 'race');
    } finally {
      s3.destroy();
      await deleteTestBucket(bucket);
    }
  });

  /**
   * Six registrations of different bytes at once, then six of one more model's bytes at once: v1..v6
   * each with its own bytes, then v7 once (the other five find it); nothing left beside the manifests.
   */
  async function registersRaceToDistinctVersions(target: ObjectStore, name: string): Promise<void> {
    const spec = { ...onnxSpec(), name };
    const now = new Date('2024-05-02T10:00:00.000Z');
    const models = Array.from({ length: 6 }, (_, i) => denseOnnxModel({ inputWidth: 2, layers: [{ weights: [[i], [1]], bias: [0], activation: 'sigmoid' }] }));
    const results = await Promise.all(models.map((bytes) => registerModelVersion(target, { spec, bytes, trainedOn, now })));
    expect(results.map((r) => r.created)).toEqual([true, true, true, true, true, true]);
    expect(results.map((r) => r.manifest.version).sort()).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    const listed = await listModelVersions(target, name);
    expect(listed.map((v) => v.version)).toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6']);
    for (const manifest of listed) {
      const bytes = await target.get(`models/${name}/versions/${manifest.version}/${manifest.artifact}`);
      expect(sha256Hex(bytes!)).toBe(manifest.sha256);
      expect(manifest.sha256).toBe(results.find((r) => r.manifest.version === manifest.version)!.manifest.sha256);
    }
    const seventh = denseOnnxModel({ inputWidth: 2, layers: [{ weights: [[7], [7]], bias: [0], activation: 'sigmoid' }] });
    const same = await Promise.all(Array.from({ length: 6 }, () => registerModelVersion(target, { spec, bytes: seventh, trainedOn, now })));
    expect(same.map((r) => r.manifest.version)).toEqual(['v7', 'v7', 'v7', 'v7', 'v7', 'v7']);
    expect(same.filter((r) => r.created)).toHaveLength(1);
    const files = (await target.list(`models/${name}/`)).map((o) => o.key);
    expect(files).toHaveLength(14);
    expect(files.filter((key) => key.endsWith('/manifest.json'))).toHaveLength(7);
  }
});

describe('model lineage', () => {
  it('says which partitions trained on are still that build, which were rebuilt since, and which are gone', async () => {
    const root = await mkdtemp(join(tmpdir(), 'flywheel-lineage-'));
    try {
      const store = new LocalObjectStore(join(root, 'store'));
      const clickSpine = source({ name: 'click_spine', table: 'click_spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', clicked: 'bool' } });
      const project = validate(clickSpine, trainingSet({ name: 'clicks_training', spine: clickSpine, features: ranking, output: { path: 'training/clicks' } }));
      const spec: ModelSpec = { kind: 'model', name: 'tiny', service: 'ranking', inputs: [{ feature: 'ctr' }, { feature: 'visits' }], output: { name: 'p', kind: 'probability' }, artifact: { format: 'onnx' }, tags: {} };
      const trainedOn = { trainingSet: 'clicks_training', version: 'r1', partitions: ['day=2024-05-01', 'day=2024-05-02', 'day=2024-05-03'].map((key) => ({ key, version: 'r1', registryVersion: 3, rowCount: 10 })) };
      await registerModelVersion(store, { spec, bytes: denseOnnxModel({ inputWidth: 2, layers: [{ weights: [[1], [1]], bias: [0], activation: 'sigmoid' }] }), trainedOn, now: new Date('2024-05-04T00:00:00Z') });
      const partition = (key: string, version: string) => JSON.stringify({
        formatVersion: 1, project: 'p', trainingSet: 'clicks_training', partition: { key }, version, createdAt: '2024-05-03T00:00:00Z', registryVersion: 3, rowCount: 10, schema: [],
        featureViews: [{ name: 'user_stats', definitionHash: 'abcdef0123456789' }], sourceWatermarks: { user_stats: '2024-05-01T12:00:00.000Z' }, files: [], columnStats: {},
        spine: { labels: 'clicked', partitions: [{ key, version: 2, build: 'b1' }] },
      });
      await store.putBytes('training/clicks/_partitions/day=2024-05-01.json', partition('day=2024-05-01', 'r1'));
      await store.putBytes('training/clicks/_partitions/day=2024-05-02.json', partition('day=2024-05-02', 'r2'));
      const lineage = await modelVersionLineage(store, project, 'tiny', 'v1');
      expect(lineage.partitions.map((p) => [p.key, p.manifest, p.currentVersion ?? null])).toEqual([
        ['day=2024-05-01', 'current', null], ['day=2024-05-02', 'rebuilt', 'r2'], ['day=2024-05-03', 'missing', null],
      ]);
      expect(formatModelLineage(lineage).split('\n').slice(1)).toEqual([
        'trained on clicks_training@r1',
        '  partition day=2024-05-01  version r1  registry version 3  10 rows',
        '    feature view user_stats  definition abcdef012345  source watermark 2024-05-01T12:00:00.000Z',
        '    labels clicked: day=2024-05-01 version 2',
        '  partition day=2024-05-02  version r1  registry version 3  10 rows',
        '    rebuilt since (now version r2); the manifest of the build trained on is replaced',
        '  partition day=2024-05-03  version r1  registry version 3  10 rows',
        '    its manifest is gone (the partition was deleted)',
        '',
      ]);
      await expect(modelVersionLineage(store, project, 'tiny', 'v4')).rejects.toThrow(new NotFoundError('version v4 of model', 'tiny', 'Registered: v1'));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
