import { join } from 'node:path';
import { REPO_ROOT } from './go-tool.ts';
import { ensurePythonVenv, type EnsurePythonVenvOptions } from './python-venv.ts';

/**
 * The Python readers of training sets (pandas, polars, pyarrow) in a virtual environment of the
 * repository's own, `.tools/python-readers` (git-ignored), for the tests that read a dataset the way
 * a data scientist would (test/build-training-set.test.ts). Pinned, every dependency included, in
 * `scripts/python-readers.txt`; built by the one recipe for pinned environments (cli/dev/python-venv.ts),
 * which fails with a PythonVenvError naming what to install rather than returning a Python that cannot read.
 *
 * @example
 * const python = await ensurePythonReaders({ onProgress: (line) => console.error(line) });
 * spawnSync(python, ['-c', 'import polars; print(polars.read_parquet("datasets/fraud/*\/*.parquet"))']);
 */

export function pythonReadersDir(repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, '.tools', 'python-readers');
}

export function pythonReadersRequirements(repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, 'scripts', 'python-readers.txt');
}

export interface EnsurePythonReadersOptions extends EnsurePythonVenvOptions {
  /** Defaults to this repository's root. */
  readonly repoRoot?: string;
}

/**
 * The path of the environment's `python`, with the pinned pandas, polars and pyarrow importable;
 * builds the environment first when it is missing or its pins changed (about a minute, most of it
 * downloading ~100 MB of wheels).
 */
export function ensurePythonReaders(options: EnsurePythonReadersOptions = {}): Promise<string> {
  const { repoRoot = REPO_ROOT, ...rest } = options;
  return ensurePythonVenv(
    {
      name: 'the Python readers',
      dir: pythonReadersDir(repoRoot),
      requirementsPath: pythonReadersRequirements(repoRoot),
      importCheck: 'import pandas, polars, pyarrow',
      installCommand: 'npx tsx scripts/ensure-python.ts',
    },
    rest,
  );
}
