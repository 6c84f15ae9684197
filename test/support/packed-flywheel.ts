import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './temp-project.ts';

/**
 * Flywheel as a user gets it: the tarball `npm pack` makes (compiled JavaScript and declarations in
 * dist/, bin/flywheel.js), and its installation into a project's node_modules.
 *
 * The tarball is built in a temporary folder, not by `npm pack` in the checkout, whose prepack would
 * delete and rebuild the dist/ other tests and engineers may be using: the same compiler and config
 * (tsconfig.build.json, with another outDir), the same package.json and its `files`, then
 * `npm pack --ignore-scripts` there. Installing extracts the tarball where npm puts it
 * (node_modules/flywheel); its dependencies are this checkout's installed node_modules (the versions of
 * package-lock.json), linked rather than downloaded, so the test needs no registry.
 */
export interface PackedFlywheel {
  readonly tarball: string;
  remove(): void;
}

export async function packFlywheel(): Promise<PackedFlywheel> {
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-pack-'));
  const stage = join(dir, 'package');
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string; files: string[] };
  const compiled = await run(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', join(stage, 'dist')], REPO_ROOT);
  // tsc emits even when some file of the shared tree does not type-check; without the CLI's entry point there is no package.
  if (!existsSync(join(stage, 'dist', 'cli', 'main.js'))) throw new Error(`the build emitted no dist/cli/main.js:\n${compiled.stdout}${compiled.stderr}`);
  // The UI's frontend, as `npm run build:ui` builds it (npm run build runs it), into the staged dist/ui.
  const ui = await run(process.execPath, [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'ui/vite.config.ts'], REPO_ROOT, { FLYWHEEL_UI_OUT: join(stage, 'dist', 'ui') });
  if (!existsSync(join(stage, 'dist', 'ui', 'index.html'))) throw new Error(`the UI build wrote no dist/ui/index.html:\n${ui.stdout}${ui.stderr}`);
  cpSync(join(REPO_ROOT, 'package.json'), join(stage, 'package.json'));
  for (const entry of manifest.files.filter((f) => f !== 'dist')) {
    mkdirSync(dirname(join(stage, entry)), { recursive: true });
    cpSync(join(REPO_ROOT, entry), join(stage, entry), { recursive: true });
  }
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], stage);
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
  const tarball = join(dir, `${manifest.name}-${manifest.version}.tgz`);
  if (!existsSync(tarball)) throw new Error(`npm pack wrote no ${tarball}: ${readdirSync(dir).join(', ')}`);
  return { tarball, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Installs the tarball into `projectDir`/node_modules/flywheel; returns the path of its `flywheel` command. */
export async function installPacked(tarball: string, projectDir: string): Promise<string> {
  const target = join(projectDir, 'node_modules', 'flywheel');
  mkdirSync(target, { recursive: true });
  const extracted = await run('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], projectDir);
  if (extracted.code !== 0) throw new Error(`tar failed:\n${extracted.stderr}`);
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(target, 'node_modules'), 'dir');
  return join(target, 'bin', 'flywheel.js');
}

function run(command: string, args: readonly string[], cwd: string, env?: Readonly<Record<string, string>>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, ...(env ? { env: { ...process.env, ...env } } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
