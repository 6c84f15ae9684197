import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { duckdbDialect, type Dialect } from '../core/sql/dialect.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';

// String literals per dialect. In DuckDB (standard SQL) only a quote is special, doubled; in a
// Snowflake single-quoted string a backslash starts an escape sequence (`\n`, `\'`, `\\`), so it is
// doubled as well, else `C:\new` would hold a newline and a trailing `\` would swallow the closing quote.
// Expected SQL is keyed by dialect: a new dialect fails until it is covered.

const CASES: { value: string; expected: Record<Dialect['name'], string> }[] = [
  { value: 'plain', expected: { duckdb: "'plain'", snowflake: "'plain'" } },
  { value: '', expected: { duckdb: "''", snowflake: "''" } },
  { value: "it's", expected: { duckdb: "'it''s'", snowflake: "'it''s'" } },
  { value: 'C:\\new\\table', expected: { duckdb: "'C:\\new\\table'", snowflake: "'C:\\\\new\\\\table'" } },
  { value: 'ends with \\', expected: { duckdb: "'ends with \\'", snowflake: "'ends with \\\\'" } },
  { value: "\\' OR 1=1 --", expected: { duckdb: "'\\'' OR 1=1 --'", snowflake: "'\\\\'' OR 1=1 --'" } },
  { value: '\\\\', expected: { duckdb: "'\\\\'", snowflake: "'\\\\\\\\'" } },
  { value: 'línea\nnueva', expected: { duckdb: "'línea\nnueva'", snowflake: "'línea\nnueva'" } },
];

const dialects: Record<Dialect['name'], Dialect> = { duckdb: duckdbDialect, snowflake: snowflakeDialect };

describe('Dialect.stringLiteral', () => {
  for (const [name, dialect] of Object.entries(dialects) as [Dialect['name'], Dialect][]) {
    it(`quotes strings for ${name}`, () => {
      expect(CASES.map(({ value }) => dialect.stringLiteral(value))).toEqual(CASES.map(({ expected }) => expected[name]));
    });
  }

  it('reads back every value as it was on a real DuckDB', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flywheel-literals-'));
    const engine = await openDuckDBEngine({ path: join(dir, 'warehouse.duckdb') });
    try {
      const select = CASES.map(({ value }, i) => `${duckdbDialect.stringLiteral(value)} AS v${i}`).join(', ');
      const [row] = await engine.all<Record<string, string>>(sql(`SELECT ${select}`));
      expect(CASES.map((_, i) => row![`v${i}`])).toEqual(CASES.map(({ value }) => value));
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
