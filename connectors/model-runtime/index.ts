/**
 * Scoring with a registered model version (docs/models.md).
 *
 * @example
 * const model = await loadModelVersion({ store, definitions: spec, name: 'ranker' });
 * const scores = await model.score(rows); // Float64Array, one per row, checked finite
 */
export { loadModelVersion, scorerModel, modelSpecNamed } from './load-model-version.ts';
export type { LoadedModel } from './loaded-model.ts';
export { ModelArtifactError, ModelScoringError } from '../../core/models/errors.ts';
