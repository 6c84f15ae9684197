import { describe, expect, it } from 'vitest';
import { entity, eventStream, featureService, featureView, loop, source, trainingSet } from '../index.ts';
import type { Definition } from '../core/definitions/definition.ts';
import type { LabelsSpec, ProjectSpec, TrainingSetSpec } from '../core/definitions/specs.ts';
import { DefinitionError } from '../core/errors.ts';
import { stageShortfall, summarizeStageResult } from '../core/loop/stage-summary.ts';
import { definitionHash } from '../core/plan/definition-hash.ts';
import { desiredSchedules, scheduleTargetOfId, schedulesInvolved } from '../core/plan/schedules.ts';
import { resolveTaskQueues } from '../core/task-queues.ts';
import {
  dependentsOf,
  latestPartition,
  LoopCycleError,
  LoopSelectionError,
  orderLoop,
  planLoop,
  selectStages,
  type LoopNode,
  type LoopStage,
} from '../core/loop/plan-loop.ts';
import { validateProject } from '../core/validation/validate-project.ts';

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', fields: { item_id: 'int64', decision_id: 'string' }, retention: '30d' });
const appEvents = eventStream({
  name: 'app_events', entities: [user], timestampField: 'ts', fields: { screen: 'string' }, retention: '30d',
  from: { table: 'raw.app_events', watermark: 'ts', lookback: '1h' },
});
const spend = source({ name: 'spend', table: 'spend', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
const spine = source({ name: 'spine', table: 'spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', label: 'bool' } });
const userClicks = featureView({ name: 'user_clicks', entities: [user], source: clicks, aggregations: [{ function: 'count', windows: ['1h'] }] });
const userScreens = featureView({ name: 'user_screens', entities: [user], source: appEvents, online: false, aggregations: [{ function: 'count', windows: ['1d'] }] });
const userSpend = featureView({ name: 'user_spend', entities: [user], source: spend, features: { amount: 'float64' } });
const model = featureService({ name: 'model', features: [userClicks, userSpend], logging: { sampleRate: 1 } });
const withService = trainingSet({ name: 'by_service', spine, features: model });
const withViews = trainingSet({ name: 'by_views', spine, features: [userScreens, userSpend], output: { partitionBy: 'month' } });
const fromSource = trainingSet({ name: 'from_source', spine, features: [userSpend], output: { partitionBy: 'none' } });

const clicked: LabelsSpec = {
  kind: 'labels', name: 'clicked', decisions: 'model_decisions', outcomes: 'clicks',
  match: { by: 'decision_id', decisionIdField: 'decision_id', outcomeField: 'decision_id', keys: [] },
  windowSeconds: 1800, value: { kind: 'any' }, output: { format: 'parquet', path: 'labels/clicked', partitionBy: 'hour' }, tags: {},
};

function project(): ProjectSpec {
  const spec = validateProject(
    [user, clicks, appEvents, spend, spine, userClicks, userScreens, userSpend, model, withService, withViews, fromSource].map((definition) => ({ file: 'defs.ts', definition })),
  );
  return { ...spec, labels: { clicked } };
}

const AS_OF = '2024-05-02T03:00:00.000Z';
const summary = (stages: readonly LoopStage[]) => stages.map((stage) => [stage.id, stage.dependsOn]);

describe('planLoop', () => {
  it('derives the stages and their dependencies from the definitions, in a fixed order', () => {
    const stages = planLoop(project(), { project: 'demo', asOf: AS_OF, registryVersion: 7 });
    expect(summary(stages)).toEqual([
      ['ingest:app_events', []],
      ['ingest:clicks', []],
      ['ingest:model_decisions', []],
      ['labels:clicked', ['ingest:clicks', 'ingest:model_decisions']],
      ['trainingSet:by_service', ['ingest:clicks']],
      ['trainingSet:by_views', ['ingest:app_events']],
      ['trainingSet:from_source', []],
      // user_screens is offline only: no materialization.
      ['materialize:user_clicks', ['ingest:clicks']],
      ['materialize:user_spend', []],
    ]);
  });

  it('gives each stage its workflow and a small input', () => {
    const stages = planLoop(project(), { project: 'demo', asOf: AS_OF, registryVersion: 7 });
    const byId = Object.fromEntries(stages.map((stage) => [stage.id, stage]));
    expect(byId['ingest:clicks']).toEqual({
      id: 'ingest:clicks', kind: 'ingest', object: 'clicks', dependsOn: [], workflowType: 'ingestStream', args: { project: 'demo', stream: 'clicks' },
    });
    expect(byId['labels:clicked']).toMatchObject({ workflowType: 'buildLabels', args: { project: 'demo', labels: 'clicked', asOf: AS_OF } });
    // Day partitions: yesterday, as the schedule would build it.
    expect(byId['trainingSet:by_service']).toMatchObject({
      workflowType: 'buildTrainingSet',
      args: { project: 'demo', trainingSet: 'by_service', from: '2024-05-01T00:00:00.000Z', to: '2024-05-02T00:00:00.000Z', registryVersion: 7 },
    });
    expect(byId['trainingSet:by_views']!.args).toEqual({ project: 'demo', trainingSet: 'by_views', from: '2024-04-01T00:00:00.000Z', to: '2024-05-01T00:00:00.000Z', registryVersion: 7 });
    expect(byId['trainingSet:from_source']!.args).toEqual({ project: 'demo', trainingSet: 'from_source', registryVersion: 7 });
    expect(byId['materialize:user_clicks']).toMatchObject({ workflowType: 'materializeFeatureView', args: { project: 'demo', view: 'user_clicks', to: AS_OF } });
  });

  it('is the same whatever order the definitions come in', () => {
    const spec = project();
    const reversed: ProjectSpec = Object.fromEntries(
      Object.entries(spec).map(([collection, objects]) => [collection, Object.fromEntries(Object.entries(objects as object).reverse())]),
    ) as unknown as ProjectSpec;
    expect(planLoop(reversed, { project: 'demo', asOf: AS_OF })).toEqual(planLoop(spec, { project: 'demo', asOf: AS_OF }));
  });

  it('builds a training set whose spine is a labels dataset after those labels', () => {
    const spec = project();
    // A labels spine (`{ labels }`), as the labels-spine training sets store it.
    const fromLabels = { ...spec.trainingSets.from_source!, name: 'from_labels', spine: { labels: 'clicked', fromLog: false } } as unknown as TrainingSetSpec;
    const stages = planLoop({ ...spec, trainingSets: { ...spec.trainingSets, from_labels: fromLabels } }, { project: 'demo', asOf: AS_OF });
    expect(summary(stages).filter(([id]) => String(id).startsWith('labels') || id === 'trainingSet:from_labels')).toEqual([
      ['labels:clicked', ['ingest:clicks', 'ingest:model_decisions']],
      ['trainingSet:from_labels', ['labels:clicked']],
    ]);
    expect(dependentsOf(stages, 'ingest:clicks')).toContain('trainingSet:from_labels');
  });

  it('has no labels stage for a spec without labels (applied before they existed)', () => {
    const { labels: _labels, ...older } = project();
    expect(planLoop(older as ProjectSpec, { project: 'demo', asOf: AS_OF }).some((stage) => stage.kind === 'labels')).toBe(false);
  });

  it('takes a scheduled training set\'s partition lag', () => {
    const set = validateProject([user, spend, spine, userSpend, trainingSet({ name: 't', spine, features: [userSpend], schedule: { cron: '0 3 * * *', partitionLag: 2 } })]
      .map((definition) => ({ file: 'a.ts', definition }))).trainingSets.t!;
    expect(latestPartition(set, AS_OF)).toEqual({ from: '2024-04-30T00:00:00.000Z', to: '2024-05-01T00:00:00.000Z' });
    expect(latestPartition({ ...set, output: { ...set.output, partitionBy: 'hour' } }, '2024-05-02T00:00:00.000Z')).toEqual({ from: '2024-04-30T00:00:00.000Z', to: '2024-05-01T00:00:00.000Z' });
  });
});

describe('orderLoop', () => {
  const node = (id: string, reads: string[], produces: string[] = []): LoopNode => ({
    id, kind: 'trainingSet', object: id, workflowType: 'buildTrainingSet', args: { project: 'p', trainingSet: id },
    reads: reads as LoopNode['reads'], produces: produces as LoopNode['produces'],
  });

  it('puts a stage after what produces its reads, whatever their kinds', () => {
    // A training set whose spine is a labels dataset (a later item) depends on that labels stage.
    const labels: LoopNode = { id: 'labels:l', kind: 'labels', object: 'l', workflowType: 'buildLabels', args: { project: 'p', labels: 'l' }, reads: ['stream:s'], produces: ['labels:l'] };
    const ingest: LoopNode = { id: 'ingest:s', kind: 'ingest', object: 's', workflowType: 'ingestStream', args: { project: 'p', stream: 's' }, reads: [], produces: ['stream:s'] };
    expect(summary(orderLoop([node('a', ['labels:l']), labels, ingest]))).toEqual([
      ['ingest:s', []],
      ['labels:l', ['ingest:s']],
      ['a', ['labels:l']],
    ]);
  });

  it('refuses a cycle and names it', () => {
    const nodes = [node('a', ['stream:c'], ['stream:a']), node('b', ['stream:a'], ['stream:b']), node('c', ['stream:b'], ['stream:c']), node('d', [])];
    expect(() => orderLoop(nodes)).toThrow(LoopCycleError);
    expect(() => orderLoop(nodes)).toThrow('The loop\'s stages depend on each other in a cycle: a → c → b → a');
  });
});

describe('selectStages', () => {
  const stages = planLoop(project(), { project: 'demo', asOf: AS_OF });

  it('keeps the kinds and ids named, and only the dependencies among them', () => {
    expect(summary(selectStages(stages, ['materialize', 'ingest:clicks']))).toEqual([
      ['ingest:clicks', []],
      ['materialize:user_clicks', ['ingest:clicks']],
      ['materialize:user_spend', []],
    ]);
    expect(summary(selectStages(stages, ['trainingSet:by_views']))).toEqual([['trainingSet:by_views', []]]);
    expect(selectStages(stages, [])).toEqual(stages);
    expect(selectStages(stages, undefined)).toEqual(stages);
  });

  it('refuses a name that is neither a kind nor a stage', () => {
    expect(() => selectStages(stages, ['materialize', 'training:x', 'ingest:nope'])).toThrow(LoopSelectionError);
    expect(() => selectStages(stages, ['ingest:nope'])).toThrow(/^Unknown loop stage "ingest:nope": give a kind \(ingest, labels, trainingSet, materialize\) or a stage id; the loop's stages are ingest:app_events, /);
  });
});

describe('dependentsOf', () => {
  it('follows dependencies transitively', () => {
    const stages = planLoop(project(), { project: 'demo', asOf: AS_OF });
    expect(dependentsOf(stages, 'ingest:clicks')).toEqual(['labels:clicked', 'trainingSet:by_service', 'materialize:user_clicks']);
    expect(dependentsOf(stages, 'materialize:user_spend')).toEqual([]);
    const chain = orderLoop([
      { id: 'ingest:s', kind: 'ingest', object: 's', workflowType: 'ingestStream', args: { project: 'p', stream: 's' }, reads: [], produces: ['stream:s'] },
      { id: 'labels:l', kind: 'labels', object: 'l', workflowType: 'buildLabels', args: { project: 'p', labels: 'l' }, reads: ['stream:s'], produces: ['labels:l'] },
      { id: 'trainingSet:t', kind: 'trainingSet', object: 't', workflowType: 'buildTrainingSet', args: { project: 'p', trainingSet: 't' }, reads: ['labels:l'], produces: [] },
    ]);
    expect(dependentsOf(chain, 'ingest:s')).toEqual(['labels:l', 'trainingSet:t']);
  });
});

describe('loop definitions', () => {
  const defs = [user, clicks, appEvents, spend, spine, userClicks, userScreens, userSpend, model, withService, withViews, fromSource];
  const validate = (...loops: Definition[]) => validateProject([...defs, ...loops].map((definition) => ({ file: 'defs.ts', definition })));

  it('are normalized with their defaults', () => {
    const spec = validate(loop({ name: 'hourly', schedule: { every: '1h', offset: '5m' }, only: ['ingest', 'materialize:user_clicks'] }), loop({ name: 'adhoc' }));
    expect(spec.loops).toEqual({
      hourly: {
        kind: 'loop', name: 'hourly', concurrency: 2, tags: {}, only: ['ingest', 'materialize:user_clicks'],
        schedule: { everySeconds: 3600, offsetSeconds: 300, catchupWindowSeconds: 86_400, paused: false },
      },
      adhoc: { kind: 'loop', name: 'adhoc', concurrency: 2, tags: {} },
    });
  });

  it('refuse stages the project does not have, and bad schedules or concurrency', () => {
    let error: unknown;
    try {
      validate(
        loop({ name: 'bad', only: ['materialize', 'trainingSet:by_servce', 'training'], concurrency: 0 }),
        loop({ name: 'worse', schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' as never }, only: [] }),
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DefinitionError);
    expect((error as DefinitionError).issues.map((issue) => [issue.object, issue.field, issue.message])).toEqual([
      ['bad', 'concurrency', 'expected a whole number of stages from 1 to 16'],
      ['worse', 'schedule.timezone', 'schedules run in UTC only; remove timezone and write the cron in UTC (3:00 in Berlin is "0 2 * * *" in winter)'],
      ['worse', 'only', 'name at least one stage or kind, or leave only out to run every stage'],
    ]);
    let second: unknown;
    try {
      validate(loop({ name: 'bad', only: ['materialize', 'trainingSet:by_servce', 'training'] }));
    } catch (caught) {
      second = caught;
    }
    expect((second as DefinitionError).issues.map((issue) => [issue.field, issue.message])).toEqual([
      ['only.1', 'unknown stage "trainingSet:by_servce" (did you mean "trainingSet:by_service"?); give a kind (ingest, labels, trainingSet, materialize) or a stage id (flywheel loop plan lists them)'],
      ['only.2', 'unknown stage "training" (known: ingest:app_events, ingest:clicks, ingest:model_decisions, materialize:user_clicks, materialize:user_spend, trainingSet:by_service, trainingSet:by_views, trainingSet:from_source); give a kind (ingest, labels, trainingSet, materialize) or a stage id (flywheel loop plan lists them)'],
    ]);
  });

  it('with a schedule get a Temporal Schedule that starts flywheelLoop with the loop\'s name', () => {
    const spec = validate(loop({ name: 'hourly', schedule: { every: '1h' }, only: ['ingest'] }), loop({ name: 'adhoc' }));
    expect(desiredSchedules({ project: 'demo', spec, taskQueues: resolveTaskQueues('demo', { taskQueue: 'flywheel' }) })).toEqual([{
      id: 'flywheel:demo:loop:hourly', loop: 'hourly',
      times: { type: 'interval', everySeconds: 3600, offsetSeconds: 0 }, paused: false, overlap: 'SKIP', catchupWindowSeconds: 86_400,
      searchAttributes: { FlywheelProject: 'demo', FlywheelKind: 'loop', FlywheelObject: 'hourly' },
      action: {
        workflowType: 'flywheelLoop', workflowId: 'demo/loop/hourly/scheduled', taskQueue: 'flywheel', input: { project: 'demo', loop: 'hourly' },
        searchAttributes: { FlywheelProject: 'demo', FlywheelKind: 'loop', FlywheelObject: 'hourly' },
      },
    }]);
    expect(scheduleTargetOfId('demo', 'flywheel:demo:loop:hourly')).toEqual({ loop: 'hourly' });
    expect(schedulesInvolved(undefined, spec)).toBe(true);
    // A loop added to a project is a plain addition; a project without loops hashes as before they existed.
    expect(definitionHash({ ...spec, loops: {} })).toBe(definitionHash(validate()));
  });
});

describe('summarizeStageResult', () => {
  it('says in one line what each kind of child did', () => {
    expect(summarizeStageResult('ingest', { stream: 'clicks', from: 'segments', segments: 2, rows: 1204 })).toBe('2 segments loaded, 1,204 rows');
    expect(summarizeStageResult('ingest', { stream: 'clicks', from: 'segments', segments: 2, rows: 1204, quarantined: 0 })).toBe('2 segments loaded, 1,204 rows');
    expect(summarizeStageResult('ingest', { stream: 'clicks', from: 'segments', segments: 1, rows: 3, quarantined: 1 })).toBe('1 segment loaded, 3 rows, 1 event quarantined');
    expect(summarizeStageResult('ingest', { stream: 'clicks', from: 'segments', segments: 3, rows: 3, quarantined: 1500 })).toBe('3 segments loaded, 3 rows, 1,500 events quarantined');
    expect(summarizeStageResult('ingest', { stream: 'orders', from: 'table', segments: 0, rows: 1, watermark: null })).toBe('1 row loaded from the table');
    expect(summarizeStageResult('labels', { built: 1, rebuilt: 0, upToDate: 3, open: 1, failed: 0 })).toBe('partitions: 1 built, 3 up to date, 1 open');
    expect(summarizeStageResult('trainingSet', { rowCount: 10, partitions: [{}], version: 'v1' })).toBe('10 rows in 1 partition, version v1');
    expect(summarizeStageResult('materialize', { mode: 'full', reason: 'no watermark yet', rows: 1, written: 1, watermark: 'w' })).toBe('full (no watermark yet): 1 entity, 1 written, watermark w');
    expect(summarizeStageResult('materialize', undefined)).toBe('run: 0 entities, 0 written');
  });
});

describe('stageShortfall', () => {
  it('fails a labels stage whose run counted failed partitions, naming the first; anything else passes', () => {
    const partitions = [
      { key: 'day=2024-05-01', action: 'built', reason: 'new' },
      { key: 'day=2024-05-02', action: 'failed', reason: 'new; failed: disk full' },
      { key: 'day=2024-05-03', action: 'failed', reason: 'new; failed: disk full' },
    ];
    expect(stageShortfall('labels', { failed: 2, partitions })).toBe('2 of 3 label partitions failed; first: day=2024-05-02: new; failed: disk full');
    expect(stageShortfall('labels', { failed: 1 })).toBe('1 label partition failed');
    expect(stageShortfall('labels', { failed: 0, partitions })).toBeUndefined();
    expect(stageShortfall('labels', undefined)).toBeUndefined();
    expect(stageShortfall('trainingSet', { failed: 3 })).toBeUndefined();
  });
});
