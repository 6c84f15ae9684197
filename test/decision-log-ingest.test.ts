import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities, type ActivityDeps } from '../activities/index.ts';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import type { ProjectSpec } from '../core/definitions/specs.ts';
import type { PlanDocument } from '../core/plan/plan.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { ObjectStoreSegmentStore, openNodeSegmentLog } from '../connectors/log-store/index.ts';
import { StreamIngest } from '../server/stream-ingest.ts';
import { streamSchemasOf } from '../server/stream-schema.ts';
import { createDecisionLog } from '../server/serving/decision-log.ts';
import type { ServedDecision } from '../server/serving/served-decision.ts';
import { ingestPending } from '../workflows/ingest.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * What was served, end to end: `flywheel plan` and `apply` (the real CLI, a real DuckDB file) create
 * the decision stream's table of a logged feature service; the decision log appends offered decisions
 * to the stream's segments; the ingestion workflow (the real Temporal dev server) loads them into the
 * table with their types, and a decision logged twice is stored once.
 */

const taskQueue = testTaskQueue();
let project: TempProject;
let stateDir: string;
const warehouse = () => join(stateDir, 'warehouse.duckdb');

function writeDefinitions(riskFeatures: string): void {
  project.write('definitions/features.ts', `
import { entity, featureService, featureView, source } from 'flywheel';
export const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });
export const merchant = entity({ name: 'merchant', joinKeys: { merchant_id: 'string' } });
export const txns = source({ name: 'txns', table: 'raw.txns', timestampField: 'ts',
  columns: { user_id: 'int64', merchant_id: 'string', ts: 'timestamp', amount: 'float64', txn_count: 'int64', risk: 'float32', country: 'string' } });
export const spend = featureView({ name: 'spend', entities: [user], source: txns, ttl: '2d', features: { amount: 'float64', txn_count: 'int64' } });
export const risk = featureView({ name: 'risk', entities: [merchant], source: txns, features: { risk: 'float32', country: 'string' } });
export const fraudModel = featureService({ name: 'fraud_model', features: [spend, { view: risk, features: ${riskFeatures} }], logging: { sampleRate: 1 } });
`);
}

async function query(text: string) {
  const engine = await openDuckDBEngine({ path: warehouse() });
  try {
    return await engine.all(sql(text));
  } finally {
    await engine.close();
  }
}

function deps(): ActivityDeps {
  const scratchDir = join(stateDir, 'scratch');
  mkdirSync(scratchDir, { recursive: true });
  return { project: 'served', openEngine: () => openDuckDBEngine({ path: warehouse() }), registry: (e) => new WarehouseRegistry(e), objectStore: new LocalObjectStore(join(stateDir, 'objects')), scratchDir, stateDir };
}

/** Offers decisions to a decision log over the project's streams, as `flywheel serve` would, and closes everything (the segments are sealed and uploaded to the object store). */
async function logDecisions(spec: ProjectSpec, decisions: readonly ServedDecision[]) {
  const schemas = streamSchemasOf(spec);
  const store = new ObjectStoreSegmentStore(deps().objectStore);
  const segmentLog = await openNodeSegmentLog({ stateDir, streams: schemas.map((s) => s.name), nodeId: 'node-1', store, log: () => undefined });
  const streams = new Map(schemas.map((schema) => [schema.name, new StreamIngest(schema, segmentLog, { recentIds: 1000, maxIssues: 100 })]));
  const log = createDecisionLog({ streams, project: spec, log: (line) => { throw new Error(`unexpected: ${line}`); } });
  for (const decision of decisions) log.offer(decision);
  await log.close();
  await segmentLog.close();
  return log.stats();
}

async function ingest() {
  const client = await connectClient();
  try {
    return await runWorker({ taskQueue, activities: createActivities(deps()) }, () =>
      client.workflow.execute(ingestPending, { taskQueue, workflowId: `pending-${taskQueue}-${Date.now()}`, args: [{ project: 'served' }] }),
    );
  } finally {
    await client.connection.close();
  }
}

const decision = (decisionId: string, servedAt: string, rows: ServedDecision['rows']): ServedDecision => ({
  decisionId, service: 'fraud_model', servedAt, context: { user_id: 42, channel: 'web' } as never, features: ['amount', 'txn_count', 'risk'], rows,
});

const first = decision('0190f5a2-7c3e-7b1a-8f00-000000000001', '2026-11-26T10:00:00.000Z', [
  {
    keys: { user_id: 42, merchant_id: 'm1' },
    values: { amount: 12.5, txn_count: 3, risk: 0.25 },
    eventTimes: { amount: '2026-11-26T09:00:00.000Z', txn_count: '2026-11-26T09:00:00.000Z', risk: '2026-11-25T00:00:00.000Z' },
    statuses: { amount: 'present', txn_count: 'present', risk: 'present' },
  },
  {
    keys: { user_id: 42, merchant_id: 'm2' },
    values: { amount: 12.5, txn_count: 3, risk: null },
    eventTimes: { amount: '2026-11-26T09:00:00.000Z', txn_count: '2026-11-26T09:00:00.000Z', risk: null },
    statuses: { amount: 'present', txn_count: 'present', risk: 'missing' },
  },
]);
const second = decision('0190f5a2-7c3e-7b1a-8f00-000000000002', '2026-11-26T10:00:05.123Z', [
  {
    keys: { user_id: '9007199254740993', merchant_id: 'm1' }, // an int64 beyond 2^53, as digits
    values: { amount: null, txn_count: null, risk: 0.5 },
    eventTimes: { amount: '2026-11-20T00:00:00.000Z', txn_count: '2026-11-20T00:00:00.000Z', risk: '2026-11-25T00:00:00.000Z' },
    statuses: { amount: 'expired', txn_count: 'expired', risk: 'present' },
  },
]);

beforeAll(async () => {
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: 'served', definitions: './definitions', profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
  });
  stateDir = join(project.dir, '.flywheel');
  writeDefinitions("['risk']");
  const engine = await openDuckDBEngine({ path: warehouse() });
  await engine.run(sql('CREATE SCHEMA raw'));
  await engine.run(sql('CREATE TABLE raw.txns (user_id BIGINT, merchant_id VARCHAR, ts TIMESTAMPTZ, amount DOUBLE, txn_count BIGINT, risk FLOAT, country VARCHAR)'));
  await engine.close();
});

afterAll(() => project?.remove());

const columnsOf = async (table: string) =>
  (await query(`SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'flywheel' AND table_name = '${table}' ORDER BY ordinal_position`))
    .map((c) => `${String(c.column_name)} ${String(c.data_type)}${c.is_nullable === 'NO' ? ' NOT NULL' : ''}`);

describe('logging what was served', { timeout: 180_000 }, () => {
  it('plans the decision stream with its service and applies its table', async () => {
    const plan = project.cli('plan');
    expect(plan.stderr).toBe('');
    expect(plan.stdout).toContain('  + eventStream fraud_model_decisions\n');
    expect(plan.stdout).toContain('  + featureService fraud_model\n');
    const applied = project.cli('apply');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('  table flywheel.stream_fraud_model_decisions (created if missing)\n');
    expect(await columnsOf('stream_fraud_model_decisions')).toEqual([
      '_event_id VARCHAR NOT NULL', 'user_id BIGINT NOT NULL', 'merchant_id VARCHAR NOT NULL', 'served_at TIMESTAMP WITH TIME ZONE NOT NULL',
      'decision_id VARCHAR NOT NULL', 'row_index INTEGER NOT NULL', 'amount DOUBLE', 'txn_count BIGINT', 'risk FLOAT',
      'amount__status VARCHAR NOT NULL', 'txn_count__status VARCHAR NOT NULL', 'risk__status VARCHAR NOT NULL',
      'spend__event_time TIMESTAMP WITH TIME ZONE', 'risk__event_time TIMESTAMP WITH TIME ZONE', 'context VARCHAR',
      '_received_at TIMESTAMP WITH TIME ZONE NOT NULL', '_batch VARCHAR NOT NULL',
    ]);
    expect(project.cli('plan').stdout).toBe(`No changes. The registry (version 1) matches the definitions.\n\nStarted by \`flywheel serve\` (not by apply):\n  ingest sweep served/ingest/sweep: every 10m, one long-lived workflow; loads the closed segments whose ingestion did not start as they closed, and \`from\` tables by watermark\n  retention of fraud_model_decisions: every 1d from the sweep (streams without a retentionSchedule)\n`);
  });

  it('lands offered decisions in the table with their types, and a decision logged again once', async () => {
    const spec = (await (async () => {
      const engine = await openDuckDBEngine({ path: warehouse() });
      try {
        return await new WarehouseRegistry(engine).latest('served');
      } finally {
        await engine.close();
      }
    })())!.spec;
    expect(await logDecisions(spec, [first, second])).toEqual({ logged: 2, sampledOut: 0, dropped: 0, failed: 0, queued: 0 });
    expect(await ingest()).toMatchObject({ segments: 1, rows: 3 });

    // The engine reads a BIGINT beyond 2^53 back as its digits; typeof shows the column's type.
    const rows = await query(`SELECT * EXCLUDE (_received_at, _batch), typeof(user_id) AS user_id_type, typeof(risk) AS risk_type FROM flywheel.stream_fraud_model_decisions ORDER BY _event_id`);
    expect(rows).toEqual([
      {
        _event_id: '0190f5a2-7c3e-7b1a-8f00-000000000001:0', user_id: 42, merchant_id: 'm1', served_at: '2026-11-26T10:00:00.000Z',
        decision_id: '0190f5a2-7c3e-7b1a-8f00-000000000001', row_index: 0, amount: 12.5, txn_count: 3, risk: 0.25,
        amount__status: 'present', txn_count__status: 'present', risk__status: 'present',
        spend__event_time: '2026-11-26T09:00:00.000Z', risk__event_time: '2026-11-25T00:00:00.000Z', context: '{"user_id":42,"channel":"web"}',
        user_id_type: 'BIGINT', risk_type: 'FLOAT',
      },
      {
        _event_id: '0190f5a2-7c3e-7b1a-8f00-000000000001:1', user_id: 42, merchant_id: 'm2', served_at: '2026-11-26T10:00:00.000Z',
        decision_id: '0190f5a2-7c3e-7b1a-8f00-000000000001', row_index: 1, amount: 12.5, txn_count: 3, risk: null,
        amount__status: 'present', txn_count__status: 'present', risk__status: 'missing',
        spend__event_time: '2026-11-26T09:00:00.000Z', risk__event_time: null, context: '{"user_id":42,"channel":"web"}',
        user_id_type: 'BIGINT', risk_type: 'FLOAT',
      },
      {
        _event_id: '0190f5a2-7c3e-7b1a-8f00-000000000002:0', user_id: '9007199254740993', merchant_id: 'm1', served_at: '2026-11-26T10:00:05.123Z',
        decision_id: '0190f5a2-7c3e-7b1a-8f00-000000000002', row_index: 0, amount: null, txn_count: null, risk: 0.5,
        amount__status: 'expired', txn_count__status: 'expired', risk__status: 'present',
        spend__event_time: '2026-11-20T00:00:00.000Z', risk__event_time: '2026-11-25T00:00:00.000Z', context: '{"user_id":42,"channel":"web"}',
        user_id_type: 'BIGINT', risk_type: 'FLOAT',
      },
    ]);

    // Another server (or a restart after the segments were loaded) logs the first decision again, and a new one.
    const third = decision('0190f5a2-7c3e-7b1a-8f00-000000000003', '2026-11-26T10:01:00.000Z', [first.rows[0]!]);
    expect(await logDecisions(spec, [first, third])).toMatchObject({ logged: 2, failed: 0 });
    expect(await ingest()).toMatchObject({ segments: 1, rows: 1 });
    expect(await query('SELECT decision_id, count(*)::INTEGER AS n FROM flywheel.stream_fraud_model_decisions GROUP BY decision_id ORDER BY decision_id')).toEqual([
      { decision_id: '0190f5a2-7c3e-7b1a-8f00-000000000001', n: 2 },
      { decision_id: '0190f5a2-7c3e-7b1a-8f00-000000000002', n: 1 },
      { decision_id: '0190f5a2-7c3e-7b1a-8f00-000000000003', n: 1 },
    ]);
  });

  it('adds a column pair when the service serves one more feature, compatibly', async () => {
    writeDefinitions("['risk', 'country']");
    const document = JSON.parse(project.cli('plan', '--json').stdout) as PlanDocument;
    expect(document.summary).toEqual({ add: 0, change: 2, remove: 0, breaking: 0 });
    expect(document.changes.map((c) => [c.kind, c.name, c.fields?.map((f) => f.path)])).toEqual([
      ['eventStream', 'fraud_model_decisions', ['fields.country', 'fields.country__status']],
      ['featureService', 'fraud_model', ['features.risk.features.country']],
    ]);
    const applied = project.cli('apply');
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain([
      '  table flywheel.stream_fraud_model_decisions: column country string (added, nullable)',
      '  table flywheel.stream_fraud_model_decisions: column country__status string (added, nullable)',
    ].join('\n'));
    expect((await columnsOf('stream_fraud_model_decisions')).slice(-2)).toEqual(['country VARCHAR', 'country__status VARCHAR']);
  });
});
