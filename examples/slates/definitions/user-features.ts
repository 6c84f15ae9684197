/** Features of the user asking for a slate: what they clicked lately, and the very last click. */
import { featureView } from 'flywheel';
import { user } from './entities.ts';
import { clicks } from './streams.ts';

/** The catalog's categories; the user's clicks are counted per category, one feature each. */
export const CATEGORIES = ['books', 'music', 'games', 'sports', 'home'] as const;

/**
 * Taste: the user's clicks in the last hour, in total and per category of the clicked item. The
 * transformation turns each click into one 0/1 column per category, which the aggregations sum.
 */
export const userCategoryClicks = featureView({
  name: 'user_category_clicks',
  entities: [user],
  source: clicks,
  transformation: `SELECT user_id, ts, ${CATEGORIES.map((c) => `CASE WHEN clicked_category = '${c}' THEN 1 ELSE 0 END AS ${c}`).join(', ')} FROM {{source}}`,
  inputs: Object.fromEntries(CATEGORIES.map((c) => [c, 'int32'])),
  aggregations: [
    { function: 'count', windows: ['1h'], name: 'user_clicks_1h', description: 'Clicks of the user in the last hour.' },
    ...CATEGORIES.map((c) => ({ column: c, function: 'sum' as const, windows: ['1h'], name: `${c}_clicks_1h`, description: `Clicks on ${c} items in the last hour.` })),
  ],
  online: true,
});

/**
 * The category of the user's latest click, pushed: the log API writes it to the online store as soon
 * as it stores the click, so the next slate, seconds later, is ranked knowing it.
 */
export const userLastClick = featureView({
  name: 'user_last_click',
  entities: [user],
  source: clicks,
  push: true,
  features: { clicked_category: { type: 'string', description: 'Category of the latest clicked item.' } },
  online: true,
});
