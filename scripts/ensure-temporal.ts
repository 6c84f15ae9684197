/**
 * `npm run temporal:cli`: makes sure a Temporal CLI is available, building it with Go into
 * `.tools/temporal` if needed, and prints its path on the last line of stdout.
 * `.ci/run` calls this before the tests so the long first build happens outside any test timeout.
 */
import { locateTemporalCli } from '../cli/dev/temporal-cli.ts';
import { FlywheelError } from '../core/errors.ts';

try {
  const path = await locateTemporalCli({ build: true, onProgress: (message) => console.error(message) });
  console.log(path);
} catch (error) {
  if (!(error instanceof FlywheelError)) throw error;
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
}
