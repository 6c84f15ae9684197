/** The two things the fraud model's features describe: the cardholder and the merchant. */
import { entity } from 'flywheel';

export const user = entity({
  name: 'user',
  joinKeys: { user_id: 'int64' },
  description: 'A cardholder account. One user may hold several cards; features are per account.',
});

export const merchant = entity({
  name: 'merchant',
  joinKeys: { merchant_id: 'int64' },
  description: 'An acquiring merchant (one merchant id per acquirer contract, not per store).',
});
