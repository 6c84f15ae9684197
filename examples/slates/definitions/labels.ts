/** A candidate row of a slate is labeled 1 when the user clicked that item within 5 s of the decision. */
import { labels } from 'flywheel';
import { ranking } from './services.ts';
import { clicks } from './streams.ts';

export const clicked = labels({
  name: 'clicked',
  decisions: ranking,
  outcomes: clicks,
  // A click carries the decision id of its slate; the item must match too (a slate is one decision, a row per item).
  match: { by: 'decision_id', outcomeField: 'decision_id', keys: ['item_id'] },
  // Short, so the demo's turns finish in seconds; a real feed would use minutes.
  window: '5s',
  value: { kind: 'any' },
  partitionBy: 'hour',
});
