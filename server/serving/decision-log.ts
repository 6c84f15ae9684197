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
import { RecordBuilder } from '../../connectors/log-store/segment-log/index.ts';
import { InvalidEventsError, type StreamIngest } from '../stream-ingest.ts';
import { DecisionRecordEncoder, type DecisionEncoding } from './decision-records.ts';
import { isServedFragments, type DecisionScoring, type DecisionSink, type ServedDecision, type ServedFragments, type ServedRow } from './served-decision.ts';
import { spellOut } from './served-fragments.ts';

/**
 * The decision log (docs/serving.md, "Logging what was served"): the serving route offers each
 * response of a feature service with `logging`, and a sample of them is appended, one event per
 * entity row, to the service's decision stream (core/definitions/decision-stream.ts) through the
 * same `StreamIngest` as `POST /v1/streams/<stream>/events`: the same dedupe by id, the same fsync'd
 * segments, the same exactly-once ingestion into `flywheel.stream_<stream>`. Its rows are written
 * straight into their stored form from the answer's fragments (decision-records.ts) rather than
 * through the checks meant for client input; a decision that encoding refuses goes through those
 * checks, which name what is wrong.
 *
 * Logging never slows or fails a request. `offer` neither throws nor awaits: it samples, then queues
 * the decision (bounded) for a background writer, which encodes at most `rowsPerTurn` rows per turn
 * of the event loop, so a request never waits behind a backlog. What cannot be queued or written is
 * dropped and counted (`stats()`, shown by GET /healthz), never retried.
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
  /**
   * Rows encoded per turn of the event loop at most (at least one row; a bigger decision is encoded
   * over several turns): what a request arriving meanwhile may wait for. Default 100.
   */
  readonly rowsPerTurn?: number;
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
/** One `POST /v1/decide` of 100 candidates: about 0.8 ms of CPU for rows of 50 features (bench/decision-log-encode.ts, load 12). */
export const DEFAULT_ROWS_PER_TURN = 100;

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
  event[SCORING_COLUMNS.exploreKey] = scoring?.exploreKey ?? null;
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

/** A decision taken for the log, and how far its encoding got (a big one is encoded over several turns). */
interface Queued {
  readonly decision: ServedFragments;
  /** The decision as offered, when it came spelt out: what the general checks read if the direct encoding refuses it. */
  readonly original?: ServedDecision;
  readonly layout: DecisionStreamLayout;
  readonly rows: number;
  /** Undefined until started; null once the direct encoding refused it (the general checks then run). */
  encoding?: DecisionEncoding | null;
  /** Its rows framed so far, and their ids (rows stored already are left out, their writes in `earlier`). */
  records?: RecordBuilder;
  readonly ids: string[];
  readonly earlier: Promise<void>[];
  /** The next row to encode. */
  next: number;
}

class QueuedDecisionLog implements DecisionLog {
  readonly #streams: ReadonlyMap<string, StreamIngest>;
  /** By service name. */
  readonly #layouts = new Map<string, DecisionStreamLayout>();
  /** By stream name, made on first use. */
  readonly #encoders = new Map<string, DecisionRecordEncoder>();
  /** By stream name: the bytes per row of its last decision. */
  readonly #rowBytes = new Map<string, number>();
  readonly #maxQueuedRows: number;
  readonly #rowsPerAppend: number;
  readonly #rowsPerTurn: number;
  readonly #log: (line: string) => void;
  #queue: Queued[] = [];
  #queuedRows = 0;
  /** Appends not yet durable or failed, and their rows: bounded, so a slow disk stops the encoding and fills the queue. */
  readonly #inFlight = new Set<Promise<void>>();
  #inFlightRows = 0;
  #draining: Promise<void> | undefined;
  #closed = false;
  #failing = false;
  readonly #counts = { logged: 0, sampledOut: 0, dropped: 0, failed: 0 };

  constructor(options: DecisionLogOptions) {
    this.#streams = options.streams;
    for (const layout of decisionLayoutsOf(options.project).values()) this.#layouts.set(layout.service, layout);
    this.#maxQueuedRows = options.maxQueuedRows ?? DEFAULT_MAX_QUEUED_ROWS;
    this.#rowsPerAppend = options.rowsPerAppend ?? DEFAULT_ROWS_PER_APPEND;
    this.#rowsPerTurn = Math.max(1, Math.min(options.rowsPerTurn ?? DEFAULT_ROWS_PER_TURN, this.#rowsPerAppend));
    this.#log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const missing = [...this.#layouts.values()].filter((layout) => !this.#streams.has(layout.stream));
    for (const layout of missing) {
      this.#log(`decision log: feature service "${layout.service}" logs to stream "${layout.stream}", which this server does not serve; its decisions will count as failed (apply the definitions and restart the server)`);
    }
  }

  logs(service: string): boolean {
    return this.#layouts.has(service);
  }

  offer(offered: ServedDecision | ServedFragments): void {
    try {
      const layout = this.#layouts.get(offered.service);
      if (!layout) return;
      if (!sampledIn(offered.decisionId, layout.sampleRate)) {
        this.#counts.sampledOut++;
        return;
      }
      const decision = isServedFragments(offered) ? offered : fragmentsOfRows(offered, layout);
      const rows = decision.rowCount;
      if (this.#closed || this.#queuedRows + rows > this.#maxQueuedRows) {
        this.#counts.dropped++;
        return;
      }
      this.#queue.push({ decision, ...(decision === offered ? {} : { original: offered as ServedDecision }), layout, rows, ids: [], earlier: [], next: 0 });
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
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Encodes the queue, oldest first, at most `rowsPerTurn` rows per turn of the event loop, then
   * yields (`setImmediate`), so a request arriving meanwhile waits for one turn's work at most, never
   * for a backlog of decisions. Each decision is appended once all its rows are encoded, without
   * waiting for the disk (the segment log writes a turn's appends in one write); while `rowsPerAppend`
   * rows are written but not yet durable, the encoding waits, the queue fills and offers are dropped.
   */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        while (this.#inFlightRows >= this.#rowsPerAppend && this.#inFlight.size > 0) await Promise.race(this.#inFlight);
        this.#turn();
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      // A bug here must not become an unhandled rejection in the server; what is queued waits for the next offer.
      this.#log(`decision log: ${describe(error)}`);
    } finally {
      this.#draining = undefined;
    }
  }

  /** One turn's work: whole decisions while they fit in the turn's rows (the first may be continued, or left unfinished). */
  #turn(): void {
    const receivedAt = new Date().toISOString();
    let budget = this.#rowsPerTurn;
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      // A decision not started that does not fit waits for the next turn, unless this turn has done nothing yet.
      if (head.next === 0 && head.rows > budget && budget < this.#rowsPerTurn) break;
      budget -= this.#encode(head, budget, receivedAt);
      if (head.encoding !== null && head.next < head.rows) break;
      this.#queue.shift();
      this.#queuedRows -= head.rows;
      if (head.encoding === null) this.#acceptChecked(head, receivedAt);
      else this.#appendStored(head);
      if (budget <= 0) break;
    }
  }

  /** Encodes up to `budget` rows of a decision directly; returns how many. A refusal sets `encoding` to null. */
  #encode(queued: Queued, budget: number, receivedAt: string): number {
    const ingest = this.#streams.get(queued.layout.stream);
    if (queued.encoding === undefined) {
      queued.encoding = ingest === undefined ? null : (this.#encoderOf(queued.layout, ingest).start(queued.decision, receivedAt) ?? null);
      // Sized by the stream's last decision, so a decision's records are rarely copied to a bigger buffer.
      queued.records = new RecordBuilder(Math.ceil(queued.rows * (this.#rowBytes.get(queued.layout.stream) ?? 1024) * 1.1) + 1024);
    }
    if (queued.encoding === null || ingest === undefined) return 0;
    const { decisionId } = queued.decision;
    const from = queued.next;
    const to = Math.min(queued.rows, from + Math.max(1, budget));
    // A row stored already (the same decision offered twice) is left out, and its write awaited instead.
    const skip = (row: number) => {
      const id = decisionEventId(decisionId, row);
      const earlier = ingest.storedBy(id);
      if (earlier === undefined) queued.ids.push(id);
      else queued.earlier.push(earlier);
      return earlier !== undefined;
    };
    if (!queued.encoding.rows(from, to, queued.records!, skip)) {
      queued.encoding = null;
      queued.records = undefined;
    } else {
      queued.next = to;
    }
    return to - from;
  }

  #encoderOf(layout: DecisionStreamLayout, ingest: StreamIngest): DecisionRecordEncoder {
    let encoder = this.#encoders.get(layout.stream);
    if (encoder === undefined) this.#encoders.set(layout.stream, (encoder = new DecisionRecordEncoder(layout, ingest.schema)));
    return encoder;
  }

  /** Appends a directly encoded decision. */
  #appendStored(queued: Queued): void {
    const stream = queued.layout.stream;
    const ingest = this.#streams.get(stream)!;
    const records = queued.records!.finish();
    if (queued.rows > 0) this.#rowBytes.set(stream, records.length / queued.rows);
    let durable: Promise<void>;
    try {
      durable = ingest.acceptStored(records, queued.ids, queued.earlier).durable;
    } catch (error) {
      this.#fail(1, describe(error));
      return;
    }
    this.#track(stream, 1, queued.rows, durable);
  }

  /**
   * A decision the direct encoding refused, spelt out and sent through the stream's general checks,
   * alone: they name what is wrong (a missing key, a value of the wrong type) exactly as for a client's
   * event, or store it if the direct path was only more careful than it had to be.
   */
  #acceptChecked(queued: Queued, receivedAt: string): void {
    const { decision, layout } = queued;
    const ingest = this.#streams.get(layout.stream);
    if (!ingest) {
      this.#fail(1, `stream "${layout.stream}" is not served by this server`);
      return;
    }
    let durable: Promise<void>;
    try {
      durable = ingest.accept({ events: decisionEvents(queued.original ?? spellOut(decision), layout) }, receivedAt).durable;
    } catch (error) {
      this.#fail(1, `decision ${String(decision.decisionId)}: ${describe(error)}`);
      return;
    }
    this.#track(layout.stream, 1, queued.rows, durable);
  }

  /** Counts `decisions` logged once `durable` resolves, failed if it rejects; their rows count as in flight until then. */
  #track(stream: string, decisions: number, rows: number, durable: Promise<void>): void {
    this.#inFlightRows += rows;
    const settled: Promise<void> = durable.then(
      () => {
        this.#counts.logged += decisions;
        if (this.#failing) this.#log(`decision log: appending to stream "${stream}" again`);
        this.#failing = false;
      },
      (error: unknown) => this.#fail(decisions, describe(error)),
    ).finally(() => {
      this.#inFlightRows -= rows;
      this.#inFlight.delete(settled);
    });
    this.#inFlight.add(settled);
  }

  #fail(decisions: number, reason: string): void {
    this.#counts.failed += decisions;
    if (!this.#failing) this.#log(`decision log: ${decisions} decision${decisions === 1 ? '' : 's'} not logged, and later failures are only counted until an append succeeds (GET /healthz): ${reason}`);
    this.#failing = true;
  }
}

/**
 * A decision offered already spelt out (`ServedDecision`) as fragments, so it takes the same direct
 * encoding: one fragment per row and run of the layout's features from one view.
 */
function fragmentsOfRows(decision: ServedDecision, layout: DecisionStreamLayout): ServedFragments {
  const groups: { view: string; features: string[] }[] = [];
  for (const feature of layout.features) {
    const last = groups[groups.length - 1];
    if (last?.view === feature.view) last.features.push(feature.name);
    else groups.push({ view: feature.view, features: [feature.name] });
  }
  const keyNames = layout.keys.map((key) => key.name);
  const cell = (at: number, pick: (row: ServedRow, name: string) => unknown) => {
    const row = decision.rows[Math.floor(at / groups.length)]!;
    return JSON.stringify(groups[at % groups.length]!.features.map((name) => pick(row, name) ?? null)).slice(1, -1);
  };
  return {
    decisionId: decision.decisionId,
    service: decision.service,
    servedAt: decision.servedAt,
    context: decision.context,
    features: decision.features,
    rowCount: decision.rows.length,
    keyNames,
    key: (row, k) => decision.rows[row]!.keys[keyNames[k]!],
    groups,
    fragment: (row, g) => row * groups.length + g,
    values: (at) => cell(at, (row, name) => row.values[name]),
    // A status the row lacks is written as null, which the direct encoding refuses: the general checks then name it.
    statuses: (at) => cell(at, (row, name) => row.statuses[name]),
    eventTimes: (at) => cell(at, (row, name) => row.eventTimes[name]),
    ...(decision.scoring !== undefined ? { scoring: decision.scoring } : {}),
  };
}

function describe(error: unknown): string {
  if (error instanceof InvalidEventsError) {
    const first = error.issues[0];
    return `${error.message}${first ? `; the first: ${first.field ?? 'event'}: ${first.message}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}
