import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import snowflake, { type Connection, type SnowflakeError } from 'snowflake-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFakesnow, snowflakeEmulatorDir } from '../cli/dev/fakesnow.ts';
import { PythonVenvError } from '../cli/dev/python-venv.ts';
import { EMULATOR_CANNOT, SNOWFLAKE_EMULATOR_TIMEOUT_MS, startSnowflakeEmulator, type SnowflakeEmulator } from './setup/snowflake-emulator.ts';

/**
 * The Snowflake emulator (test/setup/snowflake-emulator.ts) through the real driver, snowflake-sdk:
 * every value type decodes to the exact value it was written as, NULLs, the ASOF JOIN translation
 * on hand-computed rows, the session settings our engine sends, and SQL errors with their code.
 */

type Row = Record<string, unknown>;

let emulator: SnowflakeEmulator;
let connection: Connection;

function connect(target?: { database?: string; schema?: string }): Promise<Connection> {
  const created = snowflake.createConnection(emulator.connectionOptions(target));
  return new Promise((resolve, reject) => created.connect((error) => (error ? reject(error) : resolve(created))));
}

function query(sqlText: string, on: Connection = connection): Promise<Row[]> {
  return new Promise((resolve, reject) =>
    on.execute({ sqlText, complete: (error, _statement, rows) => (error ? reject(error) : resolve((rows ?? []) as Row[])) }),
  );
}

function destroy(on: Connection): Promise<void> {
  return new Promise((resolve) => on.destroy(() => resolve()));
}

beforeAll(async () => {
  snowflake.configure({ logLevel: 'ERROR' });
  emulator = await startSnowflakeEmulator();
  connection = await connect({ database: 'EMULATOR_TEST', schema: 'TYPES' });
}, SNOWFLAKE_EMULATOR_TIMEOUT_MS);

afterAll(async () => {
  if (connection) await destroy(connection);
  await emulator?.stop();
});

describe('the Snowflake emulator through snowflake-sdk', () => {
  it('answers select 1 on 127.0.0.1', async () => {
    expect(emulator.accessUrl).toBe(`http://127.0.0.1:${emulator.port}`);
    expect(await query('select 1 as one')).toEqual([{ ONE: 1 }]);
  });

  it('decodes NUMBER with its scale, FLOAT, BOOLEAN and TEXT exactly', async () => {
    const [row] = await query(
      "select 12.50::number(10,2) as n, -42::number(38,0) as i, 0::number(5,3) as z, 0.1::float as f, -2.5e-10::float as small, " +
        "'inf'::float as pinf, '-inf'::float as ninf, 'nan'::float as nan, true as yes, false as no, 'héllo \"x\" \\\\ ✓' as t, '' as empty",
    );
    expect(row).toEqual({
      N: 12.5,
      I: -42,
      Z: 0,
      F: 0.1,
      SMALL: -2.5e-10,
      PINF: Infinity,
      NINF: -Infinity,
      NAN: NaN,
      YES: true,
      NO: false,
      T: 'héllo "x" \\ ✓',
      EMPTY: '',
    });
  });

  it('sends NUMBER as its decimal digits with exactly scale digits after the point', async () => {
    const rows = await new Promise<Row[]>((resolve, reject) =>
      connection.execute({
        sqlText: 'select 12.50::number(10,2) as n, 7::number(10,3) as m, -0.5::number(4,1) as neg',
        fetchAsString: ['Number'],
        complete: (error, _statement, result) => (error ? reject(error) : resolve((result ?? []) as Row[])),
      }),
    );
    expect(rows).toEqual([{ N: '12.50', M: '7.000', NEG: '-0.5' }]);
  });

  it('decodes VARIANT, OBJECT and ARRAY values, from expressions and from table columns', async () => {
    const [row] = await query(
      `select parse_json('{"a":[1,2,{"b":null}],"s":"x"}') as v, object_construct('a', 1, 'b', 'x') as o, array_construct(1, 2, 3) as a`,
    );
    expect(row).toEqual({ V: { a: [1, 2, { b: null }], s: 'x' }, O: { a: 1, b: 'x' }, A: [1, 2, 3] });

    await query('create or replace table semi_structured (v variant, o object, a array)');
    await query(`insert into semi_structured select parse_json('[1, "two"]'), object_construct('k', 2), array_construct(3, 4)`);
    expect(await query('select * from semi_structured')).toEqual([{ V: [1, 'two'], O: { k: 2 }, A: [3, 4] }]);
  });

  it('decodes DATE as the calendar day, before and after 1970', async () => {
    const [row] = (await query("select '2024-02-29'::date as leap, '1969-12-31'::date as before, '1970-01-01'::date as epoch")) as Array<Record<string, Date>>;
    expect(row!.LEAP!.getTime()).toBe(Date.UTC(2024, 1, 29));
    expect(row!.BEFORE!.getTime()).toBe(-86_400_000);
    expect(row!.EPOCH!.getTime()).toBe(0);
  });

  it('decodes TIME to the driver default format (HH24:MI:SS)', async () => {
    expect(await query("select '13:45:30.123456789'::time as t, '00:00:00'::time as midnight")).toEqual([{ T: '13:45:30', MIDNIGHT: '00:00:00' }]);
  });

  it('decodes TIMESTAMP_NTZ to the exact instant, fraction included, before and after 1970', async () => {
    const [row] = (await query(
      "select '2024-03-10 02:30:00.123456'::timestamp_ntz as n, '1969-12-31 23:59:58.5'::timestamp_ntz as before, '1970-01-01 00:00:00'::timestamp_ntz as epoch",
    )) as Array<Record<string, Date & { getEpochSeconds(): number; getNanoSeconds(): number }>>;
    expect(row!.N!.getTime()).toBe(Date.UTC(2024, 2, 10, 2, 30, 0, 123));
    expect(row!.N!.getEpochSeconds()).toBe(1_710_037_800);
    expect(row!.N!.getNanoSeconds()).toBe(123_456_000);
    expect(row!.BEFORE!.getTime()).toBe(-1_500);
    expect(row!.BEFORE!.getEpochSeconds()).toBe(-2);
    expect(row!.BEFORE!.getNanoSeconds()).toBe(500_000_000);
    expect(row!.EPOCH!.getTime()).toBe(0);
  });

  it('decodes TIMESTAMP_TZ and TIMESTAMP_LTZ to the exact instant (the offset is not kept: EMULATOR_CANNOT.timestampTzOffsets)', async () => {
    const [row] = (await query(
      "select '2024-03-10 02:30:00.25+02:00'::timestamp_tz as tz, '2024-03-10 02:30:00'::timestamp_ltz as ltz",
    )) as Array<Record<string, Date & { getTimezone(): unknown }>>;
    expect(row!.TZ!.getTime()).toBe(Date.UTC(2024, 2, 10, 0, 30, 0, 250));
    expect(row!.LTZ!.getTime()).toBe(Date.UTC(2024, 2, 10, 2, 30, 0));
    expect(EMULATOR_CANNOT.timestampTzOffsets).toMatch(/offset lost/);
  });

  it('decodes BINARY to the exact bytes', async () => {
    const [row] = (await query("select to_binary('CAFE00', 'HEX') as b, x'' as empty")) as Array<Record<string, Buffer>>;
    expect([...row!.B!]).toEqual([0xca, 0xfe, 0x00]);
    expect([...row!.EMPTY!]).toEqual([]);
  });

  it('returns NULL of every type as null (TIME as the string NULL, as snowflake-sdk does for TIME)', async () => {
    const [row] = await query(
      'select null::number as a, null::number(10,2) as b, null::float as c, null::boolean as d, null::text as e, null::variant as f, ' +
        'null::date as g, null::time as h, null::timestamp_ntz as i, null::timestamp_ltz as j, null::timestamp_tz as k, null::binary as l',
    );
    // snowflake-sdk 3.4.1 turns a NULL TIME into 'NULL' (column.js toValueFromTime), whatever the server.
    expect(row).toEqual({ A: null, B: null, C: null, D: null, E: null, F: null, G: null, H: 'NULL', I: null, J: null, K: null, L: null });
  });

  it('round-trips rows written to a table, NULLs among them', async () => {
    await query('create or replace table typed (id int, amount number(12,2), score float, ok boolean, name text, day date, ts timestamp_ntz, raw binary)');
    await query(
      "insert into typed values (1, 1234.56, 0.25, true, 'a', '2024-01-31', '2024-01-31 23:59:59.999', to_binary('01', 'HEX')), " +
        '(2, null, null, null, null, null, null, null)',
    );
    const rows = (await query('select * from typed order by id')) as Array<Record<string, unknown>>;
    expect(rows.map((r) => ({ ...r, DAY: (r.DAY as Date | null)?.getTime() ?? null, TS: (r.TS as Date | null)?.getTime() ?? null, RAW: r.RAW ? [...(r.RAW as Buffer)] : null }))).toEqual([
      { ID: 1, AMOUNT: 1234.56, SCORE: 0.25, OK: true, NAME: 'a', DAY: Date.UTC(2024, 0, 31), TS: Date.UTC(2024, 0, 31, 23, 59, 59, 999), RAW: [1] },
      { ID: 2, AMOUNT: null, SCORE: null, OK: null, NAME: null, DAY: null, TS: null, RAW: null },
    ]);
  });
});

describe('ASOF JOIN ... MATCH_CONDITION on the emulator', () => {
  beforeAll(async () => {
    await query('create or replace table spine (id int, k text, t timestamp_ntz)');
    await query('create or replace table feature (k text, t timestamp_ntz, v int)');
    // Times are seconds past 2024-01-01 00:00:00.
    await query(
      'insert into spine values ' +
        [
          [1, 'a', 10], // equal to a feature time: matches it (>=)
          [2, 'a', 20], // between 15 and 25: the one at 15
          [3, 'a', 5], // before every feature of a: no match, kept with NULLs
          [4, 'b', 15], // equal to b's first
          [5, 'c', 100], // no feature rows for c at all: kept with NULLs
          [6, 'a', 20], // the same key and time as row 2: the same match
        ]
          .map(([id, k, s]) => `(${id}, '${k}', dateadd(second, ${s}, '2024-01-01'::timestamp_ntz))`)
          .join(', '),
    );
    await query(
      'insert into feature values ' +
        [
          ['a', 8, 1],
          ['a', 10, 2],
          ['a', 15, 3],
          ['a', 25, 4],
          ['b', 15, 10],
          ['b', 16, 11],
        ]
          .map(([k, s, v]) => `('${k}', dateadd(second, ${s}, '2024-01-01'::timestamp_ntz), ${v})`)
          .join(', '),
    );
  });

  it('keeps every left row, matches the latest right row at or before it per key (ties included)', async () => {
    const rows = await query('select s.id, s.k, f.v from spine as s asof join feature as f match_condition(s.t >= f.t) on s.k = f.k order by s.id');
    expect(rows).toEqual([
      { ID: 1, K: 'a', V: 2 },
      { ID: 2, K: 'a', V: 3 },
      { ID: 3, K: 'a', V: null },
      { ID: 4, K: 'b', V: 10 },
      { ID: 5, K: 'c', V: null },
      { ID: 6, K: 'a', V: 3 },
    ]);
  });

  it('honours a strict match condition (>): a tie no longer matches', async () => {
    const rows = await query('select s.id, f.v from spine s asof join feature f match_condition(s.t > f.t) on s.k = f.k order by s.id');
    expect(rows).toEqual([
      { ID: 1, V: 1 },
      { ID: 2, V: 3 },
      { ID: 3, V: null },
      { ID: 4, V: null },
      { ID: 5, V: null },
      { ID: 6, V: 3 },
    ]);
  });

  it('matches across all right rows when there is no ON (no keys)', async () => {
    const rows = await query('select s.id, f.v from spine s asof join feature f match_condition(s.t >= f.t) order by s.id');
    // Right rows in time order: 8:1, 10:2, 15:3 and 15:10 (a tie on time), 16:11, 25:4.
    expect(rows.filter((r) => r.ID !== 4)).toEqual([
      { ID: 1, V: 2 },
      { ID: 2, V: 11 },
      { ID: 3, V: null },
      { ID: 5, V: 4 },
      { ID: 6, V: 11 },
    ]);
    // Row 4 (t=15) ties two right rows at 15; Snowflake and DuckDB both pick one, unspecified which.
    expect([3, 10]).toContain(rows.find((r) => r.ID === 4)!.V);
  });

  it('matches on several keys, with the right side in a subquery', async () => {
    const rows = await query(
      'select s.id, f.v from spine s asof join (select k, k as k2, t, v from feature) f match_condition(s.t >= f.t) on s.k = f.k and s.k = f.k2 order by s.id',
    );
    expect(rows.map((r) => r.V)).toEqual([2, 3, null, 10, null, 3]);
  });
});

describe('the Snowflake functions our dialect emits (core/sql/snowflake-dialect.ts), on hand-computed values', () => {
  it('truncates to partitions, formats partition keys and JSON timestamps, shifts and ticks instants', async () => {
    await query('create or replace table instants ("t" timestamp_tz)');
    await query("insert into instants values ('2024-03-10 02:30:00.123456+00:00')");
    const [row] = (await query(
      `select date_trunc('DAY', convert_timezone('UTC', "t")) as day_start, ` +
        `'day=' || to_varchar(convert_timezone('UTC', "t"), 'YYYY-MM-DD') as day_key, ` +
        `'hour=' || to_varchar(convert_timezone('UTC', "t"), 'YYYY-MM-DD"T"HH24') as hour_key, ` +
        `to_varchar(convert_timezone('UTC', "t"), 'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"') as json_ms, ` +
        `to_varchar(convert_timezone('UTC', "t"), 'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"') as json_us, ` +
        `dateadd(second, -90, "t") as shifted, date_part(epoch_microsecond, "t") as micros, date_part(nanosecond, "t") % 1000000 as sub_ms ` +
        'from instants',
    )) as Array<Record<string, unknown>>;
    expect({ ...row, DAY_START: (row!.DAY_START as Date).getTime(), SHIFTED: (row!.SHIFTED as Date).getTime() }).toEqual({
      DAY_START: Date.UTC(2024, 2, 10),
      DAY_KEY: 'day=2024-03-10',
      HOUR_KEY: 'hour=2024-03-10T02',
      JSON_MS: '2024-03-10T02:30:00.123Z',
      JSON_US: '2024-03-10T02:30:00.123456Z',
      SHIFTED: Date.UTC(2024, 2, 10, 2, 28, 30, 123),
      MICROS: 1_710_037_800_123_456,
      SUB_MS: 456_000,
    });
  });

  it('builds JSON arrays with JSON nulls in place, and turns NaN into NULL', async () => {
    expect(
      await query(
        "select to_json(array_construct(coalesce(to_variant(1), parse_json('null')), coalesce(to_variant(null), parse_json('null')), coalesce(to_variant('x'), parse_json('null')))) as j, " +
          "case when 'NaN'::float in ('NaN'::float, 'inf'::float, '-inf'::float) then null else 1 end as nan_value",
      ),
    ).toEqual([{ J: '[1,null,"x"]', NAN_VALUE: null }]);
  });

  it('keeps a key bucket in [0, chunks) with the double MOD over a signed HASH', async () => {
    const rows = await query("select mod(mod(hash(k), 8) + 8, 8) as b from (select 'k' || range as k from range(0, 200)) as keys");
    expect(rows).toHaveLength(200);
    expect(rows.every((r) => Number.isInteger(r.B) && (r.B as number) >= 0 && (r.B as number) < 8)).toBe(true);
  });
});

describe('session settings and errors', () => {
  it("accepts ALTER SESSION SET TIMEZONE = 'UTC' and QUERY_TAG, alone and together, and UNSET QUERY_TAG", async () => {
    expect(await query("alter session set timezone = 'UTC'")).toEqual([{ STATUS: 'Statement executed successfully.' }]);
    expect(await query("alter session set query_tag = 'flywheel project=p object=o run=r'")).toEqual([{ STATUS: 'Statement executed successfully.' }]);
    expect(await query("alter session set timezone = 'UTC', query_tag = 'x', statement_timeout_in_seconds = 3600")).toEqual([
      { STATUS: 'Statement executed successfully.' },
    ]);
    expect(await query('alter session unset query_tag')).toEqual([{ STATUS: 'Statement executed successfully.' }]);
  });

  it('records each statement with its QUERY_TAG (sent with it, else the session\'s) in INFORMATION_SCHEMA.QUERY_HISTORY', async () => {
    const own = await connect({ database: 'EMULATOR_TEST', schema: 'HISTORY' });
    const run = (sqlText: string, parameters?: Record<string, string>) =>
      new Promise<Row[]>((resolve, reject) =>
        own.execute({ sqlText, ...(parameters ? { parameters } : {}), complete: (e, _s, rows) => (e ? reject(e) : resolve((rows ?? []) as Row[])) }),
      );
    try {
      const tag = JSON.stringify({ flywheel: 1, project: 'p', run: 'r1' });
      await run('select 1', { QUERY_TAG: tag });
      await run('select 2', { QUERY_TAG: tag });
      await run("alter session set query_tag = 'session-tag'");
      await run('select 3');
      await run('select * from no_such_history_table').catch(() => undefined);
      await run('alter session unset query_tag');
      await run('select 4');
      expect(await run('select query_text, query_tag, execution_status, error_code from table(information_schema.query_history_by_session()) order by start_time')).toEqual([
        { QUERY_TEXT: 'select 1', QUERY_TAG: tag, EXECUTION_STATUS: 'SUCCESS', ERROR_CODE: null },
        { QUERY_TEXT: 'select 2', QUERY_TAG: tag, EXECUTION_STATUS: 'SUCCESS', ERROR_CODE: null },
        { QUERY_TEXT: "alter session set query_tag = 'session-tag'", QUERY_TAG: '', EXECUTION_STATUS: 'SUCCESS', ERROR_CODE: null },
        { QUERY_TEXT: 'select 3', QUERY_TAG: 'session-tag', EXECUTION_STATUS: 'SUCCESS', ERROR_CODE: null },
        { QUERY_TEXT: 'select * from no_such_history_table', QUERY_TAG: 'session-tag', EXECUTION_STATUS: 'FAILED_WITH_ERROR', ERROR_CODE: '002003' },
        { QUERY_TEXT: 'alter session unset query_tag', QUERY_TAG: 'session-tag', EXECUTION_STATUS: 'SUCCESS', ERROR_CODE: null },
        { QUERY_TEXT: 'select 4', QUERY_TAG: '', EXECUTION_STATUS: 'SUCCESS', ERROR_CODE: null },
      ]);
      // Counting a run's statements by tag, across sessions; PARSE_JSON('') is NULL as on Snowflake.
      expect(
        await run(
          "select count(*) as n from table(information_schema.query_history(result_limit => 1000)) where query_tag like '{%' and parse_json(query_tag):run::varchar = 'r1'",
        ),
      ).toEqual([{ N: 2 }]);
      expect(await run("select parse_json('') as empty, parse_json('  ') as blank")).toEqual([{ EMPTY: null, BLANK: null }]);
    } finally {
      await destroy(own);
    }
  });

  it('refuses a time zone other than UTC, naming it', async () => {
    await expect(query("alter session set timezone = 'America/Los_Angeles'")).rejects.toMatchObject({
      code: '009999',
      message: expect.stringContaining("TIMEZONE = 'America/Los_Angeles' is not supported"),
    });
  });

  it('surfaces a SQL error with its Snowflake code and SQL state', async () => {
    const error = (await query('select * from no_such_table').catch((e: unknown) => e)) as SnowflakeError;
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('002003');
    expect(error.sqlState).toBe('42S02');
    expect(error.message).toContain('NO_SUCH_TABLE');
  });

  it('fails a statement fakesnow cannot run at once, as a SQL error, instead of an HTTP 500 the driver retries', async () => {
    const started = Date.now();
    const error = (await query("select array_construct(1, 'x') as mixed").catch((e: unknown) => e)) as SnowflakeError;
    expect(error).toBeInstanceOf(Error);
    expect(typeof error.code).toBe('string');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('signs in with a key pair (SNOWFLAKE_JWT) or an OAuth token too, checking neither (EMULATOR_CANNOT.authentication)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const { password: _password, ...options } = emulator.connectionOptions({ database: 'EMULATOR_TEST', schema: 'AUTH' });
    for (const credentials of [{ authenticator: 'SNOWFLAKE_JWT', privateKey }, { authenticator: 'OAUTH', token: 'not-checked' }]) {
      const signedIn = snowflake.createConnection({ ...options, ...credentials });
      await new Promise<void>((resolve, reject) => signedIn.connect((error) => (error ? reject(error) : resolve())));
      try {
        expect(await query('select 1 as one', signedIn)).toEqual([{ ONE: 1 }]);
      } finally {
        await destroy(signedIn);
      }
    }
    expect(EMULATOR_CANNOT.authentication).toContain('not checked');
  });

  it('gives each connection the database and schema it names, created at login', async () => {
    const other = await connect({ database: 'OTHER_DB', schema: 'OTHER_SCHEMA' });
    try {
      expect(await query('select current_database() as d, current_schema() as s', other)).toEqual([{ D: 'OTHER_DB', S: 'OTHER_SCHEMA' }]);
      await query('create table only_here (x int)', other);
      await query('insert into only_here values (7)', other);
      // The same emulator, another connection: tables are shared, addressed by database and schema.
      expect(await query('select x from other_db.other_schema.only_here')).toEqual([{ X: 7 }]);
    } finally {
      await destroy(other);
    }
  });
});

describe('binds, streaming and asynchronous statements', () => {
  it('binds positional values, with ?::type casts and NULLs among them', async () => {
    const rows = await new Promise<Row[]>((resolve, reject) =>
      connection.execute({
        sqlText: 'select ?::int as a, ?::text as b, ?::timestamp_ntz as c, ? as d, ?::boolean as e, ?::float as f, ?::timestamp_ntz as g',
        binds: [5, "it's", '2024-01-01 00:00:01.5', null, true, 0.5, '1969-12-31 23:59:59.75'],
        complete: (error, _statement, result) => (error ? reject(error) : resolve((result ?? []) as Row[])),
      }),
    );
    const [row] = rows as Array<Record<string, unknown>>;
    expect({ ...row, C: (row!.C as Date).getTime(), G: (row!.G as Date).getTime() }).toEqual({
      A: 5,
      B: "it's",
      C: Date.UTC(2024, 0, 1, 0, 0, 1, 500),
      D: null,
      E: true,
      F: 0.5,
      G: -250,
    });
  });

  it('binds non-integer numbers as floats and an integer in exponent form as that integer', async () => {
    const rows = await new Promise<Row[]>((resolve, reject) =>
      connection.execute({
        sqlText: 'select ? as a, ? as b, ? as c, ? + 1 as d',
        binds: [2.5, -0.125, 1e21, 0.5],
        complete: (error, _statement, result) => (error ? reject(error) : resolve((result ?? []) as Row[])),
      }),
    );
    expect(rows).toEqual([{ A: 2.5, B: -0.125, C: 1e21, D: 1.5 }]);
  });

  it('inserts an array binding (many rows, one statement) and reports the rows inserted', async () => {
    await query('create or replace table bound (id int, name text)');
    const inserted = await new Promise<Row[]>((resolve, reject) =>
      connection.execute({
        sqlText: 'insert into bound values (?, ?)',
        binds: [
          [1, 'a'],
          [2, null],
          [3, 'c'],
        ],
        complete: (error, _statement, result) => (error ? reject(error) : resolve((result ?? []) as Row[])),
      }),
    );
    expect(inserted).toEqual([{ 'number of rows inserted': 3 }]);
    expect(await query('select * from bound order by id')).toEqual([
      { ID: 1, NAME: 'a' },
      { ID: 2, NAME: null },
      { ID: 3, NAME: 'c' },
    ]);
  });

  it('streams a result row by row (2,500 rows: count and sum exact)', async () => {
    const statement = connection.execute({ sqlText: 'select range as x from range(0, 2500)', streamResult: true });
    let count = 0;
    let sum = 0;
    await new Promise<void>((resolve, reject) =>
      statement
        .streamRows()
        .on('data', (row: Row) => {
          count += 1;
          sum += row.X as number;
        })
        .on('end', () => resolve())
        .on('error', reject),
    );
    expect(count).toBe(2500);
    expect(sum).toBe((2499 * 2500) / 2);
  });

  it('runs an asyncExec statement in the background: RUNNING at once, then SUCCESS and its result', async () => {
    // 20,000 x 20,000 rows: long enough (a second or more) to be seen running.
    const sqlText = 'select sum(a.range + b.range) as total from range(0, 20000) a, range(0, 20000) b';
    const queryId = await new Promise<string>((resolve, reject) =>
      connection.execute({ sqlText, asyncExec: true, complete: (error, statement) => (error ? reject(error) : resolve(statement.getQueryId())) }),
    );
    expect(await connection.getQueryStatus(queryId)).toBe('RUNNING');
    const statement = await connection.getResultsFromQueryId({ queryId });
    const rows: Row[] = [];
    await new Promise<void>((resolve, reject) =>
      statement
        .streamRows()
        .on('data', (row: Row) => rows.push(row))
        .on('end', () => resolve())
        .on('error', reject),
    );
    // Each of a and b runs over 0..19,999 once per value of the other: 2 x 20,000 x (19,999 x 20,000 / 2).
    expect(rows).toEqual([{ TOTAL: 7_999_600_000_000 }]);
    expect(await connection.getQueryStatus(queryId)).toBe('SUCCESS');
  });

  // 100,000 x 100,000 rows: many seconds of work, cancelled after 300 ms.
  const endless = 'select sum(a.range + b.range) as total from range(0, 100000) a, range(0, 100000) b';

  it('cancels a running statement (statement.cancel): it fails at once with 000604, and a finished one answers 000605', async () => {
    const started = Date.now();
    const outcome = new Promise<SnowflakeError | undefined>((resolve) => {
      const statement = connection.execute({ sqlText: endless, complete: (error) => resolve(error ?? undefined) });
      setTimeout(() => statement.cancel(() => undefined), 300);
    });
    const error = await outcome;
    expect(error?.code).toBe('000604');
    expect(error?.message).toContain('SQL execution canceled');
    expect(Date.now() - started).toBeLessThan(5_000);

    const finished = await new Promise<ReturnType<Connection['execute']>>((resolve, reject) => {
      const statement = connection.execute({ sqlText: 'select 1', complete: (e) => (e ? reject(e) : resolve(statement)) });
    });
    const late = await new Promise<SnowflakeError | undefined>((resolve) => finished.cancel((e) => resolve(e ?? undefined)));
    expect(late?.code).toBe('000605');
  }, 60_000);

  it('cancels an asyncExec statement with SYSTEM$CANCEL_QUERY from another session', async () => {
    const queryId = await new Promise<string>((resolve, reject) =>
      connection.execute({ sqlText: endless, asyncExec: true, complete: (error, statement) => (error ? reject(error) : resolve(statement.getQueryId())) }),
    );
    const other = await connect({ database: 'EMULATOR_TEST', schema: 'TYPES' });
    try {
      const started = Date.now();
      expect(
        await new Promise<Row[]>((resolve, reject) =>
          other.execute({ sqlText: 'select system$cancel_query(?) as r', binds: [queryId], complete: (e, _s, rows) => (e ? reject(e) : resolve((rows ?? []) as Row[])) }),
        ),
      ).toEqual([{ R: `query [${queryId}] terminated.` }]);
      const error = (await connection.getResultsFromQueryId({ queryId }).catch((e: unknown) => e)) as SnowflakeError;
      expect(error.code).toBe('000604');
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await connection.getQueryStatus(queryId)).toBe('FAILED_WITH_ERROR');
      expect(await query(`select system$cancel_query('${queryId}') as r`, other)).toEqual([{ R: 'Identified SQL statement is not currently executing.' }]);
    } finally {
      await destroy(other);
    }
  }, 60_000);

  it('reports an asyncExec statement that fails with its SQL code', async () => {
    const queryId = await new Promise<string>((resolve, reject) =>
      connection.execute({ sqlText: 'select * from no_such_async_table', asyncExec: true, complete: (error, statement) => (error ? reject(error) : resolve(statement.getQueryId())) }),
    );
    const error = (await connection.getResultsFromQueryId({ queryId }).catch((e: unknown) => e)) as SnowflakeError;
    expect(error.code).toBe('002003');
    expect(error.message).toContain('NO_SUCH_ASYNC_TABLE');
    expect(await connection.getQueryStatus(queryId)).toBe('FAILED_WITH_ERROR');
  });
});

describe('internal stages on the emulator', () => {
  let folder: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'flywheel-emulator-stage-'));
    const instance = await DuckDBInstance.create(':memory:');
    const duck = await instance.connect();
    const file = join(folder, 'part-0.parquet').replaceAll("'", "''");
    await duck.run(
      `copy (select * from (values (1::bigint, 'a', '2024-01-01 00:00:01.5'::timestamp, 1.25::decimal(10,2)), (2, null, null, null)) as v(id, name, ts, amount)) to '${file}' (format parquet)`,
    );
    duck.closeSync();
    instance.closeSync();
  });

  afterAll(async () => {
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('PUTs a file, lists it, and COPYs it INTO a table by column name, typed, exactly once', async () => {
    await query('create or replace stage landing');
    const put = await query(`put 'file://${join(folder, 'part-0.parquet')}' @landing/run-1/ auto_compress = false`);
    expect(put).toMatchObject([{ source: 'part-0.parquet', target: 'part-0.parquet', status: 'UPLOADED' }]);
    expect((await query('list @landing')).map((r) => r.name)).toEqual(['landing/run-1/part-0.parquet']);

    await query('create or replace table landed (id int, name text, ts timestamp_ntz, amount number(10,2))');
    const copy = 'copy into landed from @landing/run-1/ file_format = (type = parquet) match_by_column_name = case_insensitive';
    expect((await query(copy)).map((r) => [r.file, r.status, r.rows_loaded])).toEqual([['landing/run-1/part-0.parquet', 'LOADED', 2]]);
    // Snowflake's load metadata: the same file again is skipped, not loaded twice.
    expect((await query(copy)).map((r) => [r.file, r.status, r.rows_loaded])).toEqual([['landing/run-1/part-0.parquet', 'LOAD_SKIPPED', 0]]);

    const rows = (await query('select * from landed order by id')) as Array<Record<string, unknown>>;
    expect(rows.map((r) => ({ ...r, TS: (r.TS as Date | null)?.getTime() ?? null }))).toEqual([
      { ID: 1, NAME: 'a', TS: Date.UTC(2024, 0, 1, 0, 0, 1, 500), AMOUNT: 1.25 },
      { ID: 2, NAME: null, TS: null, AMOUNT: null },
    ]);
  });

  it("COPYs the files FILES = (...) names from a stage path", async () => {
    await query('create or replace table landed_named (id int, name text, ts timestamp_ntz, amount number(10,2))');
    const result = await query(
      "copy into landed_named from @landing/run-1/ files = ('part-0.parquet') file_format = (type = parquet) match_by_column_name = case_insensitive",
    );
    expect(result.map((r) => [r.file, r.status, r.rows_loaded])).toEqual([['landing/run-1/part-0.parquet', 'LOADED', 2]]);
    expect(await query('select count(*) as n from landed_named')).toEqual([{ N: 2 }]);
  });

  it('reads staged Parquet and gzipped JSON lines with SELECT $1:"key"::type FROM @stage/path/ (FILE_FORMAT => ...)', async () => {
    await query('create or replace stage "flywheel_stage"');
    await query('create or replace file format "flywheel_parquet" type = parquet');
    await query('create or replace file format "flywheel_json_lines" type = json compression = auto');
    await query(`put 'file://${join(folder, 'part-0.parquet')}' @"flywheel_stage"/labels-1/ auto_compress = false overwrite = true`);
    await writeFile(join(folder, 'events.jsonl'), '{"id": 3, "name": "c", "ts": "2024-01-02T00:00:00.250Z"}\n{"id": 4, "Name": "not name"}\n');
    await writeFile(join(folder, 'more.jsonl.gz'), gzipSync('{"id": 5, "name": "e"}\n'));
    await query(`put 'file://${join(folder, 'events.jsonl')}' @"flywheel_stage"/logs-1/ auto_compress = true overwrite = true`);
    await query(`put 'file://${join(folder, 'more.jsonl.gz')}' @"flywheel_stage"/logs-1/ auto_compress = true overwrite = true`);

    const parquet = (await query(
      'select $1:"id"::number(19,0) as "id", $1:"name"::varchar as "name", $1:"ts"::timestamp_tz as "ts", $1:"amount"::float as "amount" ' +
        `from @"flywheel_stage"/labels-1/ (file_format => '"flywheel_parquet"') order by "id"`,
    )) as Array<Record<string, unknown>>;
    expect(parquet.map((r) => ({ ...r, ts: (r.ts as Date | null)?.getTime() ?? null }))).toEqual([
      { id: 1, name: 'a', ts: Date.UTC(2024, 0, 1, 0, 0, 1, 500), amount: 1.25 },
      { id: 2, name: null, ts: null, amount: null },
    ]);

    const json = (await query(
      'select s.$1:"id"::number(19,0) as "id", s.$1:"name"::varchar as "name", s.$1:"ts"::timestamp_tz as "ts" ' +
        `from @"flywheel_stage"/logs-1/ (file_format => '"flywheel_json_lines"') as s order by "id"`,
    )) as Array<Record<string, unknown>>;
    // Keys are case-sensitive: "Name" is not "name".
    expect(json.map((r) => ({ ...r, ts: (r.ts as Date | null)?.getTime() ?? null }))).toEqual([
      { id: 3, name: 'c', ts: Date.UTC(2024, 0, 2, 0, 0, 0, 250) },
      { id: 4, name: null, ts: null },
      { id: 5, name: 'e', ts: null },
    ]);

    expect(await query(`select $1:"id"::number(19,0) as "id" from @"flywheel_stage"/nothing-here/ (file_format => '"flywheel_parquet"')`)).toEqual([]);
  });

  it('REMOVEs the files under a stage path, answering name and result', async () => {
    expect(await query('remove @"flywheel_stage"/logs-1/')).toEqual([
      { name: 'flywheel_stage/logs-1/events.jsonl.gz', result: 'removed' },
      { name: 'flywheel_stage/logs-1/more.jsonl.gz', result: 'removed' },
    ]);
    expect(await query('remove @"flywheel_stage"/logs-1/')).toEqual([]);
    expect((await query('list @"flywheel_stage"')).map((r) => r.name)).toEqual(['flywheel_stage/labels-1/part-0.parquet']);
  });

  it('refuses a staged read it does not emulate, naming it (EMULATOR_CANNOT.selectFromStage)', async () => {
    await expect(query(`select $1 from @"flywheel_stage"/labels-1/ (file_format => '"flywheel_parquet"')`)).rejects.toMatchObject({
      code: '009999',
      message: expect.stringContaining('Snowflake emulator: reading @"flywheel_stage"/labels-1/ other than by $1:"key"'),
    });
  });

  it('refuses an unload to a stage at once with a SQL error, never pretending (EMULATOR_CANNOT.unloadToStage)', async () => {
    const error = (await query("copy into @landing/out/ from (select 1 as x) file_format = (type = parquet)").catch((e: unknown) => e)) as SnowflakeError;
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('261000');
    expect(EMULATOR_CANNOT.unloadToStage).toContain('COPY INTO @stage');
  });
});

describe('keys', () => {
  it('accepts PRIMARY KEY ... RELY and UNIQUE ... RELY in DDL, and SHOW PRIMARY KEYS lists the key', async () => {
    await query('create or replace table keyed (k text, t timestamp_ntz, v int, primary key (k, t) rely)');
    await query('create or replace table keyed_columns (k text primary key rely, u int unique rely, w int, constraint w_unique unique (w) norely)');
    await query('create or replace table keyed_later (k text, t timestamp_ntz)');
    await query('alter table keyed_later add constraint keyed_later_pk primary key (k, t) rely');
    const keys = await query('show primary keys in table keyed');
    expect(keys.map((r) => [r.table_name, r.column_name])).toEqual([
      ['KEYED', 'K'],
      ['KEYED', 'T'],
    ]);
    // fakesnow answers rely = 'false' whatever the DDL said: EMULATOR_CANNOT.relyKeys.
    expect(keys.map((r) => r.rely)).toEqual(['false', 'false']);
  });

  it('enforces a primary key where Snowflake would not (EMULATOR_CANNOT.unenforcedPrimaryKeys)', async () => {
    await query("insert into keyed values ('a', '2024-01-01', 1)");
    await expect(query("insert into keyed values ('a', '2024-01-01', 2)")).rejects.toMatchObject({ code: '261000' });
    expect(EMULATOR_CANNOT.unenforcedPrimaryKeys).toContain('DuckDB enforces');
  });
});

describe("the emulator's environment and wire format", () => {
  it('imports fakesnow 0.12.1 with snowflake-connector-python below 5, at the pinned versions', async () => {
    const python = await ensureFakesnow();
    const result = spawnSync(
      python,
      ['-c', "import importlib.metadata as m; print(' '.join(m.version(p) for p in ['fakesnow', 'snowflake-connector-python', 'duckdb', 'sqlglot', 'pyarrow']))"],
      { encoding: 'utf8' },
    );
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('0.12.1 4.8.1 2.0.1 30.22.0 26.0.1');
  });

  it('encodes each type as the exact string of Snowflake JSON format', async () => {
    const python = await ensureFakesnow();
    const script = [
      'import datetime, decimal, json, sys',
      `sys.path.insert(0, ${JSON.stringify(snowflakeEmulatorDir())})`,
      'from json_rowset import encode',
      'def col(kind, scale=0): return {"type": kind, "scale": scale, "name": "c"}',
      'cases = [',
      '  (decimal.Decimal("12.5"), col("fixed", 2)), (-42, col("fixed")), (7, col("fixed", 3)),',
      '  (0.1, col("real")), (float("inf"), col("real")), (float("-inf"), col("real")), (float("nan"), col("real")), (1e100, col("real")),',
      '  (True, col("boolean")), (False, col("boolean")),',
      '  (datetime.date(1969, 12, 31), col("date")), (datetime.date(2024, 2, 29), col("date")),',
      '  (3723000000001, col("time", 9)),',
      '  ({"epoch": -2, "fraction": 500000000}, col("timestamp_ntz", 9)), ({"epoch": 1, "fraction": 123456789}, col("timestamp_ntz", 3)),',
      '  ({"epoch": 0, "fraction": 0, "timezone": 1440}, col("timestamp_tz", 9)), ({"epoch": None, "fraction": None}, col("timestamp_ntz", 9)),',
      '  (b"\\xca\\xfe\\x00", col("binary")), (\'{"a":1}\', col("variant")), ({"a": [1]}, col("object")), ([1, "x"], col("array")),',
      '  ("héllo", col("text")), (None, col("fixed")),',
      ']',
      'print(json.dumps([encode(v, c) for v, c in cases]))',
    ].join('\n');
    const result = spawnSync(python, ['-c', script], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual([
      '12.50',
      '-42',
      '7.000',
      '0.1',
      'Infinity',
      '-Infinity',
      'NaN',
      '1e+100',
      '1',
      '0',
      '-1',
      // 2024-01-01 is day 54 x 365 + 13 leap days = 19,723; then 31 + 28 days to Feb 29.
      '19782',
      '3723.000000001',
      '-1.500000000',
      '1.123',
      '0.000000000 1440',
      null,
      'CAFE00',
      '{"a":1}',
      '{"a":[1]}',
      '[1,"x"]',
      'héllo',
      null,
    ]);
  });

  it('fails naming what to install when there is no Python to build it from', async () => {
    const root = await mkdtemp(join(tmpdir(), 'flywheel-fakesnow-'));
    try {
      await mkdir(snowflakeEmulatorDir(root), { recursive: true });
      await copyFile(join(snowflakeEmulatorDir(), 'requirements.txt'), join(snowflakeEmulatorDir(root), 'requirements.txt'));
      const attempt = ensureFakesnow({ repoRoot: root, env: { ...process.env, FLYWHEEL_PYTHON: join(root, 'no-python3') } });
      await expect(attempt).rejects.toBeInstanceOf(PythonVenvError);
      await expect(attempt).rejects.toThrow(
        `fakesnow (the Snowflake emulator): no Python 3 with venv and ensurepip to build it from (tried \`${join(root, 'no-python3')}\` from FLYWHEEL_PYTHON). ` +
          'Install CPython 3.11, 3.12 or 3.13 with venv (Debian: apt-get install python3 python3-venv), or set FLYWHEEL_PYTHON=/path/to/python3.',
      );
      await expect(ensureFakesnow({ repoRoot: root, install: false })).rejects.toThrow(
        `fakesnow (the Snowflake emulator): not installed in ${join(root, '.tools', 'fakesnow')}; run \`npx tsx scripts/ensure-fakesnow.ts\``,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
