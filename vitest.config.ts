import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Tests run against real engines: a Temporal dev server started once for the whole run
 * (test/setup/global-setup.ts), DuckDB, SQLite and friends. No mocks.
 */
export default defineConfig({
  // Projects in tests (examples, temp projects linking node_modules/flywheel here) import `flywheel`:
  // the sources under test, not the packed dist/ (docs/development.md, "The package").
  resolve: { alias: [{ find: /^flywheel$/, replacement: fileURLToPath(new URL('./index.ts', import.meta.url)) }] },
  test: {
    include: ['test/**/*.test.ts'],
    // Child processes, not worker threads: DuckDB and the Temporal core bridge are native modules
    // that do not like being loaded into several threads of one process.
    pool: 'forks',
    globalSetup: ['test/setup/global-setup.ts'],
    // Workflows run on a real server with real timers and activities.
    testTimeout: 60_000,
    // beforeAll hooks start workers and load data.
    hookTimeout: 120_000,
  },
});
