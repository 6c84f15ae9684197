import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { locateTemporalCli } from '../../cli/dev/temporal-cli.ts';
import { FLYWHEEL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';

/**
 * Runs once per `vitest run`, in the main process: starts ONE Temporal dev server (a real one, with
 * Schedules and search attributes, not the time-skipping test server) and bundles the workflows
 * ONCE, then hands the address and the bundle path to every test file through `provide()`.
 * Test files use them through test/setup/temporal.ts.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the shared Temporal dev server. */
    temporalAddress: string;
    temporalNamespace: string;
    /** JavaScript file holding the bundled `workflows/index.ts`, for `Worker.create({ workflowBundle: { codePath } })`. */
    workflowBundlePath: string;
  }
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Overridable so the setup can be tried against scratch workflows; the suite bundles the real ones. */
const WORKFLOWS_PATH = process.env.FLYWHEEL_TEST_WORKFLOWS ?? join(REPO_ROOT, 'workflows', 'index.ts');
const NAMESPACE = 'default';
/** The SDK gives the server only a few seconds to come up; a cold first start can take longer. */
const START_ATTEMPTS = 4;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Keep the SDK's own INFO logs (server start, bundle size) out of the test output.
  installQuietRuntime();

  const cliPath = await locateTemporalCli({ build: true, allowDownload: true, onProgress: (message) => console.log(`[temporal] ${message}`) });
  const [env, bundlePath] = await Promise.all([startServer(cliPath), bundleWorkflows()]);

  project.provide('temporalAddress', env.address);
  project.provide('temporalNamespace', NAMESPACE);
  project.provide('workflowBundlePath', bundlePath);

  return async () => {
    await env.teardown();
    rmSync(join(bundlePath, '..'), { recursive: true, force: true });
  };
}

async function startServer(cliPath: string | undefined): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createLocal({
        server: {
          executable: cliPath ? { type: 'existing-path', path: cliPath } : { type: 'cached-download' },
          namespace: NAMESPACE,
          searchAttributes: [...FLYWHEEL_SEARCH_ATTRIBUTES],
          ip: '127.0.0.1',
        },
      });
    } catch (error) {
      if (attempt >= START_ATTEMPTS) throw error;
      console.warn(`[temporal] dev server did not start (attempt ${attempt}/${START_ATTEMPTS}): ${(error as Error).message}; retrying`);
    }
  }
}

/** Bundles the workflows once for all test files: webpack takes seconds, a Worker per test would redo it. */
async function bundleWorkflows(): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-workflows-'));
  const path = join(dir, 'workflow-bundle.js');
  writeFileSync(path, code);
  return path;
}

function installQuietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed in this process (e.g. vitest --watch re-running the setup).
  }
}
