/**
 * Makes sure versitygw (the S3-compatible server the S3 object store tests run against) is
 * available, building it with Go into `.tools/versitygw` if needed, and prints its path on the last
 * line of stdout. `.ci/run` calls this before the tests so the build happens outside any test
 * timeout; the tests start the server themselves (test/setup/global-setup.ts).
 */
import { locateVersitygw } from '../cli/dev/versitygw.ts';
import { FlywheelError } from '../core/errors.ts';

try {
  const path = await locateVersitygw({ build: true, onProgress: (message) => console.error(message) });
  console.log(path);
} catch (error) {
  if (!(error instanceof FlywheelError)) throw error;
  console.error(`error: ${error.message}`);
  process.exitCode = 1;
}
