import type { EncodedOnlineRecord, OnlineStore } from '../../connectors/online-store/online-store.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { uuidv7 } from '../event-ids.ts';
import { assembleFeatures, planReads } from './assemble-features.ts';
import { checkRequestShape, DEFAULT_SERVING_LIMITS, readEntityRows } from './serving-request.ts';
import type { HttpWarmUpOptions } from './warm-up-over-http.ts';
import { warmUpRequests, type WarmUpRequests } from './warm-up-requests.ts';

export { syntheticBody } from './warm-up-requests.ts';

/**
 * Warms `POST /v1/features`'s request path when the server starts, before it takes traffic: V8
 * interprets a function until it has run often enough, and on a small machine its optimizing
 * compiler then competes for the CPU with the requests being served. Measured in a fresh process
 * (bench/serving.ts), the first few thousand requests had p99s of 3–4 ms against 0.3–0.5 ms once
 * compiled. So each servable service's path is run on the requests warm-up-requests.ts chooses (1
 * and 100 rows of keys sampled from the store, when it holds any, and of synthetic keys), with and
 * without metadata: the body parsed and checked, the rows read, the reads planned, the store read
 * (real records come back for sampled keys: the store client's reply decoding and the stored-record
 * parse run as for the first real requests) and the answer assembled, from the records read for
 * sampled keys, from synthetic stored records for synthetic ones (the spliced path, also when the
 * store holds nothing). Nothing is counted in the metrics or logged as a decision.
 *
 * Best effort: a store that does not answer, or a service whose keys it cannot make up, is skipped;
 * warming never stops the server from starting. Bounded by `rounds` per service and `maxMs` overall.
 */
export interface ServingWarmUpOptions {
  /** Rounds of every request per service (each once with metadata or without, in turn). Default 300. */
  readonly rounds?: number;
  /** Stop warming after this long (the store's sample included). Default 1,000 ms (300 rounds took 0.4–0.6 s at load 5). */
  readonly maxMs?: number;
  /** Services warmed at most (the first ones by name). Default 20. */
  readonly maxServices?: number;
  /** The second half, over loopback (warm-up-over-http.ts): its rounds and time bound. */
  readonly overHttp?: Omit<HttpWarmUpOptions, 'maxServices'>;
}

export interface ServingWarmUpResult {
  readonly requests: number;
  /** Of `requests`, those of keys sampled from the store. */
  readonly realRequests: number;
  /** Keys sampled from the store, over every view. */
  readonly sampledKeys: number;
  /** Stored records the store returned (present for a sampled key), over every request. */
  readonly recordsRead: number;
  readonly ms: number;
}

export async function warmUpServing(project: ProjectSpec, store: OnlineStore, options: ServingWarmUpOptions = {}, chosen?: WarmUpRequests): Promise<ServingWarmUpResult> {
  const start = performance.now();
  const deadline = start + (options.maxMs ?? 1000);
  const rounds = options.rounds ?? 300;
  const requests = chosen ?? (await warmUpRequests(project, store, { deadline, ...(options.maxServices !== undefined ? { maxServices: options.maxServices } : {}) }));
  let served = 0;
  let realRequests = 0;
  let recordsRead = 0;
  let storeAnswers = true;
  for (const { target, bodies } of requests.services) {
    const records = target.views.map((view) => syntheticRecord(project, view.view));
    for (let round = 0; round < rounds && performance.now() < deadline; round++) {
      for (const body of bodies) {
        const shape = checkRequestShape(JSON.parse(body.text));
        const rows = readEntityRows(shape, target, DEFAULT_SERVING_LIMITS);
        const plan = planReads(target, rows);
        let read: (EncodedOnlineRecord | undefined)[] | undefined;
        if (storeAnswers) {
          try {
            read = await store.readEncoded(plan.requests);
          } catch {
            storeAnswers = false; // warmed without the store from now on; serving reports an unavailable store itself
          }
        }
        let found: (EncodedOnlineRecord | undefined)[];
        if (body.real && read !== undefined) {
          found = read;
          for (const record of read) if (record !== undefined) recordsRead++;
          realRequests++;
        } else {
          found = plan.requests.map((_, r) => records[plan.viewOf[r]!]);
        }
        const nowMicros = Date.now() * 1000;
        assembleFeatures(target, rows, plan, found, { decisionId: uuidv7(), nowMicros, metadata: round % 2 === 0 });
        served++;
      }
    }
  }
  return { requests: served, realRequests, sampledKeys: requests.sampledKeys, recordsRead, ms: performance.now() - start };
}

/** A stored record of every feature of `view`, with an event time of now (never expired). */
function syntheticRecord(project: ProjectSpec, view: string): EncodedOnlineRecord | undefined {
  const spec = project.featureViews[view];
  if (!spec) return undefined;
  const features = Object.freeze(spec.features.map((f) => f.name));
  const values = `[${features.map((_, i) => (i % 3 === 0 ? 'null' : String(i + 0.25))).join(',')}]`;
  const now = Date.now() * 1000;
  return { features, values, eventMicros: now, writtenMicros: now };
}
