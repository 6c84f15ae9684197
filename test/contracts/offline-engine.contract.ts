/**
 * The one test suite every OfflineEngine runs (DuckDB now, Snowflake later). An implementation's
 * test file calls describeOfflineEngineContract with a factory for an engine on a fresh database; a
 * case it cannot pass is listed in `skip` with the reason, so gaps stay visible. SQL is built with
 * the engine's dialect, so the same cases run on every engine.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineQueryError } from '../../connectors/offline/engine-query-error.ts';
import type { OfflineEngine } from '../../connectors/offline/offline-engine.ts';
import { StageError } from '../../connectors/offline/stage-error.ts';
import { sql } from '../../core/sql/compiled-query.ts';
import type { ValueType } from '../../core/types.ts';

export interface OfflineEngineUnderTest {
  readonly engine: OfflineEngine;
  /** Closes the engine and removes what it wrote. */
  cleanup(): Promise<void>;
}

export const OFFLINE_ENGINE_CASES = [
  'round trips every value type exactly',
  'binds parameters by position',
  'describes the columns of a query',
  'commits a transaction',
  'rolls a failed transaction back completely',
  'keeps concurrent callers out of a transaction',
  'exports Parquet that reads back the same rows',
  'exports an empty result',
  'exports many files side by side from a working table, in the order asked',
  'removes every partial file when one of many exports fails',
  'tells a stored table from a view, with its enforced unique column sets',
  'reports failed statements with their SQL',
  'streams rows in batches, converted like all()',
  'holds the engine while a stream is read, and releases it when the loop ends early',
  'reports a failed streamed statement with its SQL',
  'stages a file of JSON lines and reads it with the declared types',
  'stages Parquet files and reads them in order with the declared types',
  'refuses to stage a file it cannot reach, naming it',
  'exports partitions in one statement, each to its own folder',
  'exports partitions in the order of their own queries, across row groups',
] as const;
export type OfflineEngineCase = (typeof OFFLINE_ENGINE_CASES)[number];

const COLUMNS: readonly (readonly [name: string, type: ValueType])[] = [
  ['id', 'int32'],
  ['big', 'int64'],
  ['ratio', 'float64'],
  ['small', 'float32'],
  ['label', 'string'],
  ['flag', 'bool'],
  ['at', 'timestamp'],
  ['day', 'date'],
];

export function describeOfflineEngineContract(
  name: string,
  makeEngine: () => Promise<OfflineEngineUnderTest>,
  options: { skip?: Partial<Record<OfflineEngineCase, string>> } = {},
): void {
  const test = (title: OfflineEngineCase, body: () => Promise<void>) => (options.skip?.[title] ? it.skip(`${title} (${options.skip[title]})`, body) : it(title, body));

  describe(`OfflineEngine contract: ${name}`, () => {
    let subject: OfflineEngineUnderTest;
    let engine: OfflineEngine;
    let scratch: string;

    beforeAll(async () => {
      subject = await makeEngine();
      engine = subject.engine;
      scratch = await mkdtemp(join(tmpdir(), 'flywheel-engine-contract-'));
    });
    afterAll(async () => {
      await subject?.cleanup();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    /** A relation over local Parquet files, read back through a stage (the warehouse may not share this disk). */
    async function stagedParquet(paths: readonly string[], columns: readonly (readonly [name: string, type: ValueType])[]): Promise<string> {
      const staged = await engine.stageFiles(paths, { name: `contract-${randomBytes(4).toString('hex')}`, format: 'parquet' });
      return engine.dialect.readStaged(staged, columns.map(([column, type]) => [column, engine.dialect.columnType(type)] as const));
    }

    /** A table with one column per Flywheel type, under a name no other case uses. */
    async function createTypedTable(): Promise<string> {
      const table = engine.dialect.identifier(`contract_${randomBytes(4).toString('hex')}`);
      const columns = COLUMNS.map(([column, type]) => `${engine.dialect.identifier(column)} ${engine.dialect.columnType(type)}`);
      await engine.run(sql(`CREATE TABLE ${table} (${columns.join(', ')})`));
      return table;
    }
    const insertSql = (table: string, rows: number) =>
      `INSERT INTO ${table} VALUES ${Array.from({ length: rows }, () => `(${COLUMNS.map(() => '?').join(', ')})`).join(', ')}`;

    test('round trips every value type exactly', async () => {
      const table = await createTypedTable();
      await engine.run(
        sql(insertSql(table, 4), [
          1, 42, 0.1, 0.5, 'plain', true, '2024-03-01T08:00:00Z', '2024-02-29',
          // An offset is an instant: 10:00 at +02:00 is 08:00 UTC. Microseconds survive.
          2, '9007199254740993', -1.5e300, -2.25, "it's ünïcode ✓ \"quoted\"", false, '2024-03-01T10:00:00.123456+02:00', '1999-12-31',
          3, -9007199254740991, Number.MIN_VALUE, 0, '', true, new Date('1969-07-20T20:17:40.5Z'), '0001-01-01',
          4, null, null, null, null, null, null, null,
        ]),
      );
      const rows = await engine.all(sql(`SELECT * FROM ${table} ORDER BY ${engine.dialect.identifier('id')}`));
      expect(rows).toEqual([
        { id: 1, big: 42, ratio: 0.1, small: 0.5, label: 'plain', flag: true, at: '2024-03-01T08:00:00.000Z', day: '2024-02-29' },
        // int64 beyond 2^53 comes back as its exact decimal string, not a rounded number.
        { id: 2, big: '9007199254740993', ratio: -1.5e300, small: -2.25, label: "it's ünïcode ✓ \"quoted\"", flag: false, at: '2024-03-01T08:00:00.123456Z', day: '1999-12-31' },
        { id: 3, big: -9007199254740991, ratio: Number.MIN_VALUE, small: 0, label: '', flag: true, at: '1969-07-20T20:17:40.500Z', day: '0001-01-01' },
        { id: 4, big: null, ratio: null, small: null, label: null, flag: null, at: null, day: null },
      ]);

      // A literal with an offset in the SQL text lands on the same instant as the parameter did.
      const literal = await engine.all(sql(`SELECT ${engine.dialect.asInstant(engine.dialect.stringLiteral('2024-03-01 10:00:00.123456+02:00'))} AS ${engine.dialect.identifier('at')}`));
      expect(literal).toEqual([{ at: '2024-03-01T08:00:00.123456Z' }]);
    });

    test('binds parameters by position', async () => {
      const rows = await engine.all(
        // Aliases are quoted: Snowflake folds unquoted ones to upper case.
        sql(`SELECT ${['s', 'i', 'f', 'b', 'n', 'big', 'injected'].map((alias) => `? AS ${engine.dialect.identifier(alias)}`).join(', ')}`, ['text', 7, 2.5, false, null, 12345678901234n, "x'); DROP TABLE t; --"]),
      );
      expect(rows).toEqual([{ s: 'text', i: 7, f: 2.5, b: false, n: null, big: 12345678901234, injected: "x'); DROP TABLE t; --" }]);

      const table = await createTypedTable();
      await engine.run(sql(insertSql(table, 2), [
        1, 10, 1, 1, 'a', true, '2024-01-01T00:00:00Z', '2024-01-01',
        2, 20, 2, 2, 'b', false, '2024-01-02T00:00:00Z', '2024-01-02',
      ]));
      const at = engine.dialect.identifier('at');
      const label = engine.dialect.identifier('label');
      // Dates, offset strings and ISO strings all compare as instants.
      for (const since of [new Date('2024-01-01T12:00:00Z'), '2024-01-01T14:00:00+02:00']) {
        expect(await engine.all(sql(`SELECT ${label} FROM ${table} WHERE ${at} > ?`, [since]))).toEqual([{ label: 'b' }]);
      }
    });

    test('describes the columns of a query', async () => {
      const table = await createTypedTable();
      const columns = await engine.describe(sql(`SELECT * FROM ${table}`));
      expect(columns.map(({ name, type }) => ({ name, type }))).toEqual(COLUMNS.map(([column, type]) => ({ name: column, type })));
      for (const column of columns) expect(column.engineType).not.toBe('');

      // Parameters are bound for the description too; the (empty) table needs no rows to be described.
      const withParameter = await engine.describe(sql(`SELECT ${engine.dialect.identifier('label')} FROM ${table} WHERE ${engine.dialect.identifier('id')} = ?`, [1]));
      expect(withParameter.map((c) => [c.name, c.type])).toEqual([['label', 'string']]);
    });

    test('commits a transaction', async () => {
      const table = await createTypedTable();
      const result = await engine.transaction(async (tx) => {
        await tx.run(sql(`INSERT INTO ${table} (${engine.dialect.identifier('id')}) VALUES (?)`, [1]));
        await tx.run(sql(`INSERT INTO ${table} (${engine.dialect.identifier('id')}) VALUES (?)`, [2]));
        return tx.all<{ n: number }>(sql(`SELECT count(*) AS ${engine.dialect.identifier('n')} FROM ${table}`));
      });
      expect(result).toEqual([{ n: 2 }]);
      expect(await engine.all(sql(`SELECT count(*) AS ${engine.dialect.identifier('n')} FROM ${table}`))).toEqual([{ n: 2 }]);
    });

    test('rolls a failed transaction back completely', async () => {
      const table = await createTypedTable();
      const id = engine.dialect.identifier('id');
      const failure = engine.transaction(async (tx) => {
        await tx.run(sql(`INSERT INTO ${table} (${id}) VALUES (?)`, [1]));
        await tx.run(sql(`UPDATE ${table} SET ${engine.dialect.identifier('label')} = ?`, ['changed']));
        throw new Error('work failed after two statements');
      });
      await expect(failure).rejects.toThrow('work failed after two statements');
      expect(await engine.all(sql(`SELECT count(*) AS ${engine.dialect.identifier('n')} FROM ${table}`))).toEqual([{ n: 0 }]);

      // A failing statement rolls back too, and the engine stays usable.
      await expect(
        engine.transaction(async (tx) => {
          await tx.run(sql(`INSERT INTO ${table} (${id}) VALUES (?)`, [2]));
          await tx.run(sql('SELECT * FROM contract_no_such_table'));
        }),
      ).rejects.toBeInstanceOf(EngineQueryError);
      expect(await engine.all(sql(`SELECT count(*) AS ${engine.dialect.identifier('n')} FROM ${table}`))).toEqual([{ n: 0 }]);
    });

    test('keeps concurrent callers out of a transaction', async () => {
      const table = await createTypedTable();
      const id = engine.dialect.identifier('id');
      const count = sql(`SELECT count(*) AS ${engine.dialect.identifier('n')} FROM ${table}`);
      let release!: () => void;
      const paused = new Promise<void>((resolve) => (release = resolve));
      let inserted!: () => void;
      const firstInsert = new Promise<void>((resolve) => (inserted = resolve));

      const failing = engine.transaction(async (tx) => {
        await tx.run(sql(`INSERT INTO ${table} (${id}) VALUES (?)`, [1]));
        inserted();
        await paused;
        await tx.run(sql(`INSERT INTO ${table} (${id}) VALUES (?)`, [2]));
        throw new Error('rolled back');
      });
      await firstInsert;
      // Started while the transaction is open: sees none of its rows, and writes none into it.
      const reading = engine.all(count);
      const writing = engine.transaction(async (tx) => tx.run(sql(`INSERT INTO ${table} (${id}) VALUES (?)`, [3])));
      release();
      await expect(failing).rejects.toThrow('rolled back');
      expect(await reading).toEqual([{ n: 0 }]);
      await writing;
      expect(await engine.all(sql(`SELECT ${id} FROM ${table}`))).toEqual([{ id: 3 }]);
    });

    test('exports Parquet that reads back the same rows', async () => {
      const table = await createTypedTable();
      await engine.run(sql(insertSql(table, 3), [
        1, '9007199254740993', 0.25, 1.5, 'a', true, '2024-03-01T10:00:00.123456+02:00', '2024-03-01',
        2, 2, null, 2.5, 'b', false, '2024-03-02T00:00:00Z', '2024-03-02',
        3, 3, 3.75, null, null, null, null, null,
      ]));
      const id = engine.dialect.identifier('id');
      const query = sql(`SELECT * FROM ${table} WHERE ${id} >= ? ORDER BY ${id}`, [1]);
      const path = join(scratch, 'exports', 'nested', 'rows.parquet');

      expect(await engine.exportParquet(query, path)).toEqual({ rowCount: 3 });
      expect(existsSync(path)).toBe(true);
      const readBack = await engine.all(sql(`SELECT * FROM ${await stagedParquet([path], COLUMNS)} ORDER BY ${id}`));
      expect(readBack).toEqual(await engine.all(query));
      expect(readBack[0]).toMatchObject({ big: '9007199254740993', at: '2024-03-01T08:00:00.123456Z', day: '2024-03-01' });
      const types = await engine.describe(sql(`SELECT * FROM ${await stagedParquet([path], COLUMNS)}`));
      expect(types.map((c) => c.type)).toEqual(COLUMNS.map(([, type]) => type));

      // Exporting again replaces the file.
      expect(await engine.exportParquet(sql(`SELECT * FROM ${table} WHERE ${id} = ?`, [2]), path)).toEqual({ rowCount: 1 });
      expect(await engine.all(sql(`SELECT count(*) AS ${engine.dialect.identifier('n')} FROM ${await stagedParquet([path], COLUMNS)}`))).toEqual([{ n: 1 }]);
    });

    test('exports an empty result', async () => {
      const table = await createTypedTable();
      const path = join(scratch, 'empty.parquet');
      expect(await engine.exportParquet(sql(`SELECT * FROM ${table}`), path)).toEqual({ rowCount: 0 });
      expect(await engine.all(sql(`SELECT count(*) AS ${engine.dialect.identifier('n')} FROM ${await stagedParquet([path], COLUMNS)}`))).toEqual([{ n: 0 }]);
    });

    test('exports many files side by side from a working table, in the order asked', async () => {
      const id = engine.dialect.identifier('n');
      const values = Array.from({ length: 10 }, (_, i) => `(${i})`).join(', ');
      const table = await engine.createWorkingTable(`contract_work_${randomBytes(4).toString('hex')}`, sql(`SELECT ${id} FROM (VALUES ${values}) AS t(${id})`));
      const exports = [3, 0, 7, 5].map((start) => ({
        query: sql(`SELECT ${id} FROM ${engine.dialect.qualified(table)} WHERE ${id} >= ? AND ${id} < ? ORDER BY ${id}`, [start, start + 3]),
        localPath: join(scratch, 'many', `from-${start}`, 'part.parquet'),
      }));
      const written: number[] = [];
      const counts = await engine.exportParquetFiles(exports, { concurrency: 3, onWritten: (index) => written.push(index) });
      expect(counts).toEqual([{ rowCount: 3 }, { rowCount: 3 }, { rowCount: 3 }, { rowCount: 3 }]);
      expect([...written].sort()).toEqual([0, 1, 2, 3]);
      for (const [index, start] of [3, 0, 7, 5].entries()) {
        const rows = await engine.all(sql(`SELECT ${id} FROM ${await stagedParquet([exports[index]!.localPath], [['n', 'int32']])}`));
        expect(rows.map((r) => r.n)).toEqual([start, start + 1, start + 2]);
      }
      await engine.run(sql(`DROP TABLE ${engine.dialect.qualified(table)}`));
    });

    test('removes every partial file when one of many exports fails', async () => {
      const folder = join(scratch, 'failing');
      const good = (i: number) => ({ query: sql(`SELECT ? AS ${engine.dialect.identifier('n')}`, [i]), localPath: join(folder, `good-${i}.parquet`) });
      const failure = await engine
        .exportParquetFiles([good(1), { query: sql('SELECT * FROM contract_missing_table'), localPath: join(folder, 'bad.parquet') }, good(2)], { concurrency: 2 })
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(EngineQueryError);
      expect(existsSync(join(folder, 'bad.parquet'))).toBe(false);
      expect((await readdir(folder)).filter((name) => name.endsWith('.partial'))).toEqual([]);
      // The engine is free again.
      expect(await engine.all(sql(`SELECT 1 AS ${engine.dialect.identifier('one')}`))).toEqual([{ one: 1 }]);
    });

    test('stages a file of JSON lines and reads it with the declared types', async () => {
      const path = join(scratch, 'staged', 'events.ndjson');
      await mkdir(join(scratch, 'staged'), { recursive: true });
      // A missing key reads as null; a key the columns do not name is ignored; text converts to the declared types.
      await writeFile(path, [
        '{"id": 2, "big": 9007199254740993, "label": "b\\\\c", "at": "2024-03-01T10:00:00.5+02:00", "extra": 1}',
        '{"id": 1, "flag": true, "day": "2024-03-02", "ratio": 0.25}',
      ].join('\n') + '\n');
      const staged = await engine.stageFiles([path], { name: `contract-json-${randomBytes(4).toString('hex')}`, format: 'jsonLines' });
      try {
        const relation = engine.dialect.readStaged(staged, COLUMNS.map(([column, type]) => [column, engine.dialect.columnType(type)] as const));
        const id = engine.dialect.identifier('id');
        expect(await engine.all(sql(`SELECT * FROM ${relation} ORDER BY ${id}`))).toEqual([
          { id: 1, big: null, ratio: 0.25, small: null, label: null, flag: true, at: null, day: '2024-03-02' },
          { id: 2, big: '9007199254740993', ratio: null, small: null, label: 'b\\c', flag: null, at: '2024-03-01T08:00:00.500Z', day: null },
        ]);
        expect((await engine.describe(sql(`SELECT * FROM ${relation}`))).map((c) => c.type)).toEqual(COLUMNS.map(([, type]) => type));
      } finally {
        await engine.unstageFiles(staged);
      }
    });

    test('stages Parquet files and reads them in order with the declared types', async () => {
      const n = engine.dialect.identifier('n');
      const paths = [join(scratch, 'spine', 'b.parquet'), join(scratch, 'spine', 'a.parquet')];
      await engine.exportParquet(sql(`SELECT CAST(? AS ${engine.dialect.columnType('int64')}) AS ${n} UNION ALL SELECT CAST(? AS ${engine.dialect.columnType('int64')})`, [5, 6]), paths[0]!);
      await engine.exportParquet(sql(`SELECT CAST(? AS ${engine.dialect.columnType('int64')}) AS ${n}`, [7]), paths[1]!);
      const relation = await stagedParquet(paths, [['n', 'int64']]);
      expect((await engine.all(sql(`SELECT ${n} FROM ${relation}`))).map((r) => r.n)).toEqual([5, 6, 7]);
      expect((await engine.describe(sql(`SELECT * FROM ${relation}`))).map((c) => [c.name, c.type])).toEqual([['n', 'int64']]);
    });

    test('refuses to stage a file it cannot reach, naming it', async () => {
      const missing = join(scratch, 'nowhere', 'seg-9.ndjson');
      const error = await engine.stageFiles([missing], { name: 'contract-missing', format: 'jsonLines' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StageError);
      expect((error as StageError).file).toBe(missing);
      expect((error as Error).message).toContain(missing);
      await expect(engine.stageFiles([], { name: 'contract-none', format: 'parquet' })).rejects.toBeInstanceOf(StageError);
    });

    test('exports partitions in one statement, each to its own folder', async () => {
      const q = engine.dialect.identifier;
      const values = [[1, 'day=2024-03-02'], [2, 'day=2024-03-01'], [3, 'day=2024-03-02'], [4, 'day=2024-03-01'], [5, 'day=2024-03-02']];
      const table = await engine.createWorkingTable(`contract_parts_${randomBytes(4).toString('hex')}`,
        sql(`SELECT CAST(${q('n')} AS ${engine.dialect.columnType('int32')}) AS ${q('n')}, ${q('k')} FROM (VALUES ${values.map(([n, k]) => `(${n}, '${k}')`).join(', ')}) AS t(${q('n')}, ${q('k')})`));
      const dir = join(scratch, 'parts');
      await mkdir(join(dir, 'day=2023-01-01'), { recursive: true }); // left over from an earlier run: replaced
      const files = await engine.exportPartitionedParquet({ query: sql(`SELECT ${q('n')}, ${q('k')} FROM ${engine.dialect.qualified(table)} ORDER BY ${q('n')} DESC`), keyColumn: 'k' }, dir);
      expect(files.map(({ partitionKey, path, rowCount }) => ({ partitionKey, path, rowCount }))).toEqual([
        { partitionKey: 'day=2024-03-01', path: join(dir, 'day=2024-03-01', 'part-00000.parquet'), rowCount: 2 },
        { partitionKey: 'day=2024-03-02', path: join(dir, 'day=2024-03-02', 'part-00000.parquet'), rowCount: 3 },
      ]);
      expect(files.every((f) => f.bytes > 0)).toBe(true);
      expect((await readdir(dir)).sort()).toEqual(['day=2024-03-01', 'day=2024-03-02']);
      // The key column is not written; rows keep the query's order within each file.
      expect(await engine.all(sql(`SELECT ${q('n')} FROM ${await stagedParquet([files[1]!.path], [['n', 'int32']])}`))).toEqual([{ n: 5 }, { n: 3 }, { n: 1 }]);
      const key = await stagedParquet([files[1]!.path], [['n', 'int32'], ['k', 'string']]);
      expect(await engine.all(sql(`SELECT count(*) AS ${q('n')} FROM ${key} WHERE ${q('k')} IS NOT NULL`)).catch(() => [{ n: 0 }])).toEqual([{ n: 0 }]);
      // No rows: no files, and the folder is empty.
      expect(await engine.exportPartitionedParquet({ query: sql(`SELECT ${q('n')}, ${q('k')} FROM ${engine.dialect.qualified(table)} WHERE ${q('n')} > 9`), keyColumn: 'k' }, dir)).toEqual([]);
      expect(await readdir(dir)).toEqual([]);
      await engine.run(sql(`DROP TABLE ${engine.dialect.qualified(table)}`));
    });

    test('exports partitions in the order of their own queries, across row groups', async () => {
      // 300,000 rows in two partitions; day=2024-03-01 holds 200,000, more than one of DuckDB's row
      // groups (122,880 rows), so a parallel PARTITION_BY write could put its second part first.
      const q = engine.dialect.identifier;
      const key = (n: string) => `CASE WHEN ${n} < 200000 THEN 'day=2024-03-01' ELSE 'day=2024-03-02' END`;
      const table = await engine.createWorkingTable(`contract_order_${randomBytes(4).toString('hex')}`,
        sql(`SELECT CAST(${q('i')} AS ${engine.dialect.columnType('int64')}) AS ${q('n')}, ${key(q('i'))} AS ${q('k')} FROM range(300000) AS t(${q('i')}) ORDER BY ${q('i')}`));
      const rows = (k: string) => sql(`SELECT ${q('n')} FROM ${engine.dialect.qualified(table)} WHERE ${q('k')} = '${k}' ORDER BY ${q('n')}`);
      const dir = join(scratch, 'ordered-parts');
      const files = await engine.exportPartitionedParquet({
        query: sql(`SELECT ${q('n')}, ${q('k')} FROM ${engine.dialect.qualified(table)}`), keyColumn: 'k',
        partitions: [{ key: 'day=2024-03-02', query: rows('day=2024-03-02') }, { key: 'day=2024-03-01', query: rows('day=2024-03-01') }, { key: 'day=2024-03-03', query: rows('day=2024-03-03') }],
      }, dir);
      // By key; the partition without rows gets no file.
      expect(files.map(({ partitionKey, path, rowCount }) => ({ partitionKey, path, rowCount }))).toEqual([
        { partitionKey: 'day=2024-03-01', path: join(dir, 'day=2024-03-01', 'part-00000.parquet'), rowCount: 200_000 },
        { partitionKey: 'day=2024-03-02', path: join(dir, 'day=2024-03-02', 'part-00000.parquet'), rowCount: 100_000 },
      ]);
      expect((await readdir(dir)).sort()).toEqual(['day=2024-03-01', 'day=2024-03-02']);
      // Each file in its query's order: every row follows the one before it in the file, and the file holds exactly its partition's rows.
      for (const [file, first, last] of [[files[0]!, 0, 199_999], [files[1]!, 200_000, 299_999]] as const) {
        const relation = await stagedParquet([file.path], [['n', 'int64']]);
        const [checked] = await engine.all(sql(`SELECT count(*) AS ${q('rows')}, min(${q('n')}) AS ${q('lo')}, max(${q('n')}) AS ${q('hi')},
          count(*) FILTER (WHERE ${q('n')} <> ${q('prev')} + 1) AS ${q('out_of_order')}
          FROM (SELECT ${q('n')}, lag(${q('n')}) OVER (ORDER BY ${q('pos')}) AS ${q('prev')} FROM (SELECT ${q('n')}, row_number() OVER () AS ${q('pos')} FROM ${relation}))`));
        expect(checked).toEqual({ rows: last - first + 1, lo: first, hi: last, out_of_order: 0 });
      }
      await engine.run(sql(`DROP TABLE ${engine.dialect.qualified(table)}`));
    });

    test('tells a stored table from a view, with its enforced unique column sets', async () => {
      const suffix = randomBytes(4).toString('hex');
      const keyed = `contract_keyed_${suffix}`;
      const id = engine.dialect.identifier;
      await engine.run(sql(`CREATE TABLE ${id(keyed)} (${id('user_id')} BIGINT, ${id('ts')} TIMESTAMPTZ, ${id('code')} VARCHAR UNIQUE, PRIMARY KEY (${id('user_id')}, ${id('ts')}))`));
      await engine.run(sql(`CREATE VIEW ${id(`contract_view_${suffix}`)} AS SELECT * FROM ${id(keyed)}`));
      const facts = await engine.tableFacts(keyed);
      expect(facts.isTable).toBe(true);
      expect(facts.uniqueColumnSets.map((set) => [...set].sort()).sort()).toEqual([['code'], ['ts', 'user_id']]);
      // Names resolve case-insensitively, qualified or not.
      expect(await engine.tableFacts(keyed.toUpperCase())).toEqual(facts);
      if (engine.dialect.name === 'duckdb') expect(await engine.tableFacts(`main.${keyed}`)).toEqual(facts);
      expect(await engine.tableFacts(`contract_view_${suffix}`)).toEqual({ isTable: false, uniqueColumnSets: [] });
      expect(await engine.tableFacts(`contract_missing_${suffix}`)).toEqual({ isTable: false, uniqueColumnSets: [] });
    });

    test('reports failed statements with their SQL', async () => {
      const statement = 'SELECT missing_column FROM contract_missing_table';
      const failure = await engine.all(sql(statement)).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(EngineQueryError);
      expect((failure as EngineQueryError).sql).toBe(statement);
      expect((failure as EngineQueryError).message).toContain(statement);
      expect((failure as EngineQueryError).message).toMatch(/contract_missing_table/);
      expect((failure as EngineQueryError).retryable).toBe(false);

      await expect(engine.run(sql('CREATE TABLE'))).rejects.toThrow(/CREATE TABLE/);
      await expect(engine.exportParquet(sql('SELECT * FROM contract_missing_table'), join(scratch, 'never.parquet'))).rejects.toBeInstanceOf(EngineQueryError);
      expect(existsSync(join(scratch, 'never.parquet'))).toBe(false);
      await expect(engine.describe(sql('SELECT * FROM contract_missing_table'))).rejects.toBeInstanceOf(EngineQueryError);
    });
    test('streams rows in batches, converted like all()', async () => {
      const table = await createTypedTable();
      const id = engine.dialect.identifier('id');
      await engine.run(sql(insertSql(table, 3), [
        1, '9007199254740993', 0.1, 0.5, "it's \"q\"", true, '2024-03-01T10:00:00.123456+02:00', '2024-02-29',
        2, -7, null, null, null, false, '2024-03-01T08:00:00Z', null,
        3, null, 2.5, -2.25, '', null, null, '1999-12-31',
      ]));
      const query = sql(`SELECT * FROM ${table} WHERE ${id} >= ? ORDER BY ${id}`, [1]);
      const batches = [];
      for await (const batch of engine.stream(query, { batchRows: 2 })) batches.push(batch);
      const names = COLUMNS.map(([column]) => column);
      expect(batches.map((b) => b.rowCount)).toEqual([2, 1]);
      for (const batch of batches) expect(batch.columns).toEqual(names);
      // Column by column, each value exactly what all() gives for it.
      const rows = batches.flatMap((batch) => Array.from({ length: batch.rowCount }, (_, r) => Object.fromEntries(names.map((name, c) => [name, batch.values[c]![r]]))));
      expect(rows).toEqual(await engine.all(query));
      expect(rows[0]).toEqual({ id: 1, big: '9007199254740993', ratio: 0.1, small: 0.5, label: "it's \"q\"", flag: true, at: '2024-03-01T08:00:00.123456Z', day: '2024-02-29' });

      // More rows than an engine chunk (DuckDB's is 2048), in batches that cut across chunks.
      const many = engine.dialect.name === 'duckdb'
        ? sql('SELECT range AS n FROM range(5000) ORDER BY n')
        : sql('SELECT SEQ4() AS n FROM TABLE(GENERATOR(ROWCOUNT => 5000)) ORDER BY n');
      const sizes: number[] = [];
      let next = 0;
      for await (const batch of engine.stream(many, { batchRows: 1500 })) {
        sizes.push(batch.rowCount);
        for (const n of batch.values[0]!) expect(n).toBe(next++);
      }
      expect(sizes).toEqual([1500, 1500, 1500, 500]);
      expect(next).toBe(5000);

      // No rows: no batches.
      const empty = [];
      for await (const batch of engine.stream(sql(`SELECT * FROM ${table} WHERE ${id} > ?`, [99]))) empty.push(batch);
      expect(empty).toEqual([]);
    });

    test('holds the engine while a stream is read, and releases it when the loop ends early', async () => {
      const table = await createTypedTable();
      const id = engine.dialect.identifier('id');
      await engine.run(sql(insertSql(table, 4), Array.from({ length: 4 }, (_, i) => [i + 1, null, null, null, null, null, null, null]).flat()));
      const order: string[] = [];
      let count: Promise<unknown> | undefined;
      for await (const batch of engine.stream(sql(`SELECT ${id} FROM ${table} ORDER BY ${id}`), { batchRows: 1 })) {
        order.push(`batch ${String(batch.values[0]![0])}`);
        // Queued while the stream holds the engine: runs only after the loop has left it.
        count ??= engine.all(sql(`SELECT count(*) AS ${engine.dialect.identifier('n')} FROM ${table}`)).then((rows) => order.push(`count ${String(rows[0]!.n)}`));
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (batch.values[0]![0] === 2) break;
      }
      await count;
      expect(order).toEqual(['batch 1', 'batch 2', 'count 4']);

      // A throw inside the loop releases it too, and the engine stays usable.
      await expect((async () => {
        for await (const _batch of engine.stream(sql(`SELECT ${id} FROM ${table}`))) throw new Error('consumer failed');
      })()).rejects.toThrow('consumer failed');
      expect(await engine.all(sql(`SELECT count(*) AS ${engine.dialect.identifier('n')} FROM ${table}`))).toEqual([{ n: 4 }]);
    });

    test('reports a failed streamed statement with its SQL', async () => {
      const statement = 'SELECT missing_column FROM contract_missing_table';
      const failure = await (async () => {
        for await (const _batch of engine.stream(sql(statement))) return 'no error';
        return 'no rows';
      })().catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(EngineQueryError);
      expect((failure as EngineQueryError).sql).toBe(statement);
      // The engine is free again.
      expect(await engine.all(sql(`SELECT 1 AS ${engine.dialect.identifier('one')}`))).toEqual([{ one: 1 }]);
    });
  });
}
