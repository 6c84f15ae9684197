/**
 * Makes sure the Python readers (pinned pandas, polars and pyarrow, scripts/python-readers.txt) are
 * installed in `.tools/python-readers`, building the virtual environment if needed, and prints its
 * `python` on the last line of stdout. `.ci/run` calls this before the tests so the download happens
 * outside any test timeout; the tests call the same function when it is missing (test/setup/python.ts).
 */
import { ensurePythonReaders } from '../cli/dev/python-readers.ts';
import { FlywheelError } from '../core/errors.ts';

try {
  const python = await ensurePythonReaders({ onProgress: (message) => console.error(message) });
  console.log(python);
} catch (error) {
  if (!(error instanceof FlywheelError)) throw error;
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
}
