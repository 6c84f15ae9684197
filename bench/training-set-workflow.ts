/**
 * The training-set workflow on a real Temporal dev server against the same work done directly in
 * one process (the compiled join COPY'd to Parquet and put in the object store, no Temporal), on
 * the card-fraud example's data (360k spine rows, four feature views). The ratio is what
 * orchestration costs: five activities, their task round trips, heartbeats and the stats pass.
 *
 *   npx tsx bench/training-set-workflow.ts [--runs 3] [--per-day 6000]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { WarehouseRegistry } from '../connectors/registry/warehouse-registry.ts';
import { compilePointInTimeJoin } from '../core/sql/point-in-time.ts';
import { warehouseObjectStatements } from '../core/sql/warehouse-objects.ts';
import { resolveTrainingSet } from '../core/training-set/resolve-training-set.ts';
import { loadDefinitions } from '../cli/project/load-definitions.ts';
import { generateCardFraudData } from '../examples/card-fraud/generate-data.ts';
import { buildTrainingSet } from '../workflows/build-training-set.ts';
import { startBenchStack } from './temporal-stack.ts';
import { compareMs, report, type BenchResult } from './measure.ts';

const exampleDir = new URL('../examples/card-fraud/', import.meta.url).pathname;

export async function benchTrainingSetWorkflow(options: { runs: number; transactionsPerDay: number; port: number }): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-bench-ts-'));
  const warehousePath = join(dir, 'warehouse.duckdb');
  const objectStore = createObjectStore({ type: 'local', root: join(dir, 'objects') });
  const scratchDir = join(dir, 'scratch');
  await mkdir(scratchDir);
  await generateCardFraudData({ warehousePath, transactionsPerDay: options.transactionsPerDay });
  const spec = await loadDefinitions(join(exampleDir, 'definitions'), exampleDir);
  {
    const engine = await openDuckDBEngine({ path: warehousePath });
    await new WarehouseRegistry(engine).save('card_fraud', spec, {
      statements: warehouseObjectStatements({ desired: spec, resolvePath: (p) => join(exampleDir, p), dialect: engine.dialect }),
    });
    await engine.close();
  }

  const stack = await startBenchStack({ dir, port: options.port, taskQueue: 'bench-training-set', project: 'card_fraud', warehousePath, objectStore, scratchDir });
  const { client, taskQueue } = stack;
  try {
    let rows = 0;
    const timed = await compareMs(
      options.runs,
      async () => {
        const result = await client.workflow.execute(buildTrainingSet, { taskQueue, workflowId: `bench-${Date.now()}`, args: [{ project: 'card_fraud', trainingSet: 'fraud_training' }] });
        rows = result.rowCount;
      },
      async () => {
        const engine = await openDuckDBEngine({ path: warehousePath });
        try {
          const compiled = compilePointInTimeJoin(resolveTrainingSet(spec, 'fraud_training').join, engine.dialect);
          const local = join(scratchDir, 'direct.parquet');
          await engine.exportParquet(compiled, local);
          await objectStore.putFile('direct/part-00000.parquet', local);
        } finally {
          await engine.close();
        }
      },
    );
    const subject = { medianMs: timed.subjectMs };
    const baseline = { medianMs: timed.baselineMs };
    return {
      name: 'Training-set workflow on Temporal (card-fraud example, DuckDB, local object store)',
      subject: { label: 'buildTrainingSet workflow', medianMs: subject.medianMs },
      baseline: { label: 'same join + Parquet + upload in-process, no Temporal', medianMs: baseline.medianMs },
      details: { 'spine rows': rows.toLocaleString('en-US'), 'feature views': 'fraud_model', runs: options.runs },
    };
  } finally {
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'per-day': { type: 'string', default: '6000' }, port: { type: 'string', default: '7266' } } });
  report(await benchTrainingSetWorkflow({ runs: Number(values.runs), transactionsPerDay: Number(values['per-day']), port: Number(values.port) }));
}
