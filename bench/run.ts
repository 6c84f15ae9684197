/**
 * `npm run bench`: every benchmark, each against its baseline in the same process. Figures go to
 * docs/benchmarks.md with the command that produced them. `npm run bench -- --peers` runs the peer
 * comparison instead (bench/peers/feast.ts).
 */
import { report } from './measure.ts';
import { benchPointInTimeJoin } from './point-in-time-join.ts';
import { benchTrainingSetWorkflow } from './training-set-workflow.ts';

if (process.argv.includes('--peers')) {
  // `npm run bench -- --peers [--scale small|full]`: Flywheel beside Feast 0.67.0 (bench/peers/feast.ts).
  const { benchPeersFeast, peerOptions, printPeerTable } = await import('./peers/feast.ts');
  printPeerTable(await benchPeersFeast(peerOptions(process.argv.slice(2).filter((a) => a !== '--peers'))));
} else {
  process.stdout.write(`node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
  report(await benchPointInTimeJoin({ spineRows: 1_000_000, featureRows: 2_000_000, runs: 5 }));
  report(await benchTrainingSetWorkflow({ runs: 5, transactionsPerDay: 6000, port: 7266 }));
}
