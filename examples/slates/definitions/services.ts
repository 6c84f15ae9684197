/** What the ranker reads for each (user, candidate item) row of a slate, and logs for training. */
import { featureService } from 'flywheel';
import { itemClicks, itemImpressions, itemProfile } from './item-features.ts';
import { userCategoryClicks, userLastClick } from './user-features.ts';

export const ranking = featureService({
  name: 'ranking',
  features: [itemProfile, itemClicks, itemImpressions, userCategoryClicks, userLastClick],
  // Every response is logged to ranking_decisions: one row per candidate, with the values the ranker saw.
  logging: { sampleRate: 1 },
  description: 'Features of the slate ranker: a request is a user (context) and ~20 candidate items.',
});
