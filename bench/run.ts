/**
 * `npm run bench`: every benchmark, each against its baseline in the same process. Figures go to
 * docs/benchmarks.md with the command that produced them. `npm run bench -- --peers` runs the peer
 * comparison instead (bench/peers/feast.ts); `npm run bench -- serving` and `-- log-api` the serving
 * API and the log API against their floors (bench/floors/); `npm run bench -- issue-17` every figure of
 * issue 17 in one table, each against its goal (bench/issue-17.ts).
 */
import { report } from './measure.ts';
import { benchPointInTimeJoin } from './point-in-time-join.ts';
import { benchTrainingSetWorkflow } from './training-set-workflow.ts';

const [command, ...rest] = process.argv.slice(2);
if (command === 'serving') {
  // `npm run bench -- serving [bench/serving.ts's options]`: serving against its floor (issue 17, item 4).
  const { benchServing, servingOptions } = await import('./serving.ts');
  await benchServing(servingOptions(rest));
} else if (command === 'log-api') {
  // `npm run bench -- log-api [bench/log-api.ts's options]`: the log API against its group-commit floor.
  const { benchLogApi, logApiOptions } = await import('./log-api.ts');
  await benchLogApi(logApiOptions(rest));
} else if (command === 'issue-17') {
  // `npm run bench -- issue-17 [--scale small|full] [--only …|--skip …] [--out file.md]`: every figure of issue 17, one table (bench/issue-17.ts).
  const { benchIssue17, issue17Options } = await import('./issue-17.ts');
  await benchIssue17(issue17Options(rest));
} else if (process.argv.includes('--peers')) {
  // `npm run bench -- --peers [--scale small|full]`: Flywheel beside Feast 0.67.0 (bench/peers/feast.ts).
  const { benchPeersFeast, peerOptions, printPeerTable } = await import('./peers/feast.ts');
  printPeerTable(await benchPeersFeast(peerOptions(process.argv.slice(2).filter((a) => a !== '--peers'))));
} else {
  process.stdout.write(`node ${process.version}, ${(await import('node:os')).cpus().length} cores\n`);
  report(await benchPointInTimeJoin({ spineRows: 1_000_000, featureRows: 2_000_000, runs: 5 }));
  report(await benchTrainingSetWorkflow({ runs: 5, transactionsPerDay: 6000, port: 7266 }));
}
