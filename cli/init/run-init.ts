import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { openDuckDBEngine } from '../../connectors/offline/duckdb/duckdb-engine.ts';
import type { OfflineEngine } from '../../connectors/offline/offline-engine.ts';
import { identifierProblem } from '../../core/identifiers.ts';
import { sql } from '../../core/sql/compiled-query.ts';
import { dataInputsFromFiles, describeDataInputs, type DataInput } from './data-inputs.ts';
import { flywheelVersion, typescriptVersion } from './flywheel-version.ts';
import { InitError } from './init-error.ts';
import { proposeProject, toIdentifier, type ProjectProposal } from './propose-project.ts';
import { renderProject } from './render-project.ts';
import { SAMPLE_INPUT } from './sample-data.ts';

export interface InitOptions {
  from?: string[];
  entity?: string;
  timestamp?: string;
  name?: string;
  flywheel?: string;
  force?: boolean;
}

/** The local profile's warehouse, where CSV files and the sample are loaded (localProfile's default path). */
const WAREHOUSE_FILE = join('.flywheel', 'warehouse.duckdb');

/**
 * `flywheel init [dir]` (registered by cli/commands/init.ts, which imports this only when it runs).
 * Describes the data, proposes the project, writes its files, loads CSV files or the sample into the
 * new project's warehouse, and prints what it proposed and why.
 */
export async function runInit(dirArg: string, options: InitOptions): Promise<void> {
  const cwd = process.cwd();
  const dir = resolve(cwd, dirArg);
  checkTargetFolder(dir, relative(cwd, dir) === '' ? 'the current folder' : dirArg, options.force === true);
  const project = options.name ?? toIdentifier(basename(dir), 'project');
  const nameProblem = identifierProblem(project);
  if (nameProblem) throw new InitError('--name', `"${project}" ${nameProblem}`);

  const inputs = options.from ? dataInputsFromFiles(options.from, cwd, dir) : [SAMPLE_INPUT];
  // Described in a scratch database first: nothing is written until the proposal is complete.
  const scratch = await openDuckDBEngine({ path: ':memory:' });
  let proposal: ProjectProposal;
  let facts: SpineFacts;
  try {
    const relations = await describeDataInputs(scratch, inputs);
    proposal = proposeProject(relations, {
      ...(options.entity !== undefined ? { entityKey: options.entity } : {}),
      ...(options.timestamp !== undefined ? { timestampField: options.timestamp } : {}),
    });
    const spineInput = inputs.find((i) => i.sourceName === proposal.featureViews[0]!.source)!;
    facts = await spineFacts(scratch, spineInput, proposal);
  } finally {
    await scratch.close();
  }

  const files = renderProject(proposal, {
    project,
    packageName: toIdentifier(basename(dir), 'project').replaceAll('_', '-'),
    flywheelSpec: options.flywheel ?? `^${flywheelVersion()}`,
    typescriptSpec: typescriptVersion(),
    spineDays: facts.days,
    exampleKey: facts.exampleKey,
    loaded: inputs.flatMap((i) => (i.location.kind === 'table' && i.reload !== undefined ? [{ table: i.location.table, from: i.location.loadedFrom ?? "flywheel init's sample rows", statement: i.reload }] : [])),
  });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  await loadIntoWarehouse(join(dir, WAREHOUSE_FILE), inputs);
  process.stdout.write(formatInitReport(proposal, { project, dir: relative(cwd, dir) || '.', inputs, files: Object.keys(files) }));
}

function checkTargetFolder(dir: string, given: string, force: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new InitError(given, 'is a file, not a folder');
  const entries = readdirSync(dir).sort();
  if (entries.length > 0 && !force) {
    const shown = entries.length > 5 ? `${entries.slice(0, 5).join(', ')}, …` : entries.join(', ');
    throw new InitError(given, `is not empty (${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}: ${shown}); init writes into a new or empty folder so that it never replaces your files. Pass --force to write into it anyway`);
  }
}

interface SpineFacts {
  /** The first and last UTC day of the spine's rows; undefined when it has none. */
  readonly days: readonly [string, string] | undefined;
  /** The key of the spine's latest row, for the README's serving call. */
  readonly exampleKey: string | number | undefined;
}

async function spineFacts(engine: OfflineEngine, input: DataInput, proposal: ProjectProposal): Promise<SpineFacts> {
  const q = (name: string) => engine.dialect.identifier(name);
  const ts = `CAST(${q(proposal.trainingSet.spine.timestampField)} AS TIMESTAMPTZ)`;
  const [row] = await engine.all<{ first: string | null; last: string | null; key: string | number | null }>(sql(
    `SELECT strftime(min(${ts}), '%Y-%m-%d') AS first, strftime(max(${ts}), '%Y-%m-%d') AS last,
       arg_max(${q(proposal.entity.key)}, ${ts}) FILTER (WHERE ${q(proposal.entity.key)} IS NOT NULL) AS key
     FROM ${input.relation}`,
  ));
  return {
    days: row?.first && row.last ? [row.first, row.last] : undefined,
    exampleKey: row?.key ?? undefined,
  };
}

/** Runs the inputs' loads (CSV files, the sample) in the project's local warehouse. */
async function loadIntoWarehouse(path: string, inputs: readonly DataInput[]): Promise<void> {
  const loads = inputs.flatMap((i) => (i.load ? [i.load] : []));
  if (loads.length === 0) return;
  const engine = await openDuckDBEngine({ path });
  try {
    for (const load of loads) await engine.run(sql(load));
  } finally {
    await engine.close();
  }
}

function formatInitReport(proposal: ProjectProposal, context: { project: string; dir: string; inputs: readonly DataInput[]; files: readonly string[] }): string {
  const fromWhat = context.inputs[0] === SAMPLE_INPUT
    ? `an empty warehouse, with a sample table (${SAMPLE_INPUT.relation}) so that the first commands have rows`
    : `${context.inputs.length} ${context.inputs.length === 1 ? 'file' : 'files'}`;
  const lines = [
    `Created project "${context.project}" in ${context.dir} from ${fromWhat}:`,
    ...proposal.reasons.map((r) => `  ${r}`),
    ...(proposal.leftOut.length > 0 ? ['Left out:', ...proposal.leftOut.map((l) => `  ${l}`)] : []),
    `Wrote ${context.files.join(', ')}.`,
    `Next: ${context.dir === '.' ? '' : `cd ${shellWord(context.dir)} && `}npm install && npx flywheel validate (README.md has the commands after that).`,
  ];
  return `${lines.join('\n')}\n`;
}

/** A path as one shell word: quoted when it holds anything but plain path characters. */
function shellWord(path: string): string {
  return /^[\w./-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}
