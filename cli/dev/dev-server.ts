import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes, type SearchAttributeType, type defineSearchAttributeKey } from '@temporalio/common';
import { registerSearchAttributes } from '../../worker/search-attributes-registration.ts';
import { FlywheelError } from '../../core/errors.ts';
import { describeEnd, stopChild, waitUntilReady } from './child-process.ts';
import { FLYWHEEL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';

/**
 * Runs `temporal server start-dev` (the Temporal CLI's single-process server, SQLite-backed) for
 * `flywheel dev`. A second start against an address that already answers reuses that server.
 *
 * @example
 * const server = await startDevServer({ cliPath, dbFile: '.flywheel/temporal.db' });
 * console.log(server.address, server.uiUrl);
 * await server.stop();
 */

/** `SearchAttributeKey` is not exported from @temporalio/common's index; derive it. */
type AnySearchAttributeKey = ReturnType<typeof defineSearchAttributeKey<SearchAttributeType>>;

export interface DevServerOptions {
  /**
   * The Temporal CLI, from `locateTemporalCli`; or a function that finds it, called only when a
   * server must be started (so reusing a running server never waits for a Go build).
   */
  cliPath: string | (() => Promise<string>);
  /** SQLite file that keeps workflows, schedules and search attributes across restarts. */
  dbFile: string;
  /** Frontend gRPC port. Default 7233. */
  port?: number;
  /** Web UI port. Default 8233. */
  uiPort?: number;
  /** Interface to bind. Default 127.0.0.1: the dev server has no auth, keep it off the network. */
  ip?: string;
  /** Namespace to create at launch. Default "default". */
  namespace?: string;
  /** Search attributes to register. Default: Flywheel's own. */
  searchAttributes?: readonly AnySearchAttributeKey[];
  /** Where the server's own output goes. Default `<dir of dbFile>/temporal-server.log`. */
  logFile?: string;
  /** How long to wait for the frontend to answer. Default 60 s. */
  readyTimeoutMs?: number;
}

export interface DevServer {
  /** host:port of the gRPC frontend. */
  readonly address: string;
  readonly uiUrl: string;
  readonly namespace: string;
  /** True when a server was already answering at the address and we did not start one. */
  readonly reused: boolean;
  readonly logFile: string | undefined;
  /** The server process we started (none for a reused one), to tell whether it is still alive. */
  readonly pid?: number;
  /** Stops the server we started (SIGINT, then SIGKILL after `timeoutMs`); a no-op for a reused one. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Thrown when the dev server exits during start-up or does not answer in time; carries its last log lines. */
export class DevServerStartError extends FlywheelError {
  readonly address: string;
  readonly logTail: string;
  constructor(message: string, address: string, logTail: string) {
    super(`${message}\nLast lines of the server log:\n${logTail || '(empty)'}`);
    this.address = address;
    this.logTail = logTail;
  }
}

/** The Temporal CLI's spelling of each search attribute type (`--search-attribute Name=Keyword`). */
export function cliSearchAttributeType(type: SearchAttributeType): string {
  return TypedSearchAttributes.toMetadataType(type);
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? 7233;
  const uiPort = options.uiPort ?? 8233;
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const searchAttributes = options.searchAttributes ?? FLYWHEEL_SEARCH_ATTRIBUTES;
  const address = `${ip}:${port}`;
  const uiUrl = `http://localhost:${uiPort}`;

  if (await isTemporalReachable(address)) {
    await ensureSearchAttributes(address, namespace, searchAttributes);
    return { address, uiUrl, namespace, reused: true, logFile: undefined, stop: async () => {} };
  }

  const cliPath = typeof options.cliPath === 'string' ? options.cliPath : await options.cliPath();
  mkdirSync(dirname(options.dbFile), { recursive: true });
  const logFile = options.logFile ?? join(dirname(options.dbFile), 'temporal-server.log');
  const args = ['server', 'start-dev', '--db-filename', options.dbFile, '--ip', ip, '--port', String(port), '--ui-port', String(uiPort), '--namespace', namespace];
  for (const key of searchAttributes) args.push('--search-attribute', `${key.name}=${cliSearchAttributeType(key.type)}`);

  const log = openSync(logFile, 'w');
  // detached: its own process group, so Ctrl-C in the terminal reaches only us and we can stop
  // the worker before the server, instead of both dying at once.
  const child = spawn(cliPath, args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  // Settles when the process ends, or with the error when it could not be started at all.
  const ended = new Promise<number | null | Error>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', resolve);
  });
  // If we exit without calling stop() (an uncaught error), do not leave the server behind.
  const killOnExit = () => child.kill('SIGINT');
  process.once('exit', killOnExit);

  const stop = async (timeoutMs = 10_000) => {
    process.removeListener('exit', killOnExit);
    // SIGINT lets the server close its SQLite file cleanly.
    await stopChild(child, ended, timeoutMs, 'SIGINT');
  };

  const ready = await waitUntilReady(() => isTemporalReachable(address), ended, options.readyTimeoutMs ?? 60_000, 250);
  if (ready !== 'ready') {
    await stop(5_000);
    const why = ready === 'timeout' ? `did not answer at ${address} within ${(options.readyTimeoutMs ?? 60_000) / 1000} s` : `exited during start-up (${describeEnd(ready)})`;
    throw new DevServerStartError(`Temporal dev server ${why}. Log: ${logFile}`, address, tailOf(logFile));
  }

  try {
    // A database from an earlier run keeps its search attributes, but start-dev does not add new
    // ones to it; register whatever is missing.
    await ensureSearchAttributes(address, namespace, searchAttributes);
  } catch (error) {
    await stop(5_000);
    throw error;
  }

  return { address, uiUrl, namespace, reused: false, logFile, pid: child.pid, stop };
}

/**
 * True when a Temporal frontend answers at `address` (and, if given, knows `namespace`).
 * Never throws: any failure means "not reachable".
 */
export async function isTemporalReachable(address: string, namespace?: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 1_000 });
    await connection.workflowService.getSystemInfo({});
    if (namespace !== undefined) await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}

/** Registers those of `keys` that `namespace` does not have yet. */
export async function ensureSearchAttributes(address: string, namespace: string, keys: readonly AnySearchAttributeKey[]): Promise<void> {
  const connection = await Connection.connect({ address });
  try {
    await registerSearchAttributes(connection, namespace, keys);
  } finally {
    await connection.close();
  }
}

function tailOf(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
