/**
 * Where a `POST /v1/decide` request's time goes, stage by stage, in one process (issue 18, item 2):
 * the same steps as server/decide/decision-api.ts on the same data as bench/decide.ts (10,000 items ×
 * 50 float features in a redis-server started here, the 9,985-parameter ONNX MLP, 100 random
 * candidates, top 10, epsilon 0.1), each timed on its own over `--requests` rounds after `--warm-up`
 * untimed ones. The HTTP layers (the socket, Hono or the Node route) are not in here: bench/decide.ts
 * measures the whole request; the difference is theirs.
 *
 * Stages: the body parsed and checked; the rows' keys read; the reads planned; the online store's
 * MGET (a real round trip); the answer's fragments assembled; each candidate's fragments located; the
 * input tensor filled by the typed loop; `session.run` alone (onnxruntime-web, WASM, one thread) on that tensor; `score` as
 * the route calls it (tensor, run and checks); ranking and exploration; the response encoded; and
 * what the decision log does later off the request's path (the decision spelt out, its 100 events
 * built, validated and framed by the stream's ingest into a segment log with fsync: `--log`).
 *
 *   npx tsx bench/decide-stages.ts [--requests 2000] [--warm-up 300] [--candidates 100] [--features 50] [--hidden 192]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { scorerModel } from '../connectors/model-runtime/load-model-version.ts';
import { RedisOnlineStore } from '../connectors/online-store/redis/redis-online-store.ts';
import { decisionLayoutsOf } from '../core/definitions/decision-stream.ts';
import { candidateInputs } from '../server/decide/candidate-inputs.ts';
import { readDecideRequest } from '../server/decide/decide-request.ts';
import { rankCandidates } from '../server/decide/rank-candidates.ts';
import { uuidv7 } from '../server/event-ids.ts';
import { openSegmentLog } from '../connectors/log-store/segment-log/index.ts';
import { assembleFragments, decisionOf, planReads } from '../server/serving/assemble-features.ts';
import { decisionEvents } from '../server/serving/decision-log.ts';
import { resolveServices, type ServingTarget } from '../server/serving/resolve-service.ts';
import { DEFAULT_SERVING_LIMITS, readEntityRows } from '../server/serving/serving-request.ts';
import { StreamIngest } from '../server/stream-ingest.ts';
import { streamSchemasOf } from '../server/stream-schema.ts';
import { isoFromMicros } from '../connectors/online-store/online-time.ts';
import { decideProject, mlpBytes, valuesOf } from './decide.ts';
import { percentile } from './measure.ts';
import { startRedis } from './redis-server.ts';

const KEY_PREFIX = 'fw:bench:';
const MODEL = 'bench_ranker';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { requests: { type: 'string' }, 'warm-up': { type: 'string' }, candidates: { type: 'string' }, features: { type: 'string' }, hidden: { type: 'string' }, entities: { type: 'string' } } });
  const requests = Number(values.requests ?? 2_000);
  const warmUp = Number(values['warm-up'] ?? 300);
  const candidates = Number(values.candidates ?? 100);
  const features = Number(values.features ?? 50);
  const hidden = Number(values.hidden ?? 192);
  const entities = Number(values.entities ?? 10_000);
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-decide-stages-'));
  const redis = await startRedis(dir);
  try {
    const project = decideProject(features, { logged: true });
    const names = Array.from({ length: features }, (_, i) => `f${i}`);
    const store = new RedisOnlineStore({ url: redis.url, keyPrefix: KEY_PREFIX });
    const eventMicros = Date.now() * 1000;
    for (let first = 0; first < entities; first += 10_000) {
      const rows = [];
      for (let id = first; id < Math.min(entities, first + 10_000); id++) rows.push({ key: [id], eventMicros, values: JSON.stringify(valuesOf(id, features)) });
      await store.writeEncoded({ view: 'item_features', features: names, rows });
    }
    const { bytes, parameters } = mlpBytes(features, hidden);
    const spec = project.models[MODEL]!;
    const model = await scorerModel(spec, { version: 'v1', file: 'bench.onnx', bytes, projectRoot: dir });
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(bytes);
    const target = resolveServices(project).get('ranking') as ServingTarget;
    const layout = [...decisionLayoutsOf(project).values()].find((l) => l.service === 'ranking')!;
    const segmentLog = await openSegmentLog({ stateDir: join(dir, 'state'), streams: [layout.stream], log: () => undefined });
    const schema = streamSchemasOf(project).find((s) => s.name === layout.stream)!;
    const ingest = new StreamIngest(schema, segmentLog, { recentIds: 1000, maxIssues: 100 });

    // The model's inputs as the decide path keeps them: one object, so their sources are computed once.
    const modelInputs = { inputs: names, requestFields: new Set<string>() };
    const samples = new Map<string, number[]>();
    let keep = false;
    const time = <T>(stage: string, work: () => T): T => {
      const start = performance.now();
      const out = work();
      if (keep) (samples.get(stage) ?? samples.set(stage, []).get(stage)!).push(performance.now() - start);
      return out;
    };
    const timeAsync = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
      const start = performance.now();
      const out = await work();
      if (keep) (samples.get(stage) ?? samples.set(stage, []).get(stage)!).push(performance.now() - start);
      return out;
    };

    const one = async () => {
      const body = JSON.stringify({ model: MODEL, candidates: Array.from({ length: candidates }, () => ({ item_id: Math.floor(Math.random() * entities) })), topK: 10, explore: { epsilon: 0.1 } });
      const request = time('1 parse + check body', () => readDecideRequest(JSON.parse(body)));
      const rows = time('2 read rows\' keys', () => readEntityRows({ body: { candidates: request.rows }, service: undefined, features: undefined, metadata: true }, target, DEFAULT_SERVING_LIMITS));
      const plan = time('3 plan reads', () => planReads(target, rows));
      const found = await timeAsync('4 online store MGET (Redis)', () => store.readEncoded(plan.requests));
      const nowMicros = Date.now() * 1000;
      const decisionId = uuidv7(Math.floor(nowMicros / 1000));
      const assembled = time('5 assemble fragments', () => assembleFragments(target, plan, found, nowMicros));
      const inputs = time('6 candidates\' fragments located', () => candidateInputs(target, rows, plan, assembled, modelInputs, {}, Array.from({ length: rows.count }, () => ({}))));
      const data = time('7 input tensor filled', () => {
        const out = new Float32Array(inputs.length * features);
        inputs.fillNumbers(out);
        return out;
      });
      await timeAsync('8 session.run alone (WASM)', () => session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, [inputs.length, features]) }));
      const eligible = Array.from({ length: inputs.length }, (_, i) => i);
      const scores = await timeAsync('9 score() as the route calls it', () => model.score(inputs));
      const slate = time('10 rank + explore', () => rankCandidates(scores, eligible, { topK: 10, epsilon: 0.1 }, Math.random));
      time('11 response encoded', () => JSON.stringify({ decision_id: decisionId, model: MODEL, version: 'v1', explored: slate.explored, eligible: eligible.length, items: slate.shown.map((index, at) => ({ candidate: index, keys: { item_id: rows.columns[0]![index] }, score: scores[index], propensity: slate.propensities[at] })) }));
      // Off the request's path (after the answer): what the decision log does with it.
      const served = time('L1 decision spelt out (decisionOf)', () => decisionOf({ ...target, service: 'ranking' }, rows, plan, assembled, decisionId, isoFromMicros(nowMicros)));
      const rank = new Map(slate.greedy.map((index, at) => [index, at]));
      const position = new Map(slate.shown.map((index, at) => [index, at]));
      const scoring = { model: MODEL, version: 'v1', explored: slate.explored, rows: Array.from({ length: inputs.length }, (_, index) => ({ score: scores[index]!, rank: rank.get(index) ?? null, position: position.get(index) ?? null, propensity: position.has(index) ? slate.propensities[position.get(index)!]! : null })) };
      const events = time('L2 decision events built', () => decisionEvents({ ...served, scoring }, layout));
      const accepted = time('L3 ingest: validate + frame', () => ingest.accept({ events }, new Date().toISOString()));
      await timeAsync('L4 durable (append + fsync)', () => accepted.durable);
    };
    for (let i = 0; i < warmUp; i++) await one();
    keep = true;
    for (let i = 0; i < requests; i++) await one();
    await segmentLog.close();
    await store.close();

    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
    process.stdout.write(`decide stages: ${candidates} candidates × ${features} features, MLP ${features}-${hidden}-1 (${parameters} parameters), ${requests} rounds after ${warmUp}; load ${load}\n`);
    process.stdout.write(`${'stage'.padEnd(40)} ${'mean'.padStart(8)} ${'p50'.padStart(8)} ${'p99'.padStart(8)}  (ms)\n`);
    for (const [stage, xs] of [...samples].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))) {
      const sorted = [...xs].sort((a, b) => a - b);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      process.stdout.write(`${stage.padEnd(40)} ${mean.toFixed(3).padStart(8)} ${percentile(sorted, 50).toFixed(3).padStart(8)} ${percentile(sorted, 99).toFixed(3).padStart(8)}\n`);
    }
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`decide stages failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
