import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { entity, featureService, featureView, model, source } from '../index.ts';
import { readDecideRequest } from '../server/decide/decide-request.ts';
import { explorationDraws, secretOf } from '../server/decide/exploration-draws.ts';
import { uniformSlate } from '../server/decide/rank-candidates.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { FlywheelError } from '../core/errors.ts';
import { ApiError } from '../server/api-errors.ts';

/**
 * The keyed exploration draws of POST /v1/decide (server/decide/exploration-draws.ts), the cold
 * start's slate (uniformSlate), `explore.key` in the request and `coldStart` in a model's definition.
 * The draws are checked against HMAC-SHA256 computed here with node:crypto, byte by byte.
 */

const SECRET = secretOf('a configured secret');

describe('exploration draws', () => {
  it('are the top 53 bits of each 8 bytes of HMAC-SHA256(secret, model NUL key NUL block), four per block', () => {
    const block0 = createHmac('sha256', 'a configured secret').update('ranker\u0000request-7\u00000').digest();
    const block1 = createHmac('sha256', 'a configured secret').update('ranker\u0000request-7\u00001').digest();
    const of = (bytes: Buffer, at: number) => Number(bytes.readBigUInt64BE(at) >> 11n) / 2 ** 53;
    const draws = explorationDraws(SECRET, 'ranker', 'request-7');
    expect(Array.from({ length: 6 }, () => draws())).toEqual([of(block0, 0), of(block0, 8), of(block0, 16), of(block0, 24), of(block1, 0), of(block1, 8)]);
  });

  it('depend on the secret, the model and the key alone: the same three give the same draws, any other gives others', () => {
    const first = (secret: Buffer, modelName: string, key: string) => explorationDraws(secret, modelName, key)();
    expect(first(secretOf('a configured secret'), 'ranker', 'k')).toBe(first(SECRET, 'ranker', 'k'));
    expect(first(SECRET, 'ranker', 'k')).not.toBe(first(SECRET, 'ranker', 'k2'));
    expect(first(SECRET, 'ranker', 'k')).not.toBe(first(SECRET, 'other', 'k'));
    expect(first(secretOf('another secret'), 'ranker', 'k')).not.toBe(first(SECRET, 'ranker', 'k'));
    // No configured secret: 32 random bytes per server, so two servers draw differently.
    expect(secretOf(undefined)).toHaveLength(32);
    expect(secretOf(undefined).equals(secretOf(undefined))).toBe(false);
  });

  it('are uniform: of 10,000 keys, the share drawing below 0.3 is within 5 standard deviations of 0.3, and every draw is in [0, 1)', () => {
    const n = 10_000;
    const draws = Array.from({ length: n }, (_, i) => explorationDraws(SECRET, 'ranker', `decision-${i}`)());
    expect(draws.every((d) => d >= 0 && d < 1)).toBe(true);
    const below = draws.filter((d) => d < 0.3).length;
    expect(Math.abs(below - 0.3 * n)).toBeLessThan(5 * Math.sqrt(n * 0.3 * 0.7));
  });
});

describe('the cold start\'s slate', () => {
  it('is the first k of a uniform shuffle of the eligible candidates, each at 1 / n, with no greedy order', () => {
    const given = (...values: number[]) => () => values.shift()!;
    // Eligible [0, 2, 3, 5]: position 0 takes index 0 + floor(0.6 * 4) = 2 -> [3, 2, 0, 5]; position 1 takes 1 + floor(0.9 * 3) = 3 -> [3, 5, 0, 2].
    expect(uniformSlate([0, 2, 3, 5], 2, given(0.6, 0.9))).toEqual({ shown: [3, 5], propensities: [0.25, 0.25], explored: true, greedy: [] });
    // topK beyond the eligible: every one shown; one candidate: propensity 1; none: an empty slate.
    expect(uniformSlate([4, 1], 5, given(0, 0.99))).toEqual({ shown: [4, 1], propensities: [0.5, 0.5], explored: true, greedy: [] });
    expect(uniformSlate([7], 1, given(0.5))).toEqual({ shown: [7], propensities: [1], explored: true, greedy: [] });
    expect(uniformSlate([], 3, given())).toEqual({ shown: [], propensities: [], explored: true, greedy: [] });
  });
});

describe('explore.key in the request', () => {
  const error = (body: unknown): string => {
    try {
      readDecideRequest(body);
    } catch (caught) {
      if (caught instanceof ApiError) return `${caught.code}: ${caught.message}`;
      throw caught;
    }
    throw new Error('accepted');
  };

  it('is read with epsilon, and absent by default', () => {
    expect(readDecideRequest({ candidates: [{ item_id: 1 }], explore: { epsilon: 0.2, key: 'r-81' } })).toMatchObject({ epsilon: 0.2, exploreKey: 'r-81' });
    expect(readDecideRequest({ candidates: [{ item_id: 1 }], explore: { epsilon: 0.2 } })).toMatchObject({ epsilon: 0.2, exploreKey: undefined });
    expect(readDecideRequest({ candidates: [{ item_id: 1 }] })).toMatchObject({ epsilon: 0, exploreKey: undefined });
  });

  it('must be a non-empty string of at most 256 characters', () => {
    const message = (got: string) => `invalid_request: "explore.key" must be a non-empty string of at most 256 characters (one per decision, such as a request id), got ${got}`;
    expect(error({ candidates: [], explore: { epsilon: 0.1, key: 7 } })).toBe(message('number 7'));
    expect(error({ candidates: [], explore: { epsilon: 0.1, key: '' } })).toBe(message('string ""'));
    expect(error({ candidates: [], explore: { epsilon: 0.1, key: 'k'.repeat(257) } })).toMatch(/^invalid_request: "explore.key" must be a non-empty string of at most 256 characters \(one per decision, such as a request id\), got /);
    expect(readDecideRequest({ candidates: [], explore: { epsilon: 0.1, key: 'k'.repeat(256) } }).exploreKey).toHaveLength(256);
    expect(error({ candidates: [], explore: { epsilon: 0.1, seed: 'x' } })).toBe('invalid_request: "explore" must be {"epsilon": <chance in [0, 1]>} with an optional "key": "<text>", got an object');
  });
});

describe('coldStart in a model\'s definition', () => {
  const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
  const src = source({ name: 'src', table: 'raw.src', timestampField: 'ts', columns: { user_id: 'int64', ts: 'timestamp', affinity: 'float64' } });
  const stats = featureView({ name: 'user_stats', entities: [user], source: src, features: { affinity: 'float64' } });
  const service = featureService({ name: 'ranking', features: [stats] });
  const project = (coldStart: unknown) => validateProject([user, src, stats, service, model({
    name: 'ranker', service, inputs: ['affinity'], output: { name: 'score', kind: 'score' }, artifact: { format: 'onnx' }, ...(coldStart === undefined ? {} : { coldStart: coldStart as 'uniform-random' }),
  })].map((definition) => ({ file: 'definitions/models.ts', definition })));

  it('is kept in the spec when declared, and absent otherwise', () => {
    expect(project('uniform-random').models.ranker!.coldStart).toBe('uniform-random');
    expect(project(undefined).models.ranker).not.toHaveProperty('coldStart');
  });

  it('is refused at plan time when it names no policy, with the field', () => {
    let caught: unknown;
    try {
      project('softmax');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlywheelError);
    expect((caught as Error).message).toBe('Invalid definition:\n  - definitions/models.ts, model "ranker", field "coldStart": expected "uniform-random" (how /v1/decide decides before any version is promoted), got "softmax"');
  });
});
