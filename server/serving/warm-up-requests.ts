import type { OnlineKeyPart, OnlineStore } from '../../connectors/online-store/online-store.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import type { ValueType } from '../../core/types.ts';
import { resolveServices, type ServingTarget } from './resolve-service.ts';
import { checkRequestShape, DEFAULT_SERVING_LIMITS, readEntityRows } from './serving-request.ts';

/**
 * The request bodies the serving warm-ups send (warm-up.ts in process, warm-up-over-http.ts over
 * loopback), chosen once at start-up: for each servable service, 1 and 100 rows of synthetic keys
 * (never stored: they take the path of a key the store does not hold) and, when the store holds
 * records of the service's views, 1 and 100 rows of real keys sampled from it
 * (`OnlineStore.sampleKeys`). The real ones matter most: the first real requests parse stored
 * records (the store client's reply decoding, `parseStored`, the layout lookup, the fragments of
 * present values), a path synthetic keys never take.
 *
 * Best effort and bounded: a store that does not answer, or answers after `deadline`, gives no
 * sample, and the service is warmed with synthetic keys only.
 */
export interface WarmUpService {
  readonly target: ServingTarget;
  /** JSON bodies of `POST /v1/features`, each checked by the request's own checks. */
  readonly bodies: readonly WarmUpBody[];
}

export interface WarmUpBody {
  readonly text: string;
  /** True when its keys were sampled from the store. */
  readonly real: boolean;
  readonly rows: number;
}

export interface WarmUpRequests {
  readonly services: readonly WarmUpService[];
  /** Keys sampled from the store, over every view. */
  readonly sampledKeys: number;
}

/** Rows of the larger warm-up requests (the ranking shape); the smaller have one. */
export const WARM_UP_SIZES = [1, 100] as const;
/** Keys sampled per view: enough for the 100-row request to read 100 different records. */
const SAMPLED_PER_VIEW = 100;
/** The prefix of synthetic string keys: never a real entity's key in practice, and only ever read. */
const WARM_KEY = '__flywheel_warm_up_';

export async function warmUpRequests(project: ProjectSpec, store: OnlineStore, options: { maxServices?: number; deadline?: number } = {}): Promise<WarmUpRequests> {
  const deadline = options.deadline ?? performance.now() + 1000;
  const targets = [...resolveServices(project).values()].filter((t): t is ServingTarget => t.kind === 'target').slice(0, options.maxServices ?? 20);
  const samples = new Map<string, OnlineKeyPart[][]>();
  let storeAnswers = true;
  for (const view of new Set(targets.flatMap((t) => t.views.map((v) => v.view)))) {
    if (!storeAnswers || performance.now() >= deadline) break;
    try {
      samples.set(view, await beforeDeadline(store.sampleKeys(view, SAMPLED_PER_VIEW), deadline));
    } catch {
      storeAnswers = false; // no sample from a store that does not answer; synthetic keys still warm the rest
    }
  }
  const services: WarmUpService[] = [];
  for (const target of targets) {
    const bodies: WarmUpBody[] = [];
    for (const rows of WARM_UP_SIZES) {
      const synthetic = syntheticBody(target, rows);
      if (synthetic !== undefined) bodies.push({ text: synthetic, real: false, rows });
      const real = realBody(target, rows, samples);
      if (real !== undefined) bodies.push({ text: real, real: true, rows });
    }
    if (bodies.length > 0) services.push({ target, bodies });
  }
  return { services, sampledKeys: [...samples.values()].reduce((sum, keys) => sum + keys.length, 0) };
}

/** Resolves as `promise` does, or rejects once `deadline` (performance.now()) has passed. */
async function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the store did not answer before the warm-up deadline')), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `rows` rows whose keys come from the sampled keys of the service's views (row i takes sample
 * i mod n of each view; a key column shared by two views takes the later view's), other columns
 * synthetic; undefined when no view has a sample, or when the request's own checks refuse the body
 * (a key type whose stored form is not what a client sends).
 */
function realBody(target: ServingTarget, rows: number, samples: ReadonlyMap<string, OnlineKeyPart[][]>): string | undefined {
  if (!target.views.some((v) => (samples.get(v.view)?.length ?? 0) > 0)) return undefined;
  const entities: Record<string, unknown>[] = [];
  for (let i = 0; i < rows; i++) {
    const row = syntheticRow(target, i);
    if (row === undefined) return undefined;
    for (const view of target.views) {
      const sample = samples.get(view.view);
      if (sample === undefined || sample.length === 0) continue;
      const key = sample[i % sample.length]!;
      if (key.length !== view.keyIndexes.length) return undefined;
      view.keyIndexes.forEach((at, k) => (row[target.keys[at]!.name] = key[k]));
    }
    entities.push(row);
  }
  const text = bodyText(target, entities);
  try {
    readEntityRows(checkRequestShape(JSON.parse(text)), target, DEFAULT_SERVING_LIMITS);
    return text;
  } catch {
    return undefined;
  }
}

/** `{"service": …, "entities": [{<every key>: <a made-up value>}, …]}` of `size` rows; undefined for a key type not made up here. */
export function syntheticBody(target: ServingTarget, size: number): string | undefined {
  const entities: Record<string, unknown>[] = [];
  for (let i = 0; i < size; i++) {
    const row = syntheticRow(target, i);
    if (row === undefined) return undefined;
    entities.push(row);
  }
  return bodyText(target, entities);
}

function bodyText(target: ServingTarget, entities: Record<string, unknown>[]): string {
  return JSON.stringify(target.service !== undefined ? { service: target.service, entities } : { features: target.features, entities });
}

function syntheticRow(target: ServingTarget, i: number): Record<string, unknown> | undefined {
  const row: Record<string, unknown> = {};
  for (const key of target.keys) {
    const value = syntheticKey(key.type, i);
    if (value === undefined) return undefined;
    row[key.name] = value;
  }
  return row;
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
