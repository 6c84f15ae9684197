import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describeEnd, stopChild, type ProcessEnd } from '../../cli/dev/child-process.ts';
import { ensureFakesnow, snowflakeEmulatorDir } from '../../cli/dev/fakesnow.ts';
import { tail } from '../../cli/dev/go-tool.ts';
import { FlywheelError } from '../../core/errors.ts';

/**
 * A Snowflake emulator for tests: fakesnow (Snowflake's REST protocol over DuckDB) behind a small
 * adapter that answers in Snowflake's JSON result format, the only one snowflake-sdk reads, and
 * translates the SQL fakesnow lacks (test/support/snowflake-emulator/). One process per test file
 * that asks for it (lazily: the other test files pay nothing), on 127.0.0.1 on a free port, its
 * databases in memory and gone when it stops. The Python environment is installed on first use
 * when `.ci/run` has not already (scripts/ensure-fakesnow.ts).
 *
 * What the emulator cannot do is listed in EMULATOR_CANNOT, for suites to skip with the reason;
 * it is never faked.
 *
 * @example
 * let emulator: SnowflakeEmulator;
 * beforeAll(async () => { emulator = await startSnowflakeEmulator(); }, SNOWFLAKE_EMULATOR_TIMEOUT_MS);
 * afterAll(() => emulator?.stop());
 * const connection = snowflake.createConnection(emulator.connectionOptions({ database: 'FLYWHEEL_TEST' }));
 */

/** Long enough to install the environment on a cold cache (~360 MB of wheels, ~20 s) and start it (~3 s). */
export const SNOWFLAKE_EMULATOR_TIMEOUT_MS = 10 * 60_000;
/** From spawn to `LISTENING <port>`: importing fakesnow, DuckDB and pyarrow takes ~3 s on a quiet machine. */
const START_TIMEOUT_MS = 60_000;
const HOST = '127.0.0.1';

/**
 * What the emulator cannot do, each with the reason a suite prints when it skips a case for it.
 * Keys are stable: `it.skipIf(onEmulator)(...)` cases name one, e.g. `EMULATOR_CANNOT.unloadToStage`.
 */
export const EMULATOR_CANNOT = {
  unloadToStage: 'fakesnow 0.12.1 does not implement COPY INTO @stage (unloads, PARTITION BY); checked live only',
  getFromStage: 'fakesnow 0.12.1 does not implement GET (download from a stage); checked live only',
  copyPattern: "fakesnow 0.12.1 refuses COPY INTO ... PATTERN = '...'; a path prefix (@stage/path/) and FILES = (...) work",
  selectFromStage:
    'SELECT ... FROM @stage is emulated for Parquet and JSON lines in internal stages, read by $1:"key" only; $1 whole, $2, METADATA$ columns and CSV are not',
  externalStages: 'stages over S3 (URL and credentials or a storage integration) are not emulated: the emulator has internal stages only',
  unenforcedPrimaryKeys:
    'DuckDB enforces PRIMARY KEY and UNIQUE, Snowflake does not: a duplicate key fails on the emulator where Snowflake stores it, so the tie-break for duplicates is checked live only',
  relyKeys: "RELY is accepted in DDL and dropped: SHOW PRIMARY KEYS answers rely = 'false' for every key (fakesnow), so the RELY promise is read live only",
  timestampTzOffsets:
    'TIMESTAMP_TZ and TIMESTAMP_LTZ are DuckDB TIMESTAMPTZ: the emulator keeps the instant but answers every value as timestamp_tz at UTC (offset lost, LTZ reported as TZ)',
  sessionTimezone: "the emulator runs in UTC: ALTER SESSION SET TIMEZONE accepts 'UTC' only",
  chunkedResults: 'every result comes back inline in one JSON rowset; Snowflake sends large ones as chunks fetched from cloud storage',
  concurrentStatementsPerSession: 'statements of one session run one at a time (one DuckDB cursor per session); use one connection per concurrent statement',
  concurrentCreateIfNotExists:
    'CREATE STAGE IF NOT EXISTS or CREATE FILE FORMAT IF NOT EXISTS from two sessions at once can fail in one of them with a duplicate-key constraint error (fakesnow checks, then inserts); test/cluster.test.ts creates the stage and both file formats before its two workers start',
  structuredTypes: 'OBJECT and ARRAY columns are answered as VARIANT (the same JSON value once parsed); structured OBJECT(...)/ARRAY(...) field metadata is absent',
  queryTagHistory:
    'INFORMATION_SCHEMA.QUERY_HISTORY[_BY_SESSION] lists the statements the emulator answered with their QUERY_TAG, with a subset of the columns; its arguments (RESULT_LIMIT, time ranges) are ignored',
  statementTimeout: 'STATEMENT_TIMEOUT_IN_SECONDS is accepted and not enforced: no statement times out',
  variantStringComparison: "a VARIANT compared with a string literal fails on the emulator (DuckDB reads the literal as JSON): PARSE_JSON(t):run::VARCHAR = 'r' works on both",
  authentication: 'any credentials sign in (a password, a key pair, an OAuth token): credentials, roles and warehouses are not checked on the emulator',
  errorMessages: "error codes and SQL states are Snowflake's for common errors (002003 for a missing object), but messages are DuckDB's; statements fakesnow cannot run fail with 261000",
} as const;

export type EmulatorGap = keyof typeof EMULATOR_CANNOT;

/** Thrown when the emulator cannot be installed or started: says what happened, with its last output. */
export class SnowflakeEmulatorError extends FlywheelError {
  /** The end of the emulator's stderr, if it started and failed. */
  readonly output: string;
  constructor(message: string, output = '') {
    super(`Snowflake emulator: ${message}${output ? `\nLast output:\n${output}` : ''}`);
    this.output = output;
  }
}

/** The options snowflake-sdk's `createConnection` needs to reach the emulator (a subset of its ConnectionOptions). */
export interface EmulatorConnectionOptions {
  readonly accessUrl: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: 'http';
  readonly account: string;
  readonly username: string;
  readonly password: string;
  readonly database: string;
  readonly schema: string;
}

export interface SnowflakeEmulator {
  /** `http://127.0.0.1:<port>`. */
  readonly accessUrl: string;
  readonly port: number;
  /**
   * Connection options for snowflake-sdk (default database FLYWHEEL_TEST, schema PUBLIC). fakesnow
   * creates the database and schema at login when missing, and upper-cases unquoted names as
   * Snowflake does. One emulator serves one test file; a case that wants its own tables names its own
   * database or schema.
   */
  connectionOptions(target?: { readonly database?: string; readonly schema?: string }): EmulatorConnectionOptions;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s); its databases and stages go with it. */
  stop(): Promise<void>;
}

/**
 * Starts an emulator on 127.0.0.1 on a free port, installing its Python environment first when
 * missing. Throws SnowflakeEmulatorError when Python is missing or the process does not start.
 */
export async function startSnowflakeEmulator(): Promise<SnowflakeEmulator> {
  const python = await ensureFakesnow({ onProgress: (line) => process.stderr.write(`[snowflake-emulator] ${line}\n`) });
  const adapter = join(snowflakeEmulatorDir(), 'adapter.py');
  // fakesnow keeps internal stages (PUT files) in a temporary folder of its own making: this one,
  // removed when the emulator stops.
  const scratch = await mkdtemp(join(tmpdir(), 'flywheel-snowflake-emulator-'));
  const child = spawn(python, [adapter, '--host', HOST, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // No __pycache__ beside the adapter's sources in the repository.
    env: { ...process.env, PYTHONUNBUFFERED: '1', PYTHONDONTWRITEBYTECODE: '1', TMPDIR: scratch },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-32_000);
  });
  const ended = new Promise<ProcessEnd>((resolve) => {
    child.once('error', resolve);
    child.once('exit', (code) => resolve(code));
  });

  const stop = async () => {
    await stopChild(child, ended, 5_000);
    await rm(scratch, { recursive: true, force: true });
  };
  const port = await listeningPort(child, ended).catch(async (error: unknown) => {
    await stop();
    throw error instanceof SnowflakeEmulatorError ? new SnowflakeEmulatorError(error.message.replace(/^Snowflake emulator: /, ''), tail(stderr, 30)) : error;
  });
  // Later output (tracebacks of statements fakesnow cannot run) goes to the test's stderr, as the other servers' do.
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`[snowflake-emulator] ${chunk.toString()}`));

  const accessUrl = `http://${HOST}:${port}`;
  return {
    accessUrl,
    port,
    connectionOptions: ({ database = 'FLYWHEEL_TEST', schema = 'PUBLIC' } = {}) => ({
      accessUrl,
      host: HOST,
      port,
      protocol: 'http',
      account: 'flywheel',
      username: 'flywheel',
      password: 'emulator',
      database,
      schema,
    }),
    stop,
  };
}

/** Reads the adapter's `LISTENING <port>` line; rejects when it exits first or takes too long. */
function listeningPort(child: ChildProcess & { stdout: NodeJS.ReadableStream }, ended: Promise<ProcessEnd>): Promise<number> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new SnowflakeEmulatorError(`no LISTENING line within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    lines.on('line', (line) => {
      const match = /^LISTENING (\d+)$/.exec(line.trim());
      if (!match) return;
      clearTimeout(timer);
      resolve(Number(match[1]));
    });
    void ended.then((end) => {
      clearTimeout(timer);
      reject(new SnowflakeEmulatorError(`the adapter ended before listening (${describeEnd(end)})`));
    });
  });
}
