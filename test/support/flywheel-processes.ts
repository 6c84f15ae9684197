import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './temp-project.ts';

/**
 * `flywheel serve` and `flywheel worker` as real child processes of a test, each started in its own
 * project folder (its cwd, so its own `.flywheel` state folder), killable with SIGKILL and restartable
 * on the same folder. Resolve once the process says it is ready; reject with its stderr if it exits first.
 */
export interface FlywheelProcess {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  /** The node's URL (`flywheel serve` only). */
  readonly url: string;
}

export interface StartOptions {
  /** The project folder the process runs in. */
  readonly cwd: string;
  /** Extra environment (FLYWHEEL_TOKENS, passwords). */
  readonly env?: NodeJS.ProcessEnv;
  readonly args?: readonly string[];
  /** Called as soon as the process exists, so a test can kill it whatever happens next. */
  readonly onSpawn?: (child: ChildProcess) => void;
  /** How long it may take to be ready (a worker bundles its workflows first). Default 120 s. */
  readonly readyTimeoutMs?: number;
}

function spawnFlywheel(command: 'serve' | 'worker', options: StartOptions): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const { FLYWHEEL_PROFILE: _ignored, ...env } = process.env;
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), command, ...(options.args ?? [])], {
    cwd: options.cwd, env: { ...env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.onSpawn?.(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

function whenReady(started: ReturnType<typeof spawnFlywheel>, ready: (stderr: string) => string | undefined, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} was not ready within ${timeoutMs / 1000} s:\n${started.stderr()}`)), timeoutMs);
    const check = () => {
      const found = ready(started.stderr());
      if (found === undefined) return;
      clearTimeout(timer);
      started.child.stderr!.off('data', check);
      resolve(found);
    };
    started.child.stderr!.on('data', check);
    void started.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${String(code)}) before it was ready:\n${started.stderr()}`));
    });
  });
}

/** `flywheel serve --port 0 …`: ready once it has printed its URL and its operations line. */
export async function startServeProcess(options: StartOptions): Promise<FlywheelProcess> {
  const started = spawnFlywheel('serve', { ...options, args: ['--port', '0', ...(options.args ?? [])] });
  const url = await whenReady(started, (stderr) => (stderr.includes('/metrics') ? /Log API for \S+ on (http:\/\/\S+?): POST/.exec(stderr)?.[1] : undefined), 'flywheel serve', options.readyTimeoutMs ?? 120_000);
  return { ...started, url };
}

/** `flywheel worker …`: ready once it prints `Worker for …` (it polls from then on). */
export async function startWorkerProcess(options: StartOptions): Promise<FlywheelProcess> {
  const started = spawnFlywheel('worker', options);
  await whenReady(started, (stderr) => (stderr.includes('Worker for ') ? '' : undefined), 'flywheel worker', options.readyTimeoutMs ?? 120_000);
  return { ...started, url: '' };
}

/** SIGKILL: no handler runs, nothing is flushed or closed; resolves once the process is gone. */
export async function killHard(process: FlywheelProcess): Promise<void> {
  if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill('SIGKILL');
  await process.exited;
}

/** SIGTERM and wait: the process stops the way an operator stops it. */
export async function stopGracefully(process: FlywheelProcess): Promise<number | null> {
  if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill('SIGTERM');
  return process.exited;
}
