import { describe, expect, it } from 'vitest';
import { entity, featureService, featureView, model, source } from '../index.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { denseOnnxModel } from '../core/models/onnx-writer.ts';
import { scorerModel } from '../connectors/model-runtime/index.ts';
import { fillNumbersOf, RowObjects } from '../connectors/model-runtime/model-inputs.ts';
import type { EncodedOnlineRecord } from '../connectors/online-store/online-store.ts';
import { candidateInputs } from '../server/decide/candidate-inputs.ts';
import { assembleFragments, planReads } from '../server/serving/assemble-features.ts';
import { resolveServices, type ServingTarget } from '../server/serving/resolve-service.ts';
import { checkRequestShape, DEFAULT_SERVING_LIMITS, readEntityRows } from '../server/serving/serving-request.ts';

/**
 * The rows /v1/decide hands a model, read by input position straight from the stored records
 * (server/decide/candidate-inputs.ts): the same values, in the same precedence, as the row objects
 * they replace, and the same scores from an ONNX model.
 */

const item = entity({ name: 'item', joinKeys: { item_id: 'int64' } });
const items = source({ name: 'items', table: 'items', timestampField: 'ts', columns: { item_id: 'int64', ts: 'timestamp', price: 'float64', affinity: 'float64', boost: 'float64' } });
const view = featureView({ name: 'item_features', entities: [item], source: items, ttl: '30d', online: true, features: { price: 'float64', affinity: 'float64' } });
const ranking = featureService({ name: 'ranking', features: [view] });
const ranker = model({ name: 'ranker', service: ranking, inputs: ['affinity', { request: 'boost' }, 'price'], output: { name: 'score', kind: 'score' }, artifact: { format: 'onnx' } });
const project = validateProject([item, items, view, ranking, ranker].map((definition) => ({ file: 'test', definition })));
const target = resolveServices(project).get('ranking') as ServingTarget;

const NOW = 1_700_000_000_000_000;
const features = Object.freeze(['price', 'affinity']);
/** Item 1 stored, item 2 stored without an affinity (null), item 3 never written. */
const stored: Record<number, EncodedOnlineRecord> = {
  1: { features, values: '[2.5,0.75]', eventMicros: NOW - 1_000_000, writtenMicros: NOW },
  2: { features, values: '[-0,null]', eventMicros: NOW - 1_000_000, writtenMicros: NOW },
  // Not what a float64 view stores, but what the readers must survive: a nested value and a string.
  4: { features, values: '[[1,2],1e-300]', eventMicros: NOW - 1_000_000, writtenMicros: NOW },
  5: { features, values: '["cheap",true]', eventMicros: NOW - 1_000_000, writtenMicros: NOW },
};

function inputsOf(ids: number[], context: Record<string, unknown>, own: Record<string, unknown>[]) {
  const rows = readEntityRows(checkRequestShape({ service: 'ranking', candidates: ids.map((item_id) => ({ item_id })) }), target, DEFAULT_SERVING_LIMITS);
  const plan = planReads(target, rows);
  const found = plan.requests.map((request) => stored[Number(request.key[0])]);
  const assembled = assembleFragments(target, plan, found, NOW);
  return candidateInputs(target, rows, plan, assembled, { inputs: ['affinity', 'boost', 'price'], requestFields: new Set(['boost']) }, context, own);
}

describe('the candidates as a model reads them', () => {
  it('gives each input by position: stored values, null for a missing record or value, the candidate\'s request field over the context\'s', () => {
    const inputs = inputsOf([1, 2, 3, 1], { boost: 10 }, [{}, { boost: 20 }, {}, { boost: null }]);
    expect(inputs.length).toBe(4);
    const table = Array.from({ length: 4 }, (_, r) => [0, 1, 2].map((c) => inputs.value(r, c)));
    expect(table).toEqual([[0.75, 10, 2.5], [null, 20, -0], [null, 10, null], [0.75, null, 2.5]]);
    expect(Object.is(inputs.value(1, 2), -0)).toBe(true);
    // The row objects, built only when asked (filters, TypeScript models), hold the same.
    expect(inputs.row(1)).toEqual({ price: -0, affinity: null, boost: 20 });
    expect(inputs.row(2)).toEqual({ price: null, affinity: null, boost: 10 });
  });

  it('reads a subset in the order given, with row numbers counted in it', () => {
    const subset = inputsOf([1, 2, 3], {}, [{ boost: 1 }, { boost: 2 }, { boost: 3 }]).subset([2, 0]);
    expect(subset.length).toBe(2);
    expect([subset.value(0, 1), subset.value(1, 1), subset.value(1, 0)]).toEqual([3, 1, 0.75]);
    expect(subset.row(0)).toEqual({ price: null, affinity: null, boost: 3 });
  });

  it('fills a model\'s float32 inputs from the parsed records as the value-by-value path does, and stops at the first value that is not a number', () => {
    const inputs = inputsOf([1, 2, 3, 1], { boost: 10 }, [{}, { boost: 20 }, {}, { boost: true }]);
    const fast = new Float32Array(12);
    expect(inputs.fillNumbers(fast)).toBe(-1);
    const slow = new Float32Array(12);
    expect(fillNumbersOf(new RowObjects([0, 1, 2, 3].map((r) => inputs.row(r)), ['affinity', 'boost', 'price']), 3, slow)).toBe(-1);
    expect(Array.from(fast)).toEqual(Array.from(slow));
    expect(Array.from(fast)).toEqual([0.75, 10, 2.5, Number.NaN, 20, -0, Number.NaN, 10, Number.NaN, 0.75, 1, 2.5]);
    // A subset, in its own order.
    const subset = new Float32Array(6);
    expect(inputs.subset([3, 0]).fillNumbers(subset)).toBe(-1);
    expect(Array.from(subset)).toEqual([0.75, 1, 2.5, 0.75, 10, 2.5]);
    // Item 4's price is an array (parsed by JSON.parse, then refused): row 1, input 2 is cell 5; its affinity 1e-300 is 0 in float32.
    const nested = new Float32Array(6);
    expect(inputsOf([1, 4], { boost: 1 }, [{}, {}]).fillNumbers(nested)).toBe(5);
    expect(Array.from(nested.subarray(0, 5))).toEqual([0.75, 1, 2.5, 0, 1]);
    // Item 5's price is a string: cell 2 of row 0; a request field that is a string: cell 1.
    expect(inputsOf([5], { boost: 1 }, [{}]).fillNumbers(new Float32Array(3))).toBe(2);
    expect(inputsOf([1], { boost: 'high' }, [{}]).fillNumbers(new Float32Array(3))).toBe(1);
  });

  it('scores the same with an ONNX model as the row objects do, and names the row of a null input', async () => {
    // score = 2·affinity + 1·boost − 0.5·price, a linear layer written as ONNX.
    const bytes = denseOnnxModel({ inputWidth: 3, layers: [{ weights: [[2], [1], [-0.5]], bias: [0], activation: 'none' }] });
    const scorer = await scorerModel(project.models.ranker!, { version: 'v1', file: 'ranker.onnx', bytes, projectRoot: process.cwd() });
    const inputs = inputsOf([1, 1], { boost: 1 }, [{}, { boost: 4 }]);
    expect(Array.from(await scorer.score(inputs))).toEqual([1.25, 4.25]);
    expect(Array.from(await scorer.score([inputs.row(0), inputs.row(1)]))).toEqual([1.25, 4.25]);
    await expect(scorer.score(inputsOf([1, 2], { boost: 1 }, [{}, {}]))).rejects.toThrow('model "ranker" version v1, row 1: the model returned NaN (inputs null or missing: affinity)');
    await expect(scorer.score(inputsOf([1, 5], { boost: 1 }, [{}, {}]))).rejects.toThrow('model "ranker" version v1, row 1: input "price" is "cheap"; an ONNX model\'s inputs are numbers or booleans');
  });
});
