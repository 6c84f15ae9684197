/**
 * The one test suite every OnlineStore runs (SQLite, Redis). An implementation's test file calls
 * describeOnlineStoreContract with a factory for a fresh, empty store; a case it cannot pass is
 * listed in `skip` with the reason, so gaps stay visible. Expected values are written out by hand.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidOnlineRecordError, OnlineStoreError } from '../../connectors/online-store/online-store-errors.ts';
import type { OnlineReadRequest, OnlineRecord, OnlineStore, OnlineValue } from '../../connectors/online-store/online-store.ts';

export interface OnlineStoreUnderTest {
  readonly store: OnlineStore;
  /** Opens another store over the same data (a second connection or file handle). The suite closes it. */
  openAnother(): Promise<OnlineStore>;
  /** Closes `store` and removes everything it wrote. */
  cleanup(): Promise<void>;
}

export const ONLINE_STORE_CASES = [
  'round trips every value type',
  'keeps microseconds of event times',
  'keeps typed and composite keys apart',
  'replaces a record only with a newer or equal event time',
  'reports present, expired and missing at the exact ttl edges',
  'reads a subset of features',
  'reads many keys of many views in one call',
  'never lets an older value win under concurrent writers',
  'deletes a view',
  'rejects invalid records and requests before writing',
  'handles empty batches',
  'persists across stores',
  'answers ping and refuses calls after close',
  'writes encoded rows with the same rules',
  'reads records undecoded, sharing one features array per layout',
  'samples stored keys of one view, at most the limit',
  'rejects invalid encoded batches before writing',
  'orders event times before 1970 and repeated keys of one call',
  'removes expired records in bounded sweeps, keeping those exactly ttl old',
  'removes a record written with a ttl once it is past it, and never a newer one',
  'rejects invalid ttls and sweep bounds before touching anything',
] as const;
export type OnlineStoreCase = (typeof ONLINE_STORE_CASES)[number];

const NOW = new Date('2024-05-02T12:00:00.000Z');
const DAY = 86_400;

const rec = (view: string, key: OnlineRecord['key'], values: OnlineRecord['values'], eventTime = '2024-05-01T12:00:00Z'): OnlineRecord => ({ view, key, values, eventTime });
const req = (view: string, key: OnlineReadRequest['key'], extra: Partial<OnlineReadRequest> = {}): OnlineReadRequest => ({ view, key, ttlSeconds: null, ...extra });

/** The parts of a result that do not depend on when the test ran (writtenAt is checked apart). */
function withoutWrittenAt(value: OnlineValue | undefined) {
  if (value === undefined) return undefined;
  const { writtenAt: _writtenAt, ...rest } = value;
  return rest;
}

export function describeOnlineStoreContract(
  name: string,
  makeStore: () => Promise<OnlineStoreUnderTest>,
  options: { skip?: Partial<Record<OnlineStoreCase, string>> } = {},
): void {
  const test = (title: OnlineStoreCase, body: () => Promise<void>) => (options.skip?.[title] ? it.skip(`${title} (${options.skip[title]})`, body) : it(title, body));

  describe(`OnlineStore contract: ${name}`, () => {
    let subject: OnlineStoreUnderTest;
    let store: OnlineStore;
    const others: OnlineStore[] = [];
    const another = async () => {
      const opened = await subject.openAnother();
      others.push(opened);
      return opened;
    };
    const readOne = async (request: OnlineReadRequest, now = NOW) => (await store.read([request], now))[0];

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(async () => {
      await Promise.all(others.splice(0).map((s) => s.close()));
      await subject.cleanup();
    });

    test('round trips every value type', async () => {
      const values = {
        int64_max_safe: 9_007_199_254_740_991,
        int64_min_safe: -9_007_199_254_740_991,
        int64_beyond_2_53: '9223372036854775807',
        int32: -2_147_483_648,
        float_tenth: 0.1,
        float_tiny: 5e-324,
        float_huge: 1.7976931348623157e308,
        float_negative: -2.5,
        text: 'Zoë "the" \\ 🚀\n\ttab',
        text_empty: '',
        flag_true: true,
        flag_false: false,
        timestamp: '2024-04-30T23:59:59.999999Z',
        date: '2024-04-30',
        nothing: null,
      };
      const before = Date.now();
      expect(await store.write([rec('user_stats', [42], values)])).toEqual({ written: 1, skippedOlder: 0 });
      const after = Date.now();

      const result = await readOne(req('user_stats', [42]));
      expect(withoutWrittenAt(result)).toStrictEqual({ status: 'present', view: 'user_stats', key: [42], values, eventTime: '2024-05-01T12:00:00.000Z' });
      expect(Object.is((result?.values as Record<string, unknown>).int64_max_safe, 9_007_199_254_740_991)).toBe(true);
      const writtenAt = Date.parse(result!.writtenAt!);
      expect(result!.writtenAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(writtenAt).toBeGreaterThanOrEqual(before);
      expect(writtenAt).toBeLessThanOrEqual(after);
    });

    test('keeps microseconds of event times', async () => {
      await store.write([rec('v', ['k'], { n: 1 }, '2024-05-01T12:00:00.123456Z')]);
      expect((await readOne(req('v', ['k'])))?.eventTime).toBe('2024-05-01T12:00:00.123456Z');

      // One microsecond later, written with another offset: newer.
      expect(await store.write([rec('v', ['k'], { n: 2 }, '2024-05-01T14:00:00.123457+02:00')])).toEqual({ written: 1, skippedOlder: 0 });
      expect(withoutWrittenAt(await readOne(req('v', ['k'])))).toStrictEqual({
        status: 'present', view: 'v', key: ['k'], values: { n: 2 }, eventTime: '2024-05-01T12:00:00.123457Z',
      });
      // One microsecond earlier: older.
      expect(await store.write([rec('v', ['k'], { n: 3 }, '2024-05-01T12:00:00.123456Z')])).toEqual({ written: 0, skippedOlder: 1 });
      expect((await readOne(req('v', ['k'])))?.values).toStrictEqual({ n: 2 });
      // Milliseconds only: printed with three digits.
      await store.write([rec('v', ['ms'], { n: 4 }, '2024-05-01T12:00:00.5Z')]);
      expect((await readOne(req('v', ['ms'])))?.eventTime).toBe('2024-05-01T12:00:00.500Z');
    });

    test('keeps typed and composite keys apart', async () => {
      const keys: [OnlineRecord['key'], string][] = [
        [[1], 'int 1'],
        [['1'], 'string 1'],
        [['a:b', 'c'], 'a:b | c'],
        [['a', 'b:c'], 'a | b:c'],
        [['a', 'b', 'c'], 'a | b | c'],
        [['a,b'], 'a,b'],
        [['a', 'b'], 'a | b'],
        [[1, 'FR'], 'int 1 | FR'],
        [['1', 'FR'], 'string 1 | FR'],
        [['FR', 1], 'FR | int 1'],
        [['', ''], 'empty | empty'],
        [[''], 'empty'],
        [['"'], 'quote'],
        [['\\'], 'backslash'],
        [['[1]'], 'looks encoded'],
        [['é'], 'e acute'],
        [[9_223_372_036_854_775_807n], 'int64 max'],
        [[-5], 'int -5'],
      ];
      await store.write(keys.map(([key, which]) => rec('v', key, { which })));
      await store.write([rec('w', [1], { which: 'view w, int 1' })]);

      const results = await store.read(keys.map(([key]) => req('v', key)), NOW);
      expect(results.map((r) => r.values)).toStrictEqual(keys.map(([, which]) => ({ which })));
      const more = await store.read(
        [req('w', [1]), req('v', [1n]), req('v', [2]), req('v', ['a:b:c']), req('v', ['a', 'b', 'c', 'd']), req('v', [9_223_372_036_854_775_806n]), req('v', ['-5'])],
        NOW,
      );
      expect(more.map((r) => [r.status, r.values])).toStrictEqual([
        ['present', { which: 'view w, int 1' }],
        ['present', { which: 'int 1' }], // 1n and 1 are the same key
        ['missing', {}],
        ['missing', {}],
        ['missing', {}],
        ['missing', {}],
        ['missing', {}],
      ]);
    });

    test('replaces a record only with a newer or equal event time', async () => {
      expect(await store.write([rec('v', [7], { x: 1, y: 'a' }, '2024-05-01T12:00:00Z')])).toEqual({ written: 1, skippedOlder: 0 });
      const first = await readOne(req('v', [7]));

      await sleep(5);
      expect(await store.write([rec('v', [7], { x: 0, y: 'old' }, '2024-05-01T11:00:00Z')])).toEqual({ written: 0, skippedOlder: 1 });
      // Untouched, write time included.
      expect(await readOne(req('v', [7]))).toStrictEqual(first);
      expect(first?.values).toStrictEqual({ x: 1, y: 'a' });

      // Equal event time replaces, and the new record replaces the whole record (y is gone).
      expect(await store.write([rec('v', [7], { x: 2 }, '2024-05-01T12:00:00Z')])).toEqual({ written: 1, skippedOlder: 0 });
      const equal = await readOne(req('v', [7]));
      expect(withoutWrittenAt(equal)).toStrictEqual({ status: 'present', view: 'v', key: [7], values: { x: 2 }, eventTime: '2024-05-01T12:00:00.000Z' });
      expect(Date.parse(equal!.writtenAt!)).toBeGreaterThan(Date.parse(first!.writtenAt!));

      // One batch, applied in order: 14:00 written, 13:30 skipped, the second 14:00 written (equal).
      expect(
        await store.write([
          rec('v', [7], { x: 4 }, '2024-05-01T14:00:00Z'),
          rec('v', [7], { x: 99 }, '2024-05-01T13:30:00Z'),
          rec('v', [7], { x: 5 }, '2024-05-01T14:00:00Z'),
          rec('v', [8], { x: 8 }, '2024-05-01T09:00:00Z'),
        ]),
      ).toEqual({ written: 3, skippedOlder: 1 });
      expect((await store.read([req('v', [7]), req('v', [8])], NOW)).map(withoutWrittenAt)).toStrictEqual([
        { status: 'present', view: 'v', key: [7], values: { x: 5 }, eventTime: '2024-05-01T14:00:00.000Z' },
        { status: 'present', view: 'v', key: [8], values: { x: 8 }, eventTime: '2024-05-01T09:00:00.000Z' },
      ]);
    });

    test('reports present, expired and missing at the exact ttl edges', async () => {
      await store.write([
        rec('v', ['edge'], { n: 1 }, '2024-05-01T12:00:00Z'), // exactly NOW - 1 day
        rec('v', ['over'], { n: 2 }, '2024-05-01T11:59:59.999999Z'), // 1 µs more than a day old
        rec('v', ['now'], { n: 3 }, '2024-05-02T12:00:00Z'), // exactly NOW
        rec('v', ['future'], { n: 4 }, '2024-05-02T13:00:00Z'), // after NOW: still the latest value known
      ]);
      const results = await store.read(
        [
          req('v', ['edge'], { ttlSeconds: DAY }),
          req('v', ['over'], { ttlSeconds: DAY }),
          req('v', ['over'], { ttlSeconds: null }),
          req('v', ['now'], { ttlSeconds: 0 }),
          req('v', ['edge'], { ttlSeconds: 0 }),
          req('v', ['future'], { ttlSeconds: 0 }),
          req('v', ['nobody'], { ttlSeconds: DAY }),
          req('no_such_view', ['edge'], { ttlSeconds: DAY }),
        ],
        NOW,
      );
      expect(results.map(withoutWrittenAt)).toStrictEqual([
        { status: 'present', view: 'v', key: ['edge'], values: { n: 1 }, eventTime: '2024-05-01T12:00:00.000Z' },
        { status: 'expired', view: 'v', key: ['over'], values: {}, eventTime: '2024-05-01T11:59:59.999999Z' },
        { status: 'present', view: 'v', key: ['over'], values: { n: 2 }, eventTime: '2024-05-01T11:59:59.999999Z' },
        { status: 'present', view: 'v', key: ['now'], values: { n: 3 }, eventTime: '2024-05-02T12:00:00.000Z' },
        { status: 'expired', view: 'v', key: ['edge'], values: {}, eventTime: '2024-05-01T12:00:00.000Z' },
        { status: 'present', view: 'v', key: ['future'], values: { n: 4 }, eventTime: '2024-05-02T13:00:00.000Z' },
        { status: 'missing', view: 'v', key: ['nobody'], values: {}, eventTime: null },
        { status: 'missing', view: 'no_such_view', key: ['edge'], values: {}, eventTime: null },
      ]);
      expect(typeof results[1]!.writtenAt).toBe('string');
      expect(results[6]!.writtenAt).toBeNull();
      // One millisecond later the edge value is more than a day old.
      expect((await readOne(req('v', ['edge'], { ttlSeconds: DAY }), new Date(NOW.getTime() + 1)))?.status).toBe('expired');
    });

    test('reads a subset of features', async () => {
      await store.write([rec('v', [1], { a: 1, b: 'two', c: null, d: true })]);
      const results = await store.read(
        [
          req('v', [1], { features: ['d', 'a'] }),
          req('v', [1], { features: ['c'] }),
          req('v', [1], { features: ['not_stored', 'b'] }),
          req('v', [1], { features: [] }),
          req('v', [1]),
          req('v', [1], { features: ['a'], ttlSeconds: 0 }),
          req('v', [2], { features: ['a'] }),
        ],
        NOW,
      );
      expect(results.map((r) => [r.status, r.values])).toStrictEqual([
        ['present', { d: true, a: 1 }],
        ['present', { c: null }],
        ['present', { not_stored: null, b: 'two' }],
        ['present', {}],
        ['present', { a: 1, b: 'two', c: null, d: true }],
        ['expired', {}],
        ['missing', {}],
      ]);
      expect(Object.keys(results[0]!.values)).toEqual(['d', 'a']);
      expect(results[0]!.eventTime).toBe('2024-05-01T12:00:00.000Z');
    });

    test('reads many keys of many views in one call', async () => {
      const users = Array.from({ length: 300 }, (_, i) => rec('users', [i], { n: i, tag: `u${i}` }, `2024-05-01T${String(i % 24).padStart(2, '0')}:00:00Z`));
      const merchants = Array.from({ length: 300 }, (_, i) => rec('merchants', [`m${i}`, i % 7], { n: -i - 1 }));
      expect(await store.write([...users, ...merchants])).toEqual({ written: 600, skippedOlder: 0 });

      const requests: OnlineReadRequest[] = [];
      const expected: [string, unknown][] = [];
      for (let i = 0; i < 500; i++) {
        requests.push(req('users', [i], { ttlSeconds: DAY }));
        // Users written at hour i % 24 of May 1st: within a day of NOW only from 12:00 on.
        expected.push(i >= 300 ? ['missing', {}] : i % 24 >= 12 ? ['present', { n: i, tag: `u${i}` }] : ['expired', {}]);
        requests.push(req('merchants', [`m${i}`, i % 7], { features: ['n'] }));
        expected.push(i >= 300 ? ['missing', {}] : ['present', { n: -i - 1 }]);
      }
      const results = await store.read(requests, NOW);
      expect(results).toHaveLength(1000);
      expect(results.map((r) => [r.status, r.values])).toStrictEqual(expected);
      expect(results.map((r) => [r.view, r.key])).toStrictEqual(requests.map((r) => [r.view, r.key]));
      // The same key twice in one call: two results.
      const twice = await store.read([req('users', [5]), req('users', [5])], NOW);
      expect(twice.map((r) => r.values)).toStrictEqual([{ n: 5, tag: 'u5' }, { n: 5, tag: 'u5' }]);
    });

    test('never lets an older value win under concurrent writers', async () => {
      const second = await another();
      const keys = 20;
      const times = 30;
      const at = (j: number) => `2024-05-01T${String(Math.floor(j / 60) + 10).padStart(2, '0')}:${String(j % 60).padStart(2, '0')}:00Z`;
      // Every (key, time) once, in an order that interleaves old and new, split over two stores;
      // some calls carry one record, some several.
      const jobs: { store: OnlineStore; records: OnlineRecord[] }[] = [];
      for (let round = 0; round < times; round++) {
        const j = round % 2 === 0 ? times - 1 - round / 2 : (round - 1) / 2; // 29, 0, 28, 1, 27, 2, ...
        const records = Array.from({ length: keys }, (_, k) => rec('race', [k], { j, by: round % 2 }, at(j)));
        if (round % 3 === 0) jobs.push({ store: round % 2 === 0 ? store : second, records });
        else for (const record of records) jobs.push({ store: round % 2 === 0 ? second : store, records: [record] });
      }
      const results = await Promise.all(jobs.map((job) => job.store.write(job.records)));
      const written = results.reduce((sum, r) => sum + r.written, 0);
      const skipped = results.reduce((sum, r) => sum + r.skippedOlder, 0);
      expect(written + skipped).toBe(keys * times);
      expect(written).toBeGreaterThanOrEqual(keys);

      const expected = Array.from({ length: keys }, (_, k) => ({ status: 'present', view: 'race', key: [k], values: { j: 29, by: 0 }, eventTime: '2024-05-01T10:29:00.000Z' }));
      expect((await store.read(Array.from({ length: keys }, (_, k) => req('race', [k])), NOW)).map(withoutWrittenAt)).toStrictEqual(expected);
      expect((await second.read(Array.from({ length: keys }, (_, k) => req('race', [k])), NOW)).map(withoutWrittenAt)).toStrictEqual(expected);

      // Again, with the oldest writes racing the newest ones on both stores at once.
      const racing = Array.from({ length: 10 }, (_, round) => [
        store.write(Array.from({ length: keys }, (_, k) => rec('race', [k], { j: -round, by: 0 }, at(round)))),
        second.write(Array.from({ length: keys }, (_, k) => rec('race', [k], { j: 100 + round, by: 1 }, `2024-05-01T11:${String(round).padStart(2, '0')}:00Z`))),
      ]).flat();
      await Promise.all(racing);
      expect((await store.read(Array.from({ length: keys }, (_, k) => req('race', [k])), NOW)).map((r) => [r.values, r.eventTime])).toStrictEqual(
        Array.from({ length: keys }, () => [{ j: 109, by: 1 }, '2024-05-01T11:09:00.000Z']),
      );
    });

    test('deletes a view', async () => {
      await store.write([rec('a', [1], { n: 1 }), rec('a', [2], { n: 2 }), rec('ab', [1], { n: 3 }), rec('b', [1], { n: 4 }), rec('b', ['a'], { n: 5 })]);
      await store.deleteView('a');
      await store.deleteView('never_written');
      const results = await store.read([req('a', [1]), req('a', [2]), req('ab', [1]), req('b', [1]), req('b', ['a'])], NOW);
      expect(results.map((r) => [r.status, r.values])).toStrictEqual([
        ['missing', {}],
        ['missing', {}],
        ['present', { n: 3 }],
        ['present', { n: 4 }],
        ['present', { n: 5 }],
      ]);
      // A deleted view can be written again from scratch, at any event time.
      expect(await store.write([rec('a', [1], { n: 6 }, '2020-01-01T00:00:00Z')])).toEqual({ written: 1, skippedOlder: 0 });
    });

    test('removes expired records in bounded sweeps, keeping those exactly ttl old', async () => {
      // As of NOW with a one-day ttl: expired means an event time before 2024-05-01T12:00:00Z.
      await store.write([
        rec('v', [1], { n: 1 }, '2024-05-01T11:59:59.999999Z'), // expired: 1 µs past the ttl
        rec('v', [2], { n: 2 }, '2024-05-01T12:00:00Z'), // kept: exactly ttl old
        rec('v', [3], { n: 3 }, '2024-04-30T00:00:00Z'), // expired
        rec('v', [4], { n: 4 }, '2024-05-02T12:00:00Z'), // kept
        rec('v', ['x'], { n: 5 }, '1969-07-20T20:17:40Z'), // expired, before 1970
        rec('vv', [1], { n: 6 }, '2020-01-01T00:00:00Z'), // another view (its name starts like v's): untouched
      ]);
      expect(await store.deleteExpired('v', DAY, NOW, 2)).toEqual({ deleted: 2, done: false });
      expect(await store.deleteExpired('v', DAY, NOW, 2)).toEqual({ deleted: 1, done: true });
      expect(await store.deleteExpired('v', DAY, NOW, 2)).toEqual({ deleted: 0, done: true });
      expect(await store.deleteExpired('never_written', DAY, NOW, 2)).toEqual({ deleted: 0, done: true });
      const results = await store.read([req('v', [1]), req('v', [2]), req('v', [3]), req('v', [4]), req('v', ['x']), req('vv', [1])], NOW);
      expect(results.map((r) => [r.status, r.values])).toStrictEqual([
        ['missing', {}],
        ['present', { n: 2 }],
        ['missing', {}],
        ['present', { n: 4 }],
        ['missing', {}],
        ['present', { n: 6 }],
      ]);
      // A microsecond later, v[2] is past its ttl too; a zero ttl keeps only what happened at NOW.
      expect(await store.deleteExpired('v', DAY, new Date(NOW.getTime() + 1), 10)).toEqual({ deleted: 1, done: true });
      expect(await store.deleteExpired('v', 0, NOW, 10)).toEqual({ deleted: 0, done: true });
      expect(await store.deleteExpired('v', 0, new Date(NOW.getTime() + 1), 10)).toEqual({ deleted: 1, done: true });
    });

    test('removes a record written with a ttl once it is past it, and never a newer one', async () => {
      // Relative to the real clock: a ttl set at write time may act on its own (Redis expires the key).
      const now = Date.now();
      const iso = (ms: number) => new Date(ms).toISOString();
      const ttl = 3600;
      expect(await store.write([
        { ...rec('t', [1], { n: 1 }, iso(now - ttl * 1000 - 60_000)), ttlSeconds: ttl }, // a minute past its ttl
        { ...rec('t', [2], { n: 2 }, iso(now - 60_000)), ttlSeconds: ttl }, // within it
        rec('t', [3], { n: 3 }, iso(now - ttl * 1000 - 60_000)), // no ttl given: the sweep's ttl decides
      ])).toEqual({ written: 3, skippedOlder: 0 });
      expect(await store.writeEncoded({ view: 't', features: ['n'], ttlSeconds: ttl, rows: [
        { key: [4], eventMicros: (now - ttl * 1000 - 60_000) * 1000, values: '[4]' },
        { key: [5], eventMicros: (now - 60_000) * 1000, values: '[5]' },
      ] })).toEqual({ written: 2, skippedOlder: 0 });
      const swept = await store.deleteExpired('t', ttl, new Date(now), 100);
      expect(swept.done).toBe(true);
      const after = await store.read([1, 2, 3, 4, 5].map((k) => req('t', [k], { ttlSeconds: ttl })), new Date(now));
      expect(after.map((r) => [r.status, r.values])).toStrictEqual([
        ['missing', {}],
        ['present', { n: 2 }],
        ['missing', {}],
        ['missing', {}],
        ['present', { n: 5 }],
      ]);
      // A key whose record was removed takes a new one; a newer record written meanwhile is never swept.
      expect(await store.write([{ ...rec('t', [1], { n: 10 }, iso(now)), ttlSeconds: ttl }])).toEqual({ written: 1, skippedOlder: 0 });
      expect(await store.deleteExpired('t', ttl, new Date(now), 100)).toEqual({ deleted: 0, done: true });
      expect((await readOne(req('t', [1]), new Date(now)))?.values).toEqual({ n: 10 });
    });

    test('rejects invalid ttls and sweep bounds before touching anything', async () => {
      await store.write([rec('v', [1], { n: 1 }, '2000-01-01T00:00:00Z')]);
      for (const ttlSeconds of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1d']) {
        await expect(store.write([{ ...rec('v', [2], { n: 2 }), ttlSeconds: ttlSeconds as number }])).rejects.toThrow(`Invalid online record (view "v", key [2], field "ttlSeconds"): expected a ttl in seconds (a number, 0 or more) or null, got ${JSON.stringify(ttlSeconds)}`);
        await expect(store.writeEncoded({ view: 'v', features: ['n'], ttlSeconds: ttlSeconds as number, rows: [{ key: [2], eventMicros: 0, values: '[2]' }] })).rejects.toBeInstanceOf(InvalidOnlineRecordError);
        await expect(store.deleteExpired('v', ttlSeconds as number, NOW, 10)).rejects.toThrow(`Invalid online record (view "v", field "ttlSeconds"): expected a ttl in seconds (a number, 0 or more), got ${JSON.stringify(ttlSeconds)}`);
      }
      for (const limit of [0, -1, 1.5]) {
        await expect(store.deleteExpired('v', DAY, NOW, limit)).rejects.toThrow(`Invalid online record (view "v", field "limit"): expected a positive whole number of records, got ${limit}`);
      }
      await expect(store.deleteExpired('bad-name', DAY, NOW, 10)).rejects.toBeInstanceOf(InvalidOnlineRecordError);
      expect((await readOne(req('v', [1])))?.status).toBe('present');
      expect((await readOne(req('v', [2])))?.status).toBe('missing');
    });

    test('rejects invalid records and requests before writing', async () => {
      const valid = rec('v', [1], { n: 1 });
      const invalid: [unknown, string][] = [
        [{ ...valid, view: 'bad-name' }, 'view'],
        [{ ...valid, view: '' }, 'view'],
        [{ ...valid, key: [] }, 'key'],
        [{ ...valid, key: 'k' }, 'key'],
        [{ ...valid, key: [1.5] }, 'key[0]'],
        [{ ...valid, key: ['a', null] }, 'key[1]'],
        [{ ...valid, key: [Number.MAX_SAFE_INTEGER + 1] }, 'key[0]'],
        [{ ...valid, values: { n: Number.NaN } }, 'values.n'],
        [{ ...valid, values: { n: Number.POSITIVE_INFINITY } }, 'values.n'],
        [{ ...valid, values: { n: undefined } }, 'values.n'],
        [{ ...valid, values: { n: new Date() } }, 'values.n'],
        [{ ...valid, values: { n: [1] } }, 'values.n'],
        [{ ...valid, values: { n: 1n } }, 'values.n'],
        [{ ...valid, values: { __event_time: 1 } }, '__event_time'],
        [{ ...valid, values: { 'not an identifier': 1 } }, 'not an identifier'],
        [{ ...valid, values: null }, 'values'],
        [{ ...valid, eventTime: '2024-05-01T12:00:00' }, 'eventTime'],
        [{ ...valid, eventTime: '2024-02-30T00:00:00Z' }, 'eventTime'],
        [{ ...valid, eventTime: '2024-05-01T24:00:00Z' }, 'eventTime'],
        [{ ...valid, eventTime: 'yesterday' }, 'eventTime'],
        [{ ...valid, eventTime: new Date() }, 'eventTime'],
      ];
      for (const [record, field] of invalid) {
        const error = await store.write([valid, record as OnlineRecord]).then(() => undefined, (e: unknown) => e);
        expect(error, JSON.stringify(record, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))).toBeInstanceOf(InvalidOnlineRecordError);
        expect((error as InvalidOnlineRecordError).field).toBe(field);
        expect((error as InvalidOnlineRecordError).retryable).toBe(false);
      }
      // Nothing of the rejected batches was written.
      expect((await readOne(req('v', [1])))?.status).toBe('missing');
      expect(String(await store.write([{ ...valid, key: [1, 2.5] }]).catch((e: unknown) => e))).toBe(
        'InvalidOnlineRecordError: Invalid online record (view "v", key [1, 2.5], field "key[1]"): 2.5 is not a safe integer; join keys are integers or strings (give int64 keys beyond 2^53 as bigint)',
      );

      const badRequests: [unknown, string][] = [
        [req('v', [1], { ttlSeconds: -1 }), 'ttlSeconds'],
        [req('v', [1], { ttlSeconds: 1.5 }), 'ttlSeconds'],
        [{ view: 'v', key: [1] }, 'ttlSeconds'],
        [req('v', [1], { features: ['bad name'] }), 'bad name'],
        [req('v', [1], { features: ['__written_at'] }), '__written_at'],
        [req('v-1', [1]), 'view'],
        [req('v', [0.5]), 'key[0]'],
      ];
      for (const [request, field] of badRequests) {
        const error = await store.read([req('v', [1]), request as OnlineReadRequest], NOW).then(() => undefined, (e: unknown) => e);
        expect(error, JSON.stringify(request)).toBeInstanceOf(InvalidOnlineRecordError);
        expect((error as InvalidOnlineRecordError).field).toBe(field);
      }
      await expect(store.read([req('v', [1])], new Date(Number.NaN))).rejects.toThrow(InvalidOnlineRecordError);
      await expect(store.deleteView('bad name')).rejects.toThrow(InvalidOnlineRecordError);
    });

    test('handles empty batches', async () => {
      expect(await store.write([])).toEqual({ written: 0, skippedOlder: 0 });
      expect(await store.read([], NOW)).toEqual([]);
      await store.write([rec('v', ['no features'], {})]);
      expect(withoutWrittenAt(await readOne(req('v', ['no features'])))).toStrictEqual({
        status: 'present', view: 'v', key: ['no features'], values: {}, eventTime: '2024-05-01T12:00:00.000Z',
      });
    });

    test('persists across stores', async () => {
      await store.write([rec('v', ['k'], { n: 1 })]);
      const second = await another();
      expect(withoutWrittenAt(await second.read([req('v', ['k'])], NOW).then((r) => r[0]))).toStrictEqual({
        status: 'present', view: 'v', key: ['k'], values: { n: 1 }, eventTime: '2024-05-01T12:00:00.000Z',
      });
      // A newer write through the second store is what the first one reads.
      await second.write([rec('v', ['k'], { n: 2 }, '2024-05-01T13:00:00Z')]);
      expect((await readOne(req('v', ['k'])))?.values).toStrictEqual({ n: 2 });
    });

    test('answers ping and refuses calls after close', async () => {
      await store.ping();
      const second = await another();
      await second.ping();
      await second.close();
      await second.close(); // closing twice is harmless
      await expect(second.read([req('v', [1])], NOW)).rejects.toThrow(OnlineStoreError);
      await expect(second.write([rec('v', [1], { n: 1 })])).rejects.toThrow(OnlineStoreError);
      await expect(second.ping()).rejects.toThrow(OnlineStoreError);
      await expect(second.deleteView('v')).rejects.toThrow(OnlineStoreError);
      // The first store is not affected.
      await store.write([rec('v', [1], { n: 1 })]);
      expect((await readOne(req('v', [1])))?.values).toStrictEqual({ n: 1 });
    });

    test('writes encoded rows with the same rules', async () => {
      const t = (iso: string) => Date.parse(iso) * 1000;
      const batch = (rows: { key: OnlineRecord['key']; eventMicros: number; values: string }[]) => ({ view: 'user_stats', features: ['count', 'name', 'seen'], rows });
      expect(
        await store.writeEncoded(
          batch([
            { key: [1], eventMicros: t('2024-05-01T12:00:00Z') + 7, values: '[3,"a|b",null]' },
            { key: ['1', 'FR'], eventMicros: t('2024-05-01T12:00:00Z'), values: '[1,"x","2024-05-01T11:00:00.000Z"]' },
          ]),
        ),
      ).toEqual({ written: 2, skippedOlder: 0 });
      expect((await store.read([req('user_stats', [1]), req('user_stats', ['1', 'FR'], { features: ['seen', 'count'] })], NOW)).map(withoutWrittenAt)).toStrictEqual([
        { status: 'present', view: 'user_stats', key: [1], values: { count: 3, name: 'a|b', seen: null }, eventTime: '2024-05-01T12:00:00.000007Z' },
        { status: 'present', view: 'user_stats', key: ['1', 'FR'], values: { seen: '2024-05-01T11:00:00.000Z', count: 1 }, eventTime: '2024-05-01T12:00:00.000Z' },
      ]);
      // Older: skipped; equal: replaces; and a record written by write() is replaced by an encoded one (and back).
      expect(await store.writeEncoded(batch([{ key: [1], eventMicros: t('2024-05-01T12:00:00Z'), values: '[0,"old",null]' }]))).toEqual({ written: 0, skippedOlder: 1 });
      expect(await store.writeEncoded(batch([{ key: [1], eventMicros: t('2024-05-01T12:00:00Z') + 7, values: '[4,"same time",null]' }]))).toEqual({ written: 1, skippedOlder: 0 });
      await store.write([rec('user_stats', [1], { other: true }, '2024-05-01T13:00:00Z')]);
      expect((await readOne(req('user_stats', [1])))?.values).toStrictEqual({ other: true });
      await store.writeEncoded(batch([{ key: [1], eventMicros: t('2024-05-01T14:00:00Z'), values: '[5,"b",null]' }]));
      expect((await readOne(req('user_stats', [1])))?.values).toStrictEqual({ count: 5, name: 'b', seen: null });
      expect(await store.writeEncoded(batch([]))).toEqual({ written: 0, skippedOlder: 0 });
    });

    test('reads records undecoded, sharing one features array per layout', async () => {
      await store.write([
        rec('a', [1], { x: 1, y: 'p' }, '2024-05-01T12:00:00.000001Z'),
        rec('a', [2], { x: 2, y: 'q' }),
        rec('b', [1], { z: false }),
      ]);
      const found = await store.readEncoded([
        { view: 'a', key: [1] },
        { view: 'b', key: [1] },
        { view: 'a', key: [3] },
        { view: 'a', key: [2] },
        { view: 'a', key: [1] },
      ]);
      expect(found.map((f) => f && { features: [...f.features], values: f.values, eventMicros: f.eventMicros })).toStrictEqual([
        { features: ['x', 'y'], values: '[1,"p"]', eventMicros: 1_714_564_800_000_001 },
        { features: ['z'], values: '[false]', eventMicros: 1_714_564_800_000_000 },
        undefined,
        { features: ['x', 'y'], values: '[2,"q"]', eventMicros: 1_714_564_800_000_000 },
        { features: ['x', 'y'], values: '[1,"p"]', eventMicros: 1_714_564_800_000_001 },
      ]);
      expect(found[0]!.features).toBe(found[3]!.features);
      expect(Object.isFrozen(found[0]!.features)).toBe(true);
      expect(found[0]!.writtenMicros).toBeGreaterThan(0);
      // No ttl at this level: a record from 1970 comes back as it is.
      await store.write([rec('old', [1], { n: 1 }, '1970-01-02T00:00:00Z')]);
      expect((await store.readEncoded([{ view: 'old', key: [1] }]))[0]?.eventMicros).toBe(86_400_000_000);
      // And one from before 1970: a negative instant, read as it was written.
      await store.write([rec('older', [1], { n: 1 }, '1969-12-31T23:59:59.999999Z')]);
      const [older] = await store.readEncoded([{ view: 'older', key: [1] }]);
      expect(older?.eventMicros).toBe(-1);
      expect(older?.writtenMicros).toBeGreaterThan(0);
      // A store opened after the write (a fresh process would have no layouts cached) reads the layout back.
      const second = await another();
      expect((await second.readEncoded([{ view: 'b', key: [1] }]))[0]?.features).toStrictEqual(['z']);
      expect(await store.readEncoded([])).toEqual([]);
    });

    test('samples stored keys of one view, at most the limit', async () => {
      await store.write([
        rec('a', [1], { x: 1 }),
        rec('a', [2], { x: 2 }),
        rec('a', ['k:1'], { x: 3 }),
        rec('ab', [9], { x: 4 }),
        rec('b', [1, 'FR'], { y: 5 }),
      ]);
      const sorted = (keys: unknown[][]) => keys.map((k) => JSON.stringify(k)).sort();
      // `ab` shares `a`'s first letter: its keys are not `a`'s.
      expect(sorted(await store.sampleKeys('a', 10))).toStrictEqual(['["k:1"]', '[1]', '[2]']);
      expect(sorted(await store.sampleKeys('b', 10))).toStrictEqual(['[1,"FR"]']);
      const two = await store.sampleKeys('a', 2);
      expect(two).toHaveLength(2);
      for (const key of two) expect(['["k:1"]', '[1]', '[2]']).toContain(JSON.stringify(key));
      // Each sampled key reads back its record.
      expect((await store.readEncoded(two.map((key) => ({ view: 'a', key })))).every((found) => found !== undefined)).toBe(true);
      expect(await store.sampleKeys('empty', 5)).toStrictEqual([]);
      // A key JSON numbers cannot give back exactly (int64 beyond 2^53) is left out, not rounded.
      await store.write([rec('big', [9_223_372_036_854_775_807n], { x: 1 }), rec('big', [-7], { x: 2 })]);
      expect(await store.sampleKeys('big', 10)).toStrictEqual([[-7]]);
      await expect(store.sampleKeys('a', 0)).rejects.toThrow(InvalidOnlineRecordError);
      await expect(store.sampleKeys('bad view', 1)).rejects.toThrow(InvalidOnlineRecordError);
    });

    test('rejects invalid encoded batches before writing', async () => {
      const good = { key: [1], eventMicros: 1_714_564_800_000_000, values: '[1]' };
      const cases: [unknown, RegExp][] = [
        [{ view: 'bad view', features: ['n'], rows: [good] }, /view name/],
        [{ view: 'v', features: ['__n'], rows: [good] }, /reserved/],
        [{ view: 'v', features: ['n'], rows: [good, { ...good, key: [1.5] }] }, /not a safe integer/],
        [{ view: 'v', features: ['n'], rows: [good, { ...good, eventMicros: 1.5 }] }, /whole microseconds/],
        [{ view: 'v', features: ['n'], rows: [good, { ...good, values: '{"n":1}' }] }, /JSON array text/],
      ];
      for (const [batch, message] of cases) {
        await expect(store.writeEncoded(batch as never)).rejects.toThrow(message);
        await expect(store.writeEncoded(batch as never)).rejects.toThrow(InvalidOnlineRecordError);
      }
      expect((await readOne(req('v', [1])))?.status).toBe('missing');
      await expect(store.readEncoded([{ view: 'v', key: [] }])).rejects.toThrow(InvalidOnlineRecordError);
    });

    test('orders event times before 1970 and repeated keys of one call', async () => {
      const write = (n: number, eventTime: string) => store.write([rec('v', ['k'], { n }, eventTime)]);
      expect(await write(1, '1969-12-31T00:00:00Z')).toEqual({ written: 1, skippedOlder: 0 });
      expect(await write(2, '1969-12-30T00:00:00Z')).toEqual({ written: 0, skippedOlder: 1 });
      expect(await write(3, '1969-12-31T00:00:00.000001Z')).toEqual({ written: 1, skippedOlder: 0 });
      expect(await write(4, '1970-01-01T00:00:00Z')).toEqual({ written: 1, skippedOlder: 0 });
      expect(await write(5, '1969-12-31T23:59:59Z')).toEqual({ written: 0, skippedOlder: 1 });
      expect(await write(6, '2024-05-01T00:00:00Z')).toEqual({ written: 1, skippedOlder: 0 });
      expect(withoutWrittenAt(await readOne(req('v', ['k'])))).toStrictEqual({ status: 'present', view: 'v', key: ['k'], values: { n: 6 }, eventTime: '2024-05-01T00:00:00.000Z' });
      expect(await write(7, '1969-06-01T00:00:00Z')).toEqual({ written: 0, skippedOlder: 1 });

      // One call, the same key three times: applied in order, each against the one before.
      expect(
        await store.write([
          rec('v', ['dup'], { n: 1 }, '2024-05-01T12:00:00Z'),
          rec('v', ['dup'], { n: 2 }, '2024-05-01T11:00:00Z'),
          rec('v', ['dup'], { n: 3 }, '2024-05-01T12:00:00Z'),
        ]),
      ).toEqual({ written: 2, skippedOlder: 1 });
      expect((await readOne(req('v', ['dup'])))?.values).toStrictEqual({ n: 3 });
      await store.write([rec('v', ['old'], { n: 1 }, '1969-01-01T00:00:00.5Z')]);
      expect(withoutWrittenAt(await readOne(req('v', ['old'])))).toStrictEqual({ status: 'present', view: 'v', key: ['old'], values: { n: 1 }, eventTime: '1969-01-01T00:00:00.500Z' });
    });
  });
}
