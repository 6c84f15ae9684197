import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFlywheelClient, entity, featureService, featureView, FeatureServingError, select, source } from '../index.ts';
import type { OnlineKeyRequest, OnlineRecord, OnlineStore } from '../connectors/online-store/online-store.ts';
import { microsFromIso } from '../connectors/online-store/online-time.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { RedisClusterOnlineStore } from '../connectors/online-store/redis-cluster/redis-cluster-online-store.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { startLogServer, TokenTable, type RunningLogServer, type ServedDecision, type ServingOptions } from '../server/index.ts';
import { isServedFragments } from '../server/serving/served-decision.ts';
import { spellOut } from '../server/serving/served-fragments.ts';
import { deleteTestKeys, redisUrl, startRedisServer, testKeyPrefix, withRedisClient, type RunningRedis } from './setup/redis.ts';
import { startRedisCluster } from './setup/redis-cluster.ts';

/**
 * The serving API (`POST /v1/features`, docs/serving.md) on a real server over real online stores:
 * SQLite files, redis-server processes and a three-node Redis Cluster. The same suite runs on all three; the Redis part adds command
 * counts and an outage (the server killed and restarted under the API).
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
const country = entity({ name: 'country', joinKeys: { country_code: 'string' } });
const src = source({
  name: 'src', table: 'raw.src', timestampField: 'ts',
  columns: {
    user_id: 'int64', item_id: 'int64', country_code: 'string', ts: 'timestamp', txn_count_7d: 'int64', amount_avg_7d: 'float64',
    nickname: 'string', last_login: 'timestamp', big: 'int64', vip: 'bool', ctr: 'float64', title: 'string', clicks: 'int64', tax: 'float64',
  },
});
const userStats = featureView({
  name: 'user_stats', entities: [user], source: src, ttl: '1d',
  features: { txn_count_7d: 'int64', amount_avg_7d: 'float64', nickname: 'string', last_login: 'timestamp', big: 'int64', vip: 'bool' },
});
const itemStats = featureView({ name: 'item_stats', entities: [item], source: src, features: { ctr: 'float64', title: 'string' } });
const userItem = featureView({ name: 'user_item', entities: [user, item], source: src, ttl: '7d', features: { clicks: 'int64' } });
const countryTax = featureView({ name: 'country_tax', entities: [country], source: src, online: false, features: { tax: 'float64' } });
const fraudModel = featureService({ name: 'fraud_model', features: [userStats] });
const ranking = featureService({ name: 'ranking', features: [select(userStats, ['nickname', 'txn_count_7d']), itemStats, userItem] });
const taxes = featureService({ name: 'taxes', features: [countryTax] });
const project: ProjectSpec = validateProject(
  [user, item, country, src, userStats, itemStats, userItem, countryTax, fraudModel, ranking, taxes].map((definition) => ({ file: 'definitions/serving.ts', definition })),
);

const USER_FEATURES = ['txn_count_7d', 'amount_avg_7d', 'nickname', 'last_login', 'big', 'vip'];
const NOW = '2024-05-02T12:00:00Z';
const NOW_MICROS = microsFromIso(NOW)!;
const NICKNAME = 'Zoë "the \\ boss"\n\u2028\t</script>';
const USER_1 = { txn_count_7d: 3, amount_avg_7d: 12.5, nickname: NICKNAME, last_login: '2024-05-01T11:00:00.123456Z', big: '9223372036854775807', vip: true };

/** The records every test starts from. */
const RECORDS: OnlineRecord[] = [
  // Exactly one ttl (1 day) old at NOW: present.
  { view: 'user_stats', key: [1], values: USER_1, eventTime: '2024-05-01T12:00:00Z' },
  // One microsecond older: expired.
  { view: 'user_stats', key: [2], values: { ...USER_1, txn_count_7d: 4 }, eventTime: '2024-05-01T11:59:59.999999Z' },
  // Later than NOW (a clock ahead): present.
  { view: 'user_stats', key: [4], values: { ...USER_1, txn_count_7d: 6, big: -(2 ** 53 - 1) }, eventTime: '2024-05-02T13:00:00Z' },
  // Written before the view had `vip` (and in another order): vip is missing, the rest present.
  { view: 'user_stats', key: [5], values: { nickname: 'old', big: 7, txn_count_7d: 8, amount_avg_7d: -0.25, last_login: null }, eventTime: '2024-05-02T00:00:00.5+02:00' },
  // Items: even ids only. No ttl: never expires.
  ...Array.from({ length: 250 }, (_, i): OnlineRecord => ({ view: 'item_stats', key: [2 * i], values: { ctr: i / 1000, title: `item ${2 * i}` }, eventTime: '2020-01-01T00:00:00Z' })),
  // User 1 clicked items that are multiples of 10; those multiple of 50 long ago (expired: ttl 7d).
  ...Array.from({ length: 50 }, (_, i): OnlineRecord => ({
    view: 'user_item', key: [1, 10 * i], values: { clicks: i }, eventTime: i % 5 === 0 ? '2024-04-01T00:00:00Z' : '2024-05-01T00:00:00Z',
  })),
];

const TOKENS = 'reader=read;fraud=read:fraud_model;writer=write:*';
const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface StoreUnderTest {
  readonly store: OnlineStore;
  readonly cleanup: () => Promise<void>;
}

/** A store that counts what serving reads, around a real one. */
function counting(store: OnlineStore): { store: OnlineStore; reads: OnlineKeyRequest[][] } {
  const reads: OnlineKeyRequest[][] = [];
  return {
    reads,
    store: {
      write: (records) => store.write(records),
      writeEncoded: (batch) => store.writeEncoded(batch),
      read: (requests, now) => store.read(requests, now),
      readEncoded: (requests) => {
        reads.push([...requests]);
        return store.readEncoded(requests);
      },
      sampleKeys: (view, limit) => store.sampleKeys(view, limit),
      deleteView: (view) => store.deleteView(view),
      deleteExpired: (view, ttlSeconds, now, limit) => store.deleteExpired(view, ttlSeconds, now, limit),
      ping: () => store.ping(),
      close: () => store.close(),
    },
  };
}

async function post(url: string, body: unknown, token: string | null = 'reader', headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${url}/v1/features`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text), headers: response.headers };
}

/** A row as the API answers it. */
const row = (values: unknown[], statuses: string[], eventTimes: (string | null)[]) => ({ values, statuses, event_times: eventTimes });
const times = (time: string | null, count: number) => new Array<string | null>(count).fill(time);
const all = (status: string, count: number) => new Array<string>(count).fill(status);

function describeServing(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`POST /v1/features on ${name}`, () => {
    let opened: StoreUnderTest;
    let counted: ReturnType<typeof counting>;
    let server: RunningLogServer;
    let stateDir: string;
    const offered: ServedDecision[] = [];
    const lines: string[] = [];

    beforeAll(async () => {
      opened = await open();
      await opened.store.write(RECORDS);
      counted = counting(opened.store);
      stateDir = mkdtempSync(join(tmpdir(), 'flywheel-serving-'));
      const serving: ServingOptions = {
        store: counted.store, project, nowMicros: () => NOW_MICROS, limits: { maxRows: 600, maxIssues: 3 },
        decisions: { logs: (service) => service === 'fraud_model', offer: (decision) => void offered.push(isServedFragments(decision) ? spellOut(decision) : decision) },
      };
      server = await startLogServer({ stateDir, streams: [], tokens: TokenTable.parse(TOKENS), port: 0, log: (line) => void lines.push(line), serving });
    });
    afterAll(async () => {
      await server?.close(); // closes the store
      await opened?.cleanup();
      if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    });

    it('serves present, expired and missing values, exactly-ttl-old included, in the declared order', async () => {
      const answer = await post(server.url, { service: 'fraud_model', entities: [{ user_id: 1 }, { user_id: 2 }, { user_id: 3 }, { user_id: 4 }, { user_id: '5' }] });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('application/json');
      const n = USER_FEATURES.length;
      expect(answer.body).toEqual({
        decision_id: expect.stringMatching(UUIDV7),
        service: 'fraud_model',
        features: USER_FEATURES,
        rows: [
          row([3, 12.5, NICKNAME, '2024-05-01T11:00:00.123456Z', '9223372036854775807', true], all('present', n), times('2024-05-01T12:00:00.000Z', n)),
          row(new Array(n).fill(null), all('expired', n), times('2024-05-01T11:59:59.999999Z', n)),
          row(new Array(n).fill(null), all('missing', n), times(null, n)),
          row([6, 12.5, NICKNAME, '2024-05-01T11:00:00.123456Z', -(2 ** 53 - 1), true], all('present', n), times('2024-05-02T13:00:00.000Z', n)),
          row([8, -0.25, 'old', null, 7, null], [...all('present', 5), 'missing'], [...times('2024-05-01T22:00:00.500Z', 5), null]),
        ],
      });
    });

    it('answers no rows for no entities, without reading', async () => {
      counted.reads.length = 0;
      const answer = await post(server.url, { service: 'ranking', context: { user_id: 1 }, candidates: [] });
      expect(answer).toMatchObject({ status: 200, body: { service: 'ranking', features: ['nickname', 'txn_count_7d', 'ctr', 'title', 'clicks'], rows: [] } });
      const none = await post(server.url, { service: 'fraud_model', entities: [] });
      expect(none.body.rows).toEqual([]);
      expect(counted.reads).toEqual([]);
    });

    it('answers values only with "metadata": false', async () => {
      const answer = await post(server.url, { service: 'fraud_model', entities: [{ user_id: 1 }, { user_id: 3 }], metadata: false });
      expect(answer.body.rows).toEqual([{ values: Object.values(USER_1) }, { values: new Array(USER_FEATURES.length).fill(null) }]);
    });

    it('gives the same values whether it splices the stored JSON (full view) or parses and picks (subset, reordered)', async () => {
      const entities = [1, 2, 3, 4, 5].map((id) => ({ user_id: id }));
      const full = await post(server.url, { service: 'fraud_model', entities });
      const reversed = [...USER_FEATURES].reverse();
      const picked = await post(server.url, { features: reversed.map((f) => `user_stats:${f}`), entities });
      expect(picked.status).toBe(200);
      expect(picked.body.service).toBeNull();
      expect(picked.body.features).toEqual(reversed);
      const byName = (body: any) =>
        body.rows.map((r: any) => Object.fromEntries(body.features.map((f: string, i: number) => [f, [r.values[i], r.statuses[i], r.event_times[i]]])));
      expect(byName(picked.body)).toEqual(byName(full.body));
    });

    it('serves one context and 500 candidates, each row right, reading each key once', async () => {
      const candidates = Array.from({ length: 500 }, (_, i) => ({ item_id: i }));
      counted.reads.length = 0;
      const answer = await post(server.url, { service: 'ranking', context: { user_id: 1 }, candidates });
      expect(answer.status).toBe(200);
      expect(answer.body.features).toEqual(['nickname', 'txn_count_7d', 'ctr', 'title', 'clicks']);
      expect(answer.body.rows).toHaveLength(500);
      for (let i = 0; i < 500; i++) {
        const hasItem = i % 2 === 0;
        const clicked = i % 10 === 0;
        const expired = clicked && (i / 10) % 5 === 0;
        expect(answer.body.rows[i], `candidate ${i}`).toEqual(
          row(
            [NICKNAME, 3, hasItem ? i / 2 / 1000 : null, hasItem ? `item ${i}` : null, clicked && !expired ? i / 10 : null],
            ['present', 'present', ...all(hasItem ? 'present' : 'missing', 2), clicked ? (expired ? 'expired' : 'present') : 'missing'],
            [
              ...times('2024-05-01T12:00:00.000Z', 2), ...times(hasItem ? '2020-01-01T00:00:00.000Z' : null, 2),
              clicked ? (expired ? '2024-04-01T00:00:00.000Z' : '2024-05-01T00:00:00.000Z') : null,
            ],
          ),
        );
      }
      // One round trip: the user once, each item once, each (user, item) once.
      expect(counted.reads).toHaveLength(1);
      expect(counted.reads[0]).toHaveLength(1 + 500 + 500);
      expect(counted.reads[0]!.filter((r) => r.view === 'user_stats')).toEqual([{ view: 'user_stats', key: [1] }]);
    });

    it('reads an entity given several times once, composite keys included', async () => {
      counted.reads.length = 0;
      const entities = [{ user_id: 1, item_id: 10 }, { user_id: 1, item_id: 10 }, { user_id: 2, item_id: 10 }, { item_id: 10, user_id: 1 }, { user_id: 1, item_id: 20 }];
      const answer = await post(server.url, { service: 'ranking', entities });
      expect(answer.status).toBe(200);
      expect(answer.body.rows.map((r: any) => r.values)).toEqual([
        [NICKNAME, 3, 0.005, 'item 10', 1],
        [NICKNAME, 3, 0.005, 'item 10', 1],
        [null, null, 0.005, 'item 10', null],
        [NICKNAME, 3, 0.005, 'item 10', 1],
        [NICKNAME, 3, 0.01, 'item 20', 2],
      ]);
      expect(counted.reads).toHaveLength(1);
      const keys = counted.reads[0]!.map((r) => `${r.view}:${JSON.stringify(r.key)}`);
      expect(keys.sort()).toEqual(['item_stats:[10]', 'item_stats:[20]', 'user_item:[1,10]', 'user_item:[1,20]', 'user_item:[2,10]', 'user_stats:[1]', 'user_stats:[2]']);
    });

    it('reads int64 keys given as strings of digits, beyond 2^53 too', async () => {
      await opened.store.write([{ view: 'user_stats', key: [9007199254740993n], values: { ...USER_1, txn_count_7d: 99 }, eventTime: NOW }]);
      const answer = await post(server.url, { service: 'fraud_model', entities: [{ user_id: '9007199254740993' }, { user_id: '1' }], metadata: false });
      expect(answer.body.rows.map((r: any) => r.values[0])).toEqual([99, 3]);
    });

    it('offers each response of a logged service to the decision log, as served', async () => {
      offered.length = 0;
      const answer = await post(server.url, { service: 'fraud_model', entities: [{ user_id: 1 }, { user_id: 3 }] });
      await post(server.url, { service: 'ranking', entities: [{ user_id: 1, item_id: 0 }] }); // not logged
      await new Promise((resolve) => setImmediate(resolve));
      expect(offered).toHaveLength(1);
      const nulls = Object.fromEntries(USER_FEATURES.map((f) => [f, null]));
      expect(offered[0]).toEqual({
        decisionId: answer.body.decision_id, service: 'fraud_model', servedAt: '2024-05-02T12:00:00.000Z', context: undefined, features: USER_FEATURES,
        rows: [
          {
            keys: { user_id: 1 }, values: USER_1,
            eventTimes: Object.fromEntries(USER_FEATURES.map((f) => [f, '2024-05-01T12:00:00.000Z'])),
            statuses: Object.fromEntries(USER_FEATURES.map((f) => [f, 'present'])),
          },
          { keys: { user_id: 3 }, values: nulls, eventTimes: nulls, statuses: Object.fromEntries(USER_FEATURES.map((f) => [f, 'missing'])) },
        ],
      });
    });

    it('refuses invalid requests with exact 400s', async () => {
      const cases: [unknown, unknown][] = [
        ['{"service": "fraud_model", "entities": [{"user_id": 1}', { code: 'malformed_json', message: 'malformed JSON at line 1, column 55: unexpected end of input (inside an unclosed array)', details: { line: 1, column: 55 } }],
        [[{ user_id: 1 }], { code: 'invalid_request', message: 'the body must be a JSON object such as {"service": "<name>", "entities": [{...}]}, got an array' }],
        [{ service: 'fraud_model', entities: [], extra: 1 }, { code: 'invalid_request', message: 'unknown field "extra"; a request has "service" or "features", and "entities" or "context" with "candidates" (and optionally "metadata")' }],
        [{ entities: [] }, { code: 'invalid_request', message: 'name a feature service ("service": "<name>") or list features ("features": ["<view>:<feature>", ...])' }],
        [{ service: 'fraud_model', features: ['user_stats:big'], entities: [] }, { code: 'invalid_request', message: 'give "service" or "features", not both' }],
        [{ service: 'fraud_model' }, { code: 'invalid_request', message: 'give the rows: "entities": [{...}], or "context": {...} with "candidates": [{...}]' }],
        [{ service: 'fraud_model', context: { user_id: 1 } }, { code: 'invalid_request', message: '"context" goes with "candidates": [{...}]' }],
        [{ service: 'fraud_model', entities: [], candidates: [] }, { code: 'invalid_request', message: 'give "entities", or "context" with "candidates", not both' }],
        [{ service: 'fraud_model', entities: { user_id: 1 } }, { code: 'invalid_request', message: '"entities" must be an array of objects, got an object' }],
        [{ service: 'fraud_model', entities: [], metadata: 'no' }, { code: 'invalid_request', message: '"metadata" must be true or false, got string "no"' }],
        [{ service: 'nope', entities: [] }, { code: 'unknown_service', message: 'no feature service "nope"; the services are fraud_model, ranking, taxes' }],
        [{ service: 'taxes', entities: [] }, { code: 'not_servable', message: 'feature service "taxes" cannot be served: feature view "country_tax" is not online (declared with `online: false`), so no values are ever materialized for it' }],
        [{ features: ['user_stats:nope'], entities: [] }, { code: 'unknown_feature', message: 'feature view "user_stats" has no feature "nope"; its features: txn_count_7d, amount_avg_7d, nickname, last_login, big, vip', details: { feature: 'user_stats:nope' } }],
        [{ features: ['user_stats'], entities: [] }, { code: 'unknown_feature', message: 'a feature reference is "<view>:<feature>", got "user_stats"', details: { feature: 'user_stats' } }],
        [
          // As text: a JSON number beyond 2^53 loses its last digits (here to ...992) in any JSON parser.
          '{"service": "fraud_model", "entities": [{"user_id": 1}, {}, {"user_id": 1.5}, {"user_id": 9007199254740993}, {"user_id": null, "x": 1}]}',
          {
            code: 'invalid_entities',
            message: '4 of 5 entities are invalid (5 problems); nothing was served; the first 3 are listed, 2 more are not',
            details: [
              { index: 1, field: 'user_id', message: 'required key is missing (int64)' },
              { index: 2, field: 'user_id', message: 'expected int64 (a whole number), got number 1.5' },
              { index: 3, field: 'user_id', message: '9007199254740992 is beyond ±2^53, where JSON numbers lose digits; send an int64 this large as a string of digits' },
            ],
          },
        ],
        [
          { service: 'ranking', context: { user_id: 'a', item_id: 1 }, candidates: [{ item_id: 2 }, 'x'] },
          {
            code: 'invalid_entities',
            message: '2 of 2 candidates are invalid and the context is invalid (3 problems); nothing was served',
            details: [
              { field: 'context.user_id', message: 'expected int64 (a whole number, or a string of digits), got string "a"' },
              { index: 0, field: 'item_id', message: 'also given in "context"; a key goes in the context or in each candidate, not both' },
              { index: 1, message: 'a candidate must be a JSON object of join keys, got string "x"' },
            ],
          },
        ],
        [
          { service: 'ranking', candidates: [{ item_id: 2, country_code: 'FR' }] },
          {
            code: 'invalid_entities',
            message: '1 of 1 candidates is invalid (2 problems); nothing was served',
            details: [
              { index: 0, field: 'user_id', message: 'required key is missing (int64); shared keys go in "context"' },
              { index: 0, field: 'country_code', message: 'not a join key of service "ranking"; its join keys are user_id (int64), item_id (int64)' },
            ],
          },
        ],
      ];
      for (const [body, error] of cases) {
        const answer = await post(server.url, body);
        expect({ status: answer.status, body: answer.body }, JSON.stringify(body)).toEqual({ status: 400, body: { error } });
      }
      const tooMany = await post(server.url, { service: 'fraud_model', entities: Array.from({ length: 601 }, (_, i) => ({ user_id: i })) });
      expect(tooMany).toMatchObject({
        status: 413,
        body: { error: { code: 'too_many_rows', message: 'the request has 601 entities; at most 600 rows are served per request — split it', details: { limit: 600 } } },
      });
      const form = await post(server.url, 'service=fraud_model', 'reader', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(form).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type', message: 'Content-Type must be application/json, got "application/x-www-form-urlencoded"' } } });
    });

    it('needs a token that may read the service', async () => {
      const body = { service: 'fraud_model', entities: [{ user_id: 1 }] };
      const missing = await post(server.url, body, null);
      expect(missing).toMatchObject({ status: 401, body: { error: { code: 'unauthorized', message: 'missing bearer token; send Authorization: Bearer <token>' } } });
      expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="flywheel"');
      expect(await post(server.url, body, 'nope')).toMatchObject({ status: 401, body: { error: { code: 'unauthorized', message: 'unknown token' } } });
      expect(await post(server.url, body, 'writer')).toMatchObject({ status: 403, body: { error: { code: 'forbidden', message: 'this token may not read features; it needs the scope read or read:<service>' } } });
      expect((await post(server.url, body, 'fraud')).status).toBe(200);
      // A scoped token learns nothing of other services, existing or not.
      for (const service of ['ranking', 'nope']) {
        expect(await post(server.url, { service, entities: [] }, 'fraud')).toMatchObject({ status: 403, body: { error: { code: 'forbidden', message: `this token may not read feature service "${service}"` } } });
      }
      expect(await post(server.url, { features: ['user_stats:big'], entities: [] }, 'fraud')).toMatchObject({
        status: 403, body: { error: { code: 'forbidden', message: 'reading a list of features needs the scope read (or read:*); this token may read named services only' } },
      });
    });

    it('serves the TypeScript client typed rows, and throws FeatureServingError with the code', async () => {
      const client = createFlywheelClient({ url: server.url, token: 'reader' });
      const features = await client.getFeatures<{ nickname: string | null; txn_count_7d: number | null; ctr: number | null; title: string | null; clicks: number | null }>({
        service: 'ranking', context: { user_id: 1n }, candidates: [{ item_id: 10 }, { item_id: 11 }],
      });
      expect(features.decisionId).toMatch(UUIDV7);
      expect(features.service).toBe('ranking');
      expect(features.rows[0]!.values).toEqual({ nickname: NICKNAME, txn_count_7d: 3, ctr: 0.005, title: 'item 10', clicks: 1 });
      expect(features.rows[1]!.statuses.ctr).toBe('missing');
      expect(features.rows[1]!.eventTimes.nickname).toBe('2024-05-01T12:00:00.000Z');
      const refused = await client.getFeatures({ service: 'fraud_model', entities: [{}] }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(FeatureServingError);
      expect(refused).toMatchObject({ status: 400, code: 'invalid_entities', retryable: false, details: [{ index: 0, field: 'user_id', message: 'required key is missing (int64)' }] });
      await client.close();
    });

    it('exposes Prometheus metrics and readiness', async () => {
      const ready = await fetch(`${server.url}/readyz`);
      expect({ status: ready.status, body: await ready.json() }).toEqual({ status: 200, body: { status: 'ready', checks: { segment_log: 'ok', online_store: 'ok' } } });
      const metrics = await fetch(`${server.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toContain('text/plain');
      const text = await metrics.text();
      expect(text).toMatch(/^flywheel_http_requests_total\{route="\/v1\/features",method="POST",status="200"\} \d+$/m);
      expect(text).toMatch(/^flywheel_http_requests_total\{route="\/v1\/features",method="POST",status="400"\} \d+$/m);
      expect(text).toMatch(/^flywheel_http_request_duration_seconds_bucket\{le="0.005",route="\/v1\/features",method="POST",status="200"\} \d+$/m);
      expect(text).toMatch(/^flywheel_online_store_read_duration_seconds_count\{outcome="ok"\} \d+$/m);
      expect(text).toMatch(/^flywheel_online_store_keys_read_total \d+$/m);
      expect(text).toMatch(/^flywheel_online_store_available 1$/m);
      expect(text).toMatch(/^flywheel_served_rows_total\{service="ranking"\} \d+$/m);
      expect(text).toMatch(/^flywheel_served_rows_total\{service="\(features\)"\} \d+$/m);
      expect(text).toMatch(/^process_cpu_seconds_total /m);
      const notFound = await fetch(`${server.url}/nope`);
      expect(notFound.status).toBe(404);
      expect(await (await fetch(`${server.url}/metrics`)).text()).toMatch(/^flywheel_http_requests_total\{route="unmatched",method="GET",status="404"\} 1$/m);
    });
  });
}

describeServing('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-serving-sqlite-'));
  return { store: new SqliteOnlineStore({ path: join(dir, 'online.sqlite') }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describeServing('Redis', async () => {
  const keyPrefix = testKeyPrefix();
  return { store: new RedisOnlineStore({ url: redisUrl(), keyPrefix }), cleanup: () => deleteTestKeys(redisUrl(), keyPrefix).then(() => undefined) };
});

describeServing('Redis Cluster', async () => {
  // Three real nodes of its own (test/setup/redis-cluster.ts): every request's keys span the shards.
  const cluster = await startRedisCluster();
  return { store: new RedisClusterOnlineStore({ urls: [cluster.urls[0]!], keyPrefix: testKeyPrefix() }), cleanup: () => cluster.stop() };
});

describe('serving on a Redis of its own', () => {
  let redis: RunningRedis;
  let server: RunningLogServer | undefined;
  let stateDir: string;
  const lines: string[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  async function start(options: Partial<ServingOptions> = {}): Promise<{ url: string; store: RedisOnlineStore }> {
    const store = new RedisOnlineStore({ url: redis.url, keyPrefix: 'fw:serving:' });
    await store.write(RECORDS.slice(0, 4));
    stateDir = mkdtempSync(join(tmpdir(), 'flywheel-serving-redis-'));
    server = await startLogServer({
      stateDir, streams: [], tokens: TokenTable.parse(TOKENS), port: 0, log: (line) => void lines.push(line),
      serving: { store, project, nowMicros: () => NOW_MICROS, probeIntervalMs: 100, ...options },
    });
    return { url: server.url, store };
  }

  async function commandCounts(): Promise<Record<string, number>> {
    const info = await withRedisClient(redis.url, (client) => client.info('commandstats'));
    const counts: Record<string, number> = {};
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (match[1] !== 'info' && !match[1]!.startsWith('config')) counts[match[1]!] = Number(match[2]);
    }
    return counts;
  }

  it('sends one MGET per request, however many rows and views', async () => {
    const { url } = await start();
    await post(url, { service: 'fraud_model', entities: [{ user_id: 1 }] }); // layouts known from here on
    await withRedisClient(redis.url, (client) => client.configResetStat());
    const answer = await post(url, { service: 'ranking', context: { user_id: 1 }, candidates: Array.from({ length: 100 }, (_, i) => ({ item_id: i % 10 })) });
    expect(answer.status).toBe(200);
    expect(await commandCounts()).toEqual({ mget: 1 });
  });

  it('answers 503 naming the store within 1.5 s while Redis is down, at once after the first, and recovers by itself', async () => {
    const { url } = await start();
    const body = { service: 'fraud_model', entities: [{ user_id: 1 }] };
    expect((await post(url, body)).status).toBe(200);
    await redis.kill();

    const timed = async () => {
      const start = performance.now();
      const answer = await post(url, body);
      return { ...answer, ms: performance.now() - start };
    };
    const first = await timed();
    expect(first.ms).toBeLessThan(1500);
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(first.body.error.code).toBe('online_store_unavailable');
    expect(first.body.error.message).toMatch(new RegExp(`^the online store ${redis.url} is unavailable, so no features were served; retry in a moment \\(Online store ${redis.url} `));
    expect(first.body.error.details).toEqual({ store: redis.url });
    const second = await timed();
    expect(second.status).toBe(503);
    expect(second.ms).toBeLessThan(100);

    // The store's address is told to a caller with a valid token only (test/server-edges.test.ts checks without).
    const notReady = await fetch(`${url}/readyz`, { headers: { authorization: 'Bearer reader' } });
    const readiness = (await notReady.json()) as { status: string; checks: Record<string, string> };
    expect(notReady.status).toBe(503);
    expect(readiness.status).toBe('not_ready');
    expect(readiness.checks.segment_log).toBe('ok');
    expect(readiness.checks.online_store).toContain(redis.url);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^flywheel_online_store_available 0$/m);
    expect(lines.some((line) => line.startsWith(`serving: Online store ${redis.url} unavailable`) && line.endsWith('answering 503 at once until it answers a ping again'))).toBe(true);

    // Back on the same port, empty: the values are written again, and serving resumes without a restart.
    await redis.restart();
    const writer = new RedisOnlineStore({ url: redis.url, keyPrefix: 'fw:serving:' });
    await writer.write(RECORDS.slice(0, 1));
    await writer.close();
    const deadline = Date.now() + 5000;
    let recovered = await post(url, body);
    while (recovered.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      recovered = await post(url, body);
    }
    expect(recovered.status).toBe(200);
    expect(recovered.body.rows[0].values[0]).toBe(3);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(lines).toContain('serving: the online store answers again; serving features');
  });
});
