import { describe, expect, it } from 'vitest';
import { decodeRecordAt, type SegmentLog } from '../connectors/log-store/segment-log/index.ts';
import type { StreamSchema } from '../server/stream-schema.ts';
import { StreamIngest, type AcceptedBatch } from '../server/stream-ingest.ts';
import { BatchScanner } from '../server/validation/batch-scanner.ts';
import { parseBatch } from '../server/validation/parse-body.ts';

// The fast path of the log API (BatchScanner, StreamIngest.acceptJsonArray) must store exactly what the
// general path (parseBatch, then StreamIngest.accept) stores, for every batch it takes; it may leave
// any batch to the general path. Checked on edge cases and on random bodies built from awkward values.

const SCHEMA: StreamSchema = {
  name: 'clicks',
  keys: [{ name: 'user_id', type: 'int64' }],
  timestampField: 'ts',
  fields: [
    { name: 'item_id', type: 'int32', nullable: false },
    { name: 'page', type: 'string', nullable: false },
    { name: 'dwell_ms', type: 'int64', nullable: true },
    { name: 'price', type: 'float64', nullable: true },
    { name: 'ratio', type: 'float32', nullable: true },
    { name: 'in_stock', type: 'bool', nullable: true },
    { name: 'day', type: 'date', nullable: true },
    { name: 'é', type: 'string', nullable: true },
  ],
};
const WITH_ID_FIELD: StreamSchema = { ...SCHEMA, name: 'orders', eventIdField: 'order_id', fields: [...SCHEMA.fields, { name: 'order_id', type: 'string', nullable: false }] };
const WITH_INT_ID_FIELD: StreamSchema = { ...SCHEMA, name: 'orders2', eventIdField: 'order_no', fields: [...SCHEMA.fields, { name: 'order_no', type: 'int64', nullable: false }] };

const RECEIVED_AT = '2026-11-26T10:00:00.123Z';
/** RECEIVED_AT plus the default bound on event times ahead of the server's clock (a day). */
const LATEST = '2026-11-27T10:00:00.123Z';

/** A stream ingest over a log that keeps what is appended. */
function ingestOf(schema: StreamSchema) {
  const appended: Buffer[] = [];
  const log: SegmentLog = {
    append: (_stream, records) => {
      appended.push(Buffer.from(records));
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
    stats: () => ({}),
    failures: () => ({}),
  };
  return { ingest: new StreamIngest(schema, log, { recentIds: 1000, maxIssues: 100 }), appended };
}

const UUID = /"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"/g;

function payloads(appended: Buffer[]): string[] {
  const out: string[] = [];
  for (const records of appended) {
    let at = 0;
    while (at < records.length) {
      const decoded = decodeRecordAt(records, at);
      if (decoded.kind !== 'record') throw new Error(`bad record at ${at}: ${decoded.kind}`);
      out.push(decoded.payload.toString('utf8').replace(UUID, '"<uuid>"'));
      at = decoded.next;
    }
  }
  return out;
}

function answerOf(accepted: AcceptedBatch) {
  return { events: accepted.events, duplicates: accepted.duplicates, ids: accepted.idsJson().replace(UUID, '"<uuid>"') };
}

/**
 * Sends `bodies` in order to a fast ingest (fast path, else general path, as the app does) and to a
 * general one; expects the same answers and records. Returns how many bodies the fast path took.
 */
function compare(schema: StreamSchema, bodies: readonly string[], maxEvents = 50): number {
  const fast = ingestOf(schema);
  const general = ingestOf(schema);
  let taken = 0;
  for (const text of bodies) {
    const bytes = Buffer.from(text);
    const fastAccepted = fast.ingest.acceptJsonArray(bytes, maxEvents, RECEIVED_AT);
    let generalAccepted: AcceptedBatch | undefined;
    let generalError: unknown;
    try {
      generalAccepted = general.ingest.accept(parseBatch(bytes.toString('utf8'), 'json', maxEvents, bytes), RECEIVED_AT);
    } catch (error) {
      generalError = error;
    }
    if (fastAccepted === undefined) {
      // As the app does: the general path decides.
      try {
        fast.ingest.accept(parseBatch(bytes.toString('utf8'), 'json', maxEvents, bytes), RECEIVED_AT);
      } catch {
        // same as the general ingest's error
      }
      continue;
    }
    taken++;
    if (generalError !== undefined) throw new Error(`the fast path took a batch the general path refuses (${(generalError as Error).message}):\n${text}`);
    expect(answerOf(fastAccepted), text).toEqual(answerOf(generalAccepted!));
    const stored = payloads(fast.appended);
    // The same JSON values; the same bytes too, unless the general path serialized the events again
    // (it does so for any event followed by a newline, which the fast path need not).
    expect(stored.map((p) => JSON.parse(p) as unknown), text).toEqual(payloads(general.appended).map((p) => JSON.parse(p) as unknown));
    if (!/[\r\n]/.test(text)) expect(stored, text).toEqual(payloads(general.appended));
  }
  return taken;
}

const EVENT = '{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p"}';

describe('BatchScanner and StreamIngest.acceptJsonArray', () => {
  it('take common batches and store them as the general path does', () => {
    const bodies = [
      `[${EVENT}]`,
      `[]`,
      ` [ ${EVENT} ,\n ${EVENT} ]\n`,
      `[{"user_id":-12,"ts":"2024-02-29T23:59:59.999Z","item_id":0,"page":"a \\"q\\" \\u00e9 \\n","dwell_ms":null,"price":-0.5e-7,"ratio":3.25,"in_stock":false,"day":"2000-02-29","é":"ü"}]`,
      `[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","_event_id":"abc"},{"_event_id":"abc","user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p"}]`,
      `[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","_event_id":"abc"}]`,
      `[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","_event_id":"ünï"}]`,
    ];
    expect(compare(SCHEMA, bodies)).toBe(bodies.length);
    expect(compare(WITH_ID_FIELD, [`[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","order_id":"o-1"},{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","order_id":"o-1"}]`])).toBe(1);
    expect(compare(WITH_INT_ID_FIELD, [`[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","order_no":0},{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","order_no":-5}]`])).toBe(1);
  });

  it('leave to the general path what it must decide or rewrite', () => {
    const scanner = new BatchScanner(SCHEMA);
    const event = (extra: string) => `[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p"${extra}}]`;
    const refused = [
      '', '{}', '[', '[]]', '[{}]', `[${EVENT},]`, `[${EVENT}] x`, `\ufeff[${EVENT}]`,
      event(',"user_id":2'), event(',"nope":1'), event(',"_received_at":"x"'), event(',"_event_id":""'), event(',"_event_id":"a\\"b"'),
      event(',"_event_id":null'), event(',"dwell_ms":1.0'), event(',"dwell_ms":"12"'), event(',"dwell_ms":1234567890123456'), event(',"dwell_ms":01'),
      event(',"price":1.'), event(',"price":.5'), event(',"price":1e400'), event(',"ratio":1e3'), event(',"in_stock":tru'),
      event(',"day":"2023-02-29"'), event(',"day":"0000-01-01"'), event(',\n"price":1'), event(',"pa\\u0067e2":1'),
      `[{"user_id":1,"ts":"2026-11-26T10:00:00Z","item_id":7,"page":"/p"}]`,
      `[{"user_id":1,"ts":"2026-11-26T12:00:00.000+02:00","item_id":7,"page":"/p"}]`,
      `[{"user_id":1,"ts":1764151200000,"item_id":7,"page":"/p"}]`,
      `[{"user_id":1,"ts":"2026-11-26T10:00:00.000z","item_id":7,"page":"/p"}]`,
      `[{"user_id":1,"ts":"2026-02-30T10:00:00.000Z","item_id":7,"page":"/p"}]`,
      `[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":2147483648,"page":"/p"}]`,
      `[{"user_id":null,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p"}]`,
      `[{"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p"}]`,
      `[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"a\tb"}]`,
      // Event times after LATEST, a string with a surrogate escape (lone or paired: the general path tells them apart),
      // numbers that may overflow a double, and strings longer than their column takes.
      `[{"user_id":1,"ts":"2026-11-27T10:00:00.124Z","item_id":7,"page":"/p"}]`,
      `[{"user_id":1,"ts":"9999-12-31T23:59:59.999Z","item_id":7,"page":"/p"}]`,
      event(',"é":"\\ud800"'), event(',"é":"bad\\uD800"'), event(',"é":"\\ud83d\\ude00"'), event(',"é":"\\uDFFF"'),
      event(`,"price":${'9'.repeat(300)}e9`), event(`,"price":${'1'.repeat(210)}e99`),
      event(`,"é":"${'x'.repeat(65_537)}"`),
    ];
    for (const body of refused) expect(scanner.scan(Buffer.from(body), 10, LATEST), body.slice(0, 200)).toBeUndefined();
    expect(scanner.scan(Buffer.from(`[${EVENT},${EVENT}]`), 1, LATEST)).toBeUndefined(); // over maxEvents
    expect(new BatchScanner(WITH_ID_FIELD).scan(Buffer.from(`[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","order_id":"o","_event_id":"c"}]`), 10, LATEST)).toBeUndefined();
    expect(new BatchScanner(WITH_ID_FIELD).scan(Buffer.from(`[{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","order_id":"${'o'.repeat(129)}"}]`), 10, LATEST)).toBeUndefined();
    // At the bounds the fast path takes them: the latest event time, a double of 308 digits, a string at its limit.
    for (const body of [
      `[{"user_id":1,"ts":"${LATEST}","item_id":7,"page":"/p"}]`,
      event(`,"price":${'9'.repeat(299)}e9`), event(',"price":1e-99'), event(`,"é":"${'x'.repeat(65_536)}"`),
    ]) expect(scanner.scan(Buffer.from(body), 10, LATEST), body.slice(0, 200)).toBeDefined();
    expect(compare(SCHEMA, refused)).toBe(0);
  });

  it('store random batches of awkward values as the general path does', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const ints = ['0', '-0', '1', '-1', '1.0', '1e3', '123456789012345', '-123456789012345', '1234567890123456', '9007199254740993', '"123"', '"12345678901234567890"', 'null', 'true', '1.5', '01', '2147483647', '2147483648', '-2147483648'];
    const floats = ['0', '-0.0', '1.5', '1e308', '1e400', '1E+2', '-2.5e-3', '3.4e38', '3.5e38', '340282346638528859811704183484516925440', '1e39', 'null', '"1"', '.5', '1.', '-'];
    const strings = ['""', '"a"', '"a\\"b"', '"é"', '"\\u2028"', '"\\ud800"', '"\\x"', '"\\u12"', '"tab\\t"', '123', 'null', '"/"', '"\\/"'];
    const timestamps = ['"2026-11-26T10:00:00.000Z"', '"2026-11-26T10:00:00Z"', '"2026-11-26T10:00:00.000+02:00"', '"2026-11-26 10:00:00.000Z"', '1764151200000', '"2024-02-30T10:00:00.000Z"', '"0000-01-01T00:00:00.000Z"', '"0001-01-01T00:00:00.000Z"', '"2026-11-26T10:00:00.000"', '"2026-11-26T24:00:00.000Z"', '"2026-11-26T10:00:00.123456Z"', 'null', '"2026-11-26T10:00:00.00aZ"'];
    const dates = ['"2024-02-29"', '"2023-02-29"', '"2024-13-01"', '"0000-01-01"', '"2024-1-01"', 'null', '1'];
    const bools = ['true', 'false', 'null', '0', '"true"'];
    const ids = ['"a"', '"b"', '""', '"ü"', '"a\\"b"', '1', 'null', `"${'x'.repeat(128)}"`, `"${'x'.repeat(129)}"`, `"${'é'.repeat(100)}"`];
    const valuesOf: Record<string, readonly string[]> = {
      user_id: ints, dwell_ms: ints, item_id: ints, order_no: ints, price: floats, ratio: floats, page: strings, é: strings, order_id: strings,
      ts: timestamps, day: dates, in_stock: bools, _event_id: ids, _received_at: ['"x"'], nope: ['1'],
    };
    const good: Record<string, string> = {
      user_id: '1', item_id: '2', page: '"/p"', ts: '"2026-11-26T10:00:00.000Z"', order_id: '"o"', order_no: '3',
      dwell_ms: '-17', price: '2.5', ratio: '0.25', in_stock: 'true', day: '"2024-05-01"', é: '"ü \\"x\\""',
    };
    const spaces = ['', '', '', ' ', '\t', '\n', '\r\n'];
    const eventText = (schema: StreamSchema) => {
      const names = ['user_id', 'ts', 'item_id', 'page', ...(schema.eventIdField ? [schema.eventIdField] : [])];
      const optional = ['dwell_ms', 'price', 'ratio', 'in_stock', 'day', 'é', '_event_id', '_received_at', 'nope', 'user_id'];
      const members: string[] = [];
      for (const name of names) if (random() > 0.03) members.push(`"${name}":${random() < 0.85 ? good[name]! : pick(valuesOf[name]!)}`);
      for (const name of optional) {
        if (random() > (name === '_event_id' && schema.eventIdField !== undefined ? 0.03 : 0.3)) continue;
        if (name === '_event_id') members.push(`"${name}":${random() < 0.7 ? pick(['"a"', '"b"', '"c"', '"ü"']) : pick(ids)}`);
        else if (good[name] !== undefined && random() < 0.7) members.push(`"${name}":${good[name]}`);
        else if (random() < 0.3) members.push(`"${name}":${pick(valuesOf[name]!)}`);
      }
      members.sort(() => random() - 0.5);
      const space = () => (random() < 0.9 ? '' : pick(spaces));
      return `{${space()}${members.map((m) => m.replace(':', `${space()}:${space()}`)).join(`${space()},${space()}`)}${space()}}`;
    };
    for (const schema of [SCHEMA, WITH_ID_FIELD, WITH_INT_ID_FIELD]) {
      const bodies: string[] = [];
      for (let b = 0; b < 3000; b++) {
        const events = Array.from({ length: 1 + Math.floor(random() * 4) }, () => eventText(schema));
        let body = `${pick(spaces)}[${pick(spaces)}${events.join(`${pick(spaces)},${pick(spaces)}`)}${pick(spaces)}]${pick(spaces)}`;
        if (random() < 0.1) {
          // A byte dropped, doubled or changed somewhere.
          const at = Math.floor(random() * body.length);
          const how = random();
          body = how < 0.33 ? body.slice(0, at) + body.slice(at + 1) : how < 0.66 ? body.slice(0, at) + body[at] + body.slice(at) : body.slice(0, at) + pick(['"', ',', '{', '}', ']', '0', ' ', '\\', '\n']) + body.slice(at + 1);
        }
        bodies.push(body);
      }
      const taken = compare(schema, bodies, 3);
      // Most bodies are valid and taken; every one is compared.
      expect(taken).toBeGreaterThan(50);
    }
  });
});

describe('BatchScanner: events laid out as the one before (keys compared as whole words)', () => {
  // The scanner checks an event written `{"k1":v1,"k2":v2,...}` with the keys of the event before it
  // (at first, the declared order) by a shorter path; anything else goes through the general scan.
  // Both must give the same answer: the same offsets and ids, or both leave the batch.
  const WITH_SECOND_TIME: StreamSchema = { ...SCHEMA, name: 'views', fields: [...SCHEMA.fields, { name: 'seen_at', type: 'timestamp', nullable: true }] };

  function scanned(scanner: BatchScanner, body: Buffer, latest: string) {
    const batch = scanner.scan(body, 20, latest);
    if (batch === undefined) return undefined;
    const n = batch.count;
    return { n, starts: [...batch.starts.subarray(0, n)], closes: [...batch.closes.subarray(0, n)], idStarts: [...batch.idStarts.subarray(0, n)], idEnds: [...batch.idEnds.subarray(0, n)], idFromField: batch.idFromField };
  }

  it('takes what the general scan takes, with the same offsets and ids, on random batches of events laid out alike', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const timestamps = [
      '"2026-11-26T10:00:00.000Z"', '"2026-11-26T23:59:59.999Z"', '"2026-11-26T00:00:00.000Z"', `"${LATEST}"`, '"2026-11-27T10:00:00.124Z"',
      '"2026-11-27T09:59:59.999Z"', '"2026-11-27T23:59:59.999Z"', '"2026-11-28T00:00:00.000Z"', '"2026-11-26T24:00:00.000Z"', '"2026-11-26T10:60:00.000Z"',
      '"2026-11-26T10:00:60.000Z"', '"2026-11-26T1a:00:00.000Z"', '"2026-11-26T10:00:00.0a0Z"', '"2026-11-26X10:00:00.000Z"', '"2026-11-26T10:00:00.000z"',
      '"2026-11-26T10:00:00.000Z', '"2026-11-26T10:00:00Z"', '"2024-02-29T10:00:00.000Z"', '"2023-02-29T10:00:00.000Z"', '"0001-01-01T00:00:00.000Z"', 'null', '1',
    ];
    const values: Record<string, readonly string[]> = {
      user_id: ['1', '-7', '123456789012345', '1234567890123456', '1.0', 'null', '"1"'],
      item_id: ['0', '2147483647', '2147483648', '-2147483648', '1e3'],
      page: ['"/p"', '""', '"a\\"b"', '"é"', '"\\ud800"', '"tab\\t"', 'null', '7'],
      dwell_ms: ['null', '-17', '0', '01', 'nul', 'nulll'],
      price: ['2.5', '-0.0', '1e308', '1e400', 'null', '.5'],
      ratio: ['0.25', '3.5e38', '1e3', 'null'],
      in_stock: ['true', 'false', 'null', 'fals', 'falsy', 'tru', 'truee', '0'],
      day: ['"2024-05-01"', '"2023-02-29"', 'null', '"2024-5-01"'],
      é: ['"ü"', 'null', '"x"'],
      seen_at: timestamps,
      ts: timestamps,
      order_id: ['"o-1"', '"o-2"', '"o\\"3"', '""', 'null', '5'],
      order_no: ['1', '2', '-0', '0', 'null', '"3"'],
      _event_id: ['"a"', '"b"', '""', '"ü"', 'null', '1'],
      nope: ['1'],
    };
    const good: Record<string, string> = {
      user_id: '1', ts: '"2026-11-26T10:00:00.000Z"', item_id: '2', page: '"/p"', dwell_ms: '-17', price: '2.5', ratio: '0.25', in_stock: 'true',
      day: '"2024-05-01"', é: '"ü"', seen_at: '"2026-11-26T11:00:00.000Z"', order_id: '"o-1"', order_no: '3', _event_id: '"a"',
    };
    const layoutOf = (schema: StreamSchema): string[] => {
      const declared = [...schema.keys.map((k) => k.name), schema.timestampField, ...schema.fields.map((f) => f.name)];
      if (random() < 0.3) return declared; // the layout a new scanner expects first
      const names = declared.filter((name) => random() < 0.8 || name === schema.timestampField);
      if (schema.eventIdField === undefined && random() < 0.2) names.push('_event_id');
      if (random() < 0.03) names.push(pick(['nope', 'user_id', 'ts']));
      return names.sort(() => random() - 0.5);
    };
    const eventOf = (layout: readonly string[]) => {
      const value = (name: string) => {
        // Times: a quarter of them awkward (most events of a batch share a day: only its first is checked whole).
        if (name === 'ts' || name === 'seen_at') return random() < 0.75 ? `"2026-11-26T${pick(['00', '09', '23'])}:${pick(['00', '59'])}:${pick(['00', '30', '59'])}.${pick(['000', '999'])}Z"` : pick(timestamps);
        if (random() < 0.98) return name === '_event_id' ? pick(['"a"', '"b"', '"c"']) : good[name]!;
        return pick(values[name]!);
      };
      const space = () => (random() < 0.97 ? '' : pick([' ', '\t']));
      // Now and then a key one byte off (`"user_ie":`, `"page";`, `"ts"":`): a name of no column, or no key at all.
      const key = (name: string) => {
        const text = `"${name}"${space()}:`;
        if (random() > 0.02) return text;
        const at = Math.floor(random() * text.length);
        return text.slice(0, at) + pick(['x', '"', ';', 'e', '_', '']) + text.slice(at + 1);
      };
      return `{${space()}${layout.map((name) => `${key(name)}${space()}${value(name)}`).join(`${space()},${space()}`)}${space()}}`;
    };
    let taken = 0;
    let total = 0;
    for (const schema of [SCHEMA, WITH_ID_FIELD, WITH_INT_ID_FIELD, WITH_SECOND_TIME]) {
      // One of each, kept across the bodies: the layout learned from one batch is tried on the next.
      const laidOut = new BatchScanner(schema);
      const general = new BatchScanner(schema, { matchLayout: false });
      const bodies: string[] = [];
      let layout = layoutOf(schema);
      for (let b = 0; b < 800; b++) {
        if (random() < 0.3) layout = layoutOf(schema);
        const events = Array.from({ length: 1 + Math.floor(random() * 5) }, () => eventOf(random() < 0.9 ? layout : layoutOf(schema)));
        let body = `[${events.join(',')}]`;
        if (random() < 0.1) {
          const at = Math.floor(random() * body.length);
          const how = random();
          body = how < 0.33 ? body.slice(0, at) + body.slice(at + 1) : how < 0.66 ? body.slice(0, at) + body[at] + body.slice(at) : body.slice(0, at) + pick(['"', ',', '{', '}', ']', '0', ' ', '\\', '\n', ':']) + body.slice(at + 1);
        }
        bodies.push(body);
        // The latest event time moves (a scan forgets the dates it saw before): the bound of the test's RECEIVED_AT, or a day earlier.
        const latest = random() < 0.8 ? LATEST : '2026-11-26T10:00:00.000Z';
        const bytes = Buffer.from(body);
        const fast = scanned(laidOut, bytes, latest);
        expect(fast, body).toEqual(scanned(general, bytes, latest));
        total++;
        if (fast !== undefined) taken++;
      }
      // And what the fast path stores is what the general path stores (compare: answers and records).
      expect(compare(schema, bodies, 20)).toBeGreaterThan(40);
    }
    // Many bodies are valid and taken (about one in nine: a tenth are cut, a quarter of the times and a fiftieth of the keys are awkward); every one is compared.
    expect(taken).toBeGreaterThan(total / 10);
  });

  it('takes events laid out in the declared order and in the order the batch before used', () => {
    const scanner = new BatchScanner(SCHEMA);
    const declared = '{"user_id":1,"ts":"2026-11-26T10:00:00.000Z","item_id":7,"page":"/p","dwell_ms":null,"price":1.5,"ratio":0.5,"in_stock":false,"day":"2024-05-01","é":"x"}';
    const other = '{"page":"/p","ts":"2026-11-26T10:00:00.000Z","user_id":1,"item_id":7,"_event_id":"e-1"}';
    const body = (events: string[]) => Buffer.from(`[${events.join(',')}]`);
    expect(scanner.scan(body([declared, declared]), 10, LATEST)?.count).toBe(2);
    const batch = scanner.scan(body([other, other.replace('e-1', 'e-2')]), 10, LATEST)!;
    expect([batch.count, batch.idEnds[1]! - batch.idStarts[1]!]).toEqual([2, 3]);
    expect(body([other]).toString('utf8', batch.idStarts[0], batch.idEnds[0])).toBe('e-1');
    // The same day as the latest event time: the time decides, on the event before and on the one after.
    expect(scanner.scan(body([other.replace('2026-11-26T10:00:00.000Z', LATEST)]), 10, LATEST)?.count).toBe(1);
    expect(scanner.scan(body([other, other.replace('2026-11-26T10:00:00.000Z', '2026-11-27T10:00:00.124Z')]), 10, LATEST)).toBeUndefined();
    expect(scanner.scan(body([other.replace('2026-11-26T10:00:00.000Z', '2026-11-27T10:00:00.122Z'), other.replace('2026-11-26T10:00:00.000Z', '2026-11-27T10:00:00.124Z')]), 10, LATEST)).toBeUndefined();
    // A date seen in one scan is not trusted in the next, whose latest event time is earlier.
    expect(scanner.scan(body([other]), 10, '2026-11-26T09:59:59.999Z')).toBeUndefined();
    // A key the layout has twice is never taken: `user_id` again after the layout's last key.
    expect(scanner.scan(body([other, other.replace('}', ',"user_id":2}')]), 10, LATEST)).toBeUndefined();
  });
});
