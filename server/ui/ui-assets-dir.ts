import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Flywheel's root folder: this file is `<root>/server/ui/ui-assets-dir.ts` in the sources, `<root>/dist/server/ui/ui-assets-dir.js` in the package. */
const ROOT = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../' : '../../../', import.meta.url));

/** Where `npm run build:ui` writes the frontend, in the checkout and in the package alike. */
export const BUILT_UI_DIR = join(ROOT, 'dist', 'ui');

/** Overrides where the built frontend is read from (a folder with index.html). */
export const UI_ASSETS_ENV = 'FLYWHEEL_UI_ASSETS';

/**
 * The built frontend's folder, or undefined when it was not built: the package ships it (built by
 * `npm run build` before packing); a checkout builds it with `npm run build:ui`. Never fetched.
 */
export function uiAssetsDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env[UI_ASSETS_ENV] || BUILT_UI_DIR;
  return existsSync(join(dir, 'index.html')) ? dir : undefined;
}
