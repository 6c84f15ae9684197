/**
 * The shape of `flywheel.config.ts`. A project has named profiles (`local`, `prod`, ...); each picks
 * one engine per role by a literal `type`. Secrets are never written here: a profile names the
 * environment variables that hold them (`passwordEnv: 'SNOWFLAKE_PASSWORD'`), and only workers and
 * the CLI read those variables, so they never reach workflow arguments or histories.
 */

import type { TaskQueues, TaskQueuesConfig } from './task-queues.ts';

export type OfflineStoreConfig =
  | {
      type: 'duckdb';
      /** Database file, relative to the project root. */
      path: string;
      threads?: number;
      /** The most memory DuckDB may use, e.g. '4GB' or '4GiB' (DuckDB's default: 80% of RAM); beyond it, statements spill to `tempDirectory`. */
      memoryLimit?: string;
      /** Where DuckDB spills, relative to the project root. Default: `<stateDir>/duckdb-temp`. */
      tempDirectory?: string;
    }
  | {
      type: 'snowflake';
      account: string;
      username: string;
      database: string;
      schema: string;
      warehouse?: string;
      role?: string;
      /** Environment variable holding the password. A profile names exactly one credential: this, privateKeyPathEnv, privateKeyEnv or oauthTokenEnv. */
      passwordEnv?: string;
      /** Environment variable holding the path of a PEM private key for key-pair authentication. */
      privateKeyPathEnv?: string;
      /** Environment variable holding the PEM text of a private key for key-pair authentication. */
      privateKeyEnv?: string;
      /** Environment variable holding the passphrase of an encrypted private key. */
      privateKeyPassphraseEnv?: string;
      /** Environment variable holding an OAuth access token. */
      oauthTokenEnv?: string;
      /** Where to reach Snowflake instead of `https://<account>.snowflakecomputing.com` (a proxy, PrivateLink, or a local emulator). */
      accessUrl?: string;
      /** Longest a statement may run before Snowflake cancels it (STATEMENT_TIMEOUT_IN_SECONDS; default 4 hours). */
      statementTimeoutSeconds?: number;
      /** Schema for working tables (transient, dropped by the run); default `<schema>` itself. */
      scratchSchema?: string;
      /**
       * An external stage over the project's bucket (`name` qualified, `url` as in its CREATE STAGE):
       * datasets under it are unloaded by Snowflake straight to the bucket (COPY INTO @stage … PARTITION BY).
       */
      unloadStage?: { name: string; url: string };
    };

/** Where an offline store is, for messages: `the DuckDB file /x/warehouse.duckdb`, `Snowflake RISK.CARD_FRAUD (account acme-risk01)`. No secrets. */
export function describeOfflineStore(config: OfflineStoreConfig): string {
  switch (config.type) {
    case 'duckdb': return `the DuckDB file ${config.path}`;
    case 'snowflake': return `Snowflake ${config.database}.${config.schema} (account ${config.account})`;
  }
}

export type ObjectStoreConfig =
  | { type: 'local'; /** Folder, relative to the project root. */ root: string }
  | {
      type: 's3';
      bucket: string;
      prefix?: string;
      region?: string;
      /** For S3-compatible stores (MinIO, versitygw): their URL. */
      endpoint?: string;
      forcePathStyle?: boolean;
      /** AWS profile name; credentials otherwise come from the standard AWS environment chain. */
      profile?: string;
    };

export type OnlineStoreConfig =
  | { type: 'sqlite'; path: string }
  | { type: 'redis'; url: string; /** Environment variable holding the password, if any. */ passwordEnv?: string; keyPrefix?: string }
  | {
      type: 'redis-cluster';
      /** Seed nodes (`redis://host:port`, `rediss://` for TLS): one is enough, the rest are found with CLUSTER SLOTS; more survive a seed being down. */
      urls: string[];
      /** Environment variable holding the password every node shares, if any. */
      passwordEnv?: string;
      keyPrefix?: string;
    };

export interface TemporalConfig {
  /** host:port of the Temporal frontend. */
  address: string;
  namespace: string;
  /**
   * The task queue the project's workers poll and its runs are started on. Default
   * `flywheel-<project>` (defaultTaskQueue), so two projects on one Temporal never share one.
   */
  taskQueue?: string;
  /**
   * A task queue per workload (ingest, training sets and backfills, labels, materialization), so a
   * long backfill never waits in front of ingestion: `'per-workload'` for `flywheel-<project>-<workload>`,
   * or an object naming some (core/task-queues.ts, docs/deployment.md). Absent: everything on `taskQueue`.
   */
  taskQueues?: TaskQueuesConfig;
  tls?: {
    serverName?: string;
    /** Environment variables holding PEM file paths (never the PEMs in git). */
    serverRootCaPathEnv?: string;
    clientCertPathEnv?: string;
    clientKeyPathEnv?: string;
  };
  /** Environment variable holding a Temporal Cloud API key. */
  apiKeyEnv?: string;
  /**
   * The Temporal Web UI, for the links the CLI prints under each run (`https://temporal.acme.internal`).
   * Default: http://localhost:8233 for a local address, https://cloud.temporal.io for Temporal Cloud.
   */
  webUrl?: string;
}

export interface ProfileConfig {
  offline: OfflineStoreConfig;
  objectStore: ObjectStoreConfig;
  onlineStore: OnlineStoreConfig;
  temporal: TemporalConfig;
}

/** A Temporal config whose task queue is known (the config loader fills in the default). */
export type ResolvedTemporalConfig = Omit<TemporalConfig, 'taskQueues'> & { taskQueue: string; /** Every workload's queue, resolved (resolveTaskQueues). */ taskQueues: TaskQueues };

/** The task queue of a project whose profile names none: its own, so projects never pick up each other's runs. */
export function defaultTaskQueue(project: string): string {
  return `flywheel-${project}`;
}

export interface FlywheelConfig {
  /** Project name; an identifier. Used in task queues, schedule ids and registry rows. */
  project: string;
  /** Folder (relative to the config file) whose .ts files export the definitions. */
  definitions: string;
  /** Folder for local state (DuckDB file, Temporal dev database, SQLite online store). Default `.flywheel`. */
  stateDir?: string;
  defaultProfile?: string;
  profiles: Record<string, ProfileConfig>;
}

/**
 * Declares a project's configuration with type checking.
 *
 * @example
 * export default defineConfig({
 *   project: 'card_fraud', definitions: './definitions',
 *   profiles: { local: localProfile() },
 * });
 */
export function defineConfig(config: FlywheelConfig): FlywheelConfig {
  return config;
}

/** The embedded profile: needs nothing installed beyond npm packages and the Temporal dev server. */
export function localProfile(options: { stateDir?: string; temporalAddress?: string; taskQueue?: string } = {}): ProfileConfig {
  const state = options.stateDir ?? '.flywheel';
  return {
    offline: { type: 'duckdb', path: `${state}/warehouse.duckdb` },
    objectStore: { type: 'local', root: `${state}/objects` },
    onlineStore: { type: 'sqlite', path: `${state}/online.sqlite` },
    // No task queue: the config loader gives the project's own (defaultTaskQueue).
    temporal: { address: options.temporalAddress ?? 'localhost:7233', namespace: 'default', ...(options.taskQueue !== undefined ? { taskQueue: options.taskQueue } : {}) },
  };
}
