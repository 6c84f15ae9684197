import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entity, featureService, featureView, model, source } from '../index.ts';
import { readSegment, type ClosedSegment } from '../connectors/log-store/segment-log/index.ts';
import { promoteModelVersion, registerModelVersion } from '../connectors/model-store/model-store.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import type { ObjectStore } from '../connectors/object-store/object-store.ts';
import { S3ObjectStore } from '../connectors/object-store/s3/s3-object-store.ts';
import type { OnlineRecord, OnlineStore } from '../connectors/online-store/online-store.ts';
import { microsFromIso } from '../connectors/online-store/online-time.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import { SCORING_COLUMNS } from '../core/definitions/decision-stream.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import type { ModelVersions } from '../server/decide/model-versions.ts';
import { storeModelVersions } from '../server/decide/store-model-versions.ts';
import { startLogServer, streamSchemasOf, TokenTable, type RunningLogServer } from '../server/index.ts';
import { deleteTestKeys, redisUrl, testKeyPrefix } from './setup/redis.ts';
import { createTestBucket, deleteTestBucket, s3TestConfig } from './setup/s3.ts';

/**
 * POST /v1/decide before any version is promoted (a model's `coldStart: 'uniform-random'`), and the
 * keyed exploration draws (server/decide/exploration-draws.ts), on a real server: features from a
 * real online store (SQLite, then Redis), versions in a real object store (a local folder, then the
 * test stack's S3 server), decisions logged to the decision stream's segments. The expected slates
 * are worked out here from the documented formula: draw i of a decision is the top 53 bits of 8 bytes
 * of HMAC-SHA256(secret, model NUL key NUL block), computed with node:crypto in this file.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
const src = source({
  name: 'src', table: 'raw.src', timestampField: 'ts',
  columns: { user_id: 'int64', item_id: 'int64', ts: 'timestamp', price: 'float64', available: 'bool', affinity: 'float64' },
});
const itemStats = featureView({ name: 'item_stats', entities: [item], source: src, features: { price: 'float64', available: 'bool' } });
const userStats = featureView({ name: 'user_stats', entities: [user], source: src, features: { affinity: 'float64' } });
const ranking = featureService({ name: 'ranking', features: [itemStats, userStats], logging: { sampleRate: 1 } });
/** Decides at random until a version is promoted. */
const ranker = model({
  name: 'ranker', service: ranking, inputs: ['price', 'affinity'], output: { name: 'score', kind: 'score' },
  artifact: { format: 'typescript', module: './linear.ts' }, filters: { in_stock: 'available = true' }, coldStart: 'uniform-random',
});
/** Declares no cold start: answers 503 until a version is promoted. */
const scorer = model({ name: 'scorer', service: ranking, inputs: ['price', 'affinity'], output: { name: 'score', kind: 'score' }, artifact: { format: 'typescript', module: './linear.ts' } });

/** score = affinity - price / price_scale (a missing price counts 0). */
const LINEAR_TS = `
export function score(params: { price_scale: number }, rows: Record<string, unknown>[]): number[] {
  return rows.map((row) => (row.affinity as number) - (typeof row.price === 'number' ? row.price : 0) / params.price_scale);
}
`;

const SECRET = 'cold-start-test-secret';
const NOW = '2024-05-02T12:00:00Z';
const AT = '2024-05-01T00:00:00Z';
const RECORDS: OnlineRecord[] = [
  { view: 'item_stats', key: [1], values: { price: 10, available: true }, eventTime: AT },
  { view: 'item_stats', key: [2], values: { price: 30, available: true }, eventTime: AT },
  { view: 'item_stats', key: [3], values: { price: 5, available: false }, eventTime: AT },
  { view: 'item_stats', key: [4], values: { price: 15, available: true }, eventTime: AT },
  // Item 5 has no record: its features are missing (null).
  { view: 'user_stats', key: [42], values: { affinity: 2 }, eventTime: AT },
];
const FIVE_ITEMS = [1, 2, 3, 4, 5].map((id) => ({ item_id: id }));
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TRAINED_ON = { trainingSet: 'ranking_training', version: 'r1', partitions: [] };

/** The first `count` draws of a decision, by the formula of docs/decide.md ("Where the draws come from"). */
function drawsOf(modelName: string, key: string, count: number): number[] {
  const draws: number[] = [];
  for (let block = 0; draws.length < count; block++) {
    const digest = createHmac('sha256', SECRET).update(`${modelName}\u0000${key}\u0000${block}`).digest();
    for (let at = 0; at < 32 && draws.length < count; at += 8) draws.push(Number(digest.readBigUInt64BE(at) >> 11n) / 2 ** 53);
  }
  return draws;
}

/** The first k of a Fisher-Yates shuffle of `eligible`, position i taking index i + floor(draw_i * (n - i)). */
function firstOfShuffle(eligible: readonly number[], k: number, draws: readonly number[]): number[] {
  const pool = [...eligible];
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(draws[i]! * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k);
}

interface Stack {
  readonly name: string;
  readonly online: () => Promise<OnlineStore>;
  readonly objects: () => Promise<ObjectStore>;
  readonly cleanUp: () => Promise<void>;
}

let bucket: string | undefined;
const keyPrefix = testKeyPrefix();
const STACKS: Stack[] = [
  {
    name: 'a SQLite online store and a local object store',
    online: async () => new SqliteOnlineStore({ path: join(mkdtempSync(join(tmpdir(), 'flywheel-cold-sqlite-')), 'online.sqlite') }),
    objects: async () => new LocalObjectStore(mkdtempSync(join(tmpdir(), 'flywheel-cold-objects-'))),
    cleanUp: async () => undefined,
  },
  {
    name: 'a Redis online store and an S3 object store',
    online: async () => new RedisOnlineStore({ url: redisUrl(), keyPrefix }),
    objects: async () => new S3ObjectStore(s3TestConfig((bucket = await createTestBucket(import.meta.url)))),
    cleanUp: async () => {
      await deleteTestKeys(redisUrl(), keyPrefix);
      if (bucket) await deleteTestBucket(bucket);
    },
  },
];

describe.each(STACKS)('POST /v1/decide before any version is promoted, over $name', { timeout: 60_000 }, (stack) => {
  let dir: string;
  let project: ProjectSpec;
  let objects: ObjectStore;
  let versions: ModelVersions;
  let server: RunningLogServer;
  const closed: ClosedSegment[] = [];
  /** Decision ids of the answers, with what each must have logged. */
  const logged: { decisionId: string; kind: 'cold' | 'scored' }[] = [];

  async function decide(body: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${server.url}/v1/decide`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer reader' }, body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  async function register(name: 'ranker' | 'scorer', bytes: string): Promise<string> {
    const { manifest } = await registerModelVersion(objects, { spec: project.models[name]!, bytes: new TextEncoder().encode(bytes), trainedOn: TRAINED_ON, now: new Date(NOW) });
    return manifest.version;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'flywheel-cold-start-'));
    mkdirSync(join(dir, 'definitions'));
    writeFileSync(join(dir, 'definitions', 'linear.ts'), LINEAR_TS);
    project = validateProject([user, item, src, itemStats, userStats, ranking, ranker, scorer].map((definition) => ({ file: 'definitions/decide.ts', definition })));
    objects = await stack.objects();
    const store = await stack.online();
    await store.write(RECORDS);
    versions = storeModelVersions({ project, store: objects, projectRoot: dir, pollMs: 60_000, log: () => undefined });
    await versions.start();
    server = await startLogServer({
      stateDir: join(dir, 'state'), streams: streamSchemasOf(project), tokens: TokenTable.parse('reader=read'), port: 0,
      onSegmentClosed: (segment) => void closed.push(segment),
      serving: { store, project, nowMicros: () => microsFromIso(NOW)! },
      decide: { project, versions, explorationSecret: SECRET, nowMicros: () => microsFromIso(NOW)! },
      log: () => undefined,
    });
  });

  afterAll(async () => {
    await server?.close();
    await stack.cleanUp();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries the declared policy in the model\'s spec', () => {
    expect(project.models.ranker!.coldStart).toBe('uniform-random');
    expect(project.models.scorer).not.toHaveProperty('coldStart');
  });

  it('decides a cold start with a uniformly random slate: no version, no scores, each shown candidate at exactly 1 / n', async () => {
    // topK 3 of 5 eligible: three draws, the partial shuffle; every shown candidate 1 / 5 (the request's epsilon plays no part).
    const shown = firstOfShuffle([0, 1, 2, 3, 4], 3, drawsOf('ranker', 'request-1', 3));
    const first = await decide({ model: 'ranker', context: { user_id: 42 }, candidates: FIVE_ITEMS, topK: 3, explore: { epsilon: 0.1, key: 'request-1' } });
    expect(first).toEqual({
      status: 200,
      body: {
        decision_id: expect.stringMatching(UUIDV7), model: 'ranker', version: null, explored: true, eligible: 5,
        items: shown.map((candidate) => ({ candidate, keys: { item_id: candidate + 1, user_id: 42 }, score: null, propensity: 1 / 5 })),
      },
    });
    // The same key draws the same slate, under another decision id.
    const again = await decide({ model: 'ranker', context: { user_id: 42 }, candidates: FIVE_ITEMS, topK: 3, explore: { key: 'request-1', epsilon: 0 } });
    expect(again.body.items).toEqual(first.body.items);
    expect(again.body.decision_id).not.toBe(first.body.decision_id);
    logged.push({ decisionId: first.body.decision_id, kind: 'cold' }, { decisionId: again.body.decision_id, kind: 'cold' });
  });

  it('applies the filters first: the slate is drawn from the eligible candidates, each at 1 / eligible', async () => {
    // in_stock keeps items 1, 2 and 4 (item 3 is not available, item 5's availability is unknown): candidates 0, 1, 3.
    const shown = firstOfShuffle([0, 1, 3], 2, drawsOf('ranker', 'request-2', 2));
    const { body } = await decide({ context: { user_id: 42 }, candidates: FIVE_ITEMS, filters: ['in_stock'], topK: 2, explore: { epsilon: 0.3, key: 'request-2' }, model: 'ranker' });
    expect(body).toMatchObject({ version: null, explored: true, eligible: 3, items: shown.map((candidate) => ({ candidate, score: null, propensity: 1 / 3 })) });
    // Without a key the draws are the decision id's: still a slate of 2 of the 3 eligible, each at 1 / 3.
    const unkeyed = await decide({ model: 'ranker', context: { user_id: 42 }, candidates: FIVE_ITEMS, filters: ['in_stock'], topK: 2 });
    expect(unkeyed.body.items).toHaveLength(2);
    for (const shownItem of unkeyed.body.items) expect(shownItem).toMatchObject({ score: null, propensity: 1 / 3 });
    const candidates = unkeyed.body.items.map((i: { candidate: number }) => i.candidate);
    expect(candidates.every((candidate: number) => [0, 1, 3].includes(candidate)) && new Set(candidates).size === 2).toBe(true);
    // One entity: the only candidate, shown with propensity 1.
    expect((await decide({ model: 'ranker', entity: { user_id: 42, item_id: 2 } })).body).toMatchObject({ version: null, explored: true, eligible: 1, items: [{ candidate: 0, keys: { item_id: 2, user_id: 42 }, score: null, propensity: 1 }] });
  });

  it('answers 503 naming the model for a model that declares no cold start, and for a promoted version that does not load', async () => {
    expect(await decide({ model: 'scorer', context: { user_id: 42 }, candidates: FIVE_ITEMS })).toEqual({
      status: 503,
      body: { error: { code: 'model_unavailable', message: 'model "scorer" has no version to score with: no version is promoted (flywheel models promote); nothing was decided', details: { model: 'scorer' } } },
    });
    // ranker: a version is promoted but cannot load (not JSON). That is no cold start: the server does not know the model, so it decides nothing.
    expect(await register('ranker', '{not json')).toBe('v1');
    await promoteModelVersion(objects, 'ranker', 'v1', new Date(NOW));
    await versions.poll();
    const refused = await decide({ model: 'ranker', context: { user_id: 42 }, candidates: FIVE_ITEMS, explore: { epsilon: 0.5, key: 'request-3' } });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'model_unavailable', details: { model: 'ranker' } });
    // The artifact's file is named by its bytes' SHA-256; the parser's own words (after the colon) are Node's.
    const artifact = `models/ranker/versions/v1/params.${createHash('sha256').update('{not json').digest('hex').slice(0, 12)}.json`;
    const message = String(refused.body.error.message);
    const prefix = `model "ranker" has no version to score with: promoted version "v1" failed to load; no version serves: model "ranker" version v1, artifact ${artifact}: not valid JSON (a TypeScript model's artifact is its parameters as JSON): `;
    expect(message.slice(0, prefix.length)).toBe(prefix);
    expect(message.endsWith('; nothing was decided')).toBe(true);
  });

  it('scores with the promoted version once one loads, exploring by the keyed draws whatever the order the requests arrive in', async () => {
    expect(await register('ranker', JSON.stringify({ price_scale: 10 }))).toBe('v2');
    await promoteModelVersion(objects, 'ranker', 'v2', new Date(NOW));
    await versions.poll();
    // affinity 2 - price / 10: items 1..5 score 1, -1, 1.5, 0.5, 2 (item 5 has no price): greedy order 4, 2, 0, 3, 1.
    const greedy = [4, 2, 0, 3, 1];
    const scores = [1, -1, 1.5, 0.5, 2];
    const keys = Array.from({ length: 12 }, (_, i) => `slate-${i}`);
    const expected = keys.map((key) => {
      const draws = drawsOf('ranker', key, 3);
      const explored = draws[0]! < 0.5;
      const shown = explored ? firstOfShuffle([0, 1, 2, 3, 4], 2, draws.slice(1)) : greedy.slice(0, 2);
      return {
        version: 'v2', explored, eligible: 5,
        items: shown.map((candidate, position) => ({ candidate, keys: { item_id: candidate + 1, user_id: 42 }, score: scores[candidate], propensity: 0.5 * (greedy[position] === candidate ? 1 : 0) + 0.5 / 5 })),
      };
    });
    // Both branches occur among these keys (a fact of the secret; the test would not cover exploration otherwise).
    expect(new Set(expected.map((e) => e.explored))).toEqual(new Set([true, false]));
    const body = (key: string) => ({ model: 'ranker', context: { user_id: 42 }, candidates: FIVE_ITEMS, topK: 2, explore: { epsilon: 0.5, key } });
    // One at a time, then all at once in the reverse order: the same answers.
    const oneByOne: any[] = [];
    for (const key of keys) oneByOne.push((await decide(body(key))).body);
    const atOnce = await Promise.all([...keys].reverse().map(async (key) => (await decide(body(key))).body));
    atOnce.reverse();
    expect(oneByOne).toMatchObject(expected);
    expect(atOnce).toMatchObject(expected);
    logged.push({ decisionId: oneByOne[0].decision_id, kind: 'scored' });
  });

  it('logs the cold start\'s decisions with the model, no version, no score or rank, and each shown candidate\'s position and propensity 1 / n', async () => {
    await server.close();
    const events: Record<string, unknown>[] = [];
    for (const segment of closed.filter((s) => s.stream === 'ranking_decisions')) {
      for await (const event of readSegment(segment.path)) events.push(event);
    }
    const c = SCORING_COLUMNS;
    const rowsOf = (decisionId: string) => events.filter((e) => e.decision_id === decisionId).sort((a, b) => Number(a.row_index) - Number(b.row_index));
    const cold = logged.find((l) => l.kind === 'cold')!;
    const shown = firstOfShuffle([0, 1, 2, 3, 4], 3, drawsOf('ranker', 'request-1', 3));
    expect(rowsOf(cold.decisionId).map((row) => ({
      item_id: row.item_id, price: row.price, affinity: row.affinity, model: row[c.model], version: row[c.version], score: row[c.score], rank: row[c.rank],
      position: row[c.position], propensity: row[c.propensity], explored: row[c.explored],
    }))).toEqual([1, 2, 3, 4, 5].map((itemId, index) => ({
      item_id: itemId, price: [10, 30, 5, 15, null][index], affinity: 2, model: 'ranker', version: null, score: null, rank: null,
      position: shown.includes(index) ? shown.indexOf(index) : null, propensity: shown.includes(index) ? 1 / 5 : null, explored: true,
    })));
    // A decision of the promoted version logs it.
    const scored = logged.find((l) => l.kind === 'scored')!;
    expect(rowsOf(scored.decisionId).map((row) => row[c.version])).toEqual(['v2', 'v2', 'v2', 'v2', 'v2']);
  });
});
