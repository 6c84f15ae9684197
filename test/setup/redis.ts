import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { expect, inject } from 'vitest';
import type {} from './global-setup.ts'; // the `ProvidedContext` keys
import { restartablePort } from '../support/restartable-port.ts';

/**
 * Real redis-server processes for tests: the shared one global-setup.ts starts for the whole run
 * (`redisUrl()`), and private ones a test file starts when it must stop, pause or restart a server
 * (`startRedisServer()`). Every server binds 127.0.0.1 on a free port, without persistence
 * (`--save '' --appendonly no`), in a temporary folder. The binary comes from the Debian package
 * (`apt-get install redis-server`; .ci/run installs it) or $FLYWHEEL_REDIS_SERVER.
 *
 * @example
 * const store = new RedisOnlineStore({ url: redisUrl(), keyPrefix: testKeyPrefix() });
 * // ...
 * await deleteTestKeys(redisUrl(), store.keyPrefix);
 */

/** Environment variable naming a redis-server binary to use instead of `redis-server` on PATH. */
export const REDIS_SERVER_ENV = 'FLYWHEEL_REDIS_SERVER';
const HOST = '127.0.0.1';

/** The URL (`redis://127.0.0.1:<port>`) of the shared server started by global-setup.ts. */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** A key prefix unique to this test file and run: `fw:test-<file>-<random>:`. */
export function testKeyPrefix(file?: string): string {
  const path = file ?? expect.getState().testPath ?? 'test';
  const name = basename(path.startsWith('file:') ? fileURLToPath(path) : path).replace(/\.test\.ts$|\.ts$/, '');
  return `fw:test-${name}-${randomUUID().slice(0, 8)}:`;
}

/** Deletes every key starting with `prefix` (SCAN + UNLINK). */
export async function deleteTestKeys(url: string, prefix: string, password?: string): Promise<number> {
  const client = createClient({ url, ...(password ? { password } : {}) });
  client.on('error', () => {});
  await client.connect();
  try {
    let deleted = 0;
    for await (const keys of client.scanIterator({ MATCH: `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`, COUNT: 1000 })) {
      if (keys.length > 0) deleted += await client.unlink(keys);
    }
    return deleted;
  } finally {
    client.destroy();
  }
}

/** Runs `work` with a plain node-redis client on `url`, for looking at what a store wrote. */
export async function withRedisClient<T>(url: string, work: (client: ReturnType<typeof createClient>) => Promise<T>, password?: string): Promise<T> {
  const client = createClient({ url, ...(password ? { password } : {}) });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    client.destroy();
  }
}

/** Thrown when no redis-server binary can be run. */
export class RedisServerNotFoundError extends Error {
  constructor(tried: string) {
    super(
      `No redis-server found (tried ${tried}). The online-store tests run against a real Redis: ` +
        `install it with \`apt-get install redis-server\` (Debian/Ubuntu; .ci/run does), or set ${REDIS_SERVER_ENV}=/path/to/redis-server.`,
    );
    this.name = 'RedisServerNotFoundError';
  }
}

/** The redis-server binary to run: $FLYWHEEL_REDIS_SERVER, else `redis-server` on PATH. */
export function locateRedisServer(env: NodeJS.ProcessEnv = process.env): string {
  const candidate = env[REDIS_SERVER_ENV] || 'redis-server';
  const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error || probe.status !== 0 || !/Redis server v=/.test(probe.stdout)) {
    throw new RedisServerNotFoundError(env[REDIS_SERVER_ENV] ? `${REDIS_SERVER_ENV}=${candidate}` : '`redis-server` on PATH');
  }
  return candidate;
}

export interface StartRedisOptions {
  /** Default: a free port. Give the previous one to restart a server where clients expect it. */
  port?: number;
  /** Sets `requirepass`. */
  password?: string;
  /** How long to wait for "Ready to accept connections". Default 10 s. */
  readyTimeoutMs?: number;
  /**
   * Keep the data across kill() and restart(): an append-only file in the server's folder, fsync'd
   * before each write is answered (`--appendonly yes --appendfsync always`), as a production Redis
   * that must not forget would. Default false (no persistence).
   */
  persist?: boolean;
}

/** A redis-server process started by startRedisServer. */
export interface RunningRedis {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The current process (restart() starts a new one). */
  readonly pid: number;
  /** Kills the process at once (SIGKILL): clients see their connections drop, then refused. */
  kill(): Promise<void>;
  /** Starts a new process on the same port (after kill()). */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing answers. */
  pause(): void;
  /** Thaws a paused process (SIGCONT). */
  resume(): void;
  /** Stops the process and removes its folder. */
  stop(): Promise<void>;
}

/** Starts a redis-server on 127.0.0.1, without persistence, and waits until it accepts connections. */
export async function startRedisServer(options: StartRedisOptions = {}): Promise<RunningRedis> {
  const executable = locateRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-redis-'));
  // restart() starts it again on this port: drawn where no client's local port can take it while it is down.
  let port = options.port ?? (await restartablePort(HOST));
  let child: ChildProcess;
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const launch = async (): Promise<ChildProcess> => {
    const args = [
      '--port', String(port), '--bind', HOST, '--save', '', '--dir', dir,
      ...(options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
      '--daemonize', 'no', '--loglevel', 'notice', '--logfile', '',
      ...(options.password ? ['--requirepass', options.password] : []),
    ];
    const started = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitUntilReady(started, options.readyTimeoutMs ?? 10_000, `${executable} ${args.join(' ')}`);
    return started;
  };

  for (let attempt = 1; ; attempt++) {
    try {
      child = await launch();
      break;
    } catch (error) {
      // A free port can be taken before redis-server binds it; pick another, unless one was asked for.
      if (options.port !== undefined || attempt >= 3 || !/Address already in use/i.test(String(error))) {
        process.removeListener('exit', killOnExit);
        rmSync(dir, { recursive: true, force: true });
        throw error;
      }
      port = await restartablePort(HOST);
    }
  }

  const running: RunningRedis = {
    url: `redis://${HOST}:${port}`,
    port,
    get pid() {
      return child.pid ?? -1;
    },
    async kill() {
      await killChild(child, 'SIGKILL');
    },
    async restart() {
      child = await launch();
    },
    pause() {
      child.kill('SIGSTOP');
    },
    resume() {
      child.kill('SIGCONT');
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      child.kill('SIGCONT');
      await killChild(child, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return running;
}

async function waitUntilReady(child: ChildProcess, timeoutMs: number, command: string): Promise<void> {
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start within ${timeoutMs} ms: ${command}\n${output.slice(-4000)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited during start-up (${signal ?? `code ${code}`}): ${command}\n${output.slice(-4000)}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
}

async function killChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A TCP proxy in front of a server that holds every reply chunk back by a fixed delay. */
export interface DelayProxy {
  /** `redis://127.0.0.1:<proxy port>`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts a proxy to `127.0.0.1:<targetPort>` that forwards requests at once and delivers each
 * chunk of replies `replyDelayMs` after it arrived (in order). A call then takes at least
 * `replyDelayMs` per round trip it makes, which is how tests count round trips.
 */
export async function startDelayProxy(targetPort: number, replyDelayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const server = createServer((downstream) => {
    const upstream = connect(targetPort, HOST);
    sockets.add(downstream).add(upstream);
    let lastDue = 0;
    downstream.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      const due = Math.max(Date.now() + replyDelayMs, lastDue);
      lastDue = due;
      setTimeout(() => {
        if (!downstream.destroyed) downstream.write(chunk);
      }, due - Date.now());
    });
    const closeBoth = () => {
      downstream.destroy();
      upstream.destroy();
      sockets.delete(downstream);
      sockets.delete(upstream);
    };
    downstream.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `redis://${HOST}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
