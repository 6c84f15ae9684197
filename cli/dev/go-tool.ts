import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlywheelError } from '../../core/errors.ts';

/** Flywheel's root folder: this file is `<root>/cli/dev/go-tool.ts` in the sources, `<root>/dist/cli/dev/go-tool.js` in the package. */
export const REPO_ROOT = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../' : '../../../', import.meta.url));

/**
 * A development server Flywheel builds from Go sources when no binary is at hand (the Temporal CLI,
 * versitygw): no npm package ships them, and `go install` from the Go module proxy works offline of
 * the wider internet. Found in this order: an environment override, the binary on PATH, the cached
 * build in `<repo>/.tools/`, else a build into that cache.
 */
export interface GoTool {
  /** What it is, in messages: "Temporal CLI". */
  readonly title: string;
  /** Its executable's name, on PATH and in `.tools/`. */
  readonly binary: string;
  readonly module: string;
  readonly version: string;
  /** Environment variable naming a binary to use instead of searching. */
  readonly envVar: string;
  /** The npm or tsx command that builds it (`npm run temporal:cli`). */
  readonly ensureCommand: string;
  /** Where to get a binary otherwise. */
  readonly homepage: string;
  /** How long a first build takes, for the progress message ("~15 min on 2 cores"). */
  readonly firstBuild: string;
}

export function cachedToolPath(tool: GoTool, repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, '.tools', tool.binary);
}

/** The shell command that builds the tool into the cache, as printed in errors and progress messages. */
export function goInstallCommandFor(tool: GoTool, repoRoot: string = REPO_ROOT): string {
  return `CGO_ENABLED=0 GOBIN=${join(repoRoot, '.tools')} go install ${tool.module}@${tool.version}`;
}

/** Thrown when no binary of a tool can be found, run or built; says what to install. */
export class GoToolNotFoundError extends FlywheelError {
  readonly tool: string;
  /** What was tried, in order, and why each failed. */
  readonly attempts: readonly string[];
  constructor(tool: GoTool, attempts: readonly string[], repoRoot: string = REPO_ROOT) {
    super(
      [
        `No ${tool.title} found. Tried:`,
        ...attempts.map((a) => `  - ${a}`),
        'Install one of:',
        `  - Go 1.25 or newer (https://go.dev/dl), then run \`${tool.ensureCommand}\`, which runs:`,
        `      ${goInstallCommandFor(tool, repoRoot)}`,
        `  - a \`${tool.binary}\` binary on PATH (${tool.homepage})`,
        `  - or set ${tool.envVar}=/path/to/${tool.binary}`,
      ].join('\n'),
    );
    this.tool = tool.binary;
    this.attempts = attempts;
  }
}

/** Thrown when `go install` of a tool fails; carries the tail of Go's output. */
export class GoToolBuildError extends FlywheelError {
  readonly output: string;
  constructor(tool: GoTool, message: string, output: string, repoRoot: string = REPO_ROOT) {
    super(`${message}\nCommand: ${goInstallCommandFor(tool, repoRoot)}\nLast output:\n${output || '(none)'}`);
    this.output = output;
  }
}

export interface LocateGoToolOptions {
  /** Build with `go install` when no binary is found. Default true. */
  build?: boolean;
  /** Receives human-readable progress (which binary is used, build started, still building). */
  onProgress?: (message: string) => void;
  /** Defaults to this repository's root. */
  repoRoot?: string;
  /** Environment for the override and for finding and running the tool and `go`. Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The path (or, for PATH, the bare name) of a runnable binary of `tool`, or undefined with the list of
 * what was tried when there is none. An override that does not run is an error, not a fallback.
 */
export async function findGoTool(tool: GoTool, options: LocateGoToolOptions = {}): Promise<{ path: string } | { attempts: string[] }> {
  const { build = true, onProgress = () => {}, repoRoot = REPO_ROOT, env = process.env } = options;
  const attempts: string[] = [];

  const override = env[tool.envVar];
  if (override) {
    const version = await versionOf(override, env);
    if (version === undefined) throw new GoToolNotFoundError(tool, [`${tool.envVar}=${override}: does not run \`--version\``], repoRoot);
    onProgress(`Using ${tool.title} from ${tool.envVar}: ${override} (${version})`);
    return { path: override };
  }

  const onPath = await versionOf(tool.binary, env);
  if (onPath !== undefined) {
    onProgress(`Using ${tool.title} on PATH (${onPath})`);
    return { path: tool.binary };
  }
  attempts.push(`\`${tool.binary}\` on PATH: not found`);

  const cached = cachedToolPath(tool, repoRoot);
  if (existsSync(cached)) {
    const version = await versionOf(cached, env);
    // A cached build of an older pin is rebuilt: the pin moves when the older one is wrong for the
    // tests (versitygw v1.7.0 let two racing If-None-Match PUTs both win). Go stamps the module's
    // version into the binary; without Go to read it, the cached binary is used as it is.
    const built = version === undefined ? undefined : await builtModuleVersion(cached, env);
    const stale = built !== undefined && built !== tool.version ? `built from ${built}, not the pinned ${tool.version}` : undefined;
    if (version !== undefined && (stale === undefined || !build)) {
      onProgress(`Using ${tool.title} ${cached} (${version}${stale ? `; ${stale}` : ''})`);
      return { path: cached };
    }
    attempts.push(`${cached}: ${stale ?? 'exists but does not run'}`);
  } else {
    attempts.push(`${cached}: not built yet`);
  }

  if (!build) {
    attempts.push('building with Go: not enabled');
    return { attempts };
  }
  if ((await firstLine('go', ['version'], env)) === undefined) {
    attempts.push('building with Go: `go` not found on PATH');
    return { attempts };
  }
  await buildGoTool(tool, repoRoot, env, onProgress);
  const version = await versionOf(cached, env);
  if (version === undefined) throw new GoToolBuildError(tool, 'go install succeeded but the binary does not run', '', repoRoot);
  onProgress(`Built ${tool.title} ${cached} (${version})`);
  return { path: cached };
}

/** Runs `go install` with output captured (shown only on failure) and a progress line each minute. */
async function buildGoTool(tool: GoTool, repoRoot: string, env: NodeJS.ProcessEnv, onProgress: (message: string) => void): Promise<void> {
  onProgress(`Building the ${tool.title} ${tool.version} with Go (the first build takes a while, ${tool.firstBuild}; later runs reuse ${cachedToolPath(tool, repoRoot)}):\n  ${goInstallCommandFor(tool, repoRoot)}`);
  const started = Date.now();
  const ticker = setInterval(() => onProgress(`  still building the ${tool.title} (${Math.round((Date.now() - started) / 60_000)} min)...`), 60_000);
  ticker.unref();
  try {
    const { code, output } = await run('go', ['install', `${tool.module}@${tool.version}`], {
      ...env,
      // A static binary: no C toolchain needed, runs on any Linux of the same architecture.
      CGO_ENABLED: '0',
      GOBIN: join(repoRoot, '.tools'),
    });
    if (code !== 0) throw new GoToolBuildError(tool, `go install exited with code ${code}`, tail(output, 40), repoRoot);
  } finally {
    clearInterval(ticker);
  }
}

/** The main module's version Go stamped into `executable` (`go version -m`), or undefined without Go or a stamp. */
export async function builtModuleVersion(executable: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const output = await stdoutOf('go', ['version', '-m', executable], env);
  return output === undefined ? undefined : goModuleVersion(output);
}

/**
 * The main module's version in `go version -m` output (its `mod` line: `\tmod\t<module>\t<version>\t<sum>`),
 * or undefined when there is none (a binary built from a checkout says `(devel)`, which is returned).
 */
export function goModuleVersion(output: string): string | undefined {
  return /^\tmod\t\S+\t(\S+)/m.exec(output)?.[1];
}

/** The first line of `<exe> --version`, or undefined when it does not run. */
function versionOf(executable: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return firstLine(executable, ['--version'], env);
}

async function firstLine(executable: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return (await stdoutOf(executable, args, env))?.trim().split('\n')[0];
}

/** What a short command printed, or undefined when it does not run or fails. */
function stdoutOf(executable: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(executable, args, { env, timeout: 30_000 }, (error, stdout) => resolve(error ? undefined : stdout));
  });
}

/** Runs a command to completion, collecting the end of stdout and stderr together. */
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

/** The last `lines` lines of `text`. */
export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
