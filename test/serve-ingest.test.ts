import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { ingestScheduleId, ingestSweepWorkflowId } from '../cli/serve/ingestion-starter.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, REPO_ROOT, type TempProject } from './support/temp-project.ts';

/**
 * The collect path end to end: events POSTed to `flywheel serve` are acknowledged after fsync, the
 * closed segment starts its ingestion workflow on the real Temporal dev server, and the rows land in
 * the stream's DuckDB table exactly once.
 */

const taskQueue = testTaskQueue();
let project: TempProject | undefined;
afterAll(() => project?.remove());

describe('flywheel serve with ingestion', () => {
  it('gets every accepted event into the warehouse table once, and starts the safety net as one long-lived sweep', async () => {
    project = createTempProject({
      'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'serve_ingest', definitions: './definitions', profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
      'definitions/clicks.ts': `import { entity, eventStream } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', eventIdField: 'click_id',
  fields: { click_id: 'string', page: 'string' }, retention: '90d' });
`,
    });
    expect(project.cli('apply').code).toBe(0);
    const stateDir = join(project.dir, '.flywheel');
    const warehouse = join(stateDir, 'warehouse.duckdb');
    mkdirSync(join(stateDir, 'scratch'), { recursive: true });

    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), 'serve', '--port', '0', '--segment-age', '1s'], { cwd: project.dir, env: { ...process.env, FLYWHEEL_TOKENS: 'tok=write:clicks' } });
    let stderr = '';
    const url = new Promise<string>((resolve) => child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /on (http:\/\/\S+?):? POST/.exec(stderr);
      if (match) resolve(match[1]!);
    }));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const count = async () => {
      const engine = await openDuckDBEngine({ path: warehouse });
      try {
        return await engine.all<{ click_id: string; page: string }>({ sql: 'SELECT click_id, page FROM flywheel.stream_clicks ORDER BY click_id', parameters: [] });
      } finally {
        await engine.close();
      }
    };
    try {
      const base = await url;
      const post = (events: unknown[]) => fetch(`${base}/v1/streams/clicks/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' }, body: JSON.stringify(events) });
      expect((await post([{ user_id: 1, ts: '2026-11-26T10:00:00Z', click_id: 'k1', page: '/' }, { user_id: 2, ts: '2026-11-26T10:00:01Z', click_id: 'k2', page: '/cart' }])).status).toBe(200);
      expect((await post([{ user_id: 1, ts: '2026-11-26T10:00:00Z', click_id: 'k1', page: '/' }])).status).toBe(200); // sent twice: stored once

      const deps = { project: 'serve_ingest', openEngine: () => openDuckDBEngine({ path: warehouse }), registry: (e: never) => new WarehouseRegistry(e), objectStore: new LocalObjectStore(join(stateDir, 'objects')), scratchDir: join(stateDir, 'scratch'), stateDir };
      const rows = await runWorker({ taskQueue, activities: createActivities(deps as never) }, async () => {
        for (let i = 0; i < 100; i++) {
          const found = await count().catch(() => []);
          if (found.length >= 2) return found;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        return count();
      });
      expect(rows).toEqual([{ click_id: 'k1', page: '/' }, { click_id: 'k2', page: '/cart' }]);

      const client = await connectClient();
      try {
        const sweep = await client.workflow.getHandle(ingestSweepWorkflowId('serve_ingest')).describe();
        expect({ type: sweep.type, status: sweep.status.name, taskQueue: sweep.taskQueue }).toEqual({ type: 'ingestSweep', status: 'RUNNING', taskQueue });
        // No every-minute schedule any more: the workflow list holds the sweep and the segments' own runs only.
        await expect(client.schedule.getHandle(ingestScheduleId('serve_ingest')).describe()).rejects.toThrow();
        const runs: string[] = [];
        for await (const run of client.workflow.list({ query: `FlywheelProject = 'serve_ingest'` })) runs.push(run.workflowId);
        expect(runs.filter((id) => !id.startsWith('serve_ingest/ingest/clicks/'))).toEqual([ingestSweepWorkflowId('serve_ingest')]);
        await client.workflow.getHandle(ingestSweepWorkflowId('serve_ingest')).terminate('test over');
      } finally {
        await client.connection.close();
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
