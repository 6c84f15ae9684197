import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listSegments, readSegment, readSegmentPayloads, startLogServer, streamSegmentsDir, TokenTable, type RunningLogServer, type StreamSchema } from '../server/index.ts';

// The log API on a real server (127.0.0.1, a free port) writing real segment files. Every refusal is
// checked with its exact body.

const STREAMS: StreamSchema[] = [
  {
    name: 'clicks',
    keys: [{ name: 'user_id', type: 'int64' }],
    timestampField: 'ts',
    fields: [
      { name: 'url', type: 'string', nullable: true },
      { name: 'n', type: 'int32', nullable: false },
    ],
  },
  {
    name: 'orders',
    keys: [{ name: 'user_id', type: 'int64' }],
    timestampField: 'ts',
    eventIdField: 'order_id',
    fields: [
      { name: 'order_id', type: 'string', nullable: false },
      { name: 'amount', type: 'float64', nullable: false },
    ],
  },
  {
    name: 'typed',
    keys: [
      { name: 'user_id', type: 'int64' },
      { name: 'shard', type: 'int32' },
    ],
    timestampField: 'ts',
    fields: [
      { name: 'i32', type: 'int32', nullable: true },
      { name: 'i64', type: 'int64', nullable: true },
      { name: 'f32', type: 'float32', nullable: true },
      { name: 'f64', type: 'float64', nullable: true },
      { name: 's', type: 'string', nullable: true },
      { name: 'b', type: 'bool', nullable: true },
      { name: 't', type: 'timestamp', nullable: true },
      { name: 'd', type: 'date', nullable: true },
    ],
  },
];

const MAX_BODY = 64 * 1024;
const MAX_BATCH = 50;

let stateDir: string;
let server: RunningLogServer | undefined;

beforeEach(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'flywheel-log-api-'));
  server = await startLogServer({
    stateDir,
    streams: STREAMS,
    tokens: TokenTable.parse('tokA=write:clicks,write:orders; tokB=write:*; tokC=read'),
    port: 0,
    limits: { maxBodyBytes: MAX_BODY, maxBatchEvents: MAX_BATCH },
    log: () => undefined,
  });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(stateDir, { recursive: true, force: true });
});

interface Answer {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
}

async function post(stream: string, body: string, options: { token?: string | null; type?: string; query?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': options.type ?? 'application/json' };
  const token = options.token === undefined ? 'tokB' : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${server!.url}/v1/streams/${stream}/events${options.query ?? ''}`, { method: 'POST', headers, body });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

const json = (events: unknown[]) => JSON.stringify(events);
const click = (i: number, extra: object = {}) => ({ user_id: i, ts: '2026-11-26T10:00:00Z', n: i, ...extra });
const error = (code: string, message: string, details?: unknown) => ({ error: { code, message, ...(details !== undefined ? { details } : {}) } });

/** Every stored event of a stream, read from its segments once the server has closed them. */
async function stored(stream: string): Promise<Record<string, unknown>[]> {
  await server!.close();
  const events: Record<string, unknown>[] = [];
  for (const segment of await listSegments(streamSegmentsDir(stateDir, stream))) {
    expect(segment.state).toBe('closed');
    for await (const event of readSegment(segment.path)) events.push(event);
  }
  return events;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('POST /v1/streams/:stream/events', () => {
  it('stores a JSON array and returns the ids in order: assigned UUIDv7s and the client\'s own', async () => {
    const answer = await post('clicks', json([click(1), click(2, { _event_id: 'client-2', url: null }), click(3, { url: '/a' })]));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ accepted: 3, duplicates: 0, ids: [expect.stringMatching(UUID_V7), 'client-2', expect.stringMatching(UUID_V7)] });
    const [id1, , id3] = answer.body.ids as string[];
    expect(id1! < id3!).toBe(true); // UUIDv7s sort in the order they were assigned

    const events = await stored('clicks');
    expect(events).toEqual([
      { user_id: 1, ts: '2026-11-26T10:00:00.000Z', n: 1, _event_id: id1, _received_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/) },
      { user_id: 2, ts: '2026-11-26T10:00:00.000Z', n: 2, url: null, _event_id: 'client-2', _received_at: events[0]!._received_at },
      { user_id: 3, ts: '2026-11-26T10:00:00.000Z', n: 3, url: '/a', _event_id: id3, _received_at: events[0]!._received_at },
    ]);
  });

  it('stores NDJSON, skipping blank lines and taking \\r\\n', async () => {
    const body = `${JSON.stringify(click(1))}\r\n\n  \n${JSON.stringify(click(2, { _event_id: 'x' }))}\n`;
    const answer = await post('clicks', body, { type: 'application/x-ndjson; charset=utf-8' });
    expect(answer.body).toEqual({ accepted: 2, duplicates: 0, ids: [expect.stringMatching(UUID_V7), 'x'] });
    expect((await stored('clicks')).map((e) => e.user_id)).toEqual([1, 2]);
  });

  it('leaves the ids out with ?ids=false', async () => {
    const answer = await post('clicks', json([click(1), click(2)]), { query: '?ids=false' });
    expect(answer.body).toEqual({ accepted: 2, duplicates: 0 });
  });

  it("takes a stream's ids from its eventIdField, ignoring a client's _event_id", async () => {
    const order = (id: string) => ({ user_id: 1, ts: 1764151200000, order_id: id, amount: 9.5, _event_id: `client-${id}` });
    const answer = await post('orders', json([order('o-1'), order('o-2')]));
    expect(answer.body).toEqual({ accepted: 2, duplicates: 0, ids: ['o-1', 'o-2'] });
    expect(await stored('orders')).toEqual([
      { user_id: 1, ts: '2025-11-26T10:00:00.000Z', order_id: 'o-1', amount: 9.5, _event_id: 'o-1', _received_at: expect.any(String) },
      { user_id: 1, ts: '2025-11-26T10:00:00.000Z', order_id: 'o-2', amount: 9.5, _event_id: 'o-2', _received_at: expect.any(String) },
    ]);
  });

  it('stores an id sent twice once, within a batch, across batches and across concurrent batches', async () => {
    const first = await post('clicks', json([click(1, { _event_id: 'a' }), click(2, { _event_id: 'b' }), click(1, { _event_id: 'a' })]));
    expect(first.body).toEqual({ accepted: 3, duplicates: 1, ids: ['a', 'b', 'a'] });
    const again = await post('clicks', json([click(2, { _event_id: 'b' }), click(3, { _event_id: 'c' })]));
    expect(again.body).toEqual({ accepted: 2, duplicates: 1, ids: ['b', 'c'] });
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => post('clicks', json([click(4, { _event_id: 'd' })]))));
    expect(concurrent.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(concurrent.reduce((sum, a) => sum + (a.body.duplicates as number), 0)).toBe(9);
    expect((await stored('clicks')).map((e) => e._event_id)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('remembers stored ids across a restart', async () => {
    await post('clicks', json([click(1, { _event_id: 'a' })]));
    await server!.close();
    server = await startLogServer({ stateDir, streams: STREAMS, tokens: TokenTable.parse('tokB=write:*'), port: 0, log: () => undefined });
    const again = await post('clicks', json([click(1, { _event_id: 'a' }), click(2, { _event_id: 'b' })]));
    expect(again.body).toEqual({ accepted: 2, duplicates: 1, ids: ['a', 'b'] });
    expect((await stored('clicks')).map((e) => e._event_id)).toEqual(['a', 'b']);
  });

  it('stores pretty-printed events, repeated keys, escapes and non-ASCII text as the same JSON values, one line each', async () => {
    const body = [
      '[\n  {\n    "user_id": 1,\n    "ts": "2026-11-26T10:00:00Z",\n    "n": 1\n  },',
      '  {"user_id":2,"ts":"2026-11-26T10:00:00.000Z","n":2,"n":3},',
      '  {"user_id":3,"ts":"2026-11-26T10:00:00.000Z","n":4,"url":"h\u00e9llo \\"q\\" }, back\\\\" }  ,',
      '  {"user_id":4,"ts":"2026-11-26T10:00:00.000Z","n":5,"url":"日本"}',
      ']',
    ].join('\n');
    expect((await post('clicks', body)).body).toMatchObject({ accepted: 4 });
    const events = await stored('clicks');
    expect(events.map(({ _event_id: _id, _received_at: _at, ...rest }) => rest)).toEqual([
      { user_id: 1, ts: '2026-11-26T10:00:00.000Z', n: 1 },
      { user_id: 2, ts: '2026-11-26T10:00:00.000Z', n: 3 },
      { user_id: 3, ts: '2026-11-26T10:00:00.000Z', n: 4, url: 'héllo "q" }, back\\' },
      { user_id: 4, ts: '2026-11-26T10:00:00.000Z', n: 5, url: '日本' },
    ]);
    const [segment] = await listSegments(streamSegmentsDir(stateDir, 'clicks'));
    const payloads: string[] = [];
    for await (const payload of readSegmentPayloads(segment!.path)) payloads.push(payload.toString('utf8'));
    expect(payloads.every((p) => !p.includes('\n'))).toBe(true);
    expect(payloads[1]).not.toContain('"n":2'); // a key written twice is stored once, with the value JSON.parse keeps
    expect(payloads[2]).toMatch(/^\{"user_id":3,.*\}$/);
  });

  it('normalizes every type', async () => {
    const event = {
      user_id: '9007199254740993',
      shard: -2147483648,
      ts: '2026-03-29T01:30:00.123456789+02:00',
      i32: 2147483647,
      i64: -42,
      f32: 1.5,
      f64: 1e300,
      s: 'héllo',
      b: false,
      t: 0,
      d: '2024-02-29',
    };
    expect((await post('typed', json([event, { user_id: 7, shard: 1, ts: '2026-11-26 10:00Z', i64: '123' }]))).status).toBe(200);
    expect(await stored('typed')).toEqual([
      { ...event, user_id: '9007199254740993', ts: '2026-03-28T23:30:00.123456Z', t: '1970-01-01T00:00:00.000Z', _event_id: expect.any(String), _received_at: expect.any(String) },
      { user_id: 7, shard: 1, ts: '2026-11-26T10:00:00.000Z', i64: 123, _event_id: expect.any(String), _received_at: expect.any(String) },
    ]);
  });
});

describe('refusals', () => {
  it('malformed JSON names the line and column', async () => {
    const answer = await post('clicks', '[\n  {"user_id": 1,\n   "ts": tru}\n]');
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(error('malformed_json', 'malformed JSON at line 3, column 10: bad literal; expected true, false or null', { line: 3, column: 10 }));
    expect((await post('clicks', '[{"user_id": 1,}]')).body).toEqual(
      error('malformed_json', 'malformed JSON at line 1, column 16: expected a double-quoted property name, found \'}\'', { line: 1, column: 16 }),
    );
    expect((await post('clicks', '[{"user_id": 1}')).body).toEqual(error('malformed_json', 'malformed JSON at line 1, column 16: unexpected end of input (inside an unclosed array)', { line: 1, column: 16 }));
    expect((await post('clicks', '')).body).toEqual(error('malformed_json', 'malformed JSON at line 1, column 1: unexpected end of input', { line: 1, column: 1 }));
  });

  it('malformed NDJSON names the line', async () => {
    const body = `${JSON.stringify(click(1))}\n\n{"user_id": 2, "ts": "2026-11-26T10:00:00Z" "n": 1}\n`;
    const answer = await post('clicks', body, { type: 'application/x-ndjson' });
    expect(answer.body).toEqual(error('malformed_json', "malformed NDJSON at line 3, column 45: expected ',' or '}', found '\"'", { line: 3, column: 45 }));
    expect(await stored('clicks')).toEqual([]);
  });

  it('a body that is not an array', async () => {
    expect((await post('clicks', JSON.stringify(click(1)))).body).toEqual(error('not_a_batch', 'the body must be a JSON array of events, got an object (wrap a single event in [ ])'));
    expect((await post('clicks', '42')).body).toEqual(error('not_a_batch', 'the body must be a JSON array of events, got a number'));
  });

  it('wrong types, missing keys, nulls, unknown fields and naive timestamps, each with index and field; nothing of the batch is stored', async () => {
    const answer = await post(
      'typed',
      json([
        { user_id: 1, shard: 1, ts: '2026-11-26T10:00:00Z' }, // valid, but its batch is refused
        { user_id: 1.5, shard: 2147483648, ts: '2026-11-26T10:00:00' },
        { user_id: '<2^53 + 1>', shard: null, ts: '2026-11-26', colour: 'red' },
        { shard: 1, ts: '2026-02-30T10:00:00Z', i32: '5', i64: 'x', f32: 1e39, f64: '1', s: 5, b: 'true', t: 1.5, d: '2026-13-01' },
        'not an event',
        { user_id: 1, shard: 1, ts: 'yesterday', _received_at: 'now', _event_id: '' },
      ]).replace('"<2^53 + 1>"', '9007199254740993'), // a number JSON.parse cannot hold exactly
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual(
      error('invalid_events', '5 of 6 events are invalid (21 problems); nothing was stored', [
        { index: 1, field: 'user_id', message: 'expected int64 (a whole number), got number 1.5' },
        { index: 1, field: 'shard', message: '2147483648 is outside the int32 range (-2147483648 to 2147483647)' },
        { index: 1, field: 'ts', message: '"2026-11-26T10:00:00" has no time zone, so it is ambiguous; add Z (UTC) or an offset such as +02:00, or send epoch milliseconds' },
        { index: 2, field: 'user_id', message: '9007199254740992 is beyond ±2^53, where JSON numbers lose digits; send an int64 this large as a string of digits' },
        { index: 2, field: 'shard', message: 'key must not be null' },
        { index: 2, field: 'ts', message: '"2026-11-26" is a date, not an instant; send e.g. 2026-11-26T00:00:00Z' },
        { index: 2, field: 'colour', message: 'unknown field; stream "typed" has user_id, shard, ts, i32, i64, f32, f64, s, b, t, d' },
        { index: 3, field: 'ts', message: '"2026-02-30T10:00:00Z" is not a valid date and time' },
        { index: 3, field: 'i32', message: 'expected int32 (a whole number), got string "5"' },
        { index: 3, field: 'i64', message: 'expected int64 (a whole number, or a string of digits), got string "x"' },
        { index: 3, field: 'f32', message: '1e+39 is outside the float32 range' },
        { index: 3, field: 'f64', message: 'expected float64 (a number), got string "1"' },
        { index: 3, field: 's', message: 'expected string, got number 5' },
        { index: 3, field: 'b', message: 'expected bool (true or false), got string "true"' },
        { index: 3, field: 't', message: '1.5 is not a whole number of epoch milliseconds' },
        { index: 3, field: 'd', message: '"2026-13-01" is not a valid date' },
        { index: 3, field: 'user_id', message: 'required key is missing (int64)' },
        { index: 4, field: null, message: 'an event must be a JSON object, got string "not an event"' },
        { index: 5, field: 'ts', message: '"yesterday" is not an ISO-8601 timestamp (e.g. 2024-05-01T10:00:00Z or 2024-05-01T12:00:00+02:00) or epoch milliseconds' },
        { index: 5, field: '_received_at', message: '_received_at is set by the server' },
        { index: 5, field: '_event_id', message: 'expected a non-empty string of at most 128 characters, got string ""' },
      ]),
    );
    expect(await stored('typed')).toEqual([]);
  });

  it("an _event_id that cannot be an id, a missing timestamp and a null in a non-nullable field", async () => {
    const answer = await post('clicks', json([{ user_id: 1, n: null, _event_id: 7 }]));
    expect(answer.body).toEqual(
      error('invalid_events', '1 of 1 events are invalid (3 problems); nothing was stored', [
        { index: 0, field: 'n', message: 'field must not be null' },
        { index: 0, field: '_event_id', message: 'expected a non-empty string of at most 128 characters, got number 7' },
        { index: 0, field: 'ts', message: 'required timestamp is missing (timestamp)' },
      ]),
    );
  });

  it('lists NDJSON problems with their line', async () => {
    const body = `${JSON.stringify(click(1))}\n\n${JSON.stringify(click(2, { n: 'x' }))}\n`;
    expect((await post('clicks', body, { type: 'application/x-ndjson' })).body).toEqual(
      error('invalid_events', '1 of 2 events are invalid (1 problem); nothing was stored', [{ index: 1, field: 'n', message: 'expected int32 (a whole number), got string "x"', line: 3 }]),
    );
  });

  it('lists at most 100 problems and says how many more there are', async () => {
    const bad = Array.from({ length: MAX_BATCH }, () => ({ user_id: 'x', n: 'y', colour: 1 })); // 4 problems each: 200
    const answer = await post('clicks', json(bad));
    expect(answer.body.error.message).toBe('50 of 50 events are invalid (200 problems); nothing was stored; the first 100 are listed, 100 more are not');
    expect(answer.body.error.details).toHaveLength(100);
    expect(answer.body.error.details[99]).toEqual({ index: 24, field: 'ts', message: 'required timestamp is missing (timestamp)' });
  });

  it('an unknown stream', async () => {
    const answer = await post('nope', json([click(1)]));
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual(error('unknown_stream', 'no event stream "nope"; the streams are clicks, orders, typed'));
  });

  it('a body over the size limit, by Content-Length and by counting a chunked body', async () => {
    const big = json(Array.from({ length: 40 }, (_, i) => click(i, { url: 'x'.repeat(2000) })));
    expect(big.length).toBeGreaterThan(MAX_BODY);
    const answer = await post('clicks', big);
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual(error('body_too_large', `the body is ${big.length} bytes; at most ${MAX_BODY} bytes are taken per request — send smaller batches`, { limit: MAX_BODY }));

    // No Content-Length: the server counts while reading and stops at the limit.
    const chunked = await new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const req = httpRequest(`${server!.url}/v1/streams/clicks/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tokB', 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      for (let i = 0; i < big.length; i += 8192) req.write(big.slice(i, i + 8192));
      req.end();
    });
    expect(chunked).toEqual({ status: 413, body: error('body_too_large', `the body is larger than the limit; at most ${MAX_BODY} bytes are taken per request — send smaller batches`, { limit: MAX_BODY }) });
    expect(await stored('clicks')).toEqual([]);
  });

  it('more events than a batch may hold, as JSON and as NDJSON', async () => {
    const events = Array.from({ length: MAX_BATCH + 1 }, (_, i) => click(i));
    const answer = await post('clicks', json(events));
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual(error('batch_too_large', `the batch has ${MAX_BATCH + 1} events; at most ${MAX_BATCH} are taken per request — split it`, { limit: MAX_BATCH }));
    const ndjson = await post('clicks', events.map((e) => JSON.stringify(e)).join('\n'), { type: 'application/x-ndjson' });
    expect(ndjson.status).toBe(413);
    expect(ndjson.body).toEqual(error('batch_too_large', `the batch has more than ${MAX_BATCH} events; at most ${MAX_BATCH} are taken per request — split it`, { limit: MAX_BATCH }));
  });

  it('no token, an unknown token, a token without the scope', async () => {
    const none = await post('clicks', json([click(1)]), { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="flywheel"');
    expect(none.body).toEqual(error('unauthorized', 'missing bearer token; send Authorization: Bearer <token>'));
    const unknown = await post('clicks', json([click(1)]), { token: 'tokZ' });
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(error('unauthorized', 'unknown token'));
    const scoped = await post('typed', json([click(1)]), { token: 'tokA' });
    expect(scoped.status).toBe(403);
    expect(scoped.body).toEqual(error('forbidden', 'this token may not write to stream "typed"'));
    const readOnly = await post('clicks', json([click(1)]), { token: 'tokC' });
    expect(readOnly.status).toBe(403);
    expect(readOnly.body).toEqual(error('forbidden', 'this token may not write to stream "clicks"'));
    // The token is checked before the stream is looked up: a token cannot probe for stream names.
    expect((await post('nope', '[]', { token: 'tokA' })).status).toBe(403);
    expect((await post('nope', '[]', { token: null })).status).toBe(401);
  });

  it('an unsupported Content-Type, a bad query, an unknown route', async () => {
    const answer = await post('clicks', json([click(1)]), { type: 'text/plain' });
    expect(answer.status).toBe(415);
    expect(answer.body).toEqual(
      error('unsupported_media_type', 'Content-Type must be application/json (an array of events) or application/x-ndjson (one event per line), got "text/plain"'),
    );
    const query = await post('clicks', json([click(1)]), { query: '?ids=maybe' });
    expect(query.status).toBe(400);
    expect(query.body).toEqual(error('bad_query', 'ids must be true or false, got "maybe"'));
    const route = await fetch(`${server!.url}/v1/streams/clicks`, { method: 'PUT' });
    expect(route.status).toBe(404);
    expect(await route.json()).toEqual(error('not_found', 'no route PUT /v1/streams/clicks; events go to POST /v1/streams/<stream>/events'));
  });

  it('a body that is not UTF-8', async () => {
    const response = await fetch(`${server!.url}/v1/streams/clicks/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer tokB' },
      body: Buffer.from([0x5b, 0xff, 0x5d]),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual(error('not_utf8', 'the body is not valid UTF-8'));
  });
});

describe('GET /healthz', () => {
  const zero = { appends: 0, records: 0, syncs: 0, segmentsClosed: 0 };
  it('answers without a token (naming no stream), with the counters of the segment log for a valid token', async () => {
    const anonymous = await fetch(`${server!.url}/healthz`);
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toEqual({ status: 'ok' });
    const withToken = { headers: { authorization: 'Bearer tokC' } };
    const response = await fetch(`${server!.url}/healthz`, withToken);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', streams: ['clicks', 'orders', 'typed'], log: { clicks: zero, orders: zero, typed: zero } });
    await post('clicks', json([click(1), click(2)]));
    await post('clicks', json([click(3)]));
    const after = (await (await fetch(`${server!.url}/healthz`, withToken)).json()) as { log: Record<string, unknown> };
    expect(after.log.clicks).toEqual({ appends: 2, records: 3, syncs: 2, segmentsClosed: 0 });
  });
});

describe('FLYWHEEL_TOKENS', () => {
  it('parses tokens and scopes', () => {
    const table = TokenTable.parse(' tokA = write:clicks , write:decisions ; tokB=write:*;tokC=read ;');
    expect(table.scopesOf('tokA')).toEqual([{ access: 'write', stream: 'clicks' }, { access: 'write', stream: 'decisions' }]);
    expect(table.scopesOf('tokB')).toEqual([{ access: 'write', stream: '*' }]);
    expect(table.scopesOf('tokC')).toEqual([{ access: 'read', stream: '*' }]);
    expect(table.scopesOf('tokD')).toBeUndefined();
  });

  it('says which entry is wrong, without printing a token', () => {
    expect(() => TokenTable.parse('tokA=write:clicks;secret')).toThrow('FLYWHEEL_TOKENS, entry 2: expected <token>=<scope>[,<scope>...], e.g. tokA=write:clicks');
    expect(() => TokenTable.parse('sec ret=write:*')).toThrow('FLYWHEEL_TOKENS, entry 1: a token may hold only letters, digits and -._~+/');
    expect(() => TokenTable.parse('tokA=admin')).toThrow('FLYWHEEL_TOKENS, entry 1: bad scope "admin"; use write:<stream>, write:*, read:<stream>, read:* or read');
    expect(() => TokenTable.parse('tokA=read;tokA=write:*')).toThrow('FLYWHEEL_TOKENS, entry 2: the same token is listed twice');
    expect(() => TokenTable.fromEnv({})).toThrow('FLYWHEEL_TOKENS is not set');
  });
});
