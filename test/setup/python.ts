import { ensurePythonReaders } from '../../cli/dev/python-readers.ts';

/**
 * The `python` of the repository's Python readers (pandas, polars, pyarrow pinned in
 * scripts/python-readers.txt, in `.tools/python-readers`), installed now when missing, as the test
 * setup does for the Temporal CLI. Never skips: without a usable Python 3 it throws, naming what to
 * install, and the test that reads with Python fails. `.ci/run` installs them ahead of the tests
 * (scripts/ensure-python.ts), so here it is only a check of a second or two.
 *
 * @example
 * beforeAll(async () => { python = await pythonReaders(); }, PYTHON_READERS_TIMEOUT_MS);
 */
export function pythonReaders(): Promise<string> {
  return (installing ??= ensurePythonReaders({ onProgress: (line) => process.stderr.write(`[python] ${line}\n`) }));
}

/** Long enough to download and install the wheels on a cold cache (~100 MB). */
export const PYTHON_READERS_TIMEOUT_MS = 15 * 60_000;

let installing: Promise<string> | undefined;
