/**
 * The slate ranker as a model: `POST /v1/decide` reads the `ranking` features of each candidate,
 * scores them with the promoted version (a logistic regression; its weights are the version's
 * artifact, the scoring code is examples/slates/model.ts), ranks them and explores; before any version
 * is promoted it decides by its cold start (a uniformly random slate). Each turn of the demo registers
 * the ranker it trained (`flywheel models register ranker <weights.json> --trained-on
 * ranking_training`) and promotes it.
 */
import { model } from 'flywheel';
import { ranking } from './services.ts';
import { CATEGORIES } from './user-features.ts';

export const ranker = model({
  name: 'ranker',
  service: ranking,
  // What modelInputs reads: the catalog, the item's popularity, the user's clicks per category and the last click.
  inputs: [
    'category', 'rating', 'price', 'item_clicks_1h', 'item_impressions_1h', 'user_clicks_1h',
    ...CATEGORIES.map((c) => `${c}_clicks_1h`), 'clicked_category',
  ],
  output: { name: 'click_probability', kind: 'probability' },
  artifact: { format: 'typescript', module: '../model.ts', export: 'scoreRanker' },
  // Turn 0 has no trained version yet: POST /v1/decide shows a uniformly random slate, logged with propensity 1 / candidates.
  coldStart: 'uniform-random',
  description: 'Logistic regression over the ranking features: the chance the user clicks the item.',
});
