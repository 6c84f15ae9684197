import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

// plan checks definitions against the warehouse before anything is applied: source columns, and
// what each feature view's transformation really returns.
let project: TempProject;

const definitions = (transformation: string) => `
import { entity, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const txns = source({ name: 'txns', table: 'txns', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
export const daily = featureView({ name: 'daily', entities: [user], source: txns, ttl: '2d',
  transformation: \`${transformation}\`,
  features: { total: 'float64', n: 'int64' } });
`;

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: 'checks', definitions: './definitions', profiles: { local: localProfile() } });\n`,
  });
  const engine = await openDuckDBEngine({ path: join(project.dir, '.flywheel', 'warehouse.duckdb') });
  await engine.run({ sql: `CREATE TABLE txns (user_id BIGINT, ts TIMESTAMPTZ, amount DOUBLE); INSERT INTO txns VALUES (1, '2024-01-01 10:00:00+00', 5.0)`, parameters: [] });
  await engine.close();
});

afterAll(() => project?.remove());

describe('plan against the warehouse', () => {
  it('accepts a transformation that returns the keys, the timestamp and every feature', () => {
    project.write('definitions/defs.ts', definitions(`SELECT user_id, date_trunc('day', ts) + INTERVAL 1 DAY AS ts, sum(amount) AS total, count(*) AS n FROM {{source}} GROUP BY ALL`));
    const result = project.cli('plan', '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('names the feature view and column when a transformation returns the wrong columns', () => {
    project.write('definitions/defs.ts', definitions(`SELECT user_id, ts, 'x' AS total FROM {{source}}`));
    const result = project.cli('plan');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: The warehouse does not match the definitions (2 problems):\n' +
        '  - feature view "daily", column "total": declared float64 but the warehouse column is VARCHAR\n' +
        '  - feature view "daily", column "n": no such column in the output of the transformation (its columns are user_id, ts, total)\n',
    );
  });

  it('says when a transformation does not run', () => {
    project.write('definitions/defs.ts', definitions(`SELECT user_id, ts, amont AS total, 1 AS n FROM {{source}}`));
    const result = project.cli('plan');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: The warehouse does not match a definition:\n {2}- feature view "daily": its transformation does not run in the warehouse: .*amont/);
  });
});

describe('a source\'s unique promise, checked on a sample', () => {
  const keyedDefinitions = (parquet: string) => `
import { source } from 'flywheel';
export const spend = source({ name: 'spend', parquet: '${parquet}', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' }, unique: ['user_id', 'ts'] });
`;
  beforeAll(async () => {
    const engine = await openDuckDBEngine({ path: join(project.dir, '.flywheel', 'warehouse.duckdb') });
    // Same time for two users (no tie), then the same user twice at one time (a tie).
    const rows = `(1, TIMESTAMPTZ '2024-01-01 10:00:00+00', 5.0), (2, TIMESTAMPTZ '2024-01-01 10:00:00+00', 6.0), (1, TIMESTAMPTZ '2024-01-01 11:00:00+00', 7.0)`;
    await engine.run({ sql: `COPY (SELECT * FROM (VALUES ${rows}) t(user_id, ts, amount)) TO '${join(project.dir, 'unique.parquet')}' (FORMAT parquet)`, parameters: [] });
    await engine.run({ sql: `COPY (SELECT * FROM (VALUES ${rows}, (1, TIMESTAMPTZ '2024-01-01 11:00:00+00', 8.0)) t(user_id, ts, amount)) TO '${join(project.dir, 'tied.parquet')}' (FORMAT parquet)`, parameters: [] });
    await engine.close();
  });

  it('passes when no two rows share the columns', () => {
    project.write('definitions/defs.ts', keyedDefinitions('unique.parquet'));
    const result = project.cli('plan');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('refuses the plan, naming the source, the values two rows share and how many', () => {
    project.write('definitions/defs.ts', keyedDefinitions('tied.parquet'));
    const result = project.cli('plan');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'error: The warehouse does not match a definition:\n' +
        '  - source "spend": declares unique (user_id, ts), but 2 rows share user_id = 1, ts = 2024-01-01T11:00:00.000Z; remove `unique` or remove the repeated rows\n',
    );
  });
});

describe('plan on a warehouse without the data', () => {
  it('says that none of the sources can be read, where the warehouse is, and how to load data', () => {
    const empty = createTempProject({
      'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: 'no_data', definitions: './definitions', profiles: { local: localProfile() } });\n`,
      'definitions/defs.ts': definitions(`SELECT user_id, ts, amount AS total, 1 AS n FROM {{source}}`),
    });
    try {
      const result = empty.cli('plan');
      expect(result.code).toBe(1);
      const lines = result.stderr.split('\n');
      expect(lines[0]).toBe('error: The warehouse does not match a definition:');
      expect(lines[1]).toMatch(/^ {2}- source "txns": cannot read table "txns" in the warehouse: .*txns does not exist/);
      expect(lines.slice(2)).toEqual([
        `The only source cannot be read: the DuckDB file ${join(empty.dir, '.flywheel', 'warehouse.duckdb')} holds none of the data. Load it first, for example`,
        "  CREATE TABLE txns AS SELECT * FROM read_parquet('data/txns/*.parquet');   -- or read_csv('data/txns.csv')",
        'See docs/your-own-project.md ("Loading data"); an example project says in its README how to generate its data.',
        '',
      ]);
    } finally {
      empty.remove();
    }
  });

  it('gives no such hint when some sources can be read', () => {
    project.write('definitions/defs.ts', `${definitions(`SELECT user_id, ts, amount AS total, 1 AS n FROM {{source}}`)}
export const gone = source({ name: 'gone', table: 'gone', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp' } });
`);
    const result = project.cli('plan');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: The warehouse does not match a definition:\n {2}- source "gone": cannot read table "gone" in the warehouse: [^\n]*\n$/);
  });
});
