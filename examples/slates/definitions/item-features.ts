/** Features of a candidate item: what the catalog says, and how it has done lately. */
import { featureView } from 'flywheel';
import { item } from './entities.ts';
import { items } from './sources.ts';
import { clicks, impressions } from './streams.ts';

export const itemProfile = featureView({
  name: 'item_profile',
  entities: [item],
  source: items,
  features: {
    category: 'string',
    rating: { type: 'float64', description: 'Average review rating, 1 to 5.' },
    price: 'float64',
  },
  online: true,
  description: 'Catalog attributes of the item (no ttl: the latest listing holds).',
});

/** Popularity: clicks and impressions in the last hour, recomputed by each materialization (the loop runs one per turn). */
export const itemClicks = featureView({
  name: 'item_clicks',
  entities: [item],
  source: clicks,
  aggregations: [{ function: 'count', windows: ['1h'], name: 'item_clicks_1h', description: 'Clicks on the item in the last hour.' }],
  online: true,
});

export const itemImpressions = featureView({
  name: 'item_impressions',
  entities: [item],
  source: impressions,
  aggregations: [{ function: 'count', windows: ['1h'], name: 'item_impressions_1h', description: 'Times the item was shown in the last hour.' }],
  online: true,
});
