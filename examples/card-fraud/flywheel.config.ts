/**
 * Configuration of the card-fraud example. `local` runs everything on this machine (DuckDB file,
 * local folder, SQLite, Temporal dev server); `prod` is what the same definitions run against in
 * production. No secrets here: prod names the environment variables that hold them, and only the
 * worker and the CLI read those.
 */
import { defineConfig, localProfile } from 'flywheel';

export default defineConfig({
  project: 'card_fraud',
  definitions: './definitions',
  defaultProfile: 'local',
  profiles: {
    local: localProfile(),
    // The warehouse on Snowflake, everything else on this machine: prod's offline store, with the
    // account named by environment variables (README, "On Snowflake"), and Redis for the online values.
    // Pointed at a real account, or at the Snowflake emulator the tests run
    // (test/card-fraud-snowflake.test.ts). The password stays in SNOWFLAKE_PASSWORD, read by the CLI
    // and the worker when they open the engine.
    snowflake: {
      ...localProfile(),
      offline: {
        type: 'snowflake',
        account: process.env.SNOWFLAKE_ACCOUNT ?? 'acme-risk01',
        username: process.env.SNOWFLAKE_USER ?? 'FLYWHEEL_SVC',
        database: process.env.SNOWFLAKE_DATABASE ?? 'RISK',
        schema: process.env.SNOWFLAKE_SCHEMA ?? 'CARD_FRAUD',
        ...(process.env.SNOWFLAKE_WAREHOUSE ? { warehouse: process.env.SNOWFLAKE_WAREHOUSE } : {}),
        ...(process.env.SNOWFLAKE_ROLE ? { role: process.env.SNOWFLAKE_ROLE } : {}),
        // Only for a proxy, PrivateLink or the emulator: https://<account>.snowflakecomputing.com otherwise.
        ...(process.env.SNOWFLAKE_ACCESS_URL ? { accessUrl: process.env.SNOWFLAKE_ACCESS_URL } : {}),
        passwordEnv: 'SNOWFLAKE_PASSWORD',
      },
      onlineStore: { type: 'redis', url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: 'card_fraud:' },
    },
    prod: {
      offline: {
        type: 'snowflake',
        account: 'acme-risk01',
        username: 'FLYWHEEL_SVC',
        database: 'RISK',
        schema: 'CARD_FRAUD',
        warehouse: 'FLYWHEEL_WH',
        role: 'FLYWHEEL_ROLE',
        passwordEnv: 'SNOWFLAKE_PASSWORD',
      },
      objectStore: { type: 's3', bucket: 'acme-ml-flywheel', prefix: 'card_fraud/', region: 'eu-west-1' },
      onlineStore: {
        type: 'redis',
        url: 'rediss://fraud-features.acme.internal:6379',
        passwordEnv: 'REDIS_PASSWORD',
        keyPrefix: 'card_fraud:',
      },
      temporal: {
        address: 'card-fraud.acme.tmprl.cloud:7233',
        namespace: 'card-fraud.acme',
        taskQueue: 'card_fraud',
        tls: {
          clientCertPathEnv: 'TEMPORAL_CLIENT_CERT_PATH',
          clientKeyPathEnv: 'TEMPORAL_CLIENT_KEY_PATH',
        },
      },
    },
  },
});
