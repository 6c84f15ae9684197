import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './temp-project.ts';

/** server/standalone.ts running as a child process. */
export interface StandaloneServer {
  readonly process: ChildProcess;
  readonly url: string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

export interface StandaloneServerOptions {
  readonly stateDir: string;
  /** A JSON file of the streams' schemas (streamSchemasOf). */
  readonly streamsPath: string;
  /** FLYWHEEL_TOKENS, e.g. `t=write:*`. */
  readonly tokens: string;
  /** More flags for standalone.ts (`--segment-max-bytes`, …). */
  readonly args?: readonly string[];
  /** Runs the server under another command (`prlimit --fsize=… --`), given Node and its arguments. */
  readonly wrap?: (command: string, args: string[]) => { command: string; args: string[] };
  /** Called as soon as the process exists, before it listens, so a test can kill it whatever happens next. */
  readonly onSpawn?: (process: ChildProcess) => void;
}

/**
 * Starts server/standalone.ts as a child process (a real process a test can SIGKILL) on 127.0.0.1
 * and a free port; resolves once it listens, rejects with its stderr if it exits before.
 */
export async function startStandaloneServer(options: StandaloneServerOptions): Promise<StandaloneServer> {
  const node = [process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'server', 'standalone.ts'), '--state-dir', options.stateDir, '--streams', options.streamsPath, '--port', '0', ...(options.args ?? [])]] as const;
  const { command, args } = options.wrap ? options.wrap(node[0], [...node[1]]) : { command: node[0], args: [...node[1]] };
  const proc = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, FLYWHEEL_TOKENS: options.tokens }, stdio: ['ignore', 'pipe', 'pipe'] });
  options.onSpawn?.(proc);
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`server exited (${String(code)}) before listening:\n${stderr}`)));
  });
  return { process: proc, url, stderr: () => stderr, exited };
}
