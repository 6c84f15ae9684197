import {
  CONTEXT_COLUMN,
  DECISION_ID_COLUMN,
  decisionEventId,
  decisionLayoutsOf,
  ROW_INDEX_COLUMN,
  SCORING_COLUMNS,
  SERVED_AT_COLUMN,
  type DecisionStreamLayout,
  type ScoringModels,
} from '../../core/definitions/decision-stream.ts';
import type { ProjectSpec } from '../../core/definitions/specs.ts';
import { InvalidEventsError, type StreamIngest } from '../stream-ingest.ts';
import type { DecisionScoring, DecisionSink, ServedDecision, ServedRow } from './served-decision.ts';

/**
 * The decision log (docs/serving.md, "Logging what was served"): the serving route offers each
 * response of a feature service with `logging`, and a sample of them is appended, one event per
 * entity row, to the service's decision stream (core/definitions/decision-stream.ts) through the
 * same `StreamIngest` as `POST /v1/streams/<stream>/events`: the same validation, the same fsync'd
 * segments, the same exactly-once ingestion into `flywheel.stream_<stream>`.
 *
 * Logging never slows or fails a request. `offer` neither throws nor awaits: it samples, then queues
 * the decision (bounded) for a background writer. What cannot be queued or written is dropped and
 * counted (`stats()`, shown by GET /healthz), never retried.
 *
 * @example
 * const decisions = createDecisionLog({ streams, project });   // streams: the log server's StreamIngest per stream
 * if (decisions.logs(decision.service)) decisions.offer(decision);   // in the route, after the answer is built
 * await decisions.close();                                            // before the segment log closes
 */

export interface DecisionLogOptions {
  /** The log API's ingest of each stream, by name: it must hold the decision stream of every logged service. */
  readonly streams: ReadonlyMap<string, StreamIngest>;
  /** The project served: its logged feature services, their views and entities. */
  readonly project: Pick<ProjectSpec, 'entities' | 'featureViews' | 'featureServices'> & ScoringModels;
  /** Rows (of all decisions) waiting to be appended at most; a decision that does not fit is dropped. Default 100,000. */
  readonly maxQueuedRows?: number;
  /** Rows per append to a stream (whole decisions; a bigger decision goes alone). Default 10,000, the log API's batch limit. */
  readonly rowsPerAppend?: number;
  /** The first failure after a success is logged here; later ones are only counted. Default: stderr. */
  readonly log?: (line: string) => void;
}

/** Counters since the log was created, in decisions. (A type, not an interface, so it fits a `Record<string, number>`, as metrics take it.) */
export type DecisionLogStats = {
  /** Appended and durable in the stream's segment (a decision already stored counts too: it is stored once). */
  readonly logged: number;
  /** Not kept by the service's sample rate. */
  readonly sampledOut: number;
  /** Sampled, but not queued: the queue was full, or the log was closing. */
  readonly dropped: number;
  /** Queued, but not appended: refused by validation (a row without a key, a value of the wrong type), or the segment could not be written. */
  readonly failed: number;
  /** Waiting in the queue now. */
  readonly queued: number;
};

/** What the serving route holds: `logs` and `offer` on the hot path; `stats` for /healthz; `close` at shutdown. */
export interface DecisionLog extends DecisionSink {
  stats(): DecisionLogStats;
  /** Stops taking decisions (later offers are dropped), appends those queued and waits until they are durable or failed. Safe to call twice. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_QUEUED_ROWS = 100_000;
export const DEFAULT_ROWS_PER_APPEND = 10_000;

/**
 * Where a decision id falls in [0, 1): a 32-bit FNV-1a hash of its UTF-16 code units (its bytes, for
 * an ASCII id such as a UUID), mixed by MurmurHash3's finalizer (so ids that differ only in their last
 * characters spread evenly), divided by 2^32.
 */
export function decisionSampleFraction(decisionId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < decisionId.length; i++) {
    hash ^= decisionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 0x1_0000_0000;
}

/**
 * Whether a decision is logged at `sampleRate`: when its id's fraction is below the rate.
 *
 * Deterministic on purpose, not `Math.random()`: the same decision is kept or dropped the same way
 * everywhere, by every server replica, on a retry that offers it again, and by anyone who later asks
 * whether it was logged (a label job telling "not sampled" from "lost"). And the sample at a rate is
 * part of the sample at any higher rate, so raising the rate keeps every decision kept before.
 */
export function sampledIn(decisionId: string, sampleRate: number): boolean {
  return decisionSampleFraction(decisionId) < sampleRate;
}

/**
 * A decision's events, one per row, in the decision stream's columns, with the event id
 * `<decision id>:<row index>`. A key the row lacks is left out (the stream refuses the event); the
 * event time of a view's group is the first one its features report (they share one stored record).
 */
export function decisionEvents(decision: ServedDecision, layout: DecisionStreamLayout): Record<string, unknown>[] {
  const context = decision.context === undefined ? null : JSON.stringify(decision.context);
  return decision.rows.map((row, index) => {
    const event: Record<string, unknown> = { _event_id: decisionEventId(decision.decisionId, index) };
    for (const key of layout.keys) {
      const value = row.keys[key.name];
      if (value !== undefined) event[key.name] = value;
    }
    event[SERVED_AT_COLUMN] = decision.servedAt;
    event[DECISION_ID_COLUMN] = decision.decisionId;
    event[ROW_INDEX_COLUMN] = index;
    for (const feature of layout.features) event[feature.name] = row.values[feature.name] ?? null;
    for (const feature of layout.features) {
      const status = row.statuses[feature.name];
      if (status !== undefined) event[feature.statusColumn] = status;
    }
    for (const view of layout.views) event[view.eventTimeColumn] = groupEventTime(row, view.features);
    event[CONTEXT_COLUMN] = context;
    if (layout.scored) writeScoring(event, decision.scoring, index);
    return event;
  });
}

/** A decision of `POST /v1/decide` fills the scoring columns; one of `POST /v1/features` leaves them null. */
function writeScoring(event: Record<string, unknown>, scoring: DecisionScoring | undefined, index: number): void {
  const row = scoring?.rows[index];
  event[SCORING_COLUMNS.model] = scoring?.model ?? null;
  event[SCORING_COLUMNS.version] = scoring?.version ?? null;
  event[SCORING_COLUMNS.score] = row?.score ?? null;
  event[SCORING_COLUMNS.rank] = row?.rank ?? null;
  event[SCORING_COLUMNS.position] = row?.position ?? null;
  event[SCORING_COLUMNS.propensity] = row?.propensity ?? null;
  event[SCORING_COLUMNS.explored] = scoring?.explored ?? null;
}

function groupEventTime(row: ServedRow, features: readonly string[]): string | null {
  for (const feature of features) {
    const time = row.eventTimes[feature];
    if (time !== null && time !== undefined) return time;
  }
  return null;
}

/**
 * The decision log of a project's logged feature services.
 *
 * **When the queue is full, the new decision is dropped** (not the oldest queued): dropping at the
 * door is one comparison in `offer`, counted there and then, and it never reaches into decisions
 * already taken for an append. The decisions kept are the oldest ones, so while the log cannot keep
 * up, what is missing is one contiguous stretch of time rather than holes scattered over the whole
 * backlog, and the queue drains oldest first once the disk catches up. A decision is queued whole or
 * not at all (its rows are one response), and one with more rows than `maxQueuedRows` is always dropped.
 */
export function createDecisionLog(options: DecisionLogOptions): DecisionLog {
  return new QueuedDecisionLog(options);
}

interface Queued {
  readonly decision: ServedDecision;
  readonly layout: DecisionStreamLayout;
}

class QueuedDecisionLog implements DecisionLog {
  readonly #streams: ReadonlyMap<string, StreamIngest>;
  /** By service name. */
  readonly #layouts = new Map<string, DecisionStreamLayout>();
  readonly #maxQueuedRows: number;
  readonly #rowsPerAppend: number;
  readonly #log: (line: string) => void;
  #queue: Queued[] = [];
  #queuedRows = 0;
  #draining: Promise<void> | undefined;
  #closed = false;
  #failing = false;
  readonly #counts = { logged: 0, sampledOut: 0, dropped: 0, failed: 0 };

  constructor(options: DecisionLogOptions) {
    this.#streams = options.streams;
    for (const layout of decisionLayoutsOf(options.project).values()) this.#layouts.set(layout.service, layout);
    this.#maxQueuedRows = options.maxQueuedRows ?? DEFAULT_MAX_QUEUED_ROWS;
    this.#rowsPerAppend = options.rowsPerAppend ?? DEFAULT_ROWS_PER_APPEND;
    this.#log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const missing = [...this.#layouts.values()].filter((layout) => !this.#streams.has(layout.stream));
    for (const layout of missing) {
      this.#log(`decision log: feature service "${layout.service}" logs to stream "${layout.stream}", which this server does not serve; its decisions will count as failed (apply the definitions and restart the server)`);
    }
  }

  logs(service: string): boolean {
    return this.#layouts.has(service);
  }

  offer(decision: ServedDecision): void {
    try {
      const layout = this.#layouts.get(decision.service);
      if (!layout) return;
      if (!sampledIn(decision.decisionId, layout.sampleRate)) {
        this.#counts.sampledOut++;
        return;
      }
      const rows = decision.rows.length;
      if (this.#closed || this.#queuedRows + rows > this.#maxQueuedRows) {
        this.#counts.dropped++;
        return;
      }
      this.#queue.push({ decision, layout });
      this.#queuedRows += rows;
      // Started on the next turn of the event loop: after the response that carried the decision.
      this.#draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
    } catch {
      // A decision that is not even an object: nothing to log, and the request must not notice.
      this.#counts.failed++;
    }
  }

  stats(): DecisionLogStats {
    return { ...this.#counts, queued: this.#queue.length };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#draining;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const chunk = this.#take();
        const byStream = new Map<string, Queued[]>();
        for (const queued of chunk) {
          const list = byStream.get(queued.layout.stream) ?? [];
          list.push(queued);
          byStream.set(queued.layout.stream, list);
        }
        await Promise.all([...byStream].map(([stream, decisions]) => this.#append(stream, decisions)));
        // Validation and serialization run on the event loop: let requests in between.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      // A bug here must not become an unhandled rejection in the server; what is queued waits for the next offer.
      this.#log(`decision log: ${describe(error)}`);
    } finally {
      this.#draining = undefined;
    }
  }

  /** Whole decisions, oldest first, up to `rowsPerAppend` rows (at least one decision). */
  #take(): Queued[] {
    let rows = 0;
    let count = 0;
    while (count < this.#queue.length) {
      const next = this.#queue[count]!.decision.rows.length;
      if (count > 0 && rows + next > this.#rowsPerAppend) break;
      rows += next;
      count++;
    }
    const taken = this.#queue.slice(0, count);
    this.#queue = this.#queue.slice(count);
    this.#queuedRows -= rows;
    return taken;
  }

  /** Appends decisions of one stream in one batch; if any is invalid, each on its own, so only the invalid ones fail. */
  async #append(stream: string, decisions: readonly Queued[]): Promise<void> {
    const ingest = this.#streams.get(stream);
    if (!ingest) {
      this.#fail(decisions.length, `stream "${stream}" is not served by this server`);
      return;
    }
    const converted: { id: string; events: Record<string, unknown>[] }[] = [];
    for (const { decision, layout } of decisions) {
      try {
        converted.push({ id: decision.decisionId, events: decisionEvents(decision, layout) });
      } catch (error) {
        this.#fail(1, `decision ${String(decision.decisionId)} is malformed: ${describe(error)}`);
      }
    }
    if (converted.length === 0) return;
    const receivedAt = new Date().toISOString();
    const writes: { decisions: number; durable: Promise<void> }[] = [];
    const accept = (batch: readonly { events: Record<string, unknown>[] }[]) => {
      // The validator rewrites values in place, so each attempt gets its own copies.
      const events = batch.length === 1 ? batch[0]!.events : batch.flatMap((item) => item.events.map((event) => ({ ...event })));
      writes.push({ decisions: batch.length, durable: ingest.accept({ events }, receivedAt).durable });
    };
    try {
      accept(converted);
    } catch (batchError) {
      if (!(batchError instanceof InvalidEventsError) || converted.length === 1) {
        this.#fail(converted.length, describe(batchError));
      } else {
        for (const item of converted) {
          try {
            accept([item]);
          } catch (error) {
            this.#fail(1, `decision ${item.id}: ${describe(error)}`);
          }
        }
      }
    }
    await Promise.all(writes.map(async (write) => {
      try {
        await write.durable;
        this.#counts.logged += write.decisions;
        if (this.#failing) this.#log(`decision log: appending to stream "${stream}" again`);
        this.#failing = false;
      } catch (error) {
        this.#fail(write.decisions, describe(error));
      }
    }));
  }

  #fail(decisions: number, reason: string): void {
    this.#counts.failed += decisions;
    if (!this.#failing) this.#log(`decision log: ${decisions} decision${decisions === 1 ? '' : 's'} not logged, and later failures are only counted until an append succeeds (GET /healthz): ${reason}`);
    this.#failing = true;
  }
}

function describe(error: unknown): string {
  if (error instanceof InvalidEventsError) {
    const first = error.issues[0];
    return `${error.message}${first ? `; the first: ${first.field ?? 'event'}: ${first.message}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}
