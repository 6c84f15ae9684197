import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseMaterializationState } from '../connectors/registry/materialization-state.ts';
import type { MaterializationState } from '../core/materialization/run-plan.ts';

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
      const seen: (string | undefined)[] = [];
      // Each accepts only over no state or an older watermark, as watermarkDecision does.
      const accept = (mine: string) => (current: MaterializationState | undefined) => {
        seen.push(current?.watermark);
        return current === undefined || current.watermark < mine;
      };
      const results = await Promise.all([
        new WarehouseMaterializationState(a).record(state('run-a', '2024-05-01T01:00:00.000Z'), accept('2024-05-01T01:00:00.000Z')),
        new WarehouseMaterializationState(b).record(state('run-b', '2024-05-01T02:00:00.000Z'), accept('2024-05-01T02:00:00.000Z')),
      ]);
      expect(results.every((r) => r.recorded || r.previous !== undefined)).toBe(true);
      const stored = await new WarehouseMaterializationState(a).get('p', 'v');
      // Whatever the interleaving, the later watermark is what stays.
      expect(stored?.watermark).toBe('2024-05-01T02:00:00.000Z');
      expect(stored?.runId).toBe('run-b');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
