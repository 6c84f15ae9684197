/**
 * Synthetic card-fraud data for the example: raw card transactions, daily aggregates per user and
 * per merchant, a slowly changing user profile, chargebacks and the labeled spine, written into a
 * DuckDB file by DuckDB SQL (a few hundred thousand rows in a couple of seconds).
 *
 * Every random draw is the hash of `seed:salt:row` mapped to [0, 1), so the same options always give
 * the same rows, whatever the thread count. Fraud is learnable on purpose: it is more likely on new
 * accounts, at risky merchants, at night and online, and fraudulent amounts are several times the
 * user's usual spend.
 *
 * Run it as a script:
 *   npx tsx examples/card-fraud/generate-data.ts [--out path] [--users 5000] [--merchants 800]
 *     [--days 60] [--per-day 6000] [--seed 42] [--start 2025-01-01]
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import config from './flywheel.config.ts';

export interface CardFraudDataOptions {
  /** DuckDB file to write (created if missing; the tables below are replaced). */
  warehousePath: string;
  users?: number;
  merchants?: number;
  days?: number;
  transactionsPerDay?: number;
  seed?: number;
  /**
   * First day of data (a UTC date such as `2025-01-01`). Default: `days` days before today (UTC), so
   * the last full day is yesterday and its daily stats are visible from today 00:00 UTC.
   */
  start?: string | Date;
}

export interface CardFraudDataResult {
  readonly warehousePath: string;
  /** Start of the first day and end of the last day (exclusive), ISO instants in UTC. */
  readonly start: string;
  readonly end: string;
  readonly rowCounts: Readonly<Record<CardFraudTable, number>>;
  /** Share of transactions labeled as fraud. */
  readonly fraudRate: number;
  readonly elapsedMs: number;
}

/** The tables the generator writes, in the order it writes them. */
export const CARD_FRAUD_TABLES = [
  'transactions',
  'labeled_transactions',
  'chargebacks',
  'user_profile',
  'user_daily_stats',
  'merchant_daily_stats',
] as const;
export type CardFraudTable = (typeof CARD_FRAUD_TABLES)[number];

const DAY_SECONDS = 86_400;

export const CARD_FRAUD_DEFAULTS = { users: 5000, merchants: 800, days: 60, transactionsPerDay: 6000, seed: 42 } as const;

/** Where `npx tsx generate-data.ts` writes by default: the local profile's warehouse. */
export function defaultWarehousePath(): string {
  const offline = config.profiles.local?.offline;
  if (offline?.type !== 'duckdb') throw new Error('the local profile of examples/card-fraud has no DuckDB warehouse');
  return resolve(dirname(fileURLToPath(import.meta.url)), offline.path);
}

export async function generateCardFraudData(options: CardFraudDataOptions): Promise<CardFraudDataResult> {
  const started = performance.now();
  const users = positiveInteger('users', options.users ?? CARD_FRAUD_DEFAULTS.users);
  const merchants = positiveInteger('merchants', options.merchants ?? CARD_FRAUD_DEFAULTS.merchants);
  const days = positiveInteger('days', options.days ?? CARD_FRAUD_DEFAULTS.days);
  const perDay = positiveInteger('transactionsPerDay', options.transactionsPerDay ?? CARD_FRAUD_DEFAULTS.transactionsPerDay);
  const seed = nonNegativeInteger('seed', options.seed ?? CARD_FRAUD_DEFAULTS.seed);
  const startEpoch = startOfDayEpoch(options.start ?? new Date(Date.now() - days * DAY_SECONDS * 1000));
  const endEpoch = startEpoch + days * DAY_SECONDS;

  if (options.warehousePath !== ':memory:') mkdirSync(dirname(resolve(options.warehousePath)), { recursive: true });
  const instance = await DuckDBInstance.create(options.warehousePath, {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  try {
    await connection.run(`SET TimeZone = 'UTC'`);
    await connection.run('BEGIN TRANSACTION');
    try {
      for (const statement of generationStatements({ users, merchants, days, perDay, seed, startEpoch })) {
        await connection.run(statement);
      }
      await connection.run('COMMIT');
    } catch (error) {
      await connection.run('ROLLBACK');
      throw error;
    }
    const rowCounts = await countRows(connection);
    const fraudRate = Number(await scalar(connection, 'SELECT coalesce(avg(is_fraud::INTEGER), 0) FROM labeled_transactions'));
    return {
      warehousePath: options.warehousePath,
      start: new Date(startEpoch * 1000).toISOString(),
      end: new Date(endEpoch * 1000).toISOString(),
      rowCounts,
      fraudRate,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

interface GenerationParameters {
  users: number;
  merchants: number;
  days: number;
  perDay: number;
  seed: number;
  startEpoch: number;
}

/**
 * The SQL, one statement per step. Hidden attributes (spend level, risky merchants, which
 * transactions are fraud) live in temp tables and only show through the data, as in real life.
 */
function generationStatements(p: GenerationParameters): string[] {
  const windowSeconds = p.days * DAY_SECONDS;
  // 70% of users opened their account before the window; the rest sign up evenly during it.
  const existingUsers = Math.max(1, Math.round(p.users * 0.7));
  const newUsers = p.users - existingUsers;
  const ts = (secondsSinceStart: string) => `to_timestamp(${p.startEpoch} + ${secondsSinceStart})`;

  return [
    // Uniform draw in [0, 1) and a standard normal draw (Box-Muller), both keyed by (seed, salt, row).
    // hash() of several arguments combines their hashes cheaply, leaving draws with different salts
    // correlated; hashing one string mixes seed, salt and row fully.
    `CREATE OR REPLACE TEMP MACRO rnd(salt, i) AS hash(concat('${p.seed}:', salt, ':', i)) / 18446744073709551616.0`,
    `CREATE OR REPLACE TEMP MACRO rnorm(salt, i) AS
       sqrt(-2 * ln(1 - rnd(salt || ':r', i))) * cos(2 * pi() * rnd(salt || ':a', i))`,

    // New users' sign-up offsets (whole seconds into the window), and how many users exist from then on.
    `CREATE OR REPLACE TEMP TABLE gen_signups AS
     SELECT CAST(floor((j + 0.5) * ${windowSeconds} / ${Math.max(newUsers, 1)}) AS BIGINT) AS offset_s,
            ${existingUsers} + j + 1 AS eligible_users
     FROM range(${newUsers}) AS t(j)`,

    `CREATE OR REPLACE TEMP TABLE gen_users AS
     SELECT
       u.user_id,
       u.user_id <= ${existingUsers} AS is_existing,
       CASE WHEN u.user_id <= ${existingUsers}
         THEN ${ts(`- CAST(floor((30 + 1800 * rnd('age', u.user_id)) * ${DAY_SECONDS}) AS BIGINT)`)}
         ELSE ${ts('s.offset_s')}
       END AS signup_ts,
       ['US', 'US', 'US', 'US', 'GB', 'GB', 'DE', 'FR', 'CA', 'NL', 'BR', 'IN'][1 + CAST(floor(12 * rnd('country', u.user_id)) AS INTEGER)] AS country,
       exp(3.2 + 0.6 * rnorm('spend', u.user_id)) AS spend_level,
       500.0 * (1 + floor(20 * rnd('limit', u.user_id))) AS credit_limit
     FROM (SELECT range + 1 AS user_id FROM range(${p.users})) AS u
     LEFT JOIN (SELECT row_number() OVER (ORDER BY offset_s) + ${existingUsers} AS user_id, offset_s FROM gen_signups) AS s
       ON s.user_id = u.user_id`,

    // Popular merchants have low ids; high-risk categories hold most of the risky merchants.
    `CREATE OR REPLACE TEMP TABLE gen_merchants AS
     SELECT
       merchant_id,
       category,
       rnd('risky', merchant_id) < CASE WHEN category IN ('electronics', 'gift_cards', 'digital_goods') THEN 0.25 ELSE 0.03 END AS is_risky,
       CASE category WHEN 'travel' THEN 4.0 WHEN 'electronics' THEN 3.0 WHEN 'fuel' THEN 1.2 WHEN 'grocery' THEN 1.0
                     WHEN 'restaurants' THEN 0.9 WHEN 'pharmacy' THEN 0.7 ELSE 1.5 END AS amount_factor
     FROM (
       SELECT range + 1 AS merchant_id,
              ['grocery', 'restaurants', 'fuel', 'travel', 'electronics', 'gift_cards', 'digital_goods', 'apparel', 'pharmacy', 'entertainment']
                [1 + CAST(floor(10 * rnd('category', range + 1)) AS INTEGER)] AS category
       FROM range(${p.merchants})
     )`,

    `CREATE OR REPLACE TEMP TABLE gen_transactions AS
     WITH drawn AS (
       SELECT
         i,
         i // ${p.perDay} AS day_index,
         rnd('night', i) < 0.08 AS is_night,
         rnd('channel', i) < 0.35 AS is_online,
         1 + CAST(floor(${p.merchants} * pow(rnd('merchant', i), 2)) AS BIGINT) AS merchant_id
       FROM range(${p.days * p.perDay}) AS t(i)
     ),
     timed AS (
       SELECT *,
         day_index * ${DAY_SECONDS} + CASE WHEN is_night
           THEN CAST(floor(6 * 3600 * rnd('second', i)) AS BIGINT)
           ELSE 6 * 3600 + CAST(floor(18 * 3600 * rnd('second', i)) AS BIGINT)
         END AS offset_s
       FROM drawn
     ),
     with_user AS (
       -- Only users who have signed up by the transaction's time can make it.
       SELECT timed.*,
              1 + CAST(floor(coalesce(s.eligible_users, ${existingUsers}) * rnd('user', i)) AS BIGINT) AS user_id
       FROM timed ASOF LEFT JOIN gen_signups AS s ON timed.offset_s >= s.offset_s
     ),
     joined AS (
       SELECT w.*, m.category, m.is_risky, m.amount_factor, u.spend_level,
              w.offset_s - (epoch(u.signup_ts) - ${p.startEpoch}) < 14 * ${DAY_SECONDS} AS is_new_account
       FROM with_user AS w
       JOIN gen_users AS u USING (user_id)
       JOIN gen_merchants AS m USING (merchant_id)
     ),
     labeled AS (
       -- The fraud model the data hides: a logistic function of account age, merchant, hour and channel.
       SELECT *,
              rnd('fraud', i) < 1 / (1 + exp(-(-5.6 + 2.6 * is_new_account::INTEGER + 2.1 * is_risky::INTEGER
                                               + 1.4 * is_night::INTEGER + 0.9 * is_online::INTEGER))) AS is_fraud
       FROM joined
     )
     SELECT
       row_number() OVER (ORDER BY offset_s, i) AS transaction_id,
       user_id,
       merchant_id,
       ${ts('offset_s')} AS ts,
       greatest(1.0, round(spend_level * amount_factor * exp(0.5 * rnorm('amount', i))
                           * CASE WHEN is_fraud THEN 2.5 + 5 * rnd('fraud_amount', i) ELSE 1 END, 2)) AS amount,
       CASE WHEN is_online THEN 'online' ELSE 'in_store' END AS channel,
       category AS merchant_category,
       is_fraud,
       is_new_account,
       is_risky,
       i
     FROM labeled`,

    `CREATE OR REPLACE TABLE transactions AS
     SELECT transaction_id, user_id, merchant_id, ts, amount, channel, merchant_category
     FROM gen_transactions ORDER BY transaction_id`,

    `CREATE OR REPLACE TABLE labeled_transactions AS
     SELECT transaction_id, user_id, merchant_id, ts, amount, channel, is_fraud
     FROM gen_transactions ORDER BY transaction_id`,

    // 90% of fraud is charged back 2 to 42 days later; only chargebacks reported by the end of the window exist.
    `CREATE OR REPLACE TABLE chargebacks AS
     SELECT * FROM (
       SELECT transaction_id, user_id, merchant_id, amount,
              ts + to_seconds(CAST(floor((2 + 40 * pow(rnd('chargeback_delay', i), 2)) * ${DAY_SECONDS}) AS BIGINT)) AS reported_at
       FROM gen_transactions
       WHERE is_fraud AND rnd('chargeback', i) < 0.9
     )
     WHERE reported_at < ${ts(String(windowSeconds))}
     ORDER BY reported_at, transaction_id`,

    // Slowly changing profile: a row at sign-up; new users get verified (KYC) 1 to 10 days later; some
    // existing users get a credit-limit raise. 2% of sign-up rows were entered with a wrong country and
    // restated with the same updated_at and a later created_at, which is what breaks the tie.
    `CREATE OR REPLACE TABLE user_profile AS
     WITH users AS (
       SELECT *, rnd('restated', user_id) < 0.02 AS restated FROM gen_users
     ),
     rows AS (
       SELECT user_id,
              CASE WHEN restated THEN CASE WHEN country = 'US' THEN 'CA' ELSE 'US' END ELSE country END AS country,
              signup_ts AS account_opened_at, is_existing AS kyc_verified, credit_limit,
              signup_ts AS updated_at, signup_ts + INTERVAL 5 MINUTE AS created_at
       FROM users
       UNION ALL
       SELECT user_id, country, signup_ts, is_existing, credit_limit,
              signup_ts, signup_ts + INTERVAL 1 DAY
       FROM users WHERE restated
       UNION ALL
       SELECT user_id, country, signup_ts, true, credit_limit,
              signup_ts + to_seconds(CAST(floor((1 + 9 * rnd('kyc_delay', user_id)) * ${DAY_SECONDS}) AS BIGINT)) AS updated_at, NULL
       FROM users WHERE NOT is_existing AND rnd('kyc', user_id) < 0.8
       UNION ALL
       SELECT user_id, country, signup_ts, true, 2 * credit_limit,
              ${ts(`CAST(floor(${windowSeconds} * rnd('raise_at', user_id)) AS BIGINT)`)}, NULL
       FROM users WHERE is_existing AND rnd('raise', user_id) < 0.1
     )
     SELECT user_id, country, account_opened_at, kyc_verified, credit_limit, updated_at,
            coalesce(created_at, updated_at + INTERVAL 5 MINUTE) AS created_at
     FROM rows
     WHERE updated_at < ${ts(String(windowSeconds))}
     ORDER BY updated_at, user_id, created_at`,

    // Daily aggregates carry the end of their day as event time: yesterday's stats exist from 00:00 today.
    `CREATE OR REPLACE TABLE user_daily_stats AS
     SELECT user_id,
            CAST(day_start AS DATE) AS day,
            day_start + INTERVAL 1 DAY AS ts,
            count(*) AS txn_count_1d,
            round(sum(amount), 2) AS amount_sum_1d,
            round(avg(amount), 2) AS amount_avg_1d,
            max(amount) AS amount_max_1d
     FROM (SELECT user_id, amount, date_trunc('day', ts) AS day_start FROM transactions)
     GROUP BY user_id, day_start
     ORDER BY day_start, user_id`,

    // One row per merchant and day (zeros included), with 30-day windows over transactions and over
    // the chargebacks reported in them.
    `CREATE OR REPLACE TABLE merchant_daily_stats AS
     WITH grid AS (
       SELECT merchant_id, day_index FROM gen_merchants CROSS JOIN range(${p.days}) AS d(day_index)
     ),
     txns AS (
       SELECT merchant_id, CAST(floor((epoch(ts) - ${p.startEpoch}) / ${DAY_SECONDS}) AS BIGINT) AS day_index,
              count(*) AS txn_count, avg(amount) AS amount_avg
       FROM transactions GROUP BY ALL
     ),
     cbs AS (
       SELECT merchant_id, CAST(floor((epoch(reported_at) - ${p.startEpoch}) / ${DAY_SECONDS}) AS BIGINT) AS day_index,
              count(*) AS chargeback_count
       FROM chargebacks GROUP BY ALL
     ),
     daily AS (
       SELECT g.merchant_id, g.day_index,
              coalesce(t.txn_count, 0) AS txn_count,
              round(t.amount_avg, 2) AS amount_avg,
              coalesce(c.chargeback_count, 0) AS chargeback_count
       FROM grid AS g
       LEFT JOIN txns AS t USING (merchant_id, day_index)
       LEFT JOIN cbs AS c USING (merchant_id, day_index)
     )
     SELECT merchant_id,
            CAST(${ts(`day_index * ${DAY_SECONDS}`)} AS DATE) AS day,
            ${ts(`(day_index + 1) * ${DAY_SECONDS}`)} AS ts,
            txn_count AS merchant_txn_count_1d,
            amount_avg AS merchant_amount_avg_1d,
            chargeback_count AS merchant_chargeback_count_1d,
            CAST(sum(txn_count) OVER last_30_days AS BIGINT) AS merchant_txn_count_30d,
            coalesce(sum(chargeback_count) OVER last_30_days / nullif(sum(txn_count) OVER last_30_days, 0), 0.0) AS merchant_chargeback_rate_30d
     FROM daily
     WINDOW last_30_days AS (PARTITION BY merchant_id ORDER BY day_index ROWS BETWEEN 29 PRECEDING AND CURRENT ROW)
     ORDER BY day_index, merchant_id`,

    'DROP TABLE gen_transactions',
    'DROP TABLE gen_merchants',
    'DROP TABLE gen_users',
    'DROP TABLE gen_signups',
  ];
}

async function countRows(connection: DuckDBConnection): Promise<Record<CardFraudTable, number>> {
  const counts = {} as Record<CardFraudTable, number>;
  for (const table of CARD_FRAUD_TABLES) counts[table] = Number(await scalar(connection, `SELECT count(*) FROM "${table}"`));
  return counts;
}

async function scalar(connection: DuckDBConnection, sql: string): Promise<unknown> {
  const reader = await connection.runAndReadAll(sql);
  return reader.getRows()[0]?.[0];
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive whole number, got ${value}`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number >= 0, got ${value}`);
  return value;
}

/** Seconds since the epoch of 00:00 UTC on the day of `start`. */
function startOfDayEpoch(start: string | Date): number {
  const date = typeof start === 'string' ? new Date(/^\d{4}-\d{2}-\d{2}$/.test(start) ? `${start}T00:00:00Z` : start) : start;
  if (Number.isNaN(date.getTime())) throw new RangeError(`start must be a date such as 2025-01-01, got ${String(start)}`);
  return Math.floor(date.getTime() / 1000 / DAY_SECONDS) * DAY_SECONDS;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      users: { type: 'string' },
      merchants: { type: 'string' },
      days: { type: 'string' },
      'per-day': { type: 'string' },
      seed: { type: 'string' },
      start: { type: 'string' },
    },
  });
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  const warehousePath = resolve(values.out ?? defaultWarehousePath());
  const result = await generateCardFraudData({
    warehousePath,
    users: number(values.users),
    merchants: number(values.merchants),
    days: number(values.days),
    transactionsPerDay: number(values['per-day']),
    seed: number(values.seed),
    start: values.start,
  });
  console.log(`Wrote ${result.warehousePath} (${result.start} to ${result.end})`);
  for (const [table, count] of Object.entries(result.rowCounts)) console.log(`  ${table.padEnd(22)} ${count.toLocaleString('en-US').padStart(9)} rows`);
  console.log(`  fraud rate ${(100 * result.fraudRate).toFixed(2)}%, ${(result.elapsedMs / 1000).toFixed(2)} s`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
