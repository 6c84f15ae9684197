/**
 * The simulated product: a feed that shows each user a slate of items, as an app would call Flywheel.
 *
 * For each request it picks ~20 candidate items and asks the decision API for the slate
 * (`POST /v1/decide`): Flywheel reads the `ranking` features of the user (context) and the
 * candidates, scores them with the promoted version of the `ranker` model, explores at random with
 * the exploration share, and logs the decision (every candidate's features, score, rank and
 * propensity). The app shows the top few and logs an impression per shown item. Turn 0 has no model
 * yet (none is trained before the first logs): the same call is decided by the ranker's declared
 * cold start (`coldStart: 'uniform-random'`), a uniformly random slate logged with propensity 1 / 20.
 * Each request names its exploration draws (`explore.key`: seed, turn, round, user), so with the
 * server's exploration secret fixed a run repeats whatever the order the requests arrive in.
 *
 * Then the hidden truth (world.ts) decides which shown items the user clicks, and each click is logged through the log API after a random delay; a share
 * of them come after the label window (late: they must not count).
 *
 * A turn is `rounds` rounds of one request per user, `roundGapMs` apart, so a click of one round can
 * reach the online store (pushed) before the user's next request. Which of a user's clicks a slate
 * is served knowing is decided by their planned times, not by the machine's speed (user-timeline.ts).
 */
import type { FlywheelClient } from '../../client/index.ts';
import { uuidv7 } from '../../client/event-id.ts';
import { UserTimeline } from './user-timeline.ts';
import { clickProbability, createRandom, type Item, type User, type World } from './world.ts';

export const RANKING_SERVICE = 'ranking';

export interface ProductOptions {
  readonly candidates: number;
  readonly shown: number;
  readonly rounds: number;
  readonly roundGapMs: number;
  /** The share of slates ranked at random once there is a model (exploration; held-out evaluation). */
  readonly exploreShare: number;
  /** The share of clicks sent after the label window. */
  readonly lateShare: number;
  /** The label window, in seconds: in-time clicks come well within it, late ones a second or more after. */
  readonly windowSeconds: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  readonly seed: number;
}

/** One served slate. */
export interface Slate {
  readonly turn: number;
  readonly round: number;
  readonly userId: number;
  readonly decisionId: string;
  /** `explore` (random order: an explored slate, or the cold start's) or `model-v<n>`. */
  readonly policy: string;
  /** The model version that decided it; null for the cold start's (no version promoted yet). */
  readonly version: string | null;
  readonly servedAt: number;
  /** The shown items, top first. */
  readonly shownItems: readonly number[];
}

/** One click the product sent. */
export interface SentClick {
  readonly eventId: string;
  readonly decisionId: string;
  readonly userId: number;
  readonly itemId: number;
  readonly position: number;
  readonly category: string;
  /** Sent after the label window: the label must stay 0. */
  readonly late: boolean;
  /** The click's event time (when it happened), ISO-8601. */
  readonly ts: string;
}

export interface TurnTraffic {
  readonly slates: readonly Slate[];
  readonly clicks: readonly SentClick[];
  readonly impressions: number;
  readonly decisionRows: number;
}

/** What happens to the click chosen to be traced, seen from the app: when it happened and when the log API had it. */
export interface TracedClick {
  readonly click: SentClick;
  /** When `log()` was called (the click's event time). */
  readonly clickedAt: number;
  /** When the log API answered the batch holding it: durable in a segment. */
  readonly acceptedAt: number;
}

/** A request planned before it is served: every random draw of a slate is made up front, in order. */
interface PlannedSlate {
  readonly user: User;
  readonly round: number;
  readonly candidates: readonly Item[];
  /** Per shown position: the draw that decides a click, whether it is late, and its delay. */
  readonly clickDraws: readonly number[];
  readonly lateDraws: readonly number[];
  readonly delayDraws: readonly number[];
}

export interface PlayTurnArgs {
  readonly client: FlywheelClient;
  readonly world: World;
  readonly turn: number;
  /** Where to ask for slates: `POST /v1/decide` (the promoted ranker, or the ranker's cold start before any is promoted). */
  readonly decide: { readonly url: string; readonly token: string };
  /** Resolves once the online store holds the user's click of this event time (pushed by the log API). */
  readonly pushed: (userId: number, ts: string) => Promise<void>;
  readonly options: ProductOptions;
  /** Trace the first in-time click of this turn's first round that is its slate's only click. */
  readonly trace?: boolean;
  /** Called with the traced click once the log API accepted it (the caller follows it into the online store). */
  readonly onTraced?: (traced: TracedClick) => void;
}

/** Serves one turn of slates and sends their impressions and clicks; resolves once every click was sent (late ones included) and delivered. */
export async function playTurn(args: PlayTurnArgs): Promise<TurnTraffic> {
  const { client, world, turn, decide, options } = args;
  const random = createRandom(options.seed * 1_000 + turn);
  const plans: PlannedSlate[][] = [];
  for (let round = 0; round < options.rounds; round++) {
    plans.push(world.users.map((user) => ({
      user,
      round,
      candidates: random.sample(world.items, options.candidates),
      clickDraws: Array.from({ length: options.shown }, () => random.next()),
      lateDraws: Array.from({ length: options.shown }, () => random.next()),
      delayDraws: Array.from({ length: options.shown }, () => random.next()),
    })));
  }
  const slates: Slate[] = [];
  const clicks: SentClick[] = [];
  const pending: Promise<void>[] = [];
  let traceTaken = !args.trace;
  const timeline = new UserTimeline(options.rounds, options.roundGapMs);
  const started = performance.now();

  const serve = async (plan: PlannedSlate): Promise<void> => {
    const userId = plan.user.userId;
    const candidates = plan.candidates.map((item) => ({ item_id: item.itemId }));
    await timeline.beforeRequest(userId, plan.round);
    const key = `seed-${options.seed}/turn-${turn}/round-${plan.round}/user-${userId}`;
    const decided = await decideSlate(decide, { model: RANKER_MODEL, context: { user_id: userId }, candidates, topK: options.shown, explore: { epsilon: options.exploreShare, key } });
    const response = { decisionId: decided.decision_id, order: decided.items.map((i) => i.candidate), policy: decided.explored ? 'explore' : `model-${decided.version}` };
    const servedAt = Date.now();
    const decidedAt = uuidv7Millis(response.decisionId);
    const shownItems = response.order.map((index) => plan.candidates[index]!);
    const slatePolicy = response.policy;
    slates.push({ turn, round: plan.round, userId, decisionId: response.decisionId, policy: slatePolicy, version: decided.version, servedAt, shownItems: shownItems.map((i) => i.itemId) });
    const ts = new Date(servedAt).toISOString();
    shownItems.forEach((item, position) => {
      client.log('impressions', { user_id: plan.user.userId, item_id: item.itemId, ts, decision_id: response.decisionId, position, policy: slatePolicy });
    });

    const clicked = shownItems.flatMap((item, position) => (plan.clickDraws[position]! < clickProbability(plan.user, item, position) ? [{ item, position }] : []));
    const traceThis = !traceTaken && plan.round === 0 && clicked.length === 1 && plan.lateDraws[clicked[0]!.position]! >= options.lateShare;
    if (traceThis) traceTaken = true;
    for (const { item, position } of clicked) {
      const late = plan.lateDraws[position]! < options.lateShare;
      const draw = plan.delayDraws[position]!;
      // In time: well inside the window. Late: 0.5 to 2 s after it closed (measured from the decision).
      const delayMs = late ? (options.windowSeconds + 0.5 + 1.5 * draw) * 1000 : (0.2 + Math.min(3.3, options.windowSeconds * 0.6) * draw) * 1000;
      const timed = timeline.addClick(userId, timeline.roundAt(plan.round) + delayMs, plan.round * options.shown + position, item.category);
      pending.push(sleep(Math.max(0, servedAt + delayMs - Date.now())).then(async () => {
        // Sent after the user's requests and clicks planned before it. Its event time is when it was planned to
        // happen, its delay after the server decided (the millisecond in the decision id, the label window's start),
        // not when a loaded machine got to answer or send it, so its label does not depend on the machine; and
        // strictly after the user's earlier clicks of another category, so the latest click's category is the planned one.
        const after = await timeline.beforeClick(userId, timed);
        const clickedAt = Math.max(decidedAt + delayMs, after + 1);
        while (Date.now() <= clickedAt) await sleep(1);
        const click: SentClick = {
          eventId: uuidv7(clickedAt), decisionId: response.decisionId, userId: plan.user.userId, itemId: item.itemId,
          position, category: item.category, late, ts: new Date(clickedAt).toISOString(),
        };
        clicks.push(click);
        client.log('clicks', {
          _event_id: click.eventId, user_id: click.userId, item_id: click.itemId, ts: click.ts,
          decision_id: click.decisionId, position, clicked_category: click.category,
        });
        timed.sent.resolve(clickedAt);
        await client.flush();
        if (traceThis) args.onTraced?.({ click, clickedAt, acceptedAt: Date.now() });
        await args.pushed(userId, click.ts);
        timed.pushed.resolve();
      }).catch((error: unknown) => {
        timed.sent.reject(error);
        timed.pushed.reject(error);
        throw error;
      }));
    }
    timeline.answered(userId, plan.round);
  };

  for (let round = 0; round < options.rounds; round++) {
    const roundStart = started + round * options.roundGapMs;
    await sleep(Math.max(0, roundStart - performance.now()));
    await mapLimit(plans[round]!, options.concurrency, serve);
  }
  await Promise.all(pending);
  await client.flush();
  const stats = client.stats();
  if (stats.failed > 0 || stats.dropped > 0) throw new Error(`the log API did not take every event: ${stats.failed} failed, ${stats.dropped} dropped`);
  return {
    slates: slates.sort((a, b) => a.round - b.round || a.userId - b.userId),
    clicks: clicks.sort((a, b) => a.ts.localeCompare(b.ts) || a.userId - b.userId || a.itemId - b.itemId),
    impressions: slates.reduce((n, s) => n + s.shownItems.length, 0),
    decisionRows: slates.length * options.candidates,
  };
}

export const RANKER_MODEL = 'ranker';

/** The answer of `POST /v1/decide` (docs/decide.md), as far as the app reads it. */
interface DecidedSlate {
  readonly decision_id: string;
  /** null: decided by the model's cold start (no version promoted yet). */
  readonly version: string | null;
  readonly explored: boolean;
  readonly items: readonly { readonly candidate: number; readonly score: number | null; readonly propensity: number }[];
}

/** Asks the decision API for a slate; any answer but 200 fails the turn (with the API's error). */
async function decideSlate(decide: { readonly url: string; readonly token: string }, body: unknown): Promise<DecidedSlate> {
  const response = await fetch(`${decide.url}/v1/decide`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${decide.token}` }, body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST /v1/decide answered ${response.status}: ${text}`);
  return JSON.parse(text) as DecidedSlate;
}

/** The millisecond a UUIDv7 was made at (its first 48 bits): the server's clock when it decided. */
function uuidv7Millis(id: string): number {
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
