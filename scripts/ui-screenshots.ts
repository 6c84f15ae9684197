/**
 * Regenerates the UI's screenshots in docs/images/ui/ (docs/ui.md, the README) from the slates demo's
 * data: runs the demo without its UI (`--no-ui`; `--reuse` keeps the data of the last demo run
 * instead), starts Temporal again on the demo's state for the Runs page, builds the frontend as
 * `npm run build:ui` does into a temporary folder, serves the UI and photographs each page with
 * Debian's chromium through playwright-core (no browser is downloaded).
 *
 *   npx tsx scripts/ui-screenshots.ts [--reuse] [--turns 3]
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { startProjectUi } from '../cli/serve/start-project-ui.ts';
import { startLocalTemporal } from '../examples/demo-stack.ts';
import { loadConfig } from '../runtime/load-config.ts';
import { TokenTable } from '../server/auth/bearer-tokens.ts';
import { UI_ASSETS_ENV } from '../server/ui/ui-assets-dir.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const exampleDir = join(root, 'examples', 'slates');
const out = join(root, 'docs', 'images', 'ui');

/** Each page: its file name, its path, the heading it waits for, and how much of it to show. */
const PAGES = [
  { file: 'loop.png', path: '/', heading: /^Loop$/, height: 760 },
  { file: 'feature-view.png', path: '/feature-views/item_profile', heading: /Feature view/, height: 1500 },
  { file: 'training-set.png', path: '/training-sets/ranking_training', heading: /Training set/, height: 1500 },
  { file: 'labels.png', path: '/labels/clicked', heading: /Labels/, height: 1300 },
  { file: 'stream.png', path: '/streams/clicks', heading: /Stream clicks/, height: 1100 },
  { file: 'runs.png', path: '/runs', heading: /^Runs$/, height: 800 },
  { file: 'plan.png', path: '/plan', heading: /^Plan$/, height: 1000 },
] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reuse: { type: 'boolean' }, turns: { type: 'string' } } });
  if (!values.reuse) {
    const demo = spawnSync(process.execPath, ['--import', 'tsx', join(exampleDir, 'demo.ts'), '--no-ui', ...(values.turns ? ['--turns', values.turns] : [])], { cwd: root, stdio: 'inherit' });
    if (demo.status !== 0) throw new Error(`the slates demo failed (exit ${demo.status})`);
  }
  const config = await loadConfig({ cwd: exampleDir, profile: 'local' });
  const temporal = await startLocalTemporal(config, (line) => process.stdout.write(`${line}\n`));
  const assets = await mkdtemp(join(tmpdir(), 'flywheel-ui-build-'));
  try {
    await build({ configFile: join(root, 'ui', 'vite.config.ts'), build: { outDir: assets, emptyOutDir: true }, logLevel: 'warn' });
    process.env[UI_ASSETS_ENV] = assets;
    const token = randomBytes(18).toString('hex');
    const ui = await startProjectUi(config, { tokens: TokenTable.parse(`${token}=read`), host: '127.0.0.1', port: 0, sessionToken: token });
    const browser = await chromium.launch({ executablePath: process.env.FLYWHEEL_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      mkdirSync(out, { recursive: true });
      for (const shot of PAGES) {
        const page = await browser.newPage({ viewport: { width: 1280, height: shot.height } });
        await page.goto(`${ui.server.url}${shot.path}?token=${token}`);
        await page.getByRole('heading', { level: 1, name: shot.heading }).waitFor({ timeout: 30_000 });
        await page.waitForLoadState('networkidle');
        await page.screenshot({ path: join(out, shot.file) });
        process.stdout.write(`wrote docs/images/ui/${shot.file}\n`);
        await page.close();
      }
    } finally {
      await browser.close();
      await ui.close();
    }
  } finally {
    await rm(assets, { recursive: true, force: true });
    await temporal.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ui-screenshots failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
