import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OnlinePushStats } from './push/online-push.ts';
import type { StreamLogStats } from '../connectors/log-store/segment-log/index.ts';

/**
 * The server's Prometheus metrics (`GET /metrics`, docs/serving.md "Metrics"), in a registry of its
 * own (so several servers in one process never share counters):
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `flywheel_http_requests_total` | counter | `route`, `method`, `status` |
 * | `flywheel_http_request_duration_seconds` | histogram | `route`, `method`, `status` |
 * | `flywheel_online_store_read_duration_seconds` | histogram | `outcome` (`ok`, `unavailable`, `error`) |
 * | `flywheel_online_store_keys_read_total` | counter | |
 * | `flywheel_online_store_available` | gauge | 1, or 0 while serving answers 503 |
 * | `flywheel_served_rows_total` | counter | `service` (`(features)` for feature lists) |
 * | `flywheel_log_events_accepted_total` | counter | `stream`: events made durable (duplicates left out) |
 * | `flywheel_push_records_total` | counter | `outcome` (`written`, `dropped`, `failed`) |
 * | `flywheel_decision_log_dropped_total` | counter | decisions the decision log could not take |
 * | `flywheel_decision_log` | gauge | `stat`: every counter of the decision log's stats |
 * | `flywheel_ingest_quarantined_events` | gauge | `stream`: events the warehouse refused, in the ingest quarantine (as ingestion last recorded) |
 * | `flywheel_log_segments_pending_upload` | gauge | `stream`: sealed segments on this node's disk not yet in the object store (rising: the store refuses uploads) |
 *
 * plus prom-client's default process metrics (CPU, memory, event loop lag, GC).
 */

/** What the decision log reports; `dropped` is required, other counters are shown as they are. */
export interface DecisionLogCounters {
  readonly dropped: number;
  readonly [counter: string]: number;
}

export interface MetricSources {
  readonly logStats?: () => Readonly<Record<string, StreamLogStats>>;
  readonly pushStats?: () => OnlinePushStats;
  readonly decisionLogStats?: () => DecisionLogCounters;
  /** Whether the online store is up (the serving breaker is closed); absent when the server does not serve features. */
  readonly storeAvailable?: () => boolean;
  /** Events of each stream in the warehouse's ingest quarantine, as ingestion last recorded them in the object store (connectors/log-store/quarantine-counts.ts). */
  readonly quarantineCounts?: () => Promise<Readonly<Record<string, number>>>;
  /** Sealed segments per stream waiting for (or in) their upload to the object store (connectors/log-store). */
  readonly pendingUploads?: () => Readonly<Record<string, number>>;
}

export type StoreReadOutcome = 'ok' | 'unavailable' | 'error';

const REQUEST_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RequestSeries {
  readonly count: { inc(): void };
  readonly duration: { observe(value: number): void };
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'route' | 'method' | 'status'>;
  readonly #requestDuration: Histogram<'route' | 'method' | 'status'>;
  readonly #storeRead: Histogram<'outcome'>;
  readonly #keysRead: Counter;
  readonly #servedRows: Counter<'service'>;
  /** Label children by `route method status`: a request's observation is two map lookups. */
  readonly #series = new Map<string, RequestSeries>();
  /** Label children of the store read histogram (by outcome) and of served rows (by service), for the same reason. */
  readonly #storeReadSeries = new Map<StoreReadOutcome, { observe(value: number): void }>();
  readonly #servedRowsSeries = new Map<string, { inc(value: number): void }>();

  /** `processMetrics: false`: without prom-client's process metrics (a throwaway instance, such as the serving warm-up's, adds no GC observer). */
  constructor(sources: MetricSources = {}, options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({ name: 'flywheel_http_requests_total', help: 'HTTP requests answered, by route, method and status', labelNames: ['route', 'method', 'status'], registers });
    this.#requestDuration = new Histogram({
      name: 'flywheel_http_request_duration_seconds', help: 'Time from a request to its answer, by route, method and status',
      labelNames: ['route', 'method', 'status'], buckets: REQUEST_BUCKETS, registers,
    });
    this.#storeRead = new Histogram({
      name: 'flywheel_online_store_read_duration_seconds', help: "One round trip of serving's reads to the online store, by outcome",
      labelNames: ['outcome'], buckets: STORE_BUCKETS, registers,
    });
    this.#keysRead = new Counter({ name: 'flywheel_online_store_keys_read_total', help: 'Keys read from the online store by serving (distinct keys per request)', registers });
    this.#servedRows = new Counter({ name: 'flywheel_served_rows_total', help: 'Entity rows served, by feature service', labelNames: ['service'], registers });

    const { logStats, pushStats, decisionLogStats, storeAvailable, quarantineCounts, pendingUploads } = sources;
    if (pendingUploads) {
      new Gauge({
        name: 'flywheel_log_segments_pending_upload', help: "Sealed segments on this node's disk not yet in the object store, by stream", labelNames: ['stream'], registers,
        collect() {
          this.reset();
          for (const [stream, segments] of Object.entries(pendingUploads())) this.set({ stream }, segments);
        },
      });
    }
    if (storeAvailable) {
      new Gauge({
        name: 'flywheel_online_store_available', help: 'Whether serving reads the online store (1) or answers 503 until it answers again (0)', registers,
        collect() {
          this.set(storeAvailable() ? 1 : 0);
        },
      });
    }
    if (logStats) {
      new Counter({
        name: 'flywheel_log_events_accepted_total', help: 'Events of the log API made durable in the segment log, by stream (duplicates not counted)', labelNames: ['stream'], registers,
        collect() {
          this.reset();
          for (const [stream, stats] of Object.entries(logStats())) this.inc({ stream }, stats.records);
        },
      });
    }
    if (quarantineCounts) {
      new Gauge({
        name: 'flywheel_ingest_quarantined_events', help: 'Events the warehouse refused, waiting in the ingest quarantine, by stream (as ingestion last recorded them)', labelNames: ['stream'], registers,
        async collect() {
          const counts = await quarantineCounts();
          this.reset();
          for (const [stream, events] of Object.entries(counts)) this.set({ stream }, events);
        },
      });
    }
    if (pushStats) {
      new Counter({
        name: 'flywheel_push_records_total', help: 'Pushed-feature records, by outcome (written, dropped, failed)', labelNames: ['outcome'], registers,
        collect() {
          this.reset();
          const stats = pushStats();
          for (const outcome of ['written', 'dropped', 'failed'] as const) this.inc({ outcome }, stats[outcome]);
        },
      });
    }
    if (decisionLogStats) {
      new Counter({
        name: 'flywheel_decision_log_dropped_total', help: 'Served decisions the decision log dropped (its queue was full, or it was failing)', registers,
        collect() {
          this.reset();
          this.inc(decisionLogStats().dropped);
        },
      });
      new Gauge({
        name: 'flywheel_decision_log', help: "The decision log's counters, by stat", labelNames: ['stat'], registers,
        collect() {
          this.reset();
          for (const [stat, value] of Object.entries(decisionLogStats())) if (typeof value === 'number' && Number.isFinite(value)) this.set({ stat }, value);
        },
      });
    }
  }

  /** One answered request. `route` is the route's pattern (`/v1/streams/:stream/events`), never the raw path. */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    const id = `${route} ${method} ${status}`;
    const series = labelChild(this.#series, id, () => {
      const labels = { route, method, status: String(status) };
      return { count: this.#requests.labels(labels), duration: this.#requestDuration.labels(labels) };
    });
    series.count.inc();
    series.duration.observe(seconds);
  }

  /** One readEncoded round trip of serving, and how many keys it read. */
  observeStoreRead(seconds: number, outcome: StoreReadOutcome, keys: number): void {
    labelChild(this.#storeReadSeries, outcome, () => this.#storeRead.labels(outcome)).observe(seconds);
    if (outcome === 'ok') this.#keysRead.inc(keys);
  }

  countServedRows(service: string, rows: number): void {
    labelChild(this.#servedRowsSeries, service, () => this.#servedRows.labels(service)).inc(rows);
  }

  /** The exposition text, and its content type. */
  async exposition(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}

/** The label child of `key` in `cache`, made once by `make` (prom-client's own lookup hashes the label values each time). */
function labelChild<K, V>(cache: Map<K, V>, key: K, make: () => V): V {
  let child = cache.get(key);
  if (child === undefined) cache.set(key, (child = make()));
  return child;
}
