/** What the ranker learns from: each logged candidate row, its label, and the features it was served. */
import { trainingSet } from 'flywheel';
import { clicked } from './labels.ts';
import { ranking } from './services.ts';

export const rankingTraining = trainingSet({
  name: 'ranking_training',
  spine: { labels: clicked },
  features: { service: ranking },
  // The values the ranker saw, from its decision log, rather than recomputed.
  fromLog: true,
  output: { partitionBy: 'none' },
  description: 'One row per labeled candidate of a served slate, with the ranking features as served.',
});
