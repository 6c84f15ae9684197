/**
 * Ranking, top-k and epsilon-greedy exploration of `POST /v1/decide` (docs/decide.md, "Ranking and
 * exploration"). Pure: the random draws come from the caller.
 *
 * The greedy slate is the candidates by score, highest first (ties: the earlier candidate first),
 * cut to `topK`. With probability `epsilon` the slate is instead the first `topK` of a uniformly
 * random permutation of the eligible candidates. So the chance that candidate `c` is shown at
 * position `p`, over the policy's own randomness, is exactly
 *
 *     propensity(c, p) = (1 - epsilon) * [greedy[p] = c] + epsilon / n        (n: eligible candidates)
 *
 * (each position of a uniform permutation holds each candidate with probability 1/n). That is what
 * the decision log records for each shown candidate, whichever branch was taken, so an estimator
 * can weigh a logged click by 1 / propensity (inverse propensity scoring).
 *
 * @example
 * rankCandidates(Float64Array.of(0.1, 0.9, 0.5), [0, 1, 2], { topK: 2, epsilon: 0.1 }, Math.random)
 * // greedy, most of the time: { shown: [1, 2], propensities: [0.9333…, 0.9333…], explored: false }
 */

export interface RankOptions {
  /** Candidates shown at most (the slate's length). */
  readonly topK: number;
  /** The chance, in [0, 1], that the slate is a uniformly random one. */
  readonly epsilon: number;
}

export interface RankedSlate {
  /** Candidate indexes shown, top first. */
  readonly shown: readonly number[];
  /** Per shown position: the chance the policy shows that candidate there. */
  readonly propensities: readonly number[];
  /** Whether this slate came from the random branch. */
  readonly explored: boolean;
  /** The greedy order of every eligible candidate (index into `eligible`'s values), top first: its rank. */
  readonly greedy: readonly number[];
}

/**
 * Ranks the `eligible` candidates (indexes into `scores`) and picks the slate. `random` returns
 * draws in [0, 1): one decides explore or not; when exploring, `topK` more pick the slate.
 */
export function rankCandidates(scores: Float64Array, eligible: readonly number[], options: RankOptions, random: () => number): RankedSlate {
  const greedy = [...eligible].sort((a, b) => scores[b]! - scores[a]! || a - b);
  const n = greedy.length;
  const k = Math.min(options.topK, n);
  const epsilon = options.epsilon;
  const explored = epsilon > 0 && n > 0 && random() < epsilon;
  let shown: number[];
  if (explored) {
    shown = firstOfShuffle(eligible, k, random);
  } else {
    shown = greedy.slice(0, k);
  }
  const propensities = shown.map((candidate, position) => propensityOf(candidate, position, greedy, epsilon));
  return { shown, propensities, explored, greedy };
}

/** The chance the epsilon-greedy policy shows `candidate` at `position`, given its greedy order. */
export function propensityOf(candidate: number, position: number, greedy: readonly number[], epsilon: number): number {
  return (1 - epsilon) * (greedy[position] === candidate ? 1 : 0) + epsilon / greedy.length;
}

/**
 * The slate of a model's cold start (`coldStart: 'uniform-random'`, docs/decide.md): no version is
 * promoted, so nothing scores; the slate is the first `topK` of a uniformly random permutation of
 * the eligible candidates (the same partial shuffle as exploration, taking `topK` draws), each shown
 * candidate with propensity exactly 1 / n, and no greedy order.
 */
export function uniformSlate(eligible: readonly number[], topK: number, random: () => number): RankedSlate {
  const k = Math.min(topK, eligible.length);
  return { shown: firstOfShuffle(eligible, k, random), propensities: new Array<number>(k).fill(1 / eligible.length), explored: true, greedy: [] };
}

/** A partial Fisher-Yates shuffle: the first k of a uniform permutation of `eligible`, one draw per position. */
function firstOfShuffle(eligible: readonly number[], k: number, random: () => number): number[] {
  const n = eligible.length;
  const pool = [...eligible];
  for (let i = 0; i < k; i++) {
    const j = i + Math.min(n - i - 1, Math.floor(random() * (n - i)));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k);
}
