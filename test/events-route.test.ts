import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainEventsRequest } from '../server/events-route.ts';
import { startLogServer, TokenTable, type RunningLogServer, type StreamSchema } from '../server/index.ts';

// POST /v1/streams/:stream/events is taken on Node's request before the Hono app (server/events-route.ts)
// for plain URLs; any other URL goes to the app. A percent-escaped stream name, or a query with another
// parameter, reaches the app's route for the same stream and `ids`: so each request below is sent both
// ways to one real server and must get the same status, headers that matter and body.

const STREAMS: StreamSchema[] = [
  { name: 'clicks', keys: [{ name: 'user_id', type: 'int64' }], timestampField: 'ts', fields: [{ name: 'n', type: 'int32', nullable: false }] },
];

describe('plainEventsRequest', () => {
  it('takes the stream and ids of plain URLs only', () => {
    expect(plainEventsRequest('/v1/streams/clicks/events')).toEqual({ stream: 'clicks', ids: undefined });
    expect(plainEventsRequest('/v1/streams/clicks/events?ids=false')).toEqual({ stream: 'clicks', ids: 'false' });
    expect(plainEventsRequest('/v1/streams/clicks/events?ids=0')).toEqual({ stream: 'clicks', ids: '0' });
    expect(plainEventsRequest('/v1/streams/clicks/events?ids=')).toEqual({ stream: 'clicks', ids: '' });
    expect(plainEventsRequest('/v1/streams/a_b-c.d/events')).toEqual({ stream: 'a_b-c.d', ids: undefined });
    // The app's to answer: its routing and decoding decide.
    for (const url of [
      '/v1/streams/cl%69cks/events', '/v1/streams/clicks/events/', '/v1/streams//events', '/v1/streams/a/b/events',
      '/v1/streams/clicks/eventsx', '/v1/streams/clicks/events?ids=false&x=1', '/v1/streams/clicks/events?x=1',
      '/v1/streams/clicks/events?ids=%66alse', '/v1/streams/clicks/events#x', '/v1/streams/clicks', '/v1/features', '/v1/streams/clicks/event',
    ]) {
      expect(plainEventsRequest(url), url).toBeUndefined();
    }
  });
});

describe('the events route before the app', () => {
  let stateDir: string;
  let server: RunningLogServer;
  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'flywheel-events-route-'));
    server = await startLogServer({
      stateDir, streams: STREAMS, tokens: TokenTable.parse('w=write:clicks; r=read'), port: 0,
      limits: { maxBodyBytes: 1000, maxBatchEvents: 3 }, log: () => undefined,
    });
  });
  afterAll(async () => {
    await server.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  interface Sent {
    readonly stream?: string;
    readonly query?: string;
    readonly token?: string | null;
    readonly type?: string;
    readonly body: string;
  }
  /** The request by the plain URL (the route before the app) and by an escaped one (the app); both answers. */
  async function bothWays(sent: Sent): Promise<[Answer, Answer]> {
    const stream = sent.stream ?? 'clicks';
    const escaped = stream.replace(/^./, (c) => `%${c.charCodeAt(0).toString(16)}`);
    const plain = await send(`/v1/streams/${stream}/events${sent.query !== undefined ? `?${sent.query}` : ''}`, sent);
    const viaApp = await send(`/v1/streams/${escaped}/events?${sent.query !== undefined ? `${sent.query}&` : ''}other=1`, sent);
    return [plain, viaApp];
  }
  interface Answer {
    readonly status: number;
    readonly type: string | null;
    readonly authenticate: string | null;
    readonly length: string | null;
    readonly body: string;
  }
  async function send(path: string, sent: Sent): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': sent.type ?? 'application/json' };
    if (sent.token !== null) headers.authorization = `Bearer ${sent.token ?? 'w'}`;
    const response = await fetch(server.url + path, { method: 'POST', headers, body: sent.body });
    const body = await response.text();
    return { status: response.status, type: response.headers.get('content-type'), authenticate: response.headers.get('www-authenticate'), length: response.headers.get('content-length'), body };
  }
  const event = (i: number) => ({ user_id: i, ts: '2026-11-26T10:00:00Z', n: i });
  const missingToken = '{"error":{"code":"unauthorized","message":"missing bearer token; send Authorization: Bearer <token>"}}';

  it('answers a stored batch, and every refusal, as the app does', async () => {
    const cases: [Sent, number, string][] = [
      [{ query: 'ids=false', body: JSON.stringify([event(1), event(2)]) }, 200, '{"accepted":2,"duplicates":0}'],
      [{ query: 'ids=0', type: 'application/x-ndjson', body: `${JSON.stringify(event(3))}\n` }, 200, '{"accepted":1,"duplicates":0}'],
      [{ token: null, body: '[]' }, 401, missingToken],
      [{ token: 'nope', body: '[]' }, 401, '{"error":{"code":"unauthorized","message":"unknown token"}}'],
      [{ token: 'r', body: '[]' }, 403, '{"error":{"code":"forbidden","message":"this token may not write to stream \\"clicks\\""}}'],
      [{ stream: 'views', token: 'w', body: '[]' }, 403, '{"error":{"code":"forbidden","message":"this token may not write to stream \\"views\\""}}'],
      [{ query: 'ids=maybe', body: '[]' }, 400, '{"error":{"code":"bad_query","message":"ids must be true or false, got \\"maybe\\""}}'],
      [{ type: 'text/plain', body: '[]' }, 415, '{"error":{"code":"unsupported_media_type","message":"Content-Type must be application/json (an array of events) or application/x-ndjson (one event per line), got \\"text/plain\\""}}'],
      [{ body: '[{"user_id":1,' }, 400, '{"error":{"code":"malformed_json","message":"malformed JSON at line 1, column 15: unexpected end of input (inside an unclosed object)","details":{"line":1,"column":15}}}'],
      [{ body: JSON.stringify([event(1), { ...event(2), n: 'x' }]) }, 400, '{"error":{"code":"invalid_events","message":"1 of 2 events are invalid (1 problem); nothing was stored","details":[{"index":1,"field":"n","message":"expected int32 (a whole number), got string \\"x\\""}]}}'],
      [{ body: JSON.stringify([event(1), event(2), event(3), event(4)]) }, 413, '{"error":{"code":"batch_too_large","message":"the batch has 4 events; at most 3 are taken per request — split it","details":{"limit":3}}}'],
      [{ body: `[${' '.repeat(1000)}]` }, 413, '{"error":{"code":"body_too_large","message":"the body is 1002 bytes; at most 1000 bytes are taken per request — send smaller batches","details":{"limit":1000}}}'],
    ];
    for (const [sent, status, body] of cases) {
      const [plain, viaApp] = await bothWays(sent);
      const what = JSON.stringify(sent).slice(0, 120);
      expect(plain, what).toEqual(viaApp);
      expect(plain.status, what).toBe(status);
      expect(plain.body, what).toBe(body);
      expect(plain.type, what).toBe('application/json');
      expect(plain.length, what).toBe(String(Buffer.byteLength(body)));
      expect(plain.authenticate, what).toBe(status === 401 ? 'Bearer realm="flywheel"' : null);
    }
  });

  it('answers an unknown stream as the app does, and counts its requests under the route in /metrics', async () => {
    const [plain, viaApp] = await bothWays({ stream: 'nope', token: 'w', body: '[]' });
    // The token's scope is checked first: a writer of clicks only is refused a stream it may not write.
    expect(plain).toEqual(viaApp);
    expect(plain.status).toBe(403);
    const admin = await startLogServer({ stateDir: mkdtempSync(join(tmpdir(), 'flywheel-events-route-')), streams: STREAMS, tokens: TokenTable.parse('all=write:*'), port: 0, log: () => undefined });
    try {
      const post = (path: string) => fetch(admin.url + path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer all' }, body: '[]' });
      const unknown = await post('/v1/streams/nope/events');
      expect(unknown.status).toBe(404);
      expect(await unknown.text()).toBe('{"error":{"code":"unknown_stream","message":"no event stream \\"nope\\"; the streams are clicks"}}');
      const viaAppUnknown = await post('/v1/streams/%6eope/events');
      expect(viaAppUnknown.status).toBe(404);
      expect((await post('/v1/streams/clicks/events')).status).toBe(200);
      const metrics = await (await fetch(`${admin.url}/metrics`)).text();
      // Two answered before the app (one 404, one 200), one by the app (404): all under the route's pattern.
      expect(metrics).toContain('flywheel_http_requests_total{route="/v1/streams/:stream/events",method="POST",status="404"} 2');
      expect(metrics).toContain('flywheel_http_requests_total{route="/v1/streams/:stream/events",method="POST",status="200"} 1');
    } finally {
      await admin.close();
    }
  });
});
