import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity, featureService, featureView, model, source } from '../index.ts';
import { readSegment, type ClosedSegment } from '../connectors/log-store/segment-log/index.ts';
import { promoteModelVersion, registerModelVersion } from '../connectors/model-store/model-store.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import type { OnlineRecord } from '../connectors/online-store/online-store.ts';
import { microsFromIso } from '../connectors/online-store/online-time.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { SCORING_COLUMNS } from '../core/definitions/decision-stream.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { NotFoundError } from '../core/errors.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { splitVersion } from '../server/decide/ab-split.ts';
import { readPromotedSplit } from '../core/models/promoted-split.ts';
import { decisionSampleFraction } from '../server/serving/decision-log.ts';
import { storeModelVersions } from '../server/decide/store-model-versions.ts';
import type { ModelVersions } from '../server/decide/model-versions.ts';
import { startLogServer, streamSchemasOf, TokenTable, type RunningLogServer } from '../server/index.ts';
import { deleteTestKeys, redisUrl, testKeyPrefix } from './setup/redis.ts';

/**
 * POST /v1/decide (server/decide/, docs/decide.md) on a real server: features from a SQLite online
 * store, model versions registered and promoted in a local object store and loaded by the models
 * runtime (a TypeScript scorer), decisions logged to the decision stream's segments. Every score,
 * rank and propensity below is worked out by hand from the records and the weights.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
const src = source({
  name: 'src', table: 'raw.src', timestampField: 'ts',
  columns: { user_id: 'int64', item_id: 'int64', ts: 'timestamp', price: 'float64', available: 'bool', category: 'string', affinity: 'float64' },
});
const itemStats = featureView({ name: 'item_stats', entities: [item], source: src, features: { price: 'float64', available: 'bool', category: 'string' } });
const userStats = featureView({ name: 'user_stats', entities: [user], source: src, features: { affinity: 'float64' } });
const ranking = featureService({ name: 'ranking', features: [itemStats, userStats], logging: { sampleRate: 1 } });
const ranker = model({
  name: 'ranker', service: ranking, inputs: ['price', 'affinity', { request: 'boost' }], output: { name: 'score', kind: 'score' },
  artifact: { format: 'typescript', module: './linear.ts' },
  filters: { in_stock: 'available = true', cheap: 'price <= 20' },
});

/** score = affinity + boost - price / price_scale (a missing price counts 0); NaN at `nan_price`; throws with `fail`. */
const LINEAR_TS = `
export function score(params: { price_scale: number; nan_price?: number; fail?: string }, rows: Record<string, unknown>[]): number[] {
  if (params.fail) throw new Error(params.fail);
  return rows.map((row) => {
    const price = typeof row.price === 'number' ? row.price : 0;
    if (price === params.nan_price) return Number.NaN;
    return (row.affinity as number) + (row.boost as number) - price / params.price_scale;
  });
}
`;

const NOW = '2024-05-02T12:00:00Z';
const AT = '2024-05-01T00:00:00Z';
const RECORDS: OnlineRecord[] = [
  { view: 'item_stats', key: [1], values: { price: 10, available: true, category: 'books' }, eventTime: AT },
  { view: 'item_stats', key: [2], values: { price: 30, available: true, category: 'music' }, eventTime: AT },
  { view: 'item_stats', key: [3], values: { price: 5, available: false, category: 'books' }, eventTime: AT },
  { view: 'item_stats', key: [4], values: { price: 15, available: true, category: 'games' }, eventTime: AT },
  // Item 5 has no record: its features are missing (null).
  { view: 'user_stats', key: [42], values: { affinity: 2 }, eventTime: AT },
];
const FIVE_ITEMS = [1, 2, 3, 4, 5].map((id) => ({ item_id: id }));
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TRAINED_ON = { trainingSet: 'ranking_training', version: 'r1', partitions: [] };

let dir: string;
let project: ProjectSpec;
let objects: LocalObjectStore;
let versions: ModelVersions;
let server: RunningLogServer;
const closed: ClosedSegment[] = [];
/** The exploration draws the server takes, in order; when empty, 0.99 (never explore). */
const draws: number[] = [];
/** The decisions made under the split declared at promotion, with the version each user's arm must have logged. */
const splitDecisions: { decisionId: string; version: string }[] = [];

async function decide(body: unknown, token = 'reader', url = server.url): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/v1/decide`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

async function register(params: unknown): Promise<string> {
  const { manifest } = await registerModelVersion(objects, { spec: project.models.ranker!, bytes: new TextEncoder().encode(JSON.stringify(params)), trainedOn: TRAINED_ON, now: new Date(NOW) });
  return manifest.version;
}

async function promote(version: string): Promise<void> {
  await promoteModelVersion(objects, 'ranker', version, new Date(NOW));
  await versions.poll();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flywheel-decide-'));
  mkdirSync(join(dir, 'definitions'));
  writeFileSync(join(dir, 'definitions', 'linear.ts'), LINEAR_TS);
  project = validateProject([user, item, src, itemStats, userStats, ranking, ranker].map((definition) => ({ file: 'definitions/decide.ts', definition })));
  objects = new LocalObjectStore(join(dir, 'objects'));
  const store = new SqliteOnlineStore({ path: join(dir, 'online.sqlite') });
  await store.write(RECORDS);
  versions = storeModelVersions({ project, store: objects, projectRoot: dir, pollMs: 60_000, log: () => undefined });
  await versions.start();
  server = await startLogServer({
    stateDir: join(dir, 'state'), streams: streamSchemasOf(project), tokens: TokenTable.parse('reader=read;other=read:other_service'), port: 0,
    onSegmentClosed: (segment) => void closed.push(segment),
    serving: { store, project, nowMicros: () => microsFromIso(NOW)! },
    decide: { project, versions, random: () => draws.shift() ?? 0.99, nowMicros: () => microsFromIso(NOW)! },
    log: () => undefined,
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/decide', { timeout: 60_000 }, () => {
  it('answers 503 model_unavailable while no version is promoted', async () => {
    expect(await decide({ context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS })).toEqual({
      status: 503,
      body: { error: { code: 'model_unavailable', message: 'model "ranker" has no version to score with: no version is promoted (flywheel models promote); nothing was decided', details: { model: 'ranker' } } },
    });
  });

  it('scores every candidate with the promoted version, ranks them and cuts to top-k', async () => {
    expect(await register({ price_scale: 10 })).toBe('v1');
    expect(await register({ price_scale: 10, nan_price: 15 })).toBe('v2');
    expect(await register({ price_scale: 10, fail: 'boom' })).toBe('v3');
    expect(await register({ price_scale: 5 })).toBe('v4');
    await promote('v1');
    // affinity 2 + boost 0.5 - price / 10: items 1..5 score 1.5, -0.5, 2, 1, 2.5 (item 5 has no price: 0).
    const { status, body } = await decide({ model: 'ranker', context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS, topK: 3 });
    expect(status).toBe(200);
    expect(body).toEqual({
      decision_id: expect.stringMatching(UUIDV7), model: 'ranker', version: 'v1', explored: false, eligible: 5,
      items: [
        { candidate: 4, keys: { item_id: 5, user_id: 42 }, score: 2.5, propensity: 1 },
        { candidate: 2, keys: { item_id: 3, user_id: 42 }, score: 2, propensity: 1 },
        { candidate: 0, keys: { item_id: 1, user_id: 42 }, score: 1.5, propensity: 1 },
      ],
    });
  });

  it('applies declared filters before scoring, and explores with epsilon, logging each shown item\'s exact propensity', async () => {
    // in_stock keeps items 1, 2 and 4 (item 3 is not available; item 5's availability is unknown): candidates 0, 1, 3,
    // scores 1.5, -0.5, 1: greedy order 0, 3, 1. A draw of 0.99 >= epsilon 0.5: the greedy slate, each shown with 0.5 + 0.5 / 3.
    const greedy = await decide({ context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS, filters: ['in_stock'], topK: 2, explore: { epsilon: 0.5 } });
    expect(greedy.body).toMatchObject({
      version: 'v1', explored: false, eligible: 3,
      items: [{ candidate: 0, score: 1.5, propensity: 0.5 + 0.5 / 3 }, { candidate: 3, score: 1, propensity: 0.5 + 0.5 / 3 }],
    });
    // 0.1 < 0.5: explore. Shuffle of [0, 1, 3]: position 0 takes 0 + floor(0.7 * 3) = 2 -> [3, 1, 0]; position 1 takes
    // 1 + floor(0.2 * 2) = 1. Shown 3 then 1, neither greedy's at its position: 0.5 / 3 each.
    draws.push(0.1, 0.7, 0.2);
    const explored = await decide({ context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS, filters: ['in_stock'], topK: 2, explore: { epsilon: 0.5, key: 'request-7' } });
    expect(explored.body).toMatchObject({
      explored: true, eligible: 3,
      items: [{ candidate: 3, keys: { item_id: 4, user_id: 42 }, score: 1, propensity: 0.5 / 3 }, { candidate: 1, keys: { item_id: 2, user_id: 42 }, score: -0.5, propensity: 0.5 / 3 }],
    });
    // Two filters: available and price <= 20 leave items 1 and 4.
    expect((await decide({ context: { user_id: 42, boost: 0 }, candidates: FIVE_ITEMS, filters: ['in_stock', 'cheap'] })).body).toMatchObject({
      eligible: 2, items: [{ candidate: 0, score: 1 }, { candidate: 3, score: 0.5 }],
    });
  });

  it('scores one entity, with its request field in the row', async () => {
    expect((await decide({ entity: { user_id: 42, item_id: 2, boost: 1 } })).body).toMatchObject({
      version: 'v1', eligible: 1, items: [{ candidate: 0, keys: { item_id: 2, user_id: 42 }, score: 0, propensity: 1 }],
    });
  });

  it('scores with a named version, or the arm of an A/B split by a stable hash of a context key', async () => {
    // price_scale 5: item 2 scores 2 + 0.5 - 6 = -3.5.
    expect((await decide({ version: 'v4', context: { user_id: 42, boost: 0.5 }, candidates: [{ item_id: 2 }] })).body).toMatchObject({ version: 'v4', items: [{ score: -3.5 }] });
    const arms = [{ version: 'v1', share: 0.5 }, { version: 'v4', share: 0.5 }];
    for (const userId of [42, 7, 8, 9]) {
      const { body } = await decide({ split: { key: 'user_id', shares: { v1: 0.5, v4: 0.5 } }, context: { user_id: userId, boost: 0 }, candidates: [{ item_id: 1 }] });
      expect(body.version).toBe(splitVersion('ranker', userId, arms));
    }
  });

  it('refuses an unknown model, an unknown filter, a candidate missing a key, a missing request field, each naming it', async () => {
    expect(await decide({ model: 'rankr', context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS })).toEqual({
      status: 400, body: { error: { code: 'unknown_model', message: 'no model "rankr"; the models are ranker', details: { model: 'rankr' } } },
    });
    expect(await decide({ context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS, filters: ['in_stock', 'fresh'] })).toEqual({
      status: 400, body: { error: { code: 'unknown_filter', message: 'model "ranker" has no filter "fresh"; its filters are in_stock, cheap', details: { filter: 'fresh', index: 1 } } },
    });
    expect(await decide({ context: { user_id: 42, boost: 0.5 }, candidates: [{ item_id: 1 }, { itemid: 2 }] })).toEqual({
      status: 400,
      body: {
        error: {
          code: 'invalid_entities', message: '1 of 2 candidates is invalid (2 problems); nothing was served',
          details: [
            { index: 1, field: 'item_id', message: 'required key is missing (int64)' },
            { index: 1, field: 'itemid', message: 'not a join key of service "ranking"; its join keys are item_id (int64), user_id (int64)' },
          ],
        },
      },
    });
    expect(await decide({ context: { user_id: 42 }, candidates: [{ item_id: 1, boost: 1 }, { item_id: 2 }] })).toEqual({
      status: 400,
      body: {
        error: {
          code: 'invalid_entities', message: '1 request field is missing; nothing was decided',
          details: [{ index: 1, field: 'boost', message: 'model "ranker" reads request field "boost"; give it in "context" or in every candidate' }],
        },
      },
    });
    expect(await decide({ context: { user_id: 42, boost: 0 }, candidates: FIVE_ITEMS }, 'other')).toEqual({
      status: 403, body: { error: { code: 'forbidden', message: 'this token may not read feature service "ranking", which model "ranker" reads' } },
    });
  });

  it('answers 500 naming the model, version and candidate when the model returns NaN or throws; 503 for a version that does not load', async () => {
    // v2 returns NaN for price 15: item 4, candidate 3, the third eligible row.
    expect(await decide({ version: 'v2', context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS, filters: ['in_stock'] })).toEqual({
      status: 500,
      body: { error: { code: 'model_failed', message: 'model "ranker" version "v2" failed on candidate 3: the model returned NaN; nothing was decided', details: { model: 'ranker', version: 'v2', candidate: 3 } } },
    });
    expect(await decide({ version: 'v3', context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS })).toEqual({
      status: 500,
      body: { error: { code: 'model_failed', message: 'model "ranker" version "v3" failed: the model threw: boom; nothing was decided', details: { model: 'ranker', version: 'v3' } } },
    });
    const missing = new NotFoundError('version v9 of model', 'ranker', 'Registered: v1, v2, v3, v4').message;
    expect(await decide({ version: 'v9', context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS })).toEqual({
      status: 503,
      body: { error: { code: 'model_unavailable', message: `model "ranker" version "v9" cannot be loaded: ${missing}; nothing was decided`, details: { model: 'ranker', version: 'v9' } } },
    });
  });

  it('keeps the last good version serving when a promoted version fails to load, and shows it in /readyz', async () => {
    await promote('v4');
    expect((await decide({ context: { user_id: 42, boost: 0.5 }, candidates: [{ item_id: 2 }] })).body.version).toBe('v4');
    // A malformed artifact (not JSON), registered around the CLI's checks, then promoted.
    const { manifest } = await registerModelVersion(objects, { spec: project.models.ranker!, bytes: new TextEncoder().encode('{not json'), trainedOn: TRAINED_ON, now: new Date(NOW) });
    expect(manifest.version).toBe('v5');
    await promote('v5');
    expect((await decide({ context: { user_id: 42, boost: 0.5 }, candidates: [{ item_id: 2 }] })).body).toMatchObject({ version: 'v4', items: [{ score: -3.5 }] });
    const ready = await fetch(`${server.url}/readyz`, { headers: { authorization: 'Bearer reader' } });
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { models: Record<string, { serving: string; promoted: string; problem: string }> };
    expect(body.models.ranker).toEqual({
      serving: 'v4', promoted: 'v5',
      problem: expect.stringMatching(/^promoted version "v5" failed to load; version "v4" keeps serving: model "ranker" version v5, artifact models\/ranker\/versions\/v5\/params\.[0-9a-f]{12}\.json: not valid JSON/),
    });
    // Without a token: the versions, and that something is wrong, but not the store's paths.
    const anonymous = (await (await fetch(`${server.url}/readyz`)).json()) as { models: unknown };
    expect(anonymous.models).toEqual({ ranker: { serving: 'v4', promoted: 'v5', problem: 'the promoted version is not serving (details with a token)' } });
    // Promoting a good version again clears the problem.
    await promote('v1');
    expect(versions.status()).toEqual({ ranker: { serving: 'v1', promoted: 'v1' } });
  });

  it('routes each request to the arm of the split declared at promotion, by the stable hash of its context key', async () => {
    const arms = [{ version: 'v4', share: 0.7 }, { version: 'v1', share: 0.3 }];
    await promoteModelVersion(objects, 'ranker', 'v4', new Date(NOW), readPromotedSplit('ranker', 'v4', 'v4=0.7,v1=0.3', 'user_id'));
    await versions.poll();
    expect(versions.status()).toEqual({ ranker: { serving: 'v4', promoted: 'v4', split: { key: 'user_id', arms } } });
    // The arm of each user, by the hash the server uses; users 42 and 1..8 fall in both arms.
    const users = [42, 1, 2, 3, 4, 5, 6, 7, 8];
    const expected = users.map((userId) => splitVersion('ranker', userId, arms));
    expect(new Set(expected)).toEqual(new Set(['v4', 'v1']));
    for (const [at, userId] of users.entries()) {
      const { status, body } = await decide({ context: { user_id: userId, boost: 0 }, candidates: [{ item_id: 2 }] });
      // Item 2 costs 30; only user 42 has an affinity (2): v1 scores affinity - 3, v4 affinity - 6.
      const affinity = userId === 42 ? 2 : 0;
      expect([status, body.version, body.items[0].score]).toEqual([200, expected[at], affinity - (expected[at] === 'v1' ? 3 : 6)]);
      splitDecisions.push({ decisionId: body.decision_id, version: expected[at]! });
    }
    // The hash against the cumulative shares, by hand: below 0.7 is v4, else v1.
    expect(expected).toEqual(users.map((userId) => (decisionSampleFraction(`ranker\u0000${userId}`) < 0.7 ? 'v4' : 'v1')));
    // An entity request is split by the entity's key.
    expect((await decide({ entity: { user_id: 42, item_id: 2, boost: 0 } })).body.version).toBe(expected[0]);
    // A named version, and a per-request split, override the declared split.
    expect((await decide({ version: 'v1', context: { user_id: 42, boost: 0 }, candidates: [{ item_id: 2 }] })).body.version).toBe('v1');
    expect((await decide({ split: { key: 'user_id', shares: { v1: 1 } }, context: { user_id: 42, boost: 0 }, candidates: [{ item_id: 2 }] })).body.version).toBe('v1');
    // A request without the key is refused, naming it.
    expect(await decide({ context: { boost: 0 }, candidates: [{ user_id: 42, item_id: 2 }] })).toEqual({
      status: 400,
      body: { error: { code: 'invalid_request', message: 'model "ranker" splits requests by "user_id" (flywheel models promote --split), so the context must give "user_id" (a string or a number), got undefined', details: { model: 'ranker', key: 'user_id' } } },
    });
    // An arm that does not load (v5 is malformed) leaves the last good split serving, named in /readyz.
    await promoteModelVersion(objects, 'ranker', 'v1', new Date(NOW), readPromotedSplit('ranker', 'v1', 'v1=0.5,v5=0.5', 'user_id'));
    await versions.poll();
    expect(versions.status()).toEqual({
      ranker: {
        serving: 'v4', promoted: 'v1', split: { key: 'user_id', arms },
        problem: expect.stringMatching(/^split arm "v5" failed to load; the split by "user_id" \(v4 0\.7, v1 0\.3\) keeps serving: model "ranker" version v5, artifact /),
      },
    });
    expect((await decide({ context: { user_id: 42, boost: 0 }, candidates: [{ item_id: 2 }] })).body.version).toBe(expected[0]);
    // A plain promotion clears the split.
    await promote('v1');
    expect(versions.status()).toEqual({ ranker: { serving: 'v1', promoted: 'v1' } });
    expect((await decide({ context: { boost: 0 }, candidates: [{ user_id: 42, item_id: 2 }] })).body.version).toBe('v1');
  });

  it('logs one decision per request: every candidate\'s features, the model version, score, rank, shown position and propensity', async () => {
    await server.close();
    const events: Record<string, unknown>[] = [];
    for (const segment of closed.filter((s) => s.stream === 'ranking_decisions').sort((a, b) => (a.segmentId < b.segmentId ? -1 : 1))) {
      for await (const event of readSegment(segment.path)) events.push(event);
    }
    const byDecision = new Map<string, Record<string, unknown>[]>();
    for (const event of events) byDecision.set(String(event.decision_id), [...(byDecision.get(String(event.decision_id)) ?? []), event]);
    // The explored decision: five candidates, three eligible, two shown.
    const explored = [...byDecision.values()].find((rows) => rows[0]!.explored === true)!;
    const c = SCORING_COLUMNS;
    expect(explored.map((row) => ({
      item_id: row.item_id, row_index: row.row_index, price: row.price, available: row.available, affinity: row.affinity, available__status: row.available__status,
      model: row[c.model], version: row[c.version], score: row[c.score], rank: row[c.rank], position: row[c.position], propensity: row[c.propensity],
    }))).toEqual([
      { item_id: 1, row_index: 0, price: 10, available: true, affinity: 2, available__status: 'present', model: 'ranker', version: 'v1', score: 1.5, rank: 0, position: null, propensity: null },
      { item_id: 2, row_index: 1, price: 30, available: true, affinity: 2, available__status: 'present', model: 'ranker', version: 'v1', score: -0.5, rank: 2, position: 1, propensity: 0.5 / 3 },
      { item_id: 3, row_index: 2, price: 5, available: false, affinity: 2, available__status: 'present', model: 'ranker', version: 'v1', score: null, rank: null, position: null, propensity: null },
      { item_id: 4, row_index: 3, price: 15, available: true, affinity: 2, available__status: 'present', model: 'ranker', version: 'v1', score: 1, rank: 1, position: 0, propensity: 0.5 / 3 },
      { item_id: 5, row_index: 4, price: null, available: null, affinity: 2, available__status: 'missing', model: 'ranker', version: 'v1', score: null, rank: null, position: null, propensity: null },
    ]);
    expect(explored[0]!.context).toBe('{"user_id":42}');
    // The request's explore.key is logged on each of its rows, so its draws can be recomputed; a decision keyed by its id logs null.
    expect(explored.map((row) => row[c.exploreKey])).toEqual(['request-7', 'request-7', 'request-7', 'request-7', 'request-7']);
    expect(new Set(events.filter((event) => event.explored !== true).map((event) => event[c.exploreKey]))).toEqual(new Set([null]));
    // Each decision of the declared split logged the version of its user's arm.
    expect(splitDecisions.map(({ decisionId }) => byDecision.get(decisionId)![0]![c.version])).toEqual(splitDecisions.map(({ version }) => version));
    // Failed and refused requests log nothing: the decisions logged are the ones answered 200 (1 + 3 + 1 + 5 + 2 + 14).
    expect(byDecision.size).toBe(26);
  });
});

describe('POST /v1/decide over Redis', { timeout: 60_000 }, () => {
  const keyPrefix = testKeyPrefix();
  let onRedis: RunningLogServer;

  beforeAll(async () => {
    const store = new RedisOnlineStore({ url: redisUrl(), keyPrefix });
    await store.write(RECORDS);
    // The same object store, where v1 is promoted again at the end of the suite above.
    onRedis = await startLogServer({
      stateDir: join(dir, 'state-redis'), streams: streamSchemasOf(project), tokens: TokenTable.parse('reader=read'), port: 0,
      serving: { store, project, nowMicros: () => microsFromIso(NOW)! }, decide: { project, versions, nowMicros: () => microsFromIso(NOW)! }, log: () => undefined,
    });
  });

  afterAll(async () => {
    await onRedis?.close();
    await deleteTestKeys(redisUrl(), keyPrefix);
  });

  it('answers the same slate and the same errors as over SQLite', async () => {
    expect((await decide({ context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS, topK: 3 }, 'reader', onRedis.url)).body).toEqual({
      decision_id: expect.stringMatching(UUIDV7), model: 'ranker', version: 'v1', explored: false, eligible: 5,
      items: [
        { candidate: 4, keys: { item_id: 5, user_id: 42 }, score: 2.5, propensity: 1 },
        { candidate: 2, keys: { item_id: 3, user_id: 42 }, score: 2, propensity: 1 },
        { candidate: 0, keys: { item_id: 1, user_id: 42 }, score: 1.5, propensity: 1 },
      ],
    });
    expect(await decide({ version: 'v2', context: { user_id: 42, boost: 0.5 }, candidates: FIVE_ITEMS, filters: ['in_stock'] }, 'reader', onRedis.url)).toEqual({
      status: 500,
      body: { error: { code: 'model_failed', message: 'model "ranker" version "v2" failed on candidate 3: the model returned NaN; nothing was decided', details: { model: 'ranker', version: 'v2', candidate: 3 } } },
    });
  });
});
