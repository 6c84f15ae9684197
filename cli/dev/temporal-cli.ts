import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlywheelError } from '../../core/errors.ts';

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

/** The version we build. v1.6+ cannot be `go install`ed (its go.mod has a replace directive). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
/** Environment variable naming a Temporal CLI binary to use instead of searching. */
export const TEMPORAL_CLI_ENV = 'FLYWHEEL_TEMPORAL_CLI';

/** The repository root: this file is `<root>/cli/dev/temporal-cli.ts`. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where the built CLI is cached (`.tools/` is git-ignored). */
export function cachedTemporalCliPath(repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, '.tools', 'temporal');
}

/** The shell command that builds the CLI into the cache, as printed in errors and progress messages. */
export function goInstallCommand(repoRoot: string = REPO_ROOT): string {
  return `CGO_ENABLED=0 GOBIN=${join(repoRoot, '.tools')} go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`;
}

/** Thrown by `locateTemporalCli` when no Temporal CLI can be found, run or built. */
export class TemporalCliNotFoundError extends FlywheelError {
  /** What was tried, in order, and why each failed. */
  readonly attempts: readonly string[];
  constructor(attempts: readonly string[], repoRoot: string = REPO_ROOT) {
    super(
      [
        'No Temporal CLI found. Tried:',
        ...attempts.map((a) => `  - ${a}`),
        'Install one of:',
        '  - Go 1.25 or newer (https://go.dev/dl), then run `npm run temporal:cli`, which runs:',
        `      ${goInstallCommand(repoRoot)}`,
        '  - a `temporal` binary on PATH (https://docs.temporal.io/cli)',
        `  - or set ${TEMPORAL_CLI_ENV}=/path/to/temporal`,
      ].join('\n'),
    );
    this.attempts = attempts;
  }
}

/** Thrown when `go install` of the Temporal CLI fails; carries the tail of Go's output. */
export class TemporalCliBuildError extends FlywheelError {
  readonly output: string;
  constructor(message: string, output: string, repoRoot: string = REPO_ROOT) {
    super(`${message}\nCommand: ${goInstallCommand(repoRoot)}\nLast output:\n${output || '(none)'}`);
    this.output = output;
  }
}

export interface LocateTemporalCliOptions {
  /** Build with `go install` when no binary is found. Default true. */
  build?: boolean;
  /** When nothing is found or buildable, return `undefined` ("let the SDK download it") instead of throwing. */
  allowDownload?: boolean;
  /** Receives human-readable progress (which binary is used, build started, still building). */
  onProgress?: (message: string) => void;
  /** Defaults to this repository's root. */
  repoRoot?: string;
  /** Environment for the override and for finding and running `temporal` and `go`. Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Returns the path (or, for PATH, the bare name `temporal`) of a runnable Temporal CLI.
 * Returns `undefined` only when `allowDownload` is set and nothing else worked.
 */
export async function locateTemporalCli(options?: LocateTemporalCliOptions & { allowDownload?: false }): Promise<string>;
export async function locateTemporalCli(options: LocateTemporalCliOptions & { allowDownload: true }): Promise<string | undefined>;
export async function locateTemporalCli(options: LocateTemporalCliOptions = {}): Promise<string | undefined> {
  const { build = true, allowDownload = false, onProgress = () => {}, repoRoot = REPO_ROOT, env = process.env } = options;
  const attempts: string[] = [];

  // An explicit choice wins, and a broken one is an error rather than a silent fallback.
  const override = env[TEMPORAL_CLI_ENV];
  if (override) {
    const version = await cliVersion(override, env);
    if (version === undefined) throw new TemporalCliNotFoundError([`${TEMPORAL_CLI_ENV}=${override}: does not run \`--version\``], repoRoot);
    onProgress(`Using Temporal CLI from ${TEMPORAL_CLI_ENV}: ${override} (${version})`);
    return override;
  }

  const onPath = await cliVersion('temporal', env);
  if (onPath !== undefined) {
    onProgress(`Using Temporal CLI on PATH (${onPath})`);
    return 'temporal';
  }
  attempts.push('`temporal` on PATH: not found');

  const cached = cachedTemporalCliPath(repoRoot);
  if (existsSync(cached)) {
    const version = await cliVersion(cached, env);
    if (version !== undefined) {
      onProgress(`Using Temporal CLI ${cached} (${version})`);
      return cached;
    }
    attempts.push(`${cached}: exists but does not run`);
  } else {
    attempts.push(`${cached}: not built yet`);
  }

  if (build) {
    const go = await firstLine('go', ['version'], env);
    if (go !== undefined) {
      await buildTemporalCli(repoRoot, env, onProgress);
      const version = await cliVersion(cached, env);
      if (version === undefined) throw new TemporalCliBuildError('go install succeeded but the binary does not run', '', repoRoot);
      onProgress(`Built Temporal CLI ${cached} (${version})`);
      return cached;
    }
    attempts.push('building with Go: `go` not found on PATH');
  } else {
    attempts.push('building with Go: not enabled');
  }

  if (allowDownload) {
    onProgress('No Temporal CLI found; the Temporal SDK will try to download one (needs internet access)');
    return undefined;
  }
  throw new TemporalCliNotFoundError(attempts, repoRoot);
}

/** Runs `go install` with output captured (shown only on failure) and a progress line each minute. */
async function buildTemporalCli(repoRoot: string, env: NodeJS.ProcessEnv, onProgress: (message: string) => void): Promise<void> {
  onProgress(
    `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with Go (first build takes several minutes, ~15 min on 2 cores; later runs reuse ${cachedTemporalCliPath(repoRoot)}):\n  ${goInstallCommand(repoRoot)}`,
  );
  const started = Date.now();
  const ticker = setInterval(() => onProgress(`  still building the Temporal CLI (${Math.round((Date.now() - started) / 60_000)} min)...`), 60_000);
  ticker.unref();
  try {
    const { code, output } = await run('go', ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
      ...env,
      // A static binary: no C toolchain needed, runs on any Linux of the same architecture.
      CGO_ENABLED: '0',
      GOBIN: join(repoRoot, '.tools'),
    });
    if (code !== 0) throw new TemporalCliBuildError(`go install exited with code ${code}`, tail(output, 40), repoRoot);
  } finally {
    clearInterval(ticker);
  }
}

/** The first line of `<exe> --version`, or undefined when it does not run. */
function cliVersion(executable: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return firstLine(executable, ['--version'], env);
}

function firstLine(executable: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(executable, args, { env, timeout: 30_000 }, (error, stdout) => {
      resolve(error ? undefined : stdout.trim().split('\n')[0] ?? '');
    });
  });
}

/** Runs a command to completion, collecting stdout and stderr together. */
function run(executable: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      // Keep only the end: the error, if any, is there.
      output = (output + chunk.toString()).slice(-64_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
