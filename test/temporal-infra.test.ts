import { setTimeout as sleep } from 'node:timers/promises';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INDEXED_VALUE_TYPES } from '../worker/search-attributes-registration.ts';
import { FLYWHEEL_SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';
import { connectClient, runWorker, temporalNamespace, testTaskQueue } from './setup/temporal.ts';

/**
 * The test infrastructure itself: the shared server started by global-setup.ts is a real Temporal
 * server (Schedules work, which the time-skipping test server lacks), it knows Flywheel's search
 * attributes, and a Worker of the bundled workflows can poll it.
 */

let client: Client;
const namespace = temporalNamespace();
const taskQueue = testTaskQueue();

beforeAll(async () => {
  client = await connectClient();
});

afterAll(async () => {
  await client?.connection.close();
});

describe('shared Temporal dev server', () => {
  it('answers and has the namespace', async () => {
    const info = await client.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBeTruthy();
    const ns = await client.workflowService.describeNamespace({ namespace });
    expect(ns.namespaceInfo?.name).toBe(namespace);
  });

  it('has the Flywheel search attributes registered with their types', async () => {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
    for (const key of FLYWHEEL_SEARCH_ATTRIBUTES) {
      expect(customAttributes?.[key.name], key.name).toBe(INDEXED_VALUE_TYPES[key.type]);
    }
  });

  it('creates, describes and deletes a Schedule', async () => {
    const scheduleId = `${taskQueue}-schedule`;
    const handle = await client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '1h' }] },
      // Paused: it must never fire; the workflow type need not exist.
      action: { type: 'startWorkflow', workflowType: 'neverRuns', taskQueue, args: [] },
      state: { paused: true, note: 'temporal-infra test' },
    });
    try {
      const description = await handle.describe();
      expect(description.scheduleId).toBe(scheduleId);
      expect(description.state.paused).toBe(true);
      expect(description.spec.intervals?.[0]?.every).toBe(3_600_000);
    } finally {
      await handle.delete();
    }
    await expect(client.schedule.getHandle(scheduleId).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
  });

  it('runs a Worker of the bundled workflows on this file\'s task queue', async () => {
    // One activity so the worker polls both queues (and does not warn that it has none).
    const activities = { ping: async () => 'pong' };
    const pollers = await runWorker({ taskQueue, activities }, async () => {
      // The worker polls as soon as it runs; the server may take a moment to list the poller.
      for (let i = 0; i < 40; i++) {
        const queue = await client.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue }, taskQueueType: 1 /* WORKFLOW */ });
        if ((queue.pollers?.length ?? 0) > 0) return queue.pollers!.length;
        await sleep(250);
      }
      return 0;
    });
    expect(pollers).toBeGreaterThan(0);
  });
});
