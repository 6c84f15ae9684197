import { describe, expect, test } from 'vitest';
import { OnlineStoreError } from '../connectors/online-store/online-store-errors.ts';
import { layoutOf, rememberLayout } from '../connectors/online-store/online-layouts.ts';
import { completeRecords, decodeStoredBytes, decodeStoredReplies, parseStored, pendingLayoutIds, withLayouts } from '../connectors/online-store/redis/stored-records.ts';

/**
 * The decoding of Redis's stored values (`<event µs>|<written µs>|<layout id>|<JSON array>`) that the
 * Redis and Redis Cluster stores share: its fast path (the previous record's layout id compared in
 * place) and its write time read late must give exactly what cutting at the bars and Number give.
 */
const context = { store: 'redis://test', operation: 'readEncoded' };
const keyOf = (i: number) => `fw:v:[${i}]`;
const plain = (records: ReturnType<typeof decodeStoredReplies>['found']) =>
  records.map((r) => r && { features: [...r.features], values: r.values, eventMicros: r.eventMicros, writtenMicros: r.writtenMicros });

describe('decodeStoredReplies', () => {
  const xy = layoutOf(['x', 'y']);
  const z = layoutOf(['z']);

  test('records of known layouts, a missing key and a change of layout between records', () => {
    const decoded = decodeStoredReplies(
      [`1714564800000001|1714564800000002|${xy.id}|[1,"p"]`, null, `1714564800000000|1714564800000003|${xy.id}|[2,"q"]`, `5|6|${z.id}|[false]`, `7|8|${xy.id}|[3,"r|s"]`],
      keyOf,
      context,
    );
    expect(decoded.pending).toBeUndefined();
    expect(plain(decoded.found)).toStrictEqual([
      { features: ['x', 'y'], values: '[1,"p"]', eventMicros: 1_714_564_800_000_001, writtenMicros: 1_714_564_800_000_002 },
      undefined,
      { features: ['x', 'y'], values: '[2,"q"]', eventMicros: 1_714_564_800_000_000, writtenMicros: 1_714_564_800_000_003 },
      { features: ['z'], values: '[false]', eventMicros: 5, writtenMicros: 6 },
      { features: ['x', 'y'], values: '[3,"r|s"]', eventMicros: 7, writtenMicros: 8 },
    ]);
    expect(decoded.found[0]!.features).toBe(xy.features);
  });

  test('times as Number reads them: before 1970, zero, at and beyond 2^53, more than 16 digits', () => {
    const times = ['-1', '0', '9007199254740991', '9007199254740993', '9999999999999999', '12345678901234567890', '-86400000000'];
    const decoded = decodeStoredReplies(times.map((t) => `${t}|${t}|${xy.id}|[1,2]`), keyOf, context);
    expect(decoded.found.map((r) => r!.eventMicros)).toStrictEqual(times.map(Number));
    expect(decoded.found.map((r) => r!.writtenMicros)).toStrictEqual(times.map(Number));
    expect(decoded.found[3]!.eventMicros).toBe(Number('9007199254740993'));
  });

  test('a layout this process has not seen is pending until its features are read', () => {
    // A made-up layout id: its features are remembered as a store's HMGET would return them.
    const fresh = layoutOf(['late_a', 'late_b']);
    const decoded = decodeStoredReplies([`1|2|${xy.id}|[1,2]`, `3|4|${'f'.repeat(16)}|[9]`, `3|4|${'f'.repeat(16)}|[8]`, null], keyOf, context);
    expect(pendingLayoutIds(decoded.pending)).toStrictEqual(['ffffffffffffffff']);
    expect(decoded.found[1]).toBeUndefined();
    expect(decoded.pending!.map((p) => p.index)).toStrictEqual([1, 2]);
    // Its layout read: here one really known, to show completeRecords takes the process's instance.
    expect(rememberLayout(fresh.id, JSON.stringify(['late_a', 'late_b']))).toBe(fresh);
    const again = decodeStoredReplies([`3|4|${fresh.id}|[9,8]`], keyOf, context);
    expect(again.pending).toBeUndefined();
    expect(plain(completeRecords(again))).toStrictEqual([{ features: ['late_a', 'late_b'], values: '[9,8]', eventMicros: 3, writtenMicros: 4 }]);
  });

  test('withLayouts reads the pending layouts once, and names a layout the store does not hold', async () => {
    const asked: string[][] = [];
    const known = decodeStoredReplies([`1|2|${xy.id}|[1,2]`], keyOf, context);
    expect(await withLayouts(known, async (ids) => (asked.push(ids), []), 'fw:layouts', context)).toBe(known.found);
    expect(asked).toStrictEqual([]);
    const missing = decodeStoredReplies([`1|2|${'e'.repeat(16)}|[1]`, `3|4|${'e'.repeat(16)}|[2]`], keyOf, context);
    await expect(withLayouts(missing, async (ids) => (asked.push(ids), [null]), 'fw:layouts', context)).rejects.toThrow(
      `Online store redis://test holds records of layout ${'e'.repeat(16)} but not the layout itself (fw:layouts)`,
    );
    expect(asked).toStrictEqual([['e'.repeat(16)]]);
  });

  test('a value that is not a Flywheel record names its key, also after a record of the same layout', () => {
    for (const bad of ['not a record', '1|2', `1|2|${xy.id}`, `1|2|${xy.id.slice(0, 8)}`]) {
      const call = () => decodeStoredReplies([`1|2|${xy.id}|[1,2]`, bad], keyOf, context);
      expect(call).toThrow(OnlineStoreError);
      expect(call).toThrow(`Online store redis://test: the value of fw:v:[1] is not a Flywheel record (${bad.slice(0, 40)}…)`);
    }
  });

  test('parseStored cuts at the first three bars', () => {
    expect(parseStored(`-5|6|${xy.id}|["a|b"]`, 'k', context)).toStrictEqual({ eventMicros: -5, writtenMicros: 6, layoutId: xy.id, values: '["a|b"]' });
    expect(() => parseStored('1|2', 'k', context)).toThrow('the value of k is not a Flywheel record');
  });
});

describe('decodeStoredBytes', () => {
  const xy = layoutOf(['x', 'y']);
  const z = layoutOf(['z']);
  const bytes = (values: readonly (string | null)[]) => values.map((v) => (v === null ? null : Buffer.from(v, 'utf8')));
  /** The same replies decoded from strings and from bytes. */
  const both = (values: readonly (string | null)[]) => ({ strings: decodeStoredReplies(values, keyOf, context), bytes: decodeStoredBytes(bytes(values), keyOf, context) });

  test('the records decodeStoredReplies gives, multi-byte text and bars inside values included, their values still bytes', () => {
    const values = [`1714564800000001|1714564800000002|${xy.id}|[1,"p"]`, null, `01714564800000000|1714564800000003|${xy.id}|["é€😀",2]`, `5|6|${z.id}|[false]`, `7|8|${xy.id}|[3,"r|s"]`];
    const { strings, bytes: decoded } = both(values);
    expect(decoded.pending).toBeUndefined();
    expect(plain(decoded.found)).toStrictEqual(plain(strings.found));
    expect(plain(decoded.found)[2]).toStrictEqual({ features: ['x', 'y'], values: '["é€😀",2]', eventMicros: 1_714_564_800_000_000, writtenMicros: 1_714_564_800_000_003 });
    expect(decoded.found[0]!.features).toBe(xy.features);
    // The JSON array is where valuesStart says, in the reply's own bytes.
    const record = decoded.found[2]!;
    expect(record.bytes!.subarray(record.valuesStart).toString('utf8')).toBe('["é€😀",2]');
  });

  test('times as Number reads their text: padded, before 1970, zero, at and beyond 2^53, more than 16 digits, and text that is not digits', () => {
    const times = ['-1', '0', '-0', '00001714564800000000', '9007199254740991', '9007199254740993', '9999999999999999', '12345678901234567890', '-86400000000', '', '-', '+5', ' 7', '1e3', '12a'];
    const { strings, bytes: decoded } = both(times.map((t) => `${t}|${t}|${xy.id}|[1,2]`));
    expect(decoded.found.map((r) => r!.eventMicros)).toStrictEqual(times.map(Number));
    expect(decoded.found.map((r) => r!.writtenMicros)).toStrictEqual(times.map(Number));
    expect(decoded.found.map((r) => r!.eventMicros)).toStrictEqual(strings.found.map((r) => r!.eventMicros));
    expect(Object.is(decoded.found[2]!.eventMicros, -0)).toBe(true);
  });

  test('a layout this process has not seen is pending, as text, until its features are read', () => {
    const { strings, bytes: decoded } = both([`1|2|${xy.id}|[1,2]`, `3|4|${'d'.repeat(16)}|["ü"]`, null]);
    expect(decoded.pending).toStrictEqual(strings.pending);
    expect(pendingLayoutIds(decoded.pending)).toStrictEqual(['dddddddddddddddd']);
    expect(decoded.found[1]).toBeUndefined();
  });

  test('a layout id that only begins like the previous record\'s is looked up, not taken for it', () => {
    const longer = layoutOf(['x', 'y', 'w']);
    const decoded = decodeStoredBytes(bytes([`1|2|${xy.id}|[1,2]`, `1|2|${xy.id}0|[1,2]`, `1|2|${longer.id}|[1,2,3]`]), keyOf, context);
    expect(decoded.found[0]!.features).toBe(xy.features);
    expect(decoded.found[1]).toBeUndefined();
    expect(pendingLayoutIds(decoded.pending)).toStrictEqual([`${xy.id}0`]);
    expect(decoded.found[2]!.features).toBe(longer.features);
  });

  test('a value that is not a Flywheel record names its key, as decodeStoredReplies does', () => {
    for (const bad of ['not a record', '1|2', `1|2|${xy.id}`, `1|2|${xy.id.slice(0, 8)}`]) {
      const call = () => decodeStoredBytes(bytes([`1|2|${xy.id}|[1,2]`, bad]), keyOf, context);
      expect(call).toThrow(OnlineStoreError);
      expect(call).toThrow(`Online store redis://test: the value of fw:v:[1] is not a Flywheel record (${bad.slice(0, 40)}…)`);
    }
  });
});
