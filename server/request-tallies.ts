import type { Counter, Histogram } from 'prom-client';

/**
 * The HTTP request metrics (`flywheel_http_requests_total`, `flywheel_http_request_duration_seconds`)
 * counted in plain numbers and handed to prom-client only when `/metrics` is scraped (the metrics'
 * `collect`). prom-client's own label children hash and check their labels on every observation
 * and its counter builds an array of all its series on every `inc`: 1.3 µs per request
 * (`observeRequest` in a loop), against about 0.05 µs here; the log API answers tens of thousands of
 * requests a second. The exposition is the same text: the same series, in the order first seen,
 * with prom-client's bucket bounds (a duration falls in the first bucket whose bound it does not
 * exceed; beyond the last, only in `+Inf`, that is the count).
 */
export interface RequestTally {
  readonly labels: { readonly route: string; readonly method: string; readonly status: string };
  count: number;
  sum: number;
  /** Observations per bucket (not cumulative), in the order of the bounds. */
  readonly buckets: Float64Array;
}

export class RequestTallies {
  readonly #bounds: readonly number[];
  /** By `route method status`, in the order first seen. */
  readonly #tallies = new Map<string, RequestTally>();

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    const id = `${route} ${method} ${status}`;
    let tally = this.#tallies.get(id);
    if (tally === undefined) {
      tally = { labels: { route, method, status: String(status) }, count: 0, sum: 0, buckets: new Float64Array(this.#bounds.length) };
      this.#tallies.set(id, tally);
    }
    tally.count += 1;
    tally.sum += seconds;
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= bounds[i]!) {
        tally.buckets[i]! += 1;
        break;
      }
    }
  }

  /** Sets the counter's series to the counts so far (its `collect`). */
  exportCounts(counter: Counter<'route' | 'method' | 'status'>): void {
    counter.reset();
    for (const tally of this.#tallies.values()) counter.inc(tally.labels, tally.count);
  }

  /**
   * Sets the histogram's series to the tallies so far (its `collect`). prom-client has no public way
   * to set a histogram's buckets, so its series are written as it keeps them (`hashMap`: labels,
   * per-bound counts not cumulative, sum, count; prom-client is pinned at 15.1.3, and
   * test/request-tallies.test.ts compares the text with prom-client's own observations).
   */
  exportDurations(histogram: Histogram<'route' | 'method' | 'status'>): void {
    const series: Record<string, { labels: Record<string, string>; bucketValues: Record<number, number>; sum: number; count: number }> = {};
    for (const [id, tally] of this.#tallies) {
      const bucketValues: Record<number, number> = {};
      for (let i = 0; i < this.#bounds.length; i++) bucketValues[this.#bounds[i]!] = tally.buckets[i]!;
      series[id] = { labels: { ...tally.labels }, bucketValues, sum: tally.sum, count: tally.count };
    }
    (histogram as unknown as { hashMap: typeof series }).hashMap = series;
  }
}
