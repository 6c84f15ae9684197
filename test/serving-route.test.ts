import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity, featureService, featureView, source } from '../index.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { startLogServer, TokenTable, type RunningLogServer } from '../server/index.ts';

/**
 * `POST /v1/features` is taken on Node's request before the Hono app (server/serving/features-route.ts);
 * test/serving.test.ts checks its answers and errors. Here what the route itself decides: a query
 * string does not change the route, other methods and paths still reach the app, and each request
 * is counted in the metrics once, as the app counts it. A real server over a SQLite file.
 */
const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const src = source({ name: 'src', table: 'raw.src', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', spend: 'float64' } });
const spend = featureView({ name: 'user_spend', entities: [user], source: src, features: { spend: 'float64' } });
const project = validateProject([user, src, spend, featureService({ name: 'spend', features: [spend] })].map((definition) => ({ file: 'definitions/route.ts', definition })));

let dir: string;
let server: RunningLogServer;
const post = (path: string, body: unknown, token = 'reader') =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flywheel-serving-route-'));
  const store = new SqliteOnlineStore({ path: join(dir, 'online.sqlite') });
  await store.write([{ view: 'user_spend', key: [1], values: { spend: 2.5 }, eventTime: '2024-05-01T00:00:00Z' }]);
  server = await startLogServer({ stateDir: join(dir, 'state'), streams: [], tokens: TokenTable.parse('reader=read'), port: 0, log: () => undefined, serving: { project, store }, servingWarmUp: false });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the serving route before the app', () => {
  it('answers with or without a query string, and leaves other methods and paths to the app', async () => {
    const request = { service: 'spend', entities: [{ user_id: 1 }], metadata: false };
    for (const path of ['/v1/features', '/v1/features?trace=1']) {
      const response = await post(path, request);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json');
      expect((await response.json()) as unknown).toMatchObject({ service: 'spend', features: ['spend'], rows: [{ values: [2.5] }] });
    }
    const get = await fetch(`${server.url}/v1/features`);
    expect(get.status).toBe(404);
    expect(((await get.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const trailing = await post('/v1/features/', request);
    expect(trailing.status).toBe(404);
  });

  it('counts each request once in the metrics, by route, method and status', async () => {
    const before = await (await fetch(`${server.url}/metrics`)).text();
    const count = (text: string, status: number) => Number(new RegExp(`^flywheel_http_requests_total\\{route="/v1/features",method="POST",status="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    expect((await post('/v1/features', { service: 'spend', entities: [{ user_id: 1 }] })).status).toBe(200);
    const denied = await post('/v1/features', { service: 'spend', entities: [{ user_id: 1 }] }, 'nobody');
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="flywheel"');
    expect(await denied.json()).toEqual({ error: { code: 'unauthorized', message: 'unknown token' } });
    const after = await (await fetch(`${server.url}/metrics`)).text();
    expect(count(after, 200) - count(before, 200)).toBe(1);
    expect(count(after, 401) - count(before, 401)).toBe(1);
  });
});
