/**
 * `npm run bench`: every benchmark, each against its baseline in the same process. Figures go to
 * docs/benchmarks.md with the command that produced them.
 */
import { report } from './measure.ts';
import { benchPointInTimeJoin } from './point-in-time-join.ts';
import { benchTrainingSetWorkflow } from './training-set-workflow.ts';

process.stdout.write(`node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
report(await benchPointInTimeJoin({ spineRows: 1_000_000, featureRows: 2_000_000, runs: 5 }));
report(await benchTrainingSetWorkflow({ runs: 5, transactionsPerDay: 6000, port: 7266 }));
