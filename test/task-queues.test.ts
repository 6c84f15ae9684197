import { afterAll, describe, expect, it } from 'vitest';
import { entity, eventStream, featureView, loop, source, trainingSet } from '../index.ts';
import * as workflows from '../workflows/index.ts';
import { desiredSchedules } from '../core/plan/schedules.ts';
import { distinctTaskQueues, resolveTaskQueues, selectTaskQueues, splitWorkloadQueues, taskQueueOf, WORKFLOW_WORKLOADS, loopStageTaskQueue } from '../core/task-queues.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { loadConfig } from '../runtime/load-config.ts';
import { ConfigError } from '../core/errors.ts';
import { withStageQueues } from '../cli/runs/loop-run.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

const SPLIT = { project: 'flywheel-shop', ingest: 'flywheel-shop-ingest', trainingSets: 'flywheel-shop-training-sets', labels: 'flywheel-shop-labels', materialization: 'flywheel-shop-materialization' };

describe('resolveTaskQueues', () => {
  it('keeps one queue for everything when none is split: flywheel-<project>, or the profile\'s taskQueue', () => {
    expect(resolveTaskQueues('shop', {})).toEqual({ project: 'flywheel-shop', ingest: 'flywheel-shop', trainingSets: 'flywheel-shop', labels: 'flywheel-shop', materialization: 'flywheel-shop' });
    expect(resolveTaskQueues('shop', { taskQueue: 'q' })).toEqual({ project: 'q', ingest: 'q', trainingSets: 'q', labels: 'q', materialization: 'q' });
    expect(splitWorkloadQueues(resolveTaskQueues('shop', {}))).toBeUndefined();
    expect(distinctTaskQueues(resolveTaskQueues('shop', {}))).toEqual(['flywheel-shop']);
  });

  it("gives each workload flywheel-<project>-<workload> with 'per-workload'; the loop stays on the project queue", () => {
    const queues = resolveTaskQueues('shop', { taskQueues: 'per-workload' });
    expect(queues).toEqual(SPLIT);
    expect(distinctTaskQueues(queues)).toEqual(['flywheel-shop', 'flywheel-shop-ingest', 'flywheel-shop-training-sets', 'flywheel-shop-labels', 'flywheel-shop-materialization']);
    expect(taskQueueOf(queues, 'flywheelLoop')).toBe('flywheel-shop');
    expect(taskQueueOf(queues, 'backfillTrainingSet')).toBe('flywheel-shop-training-sets');
    expect(taskQueueOf(queues, 'enforceRetention')).toBe('flywheel-shop-ingest');
    expect(taskQueueOf(queues, 'buildLabelPartition')).toBe('flywheel-shop-labels');
  });

  it('splits only the workloads an object names; the others share the project queue', () => {
    const queues = resolveTaskQueues('shop', { taskQueue: 'main', taskQueues: { trainingSets: 'heavy' } });
    expect(queues).toEqual({ project: 'main', ingest: 'main', trainingSets: 'heavy', labels: 'main', materialization: 'main' });
    expect(splitWorkloadQueues(queues)).toEqual({ trainingSets: 'heavy' });
    expect(distinctTaskQueues(queues)).toEqual(['main', 'heavy']);
    expect(loopStageTaskQueue({ trainingSets: 'heavy' }, 'trainingSet')).toBe('heavy');
    expect(loopStageTaskQueue({ trainingSets: 'heavy' }, 'ingest')).toBeUndefined();
  });

  it('reads --task-queue values as workloads or as queue names, each queue once', () => {
    const queues = resolveTaskQueues('shop', { taskQueues: 'per-workload' });
    expect(selectTaskQueues(queues, ['ingest', 'materialization', 'flywheel-shop-ingest'])).toEqual(['flywheel-shop-ingest', 'flywheel-shop-materialization']);
    expect(selectTaskQueues(queues, ['training-sets', 'project', 'custom'])).toEqual(['flywheel-shop-training-sets', 'flywheel-shop', 'custom']);
  });

  it('names a queue for every workflow the worker registers, and for nothing else', () => {
    const registered = Object.entries(workflows).filter(([, value]) => typeof value === 'function').map(([name]) => name).sort();
    expect(Object.keys(WORKFLOW_WORKLOADS).sort()).toEqual(registered);
  });
});

describe('a split project', () => {
  const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
  const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', fields: { item_id: 'int64' }, retention: '30d', retentionSchedule: { every: '1d' } });
  const spine = source({ name: 'spine', table: 'spine', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
  const userClicks = featureView({ name: 'user_clicks', entities: [user], source: clicks, aggregations: [{ function: 'count', windows: ['1h'] }], materialize: { every: '10m' } });
  const daily = trainingSet({ name: 'daily', spine, features: [userClicks], schedule: { every: '1d' } });
  const hourly = loop({ name: 'hourly', schedule: { every: '1h' } });
  const spec = validateProject([user, clicks, spine, userClicks, daily, hourly].map((definition) => ({ file: 'defs.ts', definition })));

  it("starts each schedule's runs on its workload's queue, and a loop's stages on theirs (named in its input)", () => {
    const schedules = desiredSchedules({ project: 'shop', spec, taskQueues: resolveTaskQueues('shop', { taskQueues: 'per-workload' }) });
    expect(schedules.map((s) => [s.id, s.action.workflowType, s.action.taskQueue, s.action.input])).toEqual([
      ['flywheel:shop:training-set:daily', 'scheduledTrainingSet', 'flywheel-shop-training-sets', { project: 'shop', trainingSet: 'daily', partitionLag: 1 }],
      ['flywheel:shop:materialization:user_clicks', 'materializeFeatureView', 'flywheel-shop-materialization', { project: 'shop', view: 'user_clicks' }],
      ['flywheel:shop:loop:hourly', 'flywheelLoop', 'flywheel-shop', {
        project: 'shop', loop: 'hourly',
        taskQueues: { ingest: 'flywheel-shop-ingest', trainingSets: 'flywheel-shop-training-sets', labels: 'flywheel-shop-labels', materialization: 'flywheel-shop-materialization' },
      }],
      ['flywheel:shop:retention:clicks', 'enforceRetention', 'flywheel-shop-ingest', { project: 'shop', stream: 'clicks' }],
    ]);
    // Unsplit, every schedule is on the one queue and the loop's input is as it always was.
    const single = desiredSchedules({ project: 'shop', spec, taskQueues: resolveTaskQueues('shop', {}) });
    expect(single.map((s) => [s.action.taskQueue, s.action.input])).toEqual([
      ['flywheel-shop', { project: 'shop', trainingSet: 'daily', partitionLag: 1 }],
      ['flywheel-shop', { project: 'shop', view: 'user_clicks' }],
      ['flywheel-shop', { project: 'shop', loop: 'hourly' }],
      ['flywheel-shop', { project: 'shop', stream: 'clicks' }],
    ]);
  });
});

describe('temporal.taskQueues in flywheel.config.ts', () => {
  const projects: TempProject[] = [];
  const configWith = (temporal: string) => {
    const project = createTempProject({
      'flywheel.config.ts': `export default { project: 'shop', definitions: './definitions', profiles: { local: {
        offline: { type: 'duckdb', path: 'w.duckdb' }, objectStore: { type: 'local', root: 'objects' }, onlineStore: { type: 'sqlite', path: 'o.sqlite' },
        temporal: { address: 'localhost:7233', namespace: 'default', ${temporal} } } } };\n`,
    });
    projects.push(project);
    return project;
  };
  afterAll(() => projects.forEach((p) => p.remove()));

  it('resolves every queue once, in the loaded profile', async () => {
    const config = await loadConfig({ cwd: configWith("taskQueues: 'per-workload'").dir });
    expect(config.profile.temporal.taskQueue).toBe('flywheel-shop');
    expect(config.profile.temporal.taskQueues).toEqual(SPLIT);
    expect(withStageQueues({ project: 'shop' }, config.profile.temporal)).toEqual({ project: 'shop', taskQueues: { ingest: SPLIT.ingest, trainingSets: SPLIT.trainingSets, labels: SPLIT.labels, materialization: SPLIT.materialization } });
    const unsplit = await loadConfig({ cwd: configWith("taskQueue: 'main'").dir });
    expect(unsplit.profile.temporal.taskQueues).toEqual({ project: 'main', ingest: 'main', trainingSets: 'main', labels: 'main', materialization: 'main' });
    expect(withStageQueues({ project: 'shop' }, unsplit.profile.temporal)).toEqual({ project: 'shop' });
  });

  it('refuses an unknown workload, naming the file and field', async () => {
    const project = configWith("taskQueues: { backfills: 'b' }");
    const error = await loadConfig({ cwd: project.dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(`${project.dir}/flywheel.config.ts, field "profiles.local.temporal.taskQueues": unknown workload "backfills"; the workloads are ingest, trainingSets, labels, materialization`);
    const other = configWith("taskQueues: 'split'");
    expect(((await loadConfig({ cwd: other.dir }).catch((e: unknown) => e)) as ConfigError).message).toBe(
      `${other.dir}/flywheel.config.ts, field "profiles.local.temporal.taskQueues": must be 'per-workload' or an object naming the queues of some of ingest, trainingSets, labels, materialization`,
    );
  });
});
