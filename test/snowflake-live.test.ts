import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSnowflakeEngine, type SnowflakeEngine } from '../connectors/offline/snowflake/snowflake-engine.ts';
import type { SnowflakeProfile } from '../connectors/offline/snowflake/snowflake-credentials.ts';
import { SnowflakeStatementCancelledError } from '../connectors/offline/snowflake/snowflake-errors.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { snowflakeDialect } from '../core/sql/snowflake-dialect.ts';
import { S3ObjectStore } from '../connectors/object-store/s3/s3-object-store.ts';
import { describeOfflineEngineContract } from './contracts/offline-engine.contract.ts';

/**
 * The Snowflake engine against a real account, opt-in (`npm run test:snowflake`): the shared
 * contract suite and what the emulator cannot check (RELY keys, QUERY_HISTORY by tag, cancellation
 * on Snowflake, names that differ only in case, views in INFORMATION_SCHEMA, staged reads). Each run
 * works in its own schema, FLYWHEEL_LIVE_<random>, dropped at the end.
 *
 * Set SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_DATABASE and one credential: SNOWFLAKE_PASSWORD,
 * SNOWFLAKE_PRIVATE_KEY_PATH or SNOWFLAKE_PRIVATE_KEY (with SNOWFLAKE_PRIVATE_KEY_PASSPHRASE when
 * encrypted), or SNOWFLAKE_OAUTH_TOKEN; optionally SNOWFLAKE_WAREHOUSE, SNOWFLAKE_ROLE and
 * SNOWFLAKE_ACCESS_URL. The role needs CREATE SCHEMA on the database (docs/snowflake.md).
 *
 * The unload to an external stage (which the emulator cannot run) runs when SNOWFLAKE_UNLOAD_STAGE
 * (the stage, qualified: RISK.CARD_FRAUD.FLYWHEEL_BUCKET) and SNOWFLAKE_UNLOAD_STAGE_URL (its URL,
 * s3://bucket/prefix/) are set too, with AWS credentials in the standard chain that can list and
 * delete under that URL (and AWS_REGION for the bucket's region).
 */

const CREDENTIALS = {
  SNOWFLAKE_PASSWORD: 'passwordEnv',
  SNOWFLAKE_PRIVATE_KEY_PATH: 'privateKeyPathEnv',
  SNOWFLAKE_PRIVATE_KEY: 'privateKeyEnv',
  SNOWFLAKE_OAUTH_TOKEN: 'oauthTokenEnv',
} as const;

/** The profile the environment describes, in `schema`; undefined (with what is missing) when it describes none. */
function liveProfile(schema: string): { profile: SnowflakeProfile } | { missing: string } {
  const env = process.env;
  const credential = (Object.keys(CREDENTIALS) as (keyof typeof CREDENTIALS)[]).find((name) => env[name]);
  const missing = ['SNOWFLAKE_ACCOUNT', 'SNOWFLAKE_USER', 'SNOWFLAKE_DATABASE'].filter((name) => !env[name]);
  if (!credential) missing.push(`one of ${Object.keys(CREDENTIALS).join(', ')}`);
  if (missing.length > 0 || !credential) return { missing: missing.join(', ') };
  return {
    profile: {
      type: 'snowflake',
      account: env['SNOWFLAKE_ACCOUNT']!,
      username: env['SNOWFLAKE_USER']!,
      database: env['SNOWFLAKE_DATABASE']!,
      schema,
      ...(env['SNOWFLAKE_WAREHOUSE'] ? { warehouse: env['SNOWFLAKE_WAREHOUSE'] } : {}),
      ...(env['SNOWFLAKE_ROLE'] ? { role: env['SNOWFLAKE_ROLE'] } : {}),
      ...(env['SNOWFLAKE_ACCESS_URL'] ? { accessUrl: env['SNOWFLAKE_ACCESS_URL'] } : {}),
      [CREDENTIALS[credential]]: credential,
      ...(env['SNOWFLAKE_PRIVATE_KEY_PASSPHRASE'] ? { privateKeyPassphraseEnv: 'SNOWFLAKE_PRIVATE_KEY_PASSPHRASE' } : {}),
    },
  };
}

/** The external stage and the bucket it writes to, from the environment; the variables missing otherwise. */
function liveUnloadStage(): { stage: { name: string; url: string }; bucket: string; prefix: string } | { missing: string } {
  const name = process.env['SNOWFLAKE_UNLOAD_STAGE'];
  const url = process.env['SNOWFLAKE_UNLOAD_STAGE_URL'];
  const missing = [['SNOWFLAKE_UNLOAD_STAGE', name], ['SNOWFLAKE_UNLOAD_STAGE_URL', url]].filter(([, value]) => !value).map(([key]) => key);
  if (missing.length > 0 || !name || !url) return { missing: missing.join(', ') };
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) throw new Error(`SNOWFLAKE_UNLOAD_STAGE_URL must be an s3:// URL (the stage's URL), got ${url}`);
  return { stage: { name, url }, bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, '') };
}

const SCHEMA = `FLYWHEEL_LIVE_${randomBytes(4).toString('hex').toUpperCase()}`;
const live = liveProfile(SCHEMA);
const q = snowflakeDialect.identifier;

const unload = liveUnloadStage();

if ('missing' in live) {
  console.log(`[snowflake-live] SKIPPED: no Snowflake account configured (missing ${live.missing}); see test/snowflake-live.test.ts and docs/snowflake.md`);
} else if ('missing' in unload) {
  console.log(`[snowflake-live] unload to an external stage SKIPPED: no stage configured (missing ${unload.missing}); see test/snowflake-live.test.ts`);
}

describe.skipIf('missing' in live)('Snowflake live', () => {
  const profile = 'profile' in live ? live.profile : undefined!;
  let admin: SnowflakeEngine;

  beforeAll(async () => {
    // Signed in to the database's PUBLIC schema to create this run's own.
    admin = await openSnowflakeEngine({ ...profile, schema: 'PUBLIC' });
    await admin.run(sql(`CREATE SCHEMA ${q(SCHEMA)}`));
  }, 120_000);
  afterAll(async () => {
    await admin?.run(sql(`DROP SCHEMA IF EXISTS ${q(SCHEMA)} CASCADE`));
    await admin?.close();
  }, 120_000);

  describeOfflineEngineContract('snowflake (live)', async () => {
    const engine = await openSnowflakeEngine(profile);
    return { engine, cleanup: () => engine.close() };
  }, {
    skip: {
      'describes the columns of a query': 'Snowflake has no 32-bit types: int32 is NUMBER(10,0) and float32 is FLOAT, described as int64 and float64 (test/snowflake-engine.test.ts)',
      'tells a stored table from a view, with its enforced unique column sets': 'Snowflake enforces no primary or unique key: only RELY keys are reported (checked below)',
      'exports Parquet that reads back the same rows': 'Snowflake has no 32-bit types: the staged file describes int32 and float32 as int64 and float64 (rows checked in test/snowflake-engine.test.ts)',
      'exports partitions in the order of their own queries, across row groups': 'Snowflake writes every partition from one statement and ignores the per-partition queries, so it promises no order within a file',
    },
  });

  describe('what only a real account shows', () => {
    let engine: SnowflakeEngine;
    beforeAll(async () => {
      engine = await openSnowflakeEngine(profile);
    }, 120_000);
    afterAll(async () => {
      await engine?.close();
    });

    it('reports the keys declared RELY, and only those', async () => {
      const suffix = randomBytes(3).toString('hex');
      await engine.run(sql(`CREATE TABLE ${q(`relied_${suffix}`)} (${q('user_id')} NUMBER(19,0), ${q('ts')} TIMESTAMP_TZ, ${q('code')} VARCHAR, PRIMARY KEY (${q('user_id')}, ${q('ts')}) RELY, UNIQUE (${q('code')}) NORELY)`));
      expect(await engine.tableFacts(`relied_${suffix}`)).toEqual({ isTable: true, uniqueColumnSets: [['user_id', 'ts']] });
      await engine.run(sql(`CREATE VIEW ${q(`relied_view_${suffix}`)} AS SELECT * FROM ${q(`relied_${suffix}`)}`));
      expect(await engine.tableFacts(`relied_view_${suffix}`)).toEqual({ isTable: false, uniqueColumnSets: [] });
      expect((await engine.resolveTable(`relied_view_${suffix}`))?.type).toBe('VIEW');
    });

    it('resolves names that differ only in case as written, else upper case, else refuses', async () => {
      const suffix = randomBytes(3).toString('hex').toUpperCase();
      await engine.run(sql(`CREATE TABLE ${q(`twin_${suffix}`)} (id NUMBER)`));
      await engine.run(sql(`CREATE TABLE ${q(`Twin_${suffix}`)} (id NUMBER)`));
      expect((await engine.resolveTable(`twin_${suffix}`))?.name).toBe(`twin_${suffix}`);
      await expect(engine.resolveTable(`TWIN_${suffix}`)).rejects.toThrow(/differ only in case/);
      await engine.run(sql(`CREATE TABLE dbt_style_${suffix} (id NUMBER)`));
      expect((await engine.resolveTable(`dbt_style_${suffix.toLowerCase()}`))?.name).toBe(`DBT_STYLE_${suffix}`);
    });

    it('records each statement’s QUERY_TAG in QUERY_HISTORY', async () => {
      const run = `live-${randomBytes(4).toString('hex')}`;
      const tagged = engine.withQueryTag({ project: 'flywheel_live', object: 'tags', run });
      await tagged.all(sql(`SELECT 1 AS ${q('one')}`));
      await tagged.run(sql('SELECT 2'));
      const tag = JSON.stringify({ flywheel: 1, project: 'flywheel_live', object: 'tags', run });
      // QUERY_HISTORY lags a few seconds behind the statements.
      let row: { n: number } | undefined;
      for (let i = 0; i < 30 && row?.n !== 2; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1_000));
        [row] = await engine.all<{ n: number }>(sql(`SELECT COUNT(*) AS ${q('n')} FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION()) WHERE QUERY_TAG = ?`, [tag]));
      }
      expect(row).toEqual({ n: 2 });
    }, 60_000);

    it('cancels a running statement on Snowflake when its signal fires', async () => {
      const controller = new AbortController();
      let beats = 0;
      const running = engine
        .withStatementContext({ heartbeat: () => beats++, signal: controller.signal })
        .all(sql(`SELECT COUNT(*) AS ${q('n')} FROM TABLE(GENERATOR(TIMELIMIT => 120))`))
        .catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      controller.abort(new Error('activity cancelled'));
      const cancelled = await running;
      expect(cancelled).toBeInstanceOf(SnowflakeStatementCancelledError);
      expect(beats).toBeGreaterThanOrEqual(2);
      const queryId = (cancelled as SnowflakeStatementCancelledError).queryId!;
      // Snowflake ends it as cancelled (error 604) within seconds, not after its two minutes.
      let status = '';
      for (let i = 0; i < 30 && !/FAIL|ABORT|CANCEL/i.test(status); i++) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const [row] = await engine.all<{ status: string }>(sql(`SELECT EXECUTION_STATUS AS ${q('status')} FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION()) WHERE QUERY_ID = ?`, [queryId]));
        status = row?.status ?? '';
      }
      expect(status).toMatch(/FAIL|ABORT|CANCEL/i);
    }, 120_000);
  });
  describe.skipIf('missing' in unload)('unloading to an external stage over the bucket', () => {
    // The describe body runs at collection even when skipped: nothing here may need the variables.
    const { stage, bucket, prefix } = 'stage' in unload ? unload : { stage: { name: '', url: '' }, bucket: '', prefix: '' };
    const runPrefix = `flywheel-live/${SCHEMA}/unload`;
    let store: S3ObjectStore;
    beforeAll(() => {
      store = new S3ObjectStore({ type: 's3', bucket, ...(prefix ? { prefix } : {}), ...(process.env['AWS_REGION'] ? { region: process.env['AWS_REGION'] } : {}) });
    });
    afterAll(async () => {
      await store?.deletePrefix(`${runPrefix}/`);
    }, 60_000);

    it('writes every partition straight to the bucket with one COPY INTO @stage … PARTITION BY, and lists the files', async () => {
      const engine = await openSnowflakeEngine({ ...profile, unloadStage: stage });
      try {
        const unloader = engine.unloadTo(store);
        expect(unloader).toBeDefined();
        const query = sql(`SELECT column1::NUMBER(19,0) AS ${q('user_id')}, column2::TIMESTAMP_TZ AS ${q('ts')} FROM VALUES (1, '2024-03-01 10:00:00+00:00'), (2, '2024-03-01 23:59:59+00:00'), (3, '2024-03-02 00:00:00+00:00')`);
        const partitionKey = snowflakeDialect.partitionKey('day', snowflakeDialect.partitionStart('day', q('ts')));
        const files = await unloader!.unloadPartitioned({ query, partitionKey }, runPrefix);
        // Two rows on 03-01 (23:59:59 is still that day in UTC), one on 03-02; each file under its partition's folder.
        const rows = new Map<string, number>();
        for (const file of files) rows.set(file.partitionKey, (rows.get(file.partitionKey) ?? 0) + file.rowCount);
        expect([...rows]).toEqual([['day=2024-03-01', 2], ['day=2024-03-02', 1]]);
        const stored = await store.list(`${runPrefix}/`);
        expect(stored.map((object) => object.key).sort()).toEqual(files.map((file) => file.path).sort());
        for (const file of files) expect(file.path.startsWith(`${runPrefix}/${file.partitionKey}/`)).toBe(true);
      } finally {
        await engine.close();
      }
    }, 120_000);
  });
});
