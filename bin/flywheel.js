#!/usr/bin/env node
// The `flywheel` command, in either of its two layouts.
//
// Installed from the package: dist/ holds Flywheel compiled to JavaScript, so a start compiles
// nothing. tsx is registered later, and only by the commands that load the project's own
// flywheel.config.ts and definitions (cli/project/import-typescript.ts).
//
// A source checkout (cli/main.ts beside this file): the CLI runs from its TypeScript sources through
// tsx, and the `flywheel-source` export condition makes a project's `import 'flywheel'` load those
// same sources, not a dist/ that may be stale or missing (docs/development.md, "The package").
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';

const sourceMain = new URL('../cli/main.ts', import.meta.url);
if (existsSync(sourceMain)) {
  const { register } = await import('tsx/esm/api');
  register();
  registerHooks('./source-condition.js', import.meta.url);
  await import(sourceMain.href);
} else {
  await import('../dist/cli/main.js');
}
