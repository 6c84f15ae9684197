import type { EncodedOnlineRecord } from '../../connectors/online-store/online-store.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { modelInputName } from '../../core/validation/model.ts';
import { uuidv7 } from '../event-ids.ts';
import { assembleFragments, planReads } from '../serving/assemble-features.ts';
import { resolveServices } from '../serving/resolve-service.ts';
import { checkRequestShape, DEFAULT_SERVING_LIMITS, readEntityRows } from '../serving/serving-request.ts';
import { syntheticBody } from '../serving/warm-up.ts';
import { candidateInputs } from './candidate-inputs.ts';
import type { ModelVersions } from './model-versions.ts';
import { rankCandidates } from './rank-candidates.ts';

/**
 * Warms `POST /v1/decide`'s own steps when the server starts, after the serving warm-up
 * (server/serving/warm-up.ts, which compiles the body check, the keys, the read plan and the
 * fragments) and before the server takes traffic: the model's rows built from the fragments, the
 * scoring by each model's serving version, the ranking with exploration and the answer's JSON. The
 * first requests after a start count in the p99 like any other (bench/decide.ts): V8 interprets a
 * function until it has run often enough, and a WASM model (onnxruntime-web) starts in V8's baseline
 * compiler and is tiered up to its optimizing one only once it is hot.
 *
 * Synthetic rows, 1 and 100 per model (warm-up.ts's made-up keys), with stored records made up here
 * (a number for every numeric feature, true for a boolean, so an ONNX model scores finite numbers);
 * nothing is read from the store, counted in the metrics or logged as a decision. Best effort: a
 * model without a version loaded yet is skipped, a scorer that throws on made-up values is left
 * after its first failure; warming never stops the server from starting. Bounded by `rounds` per
 * model and `maxMs` overall. A version promoted later is loaded while the server serves and is not
 * warmed here.
 */
export interface DecideWarmUpOptions {
  /** Synthetic decisions per model and size. Default 200. */
  readonly rounds?: number;
  /** Stop warming after this long. Default 1,500 ms. */
  readonly maxMs?: number;
}

const SIZES = [1, 100] as const;

export async function warmUpDecide(project: ProjectSpec, versions: ModelVersions, options: DecideWarmUpOptions = {}): Promise<{ decisions: number; ms: number }> {
  const start = performance.now();
  const deadline = start + (options.maxMs ?? 1500);
  const rounds = options.rounds ?? 200;
  const services = resolveServices(project);
  let decisions = 0;
  for (const spec of Object.values(project.models ?? {})) {
    const target = services.get(spec.service);
    if (target?.kind !== 'target') continue;
    let scorer;
    try {
      scorer = await versions.get(spec.name);
    } catch {
      continue; // no version to score with yet: nothing to warm
    }
    const records = target.views.map((view) => syntheticRecord(project, view.view));
    const contextFields = Object.fromEntries(spec.inputs.flatMap((input) => ('request' in input ? [[input.request, 0.5]] : [])));
    const modelInputs = { inputs: spec.inputs.map(modelInputName), requestFields: new Set(Object.keys(contextFields)) };
    const requests = SIZES.map((size) => {
      const body = syntheticBody(target, size);
      return body === undefined ? undefined : readEntityRows(checkRequestShape(JSON.parse(body)), target, DEFAULT_SERVING_LIMITS);
    });
    warming: for (let round = 0; round < rounds && performance.now() < deadline; round++) {
      for (const rows of requests) {
        if (rows === undefined) continue;
        const plan = planReads(target, rows);
        const found: (EncodedOnlineRecord | undefined)[] = plan.requests.map((_, r) => records[plan.viewOf[r]!]);
        const nowMicros = Date.now() * 1000;
        const decisionId = uuidv7(Math.floor(nowMicros / 1000));
        const assembled = assembleFragments(target, plan, found, nowMicros);
        const inputs = candidateInputs(target, rows, plan, assembled, modelInputs, contextFields, Array.from({ length: rows.count }, () => ({})));
        let scores: Float64Array;
        try {
          scores = await scorer.score(inputs);
        } catch {
          break warming; // a model that refuses made-up values: the rest of its path is warmed by real requests
        }
        const eligible = Array.from({ length: inputs.length }, (_, index) => index);
        const slate = rankCandidates(scores, eligible, { topK: 10, epsilon: round % 2 === 0 ? 0.1 : 0 }, Math.random);
        JSON.stringify({ decision_id: decisionId, model: spec.name, version: scorer.version, explored: slate.explored, eligible: eligible.length, items: slate.shown.map((index, at) => ({ candidate: index, score: scores[index]!, propensity: slate.propensities[at]! })) });
        decisions++;
      }
    }
  }
  return { decisions, ms: performance.now() - start };
}

/** A stored record of every feature of `view`: a number for numeric features, true for booleans, null otherwise; an event time of now. */
function syntheticRecord(project: ProjectSpec, view: string): EncodedOnlineRecord | undefined {
  const spec = project.featureViews[view];
  if (!spec) return undefined;
  const features = Object.freeze(spec.features.map((f) => f.name));
  const values = `[${spec.features.map((f, i) => (NUMERIC.has(f.type) ? String(i + 0.25) : f.type === 'bool' ? 'true' : 'null')).join(',')}]`;
  const now = Date.now() * 1000;
  return { features, values, eventMicros: now, writtenMicros: now };
}

const NUMERIC = new Set<string>(['float64', 'float32', 'int64', 'int32']);
