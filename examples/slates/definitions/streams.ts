/**
 * What the app logs through the log API. The decisions themselves are not declared: the feature
 * service `ranking` logs every response to its derived decision stream, ranking_decisions.
 */
import { eventStream } from 'flywheel';
import { item, user } from './entities.ts';

/** One row per item shown to a user: the top of a ranked slate. */
export const impressions = eventStream({
  name: 'impressions',
  entities: [user, item],
  timestampField: 'ts',
  fields: {
    decision_id: { type: 'string', description: 'The serving response the slate was ranked from.' },
    position: { type: 'int32', description: 'Where the item was shown, from 0 (the top).' },
    policy: { type: 'string', description: 'What ranked the slate: `explore` (random order) or the model, `model-v<n>`.' },
  },
  retention: '30d',
  owner: 'feed@shop.example',
});

/** One row per click on a shown item. */
export const clicks = eventStream({
  name: 'clicks',
  entities: [user, item],
  timestampField: 'ts',
  fields: {
    decision_id: { type: 'string', description: 'The serving response of the slate the item was clicked in.' },
    position: 'int32',
    clicked_category: { type: 'string', description: 'The category of the clicked item, as the app showed it.' },
  },
  retention: '30d',
  owner: 'feed@shop.example',
});
