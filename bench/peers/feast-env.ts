import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlywheelError } from '../../core/errors.ts';

/**
 * Feast 0.67.0 (DuckDB offline store, Redis online store) in a virtual environment of the
 * repository's own, `.tools/feast` (git-ignored), for the peer benchmark only. Every package is
 * pinned in bench/peers/feast-requirements.txt and installed with `--no-deps`, so nothing is
 * resolved at install time. Like cli/dev/python-readers.ts, the requirements are copied in as a
 * stamp once `import feast` works (a change of pins rebuilds it).
 */

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const REPO_ROOT = join(HERE, '..', '..');
export const FEAST_ENV_DIR = join(REPO_ROOT, '.tools', 'feast');
export const FEAST_REQUIREMENTS = join(HERE, 'feast-requirements.txt');
const STAMP = 'flywheel-requirements.txt';
const IMPORT_CHECK = 'import feast, duckdb, redis; assert feast.__version__ == "0.67.0", feast.__version__';

/** Thrown when the Feast environment cannot be built: the failing command and the end of its output. */
export class FeastEnvironmentError extends FlywheelError {
  readonly output: string;
  constructor(message: string, output = '') {
    super(`${message}${output ? `\nLast output:\n${output}` : ''}`);
    this.output = output;
  }
}

/** The environment's `python` with Feast 0.67.0 importable; builds `.tools/feast` when missing or stale (about a minute). */
export async function ensureFeast(onProgress: (message: string) => void = () => {}): Promise<string> {
  const requirements = await readFile(FEAST_REQUIREMENTS, 'utf8');
  const ready = await readyPython(FEAST_ENV_DIR, requirements);
  if (ready) return ready;
  const base = process.env.FLYWHEEL_PYTHON || 'python3';
  onProgress(`Installing Feast 0.67.0 (pinned in ${FEAST_REQUIREMENTS}) into ${FEAST_ENV_DIR} with ${base}`);
  await mkdir(join(REPO_ROOT, '.tools'), { recursive: true });
  // Built in place, not renamed into place: a venv's scripts (`bin/feast`) name its folder in their
  // first line. The stamp is written last, so a build cut short is rebuilt from scratch next time.
  await rm(FEAST_ENV_DIR, { recursive: true, force: true });
  const venv = await run(base, ['-m', 'venv', FEAST_ENV_DIR], 5 * 60_000);
  if (venv.code !== 0) throw new FeastEnvironmentError(`\`${base} -m venv ${FEAST_ENV_DIR}\` exited with code ${venv.code} (install python3-venv, or set FLYWHEEL_PYTHON)`, venv.output);
  const pipArgs = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--no-deps', '-r', FEAST_REQUIREMENTS];
  const pip = await run(join(FEAST_ENV_DIR, 'bin', 'python'), pipArgs, 15 * 60_000);
  if (pip.code !== 0) throw new FeastEnvironmentError(`\`python ${pipArgs.join(' ')}\` exited with code ${pip.code}`, pip.output);
  await writeFile(join(FEAST_ENV_DIR, STAMP), requirements);
  const built = await readyPython(FEAST_ENV_DIR, requirements);
  if (!built) throw new FeastEnvironmentError(`Feast was installed but ${FEAST_ENV_DIR}/bin/python cannot \`${IMPORT_CHECK}\``);
  onProgress(`Installed Feast 0.67.0 in ${FEAST_ENV_DIR}`);
  return built;
}

async function readyPython(dir: string, requirements: string): Promise<string | undefined> {
  const stamp = await readFile(join(dir, STAMP), 'utf8').catch(() => undefined);
  if (stamp !== requirements) return undefined;
  const python = join(dir, 'bin', 'python');
  return (await run(python, ['-c', IMPORT_CHECK], 120_000)).code === 0 ? python : undefined;
}

function run(executable: string, args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => resolve({ code: 127, output: `${output}${error.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
