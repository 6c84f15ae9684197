import { describe, expect, it } from 'vitest';
import { entity, featureService, featureView, source } from '../index.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { ValueProblem } from '../server/validation/value-normalizers.ts';
import { resolveFeatureList, resolveServices, type ServingTarget } from '../server/serving/resolve-service.ts';
import { keyValue } from '../server/serving/serving-request.ts';

// What serving works out once per service (pure), and how join key values are read: no server here.

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
const day = entity({ name: 'day', joinKeys: { day: 'date' } });
const shop = entity({ name: 'shop', joinKeys: { shop_id: 'string', region: 'int32' } });
const otherUser = entity({ name: 'other_user', joinKeys: { user_id: 'string' } });
const score = entity({ name: 'score', joinKeys: { bucket: 'float64' } });
const src = source({
  name: 'src', table: 'raw.src', timestampField: 'ts',
  columns: { user_id: 'int64', day: 'date', shop_id: 'string', region: 'int32', bucket: 'float64', ts: 'timestamp', a: 'int64', b: 'string', c: 'float64', d: 'int64', e: 'int64' },
});
const userDay = featureView({ name: 'user_day', entities: [user, day], source: src, ttl: '2d', features: { a: 'int64', b: 'string' } });
const shopStats = featureView({ name: 'shop_stats', entities: [shop], source: src, features: { c: 'float64' } });
const otherSrc = source({ name: 'other_src', table: 'raw.other', timestampField: 'ts', columns: { user_id: 'string', ts: 'timestamp', d: 'int64' } });
const byOther = featureView({ name: 'by_other', entities: [otherUser], source: otherSrc, features: { d: 'int64' } });
const byScore = featureView({ name: 'by_score', entities: [score], source: src, features: { e: 'int64' } });
const project = validateProject(
  [
    user, day, shop, otherUser, score, src, otherSrc, userDay, shopStats, byOther, byScore,
    featureService({ name: 'mixed', features: [{ view: userDay, features: ['b'] }, shopStats, { view: userDay, features: ['a'] }] }),
    featureService({ name: 'clash', features: [userDay, byOther] }),
    featureService({ name: 'floaty', features: [byScore] }),
  ].map((definition) => ({ definition })),
);

describe('resolveServices', () => {
  const services = resolveServices(project);

  it('lays out output columns in declared order, keys once in order of first use, one read per view', () => {
    const mixed = services.get('mixed') as ServingTarget;
    expect(mixed.kind).toBe('target');
    expect(mixed.features).toEqual(['b', 'c', 'a']);
    expect(mixed.featuresJson).toBe('["b","c","a"]');
    expect(mixed.keys).toEqual([
      { name: 'user_id', type: 'int64' }, { name: 'day', type: 'date' }, { name: 'shop_id', type: 'string' }, { name: 'region', type: 'int32' },
    ]);
    expect(mixed.views).toEqual([
      { view: 'user_day', keyIndexes: [0, 1], ttlSeconds: 172_800, groups: [0, 2] },
      { view: 'shop_stats', keyIndexes: [2, 3], ttlSeconds: null, groups: [1] },
    ]);
    expect(mixed.groups.map((g) => ({ view: g.viewIndex, at: g.indexInView, features: g.features, present: g.present, nulls: g.nulls }))).toEqual([
      { view: 0, at: 0, features: ['b'], present: '"present"', nulls: 'null' },
      { view: 1, at: 0, features: ['c'], present: '"present"', nulls: 'null' },
      { view: 0, at: 1, features: ['a'], present: '"present"', nulls: 'null' },
    ]);
  });

  it('says why a service cannot be served', () => {
    expect(services.get('clash')).toEqual({
      kind: 'unservable', service: 'clash',
      problem: 'join key user_id is int64 in entity "user" but string in entity "other_user"; one request row cannot hold both',
    });
    expect(services.get('floaty')).toEqual({
      kind: 'unservable', service: 'floaty',
      problem: 'entity "score" has join key bucket of type float64; online keys are integers, strings, dates or timestamps',
    });
  });

  it('resolves view:feature lists, grouping consecutive features of a view', () => {
    const list = resolveFeatureList(project, ['user_day:a', 'user_day:b', 'shop_stats:c']);
    expect(list.service).toBeUndefined();
    expect(list.groups.map((g) => g.features)).toEqual([['a', 'b'], ['c']]);
    expect(list.groups[0]!.expired).toBe('"expired","expired"');
    expect(() => resolveFeatureList(project, ['user_day:a', 'user_day:a'])).toThrow('"user_day:a" is listed twice');
    expect(() => resolveFeatureList(project, ['nope:a'])).toThrow('no feature view "nope"; feature views: user_day, shop_stats, by_other, by_score');
    expect(() => resolveFeatureList(project, ['user_day:a:b'])).toThrow('a feature reference is "<view>:<feature>", got "user_day:a:b"');
  });
});

describe('keyValue', () => {
  const problem = (type: Parameters<typeof keyValue>[0], value: unknown) => {
    const read = keyValue(type, value);
    return read instanceof ValueProblem ? read.message : read;
  };

  it('reads keys as the online store keys them', () => {
    expect(keyValue('int64', 42)).toBe(42);
    expect(keyValue('int64', '42')).toBe(42);
    expect(keyValue('int64', '-9223372036854775808')).toBe(-9223372036854775808n);
    expect(keyValue('int32', 7)).toBe(7);
    expect(keyValue('string', '42')).toBe('42');
    expect(keyValue('date', '2024-02-29')).toBe('2024-02-29');
    expect(keyValue('timestamp', '2024-05-01T14:00:00.123456+02:00')).toBe('2024-05-01T12:00:00.123456Z');
    expect(keyValue('timestamp', 1714564800000)).toBe('2024-05-01T12:00:00.000Z');
  });

  it('refuses the rest with the log API messages', () => {
    expect(problem('string', 42)).toBe('expected string, got number 42');
    expect(problem('int32', 2 ** 31)).toBe('2147483648 is outside the int32 range (-2147483648 to 2147483647)');
    expect(problem('int64', '9223372036854775808')).toBe('9223372036854775808 is outside the int64 range');
    expect(problem('date', '2023-02-29')).toBe('"2023-02-29" is not a valid date');
    expect(problem('int64', null)).toBe('a join key must not be null');
  });
});
