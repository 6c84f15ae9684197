import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FlywheelError } from '../../core/errors.ts';
import { REPO_ROOT, tail } from './go-tool.ts';

/**
 * The Python readers of training sets (pandas, polars, pyarrow) in a virtual environment of the
 * repository's own, `.tools/python-readers` (git-ignored), for the tests that read a dataset the way
 * a data scientist would (test/build-training-set.test.ts). Versions are pinned, every dependency
 * included, in `scripts/python-readers.txt`, and installed from wheels only (`--only-binary=:all:
 * --no-deps`): no compiler, nothing resolved at install time, the same packages on every machine.
 *
 * The environment is built in a temporary folder beside it and renamed into place once every package
 * imports, so a build cut short leaves nothing half-made, and two builds at once leave one whole
 * environment (the second rename finds it there and keeps it). The requirements are copied into it
 * as a stamp: a change of pins rebuilds it.
 *
 * @example
 * const python = await ensurePythonReaders({ onProgress: (line) => console.error(line) });
 * spawnSync(python, ['-c', 'import polars; print(polars.read_parquet("datasets/fraud/*\/*.parquet"))']);
 */

/** Environment variable naming the Python 3 the environment is built from (default: `python3` on PATH). */
export const PYTHON_ENV = 'FLYWHEEL_PYTHON';
/** Wheels found here are used before PyPI's (a machine may carry them for offline installs). */
export const LOCAL_WHEELS_DIR = '/opt/wheels';
const STAMP = 'flywheel-requirements.txt';
/** What must import for the environment to count as ready. */
const IMPORT_CHECK = 'import pandas, polars, pyarrow';

export function pythonReadersDir(repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, '.tools', 'python-readers');
}

export function pythonReadersRequirements(repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, 'scripts', 'python-readers.txt');
}

/** Thrown when the environment cannot be found or built: says what was tried and what to install. */
export class PythonReadersError extends FlywheelError {
  /** The end of the failing command's output, if a command failed. */
  readonly output: string;
  constructor(message: string, output = '') {
    super(`${message}${output ? `\nLast output:\n${output}` : ''}`);
    this.output = output;
  }
}

export interface EnsurePythonReadersOptions {
  /** Defaults to this repository's root. */
  readonly repoRoot?: string;
  /** Environment for finding and running Python and pip. Defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Build the environment when it is missing or stale. Default true. */
  readonly install?: boolean;
  /** Receives human-readable progress. */
  readonly onProgress?: (message: string) => void;
}

/**
 * The path of the environment's `python`, with the pinned pandas, polars and pyarrow importable;
 * builds the environment first when it is missing or its pins changed (about a minute, most of it
 * downloading ~100 MB of wheels). Throws PythonReadersError when no usable Python 3 is found or the
 * install fails, never returns a Python that cannot read.
 */
export async function ensurePythonReaders(options: EnsurePythonReadersOptions = {}): Promise<string> {
  const { repoRoot = REPO_ROOT, env = process.env, install = true, onProgress = () => {} } = options;
  const dir = pythonReadersDir(repoRoot);
  const requirementsPath = pythonReadersRequirements(repoRoot);
  const requirements = await readFile(requirementsPath, 'utf8');
  const ready = await readyPython(dir, requirements, env);
  if (ready) {
    onProgress(`Using the Python readers in ${dir}`);
    return ready;
  }
  if (!install) throw new PythonReadersError(`The Python readers are not installed in ${dir}; run \`npx tsx scripts/ensure-python.ts\``);

  const base = env[PYTHON_ENV] || 'python3';
  const version = await run(base, ['-c', 'import sys, venv, ensurepip; print("%d.%d.%d" % sys.version_info[:3])'], env, 60_000);
  if (version.code !== 0) {
    throw new PythonReadersError(
      `No Python 3 with venv and ensurepip to build the Python readers from (tried \`${base}\`${env[PYTHON_ENV] ? ` from ${PYTHON_ENV}` : ' on PATH'}). ` +
        `Install CPython 3.11, 3.12 or 3.13 with venv (Debian: apt-get install python3 python3-venv), or set ${PYTHON_ENV}=/path/to/python3.`,
      tail(version.output, 10),
    );
  }
  onProgress(`Installing pandas, polars and pyarrow (pinned in ${requirementsPath}) into ${dir}, with ${base} ${version.output.trim()} (about a minute the first time)`);

  await mkdir(join(repoRoot, '.tools'), { recursive: true });
  const building = await mkdtemp(`${dir}-build-`);
  try {
    const venv = await run(base, ['-m', 'venv', building], env, 5 * 60_000);
    if (venv.code !== 0) throw new PythonReadersError(`\`${base} -m venv ${building}\` exited with code ${venv.code}`, tail(venv.output, 20));
    const wheels = existsSync(LOCAL_WHEELS_DIR) && readdirSync(LOCAL_WHEELS_DIR).length > 0 ? ['--find-links', LOCAL_WHEELS_DIR] : [];
    const pipArgs = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--only-binary=:all:', '--no-deps', ...wheels, '-r', requirementsPath];
    const pip = await run(pythonIn(building), pipArgs, { ...env, PIP_NO_INPUT: '1' }, 15 * 60_000);
    if (pip.code !== 0) throw new PythonReadersError(`\`python ${pipArgs.join(' ')}\` exited with code ${pip.code} (are wheels of these versions published for this Python and platform?)`, tail(pip.output, 30));
    const check = await run(pythonIn(building), ['-c', IMPORT_CHECK], env, 120_000);
    if (check.code !== 0) throw new PythonReadersError(`the Python readers were installed but \`${IMPORT_CHECK}\` fails`, tail(check.output, 20));
    await writeFile(join(building, STAMP), requirements);
    // A stale environment (other pins) goes; one that another build just finished stays.
    if (existsSync(dir) && !(await readyPython(dir, requirements, env))) await rm(dir, { recursive: true, force: true });
    try {
      await rename(building, dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  const built = await readyPython(dir, requirements, env);
  if (!built) throw new PythonReadersError(`the Python readers were built but ${pythonIn(dir)} cannot \`${IMPORT_CHECK}\``);
  onProgress(`Installed the Python readers in ${dir}`);
  return built;
}

function pythonIn(dir: string): string {
  return join(dir, 'bin', 'python');
}

/** The environment's python when it was built from these pins and its packages import; else undefined. */
async function readyPython(dir: string, requirements: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const stamp = await readFile(join(dir, STAMP), 'utf8').catch(() => undefined);
  if (stamp !== requirements) return undefined;
  const python = pythonIn(dir);
  return (await run(python, ['-c', IMPORT_CHECK], env, 120_000)).code === 0 ? python : undefined;
}

/** Runs a command to completion with a deadline, collecting the end of stdout and stderr together; a command that cannot start exits 127. */
function run(executable: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(executable, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-64_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => resolve({ code: 127, output: `${output}${error.message}` }));
    child.on('close', (code, signal) => resolve({ code: code ?? 1, output: signal ? `${output}\n(killed by ${signal} after ${timeoutMs} ms at most)` : output }));
  });
}
