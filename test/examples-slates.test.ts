import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.ts';
import { readDatasetManifest, readPartitionManifest } from '../connectors/object-store/dataset-manifests.ts';
import { loadConfig, type ResolvedConfig } from '../runtime/load-config.ts';
import { loadDefinitions } from '../cli/project/load-definitions.ts';
import { ingestScheduleId, ingestSweepWorkflowId } from '../cli/serve/ingestion-starter.ts';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { openDuckDBEngine } from '../connectors/offline/duckdb/duckdb-engine.ts';
import { createOnlineStore } from '../connectors/online-store/create-online-store.ts';
import { sql } from '../core/sql/compiled-query.ts';
import { writeCatalog } from '../examples/slates/catalog.ts';
import { MODEL_INPUTS } from '../examples/slates/model.ts';
import { runSlatesLoop, TRAINING_SET, type SlatesLoopResult } from '../examples/slates/slates-loop.ts';
import { createWorld } from '../examples/slates/world.ts';
import { activityDepsFromConfig } from '../worker/activity-deps.ts';
import { connectClient, runWorker, temporalAddress, testTaskQueue } from './setup/temporal.ts';
import { createTempProject, type TempProject } from './support/temp-project.ts';

/**
 * A short run of the slates demo's closed loop (examples/slates/slates-loop.ts) against the real
 * stack: the example's definitions in a temporary project (label window 3 s instead of 5 s), the real
 * CLI for apply, the loop, labels and the training set, a worker in this process, the project server
 * deciding every slate (POST /v1/decide: the ranker's cold start in turn 0, its promoted version in
 * turn 1) and taking impressions and clicks, two turns of 30 users x 4 rounds. Checks the decisions in
 * the warehouse, the labels (late clicks labeled 0), the training set built from the decision log, the
 * models, and the traced click in the online store, the warehouse, the labels and the training set.
 *
 * Why 30 users x 4 rounds: the first model is judged on turn 1's explored slates only (the rows no
 * ranker ordered). At 20 users x 2 rounds those were ~100 shown items with ~9 clicks, and a model
 * whose expected held-out AUC is 0.63 fell to 0.5 or below in 12% of 300 simulated worlds (the
 * clicks drawn from world.ts's model); at 30 x 4 (~300 items, ~30 clicks) in none of 300.
 */

const PROJECT = 'slates_loop';
const exampleDir = fileURLToPath(new URL('../examples/slates/', import.meta.url));
const taskQueue = testTaskQueue();
const USERS = 30;
const ROUNDS = 4;
const world = createWorld({ users: USERS, items: 120, seed: 5 });
let project: TempProject;
let config: ResolvedConfig;
let warehouse: string;
let result: SlatesLoopResult;

async function query(text: string, parameters: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
  const engine = await openDuckDBEngine({ path: warehouse });
  try {
    return await engine.all(sql(text, parameters));
  } finally {
    await engine.close();
  }
}

beforeAll(async () => {
  const definitions = Object.fromEntries(
    readdirSync(join(exampleDir, 'definitions')).filter((f) => f.endsWith('.ts')).map((f) => {
      const text = readFileSync(join(exampleDir, 'definitions', f), 'utf8');
      return [`definitions/${f}`, f === 'labels.ts' ? text.replace("window: '5s'", "window: '3s'") : text];
    }),
  );
  expect(definitions['definitions/labels.ts']).toContain("window: '3s'");
  project = createTempProject({
    'flywheel.config.ts': `import { defineConfig, localProfile } from 'flywheel';
export default defineConfig({ project: '${PROJECT}', definitions: './definitions', profiles: { local: localProfile({ temporalAddress: '${temporalAddress()}', taskQueue: '${taskQueue}' }) } });
`,
    ...definitions,
    // The ranker's scoring code (definitions/models.ts names it: '../model.ts').
    'model.ts': readFileSync(join(exampleDir, 'model.ts'), 'utf8'),
  });
  config = await loadConfig({ cwd: project.dir, profile: 'local' });
  if (config.profile.offline.type !== 'duckdb') throw new Error('expected the local profile');
  warehouse = config.profile.offline.path;
  await writeCatalog(warehouse, world.items);
});

afterAll(async () => {
  const client = await connectClient();
  try {
    await client.schedule.getHandle(ingestScheduleId(PROJECT)).delete().catch(() => undefined);
    // The ingest sweep `flywheel serve` started runs until stopped.
    await client.workflow.getHandle(ingestSweepWorkflowId(PROJECT)).terminate('test over').catch(() => undefined);
  } finally {
    await client.connection.close();
  }
  project?.remove();
});

describe('the slates demo loop: serve, log, ingest, label, train, serve better', { timeout: 300_000 }, () => {
  it('applies the example and turns the loop twice', async () => {
    const applied = project.cli('apply');
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('table flywheel.stream_ranking_decisions (created if missing)');

    const commands: string[] = [];
    const started = performance.now();
    const onlineStore = await createOnlineStore(config.profile.onlineStore, { project: config.project });
    try {
      result = await runWorker({ taskQueue, activities: createActivities({ ...activityDepsFromConfig(config), onlineStore }) }, () =>
        runSlatesLoop({
          config, world, turns: 2, rounds: ROUNDS, roundGapMs: 1_000, exploreShare: 0.5, seed: 3, segmentAgeMs: 300,
          // Progress with the seconds since the start: where a slow run spent its time.
          say: (line) => console.log(`+${((performance.now() - started) / 1000).toFixed(1)} s ${line}`),
          flywheel: async (args) => {
            commands.push(args.join(' '));
            console.log(`+${((performance.now() - started) / 1000).toFixed(1)} s flywheel ${args.join(' ')}`);
            const run = await project.cliAsync(...args);
            if (run.code !== 0) throw new Error(`flywheel ${args.join(' ')} exited with ${run.code}: ${run.stderr}`);
            return run.stdout;
          },
        }),
      );
    } finally {
      await onlineStore.close();
    }
    // The turns' figures, as the demo prints them: the same seeds print the same (docs/decide.md, "Where the draws come from").
    console.log(`slates turns: ${JSON.stringify(result.turns.map((t) => ({ turn: t.turn, policy: t.policy, shown: t.shown, clicks: t.clicks, late: t.lateClicks, positives: t.positives, heldOut: t.heldOut, ctr: t.ctr, ips: t.trained.ips })))}`);
    expect(commands).toEqual([
      'loop run --only materialize',
      ...[0, 1].flatMap((turn) => [
        'loop run --only ingest,materialize', 'labels build clicked --include-open', `run training-set ${TRAINING_SET}`,
        `models register ranker ${join(config.stateDir, `ranker-after-turn-${turn}.json`)} --trained-on ${TRAINING_SET} --json`, `models promote ranker v${turn + 1}`,
      ]),
    ]);
  });

  it('logged every candidate of every slate, and the warehouse holds them', () => {
    expect(result.turns).toHaveLength(2);
    for (const turn of result.turns) {
      expect(turn.slates).toBe(USERS * ROUNDS);
      expect(turn.decisionRows).toBe(turn.slates * 20);
      expect(turn.shown).toBe(turn.slates * 5);
    }
  });

  it('labels every decision row, each in-time click 1 and each late click 0', () => {
    for (const turn of result.turns) {
      expect(turn.labeledRows).toBe(turn.decisionRows);
      expect(turn.clicks).toBeGreaterThan(0);
      expect(turn.positives).toBeGreaterThan(0);
      expect(turn.positives).toBe(turn.clicks - turn.lateClicks);
      expect(turn.lateLabeledPositive).toBe(0);
    }
    expect(result.turns.reduce((n, t) => n + t.lateClicks, 0)).toBeGreaterThan(0);
  });

  it('builds the training set from the labels and the decision log', async () => {
    const spec = (await loadDefinitions(config.definitionsDir, config.projectRoot)).trainingSets[TRAINING_SET]!;
    expect(spec.spine).toEqual({ labels: 'clicked', fromLog: true });
    const objects = createObjectStore(config.profile.objectStore);
    const manifest = await readDatasetManifest(objects, spec);
    expect(manifest?.rowCount).toBe(result.turns.reduce((n, t) => n + t.decisionRows, 0));
    const partition = await readPartitionManifest(objects, spec, 'all');
    expect(partition?.spine?.labels).toBe('clicked');
    expect(partition?.spine?.decisionLog?.stream).toBe('ranking_decisions');
    // One row per logged candidate, each with the values its decision logged (what the ranker was served).
    const files = partition!.files.map((f) => `'${fileURLToPath(f.uri).replaceAll("'", "''")}'`).join(', ');
    const [compared] = await query(`
      SELECT count(*)::INTEGER AS rows,
             count(*) FILTER (WHERE t.item_clicks_1h IS DISTINCT FROM d.item_clicks_1h OR t.user_clicks_1h IS DISTINCT FROM d.user_clicks_1h
                                 OR t.clicked_category IS DISTINCT FROM d.clicked_category OR t.rating IS DISTINCT FROM d.rating)::INTEGER AS differing,
             count(d.item_clicks_1h)::INTEGER AS with_item_clicks
      FROM read_parquet([${files}]) t JOIN flywheel.stream_ranking_decisions d ON d.decision_id = t.decision_id AND d.row_index = t.row_index`);
    expect(compared).toEqual({ rows: manifest!.rowCount, differing: 0, with_item_clicks: expect.any(Number) });
    // Turn 1 was served the popularity materialized after turn 0.
    expect(compared!.with_item_clicks).toBeGreaterThan(0);
  });

  it('trains a model per turn', () => {
    expect(result.models.map((m) => m.rows)).toEqual([result.turns[0]!.shown, result.turns[0]!.shown + result.turns[1]!.shown]);
    for (const model of result.models) {
      expect(model.inputs).toEqual([...MODEL_INPUTS]);
      expect(model.weights.some((w) => w !== 0)).toBe(true);
    }
    // The rating is the one input that is informative from turn 0 on.
    expect(result.turns[0]!.trained.weights.rating).toBeGreaterThan(0);
  });

  it('the first trained model beats random ranking on the held-out explored decisions', () => {
    // The held-out rows are the shown items of turn 1's explored slates, about half of its 120 slates.
    expect(result.turns[1]!.heldOut.rows).toBeGreaterThan(200);
    expect(result.turns[1]!.heldOut.auc).toBeGreaterThan(0.5);
  });

  it('turn 0 was decided by the ranker\'s cold start, turn 1 by ranker v1, and each decision is logged with its version, scores, ranks and propensities', async () => {
    expect(result.turns.map((t) => t.policy)).toEqual(['cold start', 'model-v1']);
    expect(result.turns.map((t) => t.trained.version)).toEqual(['v1', 'v2']);
    const [logged] = await query(`
      SELECT count(DISTINCT decision_id)::INTEGER AS decisions, count(*)::INTEGER AS rows,
             count(*) FILTER (WHERE model_version = 'v1' AND model_name = 'ranker')::INTEGER AS by_v1,
             count(*) FILTER (WHERE model_score BETWEEN 0 AND 1)::INTEGER AS scored,
             count(*) FILTER (WHERE shown_position IS NOT NULL AND propensity > 0 AND propensity <= 1)::INTEGER AS shown,
             count(DISTINCT model_rank)::INTEGER AS ranks,
             count(DISTINCT decision_id) FILTER (WHERE explored)::INTEGER AS explored
      FROM flywheel.stream_ranking_decisions WHERE model_version IS NOT NULL`);
    // Every slate of turn 1 (30 users x 4 rounds), every candidate scored and ranked 0..19, the 5 shown with a propensity.
    expect(logged).toEqual({ decisions: 120, rows: 2400, by_v1: 2400, scored: 2400, shown: 600, ranks: 20, explored: expect.any(Number) });
    // Exploration share 0.5: both branches ran (120 slates; all on one side has probability 2^-119).
    expect(logged!.explored).toBeGreaterThan(0);
    expect(logged!.explored).toBeLessThan(120);
    // Turn 0: every slate decided by the cold start, by the ranker with no version: no score, no rank, explored,
    // each shown item at exactly 1 / 20.
    const [cold] = await query(`
      SELECT count(DISTINCT decision_id)::INTEGER AS decisions, count(*)::INTEGER AS rows,
             count(*) FILTER (WHERE model_name = 'ranker' AND explored AND model_score IS NULL AND model_rank IS NULL)::INTEGER AS cold,
             count(*) FILTER (WHERE shown_position IS NOT NULL AND propensity = 1 / 20)::INTEGER AS shown
      FROM flywheel.stream_ranking_decisions WHERE model_version IS NULL`);
    expect(cold).toEqual({ decisions: 120, rows: result.turns[0]!.decisionRows, cold: 2400, shown: 600 });
    // A greedy slate's shown items have propensity 0.5 + 0.5 / 20; an explored one's 0.5 / 20 unless the item is greedy's
    // at its position; the cold start's 1 / 20.
    const propensities = await query(`SELECT DISTINCT propensity FROM flywheel.stream_ranking_decisions WHERE propensity IS NOT NULL ORDER BY propensity`);
    expect(propensities.map((r) => r.propensity)).toEqual([0.5 / 20, 1 / 20, 0.5 + 0.5 / 20]);
    // The inverse-propensity estimate of v1 (from turn 0's logs) is shown beside turn 1's measured CTR.
    expect(result.turns[0]!.ipsCtr).toBeNull();
    expect(result.turns[1]!.ipsCtr).toEqual(result.turns[0]!.trained.ips);
    expect(result.turns[0]!.trained.ips.decisions).toBe(120);
    expect(result.turns[1]!.trained.ips.decisions).toBe(120);
    expect(Number.isFinite(result.turns[1]!.ipsCtr!.ctr)).toBe(true);
  });

  it('finds the traced click in the online store, the warehouse, the labels and the training set', () => {
    const trace = result.trace!;
    expect(trace).toBeDefined();
    const { click } = trace;
    expect(click.late).toBe(false);
    expect(trace.acceptedAt).toBeGreaterThanOrEqual(trace.clickedAt);
    expect(trace.online?.values).toEqual({ clicked_category: click.category });
    expect(Date.parse(trace.online!.eventTime)).toBe(Date.parse(click.ts));
    expect(trace.warehouse?.batch).toBeTruthy();
    expect(Date.parse(trace.warehouse!.loadedAt)).toBeGreaterThan(trace.clickedAt - 1_000);
    expect(trace.label?.row).toMatchObject({ decision_id: click.decisionId, item_id: click.itemId, label: 1, outcome_count: 1 });
    expect(Date.parse(String(trace.label!.row.first_outcome_at))).toBe(Date.parse(click.ts));
    expect(trace.label!.partition).toMatch(/^hour=\d{4}-\d{2}-\d{2}T\d{2}$/);
    expect(trace.label!.version).toBeGreaterThanOrEqual(1);
    expect(trace.trainingSet?.row).toMatchObject({ decision_id: click.decisionId, item_id: click.itemId, label: 1, category: click.category });
  });
});
