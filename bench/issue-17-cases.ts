/**
 * The cases of the issue-17 scorecard (bench/issue-17.ts): what each runs at each scale, and which of
 * its benchmark's returned figures the goals need (bench/issue-17-goals.ts). Each case runs in a
 * process of its own (this file, with `--case`), so every benchmark starts as it does on its own
 * command line: a fresh Temporal runtime, DuckDB instance and heap, and its memory figures not
 * inflated by the cases before it. The benchmark prints what it always prints; the figures go to
 * `--figures <file>` as JSON, `{ "figures": … }` or `{ "error": "…" }`.
 *
 *   node --import tsx bench/issue-17-cases.ts --case <name> --scale small|full --figures <file>
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LogApiFigures, MaterializeFigures, PeerFigure, ServingFigures, TrainingFigures } from './issue-17-goals.ts';

export type Scale = 'small' | 'full';

export const CASES = ['peers', 'training-parquet', 'training-view', 'training-table', 'training-10m', 'serving', 'log-api', 'materialize'] as const;
export type CaseName = (typeof CASES)[number];

/** What a case needs on the machine (checked before it starts; missing → its rows say "not run"). */
export const CASE_NEEDS: Record<CaseName, readonly ('temporal' | 'redis' | 'feast')[]> = {
  peers: ['temporal', 'redis', 'feast'],
  'training-parquet': ['temporal'],
  'training-view': ['temporal'],
  'training-table': ['temporal'],
  'training-10m': ['temporal'],
  serving: ['redis'],
  'log-api': [],
  materialize: ['temporal', 'redis'],
};

/** The command each case stands for, at full scale (printed with the scorecard). */
export const CASE_COMMANDS: Record<CaseName, string> = {
  peers: 'npm run bench -- --peers --scale full',
  'training-parquet': 'npx tsx bench/large-training-set.ts --scale 0.1 --source parquet --unique --check --runs 3',
  'training-view': 'npx tsx bench/large-training-set.ts --scale 0.1 --source view --unique --check --runs 3',
  'training-table': 'npx tsx bench/large-training-set.ts --scale 0.1 --source table --unique --check --runs 3',
  'training-10m': 'npx tsx bench/large-training-set.ts --scale 1 --source view --unique --memory-limit 4GB --check --runs 2',
  serving: 'npm run bench -- serving --skip-cluster',
  'log-api': 'npm run bench -- log-api',
  materialize: 'npx tsx bench/materialize.ts',
};

/** bench/materialize.ts's floor shapes, as the table names them. */
const FLOOR_SHAPES: Record<string, string> = { floorOne: 'SET … PXAT, 1 connection', floorTwo: 'SET … PXAT, 2 connections', floorScript: 'SET … PXAT, 100 to a script call' };

/** Thrown when a benchmark's own same-output check fails: no figure of that case counts. */
export class CaseCheckFailedError extends Error {}

/** Runs one case at `scale`, printing the benchmark's own lines; returns the figures the goals need. */
export async function runCase(name: CaseName, scale: Scale): Promise<unknown> {
  const full = scale === 'full';
  switch (name) {
    case 'peers': {
      const { benchPeersFeast, peerOptions, printPeerTable } = await import('./peers/feast.ts');
      const rows = await benchPeersFeast(peerOptions(full ? ['--scale', 'full'] : ['--scale', 'small', '--runs', '1', '--materialize-runs', '1', '--duration', '2']));
      printPeerTable(rows);
      return rows.map((r): PeerFigure => ({ case: r.case, flywheel: r.flywheel, feast: r.feast, advantage: r.advantage }));
    }
    case 'training-parquet':
    case 'training-view':
    case 'training-table':
      return training(name, { scale: full ? 0.1 : 0.01, runs: full ? 3 : 1, source: name === 'training-parquet' ? 'parquet' : name === 'training-view' ? 'view' : 'table', unique: true, tieBreak: true });
    case 'training-10m':
      // Sources without keys with `unique` declared (item 2's promise), as the 1M cases; the same sources without it (the
      // tie-break) beside; then again under the 4 GB limit. Best of two at full scale: the first build follows the data's
      // generation, and in one run (12-05) it took 58.6 s against the limited build's 33.0 s.
      return training(name, { scale: full ? 1 : 0.02, runs: full ? 2 : 1, source: 'view', unique: true, tieBreak: true, memoryLimit: '4GB' });
    case 'serving': {
      const { benchServing, servingOptions } = await import('./serving.ts');
      const small = ['--entities', '100000', '--warm-client', '1000', '--requests', '500', '--warm-servers', '1000', '--duration', '3'];
      const f = await benchServing(servingOptions(['--skip-cluster', ...(full ? [] : small)]));
      const p99 = (subject: 'flywheel' | 'floor') => ({ 1: f.firstRequests[1]![subject].p99, 100: f.firstRequests[100]![subject].p99 });
      return {
        firstRequestsP99Ms: { flywheel: p99('flywheel'), floor: p99('floor') },
        throughput: { flywheel: f.throughput.flywheel, flywheelValuesOnly: f.throughput.flywheelValuesOnly, floor: f.throughput.floor },
      } satisfies ServingFigures;
    }
    case 'log-api': {
      const { benchLogApi, logApiOptions } = await import('./log-api.ts');
      const batches = await benchLogApi(logApiOptions(full ? [] : ['--duration', '2', '--runs', '1', '--warm-up', '1']));
      return { batches: batches.map((b) => ({ batch: b.batch, flywheel: b.flywheel.eventsPerSecond, floor: b.floor.eventsPerSecond })) } satisfies LogApiFigures;
    }
    case 'materialize': {
      const { benchMaterialize, printMaterializeFigures } = await import('./materialize.ts');
      const f = await benchMaterialize({ entities: full ? 1_000_000 : 100_000, features: 50, runs: full ? 3 : 1, port: 7299 });
      printMaterializeFigures(f);
      return { entities: f.entities, features: f.features, workflowMs: f.subjects.workflow.ms, floorMs: f.floor.ms, floorShape: FLOOR_SHAPES[f.floor.shape] ?? f.floor.shape, endToEndMs: f.subjects.floorEndToEnd.ms } satisfies MaterializeFigures;
    }
  }
}

async function training(
  name: CaseName,
  o: { scale: number; runs: number; source: 'parquet' | 'view' | 'table'; unique: boolean; tieBreak: boolean; memoryLimit?: string },
): Promise<TrainingFigures> {
  const { benchLargeTrainingSet, reportLarge } = await import('./large-training-set.ts');
  const r = await benchLargeTrainingSet({ scale: o.scale, partitionBy: 'day', runs: o.runs, port: 7277, tieBreak: o.tieBreak, source: o.source, unique: o.unique, check: true, ...(o.memoryLimit ? { memoryLimit: o.memoryLimit } : {}) });
  reportLarge(r);
  // The bench reports its comparison with the floor as text; a mismatch stops the scorecard.
  if (r.sameRows === undefined || !r.sameRows.startsWith('yes')) throw new CaseCheckFailedError(`${name}: Flywheel's training set is not the floor's: ${r.sameRows ?? 'not compared'}`);
  return {
    spineRows: r.sizes.spineRows,
    featureRows: 2 * r.sizes.userRowsPerView + r.sizes.merchantRows,
    source: r.source,
    unique: r.unique,
    flywheelSeconds: r.flywheel.seconds,
    flywheelCpuSeconds: r.cpu.flywheel,
    floorSeconds: r.baseline.seconds,
    floorCpuSeconds: r.cpu.baseline,
    peakDuckdbBytes: r.flywheel.peakDuckdbBytes,
    ...(r.sameLayout ? { perDayFloorSeconds: r.sameLayout.seconds } : {}),
    ...(r.tieBreak ? { tieBreakSeconds: r.tieBreak.seconds } : {}),
    ...(r.limited && r.memoryLimit ? { limited: { memoryLimit: r.memoryLimit, seconds: r.limited.seconds, peakDuckdbBytes: r.limited.peakDuckdbBytes } } : {}),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { case: { type: 'string' }, scale: { type: 'string' }, figures: { type: 'string' } } });
  const name = values.case as CaseName;
  if (!CASES.includes(name)) throw new Error(`--case must be one of ${CASES.join(', ')}, got "${values.case}"`);
  if (values.scale !== 'small' && values.scale !== 'full') throw new Error(`--scale must be small or full, got "${values.scale}"`);
  if (!values.figures) throw new Error('--figures <file> is required');
  try {
    await writeFile(values.figures, JSON.stringify({ figures: await runCase(name, values.scale) }));
  } catch (error) {
    const check = error instanceof CaseCheckFailedError || error?.constructor?.name === 'PeerMismatchError';
    await writeFile(values.figures, JSON.stringify({ error: error instanceof Error ? error.message : String(error), check }));
    throw error;
  }
  // Handles a benchmark left open (a client's socket, a timer) must not keep the scorecard waiting.
  process.exit(0);
}
