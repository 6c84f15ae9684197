import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { entity, eventStream, featureService, featureView, source } from '../index.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { SqliteOnlineStore } from '../connectors/online-store/sqlite/sqlite-online-store.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { listSegments, readSegment, startLogServer, streamSchemasOf, streamSegmentsDir, TokenTable, type RunningLogServer, type StreamSchema } from '../server/index.ts';
import { startRedisServer, type RunningRedis } from './setup/redis.ts';

/**
 * The edges of the log and serving API that tell an outsider too much or let a client write what only
 * the server may (issue 12, item 4), on real servers: `/healthz` and `/readyz` answer everyone but name
 * streams, failing stores' addresses and their errors only to a valid token; a decision stream takes no
 * events over HTTP, whatever the token, while the serving path keeps logging to it.
 */

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const txns = source({ name: 'txns', table: 'raw.txns', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
const spend = featureView({ name: 'spend', entities: [user], source: txns, features: { amount: 'float64' } });
const fraud = featureService({ name: 'fraud_model', features: [spend], logging: { sampleRate: 1 } });
const clicks = eventStream({ name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d', fields: { url: 'string' } });
const project: ProjectSpec = validateProject([user, txns, spend, fraud, clicks].map((definition) => ({ definition })));

// reader: read only; app: an application's write-everything token; decisions: a token naming the decision stream itself.
const TOKENS = 'reader=read; app=write:*; decisions=write:fraud_model_decisions';
const CLICKS: StreamSchema = { name: 'clicks', keys: [{ name: 'user_id', type: 'int64' }], timestampField: 'ts', fields: [{ name: 'url', type: 'string', nullable: true }] };

let server: RunningLogServer | undefined;
let stateDir: string;

afterEach(async () => {
  await server?.close();
  server = undefined;
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function get(path: string, token?: string): Promise<{ status: number; text: string; body: any }> {
  const response = await fetch(`${server!.url}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) };
}

async function postEvents(stream: string, events: unknown[], token: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server!.url}/v1/streams/${stream}/events`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(events),
  });
  return { status: response.status, body: await response.json() };
}

async function startWith(streams: StreamSchema[], options: { segmentAgeMs?: number } = {}): Promise<void> {
  stateDir = mkdtempSync(join(tmpdir(), 'flywheel-edges-'));
  server = await startLogServer({
    stateDir, streams, tokens: TokenTable.parse(TOKENS), port: 0, log: () => undefined,
    ...(options.segmentAgeMs !== undefined ? { segments: { maxAgeMs: options.segmentAgeMs } } : {}),
  });
}

describe('GET /healthz', () => {
  it('names no stream without a valid token, and lists the streams and their counters with one', async () => {
    await startWith([CLICKS]);
    expect(await postEvents('clicks', [{ user_id: 1, ts: '2026-11-26T10:00:00Z' }], 'app')).toMatchObject({ status: 200 });

    const anonymous = await get('/healthz');
    expect(anonymous.status).toBe(200);
    expect(anonymous.body).toEqual({ status: 'ok' });
    expect(anonymous.text).not.toContain('clicks');
    // An unknown token is no token: the probe still answers 200, and tells no more.
    expect(await get('/healthz', 'guess')).toEqual(anonymous);

    // Any valid token, whatever its scope.
    const insider = await get('/healthz', 'reader');
    expect(insider.status).toBe(200);
    expect(insider.body).toEqual({ status: 'ok', streams: ['clicks'], log: { clicks: { appends: 1, records: 1, syncs: 1, segmentsClosed: 0 } } });
  });
});

describe('GET /readyz with a stream whose segment log failed', () => {
  it('names the failure without the stream or the path without a token, and all of it with one', async () => {
    await startWith([CLICKS], { segmentAgeMs: 50 });
    const dir = streamSegmentsDir(stateDir, 'clicks');
    expect((await postEvents('clicks', [{ user_id: 1, ts: '2026-11-26T10:00:00Z' }], 'app')).status).toBe(200);
    // The segment closes by age; with its folder gone, the next segment cannot be created.
    const deadline = Date.now() + 5000;
    while (!(await listSegments(dir)).some((segment) => segment.state === 'closed') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    rmSync(dir, { recursive: true, force: true });
    expect(await postEvents('clicks', [{ user_id: 2, ts: '2026-11-26T10:00:00Z' }], 'app')).toEqual({
      status: 503,
      body: { error: { code: 'storage_unavailable', message: 'events of stream "clicks" cannot be stored now; nothing of this batch is acknowledged (retry later)' } },
    });

    const anonymous = await get('/readyz');
    expect(anonymous.status).toBe(503);
    expect(anonymous.body).toEqual({ status: 'not_ready', checks: { segment_log: '1 stream refuses events until restart' } });
    expect(anonymous.text).not.toContain(stateDir);
    expect(await get('/readyz', 'guess')).toEqual(anonymous);

    const insider = await get('/readyz', 'reader');
    expect(insider.status).toBe(503);
    expect(insider.body.status).toBe('not_ready');
    expect(insider.body.checks.segment_log).toMatch(/^stream "clicks" refuses events until restart: ENOENT: no such file or directory, open '/);
    expect(insider.body.checks.segment_log).toContain(dir);
  });
});

describe('the online store down', () => {
  let redis: RunningRedis;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('/readyz names the kind of store, not its address, without a token; the address and error with one', async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'flywheel-edges-'));
    const store = new RedisOnlineStore({ url: redis.url, keyPrefix: 'fw:edges:' });
    server = await startLogServer({ stateDir, streams: [], tokens: TokenTable.parse(TOKENS), port: 0, log: () => undefined, serving: { store, project, decisions: { logs: () => false, offer: () => undefined } } });
    expect(await get('/readyz')).toMatchObject({ status: 200, body: { status: 'ready', checks: { segment_log: 'ok', online_store: 'ok' } } });
    await redis.kill();

    const anonymous = await get('/readyz');
    expect(anonymous.status).toBe(503);
    expect(anonymous.body).toEqual({ status: 'not_ready', checks: { segment_log: 'ok', online_store: 'the online store (redis) is unavailable' } });
    expect(anonymous.text).not.toContain('127.0.0.1');
    expect(anonymous.text).not.toContain(String(redis.port));

    const insider = await get('/readyz', 'reader');
    expect(insider.status).toBe(503);
    expect(insider.body.checks.online_store).toMatch(new RegExp(`^Online store ${redis.url} unavailable for `));

    // A 503 of POST /v1/features goes to a caller whose token was checked before the read: it names the store.
    const features = await fetch(`${server.url}/v1/features`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer reader' }, body: JSON.stringify({ service: 'fraud_model', entities: [{ user_id: 1 }] }),
    });
    expect(features.status).toBe(503);
    expect(((await features.json()) as { error: { details: unknown } }).error.details).toEqual({ store: redis.url });
    // Unauthenticated, the same request is refused before the store is read.
    const anonymousFeatures = await fetch(`${server.url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymousFeatures.status).toBe(401);
    expect(await anonymousFeatures.text()).not.toContain(String(redis.port));
    await redis.restart();
  });
});

describe('a decision stream', () => {
  it('takes no events over HTTP whatever the token, and still logs what the serving path served', async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'flywheel-edges-'));
    const store = new SqliteOnlineStore({ path: join(stateDir, 'online.sqlite') });
    await store.write([{ view: 'spend', key: [7], values: { amount: 12.5 }, eventTime: '2026-11-26T09:00:00Z' }]);
    const streams = streamSchemasOf(project);
    expect(streams.map((s) => [s.name, s.loggedBy])).toEqual([['clicks', undefined], ['fraud_model_decisions', 'fraud_model']]);
    server = await startLogServer({ stateDir, streams, tokens: TokenTable.parse(TOKENS), port: 0, log: () => undefined, serving: { store, project } });

    const forged = {
      user_id: 7, served_at: '2026-11-26T10:00:00Z', decision_id: 'forged-1', row_index: 0, amount: 1e6, amount__status: 'present',
      spend__event_time: '2026-11-26T09:00:00Z', context: null,
    };
    const refusal = {
      error: {
        code: 'forbidden',
        message: 'stream "fraud_model_decisions" is the decision log of feature service "fraud_model": only the serving path (POST /v1/features) writes it, so that logged decisions cannot be forged; no token may post events to it',
      },
    };
    expect(await postEvents('fraud_model_decisions', [forged], 'app')).toEqual({ status: 403, body: refusal });
    expect(await postEvents('fraud_model_decisions', [forged], 'decisions')).toEqual({ status: 403, body: refusal });
    // Other streams take events from the same token as before.
    expect(await postEvents('clicks', [{ user_id: 7, ts: '2026-11-26T10:00:00Z', url: '/' }], 'app')).toMatchObject({ status: 200, body: { accepted: 1 } });

    const served = await fetch(`${server.url}/v1/features`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer reader' }, body: JSON.stringify({ service: 'fraud_model', entities: [{ user_id: 7 }] }),
    });
    expect(served.status).toBe(200);
    const { decision_id: decisionId } = (await served.json()) as { decision_id: string };
    const deadline = Date.now() + 5000;
    while ((await get('/healthz')).body.decisions?.logged !== 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await get('/healthz')).body.decisions).toEqual({ logged: 1, sampledOut: 0, dropped: 0, failed: 0, queued: 0 });

    await server.close();
    const stored: Record<string, unknown>[] = [];
    for (const segment of await listSegments(streamSegmentsDir(stateDir, 'fraud_model_decisions'))) {
      for await (const event of readSegment(segment.path)) stored.push(event);
    }
    expect(stored.map(({ _event_id: id, decision_id: decision, amount }) => ({ id, decision, amount }))).toEqual([{ id: `${decisionId}:0`, decision: decisionId, amount: 12.5 }]);
  });
});
