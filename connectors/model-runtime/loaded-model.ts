import type { ModelInputs } from './model-inputs.ts';

/**
 * A model version ready to score: rows in (each with the model's inputs by name), one score per row
 * out, in order. Scores are checked before they are returned (finite; in [0, 1] for a probability),
 * so a wrong ranking is never made silently; `score` throws ModelScoringError naming the row.
 */
export interface LoadedModel {
  readonly name: string;
  readonly version: string;
  /** Input names, in the order the model reads them. */
  readonly inputs: readonly string[];
  /** Rows as objects by input name, or read by input position (model-inputs.ts). */
  score(rows: readonly Readonly<Record<string, unknown>>[] | ModelInputs): Promise<Float64Array>;
}

/** What a scorer turns rows into: raw scores, checked by checkScores afterwards. */
export type RawScorer = (rows: ModelInputs) => Promise<ArrayLike<number>>;
