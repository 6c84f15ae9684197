/**
 * Warehouse tables the fraud features read. In the local profile, examples/card-fraud/generate-data.ts
 * writes them into the DuckDB file; in prod they are dbt models in RISK.CARD_FRAUD on Snowflake.
 * Every time column is a UTC instant (TIMESTAMPTZ).
 */
import { source } from 'flywheel';

const team = 'risk-ml@acme.example';

export const transactions = source({
  name: 'transactions',
  table: 'transactions',
  timestampField: 'ts',
  columns: {
    transaction_id: 'int64',
    user_id: 'int64',
    merchant_id: 'int64',
    ts: 'timestamp',
    amount: 'float64',
    channel: 'string',
    merchant_category: 'string',
  },
  description: 'Authorized card transactions as the processor streams them, one row per authorization. No labels.',
  owner: 'payments-data@acme.example',
  tags: { domain: 'payments', layer: 'raw', pii: 'false' },
});

export const userDailyStats = source({
  name: 'user_daily_stats',
  table: 'user_daily_stats',
  timestampField: 'ts',
  columns: {
    user_id: 'int64',
    day: 'date',
    ts: 'timestamp',
    txn_count_1d: 'int64',
    amount_sum_1d: 'float64',
    amount_avg_1d: 'float64',
    amount_max_1d: 'float64',
  },
  description:
    'Spend per user and UTC day, for days with at least one transaction. `ts` is the end of the day, ' +
    'so a day\'s row becomes visible at 00:00 the next day, never during the day it summarizes.',
  owner: team,
  tags: { domain: 'payments', layer: 'aggregate', grain: 'user_day' },
});

export const merchantDailyStats = source({
  name: 'merchant_daily_stats',
  table: 'merchant_daily_stats',
  timestampField: 'ts',
  columns: {
    merchant_id: 'int64',
    day: 'date',
    ts: 'timestamp',
    merchant_txn_count_1d: 'int64',
    merchant_amount_avg_1d: 'float64',
    merchant_chargeback_count_1d: 'int64',
    merchant_txn_count_30d: 'int64',
    merchant_chargeback_rate_30d: 'float64',
  },
  description:
    'Volume and chargebacks per merchant and UTC day (every day, zeros included). Chargebacks count on the ' +
    'day they were reported, not the day of the transaction, so the 30-day rate only uses what was known.',
  owner: team,
  tags: { domain: 'payments', layer: 'aggregate', grain: 'merchant_day' },
});

export const userProfile = source({
  name: 'user_profile',
  table: 'user_profile',
  timestampField: 'updated_at',
  createdTimestampField: 'created_at',
  columns: {
    user_id: 'int64',
    country: 'string',
    account_opened_at: 'timestamp',
    kyc_verified: 'bool',
    credit_limit: 'float64',
    updated_at: 'timestamp',
    created_at: 'timestamp',
  },
  description:
    'Account profile history (type-2 slowly changing): a row per change, valid from updated_at. Restatements ' +
    'keep updated_at and get a later created_at, which wins the tie.',
  owner: 'accounts-data@acme.example',
  tags: { domain: 'accounts', layer: 'snapshot', pii: 'low' },
});

export const labeledTransactions = source({
  name: 'labeled_transactions',
  table: 'labeled_transactions',
  timestampField: 'ts',
  columns: {
    transaction_id: 'int64',
    user_id: 'int64',
    merchant_id: 'int64',
    ts: 'timestamp',
    amount: 'float64',
    channel: 'string',
    is_fraud: 'bool',
  },
  description:
    'Transactions with their fraud label (confirmed by chargeback or by the fraud-ops investigation). ' +
    'The spine of the training set: features are joined as of each transaction\'s ts.',
  owner: team,
  tags: { domain: 'payments', layer: 'label', label: 'is_fraud' },
});
