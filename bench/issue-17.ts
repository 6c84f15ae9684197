/**
 * `npm run bench -- issue-17`: every figure of issue 17 (performance against peers and floors) from
 * one command, as one Markdown table, one line per goal of the issue, each with its ratio and whether
 * its goal is met (bench/issue-17-goals.ts).
 *
 *   npm run bench -- issue-17 [--scale small|full] [--only <case,...> | --skip <case,...>] [--out <file.md>] [--case-timeout <minutes>]
 *
 * Cases (bench/issue-17-cases.ts), run one after another, each in a child process of its own:
 * peers (Feast 0.67.0), training-parquet / training-view / training-table (1M × 3 × 5M with `unique`
 * declared, against the one-file and per-day floors), training-10m (10M × 3 × 50M without keys, and
 * under `memoryLimit` 4GB), serving, log-api, materialize. `--scale full` runs the issue's sizes (about
 * 35 minutes on a quiet 2-core machine); `--scale small` (the default) every case at a size that runs in minutes, for
 * trying the command: its figures are not the issue's.
 *
 * A case whose tools are missing (the Feast environment, the Temporal CLI, redis-server) is not run
 * and its rows say why; the others still run. A case that fails, its same-output check included,
 * stops the scorecard with an error naming it (the table of the cases before it is printed first):
 * no ratio is printed for figures that were not checked. After each case, any process it started and
 * left running (found by a marker in its environment) is reported and stopped, so the next case
 * starts on a machine without it. A case still running after `--case-timeout` minutes (90 at full
 * scale, 20 at small) is stopped and counts as failed.
 *
 * `--out <file>` also writes the table (with the machine line and the commit) to the file, and the
 * raw figures as JSON beside it (`<file>` with `.json` for its extension).
 */
import { spawn, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CASE_COMMANDS, CASE_NEEDS, CASES, type CaseName, type Scale } from './issue-17-cases.ts';
import { scorecardRows, scorecardTable, type Issue17Figures, type Outcome } from './issue-17-goals.ts';

const CASES_SCRIPT = fileURLToPath(new URL('./issue-17-cases.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The environment variable every process a case starts inherits: what is left running after it is found by it. */
const MARKER = 'FLYWHEEL_ISSUE17_CASE';

/** Which key of Issue17Figures each case fills. */
const FIGURE_KEY: Record<CaseName, keyof Issue17Figures> = {
  peers: 'peers', 'training-parquet': 'trainingParquet', 'training-view': 'trainingView', 'training-table': 'trainingTable',
  'training-10m': 'trainingLarge', serving: 'serving', 'log-api': 'logApi', materialize: 'materialize',
};

export interface Issue17Options {
  readonly scale: Scale;
  readonly cases: readonly CaseName[];
  readonly out?: string;
  /** A case still running after this many minutes is stopped (it and what it started) and counts as failed. */
  readonly caseTimeoutMinutes: number;
}

/** A case that failed: the scorecard stops, naming it. */
export class ScorecardCaseFailedError extends Error {
  constructor(readonly caseName: CaseName, readonly reason: string, readonly check: boolean) {
    super(`issue-17 scorecard: case "${caseName}" ${check ? 'failed its same-output check' : 'failed'}: ${reason}`);
  }
}

export function issue17Options(argv: string[]): Issue17Options {
  const { values } = parseArgs({ args: argv, options: { scale: { type: 'string', default: 'small' }, only: { type: 'string' }, skip: { type: 'string' }, out: { type: 'string' }, 'case-timeout': { type: 'string' } } });
  if (values.scale !== 'small' && values.scale !== 'full') throw new Error(`--scale must be small or full, got "${values.scale}"`);
  if (values.only !== undefined && values.skip !== undefined) throw new Error('--only and --skip: give one of them');
  const list = (option: string, text: string) => {
    const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const n of names) if (!(CASES as readonly string[]).includes(n)) throw new Error(`--${option}: unknown case "${n}"; the cases are ${CASES.join(', ')}`);
    return names as CaseName[];
  };
  const only = values.only !== undefined ? list('only', values.only) : undefined;
  const skip = values.skip !== undefined ? list('skip', values.skip) : [];
  const cases = CASES.filter((c) => (only ? only.includes(c) : !skip.includes(c)));
  // The longest case at full scale (Feast's materialization of 1M entities, or the 10M training set twice) takes about 20 minutes on 2 cores.
  const caseTimeoutMinutes = Number(values['case-timeout'] ?? (values.scale === 'full' ? 90 : 20));
  if (!(caseTimeoutMinutes > 0)) throw new Error(`--case-timeout must be a number of minutes above 0, got "${values['case-timeout']}"`);
  return { scale: values.scale, cases, caseTimeoutMinutes, ...(values.out !== undefined ? { out: values.out } : {}) };
}

export async function benchIssue17(options: Issue17Options): Promise<{ figures: Issue17Figures; table: string }> {
  const commit = gitCommit();
  const machine = `${cpus().length} cores, node ${process.version}, commit ${commit}, scale ${options.scale}`;
  process.stdout.write(`Issue 17 scorecard: ${machine}; cases ${options.cases.join(', ')}\n`);
  const figures: Record<string, Outcome<unknown>> = {};
  const loads: string[] = [];
  const leaks: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-issue-17-'));
  const finish = async () => {
    const rows = scorecardRows(figures as Issue17Figures);
    const table =
      `Machine: ${machine}. Load average (1, 5, 15 min) before → after each case (its wall time): ${loads.join('; ') || 'no case ran'}.` +
      (leaks.length > 0 ? ` Left running and stopped: ${leaks.join('; ')}.` : '') +
      `\n\n${scorecardTable(rows)}`;
    process.stdout.write(`\n${table}`);
    if (options.out) {
      await writeFile(options.out, table);
      await writeFile(figuresPath(options.out), `${JSON.stringify({ commit, machine, scale: options.scale, loads, leaks, figures }, null, 2)}\n`);
    }
    return { figures: figures as Issue17Figures, table };
  };
  try {
    for (const name of options.cases) {
      const missing = await missingTools(name);
      if (missing) {
        figures[FIGURE_KEY[name]] = { notRun: missing };
        process.stdout.write(`\n== ${name}: not run: ${missing}\n`);
        continue;
      }
      process.stdout.write(`\n== ${name} (full scale: ${CASE_COMMANDS[name]})\n`);
      const before = loadLine();
      const started = performance.now();
      const result = await runCaseProcess(name, options.scale, join(dir, `${name}.json`), options.caseTimeoutMinutes);
      loads.push(`${name} ${before} → ${loadLine()} (${Math.round((performance.now() - started) / 1000)} s)`);
      leaks.push(...(await stopLeftovers(name)));
      if ('error' in result) {
        figures[FIGURE_KEY[name]] = { notRun: `${result.check ? 'its same-output check failed' : 'failed'}: ${result.error.split('\n')[0]}` };
        for (const later of options.cases.slice(options.cases.indexOf(name) + 1)) figures[FIGURE_KEY[later]] ??= { notRun: `the scorecard stopped at ${name}` };
        await finish();
        throw new ScorecardCaseFailedError(name, result.error, result.check);
      }
      figures[FIGURE_KEY[name]] = { figures: result.figures };
    }
    return await finish();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs one case in a child process (its output shown as it comes); resolves with its figures or its error. */
async function runCaseProcess(name: CaseName, scale: Scale, figuresFile: string, timeoutMinutes: number): Promise<{ figures: unknown } | { error: string; check: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CASES_SCRIPT, '--case', name, '--scale', scale, '--figures', figuresFile], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, [MARKER]: `${process.pid}-${name}-${randomUUID()}` },
    cwd: REPO_ROOT,
  });
  // Past its time the case is stopped; what it started is stopped after it by stopLeftovers (found by the marker).
  let timedOut = false;
  const kill = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  }, timeoutMinutes * 60_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 128 : null)));
  }).finally(() => clearTimeout(kill));
  if (timedOut) return { error: `still running after ${timeoutMinutes} min (--case-timeout); stopped`, check: false };
  const written = await readFile(figuresFile, 'utf8').then((text) => JSON.parse(text) as { figures?: unknown; error?: string; check?: boolean }, () => undefined);
  if (code === 0 && written && 'figures' in written) return { figures: written.figures };
  return { error: written?.error ?? `its process exited with ${code} before it wrote its figures (see its output above)`, check: written?.check ?? false };
}

/** Why a case cannot run on this machine, or undefined if it can. */
async function missingTools(name: CaseName): Promise<string | undefined> {
  for (const need of CASE_NEEDS[name]) {
    if (need === 'feast') {
      const { FEAST_ENV_DIR } = await import('./peers/feast-env.ts');
      if (!existsSync(join(FEAST_ENV_DIR, 'bin', 'python'))) return `no Feast environment in ${FEAST_ENV_DIR} (\`npm run bench -- --peers\` builds it)`;
    }
    if (need === 'redis' && !onPath('redis-server')) return 'redis-server is not on the PATH';
    if (need === 'temporal') {
      const { locateTemporalCli } = await import('../cli/dev/temporal-cli.ts');
      try {
        await locateTemporalCli();
      } catch (error) {
        return `no Temporal CLI: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
      }
    }
  }
  return undefined;
}

function onPath(executable: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, executable)));
}

/**
 * Processes still running with this case's marker in their environment (a server a benchmark
 * started and did not stop): each is named, sent SIGTERM by its id, and SIGKILL if it is still
 * there 5 s later.
 */
async function stopLeftovers(name: CaseName): Promise<string[]> {
  const marked = async () => {
    const found: { pid: number; command: string }[] = [];
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      const environ = await readFile(`/proc/${entry}/environ`, 'latin1').catch(() => '');
      if (!environ.includes(`${MARKER}=${process.pid}-${name}-`)) continue;
      const command = (await readFile(`/proc/${entry}/cmdline`, 'latin1').catch(() => '')).replaceAll('\0', ' ').trim();
      found.push({ pid: Number(entry), command: command.slice(0, 120) });
    }
    return found;
  };
  const left = await marked();
  for (const p of left) signal(p.pid, 'SIGTERM');
  for (let waited = 0; waited < 5_000 && (await marked()).length > 0; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  for (const p of await marked()) signal(p.pid, 'SIGKILL');
  if (left.length > 0) process.stderr.write(`issue-17 scorecard: ${name} left ${left.length} process(es) running; stopped: ${left.map((p) => `${p.pid} ${p.command}`).join('; ')}\n`);
  return left.map((p) => `${name}: ${p.pid} ${p.command}`);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

/** The raw figures' file beside the table's: `scorecard.md` → `scorecard.json` (`x.json` → `x.json.json`, not the table's own file). */
export function figuresPath(out: string): string {
  const beside = out.replace(/(\.[^./]*)?$/, '.json');
  return beside === out ? `${out}.json` : beside;
}

const loadLine = () => loadavg().map((l) => l.toFixed(2)).join(' ');

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
