/**
 * The simulated product's hidden truth: who likes what, and how likely a click is. Nothing here is
 * visible to Flywheel or to the ranker, which only see what the app logs (impressions, clicks) and
 * the catalog table (category, rating, price).
 *
 * - Each **item** has a category and a hidden quality; its public `rating` is a noisy view of the
 *   quality, and its `price` says nothing about clicks.
 * - Each **user** loves one category, likes a second one and is cold on the others.
 * - A shown item is **examined** with a probability that falls with its position, and an examined
 *   item is clicked with `sigmoid(base + taste(user, category) + quality weight × quality)`.
 *
 * So a ranker that learns the user's taste (from the categories they clicked) and the item's
 * quality (from its rating and its clicks) puts items that get clicked at the top. Every draw comes
 * from one seeded generator, so the same seed gives the same world and the same choices.
 */
import { CATEGORIES } from './definitions/user-features.ts';

export type Category = (typeof CATEGORIES)[number];

export interface Item {
  readonly itemId: number;
  readonly category: Category;
  /** Hidden: what makes the item good, standard normal. */
  readonly quality: number;
  /** Public: 1 to 5, one decimal; 3 + 0.6 × quality + noise. */
  readonly rating: number;
  readonly price: number;
}

export interface User {
  readonly userId: number;
  /** Hidden: per category, how much the user likes it (added to the click log-odds). */
  readonly taste: Readonly<Record<Category, number>>;
  /** The category the user loves (for the printout). */
  readonly favorite: Category;
}

export interface World {
  readonly items: readonly Item[];
  readonly users: readonly User[];
}

/** How the click probability is made; the defaults give about 8% CTR to a random slate and over 25% to a good one. */
export const CLICK_MODEL = {
  base: -2.0,
  loved: 1.7,
  liked: 0.5,
  cold: -1.2,
  quality: 0.9,
  /** Examination probability at position p (from 0): 1 / (1 + decay × p). */
  positionDecay: 0.25,
} as const;

/** A small, fast, seedable generator (mulberry32): the same seed gives the same sequence. */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    between: (lo, hi) => lo + next() * (hi - lo),
    normal: () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    sample: (xs, k) => {
      const copy = [...xs];
      for (let i = 0; i < k; i++) {
        const j = i + Math.floor(next() * (copy.length - i));
        [copy[i], copy[j]] = [copy[j]!, copy[i]!];
      }
      return copy.slice(0, k);
    },
  };
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** A whole number in [0, n). */
  int(n: number): number;
  between(lo: number, hi: number): number;
  /** Standard normal. */
  normal(): number;
  pick<T>(xs: readonly T[]): T;
  /** k distinct elements, in random order. */
  sample<T>(xs: readonly T[], k: number): T[];
}

export function createWorld(options: { users: number; items: number; seed: number }): World {
  const random = createRandom(options.seed);
  const items: Item[] = [];
  for (let i = 0; i < options.items; i++) {
    const quality = random.normal();
    const rating = Math.round(Math.min(5, Math.max(1, 3 + 0.6 * quality + 0.5 * random.normal())) * 10) / 10;
    const price = Math.round(Math.exp(2.5 + 0.8 * random.normal()) * 100) / 100;
    items.push({ itemId: 1000 + i, category: CATEGORIES[i % CATEGORIES.length]!, quality, rating, price });
  }
  const users: User[] = [];
  for (let u = 0; u < options.users; u++) {
    const [favorite, second] = random.sample(CATEGORIES, 2) as [Category, Category];
    const taste = Object.fromEntries(CATEGORIES.map((c) => [c, c === favorite ? CLICK_MODEL.loved : c === second ? CLICK_MODEL.liked : CLICK_MODEL.cold])) as Record<Category, number>;
    users.push({ userId: 1 + u, taste, favorite });
  }
  return { items, users };
}

/** The probability that `user` clicks `item` shown at `position` (from 0). */
export function clickProbability(user: User, item: Item, position: number): number {
  const examined = 1 / (1 + CLICK_MODEL.positionDecay * position);
  const logit = CLICK_MODEL.base + user.taste[item.category] + CLICK_MODEL.quality * item.quality;
  return examined / (1 + Math.exp(-logit));
}
