import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { OnlineStoreUnavailableError } from '../../connectors/online-store/online-store-errors.ts';
import { isoFromMicros } from '../../connectors/online-store/online-time.ts';
import type { ModelInputs } from '../../connectors/model-runtime/model-inputs.ts';
import { ModelScoringError } from '../../core/models/errors.ts';
import { modelInputName } from '../../core/validation/model.ts';
import { parseFilterExpression, evaluateFilter, type FilterExpression } from '../../core/decide/filter-expression.ts';
import type { ModelSpec, ProjectSpec } from '../../core/definitions/specs.ts';
import { ApiError, toApiError } from '../api-errors.ts';
import { sendJsonAnswer } from '../node-route.ts';
import { allows, type TokenTable } from '../auth/bearer-tokens.ts';
import { uuidv7 } from '../event-ids.ts';
import { readBody, readIncomingBody } from '../read-body.ts';
import { assembleFragments, planReads } from '../serving/assemble-features.ts';
import { fragmentsOf } from '../serving/served-fragments.ts';
import { candidateInputs, keysOfRow } from './candidate-inputs.ts';
import { bearerScopes, checkContentType, incomingOf, parseJson, type FeatureServing } from '../serving/feature-serving.ts';
import { resolveServices, type ResolvedService, type ServingTarget } from '../serving/resolve-service.ts';
import type { DecisionSink, ScoredRow } from '../serving/served-decision.ts';
import { DEFAULT_SERVING_LIMITS, readEntityRows, type EntityIssue, type ServingLimits } from '../serving/serving-request.ts';
import { describeValue } from '../validation/value-normalizers.ts';
import { splitVersion } from './ab-split.ts';
import { readDecideRequest, type DecideRequest } from './decide-request.ts';
import { ModelUnavailableError, type ModelStatus, type ModelVersions, type ScoringModel } from './model-versions.ts';
import { explorationDraws, secretOf } from './exploration-draws.ts';
import { rankCandidates, uniformSlate } from './rank-candidates.ts';

/**
 * `POST /v1/decide` (docs/decide.md): a context and candidates (or one entity) in; the candidates'
 * features read from the online store through the serving path (one round trip for all of them),
 * the model's declared filters applied, the rest scored by the promoted version of the model (or a
 * named one, or the arm of an A/B split), ranked, cut to `topK`, with epsilon-greedy exploration;
 * the slate out, and one decision logged with the model version and every candidate's features,
 * score, rank and propensity.
 *
 * @example
 * const decide = new DecisionApi({ project, serving, versions, decisions }, { tokens, maxBodyBytes, log });
 * app.post('/v1/decide', (c) => decide.handle(c));
 */

/** A model as the route needs it: its service, which inputs are request fields, its filters parsed. */
interface DecideModel {
  readonly spec: ModelSpec;
  /** Request fields the model reads (from the context, or each candidate). */
  readonly requestFields: ReadonlySet<string>;
  /** Its inputs' names, in the order the model reads them. */
  readonly inputs: readonly string[];
  readonly filters: ReadonlyMap<string, FilterExpression>;
}

export interface DecisionApiOptions {
  /** The project served: its models, and their feature services. */
  readonly project: ProjectSpec;
  /** The feature serving of the same server: its online store (behind its breaker). */
  readonly serving: FeatureServing;
  readonly versions: ModelVersions;
  /** The decision log (the serving route's); default nothing is logged. */
  readonly decisions?: DecisionSink;
  readonly limits?: Partial<ServingLimits>;
  /**
   * The key of the exploration draws (exploration-draws.ts): a run configured with the same one
   * draws the same for the same `explore.key`. Default 32 random bytes made at start.
   */
  readonly explorationSecret?: string;
  /** Draws in [0, 1) for exploration and cold starts, in place of the keyed ones. For tests. */
  readonly random?: () => number;
  /** The reading instant, microseconds since the epoch. Default the clock. For tests. */
  readonly nowMicros?: () => number;
}

export interface DecisionApiDeps {
  readonly tokens: TokenTable;
  readonly maxBodyBytes: number;
  readonly log: (line: string) => void;
}

export class DecisionApi {
  readonly #options: DecisionApiOptions;
  readonly #deps: DecisionApiDeps;
  readonly #models = new Map<string, DecideModel>();
  readonly #services: Map<string, ResolvedService>;
  readonly #limits: ServingLimits;
  readonly #random: (() => number) | undefined;
  readonly #secret: Buffer;
  readonly #nowMicros: () => number;

  constructor(options: DecisionApiOptions, deps: DecisionApiDeps) {
    this.#options = options;
    this.#deps = deps;
    this.#services = resolveServices(options.project);
    this.#limits = { ...DEFAULT_SERVING_LIMITS, ...options.limits };
    this.#random = options.random;
    this.#secret = secretOf(options.explorationSecret);
    this.#nowMicros = options.nowMicros ?? (() => Date.now() * 1000);
    for (const spec of Object.values(options.project.models ?? {})) {
      const filters = new Map<string, FilterExpression>();
      // Validated at `flywheel plan`; a filter that does not parse here is left out and said once.
      for (const [name, text] of Object.entries(spec.filters ?? {})) {
        try {
          filters.set(name, parseFilterExpression(text));
        } catch (error) {
          deps.log(`decide: model "${spec.name}" filter "${name}" is left out: ${(error as Error).message}`);
        }
      }
      const requestFields = new Set(spec.inputs.flatMap((input) => ('request' in input ? [input.request] : [])));
      this.#models.set(spec.name, { spec, requestFields, inputs: spec.inputs.map(modelInputName), filters });
    }
  }

  /**
   * Per model, the version serving and the one promoted, for `/readyz`; with a valid token also why
   * a promoted version is not serving (its load failed: the message may name the store's paths).
   */
  modelStatus(withToken: boolean): Record<string, ModelStatus> {
    const status = this.#options.versions.status();
    if (withToken) return status;
    return Object.fromEntries(Object.entries(status).map(([name, s]) => [name, { serving: s.serving, promoted: s.promoted, ...(s.split ? { split: s.split } : {}), ...(s.problem !== undefined ? { problem: 'the promoted version is not serving (details with a token)' } : {}) }]));
  }

  /** The route's handler under Hono. Throws ApiError (answered by the app's error handler). */
  async handle(c: Context): Promise<Response> {
    try {
      const body = await this.#decide(c.req.header('authorization'), c.req.header('content-type'), () => readBody(c.req.raw, this.#deps.maxBodyBytes, incomingOf(c)));
      return c.body(body, 200, { 'content-type': 'application/json' });
    } catch (error) {
      throw this.#toApiError(error, (name, value) => c.header(name, value));
    }
  }

  /**
   * The same route on Node's request and response, without Hono's Request, Context and Response
   * (server/decide/decide-route.ts takes it before the app, as the serving route is): answers, errors
   * included, with the same statuses, headers and bodies as `handle` under the app's error handler.
   * Never rejects; resolves with the status sent.
   */
  handleNode(req: IncomingMessage, res: ServerResponse): Promise<number> {
    return sendJsonAnswer(
      res,
      () => this.#decide(req.headers.authorization, req.headers['content-type'], () => readIncomingBody(req, this.#deps.maxBodyBytes)),
      (error, setHeader) => this.#toApiError(error, setHeader),
      (error) => this.#deps.log(`decide: POST /v1/decide: the answer could not be sent: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  /** The answer's JSON, from the request's authorization and content type and a reader of its body. */
  async #decide(authorization: string | undefined, contentType: string | undefined, readBytes: () => Promise<Buffer>): Promise<string> {
    const scopes = bearerScopes(authorization, this.#deps.tokens);
    if (!scopes.some((s) => s.access === 'read')) throw new ApiError('forbidden', 'this token may not make decisions; it needs the scope read or read:<service>');
    checkContentType(contentType);
    const bytes = await readBytes();
    const request = readDecideRequest(parseJson(bytes.toString('utf8')));
    const model = this.#model(request.model);
    const service = model.spec.service;
    if (!allows(scopes, 'read', service)) throw new ApiError('forbidden', `this token may not read feature service "${service}", which model "${model.spec.name}" reads`);
    const filters = request.filters.map((name, index) => {
      const filter = model.filters.get(name);
      if (!filter) {
        const names = [...model.filters.keys()];
        throw new ApiError('unknown_filter', `model "${model.spec.name}" has no filter "${name}"; its filters are ${names.join(', ') || '(none declared)'}`, { filter: name, index });
      }
      return filter;
    });
    const target = this.#target(service);
    const version = this.#version(model, request);
    // No version was ever promoted and the model declares a cold-start policy: decide without scoring.
    const coldStart = version === undefined && model.spec.coldStart !== undefined && this.#options.versions.unpromoted(model.spec.name);

    // Join keys go to the store; request fields (inputs the model reads from the request) stay here.
    const { keyRequest, contextFields, rowFields } = splitRequestFields(request, model.requestFields);
    const rows = readEntityRows(keyRequest, target, this.#limits);
    checkRequestInputs(model, contextFields, rowFields, this.#limits.maxIssues);

    const plan = planReads(target, rows);
    const [found, scorer] = await Promise.all([
      plan.requests.length > 0 ? this.#options.serving.breaker.readEncoded(plan.requests) : Promise.resolve([]),
      coldStart ? undefined : this.#options.versions.get(model.spec.name, version),
    ]);
    const nowMicros = this.#nowMicros();
    const decisionId = uuidv7(Math.floor(nowMicros / 1000));
    // The fragments are what is needed: no body of POST /v1/features is built.
    const assembled = assembleFragments(target, plan, found, nowMicros);
    const inputs = candidateInputs(target, rows, plan, assembled, model, contextFields, rowFields);
    const eligible: number[] = [];
    for (let index = 0; index < inputs.length; index++) if (filters.length === 0 || filters.every((filter) => evaluateFilter(filter, inputs.row(index)))) eligible.push(index);
    const scores = new Float64Array(inputs.length).fill(Number.NaN);
    if (scorer !== undefined && eligible.length > 0) {
      const scored = await score(scorer, eligible.length === inputs.length ? inputs : inputs.subset(eligible), eligible);
      eligible.forEach((index, at) => (scores[index] = scored[at]!));
    }
    const topK = request.single ? 1 : (request.topK ?? eligible.length);
    // Keyed by the request's explore.key, else the decision id: the same key draws the same, whatever the order of arrival.
    const draws = this.#random ?? explorationDraws(this.#secret, model.spec.name, request.exploreKey ?? decisionId);
    const slate = scorer === undefined ? uniformSlate(eligible, topK, draws) : rankCandidates(scores, eligible, { topK, epsilon: request.epsilon }, draws);
    const versionScored = scorer?.version ?? null;

    const keysOf = (index: number) => keysOfRow(target, rows, index);
    const decisions = this.#options.decisions;
    if (decisions?.logs(service)) {
      // Offered as the answer's fragments, nothing spelt out here: the log writes its rows later, a bounded slice per turn of the event loop.
      const rank = new Map(slate.greedy.map((index, at) => [index, at]));
      const position = new Map(slate.shown.map((index, at) => [index, at]));
      const scoredRows: ScoredRow[] = Array.from({ length: inputs.length }, (_, index) => {
        const at = position.get(index);
        return { score: rank.has(index) ? scores[index]! : null, rank: rank.get(index) ?? null, position: at ?? null, propensity: at === undefined ? null : slate.propensities[at]! };
      });
      const scoring = { model: model.spec.name, version: versionScored, explored: slate.explored, rows: scoredRows, ...(request.exploreKey !== undefined ? { exploreKey: request.exploreKey } : {}) };
      decisions.offer(fragmentsOf({ ...target, service }, rows, plan, assembled, decisionId, isoFromMicros(nowMicros), scoring));
    }
    return JSON.stringify({
      decision_id: decisionId,
      model: model.spec.name,
      version: versionScored,
      explored: slate.explored,
      eligible: eligible.length,
      items: slate.shown.map((index, at) => ({ candidate: index, keys: keysOf(index), score: scorer === undefined ? null : scores[index]!, propensity: slate.propensities[at]! })),
    });
  }

  #model(name: string | undefined): DecideModel {
    if (name === undefined) {
      if (this.#models.size === 1) return [...this.#models.values()][0]!;
      throw new ApiError('invalid_request', `name the model ("model": "<name>"); the models are ${[...this.#models.keys()].join(', ') || '(none)'}`);
    }
    const model = this.#models.get(name);
    if (!model) throw new ApiError('unknown_model', `no model "${name}"; the models are ${[...this.#models.keys()].join(', ') || '(none)'}`, { model: name });
    return model;
  }

  #target(service: string): ServingTarget {
    const resolved = this.#services.get(service);
    if (resolved === undefined) throw new ApiError('not_servable', `feature service "${service}" is not in the project served`);
    if (resolved.kind === 'unservable') throw new ApiError('not_servable', `feature service "${service}" cannot be served: ${resolved.problem}`);
    return resolved;
  }

  /**
   * The version asked for; else the arm of the request's split (an override) or of the split the
   * promotion declares, by the context's key (an `entity` request: the entity's); else undefined
   * (the promoted version).
   */
  #version(model: DecideModel, request: DecideRequest): string | undefined {
    if (request.version !== undefined) return request.version;
    if (request.split !== undefined) {
      const value = request.context?.[request.split.key];
      if (typeof value !== 'string' && typeof value !== 'number') {
        throw new ApiError('invalid_request', `"split.key" is "${request.split.key}", so the context must give it (a string or a number), got ${describeValue(value)}`);
      }
      return splitVersion(model.spec.name, value, request.split.arms);
    }
    const declared = this.#options.versions.split(model.spec.name);
    if (declared === undefined) return undefined;
    const fields = (request.single ? request.rows[0] : request.context) as Record<string, unknown> | undefined;
    const value = fields?.[declared.key];
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new ApiError(
        'invalid_request',
        `model "${model.spec.name}" splits requests by "${declared.key}" (flywheel models promote --split), so the ${request.single ? 'entity' : 'context'} must give "${declared.key}" (a string or a number), got ${describeValue(value)}`,
        { model: model.spec.name, key: declared.key },
      );
    }
    return splitVersion(model.spec.name, value, declared.arms);
  }

  /** The ApiError answered for `error`; `setHeader` adds the headers that go with it (Retry-After). */
  #toApiError(error: unknown, setHeader: (name: string, value: string) => void): ApiError {
    if (error instanceof ApiError) return error;
    if (error instanceof ModelUnavailableError) {
      setHeader('Retry-After', '1');
      return new ApiError('model_unavailable', `${error.message}; nothing was decided`, { model: error.model, ...(error.version !== undefined ? { version: error.version } : {}) });
    }
    if (error instanceof OnlineStoreUnavailableError) {
      setHeader('Retry-After', '1');
      return new ApiError('online_store_unavailable', `the online store ${error.store} is unavailable, so nothing was decided; retry in a moment (${error.message})`, { store: error.store });
    }
    const known = toApiError(error);
    if (known.code !== 'internal') return known;
    this.#deps.log(`decide: POST /v1/decide: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return new ApiError('internal', 'internal error; nothing was decided');
  }
}

/** A model's failure on a candidate, answered 500 with the model, version and candidate: never a ranking of wrong scores. */
class ScoringFailure extends ApiError {
  constructor(model: ScoringModel, candidate: number | undefined, reason: string) {
    super(
      'model_failed',
      `model "${model.name}" version "${model.version}" failed${candidate !== undefined ? ` on candidate ${candidate}` : ''}: ${reason}; nothing was decided`,
      { model: model.name, version: model.version, ...(candidate !== undefined ? { candidate } : {}) },
    );
  }
}

/** Scores the eligible rows; every score must be a finite number, one per row. */
async function score(model: ScoringModel, rows: ModelInputs, eligible: readonly number[]): Promise<Float64Array> {
  let scores: Float64Array;
  try {
    scores = await model.score(rows);
  } catch (error) {
    if (error instanceof ModelScoringError) throw new ScoringFailure(model, error.rowIndex === undefined ? undefined : eligible[error.rowIndex], error.reason);
    throw new ScoringFailure(model, undefined, `it threw: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (scores.length !== rows.length) throw new ScoringFailure(model, undefined, `it returned ${scores.length} scores for ${rows.length} candidates`);
  for (let at = 0; at < scores.length; at++) {
    if (!Number.isFinite(scores[at]!)) throw new ScoringFailure(model, eligible[at], `it returned ${String(scores[at])}`);
  }
  return scores;
}

const NO_FIELDS: Readonly<Record<string, unknown>> = Object.freeze({});

interface SplitFields {
  /** The request as `POST /v1/features` reads it: join keys only. */
  readonly keyRequest: Parameters<typeof readEntityRows>[0];
  /** The context's request fields. */
  readonly contextFields: Readonly<Record<string, unknown>>;
  /** Each row's request fields. */
  readonly rowFields: readonly Readonly<Record<string, unknown>>[];
}

function splitRequestFields(request: DecideRequest, requestFields: ReadonlySet<string>): SplitFields {
  if (requestFields.size === 0) {
    // A model that reads no request field (most): the rows go to the store as they came.
    const body = request.single ? { entities: request.rows } : { candidates: request.rows, ...(request.context !== undefined ? { context: request.context } : {}) };
    return { keyRequest: { body, service: undefined, features: undefined, metadata: true }, contextFields: NO_FIELDS, rowFields: new Array<Readonly<Record<string, unknown>>>(request.rows.length).fill(NO_FIELDS) };
  }
  const keysOf = (fields: Record<string, unknown>, into: Record<string, unknown>) => {
    const keys: Record<string, unknown> = {};
    for (const name in fields) (requestFields.has(name) ? into : keys)[name] = fields[name];
    return keys;
  };
  const contextFields: Record<string, unknown> = {};
  const context = request.context === undefined ? undefined : keysOf(request.context as Record<string, unknown>, contextFields);
  const rowFields: Record<string, unknown>[] = [];
  const rows = request.rows.map((row) => {
    const own: Record<string, unknown> = {};
    rowFields.push(own);
    return typeof row === 'object' && row !== null && !Array.isArray(row) ? keysOf(row as Record<string, unknown>, own) : row;
  });
  const body = request.single ? { entities: rows } : { candidates: rows, ...(context !== undefined ? { context } : {}) };
  return { keyRequest: { body, service: undefined, features: undefined, metadata: true }, contextFields, rowFields };
}

/** Every request input the model reads must be given, by the context or by each row. */
function checkRequestInputs(model: DecideModel, contextFields: Readonly<Record<string, unknown>>, rowFields: readonly Readonly<Record<string, unknown>>[], maxIssues: number): void {
  const issues: EntityIssue[] = [];
  let total = 0;
  for (const field of model.requestFields) {
    if (field in contextFields) continue;
    rowFields.forEach((fields, index) => {
      if (fields[field] !== undefined) return;
      total++;
      if (issues.length < maxIssues) issues.push({ index, field, message: `model "${model.spec.name}" reads request field "${field}"; give it in "context" or in every candidate` });
    });
  }
  if (total > 0) throw new ApiError('invalid_entities', `${total} request field${total === 1 ? ' is' : 's are'} missing; nothing was decided`, issues);
}
