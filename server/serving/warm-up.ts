import type { EncodedOnlineRecord, OnlineKeyPart, OnlineStore } from '../../connectors/online-store/online-store.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import type { ValueType } from '../../core/types.ts';
import { uuidv7 } from '../event-ids.ts';
import { assembleFeatures, planReads } from './assemble-features.ts';
import { resolveServices, type ServingTarget } from './resolve-service.ts';
import { checkRequestShape, DEFAULT_SERVING_LIMITS, readEntityRows } from './serving-request.ts';

/**
 * Warms `POST /v1/features`'s request path when the server starts, before it takes traffic: V8
 * interprets a function until it has run often enough, and on a small machine its optimizing
 * compiler then competes for the CPU with the requests being served. Measured in a fresh process
 * (bench/serving.ts), the first few thousand requests had p99s of 3–4 ms against 0.3–0.5 ms once
 * compiled. So each servable service's path is run on synthetic requests of 1 and 100 rows, both
 * with and without metadata: the body parsed and checked, the rows read, the reads planned, one
 * store read of synthetic keys (it opens the connection and compiles the client's command and reply
 * code; those keys are not expected to exist) and the answer assembled from synthetic stored records
 * (the spliced path). Nothing is counted in the metrics or logged as a decision.
 *
 * Best effort: a store that does not answer, or a service whose keys it cannot make up, is skipped;
 * warming never stops the server from starting. Bounded by `rounds` per service and `maxMs` overall.
 */
export interface ServingWarmUpOptions {
  /** Synthetic requests per service and size. Default 300. */
  readonly rounds?: number;
  /** Stop warming after this long. Default 1,500 ms. */
  readonly maxMs?: number;
  /** Services warmed at most (the first ones by name). Default 20. */
  readonly maxServices?: number;
}

/** The prefix of synthetic string keys: never a real entity's key in practice, and only ever read. */
const WARM_KEY = '__flywheel_warm_up_';
const SIZES = [1, 100] as const;

export async function warmUpServing(project: ProjectSpec, store: OnlineStore, options: ServingWarmUpOptions = {}): Promise<{ requests: number; ms: number }> {
  const start = performance.now();
  const deadline = start + (options.maxMs ?? 1500);
  const rounds = options.rounds ?? 300;
  let requests = 0;
  let storeAnswers = true;
  const targets = [...resolveServices(project).values()].filter((t): t is ServingTarget => t.kind === 'target').slice(0, options.maxServices ?? 20);
  for (const target of targets) {
    const records = target.views.map((view) => syntheticRecord(project, view.view));
    const bodies = SIZES.map((size) => syntheticBody(target, size));
    if (bodies.some((b) => b === undefined)) continue;
    for (let round = 0; round < rounds && performance.now() < deadline; round++) {
      for (const body of bodies) {
        const shape = checkRequestShape(JSON.parse(body!));
        const rows = readEntityRows(shape, target, DEFAULT_SERVING_LIMITS);
        const plan = planReads(target, rows);
        if (storeAnswers) {
          try {
            await store.readEncoded(plan.requests);
          } catch {
            storeAnswers = false; // warmed without the store from now on; serving reports an unavailable store itself
          }
        }
        const found: (EncodedOnlineRecord | undefined)[] = plan.requests.map((_, r) => records[plan.viewOf[r]!]);
        const nowMicros = Date.now() * 1000;
        assembleFeatures(target, rows, plan, found, { decisionId: uuidv7(), nowMicros, metadata: round % 2 === 0 });
        requests++;
      }
    }
  }
  return { requests, ms: performance.now() - start };
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

/** `{"service": …, "entities": [{<every key>: <a made-up value>}, …]}` of `size` rows; undefined for a key type not made up here. */
export function syntheticBody(target: ServingTarget, size: number): string | undefined {
  const entities: Record<string, unknown>[] = [];
  for (let i = 0; i < size; i++) {
    const row: Record<string, unknown> = {};
    for (const key of target.keys) {
      const value = syntheticKey(key.type, i);
      if (value === undefined) return undefined;
      row[key.name] = value;
    }
    entities.push(row);
  }
  return JSON.stringify(target.service !== undefined ? { service: target.service, entities } : { features: target.features, entities });
}

function syntheticKey(type: ValueType, i: number): OnlineKeyPart | undefined {
  switch (type) {
    case 'int64':
    case 'int32':
      return -1_000_000_000 - i;
    case 'string':
      return `${WARM_KEY}${i}`;
    case 'timestamp':
      return new Date(Date.UTC(1971, 0, 1, 0, 0, i)).toISOString();
    case 'date':
      return `1971-01-${String((i % 28) + 1).padStart(2, '0')}`;
    default:
      return undefined;
  }
}
