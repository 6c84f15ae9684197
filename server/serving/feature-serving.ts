import { IncomingMessage, type ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { OnlineStoreUnavailableError } from '../../connectors/online-store/online-store-errors.ts';
import type { EncodedOnlineRecord, OnlineKeyRequest, OnlineStore } from '../../connectors/online-store/online-store.ts';
import { isoFromMicros } from '../../connectors/online-store/online-time.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { ApiError, toApiError } from '../api-errors.ts';
import { sendJsonAnswer } from '../node-route.ts';
import { allows, type TokenScope, type TokenTable } from '../auth/bearer-tokens.ts';
import { uuidv7 } from '../event-ids.ts';
import type { ServerMetrics } from '../metrics.ts';
import { readBody, readIncomingBody } from '../read-body.ts';
import { findJsonSyntaxError, lineAndColumn } from '../validation/json-syntax.ts';
import { MalformedJsonError } from '../validation/parse-body.ts';
import { assembleFeatures, planReads } from './assemble-features.ts';
import { fragmentsOf } from './served-fragments.ts';
import { FeatureReferenceError, resolveFeatureList, resolveServices, type ResolvedService, type ServingTarget } from './resolve-service.ts';
import type { DecisionSink } from './served-decision.ts';
import { checkRequestShape, DEFAULT_SERVING_LIMITS, readEntityRows, type ServingLimits } from './serving-request.ts';
import { StoreBreaker } from './store-breaker.ts';

/**
 * `POST /v1/features` (docs/serving.md): the latest feature values of a feature service (or a list
 * of `view:feature` references) for a list of entity rows, or for a shared context and a list of
 * candidates, read from the online store in one round trip.
 */
export interface ServingOptions {
  /** Where the values are read. Shared with the online push when the server has both. */
  readonly store: OnlineStore;
  /** The project whose feature services are served. */
  readonly project: ProjectSpec;
  readonly limits?: Partial<ServingLimits>;
  /** Where each response of a logged service is offered (the decision log). Default: nothing is logged. */
  readonly decisions?: DecisionSink;
  /** How often a store that failed is pinged until it answers (see StoreBreaker). Default 250 ms. */
  readonly probeIntervalMs?: number;
  /** The reading instant, in microseconds since the epoch, at which ttls are applied. Default: the clock. For tests. */
  readonly nowMicros?: () => number;
}

export interface FeatureServingDeps {
  readonly tokens: TokenTable;
  /** Largest request body in bytes (the server's). */
  readonly maxBodyBytes: number;
  readonly metrics?: ServerMetrics;
  /** Store outages and recoveries. */
  readonly log: (line: string) => void;
}

/** Why the online store is not ready: `store` as the store prints itself (`redis://host:6379`, `sqlite:/path`), when known. */
export interface StoreProblem {
  readonly store: string | undefined;
  readonly message: string;
}

/** Feature lists resolved at most this many times before the cache starts again. */
const MAX_CACHED_FEATURE_LISTS = 1000;
const FEATURE_LISTS_LABEL = '(features)';

export class FeatureServing {
  readonly store: OnlineStore;
  readonly breaker: StoreBreaker;
  readonly #deps: FeatureServingDeps;
  readonly #limits: ServingLimits;
  readonly #decisions: DecisionSink | undefined;
  readonly #nowMicros: () => number;
  #project: ProjectSpec;
  #services: Map<string, ResolvedService>;
  #featureLists = new Map<string, ServingTarget>();

  constructor(options: ServingOptions, deps: FeatureServingDeps) {
    this.store = options.store;
    this.#deps = deps;
    this.#limits = { ...DEFAULT_SERVING_LIMITS, ...options.limits };
    this.#decisions = options.decisions;
    this.#nowMicros = options.nowMicros ?? (() => Date.now() * 1000);
    this.#project = options.project;
    this.#services = resolveServices(options.project);
    this.breaker = new StoreBreaker(options.store, {
      ...(options.probeIntervalMs !== undefined ? { probeIntervalMs: options.probeIntervalMs } : {}),
      onChange: (available, error) =>
        deps.log(
          available
            ? 'serving: the online store answers again; serving features'
            : `serving: ${error?.message ?? 'the online store is unavailable'}; answering 503 at once until it answers a ping again`,
        ),
    });
    for (const resolved of this.#services.values()) {
      if (resolved.kind === 'unservable') deps.log(`serving: feature service "${resolved.service}" cannot be served: ${resolved.problem}`);
    }
  }

  /** The names of the services served. */
  get services(): string[] {
    return [...this.#services.keys()];
  }

  /** Serves another version of the project's definitions from now on. */
  reload(project: ProjectSpec): void {
    this.#project = project;
    this.#services = resolveServices(project);
    this.#featureLists = new Map();
  }

  /** Undefined when the store answers a ping; else what is wrong: the store as printed (its address) and the error. */
  async notReady(): Promise<StoreProblem | undefined> {
    try {
      await this.breaker.ping();
      return undefined;
    } catch (error) {
      const store = (error as { store?: unknown } | undefined)?.store;
      return { store: typeof store === 'string' ? store : undefined, message: error instanceof Error ? error.message : String(error) };
    }
  }

  stop(): void {
    this.breaker.stop();
  }

  /** The route's handler under Hono. Throws ApiError (answered by the app's error handler). */
  async handle(c: Context): Promise<Response> {
    try {
      const body = await this.#answer(c.req.header('authorization'), c.req.header('content-type'), () => readBody(c.req.raw, this.#deps.maxBodyBytes, incomingOf(c)));
      return c.body(body as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/json' });
    } catch (error) {
      throw this.#toApiError(error, (name, value) => c.header(name, value));
    }
  }

  /**
   * The same route on Node's request and response, without Hono's Request, Context and Response
   * objects (server/serving/features-route.ts): answers, errors included, with the same statuses,
   * headers and bodies as `handle` under the app's error handler. Never rejects; resolves with the
   * status sent.
   */
  handleNode(req: IncomingMessage, res: ServerResponse): Promise<number> {
    return sendJsonAnswer(
      res,
      () => this.#answer(req.headers.authorization, req.headers['content-type'], () => readIncomingBody(req, this.#deps.maxBodyBytes)),
      (error, setHeader) => this.#toApiError(error, setHeader),
      (error) => this.#deps.log(`serving: POST /v1/features: the answer could not be sent: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  /** The answer's body, from the request's authorization and content type and a reader of its body. */
  async #answer(authorization: string | undefined, contentType: string | undefined, readBytes: () => Promise<Buffer>): Promise<Buffer> {
    const scopes = bearerScopes(authorization, this.#deps.tokens);
    if (!scopes.some((s) => s.access === 'read')) throw new ApiError('forbidden', 'this token may not read features; it needs the scope read or read:<service>');
    checkContentType(contentType);
    const bytes = await readBytes();
    const shape = checkRequestShape(parseJson(bytes.toString('utf8')));
    const target = this.#target(shape.service, shape.features, scopes);
    const rows = readEntityRows(shape, target, this.#limits);
    const plan = planReads(target, rows);
    const found = plan.requests.length > 0 ? await this.#read(plan.requests) : [];
    const nowMicros = this.#nowMicros();
    const decisionId = uuidv7(Math.floor(nowMicros / 1000));
    const assembled = assembleFeatures(target, rows, plan, found, { decisionId, nowMicros, metadata: shape.metadata });
    this.#deps.metrics?.countServedRows(target.service ?? FEATURE_LISTS_LABEL, rows.count);

    const service = target.service;
    const decisions = this.#decisions;
    if (service !== undefined && decisions !== undefined && decisions.logs(service)) {
      // Offered as the answer's fragments, nothing spelt out here: the log writes its rows later, a bounded slice per turn of the event loop.
      decisions.offer(fragmentsOf({ ...target, service }, rows, plan, assembled, decisionId, isoFromMicros(nowMicros)));
    }
    return assembled.body;
  }

  #target(service: string | undefined, features: readonly string[] | undefined, scopes: readonly TokenScope[]): ServingTarget {
    if (service !== undefined) {
      // The scope is checked before the name is looked up, so a token cannot probe for service names.
      if (!allows(scopes, 'read', service)) throw new ApiError('forbidden', `this token may not read feature service "${service}"`);
      const resolved = this.#services.get(service);
      if (resolved === undefined) {
        const names = [...this.#services.keys()];
        throw new ApiError('unknown_service', `no feature service "${service}"; the services are ${names.join(', ') || '(none)'}`);
      }
      if (resolved.kind === 'unservable') throw new ApiError('not_servable', `feature service "${service}" cannot be served: ${resolved.problem}`);
      return resolved;
    }
    if (!allows(scopes, 'read', '*')) throw new ApiError('forbidden', 'reading a list of features needs the scope read (or read:*); this token may read named services only');
    const id = features!.join('\n');
    let target = this.#featureLists.get(id);
    if (target === undefined) {
      try {
        target = resolveFeatureList(this.#project, features!);
      } catch (error) {
        if (error instanceof FeatureReferenceError) throw new ApiError('unknown_feature', error.message, { feature: error.reference });
        throw error;
      }
      if (this.#featureLists.size >= MAX_CACHED_FEATURE_LISTS) this.#featureLists.clear();
      this.#featureLists.set(id, target);
    }
    return target;
  }

  async #read(requests: readonly OnlineKeyRequest[]): Promise<(EncodedOnlineRecord | undefined)[]> {
    const metrics = this.#deps.metrics;
    const start = performance.now();
    try {
      const found = await this.breaker.readEncoded(requests);
      metrics?.observeStoreRead((performance.now() - start) / 1000, 'ok', requests.length);
      return found;
    } catch (error) {
      metrics?.observeStoreRead((performance.now() - start) / 1000, error instanceof OnlineStoreUnavailableError ? 'unavailable' : 'error', requests.length);
      throw error;
    }
  }

  /** The ApiError answered for `error`; `setHeader` adds the headers that go with it (Retry-After). */
  #toApiError(error: unknown, setHeader: (name: string, value: string) => void): ApiError {
    if (error instanceof ApiError) return error;
    if (error instanceof OnlineStoreUnavailableError) {
      setHeader('Retry-After', '1');
      return new ApiError(
        'online_store_unavailable',
        `the online store ${error.store} is unavailable, so no features were served; retry in a moment (${error.message})`,
        { store: error.store },
      );
    }
    const known = toApiError(error);
    if (known.code !== 'internal') return known;
    this.#deps.log(`serving: POST /v1/features: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return new ApiError('internal', 'internal error; no features were served');
  }
}

/** The scopes of the request's bearer token; throws ApiError 401 without one or for an unknown one. */
export function bearerScopes(header: string | undefined, tokens: TokenTable): readonly TokenScope[] {
  const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match) throw new ApiError('unauthorized', 'missing bearer token; send Authorization: Bearer <token>');
  const scopes = tokens.scopesOf(match[1]!);
  if (!scopes) throw new ApiError('unauthorized', 'unknown token');
  return scopes;
}

/** JSON, or no Content-Type at all. */
export function checkContentType(contentType: string | undefined): void {
  if (contentType === undefined || contentType === 'application/json') return;
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    throw new ApiError('unsupported_media_type', `Content-Type must be application/json, got ${JSON.stringify(contentType)}`);
  }
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const found = findJsonSyntaxError(text);
    if (!found) throw new MalformedJsonError(1, 1, (error as Error).message.slice(0, 200), 'json');
    const { line, column } = lineAndColumn(text, found.offset);
    throw new MalformedJsonError(line, column, found.message, 'json');
  }
}

/** The Node request under @hono/node-server (read directly: faster than its web stream), else undefined. */
export function incomingOf(c: Context): IncomingMessage | undefined {
  const env = c.env as { incoming?: unknown } | undefined;
  return env?.incoming instanceof IncomingMessage ? env.incoming : undefined;
}
