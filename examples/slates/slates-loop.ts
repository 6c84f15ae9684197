/**
 * The closed loop of the slates example, as `npm run demo` runs it and test/examples-slates.test.ts
 * runs a short version of it. Each turn:
 *
 *   1. the product (product.ts) asks the decision API (`POST /v1/decide`) for a turn of slates, ranked
 *      by the promoted version of the `ranker` model with a share explored at random (turn 0, before
 *      any version is promoted: the ranker's cold start, a uniformly random slate), and logs
 *      impressions and clicks through the log API; the decisions are logged by the server itself
 *      (features, model version, score, rank and propensity of every candidate);
 *   2. once every decision's label window has closed and every event is in the warehouse (the
 *      project server's ingestion workflows load each closed segment), the flywheel runs:
 *      `flywheel loop run --only ingest,materialize` (whatever is left to load, then the aggregations
 *      the next turn is served), `flywheel labels build clicked --include-open` (the hour in progress
 *      is an open partition) and `flywheel run training-set ranking_training` (the labeled decisions,
 *      with the features as the decision log holds them);
 *   3. the training set's Parquet is read with DuckDB, joined with the impressions (only shown items
 *      can be clicked), the turn's model is scored on the turn's exploration slates (labels it never
 *      saw), and the next model is trained on every shown row so far;
 *   4. the next model is estimated on the turn's logged decisions (inverse propensity scoring: a
 *      logged click counts 1 / its logged propensity where the next model would show the same item at
 *      the same position), then registered (`flywheel models register ranker <weights.json>
 *      --trained-on ranking_training`) and promoted; the next turn starts once the server scores with it.
 *
 * One click is followed through every store: accepted by the log API, pushed to the online store,
 * loaded into the warehouse, labeled, in the training set, and served with the user's next slate.
 *
 * Running a worker on the profile's task queue, and `flywheel apply`, are the caller's.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFlywheelClient } from '../../client/index.ts';
import { startProjectServer } from '../../cli/serve/start-project-server.ts';
import type { ResolvedConfig } from '../../runtime/load-config.ts';
import { loadDefinitions } from '../../cli/project/load-definitions.ts';
import { readDatasetManifest, readLabelPartitionManifest, readPartitionManifest } from '../../connectors/object-store/dataset-manifests.ts';
import { createObjectStore } from '../../connectors/object-store/create-object-store.ts';
import { createOnlineStore } from '../../connectors/online-store/create-online-store.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { queryWarehouse } from '../demo-stack.ts';
import { partitionOf } from '../../core/training-set/partitions.ts';
import { TokenTable } from '../../server/index.ts';
import { auc, logLoss, modelInputs, predict, trainLogistic, type LogisticModel } from './model.ts';
import { playTurn, RANKER_MODEL, sleep, type ProductOptions, type SentClick, type Slate, type TracedClick } from './product.ts';
import type { World } from './world.ts';

export const SLATES_TOKEN = 'slates-demo-token';
/**
 * The server's exploration secret (docs/decide.md): with it fixed, and each request's `explore.key`
 * made of the seed, turn, round and user, every exploration draw of a run is the same on the next.
 */
export const SLATES_EXPLORATION_SECRET = 'slates-demo-exploration';
export const LABELS = 'clicked';
export const TRAINING_SET = 'ranking_training';

export interface SlatesLoopOptions extends Partial<Omit<ProductOptions, 'windowSeconds'>> {
  readonly config: ResolvedConfig;
  /** The world, as written to the catalog (writeCatalog) before `flywheel apply`. */
  readonly world: World;
  readonly turns?: number;
  /** How long a log segment stays open before it is loaded. Default 1 s. */
  readonly segmentAgeMs?: number;
  /** Runs the `flywheel` CLI in the project folder; rejects when it exits with an error. `turn` is absent before the first turn. */
  readonly flywheel: (args: string[], at: { readonly turn?: number; readonly lastTurn: boolean }) => Promise<unknown>;
  /** Progress, one line at a time. */
  readonly say?: (line: string) => void;
}

export const SLATES_DEFAULTS = {
  users: 80, items: 200, candidates: 20, shown: 5, rounds: 4, roundGapMs: 1_500, exploreShare: 0.3, lateShare: 0.12, concurrency: 8, seed: 11, turns: 3,
} as const;

/** One row per turn: what was served, what came back, and how the turn's model did. */
export interface TurnReport {
  readonly turn: number;
  /** What decided the turn's slates: `cold start` (turn 0: no version promoted; uniformly random) or `model-v<n>`, as /v1/decide answered. */
  readonly policy: string;
  readonly slates: number;
  /** Candidate rows of the turn's decisions in flywheel.stream_ranking_decisions. */
  readonly decisionRows: number;
  readonly shown: number;
  readonly clicks: number;
  /** Clicks sent after their decision's window closed. */
  readonly lateClicks: number;
  /** Rows of the turn in the training set (one per candidate of each decision), and those labeled 1. */
  readonly labeledRows: number;
  readonly positives: number;
  /** Late clicks whose row was labeled 1 (must be 0). */
  readonly lateLabeledPositive: number;
  /**
   * The turn's ranker on the shown rows of the turn's exploration slates, labels it was not trained on
   * (random order: 0.5), and the ranker before it on the same rows (none in turn 0).
   */
  readonly heldOut: { readonly rows: number; readonly positives: number; readonly auc: number; readonly previousAuc: number | null; readonly logLoss: number | null };
  /** Clicks per shown item on the slates the policy ranked (every slate in turn 0). */
  readonly ctr: number;
  /**
   * This turn's ranker's CTR as estimated before it served, by inverse propensity scoring on the turn
   * before's logged decisions (see ipsEstimate); null in turn 0.
   */
  readonly ipsCtr: IpsEstimate | null;
  /** The model trained after this turn, on every shown row so far: the next turn's ranker (`version`: as registered, `v1`, `v2`, ...). */
  readonly trained: { readonly version: string; readonly ips: IpsEstimate; readonly rows: number; readonly positives: number; readonly trainAuc: number; readonly weights: Readonly<Record<string, number>> };
  readonly durationMs: number;
}

/** One click, followed from the app through every store. Times are epoch milliseconds. */
export interface ClickTrace {
  readonly click: SentClick;
  readonly clickedAt: number;
  readonly acceptedAt: number;
  readonly online?: { readonly seenAt: number; readonly values: Readonly<Record<string, unknown>>; readonly eventTime: string; readonly writtenAt: string };
  readonly warehouse?: { readonly receivedAt: string; readonly batch: string; readonly loadedAt: string };
  readonly nextSlate?: { readonly decisionId: string; readonly servedAt: string; readonly clickedCategory: unknown; readonly status: unknown; readonly eventTime: unknown };
  readonly label?: { readonly partition: string; readonly version: number; readonly reason: string; readonly createdAt: string; readonly row: Readonly<Record<string, unknown>> };
  readonly trainingSet?: { readonly version: string; readonly createdAt: string; readonly row: Readonly<Record<string, unknown>> };
}

export interface SlatesLoopResult {
  readonly turns: readonly TurnReport[];
  readonly trace: ClickTrace | undefined;
  /** model-v1, model-v2, ...: the model trained after each turn. */
  readonly models: readonly LogisticModel[];
  readonly windowSeconds: number;
  /** The seed of the product's draws and of its requests' exploration keys: the same seed, the same table. */
  readonly seed: number;
  /** Every ranker (random, then each model but the last) on the last turn's held-out rows. */
  readonly lastHeldOut: { readonly turn: number; readonly rows: number; readonly positives: number; readonly rankers: readonly { readonly ranker: string; readonly auc: number }[] };
}

/** A training-set row with the impression it had, if it was shown. */
type TrainingRow = Record<string, unknown> & { decision_id: string; item_id: number; label: number; shown_position: number | null; shown_policy: string | null };

export async function runSlatesLoop(options: SlatesLoopOptions): Promise<SlatesLoopResult> {
  const { config, world } = options;
  const say = options.say ?? (() => undefined);
  if (config.profile.offline.type !== 'duckdb') throw new Error('the slates loop runs on a DuckDB warehouse (the local profile)');
  const warehouse = config.profile.offline.path;
  const project = await loadDefinitions(config.definitionsDir, config.projectRoot);
  const windowSeconds = windowOf(project);
  const product: ProductOptions = {
    candidates: options.candidates ?? SLATES_DEFAULTS.candidates,
    shown: options.shown ?? SLATES_DEFAULTS.shown,
    rounds: options.rounds ?? SLATES_DEFAULTS.rounds,
    roundGapMs: options.roundGapMs ?? SLATES_DEFAULTS.roundGapMs,
    exploreShare: options.exploreShare ?? SLATES_DEFAULTS.exploreShare,
    lateShare: options.lateShare ?? SLATES_DEFAULTS.lateShare,
    concurrency: options.concurrency ?? SLATES_DEFAULTS.concurrency,
    seed: options.seed ?? SLATES_DEFAULTS.seed,
    windowSeconds,
  };
  const turns = options.turns ?? SLATES_DEFAULTS.turns;
  // The traced click is one of turn 1 (ranked by the first model, with features from turn 0's clicks), or of turn 0 when there is no other.
  const traceTurn = Math.min(1, turns - 1);
  const objects = createObjectStore(config.profile.objectStore);

  const server = await startProjectServer(config, {
    tokens: TokenTable.parse(`${SLATES_TOKEN}=read,write:*`), host: '127.0.0.1', port: 0, ingest: true,
    // A promotion is served within a quarter of a second (5 s by default).
    segmentAgeMs: options.segmentAgeMs ?? 1_000, modelPollMs: 250, explorationSecret: SLATES_EXPLORATION_SECRET, log: (line) => say(`server: ${line}`),
  });
  const client = createFlywheelClient({ url: server.server.url, token: SLATES_TOKEN, flushIntervalMs: 50, onError: (error) => say(`client: ${error.message}`) });
  // A reader of the online store the server writes pushed features to (the same SQLite file or Redis).
  const online = await createOnlineStore(config.profile.onlineStore, { project: config.project });
  const reports: TurnReport[] = [];
  const models: LogisticModel[] = [];
  /** The registered version of each model in `models`. */
  const versions: string[] = [];
  const turnOf = new Map<string, number>();
  /** Each decision's slate: the rows are put in the order the slates were planned, not served (a run repeats). */
  const slateOf = new Map<string, Slate>();
  let trace: ClickTrace | undefined;
  let following: Promise<void> | undefined;
  let lastExplored: TrainingRow[] = [];
  const sent = { decisionRows: 0, impressions: 0, clicks: 0 };
  try {
    say(`Serving API and log API on ${server.server.url}; label window ${windowSeconds} s.`);
    // The catalog's attributes are in the online store before the first slate is served.
    await options.flywheel(['loop', 'run', '--only', 'materialize'], { lastTurn: false });

    for (let turn = 0; turn < turns; turn++) {
      const started = performance.now();
      const model = models[turn - 1];
      say(`Turn ${turn}: ${world.users.length} users x ${product.rounds} slates of ${product.candidates} candidates, decided by POST /v1/decide ${model ? `with ranker ${versions[turn - 1]} (${Math.round(product.exploreShare * 100)}% explored at random)` : 'by the ranker\'s cold start (no version promoted yet: uniformly random)'}...`);
      const traffic = await playTurn({
        client, world, turn, options: product, trace: turn === traceTurn,
        decide: { url: server.server.url, token: SLATES_TOKEN },
        pushed: (userId, ts) => waitForPushedClick(online, userId, ts),
        onTraced: (traced) => {
          trace = { ...traced };
          following = followIntoOnlineStore(online, traced).then((seen) => {
            if (seen && trace) trace = { ...trace, online: seen };
          });
        },
      });
      for (const slate of traffic.slates) {
        turnOf.set(slate.decisionId, turn);
        slateOf.set(slate.decisionId, slate);
      }
      sent.decisionRows += traffic.decisionRows;
      sent.impressions += traffic.impressions;
      sent.clicks += traffic.clicks.length;
      const late = traffic.clicks.filter((c) => c.late).length;
      say(`  served ${traffic.slates.length} slates (${traffic.decisionRows} decision rows), showed ${traffic.impressions} items, sent ${traffic.clicks.length} clicks (${late} after the window).`);

      // Every decision's window has closed (the late clicks came after it); wait for the warehouse to hold everything sent.
      const lastServed = Math.max(...traffic.slates.map((s) => s.servedAt));
      await sleep(Math.max(0, lastServed + windowSeconds * 1000 + 200 - Date.now()));
      await waitForWarehouse(warehouse, sent, 90_000);
      await following;
      if (turn === traceTurn && trace) trace = { ...trace, ...(await warehouseTrace(warehouse, trace)) };

      const at = { turn, lastTurn: turn === turns - 1 };
      await options.flywheel(['loop', 'run', '--only', 'ingest,materialize'], at);
      await options.flywheel(['labels', 'build', LABELS, '--include-open'], at);
      await options.flywheel(['run', 'training-set', TRAINING_SET], at);

      const training = await readTrainingSet(warehouse, objects, project);
      const rows = training.rows.filter((r) => turnOf.has(r.decision_id)).sort((a, b) => {
        const [x, y] = [slateOf.get(a.decision_id)!, slateOf.get(b.decision_id)!];
        return x.turn - y.turn || x.round - y.round || x.userId - y.userId || Number(a.row_index) - Number(b.row_index);
      });
      const ofTurn = rows.filter((r) => turnOf.get(r.decision_id) === turn);
      const shownOfTurn = ofTurn.filter((r) => r.shown_position !== null);
      const lateKeys = new Set(traffic.clicks.filter((c) => c.late).map((c) => `${c.decisionId}/${c.itemId}`));
      const policySlates = shownOfTurn.filter((r) => r.shown_policy !== 'explore' || !model);
      const explored = shownOfTurn.filter((r) => r.shown_policy === 'explore');
      const heldOutLabels = explored.map((r) => r.label);
      const heldOutAuc = (ranker: LogisticModel | undefined) => (ranker ? auc(explored.map((r) => predict(ranker, modelInputs(r))), heldOutLabels) : 0.5);

      lastExplored = explored;
      const trainRows = rows.filter((r) => r.shown_position !== null);
      const next = trainLogistic(trainRows.map((r) => modelInputs(r)), trainRows.map((r) => r.label));
      // Every turn's propensities are as /v1/decide logged them (turn 0's cold start: 1 / candidates at each position).
      const propensities = await loggedPropensities(warehouse, traffic.slates);
      const ips = ipsEstimate(next, ofTurn, product.shown, (row) => propensities.get(`${row.decision_id}/${String(row.row_index)}`));
      const version = await registerAndPromote(options, config.stateDir, next, at, server.server.url);
      models.push(next);
      versions.push(version);
      const report: TurnReport = {
        turn,
        policy: policyOf(traffic.slates),
        slates: traffic.slates.length,
        decisionRows: await countDecisionRows(warehouse, traffic.slates),
        shown: traffic.impressions,
        clicks: traffic.clicks.length,
        lateClicks: late,
        labeledRows: ofTurn.length,
        positives: ofTurn.filter((r) => r.label === 1).length,
        lateLabeledPositive: ofTurn.filter((r) => r.label === 1 && lateKeys.has(`${r.decision_id}/${r.item_id}`)).length,
        heldOut: {
          rows: explored.length,
          positives: heldOutLabels.filter((y) => y === 1).length,
          auc: heldOutAuc(model),
          previousAuc: turn === 0 ? null : heldOutAuc(models[turn - 2]),
          logLoss: model ? logLoss(explored.map((r) => predict(model, modelInputs(r))), heldOutLabels) : null,
        },
        ctr: policySlates.length === 0 ? 0 : policySlates.filter((r) => r.label === 1).length / policySlates.length,
        ipsCtr: reports[turn - 1]?.trained.ips ?? null,
        trained: {
          version, ips, rows: next.rows, positives: next.positives,
          trainAuc: auc(trainRows.map((r) => predict(next, modelInputs(r))), trainRows.map((r) => r.label)),
          weights: Object.fromEntries(next.inputs.map((name, j) => [name, next.stds[j] === 0 ? 0 : next.weights[j]!])),
        },
        durationMs: performance.now() - started,
      };
      reports.push(report);
      say(`  turn ${turn}: ${report.labeledRows} labeled rows, ${report.positives} positives; held-out AUC ${report.heldOut.auc.toFixed(3)}, CTR ${(report.ctr * 100).toFixed(1)}%; trained ${report.trained.version} on ${next.rows} shown rows (${(report.durationMs / 1000).toFixed(1)} s)`);
      if (turn === traceTurn && trace) trace = { ...trace, ...(await datasetTrace(warehouse, objects, project, trace, training)) };
    }
  } finally {
    await client.close();
    await server.close();
    await online.close();
  }
  // Every ranker on the same held-out labels: the last turn's exploration slates, which only the last model trained on.
  const labelsOfLast = lastExplored.map((r) => r.label);
  const rankers = [
    { ranker: 'random', auc: 0.5 },
    ...models.slice(0, -1).map((model, i) => ({ ranker: `model-${versions[i]!}`, auc: auc(lastExplored.map((r) => predict(model, modelInputs(r))), labelsOfLast) })),
  ];
  return {
    turns: reports, trace, models, windowSeconds, seed: product.seed,
    lastHeldOut: { turn: reports.length - 1, rows: lastExplored.length, positives: labelsOfLast.filter((y) => y === 1).length, rankers },
  };
}

/** An inverse-propensity estimate of a ranker's CTR (clicks per shown slot) from logged decisions. */
export interface IpsEstimate {
  readonly ctr: number;
  /**
   * Its standard error over the slots: a match of an explored slate weighs 1 / (epsilon / candidates),
   * 67 at 0.3 and 20, so a few clicks move the estimate by points.
   */
  readonly standardError: number;
  /** Decisions used, and the slots where the ranker would have shown what was shown (the only ones that count). */
  readonly decisions: number;
  readonly matched: number;
}

/**
 * The CTR `ranker` would get showing its top `shown` of each logged decision's candidates: for each
 * decision and position, when the logged slate showed the ranker's item there, its label counts
 * 1 / (the chance the logging policy showed it there); the sum over every slot of every decision.
 * Unbiased when a click depends on the user, the item and the position (as world.ts's do) and every
 * logged propensity is above 0 (exploration puts every candidate anywhere with epsilon / candidates).
 */
export function ipsEstimate(ranker: LogisticModel, rows: readonly TrainingRow[], shown: number, propensity: (row: TrainingRow) => number | undefined): IpsEstimate {
  const byDecision = new Map<string, TrainingRow[]>();
  for (const row of rows) byDecision.set(row.decision_id, [...(byDecision.get(row.decision_id) ?? []), row]);
  let sum = 0;
  let squares = 0;
  let matched = 0;
  let slots = 0;
  for (const candidates of byDecision.values()) {
    const ordered = [...candidates].sort((a, b) => Number(a.row_index) - Number(b.row_index));
    const scores = ordered.map((row) => predict(ranker, modelInputs(row)));
    const top = scores.map((score, index) => ({ score, index })).sort((a, b) => b.score - a.score || a.index - b.index).slice(0, shown);
    slots += top.length;
    top.forEach(({ index }, position) => {
      const row = ordered[index]!;
      if (row.shown_position !== position) return;
      const p = propensity(row);
      if (p === undefined || !(p > 0)) throw new Error(`decision ${row.decision_id} row ${String(row.row_index)} was shown without a logged propensity`);
      matched++;
      sum += row.label / p;
      squares += (row.label / p) ** 2;
    });
  }
  const ctr = slots === 0 ? 0 : sum / slots;
  const standardError = slots < 2 ? 0 : Math.sqrt(Math.max(0, squares / slots - ctr * ctr) / (slots - 1));
  return { ctr, standardError, decisions: byDecision.size, matched };
}

/** What decided a turn's slates, as /v1/decide answered: `cold start` (no version), else `model-<version>` (each version once). */
function policyOf(slates: readonly Slate[]): string {
  const versions = [...new Set(slates.map((s) => s.version))];
  return versions.map((v) => (v === null ? 'cold start' : `model-${v}`)).join(' + ');
}

/** Polls the online store until the user's pushed last click is this one (or a later one): the next slate is served knowing it. */
async function waitForPushedClick(online: Awaited<ReturnType<typeof createOnlineStore>>, userId: number, ts: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  const clickTime = Date.parse(ts);
  for (;;) {
    const [value] = await online.read([{ view: 'user_last_click', key: [userId], ttlSeconds: null }], new Date());
    if (value?.status === 'present' && Date.parse(value.eventTime) >= clickTime) return;
    if (Date.now() > deadline) throw new Error(`user ${userId}'s click at ${ts} is not in the online store 10 s after the log API took it (user_last_click is pushed)`);
    await sleep(5);
  }
}

/** Each shown candidate's propensity as /v1/decide logged it, by `<decision id>/<row index>`. */
async function loggedPropensities(warehouse: string, slates: readonly Slate[]): Promise<Map<string, number>> {
  const rows = await queryWarehouse<{ decision_id: string; row_index: number; propensity: number }>(warehouse,
    `SELECT decision_id, row_index, propensity FROM flywheel.stream_ranking_decisions
     WHERE propensity IS NOT NULL AND decision_id IN (SELECT unnest(${stringList(slates.map((s) => s.decisionId))}))`);
  return new Map(rows.map((r) => [`${r.decision_id}/${r.row_index}`, r.propensity]));
}

/**
 * Registers the trained ranker (its weights as the version's JSON artifact, trained on the newest
 * ranking_training) and promotes it through the CLI, then waits until the server scores with it
 * (GET /readyz shows the version serving): the next turn's slates are all decided by it.
 */
async function registerAndPromote(options: SlatesLoopOptions, stateDir: string, ranker: LogisticModel, at: { turn: number; lastTurn: boolean }, url: string): Promise<string> {
  const file = join(stateDir, `ranker-after-turn-${at.turn}.json`);
  await writeFile(file, `${JSON.stringify(ranker)}\n`);
  const registered = String(await options.flywheel(['models', 'register', RANKER_MODEL, file, '--trained-on', TRAINING_SET, '--json'], at));
  const { manifest: { version } } = JSON.parse(registered) as { manifest: { version: string } };
  await options.flywheel(['models', 'promote', RANKER_MODEL, version], at);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ready = (await (await fetch(`${url}/readyz`, { headers: { authorization: `Bearer ${SLATES_TOKEN}` } })).json()) as { models?: Record<string, { serving: string | null; problem?: string }> };
    const status = ready.models?.[RANKER_MODEL];
    if (status?.serving === version) return version;
    if (Date.now() > deadline) throw new Error(`the server does not score with ranker ${version} 15 s after its promotion: ${JSON.stringify(status)}`);
    await sleep(50);
  }
}

function windowOf(project: ProjectSpec): number {
  const labels = project.labels?.[LABELS];
  if (!labels) throw new Error(`the project has no labels "${LABELS}"`);
  return labels.windowSeconds;
}

/** A list of SQL string literals, `['a', 'b']`: DuckDB takes no list parameters, and read_parquet wants a constant. */
function stringList(values: readonly string[]): string {
  return `[${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ')}]`;
}

/** Polls the three stream tables until they hold what was sent: the ingestion workflows load each closed segment. */
async function waitForWarehouse(warehouse: string, sent: { decisionRows: number; impressions: number; clicks: number }, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [counts] = await queryWarehouse<{ decisions: number; impressions: number; clicks: number }>(warehouse,
      `SELECT (SELECT count(*) FROM flywheel.stream_ranking_decisions)::INTEGER AS decisions,
              (SELECT count(*) FROM flywheel.stream_impressions)::INTEGER AS impressions,
              (SELECT count(*) FROM flywheel.stream_clicks)::INTEGER AS clicks`);
    if (counts && counts.decisions >= sent.decisionRows && counts.impressions >= sent.impressions && counts.clicks >= sent.clicks) return;
    if (Date.now() > deadline) {
      throw new Error(`the warehouse holds ${JSON.stringify(counts)} after ${timeoutMs / 1000} s, not what was sent (${JSON.stringify(sent)}); is a worker polling the task queue?`);
    }
    await sleep(300);
  }
}

async function countDecisionRows(warehouse: string, slates: readonly Slate[]): Promise<number> {
  const ids = slates.map((s) => s.decisionId);
  const [row] = await queryWarehouse<{ n: number }>(warehouse, `SELECT count(*)::INTEGER AS n FROM flywheel.stream_ranking_decisions WHERE decision_id IN (SELECT unnest(${stringList(ids)}))`);
  return row?.n ?? 0;
}

/** Every row of the training set, with the impression of the row's item in its slate (null when it was not shown). */
async function readTrainingSet(warehouse: string, objects: ReturnType<typeof createObjectStore>, project: ProjectSpec): Promise<{ rows: TrainingRow[]; version: string; createdAt: string }> {
  const spec = project.trainingSets[TRAINING_SET]!;
  const manifest = await readDatasetManifest(objects, spec);
  if (!manifest || manifest.partitions.length === 0) throw new Error(`training set ${TRAINING_SET} has no partitions`);
  const partitions = await Promise.all(manifest.partitions.map((p) => readPartitionManifest(objects, spec, p.key)));
  const files = partitions.flatMap((p) => p?.files ?? []).map((f) => fileURLToPath(f.uri));
  const rows = await queryWarehouse<TrainingRow>(warehouse,
    `SELECT t.*, i.position AS shown_position, i.policy AS shown_policy
     FROM read_parquet(${stringList(files)}) t
     LEFT JOIN flywheel.stream_impressions i ON i.decision_id = t.decision_id AND i.item_id = t.item_id
     ORDER BY t.served_at, t.decision_id, t.row_index`);
  const newest = partitions.filter((p) => p !== undefined).sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0]!;
  return { rows, version: newest.version, createdAt: newest.createdAt };
}

/** Polls the online store until the pushed record of the click's user is the click's (or a later one). */
async function followIntoOnlineStore(online: Awaited<ReturnType<typeof createOnlineStore>>, traced: TracedClick): Promise<ClickTrace['online']> {
  const deadline = Date.now() + 10_000;
  const clickTime = Date.parse(traced.click.ts);
  while (Date.now() < deadline) {
    const [value] = await online.read([{ view: 'user_last_click', key: [traced.click.userId], ttlSeconds: null }], new Date());
    if (value?.status === 'present' && Date.parse(value.eventTime) >= clickTime) {
      return { seenAt: Date.now(), values: value.values, eventTime: value.eventTime, writtenAt: value.writtenAt };
    }
    await sleep(5);
  }
  return undefined;
}

/** The click's row in flywheel.stream_clicks and its batch in the ingest ledger; the user's next slate in the decision log. */
async function warehouseTrace(warehouse: string, trace: ClickTrace): Promise<Partial<ClickTrace>> {
  const [row] = await queryWarehouse<{ received_at: string; batch: string; loaded_at: string }>(warehouse,
    `SELECT c._received_at AS received_at, c._batch AS batch, l.loaded_at
     FROM flywheel.stream_clicks c JOIN flywheel.ingest_ledger l ON l.stream = 'clicks' AND l.batch = c._batch
     WHERE c._event_id = ?`, [trace.click.eventId]);
  const [next] = await queryWarehouse<{ decision_id: string; served_at: string; clicked_category: unknown; clicked_category__status: unknown; user_last_click__event_time: unknown }>(warehouse,
    `SELECT decision_id, served_at, clicked_category, clicked_category__status, user_last_click__event_time
     FROM flywheel.stream_ranking_decisions WHERE user_id = ? AND served_at > ?::TIMESTAMPTZ ORDER BY served_at, row_index LIMIT 1`,
    [trace.click.userId, new Date(trace.acceptedAt).toISOString()]);
  return {
    ...(row ? { warehouse: { receivedAt: row.received_at, batch: row.batch, loadedAt: row.loaded_at } } : {}),
    ...(next ? { nextSlate: { decisionId: next.decision_id, servedAt: next.served_at, clickedCategory: next.clicked_category, status: next.clicked_category__status, eventTime: next.user_last_click__event_time } } : {}),
  };
}

/** The click's label row (its partition and version) and its training-set row. */
async function datasetTrace(
  warehouse: string, objects: ReturnType<typeof createObjectStore>, project: ProjectSpec, trace: ClickTrace, training: { rows: TrainingRow[]; version: string; createdAt: string },
): Promise<Partial<ClickTrace>> {
  const labels = project.labels![LABELS]!;
  const row = training.rows.find((r) => r.decision_id === trace.click.decisionId && r.item_id === trace.click.itemId);
  if (!row) return {};
  const key = partitionOf(new Date(String(row.served_at)), labels.output.partitionBy).key;
  const manifest = await readLabelPartitionManifest(objects, labels, key);
  let label: ClickTrace['label'];
  if (manifest) {
    const [labelRow] = await queryWarehouse(warehouse, `SELECT * FROM read_parquet(${stringList(manifest.files.map((f) => fileURLToPath(f.uri)))}) WHERE decision_id = ? AND item_id = ?`,
      [trace.click.decisionId, trace.click.itemId]);
    if (labelRow) label = { partition: key, version: manifest.version, reason: manifest.reason, createdAt: manifest.createdAt, row: labelRow };
  }
  return { ...(label ? { label } : {}), trainingSet: { version: training.version, createdAt: training.createdAt, row } };
}
