/**
 * The ranker: logistic regression over a few numbers derived from the `ranking` features, trained by
 * full-batch gradient descent on standardized inputs with a little L2. Small on purpose: the point is
 * the loop that feeds it, not the model.
 *
 * `modelInputs` turns one row of features into the model's numbers. It runs on a served row (online,
 * in `POST /v1/decide`, through `scoreRanker`) and on a training-set row (offline, to learn), so both
 * sides compute the inputs with the same code from the same feature names.
 */
import { CATEGORIES } from './definitions/user-features.ts';

/** A row of `ranking` features by name, as the serving API answers them and the training set stores them. */
export type FeatureRecord = Readonly<Record<string, unknown>>;

export const MODEL_INPUTS = [
  'rating',
  'log_price',
  'item_ctr',
  'log_item_clicks',
  'user_category_share',
  'log_user_category_clicks',
  'last_click_same_category',
  'log_user_clicks',
] as const;

const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** The model's inputs for one (user, item) row; missing values (no clicks yet) count as 0. */
export function modelInputs(row: FeatureRecord): number[] {
  const category = typeof row.category === 'string' ? row.category : undefined;
  const userClicks = num(row.user_clicks_1h);
  const categoryClicks = category && (CATEGORIES as readonly string[]).includes(category) ? num(row[`${category}_clicks_1h`]) : 0;
  const itemClicks = num(row.item_clicks_1h);
  return [
    num(row.rating),
    Math.log1p(num(row.price)),
    (itemClicks + 0.1) / (num(row.item_impressions_1h) + 1),
    Math.log1p(itemClicks),
    (categoryClicks + 0.2) / (userClicks + 1),
    Math.log1p(categoryClicks),
    category !== undefined && row.clicked_category === category ? 1 : 0,
    Math.log1p(userClicks),
  ];
}

export interface LogisticModel {
  readonly inputs: readonly string[];
  /** Per input: the mean and standard deviation of the training rows (std 0: the input is left out). */
  readonly means: readonly number[];
  readonly stds: readonly number[];
  readonly weights: readonly number[];
  readonly bias: number;
  /** Training rows and positives it was fit on. */
  readonly rows: number;
  readonly positives: number;
}

export interface TrainOptions {
  readonly iterations?: number;
  readonly learningRate?: number;
  readonly l2?: number;
}

/** Fits a logistic regression of `labels` (0/1) on `inputs` (rows of MODEL_INPUTS). */
export function trainLogistic(inputs: readonly (readonly number[])[], labels: readonly number[], options: TrainOptions = {}): LogisticModel {
  if (inputs.length === 0 || inputs.length !== labels.length) throw new Error(`cannot train on ${inputs.length} rows and ${labels.length} labels`);
  const { iterations = 400, learningRate = 0.5, l2 = 1e-3 } = options;
  const d = inputs[0]!.length;
  const n = inputs.length;
  const means = Array.from({ length: d }, (_, j) => inputs.reduce((s, x) => s + x[j]!, 0) / n);
  const stds = Array.from({ length: d }, (_, j) => {
    const variance = inputs.reduce((s, x) => s + (x[j]! - means[j]!) ** 2, 0) / n;
    return variance > 1e-12 ? Math.sqrt(variance) : 0;
  });
  const z = inputs.map((x) => x.map((v, j) => (stds[j] === 0 ? 0 : (v - means[j]!) / stds[j]!)));
  const positives = labels.reduce((s, y) => s + y, 0);
  const weights = new Array<number>(d).fill(0);
  // Start at the base rate, so the first steps learn the inputs, not the average.
  let bias = Math.log((positives + 0.5) / (n - positives + 0.5));
  for (let it = 0; it < iterations; it++) {
    const grad = new Array<number>(d).fill(0);
    let gradBias = 0;
    for (let i = 0; i < n; i++) {
      const x = z[i]!;
      let logit = bias;
      for (let j = 0; j < d; j++) logit += weights[j]! * x[j]!;
      const error = sigmoid(logit) - labels[i]!;
      gradBias += error;
      for (let j = 0; j < d; j++) grad[j]! += error * x[j]!;
    }
    bias -= (learningRate * gradBias) / n;
    for (let j = 0; j < d; j++) weights[j]! -= learningRate * (grad[j]! / n + l2 * weights[j]!);
  }
  return { inputs: [...MODEL_INPUTS], means, stds, weights, bias, rows: n, positives };
}

/**
 * The ranker as a registered model version scores (the `ranker` model of definitions/models.ts,
 * `artifact: { format: 'typescript', module: '../model.ts', export: 'scoreRanker' }`): its version's
 * artifact is a LogisticModel as JSON (what trainLogistic returns), and `POST /v1/decide` hands it
 * the served features of each candidate by name, the same rows `modelInputs` reads offline.
 */
export function scoreRanker(params: LogisticModel, rows: readonly FeatureRecord[]): number[] {
  return rows.map((row) => predict(params, modelInputs(row)));
}

/** The model's click probability for one row of inputs. */
export function predict(model: LogisticModel, x: readonly number[]): number {
  let logit = model.bias;
  for (let j = 0; j < x.length; j++) if (model.stds[j] !== 0) logit += (model.weights[j]! * (x[j]! - model.means[j]!)) / model.stds[j]!;
  return sigmoid(logit);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Area under the ROC curve: the chance a random positive scores above a random negative (ties count half). NaN without both classes. */
export function auc(scores: readonly number[], labels: readonly number[]): number {
  const order = scores.map((s, i) => [s, labels[i]!] as const).sort((a, b) => a[0] - b[0]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && order[j]![0] === order[i]![0]) j++;
    const averageRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (order[k]![1] === 1) {
      positives++;
      rankSum += averageRank;
    }
    i = j;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean negative log-likelihood of the labels under the predicted probabilities. */
export function logLoss(probabilities: readonly number[], labels: readonly number[]): number {
  const eps = 1e-9;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probabilities[i]!));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / labels.length;
}
