import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import type { FeaturesResponse, FeatureValue } from '../client/index.ts';
import { loadConfig, type ResolvedConfig } from '../runtime/load-config.ts';
import { loadDefinitions } from '../cli/project/load-definitions.ts';
import { ingestScheduleId, ingestSweepWorkflowId } from '../cli/serve/ingestion-starter.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { materializationScheduleId } from '../core/plan/schedules.ts';
import { sql } from '../core/sql/compiled-query.ts';
import {
  decisionStreamOf,
  FRAUD_SERVICE,
  latestAuthorization,
  onlineViewsOf,
  scoreAuthorization,
  startDemoServer,
  waitForDecision,
  type Authorization,
} from '../examples/card-fraud/decision-loop.ts';
import { generateCardFraudData } from '../examples/card-fraud/generate-data.ts';
import { activityDepsFromConfig } from '../worker/activity-deps.ts';
import type { MaterializeFeatureViewResult } from '../workflows/materialize.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * The decide half of `npm run demo` against the real stack, on a small generated dataset: the
 * card-fraud example's definitions in a temporary project, `flywheel plan` and `apply` (the real CLI;
 * the materialization schedule goes to the test setup's Temporal), `flywheel materialize` of every
 * online view run by a worker in this process, one authorization scored through the project server
 * and the TypeScript client, and the logged decision loaded by the ingestion workflow into
 * flywheel.stream_fraud_model_decisions with exactly what was served.
 */

const PROJECT = 'card_fraud_loop';
const exampleDir = fileURLToPath(new URL('../examples/card-fraud/', import.meta.url));
const taskQueue = testTaskQueue();
let project: TempProject;
let config: ResolvedConfig;
let warehouse: string;

async function query(text: string, parameters: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return await engine.all(sql(text, parameters));
  } finally {
    await engine.close();
  }
}

beforeAll(async () => {
  const definitions = Object.fromEntries(
    readdirSync(join(exampleDir, 'definitions')).filter((f) => f.endsWith('.ts')).map((f) => [`definitions/${f}`, readFileSync(join(exampleDir, 'definitions', f), 'utf8')]),
  );
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions', profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    ...definitions,
  });
  config = await loadConfig({ cwd: project.dir, profile: 'local' });
  if (config.profile.offline.type !== 'duckdb') throw new Error('expected the local profile');
  warehouse = config.profile.offline.path;
  // The default window ends at 00:00 UTC today, so yesterday's values are within their ttl now.
  await generateCardFraudData({ warehousePath: warehouse, users: 200, merchants: 40, days: 5, transactionsPerDay: 300, seed: 7 });
});

afterAll(async () => {
  const client = await connectClient();
  try {
    for (const id of [materializationScheduleId(PROJECT, 'user_txn_windows'), ingestScheduleId(PROJECT)]) await client.schedule.getHandle(id).delete().catch(() => undefined);
    // The ingest sweep `flywheel serve` started runs until stopped.
    await client.workflow.getHandle(ingestSweepWorkflowId(PROJECT)).terminate('test over').catch(() => undefined);
  } finally {
    await client.connection.close();
  }
  project?.remove();
});

describe('the card-fraud demo loop: materialize, serve, log, ingest', { timeout: 240_000 }, () => {
  it('plans and applies the decision stream and the materialization schedule', () => {
    const plan = project.cli('plan');
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('  + eventStream fraud_model_decisions\n');
    expect(plan.stdout).toContain(`  + schedule ${materializationScheduleId(PROJECT, 'user_txn_windows')}: every 1h\n`);
    const applied = project.cli('apply');
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('  table flywheel.stream_fraud_model_decisions (created if missing)\n');
    expect(applied.stdout).toContain(`  schedule ${materializationScheduleId(PROJECT, 'user_txn_windows')} (created)\n`);
  });

  it('serves one authorization from the materialized views, and its decision lands in the warehouse as served', async () => {
    const spec = await loadDefinitions(config.definitionsDir, config.projectRoot);
    const views = onlineViewsOf(spec);
    expect(views).toEqual(['merchant_risk', 'user_account', 'user_activity', 'user_spend', 'user_txn_windows']);
    const stream = decisionStreamOf(spec, FRAUD_SERVICE);
    expect(stream).toBe('fraud_model_decisions');

    const serverLog: string[] = [];
    let authorization!: Authorization;
    let response!: FeaturesResponse<Record<string, FeatureValue>>;
    let rows!: Record<string, unknown>[];
    const materialized: MaterializeFeatureViewResult[] = [];
    const onlineStore = await createOnlineStore(config.profile.onlineStore, { project: config.project });
    try {
      await runWorker({ taskQueue, activities: createActivities({ ...activityDepsFromConfig(config), onlineStore }) }, async () => {
        for (const view of views) {
          const run = await project.cliAsync('materialize', view, '--json');
          expect(run.code, run.stderr).toBe(0);
          materialized.push(JSON.parse(run.stdout) as MaterializeFeatureViewResult);
        }
        authorization = await latestAuthorization(warehouse);
        const server = await startDemoServer(config, { segmentAgeMs: 300, log: (line) => serverLog.push(line) });
        try {
          ({ response } = await scoreAuthorization(server.server.url, authorization));
          rows = await waitForDecision({ warehousePath: warehouse, stateDir: config.stateDir, stream, decisionId: response.decisionId, timeoutMs: 60_000, pollMs: 200 });
        } finally {
          await server.close();
        }
      });
    } finally {
      await onlineStore.close();
    }

    expect(materialized.map((m) => [m.view, m.mode, m.watermarkAdvanced])).toEqual(views.map((view) => [view, 'full', true]));
    expect(materialized.every((m) => m.written > 0 && m.written === m.rows)).toBe(true);
    // The server says only that it warmed its request path before listening (server/serving/warm-up.ts),
    // then its HTTP path over loopback when that got requests in within its time bound (warm-up-over-http.ts).
    expect(serverLog[0]).toMatch(/^serving: warmed the request path with \d+ requests in \d+ ms \(\d+ of them of \d+ keys sampled from the store, \d+ stored records read\)$/);
    expect(serverLog.slice(1).filter((line) => !/^serving: warmed the HTTP path with \d+ requests over loopback in \d+ ms \(\d+ of them of sampled keys\)$/.test(line))).toEqual([]);
    expect(serverLog.length).toBeLessThanOrEqual(2);

    // Served: every feature of the service, present for the user and merchant of the latest authorization.
    const features = spec.featureServices.fraud_model!.features.flatMap((selection) => selection.features);
    expect(response.service).toBe(FRAUD_SERVICE);
    expect(response.features).toEqual(features);
    expect(features).toHaveLength(21);
    const served = response.rows[0]!;
    expect(response.rows).toHaveLength(1);
    expect(Object.values(served.statuses)).toEqual(features.map(() => 'present'));

    // The values are the warehouse's: yesterday's daily stats, the 30-day merchant rate, the 7-day window as of the materialization.
    const [userDay] = await query('SELECT txn_count_1d, amount_avg_1d, ts FROM user_daily_stats WHERE user_id = ? ORDER BY ts DESC LIMIT 1', [authorization.userId]);
    expect([served.values.txn_count_1d, served.values.amount_avg_1d, served.eventTimes.txn_count_1d]).toEqual([userDay!.txn_count_1d, userDay!.amount_avg_1d, userDay!.ts]);
    const [merchantDay] = await query('SELECT merchant_chargeback_rate_30d FROM merchant_daily_stats WHERE merchant_id = ? ORDER BY ts DESC LIMIT 1', [authorization.merchantId]);
    expect(served.values.merchant_chargeback_rate_30d).toBe(merchantDay!.merchant_chargeback_rate_30d);
    const asOf = served.eventTimes.count_7d!;
    expect(asOf).toBe(materialized.find((m) => m.view === 'user_txn_windows')!.to);
    const [week] = await query(
      "SELECT count(*)::INTEGER AS n FROM transactions WHERE user_id = ? AND ts > ?::TIMESTAMPTZ - INTERVAL 7 DAY AND ts <= ?::TIMESTAMPTZ",
      [authorization.userId, asOf, asOf],
    );
    expect(served.values.count_7d).toBe(week!.n);

    // Logged: one row for the one entity row, with the keys, every value and status served, and each view's event time.
    expect(rows).toHaveLength(1);
    const logged = rows[0]!;
    expect(logged).toMatchObject({
      _event_id: `${response.decisionId}:0`, decision_id: response.decisionId, row_index: 0,
      user_id: authorization.userId, merchant_id: authorization.merchantId, context: null,
      user_spend__event_time: served.eventTimes.txn_count_1d, user_txn_windows__event_time: asOf,
    });
    expect(Date.parse(String(logged.served_at))).toBeGreaterThanOrEqual(Date.parse(asOf));
    for (const feature of features) {
      const value = served.values[feature];
      // Timestamps come back from DuckDB in the same ISO-8601 UTC form the serving API uses.
      expect(logged[feature], feature).toEqual(value);
      expect(logged[`${feature}__status`], feature).toBe(served.statuses[feature]);
    }
  });
});
