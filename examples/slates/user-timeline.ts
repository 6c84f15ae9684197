/**
 * Keeps each user's slate requests and clicks in the order of their planned times, whatever the real
 * timing, so a run of the demo repeats exactly for a seed (examples/slates/product.ts).
 *
 * A user's only feature that changes within a turn is the pushed `user_last_click`: a click reaches
 * the online store milliseconds after the log API takes it. Whether a slate is served knowing a click
 * would otherwise be a race between the click's timer and the request (on a loaded machine, either
 * can win). Here every request and click has a planned time, milliseconds from the turn's start (a
 * request: its round's start; a click: its round's start plus its drawn delay), and per user:
 *
 * - a request goes out only once every click planned before it is in the online store;
 * - a click goes out only once every request planned at or before it is answered, and after every
 *   click of another category planned before it, with a later event time (so the latest click's
 *   category, what the ranker reads, is the planned one; a click of the same category keeps its own
 *   time, which leaves its label alone).
 *
 * Only the same user's events wait on each other, so users stay concurrent. Waiting never runs in a
 * circle: each event waits only for events planned strictly before it (ties: the request first, then
 * clicks by their order).
 */

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A failure is the turn's failure (playTurn rejects); waiters see it, nobody else must.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** A click in a user's timeline. */
export interface TimedClick {
  /** Planned time, milliseconds from the turn's start. */
  readonly at: number;
  /** Tie-break among clicks planned at the same time: their round and position. */
  readonly order: number;
  /** The clicked item's category: the pushed feature's value. */
  readonly category: string;
  /** Resolves with the click's event time (epoch ms) once it is logged. */
  readonly sent: Deferred<number>;
  /** Resolves once the online store holds it. */
  readonly pushed: Deferred<void>;
}

export class UserTimeline {
  readonly #rounds: number;
  readonly #roundGapMs: number;
  readonly #answered = new Map<string, Deferred<void>>();
  readonly #clicks = new Map<number, TimedClick[]>();

  constructor(rounds: number, roundGapMs: number) {
    this.#rounds = rounds;
    this.#roundGapMs = roundGapMs;
  }

  /** The planned time of a round's requests, milliseconds from the turn's start. */
  roundAt(round: number): number {
    return round * this.#roundGapMs;
  }

  /** Resolves once every click of the user planned before the round's request is in the online store. */
  async beforeRequest(userId: number, round: number): Promise<void> {
    const at = this.roundAt(round);
    await Promise.all((this.#clicks.get(userId) ?? []).filter((click) => click.at < at).map((click) => click.pushed.promise));
  }

  /** The user's request of `round` is answered, and its clicks added: the clicks planned after it may go. */
  answered(userId: number, round: number): void {
    this.#answer(userId, round).resolve();
  }

  /** Adds a click of the user, planned `at` ms from the turn's start. */
  addClick(userId: number, at: number, order: number, category: string): TimedClick {
    const click: TimedClick = { at, order, category, sent: deferred<number>(), pushed: deferred<void>() };
    this.#clicks.set(userId, [...(this.#clicks.get(userId) ?? []), click]);
    return click;
  }

  /**
   * Resolves, once the click may be logged, with the event time (epoch ms) of the user's latest click
   * of another category planned before it (0 when none): the click's own event time must come after it.
   */
  async beforeClick(userId: number, click: TimedClick): Promise<number> {
    const rounds = Array.from({ length: this.#rounds }, (_, round) => round).filter((round) => this.roundAt(round) <= click.at);
    // Every request planned before the click is answered, so every click planned before it is added by now.
    await Promise.all(rounds.map((round) => this.#answer(userId, round).promise));
    const earlier = (this.#clicks.get(userId) ?? []).filter((other) => other.category !== click.category && (other.at < click.at || (other.at === click.at && other.order < click.order)));
    const times = await Promise.all(earlier.map((other) => other.sent.promise));
    return Math.max(0, ...times);
  }

  #answer(userId: number, round: number): Deferred<void> {
    const key = `${userId}/${round}`;
    let answer = this.#answered.get(key);
    if (!answer) this.#answered.set(key, (answer = deferred<void>()));
    return answer;
  }
}
