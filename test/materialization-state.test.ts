import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { openSnowflakeEngine } from '../connectors/offline/snowflake/snowflake-engine.ts';
import type { OfflineEngine } from '../connectors/offline/offline-engine.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import type { MaterializationState } from '../core/materialization/run-plan.ts';
import { SNOWFLAKE_EMULATOR_TIMEOUT_MS, startSnowflakeEmulator, type SnowflakeEmulator } from './setup/snowflake-emulator.ts';

const state = (runId: string, watermark: string): MaterializationState => ({
  project: 'p', featureView: 'v', watermark, definitionHash: 'h', registryVersion: 1, mode: 'full', rows: 3, finishedAt: '2024-05-01T00:00:00.000Z', runId,
});

describe('WarehouseMaterializationState', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('records a view\'s first state from two runs at once: one wins, the other sees it and decides again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fw-mat-state-'));
    dirs.push(dir);
    const path = join(dir, 'warehouse.duckdb');
    const [a, b] = [await openDuckDBEngine({ path }), await openDuckDBEngine({ path })];
    try {
      await expectLaterWatermarkStays(a, b);
    } finally {
      await a.close();
      await b.close();
    }
  });

  // The emulator answers a CREATE TABLE IF NOT EXISTS that loses this race with "Unhandled exception"
  // (its catalog's duplicate key): seen in CI as a failed first materialization on the emulator.
  let emulator: SnowflakeEmulator | undefined;
  afterAll(async () => {
    await emulator?.stop();
  }, 30_000);

  it('records a view\'s first state from two runs at once on the Snowflake emulator, in fresh databases, four times', async () => {
    emulator ??= await startSnowflakeEmulator();
    for (let round = 0; round < 4; round++) {
      const options = emulator.connectionOptions({ database: `FW_${randomBytes(4).toString('hex').toUpperCase()}`, schema: 'PUBLIC' });
      const env = { FW_TEST_SNOWFLAKE_PASSWORD: options.password };
      const profile = { type: 'snowflake' as const, account: options.account, username: options.username, database: options.database, schema: options.schema, accessUrl: options.accessUrl, passwordEnv: 'FW_TEST_SNOWFLAKE_PASSWORD' };
      const [a, b] = [await openSnowflakeEngine(profile, { env }), await openSnowflakeEngine(profile, { env })];
      try {
        await expectLaterWatermarkStays(a, b);
      } finally {
        await a.close();
        await b.close();
      }
    }
  }, SNOWFLAKE_EMULATOR_TIMEOUT_MS);
});

/** Two runs record view v's first state at once, on two connections: whatever the interleaving, the later watermark stays. */
async function expectLaterWatermarkStays(a: OfflineEngine, b: OfflineEngine): Promise<void> {
  // Each accepts only over no state or an older watermark, as watermarkDecision does.
  const accept = (mine: string) => (current: MaterializationState | undefined) => current === undefined || current.watermark < mine;
  const results = await Promise.all([
    new WarehouseMaterializationState(a).record(state('run-a', '2024-05-01T01:00:00.000Z'), accept('2024-05-01T01:00:00.000Z')),
    new WarehouseMaterializationState(b).record(state('run-b', '2024-05-01T02:00:00.000Z'), accept('2024-05-01T02:00:00.000Z')),
  ]);
  expect(results.every((r) => r.recorded || r.previous !== undefined)).toBe(true);
  const stored = await new WarehouseMaterializationState(a).get('p', 'v');
  expect(stored?.watermark).toBe('2024-05-01T02:00:00.000Z');
  expect(stored?.runId).toBe('run-b');
}
