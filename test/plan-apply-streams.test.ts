import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { compileIngestBatch } from '../core/sql/ingest.ts';
import type { PlanDocument } from '../core/plan/plan.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * `flywheel plan` and `apply` with event streams, through the real CLI on a real DuckDB file: the
 * stream's table and the ledger are created, then only altered (a column added, a type converted
 * with --allow-breaking, a conversion the engine cannot do refused), and a removed stream's table is kept.
 */

let project: TempProject;
const databaseFile = () => join(project.dir, '.flywheel', 'warehouse.duckdb');

function writeStreams(fields: string, options: { view?: boolean; stream?: boolean } = {}): void {
  project.write('definitions/streams.ts', `
import { entity, eventStream, featureView } from 'flywheel';

export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
${options.stream === false ? '' : `export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: ${fields} });`}
${options.view === false || options.stream === false ? '' : "export const lastClick = featureView({ name: 'last_click', entities: [user], source: clicks, features: { item_id: 'int64' } });"}
export const appClicks = eventStream({
  name: 'app_clicks', entities: [user], timestampField: 'ts', retention: '30d', fields: { item_id: 'int64' },
  from: { table: 'raw.app_clicks', watermark: { loadedAtColumn: 'loaded_at' }, lookback: '1h' },
});
`);
}

async function withWarehouse<T>(work: (engine: Awaited<ReturnType<typeof openDuckDBEngine>>) => Promise<T>): Promise<T> {
  const engine = await openDuckDBEngine({ path: databaseFile() });
  try {
    return await work(engine);
  } finally {
    await engine.close();
  }
}

const columnsOf = (table: string) =>
  withWarehouse((engine) => engine.all<{ column_name: string; data_type: string; is_nullable: string }>(sql(
    "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'flywheel' AND table_name = ? ORDER BY ordinal_position", [table],
  )));

const registryVersions = () => withWarehouse(async (engine) => (await engine.all<{ n: number }>(sql('SELECT count(*)::INTEGER AS n FROM flywheel.registry')))[0]!.n);

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `
import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'demo', definitions: './definitions', profiles: { local: localProfile() } });
`,
  });
  writeStreams(`{ item_id: 'int32', page: 'string' }`);
  await withWarehouse(async (engine) => {
    await engine.run(sql('CREATE SCHEMA raw'));
    await engine.run(sql('CREATE TABLE raw.app_clicks (user_id BIGINT, ts TIMESTAMPTZ, item_id BIGINT, loaded_at TIMESTAMPTZ)'));
  });
});

afterAll(() => project?.remove());

describe('flywheel plan / apply with event streams', { timeout: 120_000 }, () => {
  it('plans streams as definitions and creates their tables, the ledger and the views over them', async () => {
    const plan = project.cli('plan');
    expect(plan.stderr).toBe('');
    expect(plan.stdout).toContain(['  + entity user', '  + eventStream app_clicks', '  + eventStream clicks', '  + featureView last_click'].join('\n'));

    const applied = project.cli('apply');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain([
      'Applied:',
      '  schema flywheel (created if missing)',
      '  table flywheel.ingest_ledger (created if missing)',
      '  table flywheel.ingest_quarantine (created if missing)',
      '  table flywheel.stream_app_clicks (created if missing)',
      '  table flywheel.stream_clicks (created if missing)',
      '  view flywheel.fv_last_click (created or replaced)',
    ].join('\n'));
    expect((await columnsOf('stream_clicks')).map((c) => `${c.column_name} ${c.data_type}${c.is_nullable === 'NO' ? ' NOT NULL' : ''}`)).toEqual([
      '_event_id VARCHAR NOT NULL', 'user_id BIGINT NOT NULL', 'ts TIMESTAMP WITH TIME ZONE NOT NULL', 'item_id INTEGER NOT NULL', 'page VARCHAR NOT NULL',
      '_received_at TIMESTAMP WITH TIME ZONE NOT NULL', '_batch VARCHAR NOT NULL',
    ]);
    expect((await columnsOf('ingest_ledger')).map((c) => c.column_name)).toEqual(['stream', 'batch', 'rows', 'loaded_at', 'watermark']);
    expect((await columnsOf('ingest_quarantine')).map((c) => c.column_name)).toEqual(['stream', 'batch', 'event_index', 'event_id', 'event', 'error', 'quarantined_at']);
    const latest = await withWarehouse((engine) => new WarehouseRegistry(engine).latest('demo'));
    expect(Object.keys(latest!.spec.eventStreams)).toEqual(['app_clicks', 'clicks']);
    // Plan also names the ingest sweep that `flywheel serve` starts for a project with streams.
    expect(project.cli('plan').stdout).toBe(`No changes. The registry (version 1) matches the definitions.\n\nStarted by \`flywheel serve\` (not by apply):\n  ingest sweep demo/ingest/sweep: every 10m, one long-lived workflow; loads the closed segments whose ingestion did not start as they closed, and \`from\` tables by watermark\n  retention of app_clicks, clicks: every 1d from the sweep (streams without a retentionSchedule)\n`);
  });

  it('serves ingested events through the views over the stream', async () => {
    const latest = await withWarehouse((engine) => new WarehouseRegistry(engine).latest('demo'));
    await withWarehouse(async (engine) => {
      await engine.run(sql(`CREATE TEMP TABLE staged AS SELECT 'e1' AS _event_id, 1::BIGINT AS user_id, TIMESTAMPTZ '2024-05-01 10:00:00+00' AS ts, 7 AS item_id, 'home' AS page, TIMESTAMPTZ '2024-05-01 10:00:01+00' AS _received_at`));
      await engine.transaction(async (tx) => {
        for (const statement of compileIngestBatch(latest!.spec.eventStreams.clicks!, { batch: 'seg-1', stagingRelation: { kind: 'table', name: 'staged' } }, engine.dialect)) await tx.run(statement);
      });
      expect(await engine.all(sql('SELECT * FROM flywheel.fv_last_click'))).toEqual([{ user_id: 1, ts: '2024-05-01T10:00:00.000Z', item_id: 7 }]);
    });
  });

  it('adds a field as a nullable column and drops NOT NULL from a field made nullable, compatibly', async () => {
    writeStreams(`{ item_id: 'int32', page: { type: 'string', nullable: true }, referrer: 'string' }`);
    const document = JSON.parse(project.cli('plan', '--json').stdout) as PlanDocument & { ingestSweep?: unknown };
    expect(document.summary).toEqual({ add: 0, change: 1, remove: 0, breaking: 0 });
    expect(document.ingestSweep).toEqual({ workflowId: 'demo/ingest/sweep', everySeconds: 600, retention: { streams: ['app_clicks', 'clicks'], everySeconds: 86_400 }, startedBy: 'flywheel serve' });
    const applied = project.cli('apply');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain([
      '  table flywheel.stream_clicks (created if missing)',
      '  table flywheel.stream_clicks: column page (may now be null)',
      '  table flywheel.stream_clicks: column referrer string (added, nullable)',
    ].join('\n'));
    const columns = await columnsOf('stream_clicks');
    expect(columns.filter((c) => c.column_name === 'page' || c.column_name === 'referrer')).toEqual([
      { column_name: 'page', data_type: 'VARCHAR', is_nullable: 'YES' },
      { column_name: 'referrer', data_type: 'VARCHAR', is_nullable: 'YES' },
    ]);
    expect(await withWarehouse((engine) => engine.all(sql('SELECT _event_id, referrer FROM flywheel.stream_clicks')))).toEqual([{ _event_id: 'e1', referrer: null }]);
  });

  it('refuses a type change without --allow-breaking, then converts the stored column with it', async () => {
    writeStreams(`{ item_id: 'int64', page: { type: 'string', nullable: true }, referrer: 'string' }`);
    const refused = project.cli('apply');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe([
      'error: Refusing to apply 1 breaking change (pass --allow-breaking to apply anyway):',
      '  - event stream "clicks": field "item_id" changes type int32 → int64; apply --allow-breaking converts the stored column if the warehouse can (to a wider type, or to string), and stops otherwise',
      '',
    ].join('\n'));
    expect(await registryVersions()).toBe(2);

    const applied = project.cli('apply', '--allow-breaking');
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain('  table flywheel.stream_clicks: column item_id int32 → int64 (converted)');
    expect((await columnsOf('stream_clicks')).find((c) => c.column_name === 'item_id')?.data_type).toBe('BIGINT');
    expect(await withWarehouse((engine) => engine.all(sql('SELECT item_id FROM flywheel.stream_clicks')))).toEqual([{ item_id: 7 }]);
  });

  it('refuses, even with --allow-breaking, a conversion the warehouse cannot do', async () => {
    writeStreams(`{ item_id: 'int64', page: { type: 'int64', nullable: true }, referrer: 'string' }`);
    const refused = project.cli('apply', '--allow-breaking');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe([
      'error: Cannot apply a change to event stream tables, even with --allow-breaking:',
      '  - table flywheel.stream_clicks, column "page": duckdb cannot convert the stored string values to int64; declare the field under a new name instead (the old column and its values are kept), or convert the table by hand',
      '',
    ].join('\n'));
    expect(await registryVersions()).toBe(3);
    writeStreams(`{ item_id: 'int64', page: { type: 'string', nullable: true }, referrer: 'string' }`);
  });

  it('reports a `from` table the warehouse lacks columns of', () => {
    project.write('definitions/more.ts', `
import { eventStream } from 'flywheel';
import { user } from './streams.ts';
export const moreClicks = eventStream({ name: 'more_clicks', entities: [user], timestampField: 'ts', retention: '1d', fields: { page: 'string' },
  from: { table: 'raw.app_clicks', watermark: 'event_time', lookback: '1h' } });
`);
    const { code, stderr } = project.cli('plan');
    expect(code).toBe(1);
    expect(stderr.split('\n')).toEqual([
      'error: The warehouse does not match the definitions (2 problems):',
      '  - event stream "more_clicks", column "page": no such column in table "raw.app_clicks" (its columns are user_id, ts, item_id, loaded_at)',
      '  - event stream "more_clicks", column "event_time": no such column in table "raw.app_clicks" (its columns are user_id, ts, item_id, loaded_at)',
      '',
    ]);
    project.write('definitions/more.ts', 'export {};\n');
  });

  it('keeps the table of a removed stream, with its events, and says so', async () => {
    writeStreams('', { stream: false });
    const plan = project.cli('plan');
    expect(plan.stdout).toContain([
      '! - eventStream clicks',
      '      breaking: event stream "clicks" is removed; apply keeps its table flywheel.stream_clicks and the events in it (drop the table by hand to delete them)',
      '  - featureView last_click',
    ].join('\n'));
    const applied = project.cli('apply', '--allow-breaking');
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain('  table flywheel.stream_clicks (kept: event stream "clicks" was removed; drop the table by hand to delete its events)');
    expect(await withWarehouse((engine) => engine.all(sql('SELECT count(*)::INTEGER AS n FROM flywheel.stream_clicks')))).toEqual([{ n: 1 }]);
    expect(project.cli('apply').stdout).toBe('No changes. Registry version 4 is current.\n');
  });
});
