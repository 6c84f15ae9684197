import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlywheelError } from '../../core/errors.ts';
import { REPO_ROOT } from './temporal-cli.ts';

/**
 * versitygw, the Versity S3 Gateway: a real S3-compatible server (one Go binary) that the S3 object
 * store is tested against, with its posix backend (buckets are folders of a local directory).
 *
 * Finding it mirrors the Temporal CLI (`temporal-cli.ts`): $FLYWHEEL_VERSITYGW, `versitygw` on PATH,
 * the cached build `<repo>/.tools/versitygw`, else a `go install` into that cache (about a minute).
 *
 * @example
 * const executable = await locateVersitygw({ onProgress: (m) => console.log(m) });
 * const server = await startVersitygw({ executable });
 * // server.endpoint = 'http://127.0.0.1:41234', server.accessKeyId / server.secretAccessKey: root credentials of this run
 * await server.stop();
 */

export const VERSITYGW_VERSION = 'v1.7.0';
export const VERSITYGW_MODULE = 'github.com/versity/versitygw/cmd/versitygw';
/** Environment variable naming a versitygw binary to use instead of searching. */
export const VERSITYGW_ENV = 'FLYWHEEL_VERSITYGW';

/** Where the built binary is cached (`.tools/` is git-ignored). */
export function cachedVersitygwPath(repoRoot: string = REPO_ROOT): string {
  return join(repoRoot, '.tools', 'versitygw');
}

/** The shell command that builds versitygw into the cache, as printed in errors and progress messages. */
export function versitygwInstallCommand(repoRoot: string = REPO_ROOT): string {
  return `CGO_ENABLED=0 GOBIN=${join(repoRoot, '.tools')} go install ${VERSITYGW_MODULE}@${VERSITYGW_VERSION}`;
}

/** Thrown by `locateVersitygw` when no versitygw can be found, run or built. */
export class VersitygwNotFoundError extends FlywheelError {
  /** What was tried, in order, and why each failed. */
  readonly attempts: readonly string[];
  constructor(attempts: readonly string[], repoRoot: string = REPO_ROOT) {
    super(
      [
        'No versitygw (the S3-compatible server the S3 tests run against) found. Tried:',
        ...attempts.map((a) => `  - ${a}`),
        'Install one of:',
        '  - Go 1.25 or newer (https://go.dev/dl), then run `npx tsx scripts/ensure-versitygw.ts`, which runs:',
        `      ${versitygwInstallCommand(repoRoot)}`,
        '  - a `versitygw` binary on PATH (https://github.com/versity/versitygw)',
        `  - or set ${VERSITYGW_ENV}=/path/to/versitygw`,
      ].join('\n'),
    );
    this.attempts = attempts;
  }
}

/** Thrown when `go install` of versitygw fails; carries the tail of Go's output. */
export class VersitygwBuildError extends FlywheelError {
  readonly output: string;
  constructor(message: string, output: string, repoRoot: string = REPO_ROOT) {
    super(`${message}\nCommand: ${versitygwInstallCommand(repoRoot)}\nLast output:\n${output || '(none)'}`);
    this.output = output;
  }
}

/** Thrown when versitygw exits during start-up or does not answer in time; carries its last output. */
export class VersitygwStartError extends FlywheelError {
  readonly endpoint: string;
  readonly output: string;
  constructor(message: string, endpoint: string, output: string) {
    super(`${message}\nLast output of versitygw:\n${output || '(none)'}`);
    this.endpoint = endpoint;
    this.output = output;
  }
}

export interface LocateVersitygwOptions {
  /** Build with `go install` when no binary is found. Default true. */
  build?: boolean;
  /** Receives human-readable progress (which binary is used, build started, still building). */
  onProgress?: (message: string) => void;
  /** Defaults to this repository's root. */
  repoRoot?: string;
  /** Environment for the override and for finding and running `versitygw` and `go`. Defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** Returns the path (or, for PATH, the bare name `versitygw`) of a runnable versitygw. */
export async function locateVersitygw(options: LocateVersitygwOptions = {}): Promise<string> {
  const { build = true, onProgress = () => {}, repoRoot = REPO_ROOT, env = process.env } = options;
  const attempts: string[] = [];

  // An explicit choice wins, and a broken one is an error rather than a silent fallback.
  const override = env[VERSITYGW_ENV];
  if (override) {
    const version = await versionOf(override, env);
    if (version === undefined) throw new VersitygwNotFoundError([`${VERSITYGW_ENV}=${override}: does not run \`--version\``], repoRoot);
    onProgress(`Using versitygw from ${VERSITYGW_ENV}: ${override} (${version})`);
    return override;
  }

  const onPath = await versionOf('versitygw', env);
  if (onPath !== undefined) {
    onProgress(`Using versitygw on PATH (${onPath})`);
    return 'versitygw';
  }
  attempts.push('`versitygw` on PATH: not found');

  const cached = cachedVersitygwPath(repoRoot);
  if (existsSync(cached)) {
    const version = await versionOf(cached, env);
    if (version !== undefined) {
      onProgress(`Using versitygw ${cached} (${version})`);
      return cached;
    }
    attempts.push(`${cached}: exists but does not run`);
  } else {
    attempts.push(`${cached}: not built yet`);
  }

  if (!build) {
    attempts.push('building with Go: not enabled');
    throw new VersitygwNotFoundError(attempts, repoRoot);
  }
  if ((await firstLine('go', ['version'], env)) === undefined) {
    attempts.push('building with Go: `go` not found on PATH');
    throw new VersitygwNotFoundError(attempts, repoRoot);
  }
  await buildVersitygw(repoRoot, env, onProgress);
  const version = await versionOf(cached, env);
  if (version === undefined) throw new VersitygwBuildError('go install succeeded but the binary does not run', '', repoRoot);
  onProgress(`Built versitygw ${cached} (${version})`);
  return cached;
}

export interface StartVersitygwOptions {
  /** The binary, from `locateVersitygw`. */
  executable: string;
  /** Folder of the posix backend (one sub-folder per bucket). Default: a new temporary folder, removed by stop(). */
  dataDir?: string;
  /** Region the gateway signs for. Default us-east-1 (CreateBucket then needs no location constraint). */
  region?: string;
  /** How long to wait for it to answer. Default 30 s. */
  readyTimeoutMs?: number;
}

/** A versitygw process started by `startVersitygw`. */
export interface RunningVersitygw {
  /** `http://127.0.0.1:<port>`; use it with `forcePathStyle: true`. */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly region: string;
  /** Root credentials, generated for this process; they may create buckets. */
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly dataDir: string;
  readonly pid: number;
  /** Stops the process (SIGTERM, SIGKILL after `timeoutMs`) and removes a temporary data folder. */
  stop(timeoutMs?: number): Promise<void>;
}

const HOST = '127.0.0.1';
const HEALTH_PATH = '/health';
/** A free port can be taken by someone else before versitygw binds it; try a new one a few times. */
const START_ATTEMPTS = 3;

/**
 * Starts versitygw with its posix backend, bound to 127.0.0.1 only, on a free port, with root
 * credentials generated for this run (passed through its environment, not its command line), and
 * waits until it answers.
 */
export async function startVersitygw(options: StartVersitygwOptions): Promise<RunningVersitygw> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'flywheel-versitygw-')));
  try {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await startOnce(options, dataDir, ownsDataDir);
      } catch (error) {
        const portTaken = error instanceof VersitygwStartError && /address already in use/i.test(error.output);
        if (!portTaken || attempt >= START_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

async function startOnce(options: StartVersitygwOptions, dataDir: string, ownsDataDir: boolean): Promise<RunningVersitygw> {
  const port = await freePort();
  const endpoint = `http://${HOST}:${port}`;
  const region = options.region ?? 'us-east-1';
  // An access key shaped like AWS's (20 upper-case characters) and a 40-character secret.
  const accessKeyId = `FLYW${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64url');

  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    // versitygw reads its flags from VGW_* and ROOT_* variables too; only ours count.
    if (!name.startsWith('VGW_') && !name.startsWith('ROOT_')) env[name] = value;
  }
  env.ROOT_ACCESS_KEY_ID = accessKeyId;
  env.ROOT_SECRET_ACCESS_KEY = secretAccessKey;
  const args = ['--port', `${HOST}:${port}`, '--region', region, '--health', HEALTH_PATH, '--keep-alive', '--quiet', 'posix', dataDir];

  const child = spawn(options.executable, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-16_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const ended = new Promise<number | null | Error>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? new Error(`killed by ${signal}`) : null)));
    child.once('error', resolve);
  });
  // If the process running us exits without calling stop(), do not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async (timeoutMs = 5_000) => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    await stopChild(child, ended, timeoutMs);
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
  };

  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const ready = await waitUntilHealthy(`${endpoint}${HEALTH_PATH}`, readyTimeoutMs, ended);
  if (ready !== 'ready') {
    process.removeListener('exit', killOnExit);
    await stopChild(child, ended, 2_000);
    const why = ready === 'timeout' ? `did not answer at ${endpoint} within ${readyTimeoutMs / 1000} s` : `exited during start-up (${describeEnd(ready)})`;
    throw new VersitygwStartError(`versitygw ${why}: ${options.executable} ${args.join(' ')}`, endpoint, tail(output, 30));
  }
  return { endpoint, host: HOST, port, region, accessKeyId, secretAccessKey, dataDir, pid: child.pid ?? -1, stop };
}

/** A port free on 127.0.0.1 right now, chosen by the operating system. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Polls the health endpoint until it answers 200, the process ends, or time runs out. */
async function waitUntilHealthy(url: string, timeoutMs: number, ended: Promise<number | null | Error>): Promise<'ready' | 'timeout' | number | null | Error> {
  let outcome: number | null | Error | undefined;
  let hasEnded = false;
  void ended.then((value) => {
    outcome = value;
    hasEnded = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasEnded) return outcome ?? null;
    if ((await httpStatus(url)) === 200) return 'ready';
    await sleep(50);
  }
  return 'timeout';
}

function httpStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: 1_000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function stopChild(child: ChildProcess, ended: Promise<unknown>, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    await ended;
  } finally {
    clearTimeout(timer);
  }
}

function describeEnd(outcome: number | null | Error): string {
  return outcome instanceof Error ? outcome.message : `exit code ${outcome}`;
}

/** Runs `go install` with output captured (shown only on failure) and a progress line each minute. */
async function buildVersitygw(repoRoot: string, env: NodeJS.ProcessEnv, onProgress: (message: string) => void): Promise<void> {
  onProgress(
    `Building versitygw ${VERSITYGW_VERSION} with Go (1–2 minutes on 2 cores with cold Go caches; later runs reuse ${cachedVersitygwPath(repoRoot)}):\n  ${versitygwInstallCommand(repoRoot)}`,
  );
  const started = Date.now();
  const ticker = setInterval(() => onProgress(`  still building versitygw (${Math.round((Date.now() - started) / 60_000)} min)...`), 60_000);
  ticker.unref();
  try {
    const { code, output } = await run('go', ['install', `${VERSITYGW_MODULE}@${VERSITYGW_VERSION}`], {
      ...env,
      // A static binary: no C toolchain needed.
      CGO_ENABLED: '0',
      GOBIN: join(repoRoot, '.tools'),
    });
    if (code !== 0) throw new VersitygwBuildError(`go install exited with code ${code}`, tail(output, 40), repoRoot);
  } finally {
    clearInterval(ticker);
  }
}

/** The first line of `<exe> --version`, or undefined when it does not run. */
function versionOf(executable: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return firstLine(executable, ['--version'], env);
}

function firstLine(executable: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(executable, args, { env, timeout: 30_000 }, (error, stdout) => {
      resolve(error ? undefined : (stdout.trim().split('\n')[0] ?? '').replace(/\s+/g, ' '));
    });
  });
}

/** Runs a command to completion, collecting stdout and stderr together. */
function run(executable: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(executable, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
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
