/** What the fraud model reads, online at authorization time and offline for training. */
import { featureService, select } from 'flywheel';
import { merchantRisk } from './merchant-features.ts';
import { userAccount, userActivity, userSpend, userTxnWindows } from './user-features.ts';

export const fraudModel = featureService({
  name: 'fraud_model',
  features: [
    userSpend,
    userActivity,
    { view: userAccount, features: ['account_opened_at', 'kyc_verified', 'credit_limit'] },
    { view: merchantRisk, features: ['merchant_txn_count_30d', 'merchant_chargeback_rate_30d', 'merchant_amount_avg_1d'] },
    // Velocity: every window but the 1d sum and average, whose names user_spend already uses (for yesterday's totals).
    select(userTxnWindows, [
      'count_1h', 'count_1d', 'count_7d', 'amount_sum_1h', 'amount_sum_7d', 'amount_avg_1h', 'amount_avg_7d', 'distinct_merchants_30d',
    ]),
  ],
  // Every response is logged to the derived decision stream fraud_model_decisions (the warehouse table
  // flywheel.stream_fraud_model_decisions): the values the model saw, per decision id, to join with outcomes.
  logging: { sampleRate: 1 },
  owner: 'risk-ml@acme.example',
  description: 'Features of the card-authorization fraud model (gradient-boosted trees, v3).',
  tags: { model: 'card_fraud_gbt', stage: 'production' },
});
