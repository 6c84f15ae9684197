/**
 * Flywheel's side of the peer benchmark's training-set case, as a process of its own (what
 * `flywheel run training-set` does, without loading a project config): connect to Temporal, run the
 * build-training-set workflow on the worker that bench/peers/feast.ts keeps running, print JSON with
 * the workflow's own time. The driver times this whole process from outside for "with process
 * start", as it does Feast's Python process.
 *
 *   node --import tsx bench/peers/flywheel-training-client.ts --address 127.0.0.1:7288 --task-queue bench-peers --project bench --training-set peer
 */
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { buildTrainingSet } from '../../workflows/build-training-set.ts';

const { values } = parseArgs({ options: { address: { type: 'string' }, 'task-queue': { type: 'string' }, project: { type: 'string' }, 'training-set': { type: 'string' } } });
const connection = await Connection.connect({ address: values.address! });
try {
  const client = new Client({ connection });
  const started = performance.now();
  const result = await client.workflow.execute(buildTrainingSet, {
    taskQueue: values['task-queue']!,
    workflowId: `bench-peers-training-${Date.now()}-${process.pid}`,
    args: [{ project: values.project!, trainingSet: values['training-set']! }],
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`\n${JSON.stringify({ seconds, rows: result.rowCount, datasetUri: result.datasetUri })}\n`);
} finally {
  await connection.close();
}
