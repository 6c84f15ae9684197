import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { locateTemporalCli } from '../../cli/dev/temporal-cli.ts';
import { locateVersitygw, startVersitygw, type RunningVersitygw } from '../../cli/dev/versitygw.ts';
import { FLYWHEEL_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes.ts';
import { startRedisServer, type RunningRedis } from './redis.ts';

/**
 * Runs once per `vitest run`, in the main process: starts ONE Temporal dev server (a real one, with
 * Schedules and search attributes, not the time-skipping test server) and bundles the workflows
 * ONCE, starts ONE versitygw (a real S3-compatible server, posix backend in a temporary folder,
 * on 127.0.0.1) and ONE redis-server (127.0.0.1, a free port, no persistence), then hands the
 * addresses, the bundle path and the S3 root credentials to every test file through `provide()`.
 * Test files use them through test/setup/temporal.ts, test/setup/s3.ts and test/setup/redis.ts.
 */

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the shared Temporal dev server. */
    temporalAddress: string;
    temporalNamespace: string;
    /** JavaScript file holding the bundled `workflows/index.ts`, for `Worker.create({ workflowBundle: { codePath } })`. */
    workflowBundlePath: string;
    /** `http://127.0.0.1:<port>` of the shared versitygw; path-style addressing. */
    s3Endpoint: string;
    /** The region versitygw answers to (us-east-1: CreateBucket needs no location constraint). */
    s3Region: string;
    /** Root credentials of the shared versitygw, generated for this run; they may create buckets. */
    s3AccessKeyId: string;
    s3SecretAccessKey: string;
    /** `redis://127.0.0.1:<port>` of the shared redis-server (no password, no persistence). */
    redisUrl: string;
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

  const [temporal, bundle, s3, redis] = await Promise.allSettled([startTemporal(), bundleWorkflows(), startS3Server(), startRedis()]);
  if (temporal.status === 'rejected' || bundle.status === 'rejected' || s3.status === 'rejected' || redis.status === 'rejected') {
    // Stop what did start, then report the first failure.
    if (temporal.status === 'fulfilled') await temporal.value.teardown();
    if (s3.status === 'fulfilled') await s3.value.stop();
    if (redis.status === 'fulfilled') await redis.value.stop();
    if (bundle.status === 'fulfilled') rmSync(join(bundle.value, '..'), { recursive: true, force: true });
    throw [temporal, bundle, s3, redis].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))[0];
  }
  const env = temporal.value;
  const bundlePath = bundle.value;

  project.provide('temporalAddress', env.address);
  project.provide('temporalNamespace', NAMESPACE);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('s3Endpoint', s3.value.endpoint);
  project.provide('s3Region', s3.value.region);
  project.provide('s3AccessKeyId', s3.value.accessKeyId);
  project.provide('s3SecretAccessKey', s3.value.secretAccessKey);
  project.provide('redisUrl', redis.value.url);

  return async () => {
    await Promise.all([env.teardown(), s3.value.stop(), redis.value.stop()]);
    rmSync(join(bundlePath, '..'), { recursive: true, force: true });
  };
}

/** Finds (or builds, about a minute the first time) versitygw and starts it on a temporary folder. */
async function startS3Server(): Promise<RunningVersitygw> {
  const executable = await locateVersitygw({ build: true, onProgress: (message) => console.log(`[versitygw] ${message}`) });
  return startVersitygw({ executable });
}

/**
 * Starts the redis-server the online-store tests share. Fails the run with a message saying to
 * `apt-get install redis-server` when there is no binary.
 */
function startRedis(): Promise<RunningRedis> {
  return startRedisServer();
}

async function startTemporal(): Promise<TestWorkflowEnvironment> {
  const cliPath = await locateTemporalCli({ build: true, allowDownload: true, onProgress: (message) => console.log(`[temporal] ${message}`) });
  return startServer(cliPath);
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
