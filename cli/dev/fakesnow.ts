import { join } from 'node:path';
import { REPO_ROOT } from './go-tool.ts';
import { ensurePythonVenv, type EnsurePythonVenvOptions } from './python-venv.ts';

/**
 * The Snowflake emulator's Python environment, `.tools/fakesnow` (git-ignored): fakesnow 0.12.1 in
 * server mode and everything it imports, pinned in test/support/snowflake-emulator/requirements.txt
 * (~360 MB, ~20 s to install from PyPI's wheels). The tests start the adapter in it
 * (test/setup/snowflake-emulator.ts); `.ci/run` installs it ahead of them (scripts/ensure-fakesnow.ts).
 *
 * @example
 * const python = await ensureFakesnow({ onProgress: (line) => console.error(line) });
 */

/** What must import for the environment to count as ready. */
const IMPORT_CHECK = 'import fakesnow.server, uvicorn, starlette, pyarrow';

export function snowflakeEmulatorDir(repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, 'test', 'support', 'snowflake-emulator');
}

export function fakesnowVenvDir(repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, '.tools', 'fakesnow');
}

/** The environment's `python`, installed now when missing or when the pins changed. */
export function ensureFakesnow(options: EnsurePythonVenvOptions & { readonly repoRoot?: string } = {}): Promise<string> {
  const { repoRoot = REPO_ROOT, ...rest } = options;
  return ensurePythonVenv(
    {
      name: 'fakesnow (the Snowflake emulator)',
      dir: fakesnowVenvDir(repoRoot),
      requirementsPath: join(snowflakeEmulatorDir(repoRoot), 'requirements.txt'),
      importCheck: IMPORT_CHECK,
      installCommand: 'npx tsx scripts/ensure-fakesnow.ts',
    },
    rest,
  );
}
