import { describe, expect, it } from 'vitest';
import { entity, featureService, featureView, model, source } from '../index.ts';
import { DefinitionError } from '../core/errors.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { MODEL_INPUTS, type LogisticModel } from '../examples/slates/model.ts';
import { ipsEstimate } from '../examples/slates/slates-loop.ts';
import { evaluateFilter, FilterExpressionError, parseFilterExpression } from '../core/decide/filter-expression.ts';
import { splitVersion } from '../server/decide/ab-split.ts';
import { readDecideRequest } from '../server/decide/decide-request.ts';
import { propensityOf, rankCandidates } from '../server/decide/rank-candidates.ts';
import { decisionSampleFraction } from '../server/serving/decision-log.ts';

/** The pure parts of POST /v1/decide: filters, ranking with exploration and its propensities, A/B arms, the request's shape. */

/** Draws in the order given, then fails: a test states every draw the policy makes. */
function draws(...values: number[]): () => number {
  return () => {
    const next = values.shift();
    if (next === undefined) throw new Error('more draws than the test gave');
    return next;
  };
}

describe('filter expressions', () => {
  const keep = (text: string, row: Record<string, unknown>) => evaluateFilter(parseFilterExpression(text), row);

  it('lists the features an expression reads, each once, in order of first use', () => {
    expect(parseFilterExpression("price <= 50 AND (category IN ('books', 'music') OR price IS NULL) AND available").features).toEqual(['price', 'category', 'available']);
  });

  it('compares numbers, strings and booleans as SQL does', () => {
    expect(keep('available = true', { available: true })).toBe(true);
    expect(keep('available = true', { available: false })).toBe(false);
    expect(keep('available', { available: true })).toBe(true);
    expect(keep('price <= 50', { price: 50 })).toBe(true);
    expect(keep('price < 50', { price: 50 })).toBe(false);
    expect(keep('price <> 50', { price: 49.5 })).toBe(true);
    expect(keep('price != -1.5e1', { price: -15 })).toBe(false);
    expect(keep("category = 'it''s'", { category: "it's" })).toBe(true);
    expect(keep("category NOT IN ('books')", { category: 'music' })).toBe(true);
    expect(keep('NOT available', { available: false })).toBe(true);
    expect(keep('a > 1 OR b > 1 AND c > 1', { a: 2, b: 0, c: 0 })).toBe(true);
    expect(keep('(a > 1 OR b > 1) AND c > 1', { a: 2, b: 0, c: 0 })).toBe(false);
  });

  it('keeps a candidate only when the expression is true: a null (missing feature) makes a comparison unknown', () => {
    expect(keep('price <= 50', { price: null })).toBe(false);
    expect(keep('NOT (price <= 50)', { price: null })).toBe(false);
    expect(keep('price <= 50', {})).toBe(false);
    expect(keep('price IS NULL OR price <= 50', { price: null })).toBe(true);
    expect(keep('price IS NOT NULL', { price: 3 })).toBe(true);
    expect(keep("category IN ('books')", { category: null })).toBe(false);
    // Unknown AND false is false; unknown OR true is true.
    expect(keep('NOT (price > 1 AND available)', { price: null, available: false })).toBe(true);
    expect(keep('price > 1 OR available', { price: null, available: true })).toBe(true);
  });

  it('does not compare values of different types (a string feature compared with a number keeps nothing)', () => {
    expect(keep('category = 5', { category: '5' })).toBe(false);
    expect(keep('NOT (category = 5)', { category: '5' })).toBe(false);
  });

  it('refuses what does not parse, naming the character', () => {
    const failure = (text: string) => {
      try {
        parseFilterExpression(text);
      } catch (error) {
        expect(error).toBeInstanceOf(FilterExpressionError);
        return (error as Error).message;
      }
      throw new Error(`parsed ${text}`);
    };
    expect(failure('price <=')).toBe('filter "price <=": the expression ends too early at character 9');
    expect(failure('price = 1 extra')).toBe('filter "price = 1 extra": unexpected text after the expression at character 11');
    expect(failure("name = 'open")).toBe('filter "name = \'open": unterminated string at character 8');
    expect(failure('price ; 1')).toBe('filter "price ; 1": unexpected character ";" at character 7');
    expect(failure('price IS 3')).toBe('filter "price IS 3": expected NULL after IS at character 10');
    expect(failure('')).toBe('filter "": a filter must be a non-empty expression such as "available = true" at character 1');
  });
});

describe('ranking, top-k and epsilon-greedy exploration', () => {
  const scores = Float64Array.of(0.1, 0.9, 0.5, 0.9);

  it('ranks by score, ties by the earlier candidate, cuts to top-k; each shown item has propensity (1 - e) + e / n', () => {
    // 0.5 >= epsilon 0.2: the greedy slate. Greedy order: 1, 3 (tie with 1, later), 2, 0.
    const slate = rankCandidates(scores, [0, 1, 2, 3], { topK: 2, epsilon: 0.2 }, draws(0.5));
    expect(slate).toEqual({ shown: [1, 3], propensities: [0.8 + 0.05, 0.8 + 0.05], explored: false, greedy: [1, 3, 2, 0] });
  });

  it('explores with probability epsilon: the first k of a uniform shuffle, each item at its position with its exact propensity', () => {
    // 0.1 < 0.2: explore. Shuffle of [0,1,2,3]: position 0 takes index 0 + floor(0.6 * 4) = 2 -> [2,1,0,3];
    // position 1 takes 1 + floor(0 * 3) = 1 -> stays. Shown [2, 1]: neither is greedy's at its position: 0.2 / 4.
    expect(rankCandidates(scores, [0, 1, 2, 3], { topK: 2, epsilon: 0.2 }, draws(0.1, 0.6, 0))).toEqual({
      shown: [2, 1], propensities: [0.05, 0.05], explored: true, greedy: [1, 3, 2, 0],
    });
    // A random slate that happens to be the greedy one has the greedy items' propensity: 0.85.
    // Position 0: 0 + floor(0.25 * 4) = 1 -> [1,0,2,3]; position 1: 1 + floor(0.9 * 3) = 3 -> [1,3,2,0].
    expect(rankCandidates(scores, [0, 1, 2, 3], { topK: 2, epsilon: 0.2 }, draws(0.1, 0.25, 0.9)).propensities).toEqual([0.8 + 0.05, 0.8 + 0.05]);
  });

  it('ranks only the eligible candidates; n is their count', () => {
    // Candidates 1 and 3 were filtered out: greedy [2, 0]; epsilon 0 draws nothing.
    expect(rankCandidates(scores, [0, 2], { topK: 5, epsilon: 0 }, draws())).toEqual({ shown: [2, 0], propensities: [1, 1], explored: false, greedy: [2, 0] });
    // Always exploring: 1 / n everywhere.
    expect(rankCandidates(scores, [0, 2], { topK: 1, epsilon: 1 }, draws(0.3, 0.99)).propensities).toEqual([0.5]);
    expect(rankCandidates(scores, [], { topK: 3, epsilon: 0.5 }, draws())).toEqual({ shown: [], propensities: [], explored: false, greedy: [] });
  });

  it('propensities at each position add up to 1 over the candidates', () => {
    const greedy = [1, 3, 2, 0];
    for (const position of [0, 1, 2, 3]) {
      expect(greedy.reduce((sum, candidate) => sum + propensityOf(candidate, position, greedy, 0.3), 0)).toBeCloseTo(1, 12);
    }
  });
});

describe('A/B split by a stable hash of a context key', () => {
  const arms = [{ version: '3', share: 0.9 }, { version: '4', share: 0.1 }];

  it('picks the arm by where the hash of the model and the key falls among the declared shares', () => {
    for (const user of [1, 42, 'u-7', 1_000_003]) {
      const fraction = decisionSampleFraction(`ranker\u0000${user}`);
      expect(splitVersion('ranker', user, arms)).toBe(fraction < 0.9 ? '3' : '4');
      // Stable: the same user gets the same version every time.
      expect(splitVersion('ranker', user, arms)).toBe(splitVersion('ranker', user, arms));
    }
  });

  it('splits 10,000 users within 5 standard deviations of the shares', () => {
    let challenger = 0;
    for (let user = 0; user < 10_000; user++) if (splitVersion('ranker', user, arms) === '4') challenger++;
    // Binomial(10000, 0.1): mean 1000, standard deviation 30.
    expect(Math.abs(challenger - 1000)).toBeLessThan(150);
  });
});

describe('the request of POST /v1/decide', () => {
  const error = (body: unknown) => {
    try {
      readDecideRequest(body);
    } catch (e) {
      const api = e as { code: string; message: string };
      return `${api.code}: ${api.message}`;
    }
    throw new Error('accepted');
  };

  it('reads candidates with a context, an entity, filters, top-k, exploration and a split', () => {
    expect(readDecideRequest({ model: 'ranker', context: { user_id: 1 }, candidates: [{ item_id: 2 }], filters: ['in_stock'], topK: 3, explore: { epsilon: 0.1 } })).toEqual({
      model: 'ranker', version: undefined, split: undefined, context: { user_id: 1 }, rows: [{ item_id: 2 }], single: false, filters: ['in_stock'], topK: 3, epsilon: 0.1,
    });
    expect(readDecideRequest({ entity: { user_id: 1 }, split: { key: 'user_id', shares: { a: 0.25, b: 0.75 } } })).toMatchObject({
      rows: [{ user_id: 1 }], single: true, split: { key: 'user_id', arms: [{ version: 'a', share: 0.25 }, { version: 'b', share: 0.75 }] }, epsilon: 0, filters: [],
    });
  });

  it('refuses a malformed request, naming the field', () => {
    expect(error([])).toBe('invalid_request: the body must be a JSON object such as {"model": "<name>", "context": {...}, "candidates": [{...}]}, got an array');
    expect(error({ candidates: [], rank: 1 })).toBe('invalid_request: unknown field "rank"; a request has "model", "version", "split", "context", "candidates", "entity", "filters", "topK", "explore"');
    expect(error({ context: { user_id: 1 } })).toBe('invalid_request: give the rows to score: "candidates": [{...}] (with an optional "context": {...}), or "entity": {...}');
    expect(error({ candidates: [], topK: 0 })).toBe('invalid_request: "topK" must be a positive integer, got number 0');
    expect(error({ candidates: [], explore: { epsilon: 1.5 } })).toBe('invalid_request: "explore.epsilon" must be a number in [0, 1], got number 1.5');
    expect(error({ candidates: [], version: '1', split: { key: 'u', shares: { 1: 1 } } })).toBe('invalid_request: give "version" or "split", not both');
    expect(error({ candidates: [], split: { key: 'u', shares: { 1: 0.5, 2: 0.4 } } })).toBe('invalid_request: "split.shares" must add up to 1, got 0.9');
    expect(error({ candidates: [], filters: 'in_stock' })).toBe('invalid_request: "filters" must be an array of the model\'s filter names, got string "in_stock"');
    expect(error({ entity: { user_id: 1 }, candidates: [] })).toBe('invalid_request: give "entity", or "context" with "candidates", not both');
  });
});

describe('filters checked at flywheel plan', () => {
  const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
  const src = source({ name: 'src', table: 'raw.src', timestampField: 'ts', columns: { item_id: 'int64', ts: 'timestamp', price: 'float64', available: 'bool' } });
  const stats = featureView({ name: 'stats', entities: [item], source: src, features: { price: 'float64', available: 'bool' } });
  const service = featureService({ name: 'ranking', features: [stats] });
  const withFilters = (filters: Record<string, string>) =>
    model({ name: 'ranker', service, inputs: ['price', { request: 'hour' }], output: { name: 'p', kind: 'probability' }, artifact: { format: 'onnx' }, filters });
  const validate = (filters: Record<string, string>) => validateProject([item, src, stats, service, withFilters(filters)].map((definition) => ({ file: 'defs.ts', definition })));

  it('accepts filters over the service\'s features and the request inputs', () => {
    expect(validate({ in_stock: 'available = true', day: 'hour >= 6 AND price < 10' }).models.ranker?.filters).toEqual({ in_stock: 'available = true', day: 'hour >= 6 AND price < 10' });
  });

  it('reports a filter that does not parse, or reads what the model cannot see, naming the filter', () => {
    try {
      validate({ broken: 'price <=', colour: "colour = 'red' OR available" });
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(DefinitionError);
      expect((error as DefinitionError).issues.map((i) => `${i.object} ${i.field}: ${i.message}`)).toEqual([
        'ranker filters.broken: filter "price <=": the expression ends too early at character 9',
        'ranker filters.colour: filter "colour" reads "colour", which is neither a feature of feature service "ranking" nor a request input of the model; it can read price, available, hour',
      ]);
    }
  });
});

describe('the slates demo\'s inverse-propensity estimate of the next ranker\'s CTR', () => {
  // Only the rating counts: the ranker orders each decision's candidates by rating.
  const byRating: LogisticModel = {
    inputs: [...MODEL_INPUTS], means: MODEL_INPUTS.map(() => 0), stds: MODEL_INPUTS.map((_, j) => (j === 0 ? 1 : 0)),
    weights: MODEL_INPUTS.map((_, j) => (j === 0 ? 1 : 0)), bias: 0, rows: 0, positives: 0,
  };
  const row = (decision: string, index: number, rating: number, shown: number | null, label: number) =>
    ({ decision_id: decision, row_index: index, item_id: index, rating, shown_position: shown, shown_policy: 'explore', label }) as Parameters<typeof ipsEstimate>[1][number];

  it('counts a logged click 1 / its propensity where the ranker would show the same item at the same position, per slot', () => {
    const rows = [
      // a: the ranker shows 1 then 0; the log showed 1 (clicked) then 2. One match, at position 0: 1 / 0.5 = 2.
      row('a', 0, 3, null, 0), row('a', 1, 5, 0, 1), row('a', 2, 1, 1, 0),
      // b: the ranker shows 0 then 1; the log showed them the other way round: no match, though both were clicked.
      row('b', 0, 4, 1, 1), row('b', 1, 2, 0, 1), row('b', 2, 1, null, 0),
    ];
    // 4 slots, sum 2: CTR 0.5; contributions 2, 0, 0, 0: standard error sqrt((4 / 4 - 0.25) / 3) = 0.5.
    expect(ipsEstimate(byRating, rows, 2, () => 0.5)).toEqual({ ctr: 0.5, standardError: 0.5, decisions: 2, matched: 1 });
  });
});
