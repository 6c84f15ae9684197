import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, eventStream } from '../index.ts';
import { openLogToWarehouse, type LogToWarehouse } from './support/log-to-warehouse.ts';

// Every event the log API acknowledges loads into the warehouse, and what it cannot load it refuses
// with a 400 naming the event and the field: on the real server and the real ingest activity (DuckDB),
// for each request path. Each case here was once acknowledged with 200 and then broke or polluted the
// load (issue 12): a float that overflows, a lone surrogate, a missing required field named like a
// member of Object.prototype, an id or a string of megabytes, an event time centuries ahead.

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const clicks = eventStream({
  name: 'clicks', entities: [user], timestampField: 'ts', retention: '90d',
  fields: {
    score: 'float64',
    ratio: { type: 'float32', nullable: true },
    page: { type: 'string', maxLength: 8 },
    note: { type: 'string', nullable: true }, // the default limit, 65,536
    constructor: 'string' as const, // a key typed as Object.prototype's is not narrowed by context
    toString: { type: 'string' as const, nullable: true },
  },
});
const orders = eventStream({
  name: 'orders', entities: [user], timestampField: 'ts', eventIdField: 'order_id', retention: '90d', maxEventTimeAhead: '1h',
  fields: { order_id: 'string', amount: 'float64' },
});

/**
 * The request paths: a compact JSON array (the fast path takes it when every event is valid and in
 * its stored form), the same array with a newline inside each event (the fast path never takes it:
 * the general path parses it), and NDJSON (the general path; problems also name their line).
 */
const PATHS = ['fast', 'general', 'ndjson'] as const;
type Path = (typeof PATHS)[number];

function send(log: LogToWarehouse, path: Path, stream: string, events: readonly string[]) {
  if (path === 'ndjson') return log.post(stream, events.join('\n'), 'application/x-ndjson');
  return log.post(stream, `[${events.map((e) => (path === 'general' ? `{\n${e.slice(1)}` : e)).join(',')}]`);
}

/** The same, with the body's bytes as given (to send bytes that are not UTF-8). */
function sendBytes(log: LogToWarehouse, path: Path, stream: string, events: readonly Buffer[]) {
  const parts: Buffer[] = [];
  events.forEach((e, i) => {
    if (i > 0) parts.push(Buffer.from(path === 'ndjson' ? '\n' : ','));
    parts.push(path === 'general' ? Buffer.concat([Buffer.from('{\n'), e.subarray(1)]) : e);
  });
  if (path === 'ndjson') return log.post(stream, Buffer.concat(parts), 'application/x-ndjson');
  return log.post(stream, Buffer.concat([Buffer.from('['), ...parts, Buffer.from(']')]));
}

/** An event's JSON text: the members given (raw JSON values; undefined leaves one out), in this order. */
function eventText(members: Record<string, string | undefined>): string {
  return `{${Object.entries(members).filter(([, v]) => v !== undefined).map(([k, v]) => `"${k}":${v}`).join(',')}}`;
}
const click = (id: string, members: Record<string, string | undefined> = {}) =>
  eventText({ _event_id: JSON.stringify(id), user_id: '1', ts: '"2026-01-01T00:00:00.000Z"', score: '1.5', page: '"/p"', constructor: '"c"', ...members });
const order = (id: string, members: Record<string, string | undefined> = {}) =>
  eventText({ order_id: JSON.stringify(id), user_id: '1', ts: '"2026-01-01T00:00:00.000Z"', amount: '10', ...members });

/** The 400 answer for a batch of `size` events with these problems (one per event), as each path words it. */
function invalid(path: Path, size: number, problems: readonly { index: number; field: string | null; message: string | RegExp }[]) {
  const events = new Set(problems.map((p) => p.index)).size;
  return {
    status: 400,
    body: {
      error: {
        code: 'invalid_events',
        message: `${events} of ${size} events are invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was stored`,
        details: problems.map((p) => ({
          index: p.index, field: p.field, message: typeof p.message === 'string' ? p.message : expect.stringMatching(p.message),
          ...(path === 'ndjson' ? { line: p.index + 1 } : {}),
        })),
      },
    },
  };
}
const accepted = (events: number, ids: readonly string[]) => ({ status: 200, body: { accepted: events, duplicates: 0, ids } });

/** A stored clicks row, the columns not given as a click() sends them. */
const clickRow = (id: string, columns: Record<string, unknown> = {}) => ({
  _event_id: id, user_id: 1, ts: '2026-01-01T00:00:00.000Z', score: 1.5, ratio: null, page: '/p', note: null, constructor: 'c', toString: null, ...columns,
});

let log: LogToWarehouse;
beforeEach(async () => {
  log = await openLogToWarehouse([user, clicks, orders]);
});
afterEach(async () => {
  await log.close();
});

describe('every acknowledged event loads, on each request path', () => {
  it('refuses a float that overflows to ±Infinity (1e400, a long mantissa with a large exponent), names the event and field, and loads the largest finite ones', async () => {
    const overflow = (sign: string) => `the number overflows float64 (it parses to ${sign}Infinity); at most ±1.7976931348623157e308`;
    for (const path of PATHS) {
      expect(await send(log, path, 'clicks', [click(`${path}-a`), click(`${path}-b`, { score: '1e400' })])).toEqual(invalid(path, 2, [{ index: 1, field: 'score', message: overflow('') }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { score: '-1e400' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'score', message: overflow('-') }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { score: `${'1'.repeat(300)}.5e99` })])).toEqual(invalid(path, 1, [{ index: 0, field: 'score', message: overflow('') }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { score: '0.1e310' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'score', message: overflow('') }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { ratio: '1e400' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'ratio', message: 'Infinity is outside the float32 range' }]));
      expect(await send(log, path, 'orders', [order(`${path}-o`, { amount: '-1e999' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'amount', message: overflow('-') }]));
      expect(await send(log, path, 'clicks', [
        click(`${path}-max`, { score: '1.7976931348623157e308', ratio: '3.4028234663852886e38' }),
        click(`${path}-digits`, { score: `${'9'.repeat(299)}e9` }),
        click(`${path}-tiny`, { score: '1e-400', ratio: '0.25' }),
      ])).toEqual(accepted(3, [`${path}-max`, `${path}-digits`, `${path}-tiny`]));
    }
    await log.ingest();
    expect(await log.rows('clicks')).toEqual(PATHS.flatMap((path) => [
      clickRow(`${path}-digits`, { score: Number(`${'9'.repeat(299)}e9`) }),
      clickRow(`${path}-max`, { score: 1.7976931348623157e308, ratio: 3.4028234663852886e38 }),
      clickRow(`${path}-tiny`, { score: 0, ratio: 0.25 }),
    ]).sort(byId));
    expect(await log.rows('orders')).toEqual([]);
  });

  it('refuses a lone surrogate, escaped or as bytes, in a field or an id, and loads pairs and characters beyond the BMP', async () => {
    const lone = (text: string) => `${text} has a lone surrogate (a \\ud800-\\udfff escape not in a pair), which is not text`;
    for (const path of PATHS) {
      expect(await send(log, path, 'clicks', [click(`${path}-a`), click(`${path}-b`, { note: '"bad\\ud800"' })])).toEqual(invalid(path, 2, [{ index: 1, field: 'note', message: lone('"bad\\ud800"') }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { page: '"\\uDC00x"' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'page', message: lone('"\\udc00x"') }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { note: '"\\ude00\\ud83d"' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'note', message: lone('"\\ude00\\ud83d"') }]));
      // JSON.stringify writes a lone surrogate as its escape: the id is sent as "bad\ud800".
      expect(await send(log, path, 'clicks', [click('bad\ud800')])).toEqual(invalid(path, 1, [{ index: 0, field: '_event_id', message: lone('"bad\\ud800"') }]));
      expect(await send(log, path, 'orders', [order(`${path}-o`, { order_id: '"o\\ud800"' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'order_id', message: lone('"o\\ud800"') }]));
      // A surrogate as UTF-8 bytes (ED A0 80) is not UTF-8: the body is refused whole.
      const raw = Buffer.concat([Buffer.from(click(`${path}-raw`, { note: '"bad' }).slice(0, -1)), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]);
      expect(await sendBytes(log, path, 'clicks', [Buffer.from(click(`${path}-a`)), raw])).toEqual({ status: 400, body: { error: { code: 'not_utf8', message: 'the body is not valid UTF-8' } } });
      expect(await send(log, path, 'clicks', [
        click(`${path}-pair`, { note: '"\\ud83d\\ude00 ok"', page: '"\\u00e9\\uD834\\uDD1E"' }),
        click(`${path}-raw😀`, { note: '"😀 ok"' }),
      ])).toEqual(accepted(2, [`${path}-pair`, `${path}-raw😀`]));
    }
    await log.ingest();
    expect(await log.rows('clicks')).toEqual(PATHS.flatMap((path) => [
      clickRow(`${path}-pair`, { note: '😀 ok', page: 'é𝄞' }),
      clickRow(`${path}-raw😀`, { note: '😀 ok' }),
    ]).sort(byId));
  });

  it('refuses an event without a required field named like a member of Object.prototype, and loads one without a nullable one', async () => {
    for (const path of PATHS) {
      expect(await send(log, path, 'clicks', [click(`${path}-a`), click(`${path}-b`, { constructor: undefined })])).toEqual(
        invalid(path, 2, [{ index: 1, field: 'constructor', message: 'required field is missing (string)' }]),
      );
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { constructor: 'null', toString: '"t"' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'constructor', message: 'field must not be null' }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { ['__proto__']: '{}', hasOwnProperty: '"x"' })])).toEqual(invalid(path, 1, [
        { index: 0, field: '__proto__', message: 'unknown field; stream "clicks" has user_id, ts, score, ratio, page, note, constructor, toString' },
        { index: 0, field: 'hasOwnProperty', message: 'unknown field; stream "clicks" has user_id, ts, score, ratio, page, note, constructor, toString' },
      ]));
      expect(await send(log, path, 'clicks', [click(`${path}-ok`, { constructor: '"Object"' }), click(`${path}-ts`, { toString: '"s"' })])).toEqual(accepted(2, [`${path}-ok`, `${path}-ts`]));
    }
    await log.ingest();
    expect(await log.rows('clicks')).toEqual(PATHS.flatMap((path) => [clickRow(`${path}-ok`, { constructor: 'Object' }), clickRow(`${path}-ts`, { toString: 's' })]).sort(byId));
  });

  it('refuses an id of 9 MiB and strings over their limit (declared or the default), keeps nothing of a refused batch in the dedupe window, and loads values at the limits', async () => {
    const huge = 'x'.repeat(9 * 1024 * 1024);
    const over = (length: number, limit: number) => `the string is ${length} characters long; at most ${limit} are taken`;
    for (const path of PATHS) {
      expect(await send(log, path, 'orders', [order(huge)])).toEqual(invalid(path, 1, [{ index: 0, field: 'order_id', message: over(huge.length, 128) }]));
      expect(await send(log, path, 'clicks', [click(huge)])).toEqual(invalid(path, 1, [{ index: 0, field: '_event_id', message: `expected a non-empty string of at most 128 characters, got string "${'x'.repeat(40)}…"` }]));
      expect(await send(log, path, 'orders', [order('o'.repeat(129))])).toEqual(invalid(path, 1, [{ index: 0, field: 'order_id', message: over(129, 128) }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { page: '"123456789"' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'page', message: over(9, 8) }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { note: JSON.stringify('n'.repeat(65_537)) })])).toEqual(invalid(path, 1, [{ index: 0, field: 'note', message: over(65_537, 65_536) }]));
      // Counted in UTF-16 code units, as JavaScript counts: 😀 is 2 (4 bytes of UTF-8, 12 of escapes).
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { page: '"😀😀😀😀a"' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'page', message: over(9, 8) }]));
      // A batch refused leaves nothing in the duplicate window: its valid event is stored when sent again.
      expect(await send(log, path, 'orders', [order(`${path}-kept`), order(huge)])).toEqual(invalid(path, 2, [{ index: 1, field: 'order_id', message: over(huge.length, 128) }]));
      expect(await send(log, path, 'orders', [order(`${path}-kept`)])).toEqual(accepted(1, [`${path}-kept`]));
      expect(await send(log, path, 'orders', [order('o'.repeat(128))])).toEqual({ status: 200, body: { accepted: 1, duplicates: path === 'fast' ? 0 : 1, ids: ['o'.repeat(128)] } });
      expect(await send(log, path, 'clicks', [
        click(`${path}-limits`, { page: '"😀😀😀😀"', note: JSON.stringify('n'.repeat(65_536)) }),
        click('i'.repeat(120) + path, { page: '"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9"' }),
      ])).toEqual(accepted(2, [`${path}-limits`, 'i'.repeat(120) + path]));
    }
    await log.ingest();
    expect(await log.rows('orders')).toEqual([
      ...PATHS.map((path) => ({ order_id: `${path}-kept`, user_id: 1, ts: '2026-01-01T00:00:00.000Z', amount: 10 })),
      { order_id: 'o'.repeat(128), user_id: 1, ts: '2026-01-01T00:00:00.000Z', amount: 10 },
    ].map((row) => ({ _event_id: row.order_id, ...row })).sort(byId));
    expect(await log.rows('clicks')).toEqual(PATHS.flatMap((path) => [
      clickRow(`${path}-limits`, { page: '😀😀😀😀', note: 'n'.repeat(65_536) }),
      clickRow('i'.repeat(120) + path, { page: 'éééééééé' }),
    ]).sort(byId));
  });

  it('refuses event times later than the stream takes ahead of the clock (a day by default, an hour declared), and loads those within', async () => {
    const iso = (ms: number) => new Date(ms).toISOString();
    const later = (time: string, ahead: string) =>
      new RegExp(`^event time ${time.replaceAll('.', '\\.')} is later than \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z; the stream takes event times at most ${ahead} after the server received them \\(maxEventTimeAhead\\)$`);
    for (const path of PATHS) {
      const now = Date.now();
      expect(await send(log, path, 'clicks', [click(`${path}-a`), click(`${path}-b`, { ts: '"2500-01-01T00:00:00.000Z"' })])).toEqual(
        invalid(path, 2, [{ index: 1, field: 'ts', message: later('2500-01-01T00:00:00.000Z', '1d') }]),
      );
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { ts: '"9999-12-31T23:59:59.999999Z"' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'ts', message: later('9999-12-31T23:59:59.999999Z', '1d') }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { ts: '32503680000000' })])).toEqual(invalid(path, 1, [{ index: 0, field: 'ts', message: later('3000-01-01T00:00:00.000Z', '1d') }]));
      expect(await send(log, path, 'clicks', [click(`${path}-a`, { ts: JSON.stringify(iso(now + 25 * 3_600_000)) })])).toEqual(invalid(path, 1, [{ index: 0, field: 'ts', message: later(iso(now + 25 * 3_600_000), '1d') }]));
      expect(await send(log, path, 'orders', [order(`${path}-o`, { ts: JSON.stringify(iso(now + 2 * 3_600_000)) })])).toEqual(invalid(path, 1, [{ index: 0, field: 'ts', message: later(iso(now + 2 * 3_600_000), '1h') }]));
      expect(await send(log, path, 'clicks', [
        click(`${path}-soon`, { ts: JSON.stringify(iso(Math.floor(now / 1000) * 1000 + 23 * 3_600_000)) }),
        click(`${path}-past`, { ts: '"0001-01-01T00:00:00.000Z"' }),
      ])).toEqual(accepted(2, [`${path}-soon`, `${path}-past`]));
      expect(await send(log, path, 'orders', [order(`${path}-o`, { ts: JSON.stringify(iso(Math.floor(now / 1000) * 1000 + 30 * 60_000)) })])).toEqual(accepted(1, [`${path}-o`]));
      const rows = { soon: iso(Math.floor(now / 1000) * 1000 + 23 * 3_600_000), order: iso(Math.floor(now / 1000) * 1000 + 30 * 60_000) };
      expected.push([clickRow(`${path}-soon`, { ts: rows.soon }), clickRow(`${path}-past`, { ts: '0001-01-01T00:00:00.000Z' })], [{ _event_id: `${path}-o`, order_id: `${path}-o`, user_id: 1, ts: rows.order, amount: 10 }]);
    }
    await log.ingest();
    expect(await log.rows('clicks')).toEqual(expected.filter((_, i) => i % 2 === 0).flat().sort(byId));
    expect(await log.rows('orders')).toEqual(expected.filter((_, i) => i % 2 === 1).flat().sort(byId));
  });
});

const expected: Record<string, unknown>[][] = [];
beforeEach(() => {
  expected.length = 0;
});

function byId(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const x = a._event_id as string;
  const y = b._event_id as string;
  return x < y ? -1 : x > y ? 1 : 0;
}
