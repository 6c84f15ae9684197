import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlywheelError } from '../../core/errors.ts';
import { describeEnd, freePort, stopChild, waitUntilReady } from './child-process.ts';
import { findGoTool, GoToolNotFoundError, tail, type GoTool, type LocateGoToolOptions } from './go-tool.ts';

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

/**
 * versitygw v1.8.0, built from source like the Temporal CLI (about a minute and a half cold). Not
 * v1.7.0: its posix backend checked `If-None-Match: *` and wrote the object in two steps, so two of
 * eight racing creates could both win (versity/versitygw#2288, fixed in v1.8.0), which failed the
 * object-store contract's race case in about a third of the runs here.
 */
export const VERSITYGW: GoTool = {
  title: 'versitygw (the S3-compatible server the S3 tests run against)',
  binary: 'versitygw',
  module: 'github.com/versity/versitygw/cmd/versitygw',
  version: 'v1.8.0',
  envVar: 'FLYWHEEL_VERSITYGW',
  ensureCommand: 'npx tsx scripts/ensure-versitygw.ts',
  homepage: 'https://github.com/versity/versitygw',
  firstBuild: '~1.5 min on 2 cores with a cold Go module cache',
};

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

/** Returns the path (or, for PATH, the bare name `versitygw`) of a runnable versitygw. */
export async function locateVersitygw(options: LocateGoToolOptions = {}): Promise<string> {
  const found = await findGoTool(VERSITYGW, options);
  if ('path' in found) return found.path;
  throw new GoToolNotFoundError(VERSITYGW, found.attempts, options.repoRoot);
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
  const port = await freePort(HOST);
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
  const ready = await waitUntilReady(async () => (await httpStatus(`${endpoint}${HEALTH_PATH}`)) === 200, ended, readyTimeoutMs, 50);
  if (ready !== 'ready') {
    process.removeListener('exit', killOnExit);
    await stopChild(child, ended, 2_000);
    const why = ready === 'timeout' ? `did not answer at ${endpoint} within ${readyTimeoutMs / 1000} s` : `exited during start-up (${describeEnd(ready)})`;
    throw new VersitygwStartError(`versitygw ${why}: ${options.executable} ${args.join(' ')}`, endpoint, tail(output, 30));
  }
  return { endpoint, host: HOST, port, region, accessKeyId, secretAccessKey, dataDir, pid: child.pid ?? -1, stop };
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

