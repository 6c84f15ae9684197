import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity, featureService, featureView, model, source } from '../index.ts';
import { promoteModelVersion, registerModelVersion } from '../connectors/model-store/model-store.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { microsFromIso } from '../connectors/online-store/online-time.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { createLogApp, DEFAULT_LIMITS } from '../server/app.ts';
import { DecisionApi } from '../server/decide/decision-api.ts';
import type { ModelVersions } from '../server/decide/model-versions.ts';
import { storeModelVersions } from '../server/decide/store-model-versions.ts';
import { warmUpDecide } from '../server/decide/warm-up.ts';
import { startLogServer, TokenTable, type RunningLogServer } from '../server/index.ts';
import { FeatureServing } from '../server/serving/feature-serving.ts';

/**
 * `POST /v1/decide` is taken on Node's request before the Hono app (server/decide/decide-route.ts),
 * as `POST /v1/features` is; test/decide-api.test.ts checks its answers and errors. Here: the same
 * request answered by the server's Node route and by the Hono app's route (`DecisionApi.handle`,
 * which the app still mounts) gives the same status, content type, Retry-After / WWW-Authenticate
 * and body, for an answer and for each kind of error; a query string does not change the route,
 * other methods and paths reach the app, and each request is counted in the metrics once. A real
 * server over a SQLite file and a TypeScript model version in a local object store.
 */
const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
const src = source({ name: 'src', table: 'raw.src', timestampField: 'ts', columns: { item_id: 'int64', ts: 'timestamp', price: 'float64' } });
const prices = featureView({ name: 'item_prices', entities: [item], source: src, features: { price: 'float64' } });
const shop = featureService({ name: 'shop', features: [prices] });
const cheapest = model({ name: 'cheapest', service: shop, inputs: ['price'], output: { name: 'score', kind: 'score' }, artifact: { format: 'typescript', module: './negated.ts' } });
/** score = -price: the cheapest first. */
const NEGATED_TS = 'export function score(_params: unknown, rows: Record<string, unknown>[]): number[] { return rows.map((row) => -(row.price as number)); }\n';
const NOW = '2024-05-02T12:00:00Z';
const project = validateProject([item, src, prices, shop, cheapest].map((definition) => ({ file: 'definitions/route.ts', definition })));
const TOKENS = 'reader=read';

let dir: string;
let versions: ModelVersions;
let server: RunningLogServer;
let app: ReturnType<typeof createLogApp>;

interface Answer {
  readonly status: number;
  readonly contentType: string | null;
  readonly retryAfter: string | null;
  readonly authenticate: string | null;
  readonly body: Record<string, unknown>;
}

async function answerOf(response: Response): Promise<Answer> {
  const body = (await response.json()) as Record<string, unknown>;
  // A fresh UUIDv7 per answer: compared by shape only.
  if (typeof body.decision_id === 'string') body.decision_id = body.decision_id.replace(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, '<uuidv7>');
  return { status: response.status, contentType: response.headers.get('content-type'), retryAfter: response.headers.get('retry-after'), authenticate: response.headers.get('www-authenticate'), body };
}

/** `token` null: no Authorization header. */
const init = (body: unknown, token: string | null) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

/** The same request through the server (the Node route) and through the app (Hono). */
async function bothWays(body: unknown, token: string | null = 'reader', path = '/v1/decide'): Promise<{ node: Answer; hono: Answer }> {
  const node = await answerOf(await fetch(`${server.url}${path}`, init(body, token)));
  const hono = await answerOf(await app.request(path, init(body, token)));
  return { node, hono };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flywheel-decide-route-'));
  mkdirSync(join(dir, 'definitions'));
  writeFileSync(join(dir, 'definitions', 'negated.ts'), NEGATED_TS);
  const objects = new LocalObjectStore(join(dir, 'objects'));
  const { manifest } = await registerModelVersion(objects, { spec: project.models.cheapest!, bytes: new TextEncoder().encode('{}'), trainedOn: { trainingSet: 't', version: 'r1', partitions: [] }, now: new Date(NOW) });
  await promoteModelVersion(objects, 'cheapest', manifest.version, new Date(NOW));
  const store = new SqliteOnlineStore({ path: join(dir, 'online.sqlite') });
  await store.write([1, 2, 3].map((id) => ({ view: 'item_prices', key: [id], values: { price: id * 10 }, eventTime: '2024-05-01T00:00:00Z' })));
  versions = storeModelVersions({ project, store: objects, projectRoot: dir, pollMs: 60_000, log: () => undefined });
  await versions.start();
  const nowMicros = () => microsFromIso(NOW)!;
  const tokens = TokenTable.parse(TOKENS);
  server = await startLogServer({
    stateDir: join(dir, 'state'), streams: [], tokens, port: 0, log: () => undefined, servingWarmUp: false,
    serving: { project, store, nowMicros }, decide: { project, versions, random: () => 0.99, nowMicros },
  });
  // The app alone, over the same store and versions: its /v1/decide is DecisionApi.handle under Hono.
  const serving = new FeatureServing({ project, store, nowMicros }, { tokens, maxBodyBytes: DEFAULT_LIMITS.maxBodyBytes, log: () => undefined });
  const decide = new DecisionApi({ project, serving, versions, random: () => 0.99, nowMicros }, { tokens, maxBodyBytes: DEFAULT_LIMITS.maxBodyBytes, log: () => undefined });
  app = createLogApp({ streams: new Map(), tokens, limits: DEFAULT_LIMITS, serving, decide });
});

afterAll(async () => {
  await server?.close();
  versions?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the decide route before the app', { timeout: 60_000 }, () => {
  it('answers a decision as the app does', async () => {
    const { node, hono } = await bothWays({ candidates: [{ item_id: 2 }, { item_id: 1 }, { item_id: 3 }], topK: 2, explore: { epsilon: 0.5 } });
    expect(node).toEqual({
      status: 200, contentType: 'application/json', retryAfter: null, authenticate: null,
      body: {
        decision_id: '<uuidv7>', model: 'cheapest', version: 'v1', explored: false, eligible: 3,
        items: [
          { candidate: 1, keys: { item_id: 1 }, score: -10, propensity: 0.5 + 0.5 / 3 },
          { candidate: 0, keys: { item_id: 2 }, score: -20, propensity: 0.5 + 0.5 / 3 },
        ],
      },
    });
    expect(hono).toEqual(node);
  });

  it('answers each kind of error as the app does: status, headers and body', async () => {
    const unknownToken = await bothWays({ candidates: [{ item_id: 1 }] }, 'nobody');
    expect(unknownToken.node).toEqual({ status: 401, contentType: 'application/json', retryAfter: null, authenticate: 'Bearer realm="flywheel"', body: { error: { code: 'unauthorized', message: 'unknown token' } } });
    expect(unknownToken.hono).toEqual(unknownToken.node);

    const noToken = await bothWays({ candidates: [{ item_id: 1 }] }, null);
    expect(noToken.node).toEqual({ status: 401, contentType: 'application/json', retryAfter: null, authenticate: 'Bearer realm="flywheel"', body: { error: { code: 'unauthorized', message: 'missing bearer token; send Authorization: Bearer <token>' } } });
    expect(noToken.hono).toEqual(noToken.node);

    const badTopK = await bothWays({ candidates: [{ item_id: 1 }], topK: 0 });
    expect(badTopK.node).toEqual({ status: 400, contentType: 'application/json', retryAfter: null, authenticate: null, body: { error: { code: 'invalid_request', message: '"topK" must be a positive integer, got number 0' } } });
    expect(badTopK.hono).toEqual(badTopK.node);

    const misspelt = await bothWays({ candidates: [{ item_id: 1 }, { itemid: 2 }] });
    expect(misspelt.node.status).toBe(400);
    expect((misspelt.node.body.error as { code: string }).code).toBe('invalid_entities');
    expect(misspelt.hono).toEqual(misspelt.node);

    const malformed = await bothWays('{"candidates": [');
    expect(malformed.node.status).toBe(400);
    expect(malformed.hono).toEqual(malformed.node);

    const unknownVersion = await bothWays({ version: 'v9', candidates: [{ item_id: 1 }] });
    expect(unknownVersion.node.status).toBe(503);
    expect(unknownVersion.node.retryAfter).toBe('1');
    expect(unknownVersion.node.body.error).toMatchObject({ code: 'model_unavailable', details: { model: 'cheapest', version: 'v9' } });
    expect(unknownVersion.hono).toEqual(unknownVersion.node);
  });

  it('answers with or without a query string, and leaves other methods and paths to the app', async () => {
    const request = { candidates: [{ item_id: 3 }, { item_id: 2 }], topK: 1 };
    const plain = await bothWays(request);
    const query = await bothWays(request, 'reader', '/v1/decide?trace=1');
    expect(query.node).toEqual(plain.node);
    expect((plain.node.body.items as unknown[]).length).toBe(1);
    const get = await fetch(`${server.url}/v1/decide`);
    expect(get.status).toBe(404);
    expect(((await get.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await fetch(`${server.url}/v1/decide/`, init(request, 'reader'))).status).toBe(404);
  });

  it('counts each request once in the metrics, by route, method and status', async () => {
    const count = (text: string, status: number) => Number(new RegExp(`^flywheel_http_requests_total\\{route="/v1/decide",method="POST",status="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const before = await (await fetch(`${server.url}/metrics`)).text();
    expect((await fetch(`${server.url}/v1/decide`, init({ candidates: [{ item_id: 1 }] }, 'reader'))).status).toBe(200);
    expect((await fetch(`${server.url}/v1/decide`, init({ candidates: [{ item_id: 1 }] }, 'nobody'))).status).toBe(401);
    const after = await (await fetch(`${server.url}/metrics`)).text();
    expect(count(after, 200) - count(before, 200)).toBe(1);
    expect(count(after, 401) - count(before, 401)).toBe(1);
  });
});

describe('the decide warm-up at start', { timeout: 60_000 }, () => {
  it('makes synthetic decisions of 1 and 100 candidates per model with its serving version, bounded by rounds and time', async () => {
    expect((await warmUpDecide(project, versions, { rounds: 3 })).decisions).toBe(6);
    expect((await warmUpDecide(project, versions, { rounds: 3, maxMs: 0 })).decisions).toBe(0);
  });

  it('skips a model without a version to score with', async () => {
    const none = storeModelVersions({ project, store: new LocalObjectStore(join(dir, 'no-objects')), projectRoot: dir, pollMs: 60_000, log: () => undefined });
    await none.start();
    expect((await warmUpDecide(project, none, { rounds: 3 })).decisions).toBe(0);
    none.stop();
  });

  it('is said once in the log of a server starting', async () => {
    const lines: string[] = [];
    const store = new SqliteOnlineStore({ path: join(dir, 'online.sqlite') });
    const started = await startLogServer({ stateDir: join(dir, 'state-2'), streams: [], tokens: TokenTable.parse(TOKENS), port: 0, log: (line) => lines.push(line), serving: { project, store }, decide: { project, versions } });
    await started.close();
    expect(lines.filter((line) => /^decide: warmed the decision path with \d+ synthetic decisions in \d+ ms$/.test(line))).toHaveLength(1);
  });
});
