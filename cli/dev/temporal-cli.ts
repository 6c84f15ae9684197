import { findGoTool, GoToolNotFoundError, REPO_ROOT, type GoTool, type LocateGoToolOptions } from './go-tool.ts';

/**
 * Finds the Temporal CLI (`temporal`), which runs the local dev server for `flywheel dev` and the tests.
 *
 * Order: $FLYWHEEL_TEMPORAL_CLI, `temporal` on PATH, the cached build in `<repo>/.tools/temporal`,
 * a fresh `go install` into that cache, and, only when asked, "let the Temporal SDK download it".
 * We build from source because CI and developer machines reach package registries (the Go module
 * proxy among them) but not GitHub releases, where the SDK would download a prebuilt binary from.
 *
 * @example
 * const cliPath = await locateTemporalCli({ onProgress: (m) => console.log(m) });
 */

export { REPO_ROOT };

/** The Temporal CLI; v1.6+ cannot be `go install`ed (its go.mod has a replace directive), so v1.5.1. */
export const TEMPORAL_CLI: GoTool = {
  title: 'Temporal CLI',
  binary: 'temporal',
  module: 'github.com/temporalio/cli/cmd/temporal',
  version: 'v1.5.1',
  envVar: 'FLYWHEEL_TEMPORAL_CLI',
  ensureCommand: 'npm run temporal:cli',
  homepage: 'https://docs.temporal.io/cli',
  firstBuild: '~15 min on 2 cores with a cold Go module cache',
};

export interface LocateTemporalCliOptions extends LocateGoToolOptions {
  /** When nothing is found or buildable, return `undefined` ("let the SDK download it") instead of throwing. */
  allowDownload?: boolean;
}

/**
 * Returns the path (or, for PATH, the bare name `temporal`) of a runnable Temporal CLI.
 * Returns `undefined` only when `allowDownload` is set and nothing else worked.
 */
export async function locateTemporalCli(options?: LocateTemporalCliOptions & { allowDownload?: false }): Promise<string>;
export async function locateTemporalCli(options: LocateTemporalCliOptions & { allowDownload: true }): Promise<string | undefined>;
export async function locateTemporalCli(options: LocateTemporalCliOptions = {}): Promise<string | undefined> {
  const found = await findGoTool(TEMPORAL_CLI, options);
  if ('path' in found) return found.path;
  if (options.allowDownload) {
    options.onProgress?.('No Temporal CLI found; the Temporal SDK will try to download one (needs internet access)');
    return undefined;
  }
  throw new GoToolNotFoundError(TEMPORAL_CLI, found.attempts, options.repoRoot);
}
