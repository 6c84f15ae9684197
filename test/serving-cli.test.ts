import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ObjectStoreSegmentStore } from '../connectors/log-store/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { listSegments, readSegment, streamSegmentsDir } from '../server/index.ts';
import { createTempProject, REPO_ROOT, type TempProject } from './support/temp-project.ts';

// `flywheel serve` serves the log API and the serving API together, from the profile's online store
// (a SQLite file here), and logs what a service with `logging` served to its decision stream.

let project: TempProject | undefined;
afterEach(() => project?.remove());

const FILES = {
  'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'shop', definitions: './definitions', profiles: { local: localProfile() } });
`,
  'definitions/features.ts': `import { entity, eventStream, featureService, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', fields: { page: 'string' }, retention: '90d' });
export const daily = source({ name: 'daily', table: 'raw.daily', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', spend: 'float64', visits: 'int64' } });
export const userDaily = featureView({ name: 'user_daily', entities: [user], source: daily, features: { spend: 'float64', visits: 'int64' } });
export const fraudModel = featureService({ name: 'fraud_model', features: [userDaily], logging: { sampleRate: 1 } });
`,
};

function startServe(dir: string, extraArgs: string[] = []) {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), 'serve', '--port', '0', '--no-ingest', ...extraArgs], {
    cwd: dir, env: { ...process.env, FLYWHEEL_TOKENS: 'tok=read,write:*' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', () => {
      const match = /on (http:\/\/\S+?):? POST/.exec(stderr);
      if (match && stderr.includes('/metrics')) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`flywheel serve exited (${code}):\n${stderr}`)));
  });
  return { child, url: ready, exited, stderr: () => stderr };
}

describe('flywheel serve with feature services', () => {
  it('serves features and events from one server, and logs the decisions of a logged service', async () => {
    project = createTempProject(FILES);
    const storePath = join(project.dir, '.flywheel', 'online.sqlite');
    const store = new SqliteOnlineStore({ path: storePath });
    await store.write([{ view: 'user_daily', key: [1], values: { spend: 12.5, visits: 3 }, eventTime: '2026-11-25T00:00:00Z' }]);
    await store.close();

    const serve = startServe(project.dir);
    const url = await serve.url;
    expect(serve.stderr()).toContain(`Serving API on ${url}: POST /v1/features for fraud_model, from sqlite:${storePath}.`);
    expect(serve.stderr()).toContain(`Operations: GET ${url}/healthz, /readyz, /metrics.`);
    // Warmed before it listened, on the one stored key too (server/serving/warm-up.ts).
    expect(serve.stderr()).toMatch(/^serving: warmed the request path with \d+ requests in \d+ ms \(\d+ of them of 1 keys sampled from the store, \d+ stored records read\)$/m);

    const answer = await fetch(`${url}/v1/features`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
      body: JSON.stringify({ service: 'fraud_model', entities: [{ user_id: 1 }, { user_id: 2 }] }),
    });
    const served = (await answer.json()) as { decision_id: string; rows: { values: unknown[] }[] };
    expect(answer.status).toBe(200);
    expect(served.rows.map((r) => r.values)).toEqual([[12.5, 3], [null, null]]);
    const events = await fetch(`${url}/v1/streams/clicks/events`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
      body: JSON.stringify([{ user_id: 1, ts: '2026-11-26T10:00:00Z', page: '/' }]),
    });
    expect(events.status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    // The decision is appended in the background; /healthz counts it once it is durable.
    let health: { decisions?: { logged: number } } = {};
    for (let i = 0; i < 100 && health.decisions?.logged !== 1; i++) {
      health = (await (await fetch(`${url}/healthz`)).json()) as typeof health;
      if (health.decisions?.logged !== 1) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(health.decisions).toEqual({ logged: 1, sampledOut: 0, dropped: 0, failed: 0, queued: 0 });
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^flywheel_decision_log\{stat="logged"\} 1$/m);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    // A node uploads each sealed segment to the object store, then deletes its own copy (docs/collect.md,
    // "Where segments live"); at exit a segment is in one place or the other, never lost.
    const stateDir = join(project.dir, '.flywheel');
    const logged: Record<string, unknown>[] = [];
    for (const segment of await listSegments(streamSegmentsDir(stateDir, 'fraud_model_decisions'))) for await (const event of readSegment(segment.path)) logged.push(event);
    const segmentStore = new ObjectStoreSegmentStore(new LocalObjectStore(join(stateDir, 'objects')));
    for (const ref of await segmentStore.list('fraud_model_decisions')) {
      const local = join(stateDir, `uploaded-${ref.segmentId}.seg`);
      await segmentStore.download(ref, local);
      for await (const event of readSegment(local)) logged.push(event);
    }
    expect(logged.map((e) => [e._event_id, e.user_id, e.spend, e.visits, e.spend__status])).toEqual([
      [`${served.decision_id}:0`, 1, 12.5, 3, 'present'],
      [`${served.decision_id}:1`, 2, null, null, 'missing'],
    ]);
  });

  it('--no-warm-up listens without warming the serving path, and answers the same', async () => {
    project = createTempProject(FILES);
    const store = new SqliteOnlineStore({ path: join(project.dir, '.flywheel', 'online.sqlite') });
    await store.write([{ view: 'user_daily', key: [1], values: { spend: 12.5, visits: 3 }, eventTime: '2026-11-25T00:00:00Z' }]);
    await store.close();
    const serve = startServe(project.dir, ['--no-warm-up']);
    const url = await serve.url;
    expect(serve.stderr()).not.toContain('serving: warmed');
    const answer = await fetch(`${url}/v1/features`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
      body: JSON.stringify({ service: 'fraud_model', entities: [{ user_id: 1 }], metadata: false }),
    });
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { rows: unknown[] }).rows).toEqual([{ values: [12.5, 3] }]);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });
});
