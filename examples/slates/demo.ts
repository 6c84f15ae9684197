/**
 * The slates demo (`npm run demo` runs it after the card-fraud one; `npm run demo:slates` alone):
 * a small simulated recommender turning the whole flywheel, on the embedded stack.
 *
 *   1. make a world (users with hidden tastes, items with a hidden quality) and write its catalog
 *      into a DuckDB file;
 *   2. start Temporal (a dev server), `flywheel plan` and `flywheel apply`, and a worker here;
 *   3. turn the loop three times (slates-loop.ts): ask POST /v1/decide for slates ranked by the promoted ranker
 *      (turn 0: the ranker's cold start, a uniformly random slate, as no version is promoted yet), log
 *      impressions and clicks, let the windows close, ingest, materialize, build the labels and the
 *      training set from the logged decisions, read it, score the model on held-out labels, train
 *      the next one, estimate it on the logged decisions (inverse propensity), register and promote it;
 *   4. print a row per turn, and where one click went: the log API, the online store, the
 *      warehouse, the label dataset, the training set, and the user's next slate;
 *   5. serve the Flywheel UI (docs/ui.md) over what the turns left, and print its address: the loop
 *      graph, the feature views, the datasets, the labels, until Ctrl-C (`--no-ui` ends at once).
 *
 *   npx tsx examples/slates/demo.ts [--turns 3] [--users 80] [--seed 11] [--ui-port 8300] [--no-ui]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../../runtime/load-config.ts';
import { startProjectUi } from '../../cli/serve/start-project-ui.ts';
import { TokenTable } from '../../server/auth/bearer-tokens.ts';
import { uiAssetsDir } from '../../server/ui/ui-assets-dir.ts';
import { resetLocalState, startLocalTemporal, withLocalWorker } from '../demo-stack.ts';
import { writeCatalog } from './catalog.ts';
import { runSlatesLoop, SLATES_DEFAULTS, type ClickTrace, type SlatesLoopResult, type TurnReport } from './slates-loop.ts';
import { createWorld, type World } from './world.ts';

const exampleDir = dirname(fileURLToPath(import.meta.url));
const bin = join(exampleDir, '..', '..', 'bin', 'flywheel.js');

const step = (title: string) => process.stdout.write(`\n\x1b[1m== ${title}\x1b[0m\n`);
const say = (line: string) => process.stdout.write(`  ${line}\n`);

/** Runs the real CLI in the example folder, as a user would, echoing the command and its output. */
function flywheel(args: string[], options: { echo?: boolean } = {}): Promise<string> {
  const echo = options.echo ?? true;
  const started = performance.now();
  process.stdout.write(`$ flywheel ${args.join(' ')}${echo ? '\n' : ''}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: exampleDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (echo) process.stdout.write(chunk);
    });
    // Progress bars and "Started <workflow id>" lines: shown only when the command fails.
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (!echo) process.stdout.write(`  (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
      if (code === 0) resolve(out);
      else reject(new Error(`flywheel ${args.join(' ')} exited with code ${code}\n${err}`));
    });
  });
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({ options: { turns: { type: 'string' }, users: { type: 'string' }, seed: { type: 'string' }, 'ui-port': { type: 'string' }, 'no-ui': { type: 'boolean' } } });
  const turns = Number(args.turns ?? SLATES_DEFAULTS.turns);
  const users = Number(args.users ?? SLATES_DEFAULTS.users);
  const seed = Number(args.seed ?? SLATES_DEFAULTS.seed);
  const started = performance.now();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const config = await loadConfig({ cwd: exampleDir, profile: 'local' });
  if (config.profile.offline.type !== 'duckdb') throw new Error('the demo runs on the local profile (DuckDB)');
  const warehousePath = config.profile.offline.path;

  step('1. A simulated product: users, items and the hidden truth of who clicks what');
  await resetLocalState(config, warehousePath);
  const world = createWorld({ users, items: SLATES_DEFAULTS.items, seed });
  await writeCatalog(warehousePath, world.items);
  describeWorld(world);

  step('2. Start Temporal, plan and apply the definitions');
  const server = await startLocalTemporal(config, say);
  let result: SlatesLoopResult;
  try {
    await flywheel(['plan'], { echo: false });
    await flywheel(['apply']);
    result = await withLocalWorker(config, say, () => {
      step(`3. Turn the loop ${turns} times`);
      return runSlatesLoop({ config, world, turns, seed, flywheel: (a, at) => flywheel(a, { echo: at.lastTurn && a[0] !== 'loop' }), say });
    });
    step('4. Each turn of the loop');
    printTurns(result.turns);
    if (result.trace) {
      step('5. One click, through every store');
      printTrace(result.trace, result.windowSeconds);
    }
    checkImproves(result);
    process.stdout.write(`\nDone in ${((performance.now() - started) / 1000).toFixed(0)} s. The datasets are in ${join('examples/slates', '.flywheel', 'objects')}; explore with \`cd examples/slates && npx flywheel labels show clicked\`.\n`);
    if (!args['no-ui']) await serveUi(config, Number(args['ui-port'] ?? 8300));
  } finally {
    await server.stop();
  }
}

/** The Flywheel UI over the demo's project, with a token made up for the session, until Ctrl-C; Temporal keeps running for its Runs page. */
async function serveUi(config: Awaited<ReturnType<typeof loadConfig>>, port: number): Promise<void> {
  step('6. See it in the browser');
  if (!uiAssetsDir()) {
    // A fresh checkout has not built the frontend yet: build it once from the sources, as `npm run build:ui` does (nothing is fetched).
    say('Building the UI (npm run build:ui) into dist/ui...');
    const { build } = await import('vite');
    await build({ configFile: join(exampleDir, '..', '..', 'ui', 'vite.config.ts'), logLevel: 'warn' });
  }
  const sessionToken = randomBytes(18).toString('hex');
  const ui = await startProjectUi(config, { tokens: TokenTable.parse(`${sessionToken}=read`, 'the demo token'), host: '127.0.0.1', port, sessionToken });
  for (const line of ui.description) say(line);
  say('The loop graph, each feature view\'s freshness and skew, the datasets, the labels, the streams and the runs. Ctrl-C stops it (and Temporal).');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await ui.close();
}

function describeWorld(world: World): void {
  const favorites = new Map<string, number>();
  for (const user of world.users) favorites.set(user.favorite, (favorites.get(user.favorite) ?? 0) + 1);
  say(`${world.users.length} users, each loving one category (${[...favorites].map(([c, n]) => `${c} ${n}`).join(', ')}), liking a second, cold on the rest;`);
  say(`${world.items.length} items with a hidden quality; the catalog table \`items\` holds their category, rating (a noisy view of the quality) and price.`);
  say('A shown item is clicked with sigmoid(base + taste + quality), less often further down the slate. Flywheel and the ranker see only the catalog and what the app logs.');
}

/** A table; `align` has one letter per column, `l` or `r` (default: the first column left, the others right). */
function printTable(header: readonly string[], rows: readonly (readonly string[])[], align?: string): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const right = (i: number) => (align ? align[i] === 'r' : i > 0);
  for (const row of [header, ...rows]) say(row.map((cell, i) => (right(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

function printTurns(turns: readonly TurnReport[]): void {
  printTable(
    ['turn', 'ranked by', 'slates', 'decision rows', 'shown', 'clicks', 'late', 'labeled rows', 'positives', 'held-out AUC', 'previous ranker', 'CTR', 'IPS estimate'],
    turns.map((t) => [
      String(t.turn), t.policy, String(t.slates), String(t.decisionRows), String(t.shown), String(t.clicks), String(t.lateClicks), String(t.labeledRows),
      String(t.positives), t.heldOut.auc.toFixed(3), t.heldOut.previousAuc === null ? '-' : t.heldOut.previousAuc.toFixed(3), `${(t.ctr * 100).toFixed(1)}%`,
      t.ipsCtr === null ? '-' : `${(t.ipsCtr.ctr * 100).toFixed(1)}% ± ${(t.ipsCtr.standardError * 100).toFixed(1)}`,
    ]),
    'lllrrrrrrrrrr',
  );
  process.stdout.write('\n');
  say('decision rows: candidates the decision API logged (ranking_decisions); labeled rows: those rows in the training set, each labeled 1 when');
  say('its item was clicked within the window. Late clicks came after the window: labeled 0 (' + turns.map((t) => t.lateLabeledPositive).reduce((a, b) => a + b, 0) + ' of them labeled 1).');
  say('held-out AUC: the turn\'s ranker on the shown items of the turn\'s exploration slates (random order, labels no ranker trained on; turn 0');
  say('is random: 0.5); previous ranker: the ranker of the turn before, on the same rows (each turn has other rows: compare within a row).');
  say('ranked by: what decided the turn\'s slates, as POST /v1/decide answered: the promoted model version; turn 0 has none yet, so the');
  say('ranker\'s declared cold start decided (coldStart: \'uniform-random\': a uniformly random slate, logged with propensity 1 / 20).');
  say('CTR: clicks per shown item on the slates the ranker ordered. IPS estimate: the same ranker\'s CTR estimated before it served, from the');
  say('turn before\'s logged decisions: each logged click where it would have shown the same item at the same position, weighted by 1 / the');
  say('logged propensity (turn 0\'s cold start: 1 / candidates), per slot it would have filled; ± one standard error. A click on a');
  say('matching explored slate weighs 1 / (0.3 / 20) = 67, so the estimate is noisy at this size, and it is measured on the turn before\'s users');
  say('and features: the measured CTR also gains from what the features learned since.');
  process.stdout.write('\n');
  for (const t of turns) {
    const weights = Object.entries(t.trained.weights).filter(([, w]) => w !== 0).map(([name, w]) => `${name} ${w >= 0 ? '+' : ''}${w.toFixed(2)}`).join(', ');
    say(`after turn ${t.turn}: ranker ${t.trained.version} trained on ${t.trained.rows} shown rows (${t.trained.positives} clicked), train AUC ${t.trained.trainAuc.toFixed(3)}, registered and promoted; IPS CTR ${(t.trained.ips.ctr * 100).toFixed(1)}% ± ${(t.trained.ips.standardError * 100).toFixed(1)} (${t.trained.ips.matched} matching slots of ${t.trained.ips.decisions} logged decisions); weights ${weights}`);
  }
}

function printTrace(trace: ClickTrace, windowSeconds: number): void {
  const t0 = trace.clickedAt;
  const at = (epochMs: number) => `${epochMs >= t0 ? '+' : ''}${((epochMs - t0) / 1000).toFixed(3)} s`;
  const { click } = trace;
  say(`User ${click.userId} clicked item ${click.itemId} (${click.category}) at position ${click.position} of decision ${click.decisionId}, at ${click.ts}.`);
  process.stdout.write('\n');
  // [where, when (epoch ms), what], printed in the order they happened.
  const lines: [string, number, string][] = [
    ['clicked (event time)', trace.clickedAt, `event id ${click.eventId}`],
    ['accepted by the log API', trace.acceptedAt, 'the answer to the client\'s batch: durable in a segment of the stream clicks'],
  ];
  if (trace.online) lines.push(['in the online store (pushed)', Date.parse(trace.online.writtenAt), `user_last_click[${click.userId}] = ${JSON.stringify(trace.online.values)}, event time ${trace.online.eventTime}`]);
  if (trace.nextSlate) lines.push(['served with the next slate', Date.parse(trace.nextSlate.servedAt), `decision ${trace.nextSlate.decisionId}: clicked_category = ${JSON.stringify(trace.nextSlate.clickedCategory)} (${String(trace.nextSlate.status)}, event time ${String(trace.nextSlate.eventTime)})`]);
  if (trace.warehouse) lines.push(['in the warehouse', Date.parse(trace.warehouse.loadedAt), `flywheel.stream_clicks, batch ${trace.warehouse.batch} (ingest_ledger.loaded_at)`]);
  if (trace.label) {
    const row = trace.label.row;
    lines.push(['in the label dataset', Date.parse(trace.label.createdAt), `labels/clicked ${trace.label.partition} version ${trace.label.version}: label ${String(row.label)}, outcome_count ${String(row.outcome_count)}, first_outcome_at ${String(row.first_outcome_at)}, labeled_at ${String(row.labeled_at)}`]);
  }
  if (trace.trainingSet) {
    const row = trace.trainingSet.row;
    lines.push(['in the training set', Date.parse(trace.trainingSet.createdAt), `ranking_training ${trace.trainingSet.version}: label ${String(row.label)}; as served: category ${String(row.category)}, rating ${String(row.rating)}, item_clicks_1h ${String(row.item_clicks_1h)}, clicked_category ${String(row.clicked_category)}`]);
  }
  lines.sort((a, b) => a[1] - b[1]);
  printTable(['where', 'when', 'what'], lines.map(([where, when, what]) => [where, at(when), what]), 'lrl');
  process.stdout.write('\n');
  if (!trace.online) say('The pushed record was not seen in the online store within 10 s.');
  say(`The label waited for the ${windowSeconds} s window to close; the training-set row holds the features the ranker was served for this decision.`);
  if (trace.label) say(`${trace.label.partition} is the hour in progress, rebuilt each turn as its next version (${trace.label.reason}).`);
}

/** The demo's claim: each turn's ranker beats the one before on the same held-out labels, and gets more clicks. */
function checkImproves(result: SlatesLoopResult): void {
  const { turns, lastHeldOut } = result;
  process.stdout.write('\n');
  say(`Every ranker on turn ${lastHeldOut.turn}'s held-out rows (${lastHeldOut.rows} shown items of exploration slates, ${lastHeldOut.positives} clicked): ${lastHeldOut.rankers.map((r) => `${r.ranker} ${r.auc.toFixed(3)}`).join(', ')}.`);
  const worse = turns.slice(1).filter((t, i) => t.heldOut.previousAuc === null || t.heldOut.auc <= t.heldOut.previousAuc || t.ctr <= turns[i]!.ctr);
  if (worse.length === 0) say(`The ranker improved every turn: CTR ${turns.map((t) => `${(t.ctr * 100).toFixed(1)}%`).join(' → ')}, and each beat the one before on held-out labels.`);
  else say(`warning: turn ${worse.map((t) => t.turn).join(', ')} did not beat the turn before (small samples; try another --seed or more --users).`);
  say(`Every decision was made and logged by POST /v1/decide; its exploration draws are keyed by each request (seed, turn, round, user), so --seed ${result.seed} prints this table again.`);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
