import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensurePythonReaders, pythonReadersRequirements } from '../cli/dev/python-readers.ts';
import { PythonVenvError } from '../cli/dev/python-venv.ts';
import { pythonReaders, PYTHON_READERS_TIMEOUT_MS } from './setup/python.ts';

// The Python readers' environment (cli/dev/python-readers.ts): the pinned versions are what imports,
// and without a Python to build from it fails loudly, naming what to install, rather than skipping.

describe('the Python readers', () => {
  it('import at exactly the pinned versions', async () => {
    const python = await pythonReaders();
    const result = spawnSync(python, ['-c', 'import pandas, polars, pyarrow, numpy; print(pandas.__version__, polars.__version__, pyarrow.__version__, numpy.__version__)'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('2.3.3 1.33.1 21.0.0 2.3.5');
  }, PYTHON_READERS_TIMEOUT_MS);

  it('fail naming what to install when there is no Python to build them from', async () => {
    const root = mkdtempSync(join(tmpdir(), 'flywheel-python-readers-'));
    try {
      mkdirSync(join(root, 'scripts'));
      copyFileSync(pythonReadersRequirements(), pythonReadersRequirements(root));
      const attempt = ensurePythonReaders({ repoRoot: root, env: { ...process.env, FLYWHEEL_PYTHON: join(root, 'no-python3') } });
      await expect(attempt).rejects.toBeInstanceOf(PythonVenvError);
      await expect(attempt).rejects.toThrow(
        `the Python readers: no Python 3 with venv and ensurepip to build it from (tried \`${join(root, 'no-python3')}\` from FLYWHEEL_PYTHON). ` +
          'Install CPython 3.11, 3.12 or 3.13 with venv (Debian: apt-get install python3 python3-venv), or set FLYWHEEL_PYTHON=/path/to/python3.',
      );
      await expect(ensurePythonReaders({ repoRoot: root, install: false })).rejects.toThrow(`the Python readers: not installed in ${join(root, '.tools', 'python-readers')}; run \`npx tsx scripts/ensure-python.ts\``);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
