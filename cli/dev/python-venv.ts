import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FlywheelError } from '../../core/errors.ts';
import { tail } from './go-tool.ts';

/**
 * A pinned Python virtual environment under `.tools/`, the one recipe for every Python tool the
 * repository runs: the fakesnow Snowflake emulator (cli/dev/fakesnow.ts), the training-set readers
 * (cli/dev/python-readers.ts) and Feast for the peer benchmark (bench/peers/feast-env.ts). Versions
 * are pinned, every dependency included, in a requirements file, and installed with `--no-deps`
 * (from wheels only unless told otherwise): no compiler, nothing resolved at install time, the same
 * packages on every machine.
 *
 * The environment is built in a temporary folder beside it and renamed into place once its packages
 * import, so a build cut short leaves nothing half-made, and two builds at once leave one whole
 * environment (the second rename finds it there and keeps it). A tool run through its console
 * scripts (`bin/feast`) is built in place instead (`inPlace`), since those scripts name the folder
 * they were installed in. The requirements are copied into it as a stamp, last: a change of pins, or
 * a build cut short, rebuilds it.
 *
 * @example
 * const python = await ensurePythonVenv({ name: 'fakesnow', dir, requirementsPath, importCheck: 'import fakesnow' });
 */

/** Environment variable naming the Python 3 environments are built from (default: `python3` on PATH). */
export const PYTHON_ENV = 'FLYWHEEL_PYTHON';
/** Wheels found here are used before PyPI's (a machine may carry them for offline installs). */
export const LOCAL_WHEELS_DIR = '/opt/wheels';
const STAMP = 'flywheel-requirements.txt';

/** Thrown when an environment cannot be found or built: says what was tried and what to install. */
export class PythonVenvError extends FlywheelError {
  /** The environment's name, e.g. `fakesnow`. */
  readonly venv: string;
  /** The end of the failing command's output, if a command failed. */
  readonly output: string;
  constructor(venv: string, message: string, output = '') {
    super(`${venv}: ${message}${output ? `\nLast output:\n${output}` : ''}`);
    this.venv = venv;
    this.output = output;
  }
}

export interface PythonVenvSpec {
  /** Short name for messages, e.g. `fakesnow`. */
  readonly name: string;
  /** Folder of the environment, e.g. `.tools/fakesnow`. */
  readonly dir: string;
  /** The pinned requirements file (every dependency, exact versions). */
  readonly requirementsPath: string;
  /** Python code that must run for the environment to count as ready, e.g. `import fakesnow`. */
  readonly importCheck: string;
  /** The command that installs it outside the tests, for the message when `install` is false. */
  readonly installCommand: string;
  /** Allow source distributions as well as wheels (default false: wheels only). */
  readonly allowSourceDistributions?: boolean;
  /** Build in `dir` itself rather than beside it (for tools run through their console scripts). */
  readonly inPlace?: boolean;
}

export interface EnsurePythonVenvOptions {
  /** Environment for finding and running Python and pip. Defaults to `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Build the environment when it is missing or stale. Default true. */
  readonly install?: boolean;
  /** Receives human-readable progress. */
  readonly onProgress?: (message: string) => void;
}

/**
 * The path of the environment's `python`, with `importCheck` passing; builds the environment first
 * when it is missing or its pins changed. Throws PythonVenvError when no usable Python 3 is found or
 * the install fails, never returns a Python that cannot run the check.
 */
export async function ensurePythonVenv(spec: PythonVenvSpec, options: EnsurePythonVenvOptions = {}): Promise<string> {
  const { env = process.env, install = true, onProgress = () => {} } = options;
  const { name, dir, requirementsPath, importCheck } = spec;
  const requirements = await readFile(requirementsPath, 'utf8');
  const ready = await readyPython(dir, requirements, importCheck, env);
  if (ready) {
    onProgress(`Using ${name} in ${dir}`);
    return ready;
  }
  if (!install) throw new PythonVenvError(name, `not installed in ${dir}; run \`${spec.installCommand}\``);

  const base = env[PYTHON_ENV] || 'python3';
  const version = await run(base, ['-c', 'import sys, venv, ensurepip; print("%d.%d.%d" % sys.version_info[:3])'], env, 60_000);
  if (version.code !== 0) {
    throw new PythonVenvError(
      name,
      `no Python 3 with venv and ensurepip to build it from (tried \`${base}\`${env[PYTHON_ENV] ? ` from ${PYTHON_ENV}` : ' on PATH'}). ` +
        `Install CPython 3.11, 3.12 or 3.13 with venv (Debian: apt-get install python3 python3-venv), or set ${PYTHON_ENV}=/path/to/python3.`,
      tail(version.output, 10),
    );
  }
  onProgress(`Installing ${name} (pinned in ${requirementsPath}) into ${dir}, with ${base} ${version.output.trim()}`);

  await mkdir(dirname(dir), { recursive: true });
  if (spec.inPlace) await rm(dir, { recursive: true, force: true });
  const building = spec.inPlace ? dir : await mkdtemp(`${dir}-build-`);
  try {
    const venv = await run(base, ['-m', 'venv', building], env, 5 * 60_000);
    if (venv.code !== 0) throw new PythonVenvError(name, `\`${base} -m venv ${building}\` exited with code ${venv.code}`, tail(venv.output, 20));
    const wheels = existsSync(LOCAL_WHEELS_DIR) && readdirSync(LOCAL_WHEELS_DIR).length > 0 ? ['--find-links', LOCAL_WHEELS_DIR] : [];
    const binaries = spec.allowSourceDistributions ? [] : ['--only-binary=:all:'];
    const pipArgs = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', ...binaries, '--no-deps', ...wheels, '-r', requirementsPath];
    const pip = await run(pythonIn(building), pipArgs, { ...env, PIP_NO_INPUT: '1' }, 15 * 60_000);
    if (pip.code !== 0) {
      throw new PythonVenvError(name, `\`python ${pipArgs.join(' ')}\` exited with code ${pip.code} (are wheels of these versions published for this Python and platform?)`, tail(pip.output, 30));
    }
    const check = await run(pythonIn(building), ['-c', importCheck], env, 120_000);
    if (check.code !== 0) throw new PythonVenvError(name, `installed but \`${importCheck}\` fails`, tail(check.output, 20));
    await writeFile(join(building, STAMP), requirements);
    if (spec.inPlace) return await builtPython(spec, requirements, env, onProgress);
    // A stale environment (other pins) goes; one that another build just finished stays.
    if (existsSync(dir) && !(await readyPython(dir, requirements, importCheck, env))) await rm(dir, { recursive: true, force: true });
    try {
      await rename(building, dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
  } finally {
    if (!spec.inPlace) await rm(building, { recursive: true, force: true });
  }
  return await builtPython(spec, requirements, env, onProgress);
}

async function builtPython(spec: PythonVenvSpec, requirements: string, env: NodeJS.ProcessEnv, onProgress: (message: string) => void): Promise<string> {
  const built = await readyPython(spec.dir, requirements, spec.importCheck, env);
  if (!built) throw new PythonVenvError(spec.name, `built, but ${pythonIn(spec.dir)} cannot \`${spec.importCheck}\``);
  onProgress(`Installed ${spec.name} in ${spec.dir}`);
  return built;
}

function pythonIn(dir: string): string {
  return join(dir, 'bin', 'python');
}

/** The environment's python when it was built from these pins and the check passes; else undefined. */
async function readyPython(dir: string, requirements: string, importCheck: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const stamp = await readFile(join(dir, STAMP), 'utf8').catch(() => undefined);
  if (stamp !== requirements) return undefined;
  const python = pythonIn(dir);
  return (await run(python, ['-c', importCheck], env, 120_000)).code === 0 ? python : undefined;
}

/**
 * Runs a command to completion with a deadline, collecting the end of stdout and stderr together; a
 * command that cannot start exits 127.
 */
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
