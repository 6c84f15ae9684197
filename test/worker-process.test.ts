import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient, temporalAddress, temporalNamespace, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, REPO_ROOT, type TempProject } from './support/temp-project.ts';

/**
 * `flywheel worker` as a fleet runs it (docs/deployment.md): a process per set of queues, with its
 * own slot limits, reporting its load through Temporal's worker metrics for Prometheus.
 */

const base = testTaskQueue();
const queues = { project: base, ingest: `${base}-ingest`, trainingSets: `${base}-training-sets` };
const projects: TempProject[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  projects.forEach((p) => p.remove());
});

function splitProject(): TempProject {
  const project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
const local = localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${queues.project}' });
export default defineConfig({ project: 'fleet', definitions: './definitions', profiles: {
  local: { ...local, temporal: { ...local.temporal, taskQueues: { ingest: '${queues.ingest}', trainingSets: '${queues.trainingSets}' } } },
} });
`,
    'definitions/none.ts': 'export {};\n',
  });
  projects.push(project);
  return project;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts `flywheel worker …` and resolves with its first line once it polls. */
function startWorker(project: TempProject, args: string[]): Promise<{ child: ChildProcess; line: string; stderr: () => string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), 'worker', ...args], { cwd: project.dir, env: { ...process.env, FLYWHEEL_PROFILE: '' } });
  children.push(child);
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker did not start within 60 s: ${stderr}`)), 60_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const line = stderr.split('\n').find((l) => l.startsWith('Worker for'));
      if (line) {
        clearTimeout(timer);
        resolve({ child, line, stderr: () => stderr });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited with ${code}: ${stderr}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

/** The pollers of a queue, by kind (workflow tasks, activity tasks). */
async function pollers(taskQueue: string): Promise<{ workflow: number; activity: number }> {
  const client = await connectClient();
  try {
    const count = async (taskQueueType: 1 | 2) =>
      (await client.workflowService.describeTaskQueue({ namespace: temporalNamespace(), taskQueue: { name: taskQueue }, taskQueueType })).pollers?.length ?? 0;
    return { workflow: await count(1), activity: await count(2) };
  } finally {
    await client.connection.close();
  }
}

describe('flywheel worker', () => {
  it('polls only the queues named by --task-queue, with the slots it was given, and serves its metrics for Prometheus', async () => {
    const project = splitProject();
    const port = await freePort();
    const { child, line } = await startWorker(project, ['--task-queue', 'training-sets', 'project', '--max-concurrent-activities', '3', '--metrics-port', String(port)]);
    try {
      expect(line).toBe(`Worker for fleet (profile local) on ${temporalAddress()}, namespace default, task queues ${queues.trainingSets}, ${queues.project}, metrics on http://127.0.0.1:${port}/metrics. Ctrl-C stops it.`);

      // Poll until the exporter has the slots of both queues (it exports about once a second).
      let metrics = '';
      const deadline = Date.now() + 20_000;
      const slotLine = (type: string, queue: string) =>
        metrics.split('\n').find((l) => l.startsWith('temporal_worker_task_slots_available{') && l.includes(`task_queue="${queue}"`) && l.includes(`worker_type="${type}"`));
      while (Date.now() < deadline) {
        metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        if (slotLine('ActivityWorker', queues.trainingSets) && slotLine('ActivityWorker', queues.project)) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      // Three activity slots per queue, all free: what a scaler reads to see a worker's load.
      expect(slotLine('ActivityWorker', queues.trainingSets)).toMatch(/ 3$/);
      expect(slotLine('ActivityWorker', queues.project)).toMatch(/ 3$/);
      expect(slotLine('WorkflowWorker', queues.trainingSets)).toBeDefined();
      expect(metrics).not.toContain(`task_queue="${queues.ingest}"`);

      const [training, ingest] = [await pollers(queues.trainingSets), await pollers(queues.ingest)];
      expect(training.activity).toBeGreaterThan(0);
      expect(ingest).toEqual({ workflow: 0, activity: 0 });
    } finally {
      expect(await stop(child)).toBe(0);
    }
  }, 90_000);

  it('refuses a bad --max-concurrent-activities and --metrics-port before connecting', () => {
    const project = splitProject();
    const slots = project.cli('worker', '--max-concurrent-activities', '0');
    expect([slots.code, slots.stderr]).toEqual([1, 'error: option \'--max-concurrent-activities <n>\' argument \'0\' is invalid. --max-concurrent-activities takes a whole number from 1 up, got "0"\n(run flywheel --help for usage)\n']);
    const metricsPort = project.cli('worker', '--metrics-port', '70000');
    expect([metricsPort.code, metricsPort.stderr]).toEqual([1, 'error: option \'--metrics-port <port>\' argument \'70000\' is invalid. --metrics-port takes a port from 1 to 65535, got "70000"\n(run flywheel --help for usage)\n']);
  });
});
