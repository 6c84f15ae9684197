import { TransientError } from '../../core/errors.ts';
import { ModelScoringError } from '../../core/models/errors.ts';
import type { ModelSpec } from '../../core/definitions/specs.ts';
import type { LoadedModel, RawScorer } from './loaded-model.ts';
import { rowsAsInputs } from './model-inputs.ts';

/**
 * Wraps a raw scorer into a LoadedModel whose scores are checked: one per row, finite, and in [0, 1]
 * for a probability. A scorer that throws becomes a ModelScoringError (with the cause).
 */
export function checkedModel(spec: ModelSpec, version: string, inputs: readonly string[], raw: RawScorer): LoadedModel {
  const fail = (reason: string, rowIndex?: number, cause?: unknown) =>
    new ModelScoringError({ model: spec.name, version, reason, ...(rowIndex !== undefined ? { rowIndex } : {}) }, cause === undefined ? undefined : { cause });
  return {
    name: spec.name,
    version,
    inputs,
    async score(given) {
      if (given.length === 0) return new Float64Array(0);
      const rows = rowsAsInputs(given, inputs);
      let scores: ArrayLike<number>;
      try {
        scores = await raw(rows);
      } catch (cause) {
        if (cause instanceof ModelScoringError) throw cause;
        // A model that says a retry may help (`retryable: true`, as a model calling a remote resource might):
        // retried by the activity's policy rather than failing the run.
        if (typeof cause === 'object' && cause !== null && (cause as { retryable?: unknown }).retryable === true) {
          throw new TransientError(`model "${spec.name}" version ${version}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
        }
        throw fail(`the model threw: ${cause instanceof Error ? cause.message : String(cause)}`, undefined, cause);
      }
      if (scores === null || typeof scores !== 'object' || typeof scores.length !== 'number') {
        throw fail(`the model returned ${describe(scores)}, not an array of numbers`);
      }
      if (scores.length !== rows.length) throw fail(`the model returned ${scores.length} scores for ${rows.length} rows`);
      const out = new Float64Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const value = scores[i];
        if (typeof value !== 'number') throw fail(`the model returned ${describe(value)}, not a number`, i);
        if (!Number.isFinite(value)) throw fail(`the model returned ${String(value)}${nullInputs(rows.row(i), inputs)}`, i);
        if (spec.output.kind === 'probability' && (value < 0 || value > 1)) {
          throw fail(`the model returned ${value}, and output "${spec.output.name}" is a probability (0 to 1)`, i);
        }
        out[i] = value;
      }
      return out;
    },
  };
}

function nullInputs(row: Readonly<Record<string, unknown>>, inputs: readonly string[]): string {
  const missing = inputs.filter((input) => row[input] === null || row[input] === undefined);
  return missing.length === 0 ? '' : ` (inputs null or missing: ${missing.join(', ')})`;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' ? (Array.isArray(value) ? 'an array' : 'an object') : `${typeof value} ${String(value)}`;
}
