import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePythonVenv } from '../../cli/dev/python-venv.ts';

/**
 * Feast 0.67.0 (DuckDB offline store, Redis online store) in a virtual environment of the
 * repository's own, `.tools/feast` (git-ignored), for the peer benchmark only. Every package is
 * pinned in bench/peers/feast-requirements.txt and installed by the one recipe for pinned
 * environments (cli/dev/python-venv.ts): `--no-deps`, so nothing is resolved at install time; in
 * place, because the benchmark runs `bin/feast`, whose first line names the folder it was built in.
 */

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const REPO_ROOT = join(HERE, '..', '..');
export const FEAST_ENV_DIR = join(REPO_ROOT, '.tools', 'feast');
export const FEAST_REQUIREMENTS = join(HERE, 'feast-requirements.txt');

/** The environment's `python` with Feast 0.67.0 importable; builds `.tools/feast` when missing or stale (about a minute). */
export function ensureFeast(onProgress: (message: string) => void = () => {}): Promise<string> {
  return ensurePythonVenv(
    {
      name: 'Feast 0.67.0',
      dir: FEAST_ENV_DIR,
      requirementsPath: FEAST_REQUIREMENTS,
      importCheck: 'import feast, duckdb, redis; assert feast.__version__ == "0.67.0", feast.__version__',
      installCommand: 'npm run bench -- --peers',
      allowSourceDistributions: true,
      inPlace: true,
    },
    { onProgress },
  );
}
