import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOfflineEngine } from '../connectors/offline/create-offline-engine.ts';
import { DuckDBEngine, openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { DuckDBLockedError, DuckDBOpenError } from '../connectors/offline/duckdb/duckdb-errors.ts';
import { EngineQueryError } from '../connectors/offline/engine-query-error.ts';
import { ConfigError, TransientError, type FlywheelError } from '../core/errors.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { describeOfflineEngineContract } from './contracts/offline-engine.contract.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describeOfflineEngineContract('duckdb (file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-duckdb-'));
  const engine = await openDuckDBEngine({ path: join(dir, 'state', 'warehouse.duckdb') });
  return {
    engine,
    cleanup: async () => {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('DuckDBEngine', () => {
  let dir: string;
  let path: string;
  const opened: DuckDBEngine[] = [];
  const open = async (options: { threads?: number; memoryLimit?: string } = {}) => {
    const engine = await openDuckDBEngine({ path, ...options });
    opened.push(engine);
    return engine;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flywheel-duckdb-'));
    path = join(dir, 'nested', 'state', 'warehouse.duckdb');
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((engine) => engine.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the file and its folders, in UTC, with settings applied and extension downloads off', async () => {
    const engine = await open({ threads: 2, memoryLimit: '512MB' });
    expect(existsSync(path)).toBe(true);
    const [settings] = await engine.all(
      sql(`SELECT current_setting('TimeZone') AS tz, current_setting('threads') AS threads, current_setting('memory_limit') AS memory,
             current_setting('autoload_known_extensions') AS autoload, current_setting('autoinstall_known_extensions') AS autoinstall`),
    );
    expect(settings).toMatchObject({ tz: 'UTC', threads: 2, autoload: false, autoinstall: false });
    expect(String(settings?.['memory'])).toMatch(/^(488\.2 MiB|512\.0 MB)$/);
    // Naive timestamps are read as UTC.
    expect(await engine.all(sql("SELECT TIMESTAMP '2024-01-01 00:00:00'::TIMESTAMPTZ AS at"))).toEqual([{ at: '2024-01-01T00:00:00.000Z' }]);
  });

  it('converts the types DuckDB produces beyond Flywheel’s own to plain values', async () => {
    const engine = await open();
    const [row] = await engine.all(
      sql(`SELECT sum(x) AS hugeint_sum, 1.5 AS decimal_literal, 170141183460469231731687303715884105727::HUGEINT AS huge,
             TIMESTAMP '2024-01-01 12:00:00.5' AS naive, TIMESTAMP_NS '2024-01-01 12:00:00.123456789' AS nanos,
             TIMESTAMP_S '2024-01-01 12:00:01' AS seconds, TIMESTAMP_MS '1960-01-01 00:00:00.001' AS before_epoch,
             'infinity'::TIMESTAMPTZ AS inf, '-infinity'::DATE AS neg_inf_day, [1, 2] AS list, {'a': DATE '2024-01-02'} AS struct,
             NULL AS nothing, 1.0e0 / 3 AS third, 'x'::BLOB AS blob
           FROM (VALUES (1::BIGINT), (2::BIGINT)) t(x)`),
    );
    expect(row).toEqual({
      hugeint_sum: 3,
      decimal_literal: 1.5,
      huge: '170141183460469231731687303715884105727',
      naive: '2024-01-01T12:00:00.500Z',
      nanos: '2024-01-01T12:00:00.123456Z',
      seconds: '2024-01-01T12:00:01.000Z',
      before_epoch: '1960-01-01T00:00:00.001Z',
      inf: 'infinity',
      neg_inf_day: '-infinity',
      list: [1, 2],
      struct: { a: '2024-01-02' },
      nothing: null,
      third: 1 / 3,
      blob: new Uint8Array([0x78]),
    });
    expect(JSON.parse(JSON.stringify({ ...row, blob: undefined }))).toEqual({ ...row, blob: undefined });
    const negative = await engine.all(sql("SELECT TIMESTAMP '1969-12-31 23:59:59.999999' AS at"));
    expect(negative).toEqual([{ at: '1969-12-31T23:59:59.999999Z' }]);
  });

  it('describes with DuckDB type names mapped to Flywheel types', async () => {
    const engine = await open();
    await engine.run(sql('CREATE TABLE events (id BIGINT, ts TIMESTAMPTZ, amount DECIMAL(10, 2), tags VARCHAR[])'));
    expect(await engine.describe(sql('events'))).toEqual([
      { name: 'id', engineType: 'BIGINT', type: 'int64' },
      { name: 'ts', engineType: 'TIMESTAMP WITH TIME ZONE', type: 'timestamp' },
      { name: 'amount', engineType: 'DECIMAL(10,2)', type: 'float64' },
      { name: 'tags', engineType: 'VARCHAR[]', type: undefined },
    ]);
    // A trailing semicolon or comment does not break DESCRIBE or COPY.
    expect((await engine.describe(sql('SELECT 1 AS one;  '))).map((c) => c.type)).toEqual(['int32']);
    expect(await engine.exportParquet(sql('SELECT 1 AS one -- a trailing comment'), join(dir, 'one.parquet'))).toEqual({ rowCount: 1 });
  });

  it('refuses parameters it cannot bind faithfully, naming the statement', async () => {
    const engine = await open();
    await expect(engine.all(sql('SELECT ? AS a', [undefined]))).rejects.toThrow(/Parameter 1 is undefined[\s\S]*SELECT \? AS a/);
    await expect(engine.all(sql('SELECT ? AS a', [{ a: 1 }]))).rejects.toBeInstanceOf(EngineQueryError);
    await expect(engine.all(sql('SELECT ? AS a', [new Date('nope')]))).rejects.toThrow(/invalid Date/);
    expect(await engine.all(sql('SELECT ? AS a, ? AS b', [2 ** 40, 2n ** 70n]))).toEqual([{ a: 2 ** 40, b: '1180591620717411303424' }]);
  });

  it('refuses engine calls made inside its own transaction instead of deadlocking', async () => {
    const engine = await open();
    let handle: Parameters<Parameters<DuckDBEngine['transaction']>[0]>[0] | undefined;
    await expect(
      engine.transaction(async (tx) => {
        handle = tx;
        await engine.all(sql('SELECT 1'));
      }),
    ).rejects.toThrow(/through the handle/);
    await expect(handle!.all(sql('SELECT 1'))).rejects.toThrow(/transaction has ended/);
    expect(await engine.all(sql('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
  });

  it('runs concurrent transactions one after the other', async () => {
    const engine = await open();
    await engine.run(sql('CREATE TABLE log (writer INTEGER, step INTEGER)'));
    await Promise.all(
      [1, 2, 3].map((writer) =>
        engine.transaction(async (tx) => {
          for (let step = 0; step < 3; step += 1) {
            await tx.run(sql('INSERT INTO log SELECT ?, ?', [writer, step]));
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        }),
      ),
    );
    const rows = await engine.all<{ writer: number }>(sql('SELECT writer FROM log ORDER BY rowid'));
    expect(rows.map((r) => r.writer)).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3]);
  });

  it('leaves no file when an export fails while running', async () => {
    const engine = await open();
    const target = join(dir, 'out', 'bad.parquet');
    const failing = engine.exportParquet(sql("SELECT CAST(x AS INTEGER) AS n FROM (VALUES ('1'), ('not a number')) t(x)"), target);
    await expect(failing).rejects.toBeInstanceOf(EngineQueryError);
    expect(await readdir(join(dir, 'out'))).toEqual([]);
  });

  it('shares one database between engines on the same file in a process', async () => {
    const first = await open();
    const second = await open();
    await first.run(sql('CREATE TABLE shared (n INTEGER)'));
    await second.run(sql('INSERT INTO shared VALUES (1)'));
    expect(await first.all(sql('SELECT n FROM shared'))).toEqual([{ n: 1 }]);
    await first.close();
    expect(await second.all(sql('SELECT n FROM shared'))).toEqual([{ n: 1 }]);
    await expect(first.all(sql('SELECT 1'))).rejects.toThrow(/is closed/);
    await second.close();
    // The last close releases the file: another process can open it now.
    expect(openInChildProcess(path).message).toBe('opened');
  });

  it('says which file is locked when another process has it open', async () => {
    const engine = await open();
    await engine.run(sql('CREATE TABLE t (n INTEGER)'));
    const child = openInChildProcess(path);
    expect(child.name).toBe('DuckDBLockedError');
    expect(child.message).toContain(`"${path}"`);
    expect(child.message).toMatch(/another Flywheel process \(a worker, `flywheel dev`/);
    expect(child.message).toMatch(/PID \d+/);
  });

  it('throws DuckDBLockedError, retryable, when a child process holds the file', async () => {
    await mkdir(dirname(path), { recursive: true });
    const holder = spawn(
      process.execPath,
      ['--input-type=module', '-e', `
        import { DuckDBInstance } from '@duckdb/node-api';
        await DuckDBInstance.create(process.env.DB_PATH);
        console.log('ready');
        process.stdin.resume();
        process.stdin.on('end', () => process.exit(0));`],
      { cwd: repoRoot, env: { ...process.env, DB_PATH: path }, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (data: Buffer) => data.toString().includes('ready') && resolve());
        holder.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
      });
      const failure = await openDuckDBEngine({ path }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(DuckDBLockedError);
      expect(failure).toBeInstanceOf(TransientError);
      expect((failure as DuckDBLockedError).retryable).toBe(true);
      expect((failure as DuckDBLockedError).path).toBe(path);
      expect((failure as DuckDBLockedError).holder).toContain(`PID ${holder.pid}`);
    } finally {
      holder.stdin.end();
      if (holder.exitCode === null) await new Promise((resolve) => holder.on('exit', resolve));
    }
    // Once the holder is gone, the file opens.
    const engine = await open();
    expect(await engine.all(sql('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
  });

  it('reports files that are not DuckDB databases', async () => {
    const notADatabase = join(dir, 'notes.txt');
    await writeFile(notADatabase, 'just text, long enough to have a header '.repeat(200));
    const failure = await openDuckDBEngine({ path: notADatabase }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DuckDBOpenError);
    expect((failure as FlywheelError).retryable).toBe(false);
    expect((failure as Error).message).toContain(notADatabase);
  });
});

describe('createOfflineEngine', () => {
  it('opens DuckDB for a duckdb profile', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flywheel-duckdb-'));
    const engine = await createOfflineEngine({ type: 'duckdb', path: join(dir, 'w.duckdb'), threads: 1 });
    try {
      expect(engine).toBeInstanceOf(DuckDBEngine);
      expect(engine.dialect.name).toBe('duckdb');
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('opens Snowflake for a snowflake profile, reading its credential from the variable it names first', async () => {
    // The variable is checked before any connection is tried (test/snowflake-engine.test.ts opens one on the emulator).
    const config = { type: 'snowflake', account: 'a', username: 'u', database: 'd', schema: 's', passwordEnv: 'FW_TEST_UNSET_SNOWFLAKE_PASSWORD' } as const;
    delete process.env.FW_TEST_UNSET_SNOWFLAKE_PASSWORD;
    await expect(createOfflineEngine(config)).rejects.toBeInstanceOf(ConfigError);
    await expect(createOfflineEngine(config)).rejects.toThrow('field "offline.passwordEnv": environment variable FW_TEST_UNSET_SNOWFLAKE_PASSWORD is not set');
  });
});

/** Opens `path` with Flywheel's engine in a separate Node process; returns the error it got, or 'opened'. */
function openInChildProcess(path: string): { name: string; message: string } {
  const code = `
    const { openDuckDBEngine } = await import('./connectors/offline/duckdb/duckdb-engine.ts');
    try {
      const engine = await openDuckDBEngine({ path: process.env.DB_PATH });
      await engine.close();
      console.log(JSON.stringify({ name: 'none', message: 'opened' }));
    } catch (error) {
      console.log(JSON.stringify({ name: error.name, message: error.message }));
    }`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: repoRoot,
    env: { ...process.env, DB_PATH: path },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = child.stdout.trim().split('\n').at(-1);
  if (!line) throw new Error(`child process printed nothing: ${child.stderr}`);
  return JSON.parse(line) as { name: string; message: string };
}
