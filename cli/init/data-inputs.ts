import { existsSync } from 'node:fs';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import type { OfflineEngine } from '../../connectors/offline/offline-engine.ts';
import { sql } from '../../core/sql/compiled-query.ts';
import { duckdbDialect } from '../../core/sql/dialect.ts';
import { InitError } from './init-error.ts';
import { isKeyLike, toIdentifier, type DataLocation, type DataRelation } from './propose-project.ts';

/**
 * The data `flywheel init` starts a project from, before it is described: where each source will
 * read its rows, and the statement (if any) that loads them into the project's local DuckDB
 * warehouse. Parquet is read in place (a `parquet` source: the files keep their own schema, and a
 * glob picks up new files at the next run); CSV is loaded once into a warehouse table, so the
 * column types DuckDB guessed at init are the ones every later run reads.
 */
export interface DataInput {
  readonly label: string;
  readonly sourceName: string;
  readonly location: DataLocation;
  /** The relation DuckDB describes (after `load`, when there is one). */
  readonly relation: string;
  /** Creates the source's table in a DuckDB database (run once in memory to describe, then in the project's warehouse). */
  readonly load: string | undefined;
  /** The same statement as the project's README gives it, to run from the project folder (paths relative to it). */
  readonly reload: string | undefined;
}

const GLOB_CHARS = /[*?[\]{}]/;

/** One input per `--from` argument (a file or a glob, relative to `cwd`); paths in definitions are relative to `projectDir`. */
export function dataInputsFromFiles(args: readonly string[], cwd: string, projectDir: string): DataInput[] {
  const taken = new Set<string>();
  return args.map((arg) => {
    const absolute = resolve(cwd, arg);
    const format = /\.parquet$/i.test(arg) ? 'parquet' : /\.csv(\.gz)?$/i.test(arg) ? 'csv' : undefined;
    if (!format) throw new InitError(arg, 'is not a .parquet or .csv file; --from takes Parquet and CSV files or globs (data/*.parquet)');
    if (!GLOB_CHARS.test(arg) && !existsSync(absolute)) throw new InitError(arg, 'no such file');
    const sourceName = unique(sourceNameOf(absolute), taken);
    const path = relative(projectDir, absolute).split(sep).join('/');
    if (format === 'parquet') {
      return { label: arg, sourceName, location: { kind: 'parquet', path }, relation: duckdbDialect.readStaged({ locations: [absolute], format: 'parquet' }, []), load: undefined, reload: undefined };
    }
    const table = duckdbDialect.identifier(sourceName);
    return {
      label: arg, sourceName, location: { kind: 'table', table: sourceName, loadedFrom: path }, relation: table,
      load: `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM read_csv_auto(${duckdbDialect.stringLiteral(absolute)})`,
      reload: `CREATE OR REPLACE TABLE ${table} AS SELECT * FROM read_csv_auto(${duckdbDialect.stringLiteral(path)})`,
    };
  });
}

/** The name a file's source gets: the file name without its extension and glob characters, else its folder's. */
function sourceNameOf(absolute: string): string {
  const stem = basename(absolute).replace(/\.(parquet|csv(\.gz)?)$/i, '').replace(/[*?[\]{}]/g, '');
  const folder = basename(dirname(absolute));
  return toIdentifier(stem.replace(/[^A-Za-z0-9]/g, '') === '' ? folder : stem, 'data');
}

function unique(wanted: string, taken: Set<string>): string {
  let name = wanted;
  for (let n = 2; taken.has(name); n++) name = `${wanted}_${n}`;
  taken.add(name);
  return name;
}

/**
 * Describes each input with DuckDB (`DESCRIBE SELECT * FROM …`) and counts, for each key-like
 * column, whether a value repeats. `engine` is a scratch database: the CSV loads run in it.
 */
export async function describeDataInputs(engine: OfflineEngine, inputs: readonly DataInput[]): Promise<DataRelation[]> {
  const relations: DataRelation[] = [];
  for (const input of inputs) {
    try {
      if (input.load) await engine.run(sql(input.load));
      const columns = await engine.describe(sql(`SELECT * FROM ${input.relation}`));
      const keys = columns.filter(isKeyLike);
      const repeatedKeys: Record<string, boolean> = {};
      if (keys.length > 0) {
        const counts = keys.map((c, i) => `count(${engine.dialect.identifier(c.name)}) AS n${i}, count(DISTINCT ${engine.dialect.identifier(c.name)}) AS d${i}`);
        const [row] = await engine.all<Record<string, number | bigint>>(sql(`SELECT ${counts.join(', ')} FROM ${input.relation}`));
        keys.forEach((c, i) => (repeatedKeys[c.name] = Number(row?.[`n${i}`] ?? 0) > Number(row?.[`d${i}`] ?? 0)));
      }
      relations.push({ label: input.label, sourceName: input.sourceName, location: input.location, columns, repeatedKeys });
    } catch (error) {
      if (error instanceof InitError) throw error;
      const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      throw new InitError(input.label, `DuckDB cannot read it: ${reason}`, { cause: error });
    }
  }
  return relations;
}
