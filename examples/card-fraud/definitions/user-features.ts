/** Features about the cardholder: recent spend, activity patterns and the account itself. */
import { featureView } from 'flywheel';
import { user } from './entities.ts';
import { transactions, userDailyStats, userProfile } from './sources.ts';

const owner = 'risk-ml@acme.example';

/** Yesterday's spend: the baseline a new transaction's amount is compared with. */
export const userSpend = featureView({
  name: 'user_spend',
  entities: [user],
  source: userDailyStats,
  // A daily row is visible from the end of its day; after two days without spend the values read as null.
  ttl: '2d',
  features: {
    txn_count_1d: { type: 'int64', description: 'Transactions on the last day with activity.' },
    amount_sum_1d: { type: 'float64', description: 'Total spend that day, in account currency.' },
    amount_avg_1d: { type: 'float64', description: 'Average transaction amount that day.' },
    amount_max_1d: { type: 'float64', description: 'Largest transaction that day.' },
  },
  online: true,
  owner,
  description: 'Daily spend per user, read from the user_daily_stats aggregate.',
  tags: { team: 'risk-ml', tier: 'gold' },
});

/** Account attributes; they change rarely, so the latest row holds whatever its age (no ttl). */
export const userAccount = featureView({
  name: 'user_account',
  entities: [user],
  source: userProfile,
  features: {
    country: { type: 'string', description: 'ISO 3166 alpha-2 country of the billing address.' },
    account_opened_at: {
      type: 'timestamp',
      description: 'When the account was opened; account age is the spine time minus this.',
    },
    kyc_verified: { type: 'bool', description: 'Identity verification (KYC) completed.' },
    credit_limit: 'float64',
  },
  online: true,
  owner,
  description: 'Profile of the cardholder account as of each point in time (restatements resolved by created_at).',
  tags: { team: 'risk-ml', tier: 'gold', pii: 'low' },
});

/**
 * How the user transacts, computed from raw transactions per user and UTC day. Like the daily
 * aggregates, each row's time is the end of its day, so a day's pattern is never used during that day.
 */
export const userActivity = featureView({
  name: 'user_activity',
  entities: [user],
  source: transactions,
  transformation: `
    SELECT
      user_id,
      date_trunc('day', ts) + INTERVAL '1 day' AS ts,
      COUNT(DISTINCT merchant_id) AS distinct_merchants_1d,
      AVG(CASE WHEN EXTRACT(HOUR FROM ts) < 6 THEN 1.0 ELSE 0.0 END) AS night_txn_share_1d,
      AVG(CASE WHEN channel = 'online' THEN 1.0 ELSE 0.0 END) AS online_txn_share_1d
    FROM {{source}}
    GROUP BY user_id, date_trunc('day', ts)`,
  ttl: '2d',
  features: {
    distinct_merchants_1d: { type: 'int64', description: 'Distinct merchants the user paid that day.' },
    night_txn_share_1d: { type: 'float64', description: 'Share of that day\'s transactions between 00:00 and 06:00 UTC.' },
    online_txn_share_1d: { type: 'float64', description: 'Share of that day\'s transactions that were card-not-present.' },
  },
  online: true,
  owner,
  description: 'Daily activity patterns per user (merchant spread, night-time and online share).',
  tags: { team: 'risk-ml', tier: 'silver' },
});

/**
 * Rolling activity per user, aggregated from raw transactions as of each point in time: how many
 * transactions, how much and how large on average in the last hour, day and week, and with how many
 * merchants in the last 30 days. The windows slide with the time they are read at (t - window < ts <= t),
 * so unlike the daily aggregates they include the day's earlier transactions, and the transaction
 * at t itself: serve them the same way, by recording each authorization before it is scored.
 */
export const userTxnWindows = featureView({
  name: 'user_txn_windows',
  entities: [user],
  source: transactions,
  aggregations: [
    { function: 'count', windows: ['1h', '1d', '7d'], description: 'Transactions in the window.' },
    { column: 'amount', function: 'sum', windows: ['1h', '1d', '7d'], description: 'Total spend in the window; null without transactions.' },
    { column: 'amount', function: 'avg', windows: ['1h', '1d', '7d'], description: 'Average amount in the window; null without transactions.' },
    { column: 'merchant_id', function: 'distinct_count', windows: ['30d'], name: 'distinct_merchants_30d', description: 'Distinct merchants paid in the last 30 days.' },
  ],
  // Served at authorization time. The windows slide with the clock, so the online values are recomputed
  // every hour (`flywheel apply` keeps the Temporal Schedule): what is served is at most an hour behind.
  online: true,
  materialize: { every: '1h' },
  owner,
  description: 'Sliding-window counts, sums and averages of the user\'s transactions (velocity features).',
  tags: { team: 'risk-ml', tier: 'silver' },
});
