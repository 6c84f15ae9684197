import { z } from 'zod';
import { identifierProblem, qualifiedNameProblem } from './identifiers.ts';
import type { FlywheelConfig } from './config.ts';

/** Checks a loaded `flywheel.config.ts` default export; kept beside the types in config.ts. */

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be the NAME of an environment variable (upper case), not its value');

/** The Snowflake profile fields that name a credential; a profile names exactly one. */
const SNOWFLAKE_AUTH_FIELDS = ['passwordEnv', 'privateKeyPathEnv', 'privateKeyEnv', 'oauthTokenEnv'] as const;

const offline = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('duckdb'), path: z.string().min(1), threads: z.number().int().positive().optional(),
    // DuckDB's own units; a typo would otherwise reach DuckDB only when the engine opens, in a worker.
    memoryLimit: z.string().regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'must be an amount with a unit, e.g. "4GB" or "512MiB"').optional(),
    tempDirectory: z.string().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal('snowflake'), account: z.string().min(1), username: z.string().min(1), database: z.string().min(1), schema: z.string().min(1),
    warehouse: z.string().optional(), role: z.string().optional(), passwordEnv: envName.optional(), privateKeyPathEnv: envName.optional(),
    privateKeyEnv: envName.optional(), privateKeyPassphraseEnv: envName.optional(), oauthTokenEnv: envName.optional(),
    accessUrl: z.string().regex(/^https?:\/\/[^\s/]+\/?$/, 'must be http(s)://host[:port]').optional(),
    statementTimeoutSeconds: z.number().int().positive().max(604_800).optional(),
    unloadStage: z.strictObject({
      name: z.string().superRefine((value, ctx) => {
        const problem = qualifiedNameProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
      url: z.string().regex(/^(s3|gcs|azure):\/\/\S+$/, 'must be the stage\'s URL (s3://bucket/prefix/)'),
    }).optional(),
    scratchSchema: z.string().superRefine((value, ctx) => {
      const problem = identifierProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }).optional(),
  }).superRefine((value, ctx) => {
    // One way to sign in, so a profile never silently uses another credential than the one it names.
    const given = SNOWFLAKE_AUTH_FIELDS.filter((field) => value[field] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({ code: 'custom', path: ['passwordEnv'], message: given.length === 0
        ? `name the environment variable of one credential: ${SNOWFLAKE_AUTH_FIELDS.join(', ')}`
        : `name one credential, not ${given.join(' and ')}` });
    }
    if (value.privateKeyPassphraseEnv !== undefined && value.privateKeyPathEnv === undefined && value.privateKeyEnv === undefined) {
      ctx.addIssue({ code: 'custom', path: ['privateKeyPassphraseEnv'], message: 'is for key-pair authentication: set privateKeyPathEnv or privateKeyEnv too' });
    }
  }),
], { error: (issue) => (issue.code === 'invalid_union' ? 'type must be "duckdb" or "snowflake"' : undefined) });

const objectStore = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('local'), root: z.string().min(1) }),
  z.strictObject({
    type: z.literal('s3'), bucket: z.string().min(1), prefix: z.string().optional(), region: z.string().optional(),
    endpoint: z.url().optional(), forcePathStyle: z.boolean().optional(), profile: z.string().optional(),
  }),
], { error: (issue) => (issue.code === 'invalid_union' ? 'type must be "local" or "s3"' : undefined) });

const redisUrl = z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').refine((u) => !/\/\/[^/]*:[^@/]+@/.test(u), 'must not contain a password; use passwordEnv');

const onlineStore = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('sqlite'), path: z.string().min(1) }),
  z.strictObject({ type: z.literal('redis'), url: redisUrl, passwordEnv: envName.optional(), keyPrefix: z.string().optional() }),
  z.strictObject({
    type: z.literal('redis-cluster'),
    urls: z.array(redisUrl).min(1, 'name at least one node of the cluster').refine((urls) => new Set(urls.map((u) => u.split(':', 1)[0])).size <= 1, 'use one scheme for every node (all redis:// or all rediss://)'),
    passwordEnv: envName.optional(),
    keyPrefix: z.string().optional(),
  }),
], { error: (issue) => (issue.code === 'invalid_union' ? 'type must be "sqlite", "redis" or "redis-cluster"' : undefined) });

const temporal = z.strictObject({
  address: z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port'),
  namespace: z.string().min(1),
  taskQueue: z.string().min(1).optional(),
  taskQueues: z.union([
    z.literal('per-workload'),
    z.strictObject(
      { ingest: z.string().min(1).optional(), trainingSets: z.string().min(1).optional(), labels: z.string().min(1).optional(), materialization: z.string().min(1).optional() },
      { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown workload ${issue.keys.map((k) => `"${k}"`).join(', ')}; the workloads are ingest, trainingSets, labels, materialization` : undefined) },
    ),
  ], { error: (issue) => (issue.code === 'invalid_union' ? "must be 'per-workload' or an object naming the queues of some of ingest, trainingSets, labels, materialization" : undefined) }).optional(),
  tls: z.strictObject({ serverName: z.string().optional(), serverRootCaPathEnv: envName.optional(), clientCertPathEnv: envName.optional(), clientKeyPathEnv: envName.optional() }).optional(),
  apiKeyEnv: envName.optional(),
  webUrl: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL').optional(),
});

const profile = z.strictObject({ offline, objectStore, onlineStore, temporal });

export const flywheelConfigSchema = z.strictObject({
  project: z.string().superRefine((value, ctx) => {
    const problem = identifierProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  definitions: z.string().min(1),
  stateDir: z.string().min(1).optional(),
  defaultProfile: z.string().optional(),
  profiles: z.record(z.string(), profile).refine((p) => Object.keys(p).length > 0, 'declare at least one profile'),
}) satisfies z.ZodType<FlywheelConfig>;
