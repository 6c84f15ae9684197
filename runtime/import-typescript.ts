/**
 * Imports one of the project's own TypeScript files (flywheel.config.ts, a definitions file).
 *
 * Installed from the package, Flywheel runs compiled to JavaScript and starts without a TypeScript
 * compiler; the first project file imported registers tsx, once, so commands that never read the
 * project (`--help`) never pay for it. Running from its .ts sources (a checkout, through
 * bin/flywheel.js or vitest), a TypeScript loader is in place already.
 */
export async function importTypeScript(url: string): Promise<unknown> {
  typeScriptLoader ??= import.meta.url.endsWith('.ts') ? Promise.resolve() : import('tsx/esm/api').then(({ register }) => void register());
  await typeScriptLoader;
  return import(url);
}

let typeScriptLoader: Promise<void> | undefined;
