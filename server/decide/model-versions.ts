/**
 * The model versions a decision server scores with (docs/decide.md, "Which version scores"): each
 * model's promoted version, re-read from the object store every `pollMs` (default 5 s), and named
 * versions loaded on first use. Servers are stateless: what is promoted is `models/<name>/promoted.json`
 * in the object store, so every node converges on a promotion within one poll.
 *
 * A promotion may declare an A/B split (`models promote --split v3=0.9,v4=0.1 --by user_id`): every
 * arm's version is loaded, and the split serves (`split(name)`) only once all of them are; until then
 * the last good promotion (version or split) keeps serving and the failing arm is named in `/readyz`.
 *
 * A promoted version that fails to load (a malformed artifact, a missing file, a store that does not
 * answer) never replaces the last good one: the last good version keeps serving, and the failure is
 * kept for `/readyz` until a later poll loads the promotion. A model that never loaded any version
 * answers `503 model_unavailable`.
 *
 * @example
 * const versions = new ModelVersions({ models: ['ranker'], load, promotion, log });
 * await versions.start();                  // the first poll, awaited
 * const model = await versions.get('ranker');   // the promoted version (the last good one)
 * versions.stop();
 */

import type { PromotedSplit } from '../../core/models/manifest.ts';
import type { ModelInputs } from '../../connectors/model-runtime/model-inputs.ts';

/** A loaded version that scores rows (the models runtime's LoadedModel, connectors/model-runtime). */
export interface ScoringModel {
  readonly name: string;
  readonly version: string;
  readonly inputs: readonly string[];
  score(rows: readonly Readonly<Record<string, unknown>>[] | ModelInputs): Promise<Float64Array>;
}

export interface ModelVersionsOptions {
  /** The models served, by name. */
  readonly models: readonly string[];
  /** Loads a version (the models runtime's `loadModelVersion`); throws when it cannot. */
  readonly load: (name: string, version: string) => Promise<ScoringModel>;
  /** What is promoted now (`models/<name>/promoted.json`): the version and any A/B split; undefined when none is. */
  readonly promotion: (name: string) => Promise<{ readonly version: string; readonly split?: PromotedSplit } | undefined>;
  /** How often the promoted versions are re-read. Default 5,000 ms. */
  readonly pollMs?: number;
  /** Named versions kept loaded at most, per server, besides the promoted ones. Default 16. */
  readonly maxNamedVersions?: number;
  /** Promotions served and failures to load. */
  readonly log: (line: string) => void;
}

/** What `/readyz` shows of one model. */
export interface ModelStatus {
  /** The version scoring requests without a version now, or null when none ever loaded. */
  readonly serving: string | null;
  /** The version promoted at the last poll, or null when none is promoted. */
  readonly promoted: string | null;
  /** The A/B split serving now, when the promotion serving declares one. */
  readonly split?: PromotedSplit;
  /** Why the promoted version is not the one serving (its load failed), or why the last poll failed. */
  readonly problem?: string;
}

/** Thrown by `get` when a model has no version to score with; the route answers 503 model_unavailable. */
export class ModelUnavailableError extends Error {
  constructor(
    readonly model: string,
    readonly version: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export const DEFAULT_MODEL_POLL_MS = 5_000;

interface State {
  serving: ScoringModel | undefined;
  /** The split serving, with every arm's version loaded; undefined when the promotion serving has none. */
  split: { readonly declared: PromotedSplit; readonly arms: ReadonlyMap<string, ScoringModel> } | undefined;
  /** The promotion serving, as text: a poll that reads the same one loads nothing. */
  servingPromotion: string | undefined;
  promoted: string | null;
  problem: string | undefined;
  /** The last poll that read the promotion found none, and no version ever served: a cold start (docs/decide.md). */
  unpromoted: boolean;
}

export class ModelVersions {
  readonly #options: ModelVersionsOptions;
  readonly #states = new Map<string, State>();
  readonly #named = new Map<string, Promise<ScoringModel>>();
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;

  constructor(options: ModelVersionsOptions) {
    this.#options = options;
    for (const name of options.models) this.#states.set(name, { serving: undefined, split: undefined, servingPromotion: undefined, promoted: null, problem: undefined, unpromoted: false });
  }

  get models(): string[] {
    return [...this.#states.keys()];
  }

  has(name: string): boolean {
    return this.#states.has(name);
  }

  /** Polls once (awaited), then every `pollMs`. */
  async start(): Promise<void> {
    await this.poll();
    this.#timer = setInterval(() => void this.poll(), this.#options.pollMs ?? DEFAULT_MODEL_POLL_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Re-reads every model's promoted version and loads those that changed. One poll at a time. */
  poll(): Promise<void> {
    this.#polling ??= Promise.all(this.models.map((name) => this.#pollOne(name))).then(
      () => void (this.#polling = undefined),
      () => void (this.#polling = undefined),
    );
    return this.#polling;
  }

  /** The promoted version (the last good one), or a named version; throws ModelUnavailableError. */
  async get(name: string, version?: string): Promise<ScoringModel> {
    const state = this.#states.get(name);
    if (!state) throw new ModelUnavailableError(name, version, `no model "${name}"`);
    if (version === undefined) {
      if (state.serving) return state.serving;
      const why = state.problem ?? (state.promoted === null ? 'no version is promoted (flywheel models promote)' : 'its promoted version is not loaded yet');
      throw new ModelUnavailableError(name, undefined, `model "${name}" has no version to score with: ${why}`);
    }
    if (state.serving?.version === version) return state.serving;
    const arm = state.split?.arms.get(version);
    if (arm) return arm;
    const id = `${name}@${version}`;
    let loading = this.#named.get(id);
    if (!loading) {
      if (this.#named.size >= (this.#options.maxNamedVersions ?? 16)) this.#named.delete(this.#named.keys().next().value!);
      loading = this.#options.load(name, version);
      this.#named.set(id, loading);
      // A failure is not kept: the next request tries again (the version may be registered since).
      loading.catch(() => this.#named.delete(id));
    }
    try {
      return await loading;
    } catch (error) {
      throw new ModelUnavailableError(name, version, `model "${name}" version "${version}" cannot be loaded: ${messageOf(error)}`);
    }
  }

  /**
   * Whether the model has never had a version: the store was read and nothing is promoted, and no
   * version ever served. Not when the store could not be read yet, nor while a promoted version loads.
   */
  unpromoted(name: string): boolean {
    const state = this.#states.get(name);
    return state !== undefined && state.unpromoted && state.serving === undefined;
  }

  /** The A/B split the promotion serving declares (all its arms loaded), or undefined. */
  split(name: string): PromotedSplit | undefined {
    return this.#states.get(name)?.split?.declared;
  }

  status(): Record<string, ModelStatus> {
    const out: Record<string, ModelStatus> = {};
    for (const [name, state] of this.#states) {
      out[name] = { serving: state.serving?.version ?? null, promoted: state.promoted, ...(state.split ? { split: state.split.declared } : {}), ...(state.problem !== undefined ? { problem: state.problem } : {}) };
    }
    return out;
  }

  async #pollOne(name: string): Promise<void> {
    const state = this.#states.get(name)!;
    let promotion: { readonly version: string; readonly split?: PromotedSplit } | undefined;
    try {
      promotion = await this.#options.promotion(name);
    } catch (error) {
      state.problem = `reading the promoted version failed: ${messageOf(error)}`;
      return;
    }
    state.promoted = promotion?.version ?? null;
    state.unpromoted = promotion === undefined;
    if (promotion === undefined) {
      state.problem = undefined;
      return;
    }
    const promoted = promotion.version;
    const declared = promotion.split;
    const text = JSON.stringify({ version: promoted, split: declared ?? null });
    if (state.servingPromotion === text) {
      state.problem = undefined;
      return;
    }
    // Every version the promotion needs, each loaded once (one already serving is kept as it is).
    const wanted = [promoted, ...(declared?.arms ?? []).map((arm) => arm.version).filter((v) => v !== promoted)];
    const loaded = new Map<string, ScoringModel>();
    for (const version of wanted) {
      const have = state.serving?.version === version ? state.serving : state.split?.arms.get(version);
      try {
        loaded.set(version, have ?? (await this.#options.load(name, version)));
      } catch (error) {
        const keeps = state.serving ? `; ${state.split ? `the split by "${state.split.declared.key}" (${describeArms(state.split.declared)})` : `version "${state.serving.version}"`} keeps serving` : '; no version serves';
        const what = version === promoted ? `promoted version "${promoted}"` : `split arm "${version}"`;
        const problem = `${what} failed to load${keeps}: ${messageOf(error)}`;
        if (state.problem !== problem) this.#options.log(`decide: model "${name}": ${problem}`);
        state.problem = problem;
        return;
      }
    }
    const before = state.serving?.version;
    state.serving = loaded.get(promoted)!;
    state.split = declared ? { declared, arms: loaded } : undefined;
    state.servingPromotion = text;
    state.problem = undefined;
    const how = declared ? `version "${promoted}", split by "${declared.key}" (${describeArms(declared)})` : `version "${promoted}"`;
    this.#options.log(`decide: model "${name}" now scores with ${how}${before !== undefined ? ` (was "${before}")` : ''}`);
  }
}

/** `v4 0.7, v1 0.3` */
function describeArms(split: PromotedSplit): string {
  return split.arms.map((arm) => `${arm.version} ${arm.share}`).join(', ');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
