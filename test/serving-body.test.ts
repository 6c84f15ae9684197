import { describe, expect, it } from 'vitest';
import { entity, featureService, featureView, source } from '../index.ts';
import type { EncodedOnlineRecord } from '../connectors/online-store/online-store.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { assembleFeatures, decisionOf, planReads } from '../server/serving/assemble-features.ts';
import { layoutOf } from '../connectors/online-store/online-layouts.ts';
import { decodeStoredBytes } from '../connectors/online-store/redis/stored-records.ts';
import { BodyWriter } from '../server/serving/body-writer.ts';
import { resolveServices, type ServingTarget } from '../server/serving/resolve-service.ts';
import { checkRequestShape, DEFAULT_SERVING_LIMITS, readEntityRows } from '../server/serving/serving-request.ts';

// The answer of POST /v1/features is written straight into a Buffer (server/serving/body-writer.ts):
// these check its exact bytes where that could go wrong: text of more than one byte per character,
// an answer outgrowing the size guessed from its first row, two views, records missing or expired.

describe('BodyWriter', () => {
  it('writes strings as UTF-8 and repeated text from its bytes, growing as needed', () => {
    const body = new BodyWriter(1);
    body.text('{"a":"é€😀"');
    for (let i = 0; i < 100; i++) body.repeated(',"x"');
    body.text('}');
    const expected = `{"a":"é€😀"${',"x"'.repeat(100)}}`;
    expect(body.finish().toString('utf8')).toBe(expected);
    expect(body.finish().length).toBe(Buffer.byteLength(expected));
  });
});

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const src = source({ name: 'src', table: 'raw.src', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', name: 'string', spend: 'float64', n: 'int64' } });
const names = featureView({ name: 'user_names', entities: [user], source: src, features: { name: 'string' } });
const stats = featureView({ name: 'user_stats', entities: [user], source: src, ttl: '1d', features: { spend: 'float64', n: 'int64' } });
const project = validateProject([user, src, names, stats, featureService({ name: 'both', features: [names, stats] })].map((definition) => ({ file: 'definitions/body.ts', definition })));
const target = resolveServices(project).get('both') as ServingTarget;

const DAY = 86_400_000_000;
const NOW = Date.UTC(2026, 11, 5, 12) * 1000;
const T1 = NOW - 3_600_000_000; // an hour ago, 2026-12-05T11:00:00.000Z
const T2 = NOW - 7_200_000_123; // 2026-12-05T09:59:59.999877Z

function assembled(ids: number[], records: Record<string, EncodedOnlineRecord | undefined>, metadata: boolean) {
  const rows = readEntityRows(checkRequestShape({ service: 'both', entities: ids.map((user_id) => ({ user_id })), metadata }), target, DEFAULT_SERVING_LIMITS);
  const plan = planReads(target, rows);
  const found = plan.requests.map((request) => records[`${request.view}:${String(request.key[0])}`]);
  return { rows, plan, ...assembleFeatures(target, rows, plan, found, { decisionId: 'd-1', nowMicros: NOW, metadata }) };
}

function answer(ids: number[], records: Record<string, EncodedOnlineRecord | undefined>, metadata: boolean): string {
  return assembled(ids, records, metadata).body.toString('utf8');
}

/** A record as the Redis store reads it with MGET: its stored value's bytes (decodeStoredBytes), the values not decoded. */
function readAsBytes(record: EncodedOnlineRecord): EncodedOnlineRecord {
  const stored = Buffer.from(`0${record.eventMicros}|${record.writtenMicros}|${layoutOf(record.features).id}|${record.values}`, 'utf8');
  return decodeStoredBytes([stored], () => 'k', { store: 'redis://test', operation: 'readEncoded' }).found[0]!;
}

describe('assembleFeatures', () => {
  const nameRecord = (text: string, micros: number): EncodedOnlineRecord => ({ features: Object.freeze(['name']), values: JSON.stringify([text]), eventMicros: micros, writtenMicros: micros });
  const statsRecord = (spend: number, n: number, micros: number): EncodedOnlineRecord => ({ features: Object.freeze(['spend', 'n']), values: `[${spend},${n}]`, eventMicros: micros, writtenMicros: micros });
  const long = 'ü'.repeat(5000);
  const records = {
    'user_names:1': nameRecord('a', T1),
    'user_names:2': nameRecord(long, T2),
    'user_stats:1': statsRecord(2.5, 3, T1),
    'user_stats:2': statsRecord(1, 1, NOW - 2 * DAY), // expired (ttl 1d)
    // user 3: no records at all
  };
  const head = '{"decision_id":"d-1","service":"both","features":["name","spend","n"],"rows":[';

  it('with metadata: the values, statuses and event times of each row, a long multi-byte value past the first row\'s size', () => {
    expect(answer([1, 2, 3, 1], records, true)).toBe(
      head +
        '{"values":["a",2.5,3],"statuses":["present","present","present"],"event_times":["2026-12-05T11:00:00.000Z","2026-12-05T11:00:00.000Z","2026-12-05T11:00:00.000Z"]},' +
        `{"values":["${long}",null,null],"statuses":["present","expired","expired"],"event_times":["2026-12-05T09:59:59.999877Z","2026-12-03T12:00:00.000Z","2026-12-03T12:00:00.000Z"]},` +
        '{"values":[null,null,null],"statuses":["missing","missing","missing"],"event_times":[null,null,null]},' +
        '{"values":["a",2.5,3],"statuses":["present","present","present"],"event_times":["2026-12-05T11:00:00.000Z","2026-12-05T11:00:00.000Z","2026-12-05T11:00:00.000Z"]}]}',
    );
  });

  it('values only (one string written once, the long multi-byte value included), and no rows', () => {
    expect(answer([2, 1], records, false)).toBe(`${head}{"values":["${long}",null,null]},{"values":["a",2.5,3]}]}`);
    expect(answer([], records, true)).toBe(`${head}]}`);
    expect(answer([], records, false)).toBe(`${head}]}`);
    expect(answer([3, 3], records, false)).toBe(`${head}{"values":[null,null,null]},{"values":[null,null,null]}]}`);
  });
});

describe('assembleFeatures over records read as bytes (the Redis store)', () => {
  const long = 'ü'.repeat(5000);
  const text = {
    'user_names:1': { features: Object.freeze(['name']), values: '["a"]', eventMicros: T1, writtenMicros: T1 },
    'user_names:2': { features: Object.freeze(['name']), values: JSON.stringify([long]), eventMicros: T2, writtenMicros: T2 },
    'user_stats:1': { features: Object.freeze(['spend', 'n']), values: '[2.5,3]', eventMicros: T1, writtenMicros: T1 },
    'user_stats:2': { features: Object.freeze(['spend', 'n']), values: '[1,1]', eventMicros: NOW - 2 * DAY, writtenMicros: NOW }, // expired (ttl 1d)
    'user_stats:4': { features: Object.freeze(['n', 'spend']), values: '[7,0.5]', eventMicros: T1, writtenMicros: T1 }, // another order: picked, not spliced
  } satisfies Record<string, EncodedOnlineRecord>;
  const bytes = Object.fromEntries(Object.entries(text).map(([key, record]) => [key, readAsBytes(record)]));
  const mixed = { ...bytes, 'user_names:1': text['user_names:1'], 'user_stats:4': text['user_stats:4'] };
  const ids = [1, 2, 3, 4, 1, 2];

  it('answers the same bytes as over text: values only and with metadata, multi-byte values, expired, missing and reordered records', () => {
    for (const metadata of [false, true]) {
      const expected = answer(ids, text, metadata);
      expect(answer(ids, bytes, metadata)).toBe(expected);
      expect(answer(ids, mixed, metadata)).toBe(expected);
    }
    const head = '{"decision_id":"d-1","service":"both","features":["name","spend","n"],"rows":[';
    expect(answer([4, 2], bytes, false)).toBe(`${head}{"values":[null,0.5,7]},{"values":["${long}",null,null]}]}`);
  });

  it('gives the decision log the same values, decoded from the bytes only there', () => {
    const served = (records: Record<string, EncodedOnlineRecord>) => {
      const { rows, plan, fragments, base } = assembled(ids, records, false);
      return decisionOf({ ...target, service: 'both' }, rows, plan, { fragments, base }, 'd-1', '2026-12-05T12:00:00.000Z');
    };
    const fromBytes = served(bytes);
    expect(fromBytes).toStrictEqual(served(text));
    expect(fromBytes.rows[1]!.values).toStrictEqual({ name: long, spend: null, n: null });
    expect(fromBytes.rows[3]!.values).toStrictEqual({ name: null, spend: 0.5, n: 7 });
  });
});
