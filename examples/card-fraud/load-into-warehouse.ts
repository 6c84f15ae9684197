/**
 * Copies the generated card-fraud tables (generate-data.ts writes them into a DuckDB file) into the
 * warehouse of a profile, so the example runs on Snowflake as it does on DuckDB: each table is
 * written to Parquet, staged with the engine (`PUT` into its internal stage on Snowflake), read back
 * typed through the dialect and stored as a table created without quotes, the way dbt creates its
 * models (Snowflake names it and its columns in upper case, and the sources find them in any case).
 *
 * Run it as a script, after the generator, with the profile's environment set (README, "On Snowflake"):
 *   npx tsx examples/card-fraud/load-into-warehouse.ts [--from .flywheel/warehouse.duckdb] [--profile snowflake]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createOfflineEngine } from '../../connectors/offline/create-offline-engine.ts';
import { openDuckDBEngine } from '../../connectors/offline/duckdb/duckdb-engine.ts';
import type { OfflineEngine } from '../../connectors/offline/offline-engine.ts';
import { duckdbDialect } from '../../core/sql/dialect.ts';
import { sql } from '../../core/sql/compiled-query.ts';
import { assertIdentifier } from '../../core/identifiers.ts';
import { loadConfig } from '../../runtime/load-config.ts';
import { CARD_FRAUD_TABLES, type CardFraudTable } from './generate-data.ts';

/**
 * Replaces each card-fraud table in `engine`'s session schema with the rows of the same table in the
 * DuckDB file `from`, and returns the row count of each as stored there.
 */
export async function loadCardFraudData(from: string, engine: OfflineEngine): Promise<Record<CardFraudTable, number>> {
  const scratch = mkdtempSync(join(tmpdir(), 'card-fraud-load-'));
  const source = await openDuckDBEngine({ path: from });
  const counts = {} as Record<CardFraudTable, number>;
  try {
    for (const table of CARD_FRAUD_TABLES) {
      const file = join(scratch, `${table}.parquet`);
      await source.run(sql(`COPY (SELECT * FROM ${assertIdentifier(table)}) TO ${duckdbDialect.stringLiteral(file)} (FORMAT PARQUET)`));
      const described = await source.all<{ column_name: string; column_type: string }>(sql(`DESCRIBE ${table}`));
      const columns = described.map(({ column_name: name, column_type: type }) => {
        const valueType = duckdbDialect.valueTypeOf(type);
        if (valueType === undefined) throw new Error(`${table}.${name}: no Flywheel type for the DuckDB type ${type}`);
        return { name: assertIdentifier(name), type: engine.dialect.columnType(valueType) };
      });
      const staged = await engine.stageFiles([file], { name: `card_fraud_${table}`, format: 'parquet' });
      try {
        // The staged read names its columns quoted, as declared; the table's are unquoted (dbt's way).
        const read = engine.dialect.readStaged(staged, columns.map((c) => [c.name, c.type] as const));
        await engine.run(sql(`CREATE OR REPLACE TABLE ${table} AS SELECT ${columns.map((c) => `${engine.dialect.identifier(c.name)} AS ${c.name}`).join(', ')} FROM ${read} AS staged`));
      } finally {
        await engine.unstageFiles(staged);
      }
      const [row] = await engine.all<Record<string, unknown>>(sql(`SELECT COUNT(*) AS ${engine.dialect.identifier('n')} FROM ${table}`));
      counts[table] = Number(row!['n']);
    }
    return counts;
  } finally {
    await source.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' }, profile: { type: 'string' } } });
  const exampleDir = fileURLToPath(new URL('.', import.meta.url));
  const config = await loadConfig({ cwd: exampleDir, profile: values.profile ?? 'snowflake' });
  const from = resolve(values.from ?? join(exampleDir, '.flywheel', 'warehouse.duckdb'));
  const engine = await createOfflineEngine(config.profile.offline);
  try {
    const counts = await loadCardFraudData(from, engine);
    for (const table of CARD_FRAUD_TABLES) process.stdout.write(`${table}: ${counts[table].toLocaleString('en-US')} rows\n`);
  } finally {
    await engine.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
