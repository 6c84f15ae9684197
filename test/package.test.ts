import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { installPacked, packFlywheel, type PackedFlywheel } from './support/packed-flywheel.ts';
import { createTempProject, REPO_ROOT } from './support/temp-project.ts';

/**
 * The package a user installs (issue 13, item 6): `npm pack`'s tarball (test/support/packed-flywheel.ts
 * builds it as prepack would, in a folder of its own) holds Flywheel compiled to JavaScript with type
 * declarations and no TypeScript source; installed into a fresh project, `npx flywheel --help`,
 * `flywheel validate` and `flywheel plan` (against a local DuckDB file) run from dist/, a consumer's
 * TypeScript type-checks against the declarations, and the workflows bundle from the installed
 * dist/workflows/index.js, as `flywheel worker` bundles them.
 *
 * Installing: the tarball is extracted where `npm install <tarball>` puts it, its dependencies linked
 * to this checkout's node_modules (the versions of package-lock.json). A full `npm install` of the
 * tarball fetches its 400-odd dependencies and took 4 min 49 s here, past this test's budget; it ran
 * by hand, with the same results (docs/development.md, "The package").
 */

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let packed: PackedFlywheel;
let root: string;
let project: string;
let installed: string;

beforeAll(async () => {
  packed = await packFlywheel();
  root = mkdtempSync(join(tmpdir(), 'flywheel-package-'));
  project = join(root, 'shop');
  mkdirSync(join(project, 'definitions'), { recursive: true });
  writeFileSync(join(project, 'package.json'), '{ "name": "shop", "private": true, "type": "module" }\n');
  await installPacked(packed.tarball, project);
  installed = join(project, 'node_modules', 'flywheel');
  // What npm links for a dependency's `bin`, so `npx flywheel` finds it.
  mkdirSync(join(project, 'node_modules', '.bin'));
  symlinkSync('../flywheel/bin/flywheel.js', join(project, 'node_modules', '.bin', 'flywheel'));
  writeFileSync(join(project, 'flywheel.config.ts'), [
    "import { defineConfig, localProfile } from 'flywheel';",
    "export default defineConfig({ project: 'shop', definitions: './definitions', profiles: { local: localProfile() } });",
    '',
  ].join('\n'));
  writeFileSync(join(project, 'definitions', 'orders.ts'), [
    "import { entity, featureView, source } from 'flywheel';",
    "export const customer = entity({ name: 'customer', joinKeys: { customer_id: 'int64' } });",
    "export const orders = source({ name: 'orders', table: 'orders', timestampField: 'ts', columns: { customer_id: 'int64', amount: 'float64', ts: 'timestamp' } });",
    "export const spend = featureView({ name: 'spend', entities: [customer], source: orders, ttl: '7d', features: { amount: 'float64' } });",
    '',
  ].join('\n'));
}, 300_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  packed?.remove();
});

function run(command: string, args: readonly string[], cwd: string, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    // NODE_OPTIONS cleared: vitest's own must not reach the installed CLI.
    const child = spawn(command, args, { cwd, env: { ...process.env, NODE_OPTIONS: '', FLYWHEEL_PROFILE: '' }, timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the tarball', () => {
  it('holds compiled JavaScript, declarations and the bin, and no TypeScript source', async () => {
    const listed = await run('tar', ['-tzf', packed.tarball], root);
    expect(listed.code).toBe(0);
    const files = listed.stdout.trim().split('\n').map((line) => line.replace(/^package\//, ''));
    expect(files).toEqual(expect.arrayContaining(['package.json', 'bin/flywheel.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/workflows/index.js', 'dist/workflows/project-guard.js', 'dist/worker/create-worker.js']));
    expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((file) => !file.startsWith('dist/') && !['package.json', 'bin/flywheel.js', 'README.md', 'LICENSE'].includes(file))).toEqual([]);
    // Every compiled module imports its neighbours as .js: no leftover .ts import to fail at run time.
    const main = readFileSync(join(installed, 'dist', 'cli', 'main.js'), 'utf8');
    expect(main).toContain('from "./commands/index.js";');
    expect(main).not.toMatch(/from ["'][^"']+\.ts["']/);
    // The UI's built frontend ships, and the installed server finds it beside itself (docs/ui.md).
    expect(files).toContain('dist/ui/index.html');
    expect(files.some((file) => /^dist\/ui\/assets\/index-[\w-]+\.js$/.test(file))).toBe(true);
    const found = await run(process.execPath, ['--input-type=module', '-e', `import { uiAssetsDir } from ${JSON.stringify(pathToFileURL(join(installed, 'dist', 'server', 'ui', 'ui-assets-dir.js')).href)}; process.stdout.write(uiAssetsDir({}) ?? 'none');`], root);
    expect(found.stdout).toBe(join(installed, 'dist', 'ui'));
  });

  it('exports dist/ to an installed project, and the flywheel-source condition only to a checkout', () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; types: string; bin: Record<string, string> };
    expect(manifest.exports['.']).toEqual({ 'flywheel-source': './index.ts', types: './dist/index.d.ts', default: './dist/index.js' });
    expect(manifest.types).toBe('./dist/index.d.ts');
    expect(manifest.bin).toEqual({ flywheel: './bin/flywheel.js' });
    expect(existsSync(join(installed, 'index.ts'))).toBe(false);
    expect(existsSync(join(installed, 'cli'))).toBe(false);
  });
});

describe('installed into a project', () => {
  it('npx flywheel --help lists the commands', async () => {
    const result = await run('npx', ['--no-install', 'flywheel', '--help'], project);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: flywheel \[options\] \[command\]\n/);
    for (const command of ['init', 'validate', 'plan', 'apply', 'dev', 'worker', 'run', 'materialize', 'serve']) expect(result.stdout).toMatch(new RegExp(`\\n  ${command}\\b`));
  });

  it('flywheel validate checks the definitions, loading the project TypeScript with no warehouse', async () => {
    const result = await run('npx', ['--no-install', 'flywheel', 'validate'], project);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('Valid: project shop, 1 entity, 1 source, 1 feature view (definitions).\n');
    expect(result.code).toBe(0);
  });

  it('flywheel plan reads the local DuckDB warehouse and plans every definition', async () => {
    mkdirSync(join(project, '.flywheel'), { recursive: true });
    const engine = await openDuckDBEngine({ path: join(project, '.flywheel', 'warehouse.duckdb') });
    try {
      await engine.run({ sql: "CREATE TABLE orders AS SELECT 1::BIGINT AS customer_id, 20.0::DOUBLE AS amount, TIMESTAMPTZ '2026-11-02 09:00:00+00' AS ts", parameters: [] });
    } finally {
      await engine.close();
    }
    const result = await run('npx', ['--no-install', 'flywheel', 'plan'], project);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe([
      'Plan for project "shop" against an empty registry (nothing applied yet).',
      '',
      '  + entity customer',
      '  + source orders',
      '  + featureView spend',
      '',
      'Plan: 3 to add, 0 to change, 0 to remove.',
      '',
    ].join('\n'));
    expect(result.code).toBe(0);
  });

  // After the plan test, which creates the warehouse plan reads.
  it('--help loads none of the engines, Temporal, the AWS SDK, the API server, zod or tsx; plan loads only its engine', async () => {
    // A resolve hook that prints each package Flywheel's compiled code imports (its own files, not its dependencies').
    const hook = join(root, 'log-packages.mjs');
    writeFileSync(hook, [
      'export async function resolve(specifier, context, next) {',
      "  if (!/^(\\.|node:|file:|data:)/.test(specifier) && context.parentURL?.includes('/node_modules/flywheel/dist/')) process.stderr.write(`package ${specifier}\\n`);",
      '  return next(specifier, context);',
      '}',
      '',
    ].join('\n'));
    const register = `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hook).href)});`;
    const packagesLoaded = async (...args: string[]) => {
      const result = await run(process.execPath, ['--import', register, join(installed, 'bin', 'flywheel.js'), ...args], project);
      expect(result.code, result.stderr).toBe(0);
      return [...new Set(result.stderr.split('\n').filter((line) => line.startsWith('package ')).map((line) => line.slice('package '.length)))].sort();
    };
    const heavy = /^(@temporalio\/|@duckdb\/|@aws-sdk\/|redis$|better-sqlite3$|hono|@hono\/|prom-client$|zod$|tsx)/;
    const help = await packagesLoaded('--help');
    expect(help).toContain('commander');
    expect(help.filter((name) => heavy.test(name))).toEqual([]);
    // plan: tsx for the project's .ts, zod to validate, DuckDB for the warehouse; no schedule here, so no Temporal.
    const plan = await packagesLoaded('plan');
    expect(plan.filter((name) => heavy.test(name))).toEqual(['@duckdb/node-api', 'tsx/esm/api', 'zod']);
  });

  it("type-checks a consumer's code against the declarations, and catches its mistakes", async () => {
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true, types: [] },
      files: ['flywheel.config.ts', 'definitions/orders.ts', 'wrong.ts'],
    }));
    writeFileSync(join(project, 'wrong.ts'), "import { entity } from 'flywheel';\nexport const bad = entity({ name: 'bad', joinKeys: { id: 'int65' } });\n");
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    rmSync(join(project, 'wrong.ts'));
    rmSync(join(project, 'tsconfig.json'));
    // One error, in wrong.ts: the config and definitions type-check; "int65" is not a ValueType.
    const errors = result.stdout.split('\n').filter((line) => / error TS\d+/.test(line));
    expect(errors).toEqual([`wrong.ts(2,54): error TS2820: Type '"int65"' is not assignable to type '"string" | "int32" | "int64" | "float32" | "float64" | "bool" | "timestamp" | "date"'. Did you mean '"int64"'?`]);
  });

  it('bundles the workflows from the installed dist/workflows/index.js, as a worker started from the package does', async () => {
    const createWorker = join(installed, 'dist', 'worker', 'create-worker.js');
    const script = [
      `const { WORKFLOWS_PATH, PROJECT_GUARD_PATH } = await import(${JSON.stringify(createWorker)});`,
      "const { bundleWorkflowCode } = await import('@temporalio/worker');",
      "const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: [PROJECT_GUARD_PATH], logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error } });",
      'console.log(JSON.stringify({ WORKFLOWS_PATH, PROJECT_GUARD_PATH, bytes: code.length, buildTrainingSet: code.includes("buildTrainingSet") }));',
    ].join('\n');
    const result = await run(process.execPath, ['--input-type=module', '-e', script], installed, 240_000);
    expect(result.code, result.stderr).toBe(0);
    const bundled = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { WORKFLOWS_PATH: string; PROJECT_GUARD_PATH: string; bytes: number; buildTrainingSet: boolean };
    expect(bundled.WORKFLOWS_PATH).toBe(join(installed, 'dist', 'workflows', 'index.js'));
    expect(bundled.PROJECT_GUARD_PATH).toBe(join(installed, 'dist', 'workflows', 'project-guard.js'));
    expect(bundled.buildTrainingSet).toBe(true);
    expect(bundled.bytes).toBeGreaterThan(100_000);
  }, 300_000);
});

describe('in the checkout', () => {
  it("bin/flywheel.js runs the sources, and a project's `import 'flywheel'` is index.ts, never dist/", () => {
    const temp = createTempProject({
      'flywheel.config.ts': "import { defineConfig, localProfile } from 'flywheel';\nexport default defineConfig({ project: 'checkout', definitions: './definitions', profiles: { local: localProfile() } });\n",
      'definitions/user.ts': "import { entity } from 'flywheel';\nconsole.error(`flywheel is ${import.meta.resolve('flywheel')}`);\nexport const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });\n",
    });
    try {
      const result = temp.cli('validate');
      expect(result.stderr).toBe(`flywheel is ${pathToFileURL(join(REPO_ROOT, 'index.ts')).href}\n`);
      expect(result.stdout).toBe('Valid: project checkout, 1 entity (definitions).\n');
      expect(result.code).toBe(0);
    } finally {
      temp.remove();
    }
  });
});

