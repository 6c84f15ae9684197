import { describe, expect, test } from 'vitest';
import { OnlineStoreError } from '../connectors/online-store/online-store-errors.ts';
import { layoutOf, rememberLayout } from '../connectors/online-store/online-layouts.ts';
import { completeRecords, decodeStoredBytes, parseStored, pendingLayoutIds, withLayouts } from '../connectors/online-store/redis/stored-records.ts';

/**
 * The decoding of Redis's stored values (`<event µs>|<written µs>|<layout id>|<JSON array>`) that the
 * Redis and Redis Cluster stores share: its fast path (the previous record's layout id compared in
 * place) and its write time read late must give exactly what cutting at the bars and Number give.
 */
const context = { store: 'redis://test', operation: 'readEncoded' };
const keyOf = (i: number) => `fw:v:[${i}]`;
/** Replies as node-redis gives them with READ_AS_BYTES: each value's UTF-8 bytes, or null. */
const decode = (values: readonly (string | null)[]) => decodeStoredBytes(values.map((v) => (v === null ? null : Buffer.from(v, 'utf8'))), keyOf, context);
const plain = (records: ReturnType<typeof decodeStoredBytes>['found']) =>
  records.map((r) => r && { features: [...r.features], values: r.values, eventMicros: r.eventMicros, writtenMicros: r.writtenMicros });

describe('decodeStoredBytes', () => {
  const xy = layoutOf(['x', 'y']);
  const z = layoutOf(['z']);

  test('records of known layouts, a missing key and a change of layout between records', () => {
    const decoded = decode([`1714564800000001|1714564800000002|${xy.id}|[1,"p"]`, null, `1714564800000000|1714564800000003|${xy.id}|[2,"q"]`, `5|6|${z.id}|[false]`, `7|8|${xy.id}|[3,"r|s"]`]);
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
    const decoded = decode(times.map((t) => `${t}|${t}|${xy.id}|[1,2]`));
    expect(decoded.found.map((r) => r!.eventMicros)).toStrictEqual(times.map(Number));
    expect(decoded.found.map((r) => r!.writtenMicros)).toStrictEqual(times.map(Number));
    expect(decoded.found[3]!.eventMicros).toBe(Number('9007199254740993'));
  });

  test('a layout this process has not seen is pending until its features are read', () => {
    // A made-up layout id: its features are remembered as a store's HMGET would return them.
    const fresh = layoutOf(['late_a', 'late_b']);
    const decoded = decode([`1|2|${xy.id}|[1,2]`, `3|4|${'f'.repeat(16)}|[9]`, `3|4|${'f'.repeat(16)}|[8]`, null]);
    expect(pendingLayoutIds(decoded.pending)).toStrictEqual(['ffffffffffffffff']);
    expect(decoded.found[1]).toBeUndefined();
    expect(decoded.pending!.map((p) => p.index)).toStrictEqual([1, 2]);
    // Its layout read: here one really known, to show completeRecords takes the process's instance.
    expect(rememberLayout(fresh.id, JSON.stringify(['late_a', 'late_b']))).toBe(fresh);
    const again = decode([`3|4|${fresh.id}|[9,8]`]);
    expect(again.pending).toBeUndefined();
    expect(plain(completeRecords(again))).toStrictEqual([{ features: ['late_a', 'late_b'], values: '[9,8]', eventMicros: 3, writtenMicros: 4 }]);
  });

  test('withLayouts reads the pending layouts once, and names a layout the store does not hold', async () => {
    const asked: string[][] = [];
    const known = decode([`1|2|${xy.id}|[1,2]`]);
    expect(await withLayouts(known, async (ids) => (asked.push(ids), []), 'fw:layouts', context)).toBe(known.found);
    expect(asked).toStrictEqual([]);
    const missing = decode([`1|2|${'e'.repeat(16)}|[1]`, `3|4|${'e'.repeat(16)}|[2]`]);
    await expect(withLayouts(missing, async (ids) => (asked.push(ids), [null]), 'fw:layouts', context)).rejects.toThrow(
      `Online store redis://test holds records of layout ${'e'.repeat(16)} but not the layout itself (fw:layouts)`,
    );
    expect(asked).toStrictEqual([['e'.repeat(16)]]);
  });

  test('a value that is not a Flywheel record names its key, also after a record of the same layout', () => {
    for (const bad of ['not a record', '1|2', `1|2|${xy.id}`, `1|2|${xy.id.slice(0, 8)}`]) {
      const call = () => decode([`1|2|${xy.id}|[1,2]`, bad]);
      expect(call).toThrow(OnlineStoreError);
      expect(call).toThrow(`Online store redis://test: the value of fw:v:[1] is not a Flywheel record (${bad.slice(0, 40)}…)`);
    }
  });

  test('parseStored cuts at the first three bars', () => {
    expect(parseStored(`-5|6|${xy.id}|["a|b"]`, 'k', context)).toStrictEqual({ eventMicros: -5, writtenMicros: 6, layoutId: xy.id, values: '["a|b"]' });
    expect(() => parseStored('1|2', 'k', context)).toThrow('the value of k is not a Flywheel record');
  });
});

describe('decodeStoredBytes, on what only bytes can get wrong', () => {
  const xy = layoutOf(['x', 'y']);

  test('multi-byte text, a padded time, and the JSON array where valuesStart says, in the reply\'s own bytes', () => {
    const stored = Buffer.from(`01714564800000000|1714564800000003|${xy.id}|["é€😀",2]`, 'utf8');
    const decoded = decodeStoredBytes([stored], keyOf, context);
    expect(plain(decoded.found)).toStrictEqual([{ features: ['x', 'y'], values: '["é€😀",2]', eventMicros: 1_714_564_800_000_000, writtenMicros: 1_714_564_800_000_003 }]);
    const record = decoded.found[0]!;
    expect(record.bytes).toBe(stored);
    expect(record.bytes!.subarray(record.valuesStart).toString('utf8')).toBe('["é€😀",2]');
  });

  test('times summed digit by digit read as Number reads their text: padded, -0, and text that is not digits', () => {
    const times = ['00001714564800000000', '-0', '', '-', '+5', ' 7', '1e3', '12a', '0x10'];
    const decoded = decode(times.map((t) => `${t}|${t}|${xy.id}|[1,2]`));
    expect(decoded.found.map((r) => r!.eventMicros)).toStrictEqual(times.map(Number));
    expect(decoded.found.map((r) => r!.writtenMicros)).toStrictEqual(times.map(Number));
    expect(Object.is(decoded.found[1]!.eventMicros, -0)).toBe(true);
  });

  test('a layout id that only begins like the previous record\'s is looked up, not taken for it', () => {
    const longer = layoutOf(['x', 'y', 'w']);
    const decoded = decode([`1|2|${xy.id}|[1,2]`, `1|2|${xy.id}0|[1,2]`, `1|2|${longer.id}|[1,2,3]`]);
    expect(decoded.found[0]!.features).toBe(xy.features);
    expect(decoded.found[1]).toBeUndefined();
    expect(decoded.pending).toStrictEqual([{ index: 1, record: { eventMicros: 1, writtenMicros: 2, layoutId: `${xy.id}0`, values: '[1,2]' } }]);
    expect(decoded.found[2]!.features).toBe(longer.features);
  });
});
