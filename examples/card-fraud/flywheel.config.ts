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
