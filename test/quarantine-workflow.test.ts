import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { startLogServer, streamSchemasOf, TokenTable } from '../server/index.ts';
import { encodeRecords } from '../connectors/log-store/segment-log/index.ts';
import { readQuarantineCounts } from '../connectors/log-store/quarantine-counts.ts';
import { ingestStream } from '../workflows/ingest.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';
import type { SealedSegmentRef } from '../connectors/log-store/index.ts';
import { putSealedSegment } from './support/sealed-segments.ts';

/**
 * The quarantine end to end (docs/collect.md, "Quarantine"), on the shared Temporal dev server, a
 * DuckDB file, real segment files and the real CLI: the ingest workflow loads a stream past the
 * events the warehouse refuses, `flywheel streams quarantine` lists them (text and JSON), `flywheel
 * status` and the log server's `/metrics` count them, and `--replay` after a fix loads them once.
 */

const PROJECT = 'quarantine_e2e';
const taskQueue = testTaskQueue();
let project: TempProject;
let stateDir: string;
let warehouse: string;
let client: Client;

function deps(): ActivityDeps {
  const scratchDir = join(stateDir, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return { project: PROJECT, openEngine: () => openDuckDBEngine({ path: warehouse }), registry: (e) => new WarehouseRegistry(e), objectStore: new LocalObjectStore(join(stateDir, 'objects')), scratchDir, stateDir };
}
const withWorker = <T>(fn: () => Promise<T>) => runWorker({ taskQueue, activities: createActivities(deps()) }, fn);

const click = (id: string, overrides: Record<string, unknown> = {}) => JSON.stringify({
  user_id: 1, ts: '2024-05-01T10:00:00Z', item_id: 7, page: 'home', _event_id: id, _received_at: '2024-05-01T10:00:01.000Z', ...overrides,
});
const notANumber = click('b', { item_id: 'abc' });
const nullPage = click('c', { page: null });

/** A sealed segment as a log API node uploads it to the object store. */
function writeSegment(segmentId: string, lines: readonly string[]): Promise<SealedSegmentRef> {
  return putSealedSegment(deps().objectStore, { stream: 'clicks', segmentId }, encodeRecords(lines));
}

async function query(text: string) {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return await engine.all({ sql: text, parameters: [] });
  } finally {
    await engine.close();
  }
}

/** Runs the CLI and expects it to succeed, with nothing on stderr but the line naming a started workflow. */
async function cli(...args: string[]): Promise<string> {
  const result = await project.cliAsync(...args);
  expect(result.stderr.replace(/^Started .*\n/m, '')).toBe('');
  expect(result.code).toBe(0);
  return result.stdout;
}

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    'definitions/streams.ts': `
import { entity, eventStream } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { item_id: 'int64', page: 'string' } });
`,
  });
  stateDir = join(project.dir, '.flywheel');
  warehouse = join(stateDir, 'warehouse.duckdb');
  await cli('apply');
  client = await connectClient();
});

afterAll(async () => {
  await client?.connection.close();
  project?.remove();
});

describe('the ingest quarantine, end to end', { timeout: 180_000 }, () => {
  it('ingests a stream past refused events, lists and counts them, and replays them once after a fix', async () => {
    await writeSegment('seg-0001', [click('a'), notANumber, nullPage, click('d')]);
    await writeSegment('seg-0002', [click('e')]);
    const result = await withWorker(() => client.workflow.execute(ingestStream, { taskQueue, workflowId: `ingest-${taskQueue}`, args: [{ project: PROJECT, stream: 'clicks' }] }));
    expect(result).toEqual({ stream: 'clicks', from: 'segments', segments: 2, rows: 3, quarantined: 2 });
    // Both segments were loaded and deleted from the object store: the refused events do not hold the stream up.
    expect(await deps().objectStore.list('_log/')).toEqual([]);
    expect(await query('SELECT _event_id, _batch FROM flywheel.stream_clicks ORDER BY _event_id')).toEqual([
      { _event_id: 'a', _batch: 'node-1/seg-0001' }, { _event_id: 'd', _batch: 'node-1/seg-0001' }, { _event_id: 'e', _batch: 'node-1/seg-0002' },
    ]);

    const [first, second] = await query('SELECT quarantined_at FROM flywheel.ingest_quarantine ORDER BY event_index') as { quarantined_at: string }[];
    const castError = 'Invalid Input Error: JSON transform error in file "node-1/seg-0001.seg", in line 1: Failed to cast value to numerical: "abc"';
    const notNullError = 'Constraint Error: NOT NULL constraint failed: stream_clicks.page';
    expect(await cli('streams', 'quarantine', 'clicks')).toBe([
      'Stream "clicks": 2 events in quarantine.',
      '',
      `node-1/seg-0001 event 1 (id b), quarantined ${first!.quarantined_at}`,
      `  error: ${castError}`,
      `  event: ${notANumber}`,
      '',
      `node-1/seg-0001 event 2 (id c), quarantined ${second!.quarantined_at}`,
      `  error: ${notNullError}`,
      `  event: ${nullPage}`,
      '',
      'After a fix, load them again with: flywheel streams quarantine clicks --replay',
      '',
    ].join('\n'));
    expect(JSON.parse(await cli('streams', 'quarantine', 'clicks', '--json'))).toEqual({
      format: 'flywheel.quarantine/v1', project: PROJECT, stream: 'clicks',
      events: [
        { batch: 'node-1/seg-0001', eventIndex: 1, eventId: 'b', error: castError, quarantinedAt: first!.quarantined_at, event: notANumber },
        { batch: 'node-1/seg-0001', eventIndex: 2, eventId: 'c', error: notNullError, quarantinedAt: second!.quarantined_at, event: nullPage },
      ],
    });

    // Counted by status and by the log server's /metrics, which reads what ingestion recorded in the object
    // store: a node with a state folder of its own (another machine's) reports the same count.
    expect(await cli('status')).toMatch(/\nEvents in quarantine, refused by the warehouse \(flywheel streams quarantine <stream>\):\n {2}clicks {2}2\n$/);
    expect(JSON.parse(await cli('status', '--json')).streams).toEqual([{ stream: 'clicks', quarantined: 2 }]);
    const spec = (await (async () => {
      const engine = await openDuckDBEngine({ path: warehouse });
      try {
        return (await new WarehouseRegistry(engine).latest(PROJECT))!.spec;
      } finally {
        await engine.close();
      }
    })());
    const nodeStateDir = mkdtempSync(join(tmpdir(), 'flywheel-quarantine-node-'));
    const server = await startLogServer({ stateDir: nodeStateDir, streams: streamSchemasOf(spec), tokens: TokenTable.parse('tok=write:*'), port: 0, quarantineCounts: () => readQuarantineCounts(deps().objectStore), log: () => undefined });
    try {
      expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^flywheel_ingest_quarantined_events\{stream="clicks"\} 2$/m);
    } finally {
      await server.close();
    }

    // The fix for one of them: a page may be missing. The replay loads c once and keeps b.
    await query('ALTER TABLE flywheel.stream_clicks ALTER COLUMN page DROP NOT NULL');
    const replayed = await withWorker(() => project.cliAsync('streams', 'quarantine', 'clicks', '--replay'));
    expect(replayed).toEqual({
      code: 0, stdout: 'Replayed 2 quarantined events of stream "clicks": 1 loaded, 0 already stored, 1 still refused.\n',
      stderr: `Started ${PROJECT}/ingest/clicks/quarantine-replay on task queue ${taskQueue}\n`,
    });
    expect(await query("SELECT _event_id, page, starts_with(_batch, 'replay:') AS replayed FROM flywheel.stream_clicks WHERE _event_id = 'c'")).toEqual([{ _event_id: 'c', page: null, replayed: true }]);
    expect(await query('SELECT batch, event_index, event_id FROM flywheel.ingest_quarantine')).toEqual([{ batch: 'node-1/seg-0001', event_index: 1, event_id: 'b' }]);
    expect(JSON.parse(await cli('status', '--json')).streams).toEqual([{ stream: 'clicks', quarantined: 1 }]);

    // Replayed again with nothing fixed: nothing is stored twice.
    const again = JSON.parse(await withWorker(() => cli('streams', 'quarantine', 'clicks', '--replay', '--json')));
    expect(again).toMatchObject({ stream: 'clicks', events: 1, loaded: 0, alreadyStored: 0, refused: 1, alreadyReplayed: false });
    expect(await query('SELECT count(*)::INTEGER AS n FROM flywheel.stream_clicks')).toEqual([{ n: 4 }]);
    const server2 = await startLogServer({ stateDir: nodeStateDir, streams: streamSchemasOf(spec), tokens: TokenTable.parse('tok=write:*'), port: 0, quarantineCounts: () => readQuarantineCounts(deps().objectStore), log: () => undefined });
    try {
      expect(await (await fetch(`${server2.url}/metrics`)).text()).toMatch(/^flywheel_ingest_quarantined_events\{stream="clicks"\} 1$/m);
    } finally {
      await server2.close();
      rmSync(nodeStateDir, { recursive: true, force: true });
    }
  });

  it("says how many events it quarantined in the loop's summary", async () => {
    await writeSegment('seg-0003', [click('h'), click('i', { item_id: 'many' })]);
    // The loop draws its progress on stderr.
    const result = await withWorker(() => project.cliAsync('loop', 'run', '--only', 'ingest', '--json'));
    expect(result.code).toBe(0);
    const run = JSON.parse(result.stdout) as { stages: { id: string; status: string; summary?: string }[] };
    expect(run.stages.map((stage) => [stage.id, stage.status, stage.summary])).toEqual([['ingest:clicks', 'succeeded', '1 segment loaded, 1 row, 1 event quarantined']]);
    expect(JSON.parse(await cli('status', '--json')).streams).toEqual([{ stream: 'clicks', quarantined: 2 }]);
  });

  it('shows no events in quarantine for a warehouse applied before the quarantine existed', async () => {
    await query('DROP TABLE flywheel.ingest_quarantine');
    expect(JSON.parse(await cli('status', '--json')).streams).toEqual([{ stream: 'clicks', quarantined: 0 }]);
    expect(await cli('streams', 'quarantine', 'clicks')).toBe('Stream "clicks": no events in quarantine.\n');
  });

  it('names an unknown stream', async () => {
    const result = await project.cliAsync('streams', 'quarantine', 'nope');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('event stream "nope" not found. Applied streams: clicks');
  });
});
