import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, REPO_ROOT, type TempProject } from './support/temp-project.ts';

// `flywheel dev` runs the API server (log and serving API) beside the worker, on the Temporal
// server it finds running (the test setup's), with a token made up for the session.

let project: TempProject | undefined;
afterEach(() => project?.remove());

const taskQueue = testTaskQueue('dev-serve');

const FILES = {
  'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'shop', definitions: './definitions',
  profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
  'definitions/features.ts': `import { entity, featureService, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const daily = source({ name: 'daily', table: 'raw.daily', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', spend: 'float64' } });
export const userDaily = featureView({ name: 'user_daily', entities: [user], source: daily, features: { spend: 'float64' } });
export const model = featureService({ name: 'model', features: [userDaily] });
`,
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

describe('flywheel dev', () => {
  it('serves features beside the worker, with a session token, and stops cleanly on Ctrl-C', async () => {
    project = createTempProject(FILES);
    const store = new SqliteOnlineStore({ path: join(project.dir, '.flywheel', 'online.sqlite') });
    await store.write([{ view: 'user_daily', key: [7], values: { spend: 4.5 }, eventTime: '2099-01-01T00:00:00Z' }]);
    await store.close();

    const port = await freePort();
    const uiPort = await freePort();
    const { FLYWHEEL_TOKENS: _none, ...env } = process.env;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), 'dev', '--port', String(port), '--flywheel-ui-port', String(uiPort)], { cwd: project.dir, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const token = await new Promise<string>((resolve, reject) => {
        const check = () => {
          const match = /Authorization: Bearer ([0-9a-f]+)/.exec(output);
          if (match && output.includes(`API server         http://127.0.0.1:${port}`) && output.includes('Press Ctrl-C')) resolve(match[1]!);
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        void exited.then((code) => reject(new Error(`flywheel dev exited (${code}):\n${output}`)));
      });
      expect(output).toContain('(already running, reused)');
      // The Flywheel UI beside the Temporal UI, reading with the same session token (nothing is applied in this project yet).
      expect(output).toContain(`Flywheel UI        http://127.0.0.1:${uiPort}/?token=${token}\n`);
      expect((await fetch(`http://127.0.0.1:${uiPort}/api/project`)).status).toBe(401);
      const project = await fetch(`http://127.0.0.1:${uiPort}/api/project`, { headers: { authorization: `Bearer ${token}` } });
      expect(project.status).toBe(404);
      expect(((await project.json()) as { error: { code: string } }).error.code).toBe('not_applied');

      const url = `http://127.0.0.1:${port}`;
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const unauthorized = await fetch(`${url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(unauthorized.status).toBe(401);
      const answer = await fetch(`${url}/v1/features`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ service: 'model', entities: [{ user_id: 7 }, { user_id: 8 }] }),
      });
      expect(answer.status).toBe(200);
      const body = (await answer.json()) as { features: string[]; rows: { values: unknown[]; statuses: string[] }[] };
      expect(body.features).toEqual(['spend']);
      expect(body.rows).toEqual([
        { values: [4.5], statuses: ['present'], event_times: ['2099-01-01T00:00:00.000Z'] },
        { values: [null], statuses: ['missing'], event_times: [null] },
      ]);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('Stopping the API server');
    // The test setup's Temporal server was reused, so it is left running.
    expect(output).not.toContain('Stopping the Temporal dev server');
  }, 60_000);
});
