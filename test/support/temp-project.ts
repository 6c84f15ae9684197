import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(REPO_ROOT, 'bin', 'flywheel.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TempProject {
  readonly dir: string;
  write(path: string, text: string): void;
  /** Runs the real `flywheel` CLI in the project folder. */
  cli(...args: string[]): CliResult;
  /** The same without blocking this process (needed when a worker in this process must keep running). */
  cliAsync(...args: string[]): Promise<CliResult>;
  remove(): void;
}

function cliEnv(): NodeJS.ProcessEnv {
  const { FLYWHEEL_PROFILE: _ignored, ...env } = process.env;
  return env;
}

/**
 * A throwaway Flywheel project in a temp folder that imports `flywheel` like an installed one
 * (node_modules/flywheel links to this repository).
 */
export function createTempProject(files: Record<string, string>): TempProject {
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-project-'));
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(REPO_ROOT, join(dir, 'node_modules', 'flywheel'), 'dir');
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  write('package.json', '{ "type": "module" }\n');
  for (const [path, text] of Object.entries(files)) write(path, text);
  return {
    dir,
    write,
    cli: (...args) => {
      const result = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env: cliEnv() });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    cliAsync: (...args) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: cliEnv() });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
