/** What the fraud model reads, online at authorization time and offline for training. */
import { featureService } from 'flywheel';
import { merchantRisk } from './merchant-features.ts';
import { userAccount, userActivity, userSpend } from './user-features.ts';

export const fraudModel = featureService({
  name: 'fraud_model',
  features: [
    userSpend,
    userActivity,
    { view: userAccount, features: ['account_opened_at', 'kyc_verified', 'credit_limit'] },
    { view: merchantRisk, features: ['merchant_txn_count_30d', 'merchant_chargeback_rate_30d', 'merchant_amount_avg_1d'] },
  ],
  owner: 'risk-ml@acme.example',
  description: 'Features of the card-authorization fraud model (gradient-boosted trees, v3).',
  tags: { model: 'card_fraud_gbt', stage: 'production' },
});
