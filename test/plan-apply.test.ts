import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { sql } from '../core/sql/compiled-query.ts';
import type { PlanDocument } from '../core/plan/plan.ts';

/**
 * Runs the real CLI (`node bin/flywheel.js`) as a child process against a temp project with a real
 * DuckDB file. The project imports from 'flywheel' as an installed project would: its node_modules
 * links to this repository, which resolves through package.json "exports" to index.ts.
 */

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
let projectDir: string;
let configFile: string;
let databaseFile: string;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const { FLYWHEEL_PROFILE: _profile, ...env } = process.env;
  const result = spawnSync(process.execPath, [join(repoRoot, 'bin/flywheel.js'), '--config', configFile, ...args], {
    cwd: projectDir, encoding: 'utf8', timeout: 60_000, env: { ...env, FLYWHEEL_APPLIED_BY: 'plan-apply-test' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function planJson(...args: string[]): PlanDocument {
  const { code, stdout, stderr } = cli('plan', '--json', ...args);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(stdout) as PlanDocument;
}

function writeDefinitions(features: string, extra = ''): void {
  writeFileSync(join(projectDir, 'definitions', 'features.ts'), `
import { entity, featureService, featureView, source } from 'flywheel';

export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const txns = source({
  name: 'txns', table: 'raw.transactions', timestampField: 'ts',
  columns: { user_id: 'int64', amount: 'float32', country: 'string', ts: 'timestamp' },
});
export const userSpend = featureView({ name: 'user_spend', entities: [user], source: txns, ttl: '7d', features: ${features} });
export const fraud = featureService({ name: 'fraud', features: [userSpend] });
${extra}
`);
}

async function withWarehouse<T>(work: (engine: Awaited<ReturnType<typeof openDuckDBEngine>>) => Promise<T>): Promise<T> {
  const engine = await openDuckDBEngine({ path: databaseFile });
  try {
    return await work(engine);
  } finally {
    await engine.close();
  }
}

const registryVersions = () =>
  withWarehouse(async (engine) => (await engine.all<{ n: number }>(sql('SELECT count(*)::INTEGER AS n FROM flywheel.registry')))[0]!.n);

const noStackTrace = (stderr: string) => expect(stderr).not.toMatch(/^\s+at /m);

beforeAll(async () => {
  projectDir = mkdtempSync(join(tmpdir(), 'flywheel-plan-apply-'));
  configFile = join(projectDir, 'flywheel.config.ts');
  databaseFile = join(projectDir, '.flywheel', 'warehouse.duckdb');
  mkdirSync(join(projectDir, 'definitions'));
  mkdirSync(join(projectDir, 'node_modules'));
  symlinkSync(repoRoot, join(projectDir, 'node_modules', 'flywheel'), 'dir');
  writeFileSync(join(projectDir, 'package.json'), JSON.stringify({ name: 'demo', private: true, type: 'module' }));
  writeFileSync(configFile, `
import { defineConfig, localProfile } from 'flywheel';

export default defineConfig({ project: 'demo', definitions: './definitions', profiles: { local: localProfile() } });
`);
  writeDefinitions(`{ amount: 'float32' }`);
  await withWarehouse(async (engine) => {
    await engine.run(sql('CREATE SCHEMA raw'));
    await engine.run(sql(`CREATE TABLE raw.transactions AS SELECT * FROM (VALUES
      (1::BIGINT, 10.5::FLOAT, 'DE', TIMESTAMP '2024-01-01 10:00:00'),
      (2::BIGINT, 3.25::FLOAT, 'FR', TIMESTAMP '2024-01-02 11:30:00')) AS t(user_id, amount, country, ts)`));
  });
});

afterAll(() => {
  if (projectDir) rmSync(projectDir, { recursive: true, force: true });
});

describe('flywheel plan / apply', { timeout: 120_000 }, () => {
  it('plans every object as an add against an empty registry', () => {
    const document = planJson();
    expect(document).toMatchObject({ format: 'flywheel.plan/v1', project: 'demo', applied: null, hasChanges: true, summary: { add: 4, change: 0, remove: 0, breaking: 0 } });
    expect(document.changes.map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual(['add entity user', 'add source txns', 'add featureView user_spend', 'add featureService fraud']);

    const text = cli('plan');
    expect(text.code).toBe(0);
    expect(text.stdout).toBe([
      'Plan for project "demo" against an empty registry (nothing applied yet).',
      '',
      '  + entity user',
      '  + source txns',
      '  + featureView user_spend',
      '  + featureService fraud',
      '',
      'Plan: 4 to add, 0 to change, 0 to remove.',
      '',
    ].join('\n'));
    expect(cli('plan', '--detailed-exitcode').code).toBe(2);
  });

  it('applies: creates the views and registry version 1', async () => {
    const { code, stdout, stderr } = cli('apply');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain([
      'Applied:',
      '  schema flywheel (created if missing)',
      '  view flywheel.src_txns (created or replaced)',
      '  view flywheel.fv_user_spend (created or replaced)',
    ].join('\n'));
    expect(stdout).toMatch(/Registry version 1 saved \(hash [0-9a-f]{12}\)\./);

    const latest = await withWarehouse((engine) => new WarehouseRegistry(engine).latest('demo'));
    expect(latest).toMatchObject({ version: 1, project: 'demo', appliedBy: 'plan-apply-test' });
    expect(Object.keys(latest!.spec.featureViews)).toEqual(['user_spend']);
    expect(latest!.hash).toBe(planJson().desiredHash);
  });

  it('makes the feature view view return typed rows', async () => {
    await withWarehouse(async (engine) => {
      const columns = await engine.describe(sql('SELECT * FROM flywheel.fv_user_spend'));
      expect(columns.map((c) => [c.name, c.engineType])).toEqual([['user_id', 'BIGINT'], ['ts', 'TIMESTAMP WITH TIME ZONE'], ['amount', 'FLOAT']]);
      const rows = await engine.all(sql('SELECT * FROM flywheel.fv_user_spend ORDER BY user_id'));
      expect(rows).toEqual([
        { user_id: 1, ts: '2024-01-01T10:00:00.000Z', amount: 10.5 },
        { user_id: 2, ts: '2024-01-02T11:30:00.000Z', amount: 3.25 },
      ]);
    });
  });

  it('does nothing when nothing changed', async () => {
    const { code, stdout } = cli('apply');
    expect(code).toBe(0);
    expect(stdout).toBe('No changes. Registry version 1 is current.\n');
    expect(cli('plan').stdout).toBe('No changes. The registry (version 1) matches the definitions.\n');
    expect(cli('plan', '--detailed-exitcode').code).toBe(0);
    expect(planJson()).toMatchObject({ applied: { version: 1 }, hasChanges: false, changes: [] });
    expect(await registryVersions()).toBe(1);
  });

  it('shows field-level changes of an edited definition, marking the breaking ones', () => {
    writeDefinitions(`{ amount: 'float64', country: 'string' }`);
    const document = planJson();
    expect(document.summary).toEqual({ add: 0, change: 2, remove: 0, breaking: 1 });
    expect(document.changes).toEqual([
      {
        action: 'change', kind: 'featureView', name: 'user_spend', breaking: true,
        reasons: ['feature view "user_spend": feature "amount" changes type float32 → float64; readers and stored values of the old type break'],
        fields: [
          { path: 'features.amount.type', before: 'float32', after: 'float64', breaking: true },
          { path: 'features.country', after: { name: 'country', type: 'string' }, breaking: false },
        ],
      },
      {
        action: 'change', kind: 'featureService', name: 'fraud', breaking: false, reasons: [],
        fields: [{ path: 'features.user_spend.features.country', after: 'country', breaking: false }],
      },
    ]);
    expect(cli('plan').stdout).toContain([
      '! ~ featureView user_spend',
      '    ! ~ features.amount.type: float32 → float64',
      '      + features.country: string',
      '      breaking: feature view "user_spend": feature "amount" changes type float32 → float64; readers and stored values of the old type break',
      '  ~ featureService fraud',
      '      + features.user_spend.features.country',
      '',
      'Plan: 0 to add, 2 to change, 0 to remove (1 breaking).',
    ].join('\n'));
  });

  it('shows durations as durations, not seconds', () => {
    const file = join(projectDir, 'definitions', 'features.ts');
    const original = readFileSync(file, 'utf8');
    try {
      writeFileSync(file, original.replace("ttl: '7d'", "ttl: '36h'"));
      expect(cli('plan').stdout.split('\n')).toContain('      ~ ttl: 7d → 36h');
      expect(planJson().changes[0]!.fields).toContainEqual({ path: 'ttlSeconds', before: 604_800, after: 129_600, breaking: false });
    } finally {
      writeFileSync(file, original);
    }
  });

  it('refuses breaking changes without --allow-breaking, then applies them with it', async () => {
    const refused = cli('apply');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe([
      'error: Refusing to apply 1 breaking change (pass --allow-breaking to apply anyway):',
      '  - feature view "user_spend": feature "amount" changes type float32 → float64; readers and stored values of the old type break',
      '',
    ].join('\n'));
    expect(await registryVersions()).toBe(1);

    const applied = cli('apply', '--allow-breaking', '--json');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout)).toMatchObject({
      applied: { version: 1 }, summary: { change: 2, breaking: 1 },
      result: { version: 2, objects: [{ action: 'createSchema', name: 'flywheel' }, { action: 'createView', name: 'flywheel.src_txns' }, { action: 'createView', name: 'flywheel.fv_user_spend' }] },
    });
    await withWarehouse(async (engine) => {
      expect(await engine.all(sql('SELECT * FROM flywheel.fv_user_spend ORDER BY user_id LIMIT 1'))).toEqual([{ user_id: 1, ts: '2024-01-01T10:00:00.000Z', amount: 10.5, country: 'DE' }]);
      expect((await engine.describe(sql('SELECT amount FROM flywheel.fv_user_spend')))[0]?.engineType).toBe('DOUBLE');
    });
    expect(await registryVersions()).toBe(2);
  });

  it('leaves no new version when the DDL fails', async () => {
    writeDefinitions(`{ amount: 'float64', country: 'string' }`, `
export const broken = featureView({ name: 'broken', entities: [user], source: txns, features: { n: 'int64' },
  transformation: 'SELECT user_id, ts, no_such_column AS n FROM {{source}}' });
`);
    const { code, stderr } = cli('apply');
    expect(code).toBe(1);
    expect(stderr).toContain('no_such_column');
    noStackTrace(stderr);
    expect(await registryVersions()).toBe(2);
    await withWarehouse(async (engine) => {
      const views = await engine.all(sql("SELECT view_name FROM duckdb_views() WHERE schema_name = 'flywheel' ORDER BY view_name"));
      expect(views).toEqual([{ view_name: 'fv_user_spend' }, { view_name: 'src_txns' }]);
    });
    writeDefinitions(`{ amount: 'float64', country: 'string' }`);
  });

  it('reports columns the warehouse lacks or types it holds differently, one line each', () => {
    writeFileSync(join(projectDir, 'definitions', 'more.ts'), `
import { source } from 'flywheel';
export const labels = source({ name: 'labels', table: 'raw.transactions', timestampField: 'ts',
  columns: { user_id: 'string', ts: 'timestamp', is_fraud: 'bool' } });
export const missing = source({ name: 'missing', table: 'raw.nope', timestampField: 'ts', columns: { ts: 'timestamp' } });
`);
    const { code, stdout, stderr } = cli('plan');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.split('\n')).toEqual([
      'error: The warehouse does not match the definitions (3 problems):',
      '  - source "labels", column "user_id": declared string but the warehouse column is BIGINT',
      '  - source "labels", column "is_fraud": no such column in table "raw.transactions" (its columns are user_id, amount, country, ts)',
      expect.stringMatching(/^ {2}- source "missing": cannot read table "raw.nope" in the warehouse: .*Table with name nope does not exist/),
      '',
    ]);
    noStackTrace(stderr);
    rmSync(join(projectDir, 'definitions', 'more.ts'));
  });

  it('reports an invalid definition without touching the warehouse', async () => {
    writeDefinitions(`{ amount: 'float64', countri: 'string' }`);
    const { code, stderr } = cli('apply', '--allow-breaking');
    expect(code).toBe(1);
    expect(stderr).toBe([
      'error: Invalid definition:',
      '  - definitions/features.ts, featureView "user_spend", field "features.countri": "countri" is an unknown column (did you mean "country"?) in source "txns"',
      '',
    ].join('\n'));
    expect(await registryVersions()).toBe(2);
  });
});
