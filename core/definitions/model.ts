import { makeDefinition, refName, type Definition, type Ref } from './definition.ts';
import type { FeatureServiceDefinition } from './feature-service.ts';
import type { ScheduleInput } from './schedule-input.ts';
import type { SourceDefinition } from './source.ts';

/**
 * One input of a model, in the order the model reads them: a feature the service serves (its name, as
 * the service returns it), or `{ request: 'field' }`, a field of the request (`/v1/decide` context or
 * candidate; in batch scoring, a column of the spine).
 */
export type ModelInputInput = string | { request: string };

/** What the model returns per row: a score (any finite number) or a probability (in [0, 1]). */
export interface ModelOutputInput {
  name: string;
  kind: 'score' | 'probability';
}

/**
 * How a version's artifact scores: an ONNX graph (one float32 input `[batch, inputs.length]`, one
 * output `[batch]` or `[batch, 1]`), or a TypeScript module whose export (default `score`) is
 * `score(params, rows) => number[] | Float64Array`, `params` being the version's JSON artifact.
 */
export type ModelArtifactInput =
  | { format: 'onnx' }
  | { format: 'typescript'; /** Relative to the file that defines the model. */ module: string; export?: string };

/** Score a table on a schedule (docs/models.md, "Batch scoring"): every row of the spine, as of each run's time. */
export interface ModelBatchInput {
  /** A source whose rows are the entities to score (entity keys, and the request inputs as columns). */
  spine: Ref<SourceDefinition>;
  /** When to score (UTC); `flywheel apply` keeps a Temporal Schedule. Each run scores as of its scheduled time. */
  schedule?: ScheduleInput;
  /** Rows scored per chunk (each chunk a checkpoint); default 10000. */
  chunkSize?: number;
}

export interface ModelInput {
  name: string;
  /** The feature service whose features the model reads (the object or its name). */
  service: Ref<FeatureServiceDefinition>;
  inputs: ModelInputInput[];
  output: ModelOutputInput;
  artifact: ModelArtifactInput;
  batch?: ModelBatchInput;
  /**
   * Named filters over the candidates' features for `/v1/decide` (docs/decide.md): expression text,
   * parsed and checked at `flywheel plan`; a request names the ones it applies.
   */
  filters?: Record<string, string>;
  /**
   * How `/v1/decide` decides while no version has been promoted yet (docs/decide.md, "Cold start"):
   * `'uniform-random'`, a uniformly random slate logged with propensity 1 / n per shown candidate and
   * no version. Without it, such a request answers 503 `model_unavailable`.
   */
  coldStart?: 'uniform-random';
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
}

export interface ModelResolvedInput extends Omit<ModelInput, 'service' | 'batch'> {
  service: string | undefined;
  batch?: Omit<ModelBatchInput, 'spine'> & { spine: string | undefined };
}

export type ModelDefinition = Definition<'model', ModelResolvedInput>;

/**
 * A model: what it reads (a feature service's features and request fields, in order), what it
 * returns, and how its versions' artifacts score. Versions are registered and promoted with
 * `flywheel models register|promote` (docs/models.md).
 *
 * @example
 * export const ranker = model({
 *   name: 'ranker', service: rankingFeatures,
 *   inputs: ['user_ctr_7d', 'item_ctr_7d', { request: 'position' }],
 *   output: { name: 'click_probability', kind: 'probability' },
 *   artifact: { format: 'onnx' },
 * });
 */
export function model(input: ModelInput): ModelDefinition {
  const { service, batch, ...rest } = input;
  return makeDefinition('model', input.name, {
    ...rest,
    service: refName(service),
    ...(batch !== undefined && typeof batch === 'object' && batch !== null ? { batch: { ...batch, spine: refName(batch.spine) } } : batch !== undefined ? { batch: batch as never } : {}),
  });
}
