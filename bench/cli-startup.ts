/**
 * How long `flywheel` takes to start: `--help`, `--version` (when the CLI has it) and `plan` on the
 * card-fraud example, each the median of N runs, for the compiled CLI the package ships (dist/) and
 * for the CLI run from its TypeScript sources through tsx (a checkout's bin/flywheel.js, which is
 * what every start cost before the package was compiled). `node -e 0` is the floor: the machine's
 * cost of starting Node at all, which the figures include.
 *
 *   npx tsx bench/cli-startup.ts [--runs 7] [--no-build]
 *
 * The compiled CLI runs as `node dist/cli/main.js`, the module the package's bin/flywheel.js imports;
 * the example is a copy of examples/card-fraud in a temp folder whose node_modules/flywheel links
 * to this repository, its warehouse generated first (generate-data.ts, a small window: plan reads
 * the tables' columns, not their rows). Its service logs decisions, so plan also reads the ingest
 * schedule from Temporal: a dev server (the Temporal CLI, as `flywheel dev` finds it) runs on free
 * ports for the benchmark. Targets (issue 13): --help ≤ 0.4 s, plan ≤ 1.5 s, compiled.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startDevServer, type DevServer } from '../cli/dev/dev-server.ts';
import { locateTemporalCli } from '../cli/dev/temporal-cli.ts';
import { generateCardFraudData } from '../examples/card-fraud/generate-data.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TARGETS: Record<string, number> = { '--help': 400, plan: 1500 };

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, 'no-build': { type: 'boolean', default: false } } });
const runs = Number(values.runs);

interface Row {
  readonly what: string;
  readonly mode: string;
  /** Wall clock, ms. */
  readonly median: number;
  readonly min: number;
  /** CPU time (user + system, every thread) of the process, ms: on a shared machine, steadier than the wall clock. */
  readonly cpu: number;
}

/** Reports the process's CPU time on stderr as it exits (one tiny module loaded before the CLI). */
const CPU_REPORT = `data:text/javascript,process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('\\ncpu-us '+(u.user+u.system)+'\\n')})`;

/** Wall-clock and CPU milliseconds of one run; a run that fails stops the benchmark with its output. */
function timeRun(args: readonly string[], cwd: string): { wall: number; cpu: number } {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, ['--import', CPU_REPORT, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} (in ${cwd}) exited with ${result.status}:\n${result.stdout}${result.stderr}`);
  const cpu = /cpu-us (\d+)/.exec(result.stderr);
  return { wall, cpu: cpu ? Number(cpu[1]) / 1000 : Number.NaN };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

function measure(what: string, mode: string, args: readonly string[], cwd: string): Row {
  timeRun(args, cwd); // a first run to warm the file cache (and tsx's transform cache), not counted
  const times = Array.from({ length: runs }, () => timeRun(args, cwd));
  return { what, mode, median: median(times.map((t) => t.wall)), min: Math.min(...times.map((t) => t.wall)), cpu: median(times.map((t) => t.cpu)) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function hasVersionFlag(): boolean {
  return spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli/main.js'), '--version'], { encoding: 'utf8' }).status === 0;
}

async function prepareCardFraud(dir: string, temporal: DevServer): Promise<void> {
  cpSync(join(REPO_ROOT, 'examples/card-fraud/definitions'), join(dir, 'definitions'), { recursive: true });
  const config = readFileSync(join(REPO_ROOT, 'examples/card-fraud/flywheel.config.ts'), 'utf8');
  if (!config.includes('local: localProfile(),')) throw new Error('examples/card-fraud/flywheel.config.ts no longer has `local: localProfile(),`; update the benchmark');
  writeFileSync(join(dir, 'flywheel.config.ts'), config.replace('local: localProfile(),', `local: localProfile({ temporalAddress: '${temporal.address}' }),`));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'flywheel'), 'dir');
  // The local profile's warehouse (localProfile(): .flywheel/warehouse.duckdb).
  mkdirSync(join(dir, '.flywheel'));
  await generateCardFraudData({ warehousePath: join(dir, '.flywheel', 'warehouse.duckdb'), users: 200, merchants: 40, days: 7, transactionsPerDay: 200 });
}

if (!values['no-build']) {
  process.stderr.write('Building dist/ (npm run build)...\n');
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (build.status !== 0) process.stderr.write(`npm run build exited with ${build.status} (type errors?); dist/ was emitted anyway:\n${build.stdout.split('\n').filter((l) => l.includes('error')).join('\n')}\n`);
}
const project = mkdtempSync(join(tmpdir(), 'flywheel-bench-startup-'));
const temporal = await startDevServer({
  cliPath: () => locateTemporalCli({ onProgress: (line) => process.stderr.write(`${line}\n`) }),
  dbFile: join(project, 'temporal', 'temporal.db'),
  port: await freePort(),
  uiPort: await freePort(),
});
try {
  await prepareCardFraud(project, temporal);
  const compiled = [join(REPO_ROOT, 'dist/cli/main.js')];
  const source = [join(REPO_ROOT, 'bin/flywheel.js')];
  const rows: Row[] = [measure('node -e 0 (the floor)', '', ['-e', '0'], project)];
  for (const [mode, cli] of [['compiled', compiled], ['source (tsx)', source]] as const) {
    rows.push(measure('--help', mode, [...cli, '--help'], project));
    if (hasVersionFlag()) rows.push(measure('--version', mode, [...cli, '--version'], project));
    rows.push(measure('plan (card-fraud)', mode, [...cli, 'plan'], project));
  }
  const [one, five] = loadavg();
  process.stdout.write(`\nflywheel start-up, median of ${runs} runs (wall clock, ms); load average ${one!.toFixed(1)} (1 min), ${five!.toFixed(1)} (5 min) on ${cpus().length} cores\n\n`);
  process.stdout.write('| command | CLI | median | min | CPU (median) | target |\n|---|---|---|---|---|---|\n');
  for (const row of rows) {
    const key = row.what.startsWith('plan') ? 'plan' : row.what;
    const target = row.mode === 'compiled' && TARGETS[key] !== undefined ? `≤ ${TARGETS[key]} ms: ${row.median <= TARGETS[key]! ? 'met' : 'NOT met'}` : '';
    process.stdout.write(`| ${row.what} | ${row.mode} | ${Math.round(row.median)} | ${Math.round(row.min)} | ${Math.round(row.cpu)} | ${target} |\n`);
  }
} finally {
  await temporal.stop();
  rmSync(project, { recursive: true, force: true });
}
