import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { temporalAddress } from './setup/temporal.ts';
import { installPacked, packFlywheel, type PackedFlywheel } from './support/packed-flywheel.ts';
import { REPO_ROOT } from './support/temp-project.ts';

const REPO_PACKAGE = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };

/**
 * `flywheel init` to a served feature with the CLI alone (issue 13): Flywheel is packed with
 * `npm pack` and installed from the tarball (test/support/packed-flywheel.ts); `init --from` starts a
 * project from a Parquet file and a CSV file; then, in the new project, `flywheel validate`, `plan`,
 * `apply`, a `flywheel worker` child process, `materialize`, `run training-set` and `flywheel serve`,
 * whose POST /v1/features answers the values the files hold. Also: init without data (a sample
 * table), its refusals, and validate without a warehouse or Temporal.
 */

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let packed: PackedFlywheel;
let root: string;
/** The `flywheel` command of an installation outside any project, as `npx flywheel init` would run. */
let initBin: string;

beforeAll(async () => {
  packed = await packFlywheel();
  root = mkdtempSync(join(tmpdir(), 'flywheel-init-'));
  initBin = await installPacked(packed.tarball, join(root, 'tool'));
  await writeData(join(root, 'data'));
}, 300_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  packed?.remove();
});

/** orders.parquet (TIMESTAMPTZ, a list column Flywheel has no type for) and customers.csv (naive timestamps, a DATE). */
async function writeData(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const engine = await openDuckDBEngine({ path: ':memory:' });
  try {
    await engine.run({
      sql: `COPY (SELECT * FROM (VALUES
          (10::BIGINT, 1::BIGINT, TIMESTAMPTZ '2026-11-02 09:00:00+00', 20.0::DOUBLE, 'web', ['gift']),
          (11, 2, TIMESTAMPTZ '2026-11-02 10:00:00+00', 5.5, 'app', []),
          (12, 1, TIMESTAMPTZ '2026-11-03 12:30:00+00', 42.25, 'app', NULL)
        ) AS t(order_id, customer_id, ts, amount, channel, tags)) TO '${join(dir, 'orders.parquet')}' (FORMAT parquet)`,
      parameters: [],
    });
  } finally {
    await engine.close();
  }
  writeFileSync(join(dir, 'customers.csv'), [
    'customer_id,updated_at,country,credit_limit,signup_day',
    '1,2026-10-01 00:00:00,FR,1000.5,2026-09-30',
    '2,2026-10-05 08:00:00,DE,250,2026-10-05',
    '1,2026-11-02 12:00:00,FR,2000,2026-09-30',
    '',
  ].join('\n'));
  writeFileSync(join(dir, 'no-time.csv'), 'user_id,day,amount\n1,2026-11-01,3.5\n');
  writeFileSync(join(dir, 'no-key.csv'), 'ts,amount\n2026-11-01 10:00:00,3.5\n');
}

function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { FLYWHEEL_PROFILE: _ignored, ...env } = process.env;
  return { ...env, ...extra };
}

/** Runs `node <bin> ...args` in `cwd` to its end. */
function cli(bin: string, cwd: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: cliEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts a long-running command (worker, serve) and resolves once its stderr matches `ready`. */
function startLongRunning(bin: string, cwd: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [bin, ...args], { cwd, env: cliEnv(env) });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = new Promise<RegExpExecArray>((resolve, reject) => {
    child.stderr.on('data', () => {
      const match = ready.exec(stderr);
      if (match) resolve(match);
    });
    void exited.then((code) => reject(new Error(`flywheel ${args.join(' ')} exited (${code}):\n${stderr}`)));
  });
  return {
    started,
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

const read = (path: string) => readFileSync(path, 'utf8');

describe('flywheel init --from a Parquet file and a CSV file, then the CLI alone to a served feature', () => {
  let project: string;
  let bin: string;

  it('proposes sources, an entity, feature views, a service and a training set, and says why', async () => {
    const result = await cli(initBin, root, 'init', 'init-shop', '--from', 'data/orders.parquet', 'data/customers.csv', '--flywheel', `file:${packed.tarball}`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Created project "init_shop" in init-shop from 2 files:
  source orders: data/orders.parquet, read in place from ../data/orders.parquet; event time ts (TIMESTAMP WITH TIME ZONE)
  source customers: data/customers.csv, loaded into the warehouse table customers (CSV has no schema: the types DuckDB reads now are kept); event time updated_at (TIMESTAMP)
  entity customer: key customer_id, in 2 of 2 files, its values repeat (several rows per entity); not order_id (in 1, unique on every row: a row id). Pass --entity <column> to choose another
  feature view orders_features: each customer's latest amount, channel from orders
  feature view customers_features: each customer's latest country, credit_limit from customers
  feature service customer_model: every feature above, served by POST /v1/features
  training set customer_training: a row per orders row (source orders_spine: customer_id, ts) with customer_model's features as of its ts; add your label column to the spine
Left out:
  orders.tags (VARCHAR[]): Flywheel has no type for it
  orders.order_id: an id, not a feature
  customers.signup_day (DATE): a time, not a feature
Wrote package.json, tsconfig.json, flywheel.config.ts, definitions/entities.ts, definitions/sources.ts, definitions/features.ts, definitions/services.ts, definitions/training.ts, .gitignore, README.md.
Next: cd init-shop && npm install && npx flywheel validate (README.md has the commands after that).
`);
    project = join(root, 'init-shop');
    expect(read(join(project, 'definitions', 'sources.ts'))).toBe(`/**
 * Where rows come from. A \`parquet\` source reads its files in place (the path is relative to the
 * project; a glob picks up new files at the next run); a \`table\` source reads a table of the
 * profile's warehouse (.flywheel/warehouse.duckdb in the local profile).
 */
import { source } from 'flywheel';

/** From data/orders.parquet. */
export const orders = source({
  name: 'orders',
  parquet: '../data/orders.parquet',
  timestampField: 'ts',
  columns: { order_id: 'int64', customer_id: 'int64', ts: 'timestamp', amount: 'float64', channel: 'string' },
});

/** From data/customers.csv. */
export const customers = source({
  name: 'customers',
  table: 'customers',
  timestampField: 'updated_at',
  columns: { customer_id: 'int64', updated_at: 'timestamp', country: 'string', credit_limit: 'float64', signup_day: 'date' },
});

/** The training set's rows: one per row of data/orders.parquet, with only the key and the time, since spine columns and feature names must differ. Declare your label column here. */
export const ordersSpine = source({
  name: 'orders_spine',
  parquet: '../data/orders.parquet',
  timestampField: 'ts',
  columns: { customer_id: 'int64', ts: 'timestamp' },
});
`);
    expect(JSON.parse(read(join(project, 'package.json')))).toEqual({
      name: 'init-shop', private: true, type: 'module',
      scripts: { validate: 'flywheel validate', typecheck: 'tsc -p .', plan: 'flywheel plan', apply: 'flywheel apply' },
      dependencies: { flywheel: `file:${packed.tarball}` },
      devDependencies: { typescript: REPO_PACKAGE.devDependencies.typescript },
    });
    expect(read(join(project, '.gitignore'))).toContain('.flywheel/\nnode_modules/\n');
    const readme = read(join(project, 'README.md'));
    expect(readme).toContain('npx flywheel run training-set customer_training --from 2026-11-02 --to 2026-11-04\n');
    // The serving call the README gives, with the token it sets, is the one the next test makes.
    expect(readme).toContain('FLYWHEEL_TOKENS="mytoken=read" npx flywheel dev\n');
    expect(readme).toContain(`curl -s http://127.0.0.1:8080/v1/features -H "Authorization: Bearer mytoken" -H 'Content-Type: application/json' \\\n  -d '{"service": "customer_model", "entities": [{"customer_id": 1}]}'\n`);
    expect(readme).toContain('- the table `customers`, from ../data/customers.csv\n');
    expect(readme).toContain(`duckdb .flywheel/warehouse.duckdb <<'SQL'\nCREATE OR REPLACE TABLE "customers" AS SELECT * FROM read_csv_auto('../data/customers.csv');\nSQL\n`);
  });

  it('validates, plans, applies, materializes, builds the training set and serves the features', async () => {
    bin = await installPacked(packed.tarball, project);
    // The shared test Temporal server instead of localhost:7233; the task queue stays the project's own (flywheel-init_shop).
    const config = join(project, 'flywheel.config.ts');
    writeFileSync(config, read(config).replace('localProfile()', `localProfile({ temporalAddress: '${temporalAddress()}' })`));

    // npm run typecheck: the definitions against the tarball's declarations (dist/index.d.ts), with the TypeScript Flywheel pins.
    const typechecked = await cli(join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), project, '-p', '.');
    expect(typechecked).toEqual({ code: 0, stdout: '', stderr: '' });
    const validated = await cli(bin, project, 'validate');
    expect(validated).toEqual({ code: 0, stdout: 'Valid: project init_shop, 1 entity, 3 sources, 2 feature views, 1 feature service, 1 training set (definitions).\n', stderr: '' });
    const planned = await cli(bin, project, 'plan');
    expect(planned.stderr).toBe('');
    expect(planned.code).toBe(0);
    expect(planned.stdout).toContain('Plan: 8 to add, 0 to change, 0 to remove.');
    const applied = await cli(bin, project, 'apply');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('Registry version 1 saved');

    const worker = startLongRunning(bin, project, ['worker'], /Worker for init_shop .* task queue flywheel-init_shop\./);
    try {
      await worker.started;
      for (const view of ['orders_features', 'customers_features']) {
        const materialized = await cli(bin, project, 'materialize', view);
        expect(materialized.code, materialized.stderr).toBe(0);
        expect(materialized.stdout).toMatch(/2 entities in \d+ chunks: 2 written, 0 skipped/);
      }
      const built = await cli(bin, project, 'run', 'training-set', 'customer_training', '--from', '2026-11-02', '--to', '2026-11-04');
      expect(built.code, built.stderr).toBe(0);
      expect(built.stdout).toMatch(/^Training set customer_training version \S+: 3 rows in 2 partitions \(registry v1\)$/m);
    } finally {
      expect(await worker.stop()).toBe(0);
    }

    // Each order with the customer's features as they were at its time: the credit limit rose at 2026-11-02 12:00.
    const engine = await openDuckDBEngine({ path: ':memory:' });
    try {
      const dataset = join(project, '.flywheel', 'objects', 'training_sets', 'customer_training');
      expect(await engine.all({ sql: `SELECT * FROM read_parquet('${dataset}/day=*/*.parquet', hive_partitioning = false) ORDER BY ts`, parameters: [] })).toEqual([
        { customer_id: 1, ts: '2026-11-02T09:00:00.000Z', amount: 20, channel: 'web', country: 'FR', credit_limit: 1000.5 },
        { customer_id: 2, ts: '2026-11-02T10:00:00.000Z', amount: 5.5, channel: 'app', country: 'DE', credit_limit: 250 },
        { customer_id: 1, ts: '2026-11-03T12:30:00.000Z', amount: 42.25, channel: 'app', country: 'FR', credit_limit: 2000 },
      ]);
    } finally {
      await engine.close();
    }

    const serve = startLongRunning(bin, project, ['serve', '--port', '0', '--no-ingest'], /Serving API on (http:\/\/\S+?):? POST/, { FLYWHEEL_TOKENS: 'mytoken=read' });
    try {
      const [, url] = await serve.started;
      const answer = await fetch(`${url}/v1/features`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer mytoken' },
        body: JSON.stringify({ service: 'customer_model', entities: [{ customer_id: 1 }, { customer_id: 2 }, { customer_id: 3 }] }),
      });
      expect(answer.status).toBe(200);
      const served = (await answer.json()) as { features: string[]; rows: { values: unknown[]; statuses: string[] }[] };
      expect(served.features).toEqual(['amount', 'channel', 'country', 'credit_limit']);
      expect(served.rows.map((r) => r.values)).toEqual([[42.25, 'app', 'FR', 2000], [5.5, 'app', 'DE', 250], [null, null, null, null]]);
      expect(served.rows[2]!.statuses).toEqual(['missing', 'missing', 'missing', 'missing']);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  }, 240_000);
});

describe('flywheel init without data', () => {
  it('starts from a sample table in an empty warehouse, and the project validates and applies', async () => {
    const result = await cli(initBin, root, 'init', 'sample', '--flywheel', `file:${packed.tarball}`);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Created project "sample" in sample from an empty warehouse, with a sample table (sample_orders) so that the first commands have rows:
  source orders: the sample table sample_orders, the warehouse table sample_orders; event time ts (TIMESTAMP WITH TIME ZONE)
  entity customer: key customer_id, in 1 of 1 file, its values repeat (several rows per entity); not order_id (in 1, unique on every row: a row id). Pass --entity <column> to choose another
  feature view orders_features: each customer's latest amount, items, channel from orders
  feature service customer_model: every feature above, served by POST /v1/features
  training set customer_training: a row per orders row (source orders_spine: customer_id, ts) with customer_model's features as of its ts; add your label column to the spine
Left out:
  orders.order_id: an id, not a feature
Wrote package.json, tsconfig.json, flywheel.config.ts, definitions/entities.ts, definitions/sources.ts, definitions/features.ts, definitions/services.ts, definitions/training.ts, .gitignore, README.md.
Next: cd sample && npm install && npx flywheel validate (README.md has the commands after that).
`);
    const project = join(root, 'sample');
    const readme = read(join(project, 'README.md'));
    expect(readme).toContain('npx flywheel run training-set customer_training --from 2026-11-02 --to 2026-11-05\n');
    expect(readme).toContain(`-d '{"service": "customer_model", "entities": [{"customer_id": 1}]}'`);

    // The README's statement loads the same sample again (on another machine, where .flywheel/ is not in git).
    const reload = /duckdb \.flywheel\/warehouse\.duckdb <<'SQL'\n([^]*?)\nSQL\n/.exec(readme)![1]!;
    const again = await openDuckDBEngine({ path: ':memory:' });
    let reloaded: unknown[];
    try {
      await again.run({ sql: reload, parameters: [] });
      reloaded = await again.all({ sql: 'SELECT * FROM sample_orders ORDER BY order_id', parameters: [] });
    } finally {
      await again.close();
    }
    const bin = await installPacked(packed.tarball, project);
    expect(await cli(bin, project, 'validate')).toEqual({ code: 0, stdout: 'Valid: project sample, 1 entity, 2 sources, 1 feature view, 1 feature service, 1 training set (definitions).\n', stderr: '' });
    // Nothing is scheduled, so plan and apply need no Temporal.
    const applied = await cli(bin, project, 'apply');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const engine = await openDuckDBEngine({ path: join(project, '.flywheel', 'warehouse.duckdb') });
    try {
      expect(await engine.all({ sql: 'SELECT * FROM sample_orders ORDER BY order_id', parameters: [] })).toEqual(reloaded);
      expect(await engine.all({ sql: 'SELECT customer_id, count(*) AS orders, sum(amount) AS amount FROM flywheel.src_orders GROUP BY ALL ORDER BY ALL', parameters: [] })).toEqual([
        { customer_id: 1, orders: 3, amount: 125.5 },
        { customer_id: 2, orders: 2, amount: 30.5 },
        { customer_id: 3, orders: 1, amount: 7.25 },
      ]);
    } finally {
      await engine.close();
    }
  }, 120_000);
});

describe('flywheel init refuses', () => {
  it('a folder that is not empty, unless --force (which keeps the files it does not write)', async () => {
    const dir = join(root, 'taken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    const refused = await cli(initBin, root, 'init', 'taken');
    expect(refused).toEqual({
      code: 1, stdout: '',
      stderr: 'error: taken: is not empty (1 entry: notes.txt); init writes into a new or empty folder so that it never replaces your files. Pass --force to write into it anyway\n',
    });
    expect((await cli(initBin, dir, 'init')).stderr).toBe('error: the current folder: is not empty (1 entry: notes.txt); init writes into a new or empty folder so that it never replaces your files. Pass --force to write into it anyway\n');
    expect(existsSync(join(dir, 'flywheel.config.ts'))).toBe(false);
    const forced = await cli(initBin, root, 'init', 'taken', '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(read(join(dir, 'notes.txt'))).toBe('mine\n');
    expect(existsSync(join(dir, 'flywheel.config.ts'))).toBe(true);
  });

  it('data it cannot propose a project from, naming the file, and writes nothing', async () => {
    const cases: [string[], string][] = [
      [['data/no-time.csv'], 'error: data/no-time.csv: has no TIMESTAMP or TIMESTAMPTZ column (its columns: user_id BIGINT, day DATE, amount DOUBLE); a source needs one for each row\'s event time. Add one (a DATE column can be cast: CAST(day AS TIMESTAMP)), or leave this file out\n'],
      [['data/no-key.csv'], 'error: --from: no column looks like an entity key (named id or *_id, of an integer or string type): data/no-key.csv (ts, amount). Pass --entity <column>\n'],
      [['data/orders.parquet', '--entity', 'amount'], 'error: --entity: column "amount" is DOUBLE; an entity key is an integer or a string\n'],
      [['data/orders.parquet', '--entity', 'user_id'], 'error: --entity: no file has a column "user_id"; the columns are order_id, customer_id, ts, amount, channel, tags\n'],
      [['data/orders.parquet', '--timestamp', 'amount'], 'error: data/orders.parquet: --timestamp amount is DOUBLE, not a TIMESTAMP or TIMESTAMPTZ\n'],
      [['data/missing.parquet'], 'error: data/missing.parquet: no such file\n'],
      [['data/orders.json'], 'error: data/orders.json: is not a .parquet or .csv file; --from takes Parquet and CSV files or globs (data/*.parquet)\n'],
    ];
    for (const [args, stderr] of cases) {
      expect(await cli(initBin, root, 'init', 'refused', '--from', ...args), args.join(' ')).toEqual({ code: 1, stdout: '', stderr });
      expect(existsSync(join(root, 'refused')), args.join(' ')).toBe(false);
    }
    // A glob that matches nothing: DuckDB's reason, after the glob.
    const none = await cli(initBin, root, 'init', 'refused', '--from', 'data/none-*.parquet');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error: data\/none-\*\.parquet: DuckDB cannot read it: .*No files found that match the pattern/);
    expect(existsSync(join(root, 'refused'))).toBe(false);
  });
});

describe('flywheel validate', () => {
  it('outside a project says how to start one', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'flywheel-no-project-'));
    try {
      expect(await cli(initBin, outside, 'validate')).toEqual({
        code: 1, stdout: '',
        stderr: `error: no flywheel.config.ts found in ${outside} or the folders above it; run flywheel from a project folder, pass --config, or start a project with flywheel init\n`,
      });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('checks definitions without a warehouse or Temporal, and lists every problem with exit 1', async () => {
    const dir = join(root, 'validated');
    expect((await cli(initBin, root, 'init', 'validated', '--flywheel', `file:${packed.tarball}`)).code).toBe(0);
    const bin = await installPacked(packed.tarball, dir);
    // A warehouse that cannot be opened (its folder would be under a file) and a Temporal nobody listens on.
    const config = join(dir, 'flywheel.config.ts');
    writeFileSync(config, read(config).replace('localProfile()', "localProfile({ stateDir: 'README.md/state', temporalAddress: '127.0.0.1:1' })"));
    expect(await cli(bin, dir, 'validate')).toEqual({ code: 0, stdout: 'Valid: project validated, 1 entity, 2 sources, 1 feature view, 1 feature service, 1 training set (definitions).\n', stderr: '' });
    const planned = await cli(bin, dir, 'plan');
    expect(planned.code).not.toBe(0);

    const features = join(dir, 'definitions', 'features.ts');
    writeFileSync(features, read(features).replace("amount: 'float64'", "amount: 'float'"));
    const invalid = await cli(bin, dir, 'validate');
    expect(invalid.code).toBe(1);
    const typechecked = await cli(join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), dir, '-p', '.');
    expect(typechecked.code).toBe(2);
    expect(typechecked.stdout).toBe('definitions/features.ts(10,15): error TS2820: Type \'"float"\' is not assignable to type \'FeatureInput\'. Did you mean \'"float32"\'?\n');
    expect(invalid.stdout).toBe('');
    expect(invalid.stderr).toMatch(/^error: Invalid definition:\n {2}- definitions\/features\.ts, featureView "orders_features", field "features\.amount": /);
  });
});
