/**
 * Makes sure the Snowflake emulator's Python environment (fakesnow and its dependencies, pinned in
 * test/support/snowflake-emulator/requirements.txt) is installed in `.tools/fakesnow`, building it if
 * needed, and prints its `python` on the last line of stdout. `.ci/run` calls this before the tests
 * so the download happens outside any test timeout; the tests call the same function when it is
 * missing (test/setup/snowflake-emulator.ts).
 */
import { ensureFakesnow } from '../cli/dev/fakesnow.ts';
import { FlywheelError } from '../core/errors.ts';

try {
  const python = await ensureFakesnow({ onProgress: (message) => console.error(message) });
  console.log(python);
} catch (error) {
  if (!(error instanceof FlywheelError)) throw error;
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
}
