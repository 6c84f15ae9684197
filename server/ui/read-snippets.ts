/**
 * The code that reads exactly one version of a dataset: the Parquet files its index lists, no more
 * (a file another run is staging is never read). Pure: built from the manifests' file URIs.
 *
 * `file://` URIs are written as local paths; `s3://` ones as they are (pandas and polars read them
 * through s3fs or their own S3 support, DuckDB through its httpfs extension).
 */
export interface ReadSnippets {
  readonly python: string;
  readonly typescript: string;
}

export function readSnippets(fileUris: readonly string[]): ReadSnippets {
  const paths = fileUris.map(pathOf);
  const pyList = paths.length === 0 ? '[]' : `[\n${paths.map((p) => `    ${JSON.stringify(p)},`).join('\n')}\n]`;
  const tsList = paths.length === 0 ? '[]' : `[\n${paths.map((p) => `  ${singleQuoted(p)},`).join('\n')}\n]`;
  const python = [
    'import pandas as pd',
    '',
    `files = ${pyList}`,
    'df = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)',
    '',
    '# or with polars',
    'import polars as pl',
    'df = pl.read_parquet(files)',
    '',
  ].join('\n');
  const typescript = [
    "import { DuckDBInstance } from '@duckdb/node-api';",
    '',
    `const files = ${tsList};`,
    "const connection = await (await DuckDBInstance.create(':memory:')).connect();",
    "const list = files.map((f) => `'${f.replaceAll(\"'\", \"''\")}'`).join(', ');",
    'const reader = await connection.runAndReadAll(`SELECT * FROM read_parquet([${list}])`);',
    'const rows = reader.getRowObjectsJson();',
    '',
  ].join('\n');
  return { python, typescript };
}

function pathOf(uri: string): string {
  if (!uri.startsWith('file://')) return uri;
  return decodeURIComponent(new URL(uri).pathname);
}

function singleQuoted(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
