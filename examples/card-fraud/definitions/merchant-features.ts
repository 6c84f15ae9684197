/** Features about the merchant side of a transaction. */
import { featureView } from 'flywheel';
import { merchant } from './entities.ts';
import { merchantDailyStats } from './sources.ts';

export const merchantRisk = featureView({
  name: 'merchant_risk',
  entities: [merchant],
  source: merchantDailyStats,
  ttl: '2d',
  features: {
    merchant_txn_count_1d: 'int64',
    merchant_amount_avg_1d: { type: 'float64', description: 'Average ticket yesterday; null on days without sales.' },
    merchant_chargeback_count_1d: { type: 'int64', description: 'Chargebacks reported yesterday.' },
    merchant_txn_count_30d: 'int64',
    merchant_chargeback_rate_30d: {
      type: 'float64',
      description: 'Chargebacks reported in the last 30 days over transactions in the last 30 days.',
    },
  },
  online: true,
  owner: 'merchant-risk@acme.example',
  description: 'Merchant volume and chargeback history, refreshed daily.',
  tags: { team: 'merchant-risk', tier: 'gold' },
});
