import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSegments, readSegment, streamSegmentsDir } from '../server/index.ts';
import { defaultNodeId, ObjectStoreSegmentStore } from '../connectors/log-store/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { createTempProject, REPO_ROOT, type TempProject } from './support/temp-project.ts';

// `flywheel serve` for a project: its event streams from the definitions, its state folder from the
// config, tokens from FLYWHEEL_TOKENS, a clean stop on SIGTERM.

let project: TempProject | undefined;
afterEach(() => project?.remove());

const FILES = {
  'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'shop', definitions: './definitions', stateDir: './state', profiles: { local: localProfile() } });
`,
  'definitions/clicks.ts': `import { entity, eventStream } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const clicks = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', eventIdField: 'click_id',
  fields: { click_id: 'string', page: 'string', dwell_ms: { type: 'int64', nullable: true } },
  retention: '90d',
});
export const imported = eventStream({
  name: 'imported', entities: [user], timestampField: 'ts', fields: { page: 'string' }, retention: '90d',
  from: { table: 'raw.page_views', watermark: 'ts', lookback: '1h' },
});
`,
};

function startServe(dir: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), 'serve', '--port', '0', '--segment-age', '60s', '--no-ingest'], { cwd: dir, env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', () => {
      const match = /on (http:\/\/\S+?):? POST/.exec(stderr);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`flywheel serve exited (${code}):\n${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

describe('flywheel serve', () => {
  it("serves the project's streams into its state folder and stops cleanly on SIGTERM", async () => {
    project = createTempProject(FILES);
    const serve = startServe(project.dir, { FLYWHEEL_TOKENS: 'tok=write:*' });
    const url = await serve.url;
    const node = defaultNodeId(join(project.dir, 'state'));
    expect(serve.stderr()).toContain(`Log API for shop on ${url}: POST /v1/streams/<stream>/events for clicks. Node ${node}: segments in ${join(project.dir, 'state')}/segments until sealed, then in the object store. Ctrl-C stops it.`);

    const post = (stream: string, events: unknown[]) =>
      fetch(`${url}/v1/streams/${stream}/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' }, body: JSON.stringify(events) });
    const answer = await post('clicks', [
      { user_id: 1, ts: '2026-11-26T10:00:00Z', click_id: 'k1', page: '/' },
      { user_id: 2, ts: '2026-11-26T10:00:01Z', click_id: 'k2', page: '/cart', dwell_ms: 1200 },
    ]);
    expect(await answer.json()).toEqual({ accepted: 2, duplicates: 0, ids: ['k1', 'k2'] });
    // A stream loaded `from` a table takes no events over HTTP.
    expect((await post('imported', [])).status).toBe(404);

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    // Sealed at the stop, uploaded to the profile's object store under the node's id, gone from its disk.
    expect(serve.stderr()).toContain(`uploaded segment clicks/${node}/`);
    expect(serve.stderr()).toMatch(/uploaded segment clicks\/\S+ \(2 events\)/);
    expect(await listSegments(streamSegmentsDir(join(project.dir, 'state'), 'clicks'))).toEqual([]);
    const store = new ObjectStoreSegmentStore(new LocalObjectStore(join(project.dir, '.flywheel', 'objects')));
    const [segment, ...others] = await store.list('clicks');
    expect({ node: segment?.node, others }).toEqual({ node, others: [] });
    const path = join(project.dir, 'downloaded.seg');
    await store.download(segment!, path);
    const ids: string[] = [];
    for await (const event of readSegment(path)) ids.push(event._event_id);
    expect(ids).toEqual(['k1', 'k2']);
  });

  it('refuses to start without FLYWHEEL_TOKENS', async () => {
    project = createTempProject(FILES);
    const serve = startServe(project.dir, { FLYWHEEL_TOKENS: '' });
    await expect(serve.url).rejects.toThrow('error: FLYWHEEL_TOKENS is not set; give the log API its tokens');
    expect(await serve.exited).toBe(1);
  });

  it('names the flag that picks another port when its port is taken', async () => {
    project = createTempProject(FILES);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'flywheel.js'), 'serve', '--port', String(port), '--no-ingest'], { cwd: project.dir, env: { ...process.env, FLYWHEEL_TOKENS: 't=read,write:*' } });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toBe(`error: 127.0.0.1:${port} is already in use (another flywheel serve or dev?): pick another port with --port <port>\n`);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
