import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, eventStream, featureView, source } from '../index.ts';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import type { OnlineStore } from '../connectors/online-store/online-store.ts';
import type { Definition } from '../core/definitions/definition.ts';
import { DefinitionError } from '../core/errors.ts';
import { diffProjects } from '../core/plan/diff.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { pushedViewsOf, startLogServer, streamSchemasOf, TokenTable, type OnlinePushOptions, type RunningLogServer } from '../server/index.ts';

// Pushed features on a real server and a real SQLite online store: what the log API acknowledges
// reaches the store in the background; a store that fails never changes the answer.

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', eventIdField: 'click_id', retention: '90d',
  fields: { click_id: 'string', item_id: 'int64', dwell_ms: { type: 'int64', nullable: true }, page: 'string' },
});
const lastClick = featureView({ name: 'last_click', entities: [user], source: clicks, push: true, features: { item_id: 'int64', dwell_ms: 'int64' } });
const clickPage = featureView({ name: 'click_page', entities: [user], source: clicks, features: { page: 'string' } });

const project = validateProject([user, clicks, lastClick, clickPage].map((definition) => ({ file: 'definitions/clicks.ts', definition })));

let stateDir: string;
let server: RunningLogServer | undefined;
let reader: OnlineStore | undefined;

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'flywheel-push-'));
});
afterEach(async () => {
  await server?.close();
  await reader?.close();
  server = undefined;
  reader = undefined;
  rmSync(stateDir, { recursive: true, force: true });
});

const storePath = () => join(stateDir, 'online.sqlite');
const openStore = () => createOnlineStore({ type: 'sqlite', path: storePath() }, { project: 'push_test' });

async function start(push: Partial<OnlinePushOptions> & { store: OnlineStore }): Promise<RunningLogServer> {
  server = await startLogServer({
    stateDir, streams: streamSchemasOf(project), tokens: TokenTable.parse('tok=write:*'), port: 0, log: () => undefined,
    push: { views: pushedViewsOf(project), ...push },
  });
  return server;
}

async function post(events: unknown[]): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server!.url}/v1/streams/clicks/events`, {
    method: 'POST', headers: { authorization: 'Bearer tok', 'content-type': 'application/json' }, body: JSON.stringify(events),
  });
  return { status: response.status, body: await response.json() };
}

async function healthz(): Promise<any> {
  return (await fetch(`${server!.url}/healthz`)).json();
}

/** Polls every 20 ms for up to 2 s until `check` returns something, then returns it. */
async function eventually<T>(check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const result = await check();
    if (result !== undefined) return result;
    if (Date.now() > deadline) throw new Error('not reached within 2 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const click = (userId: number, ts: string, itemId: number, dwellMs: number | null, id: string) => ({ user_id: userId, ts, click_id: id, item_id: itemId, dwell_ms: dwellMs, page: '/p' });

describe('pushed features', () => {
  it('lists the pushed views with their keys, timestamp and features', () => {
    expect(pushedViewsOf(project)).toEqual([
      { view: 'last_click', stream: 'clicks', keys: [{ name: 'user_id', type: 'int64' }], timestampField: 'ts', features: ['item_id', 'dwell_ms'] },
    ]);
  });

  it('writes the newest event per key of each batch; an older event of a later batch does not replace it', async () => {
    await start({ store: await openStore() });
    const first = await post([
      click(1, '2026-11-26T10:00:01Z', 5, null, 'c1'),
      click(1, '2026-11-26T12:00:05.250+02:00', 7, 300, 'c2'), // 10:00:05.250Z: the newest of user 1
      click(2, '2026-11-26T09:00:00Z', 11, 20, 'c3'),
    ]);
    expect(first).toEqual({ status: 200, body: { accepted: 3, duplicates: 0, ids: ['c1', 'c2', 'c3'] } });
    // Out of order: user 1's event of 10:00:03 arrives after the one of 10:00:05.250; user 3 shows the batch was written.
    const second = await post([click(1, '2026-11-26T10:00:03Z', 9, 50, 'c4'), click(3, '2026-11-26T08:00:00.123456Z', 13, null, 'c5')]);
    expect(second).toEqual({ status: 200, body: { accepted: 2, duplicates: 0, ids: ['c4', 'c5'] } });

    reader = await openStore();
    const now = new Date('2026-11-27T00:00:00Z');
    const keys = [[1], [2], [3]];
    const values = await eventually(async () => {
      const read = await reader!.read(keys.map((key) => ({ view: 'last_click', key, ttlSeconds: null })), now);
      return read.every((v) => v.status === 'present') ? read : undefined;
    });
    expect(values.map(({ status, view, key, values: v, eventTime }) => ({ status, view, key, values: v, eventTime }))).toEqual([
      { status: 'present', view: 'last_click', key: [1], values: { item_id: 7, dwell_ms: 300 }, eventTime: '2026-11-26T10:00:05.250Z' },
      { status: 'present', view: 'last_click', key: [2], values: { item_id: 11, dwell_ms: 20 }, eventTime: '2026-11-26T09:00:00.000Z' },
      { status: 'present', view: 'last_click', key: [3], values: { item_id: 13, dwell_ms: null }, eventTime: '2026-11-26T08:00:00.123456Z' },
    ]);
    // The view that is not pushed gets nothing (materialization fills it).
    const plain = await reader.read(keys.map((key) => ({ view: 'click_page', key, ttlSeconds: null })), now);
    expect(plain.map((v) => v.status)).toEqual(['missing', 'missing', 'missing']);
    // c1 lost to c2 within its batch (never written); c4 was skipped as older by the store.
    expect((await healthz()).push).toEqual({ written: 3, dropped: 0, failed: 0 });
  });

  it('answers as usual when the online store fails, and counts the records it could not write', async () => {
    const store = await openStore();
    await start({ store });
    await store.close();
    const answer = await post([click(1, '2026-11-26T10:00:00Z', 5, 1, 'c1'), click(2, '2026-11-26T10:00:00Z', 6, 2, 'c2')]);
    expect(answer).toEqual({ status: 200, body: { accepted: 2, duplicates: 0, ids: ['c1', 'c2'] } });
    const counters = await eventually(async () => {
      const { push } = await healthz();
      return push.failed > 0 ? push : undefined;
    });
    expect(counters).toEqual({ written: 0, dropped: 0, failed: 2 });
    expect((await healthz()).status).toBe('ok');
  });

  it('drops and counts a batch that does not fit in the queue', async () => {
    await start({ store: await openStore(), maxQueuedRecords: 1 });
    const answer = await post([click(1, '2026-11-26T10:00:00Z', 5, 1, 'c1'), click(2, '2026-11-26T10:00:00Z', 6, 2, 'c2')]);
    expect(answer.status).toBe(200);
    expect((await healthz()).push).toEqual({ written: 0, dropped: 2, failed: 0 });
    expect(await post([click(3, '2026-11-26T10:00:00Z', 7, 3, 'c3')])).toMatchObject({ status: 200 });
    expect(await eventually(async () => {
      const { push } = await healthz();
      return push.written === 1 ? push : undefined;
    })).toEqual({ written: 1, dropped: 2, failed: 0 });
  });

  it('shows no push counters when the server pushes nothing', async () => {
    server = await startLogServer({ stateDir, streams: streamSchemasOf(project), tokens: TokenTable.parse('tok=write:*'), port: 0, log: () => undefined });
    expect(await healthz()).not.toHaveProperty('push');
  });
});

describe('push: validation', () => {
  const txns = source({ name: 'txns', table: 'raw.txns', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', amount: 'float64' } });
  const fromTable = eventStream({
    name: 'app_clicks', entities: [user], timestampField: 'ts', fields: { item_id: 'int64' }, retention: '90d',
    from: { table: 'raw.app_clicks', watermark: 'ts', lookback: '1h' },
  });
  const issuesOf = (...definitions: Definition[]) => {
    try {
      validateProject(definitions.map((definition) => ({ file: 'definitions/f.ts', definition })));
    } catch (error) {
      expect(error).toBeInstanceOf(DefinitionError);
      return (error as DefinitionError).issues.map((i) => `${i.file}, ${i.kind} "${i.object}", field "${i.field}": ${i.message}`);
    }
    throw new Error('expected validation to fail');
  };

  it('keeps push: true in the spec and leaves it out when false, so older specs diff the same', () => {
    const pushed = project.featureViews.last_click!;
    expect(pushed.push).toBe(true);
    expect(project.featureViews.click_page).not.toHaveProperty('push');
    const explicitFalse = validateProject([user, clicks, featureView({ name: 'click_page', entities: [user], source: clicks, push: false, features: { page: 'string' } })].map((definition) => ({ definition })));
    expect(explicitFalse.featureViews.click_page).toEqual(project.featureViews.click_page);
  });

  it('is a plain, non-breaking field change in a plan', () => {
    const before = validateProject([user, clicks, featureView({ name: 'last_click', entities: [user], source: clicks, features: { item_id: 'int64', dwell_ms: 'int64' } })].map((definition) => ({ definition })));
    const after = validateProject([user, clicks, lastClick].map((definition) => ({ definition })));
    expect(diffProjects(before, after)).toEqual([
      { action: 'change', kind: 'featureView', name: 'last_click', fields: [{ path: 'push', after: true, breaking: false }], breaking: false, reasons: [] },
    ]);
  });

  it('needs an event stream that takes events over HTTP', () => {
    expect(issuesOf(user, txns, fromTable,
      featureView({ name: 'spend', entities: [user], source: txns, push: true, features: { amount: 'float64' } }),
      featureView({ name: 'app_last', entities: [user], source: fromTable, push: true, features: { item_id: 'int64' } }),
    )).toEqual([
      'definitions/f.ts, featureView "spend", field "push": a pushed view reads an event stream, and source "txns" is not one',
      'definitions/f.ts, featureView "app_last", field "push": event stream "app_clicks" loads its events from table "raw.app_clicks", so none arrive through the log API to push',
    ]);
  });

  it('needs online, plain features, no transformation and no aggregations', () => {
    expect(issuesOf(user, clicks,
      featureView({ name: 'offline_only', entities: [user], source: clicks, push: true, online: false, features: { item_id: 'int64' } }),
      featureView({ name: 'transformed', entities: [user], source: clicks, push: true, transformation: 'SELECT * FROM {{source}}', features: { item_id: 'int64' } }),
      featureView({ name: 'windows', entities: [user], source: clicks, push: true, aggregations: [{ function: 'count', windows: ['1h'] }] }),
      featureView({ name: 'not_bool', entities: [user], source: clicks, push: 'yes' as never, features: { item_id: 'int64' } }),
    )).toEqual([
      'definitions/f.ts, featureView "offline_only", field "online": a pushed view is written to the online store, so it cannot be online: false',
      'definitions/f.ts, featureView "transformed", field "transformation": a pushed view takes no transformation: its features are fields of the stream\'s events, written as they arrive',
      'definitions/f.ts, featureView "windows", field "aggregations": a pushed view takes no aggregations: it holds the latest event\'s fields (aggregate them in a view that is not pushed)',
      'definitions/f.ts, featureView "not_bool", field "push": expected true or false',
    ]);
  });
});
