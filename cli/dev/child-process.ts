import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * What the local servers Flywheel starts (Temporal dev server, versitygw, redis-server in tests)
 * share: a free loopback port, waiting until one answers, and stopping it politely then firmly.
 */

/** How a started process ended: its exit code, null when a signal killed it, or the spawn error. */
export type ProcessEnd = number | null | Error;

/** A port free on `host` right now, chosen by the operating system. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Calls `probe` every `intervalMs` until it says ready, the process ends, or `timeoutMs` passes. */
export async function waitUntilReady(probe: () => Promise<boolean>, ended: Promise<ProcessEnd>, timeoutMs: number, intervalMs: number): Promise<'ready' | 'timeout' | ProcessEnd> {
  let outcome: ProcessEnd | undefined;
  let hasEnded = false;
  void ended.then((value) => {
    outcome = value;
    hasEnded = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasEnded) return outcome ?? null;
    if (await probe()) return 'ready';
    await sleep(intervalMs);
  }
  return 'timeout';
}

/** Sends `signal` (letting the server close its files cleanly), then SIGKILL after `timeoutMs`. */
export async function stopChild(child: ChildProcess, ended: Promise<unknown>, timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  // Never started (spawn error), or already gone.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    await ended;
  } finally {
    clearTimeout(timer);
  }
}

/** A process end in words, for error messages. */
export function describeEnd(ended: ProcessEnd): string {
  if (ended instanceof Error) return ended.message;
  return ended === null ? 'killed by a signal' : `exit code ${ended}`;
}
