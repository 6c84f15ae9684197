import type { ColumnSpec, ProjectSpec } from '../../core/definitions/specs.ts';
import { encodeOnlineKey, keyPartProblem } from '../../connectors/online-store/online-key.ts';
import type { OnlineFeatureValue, OnlineKeyPart, OnlineRecord, OnlineStore } from '../../connectors/online-store/online-store.ts';
import { microsFromIso } from '../../connectors/online-store/online-time.ts';
import type { StoredEventsBatch } from '../stream-ingest.ts';

/**
 * Pushed features (docs/collect-api.md, "Pushed features"): once the log API has made a batch
 * durable, the latest values of every feature view declared `push: true` over that stream go to the
 * online store, without waiting for materialization. The push never holds up or fails a request: the
 * records queue (bounded) and are written in the background; what cannot be queued or written is
 * dropped and counted (`OnlinePushStats`, shown by GET /healthz).
 *
 * @example
 * const push = { store: await createOnlineStore(profile.onlineStore, { project }), views: pushedViewsOf(project) };
 * const server = await startLogServer({ ...options, push });   // the server closes the store when it closes
 */

/** What the push needs of a pushed feature view: each feature is the stream field of the same name. */
export interface PushedView {
  readonly view: string;
  /** The event stream it reads. */
  readonly stream: string;
  /** The join keys of the view's entities, in entity order, each once: the online key. */
  readonly keys: readonly ColumnSpec[];
  /** The stream's timestamp field: each record's event time. */
  readonly timestampField: string;
  readonly features: readonly string[];
  /** The view's ttl, when it has one: a pushed record expires that long after its event time (Redis) or is swept (SQLite). */
  readonly ttlSeconds?: number;
}

/** The views of a project declared `push: true` over an event stream that takes events over HTTP. */
export function pushedViewsOf(project: ProjectSpec): PushedView[] {
  const views: PushedView[] = [];
  for (const view of Object.values(project.featureViews)) {
    const stream = project.eventStreams[view.source];
    if (view.push !== true || !stream || stream.from !== undefined) continue;
    const keys: ColumnSpec[] = [];
    for (const entity of view.entities) {
      for (const key of project.entities[entity]?.joinKeys ?? []) if (!keys.some((k) => k.name === key.name)) keys.push(key);
    }
    views.push({
      view: view.name, stream: stream.name, keys, timestampField: stream.timestampField, features: view.features.map((f) => f.name),
      ...(view.ttlSeconds !== null ? { ttlSeconds: view.ttlSeconds } : {}),
    });
  }
  return views.sort((a, b) => (a.view < b.view ? -1 : a.view > b.view ? 1 : 0));
}

export interface OnlinePushOptions {
  /** Where the records go. The push owns it from then on: `close()` closes it. */
  readonly store: OnlineStore;
  readonly views: readonly PushedView[];
  /** Records waiting to be written at most; a batch that does not fit is dropped. Default 100,000. */
  readonly maxQueuedRecords?: number;
  /** Records per `store.write` call. Default 1,000. */
  readonly recordsPerWrite?: number;
}

/** Counters since the server started, in records (one per view and key of a batch). */
export interface OnlinePushStats {
  /** Stored by the online store (a record older than the stored one is not counted). */
  readonly written: number;
  /** Not queued: the queue was full, or the server was stopping. */
  readonly dropped: number;
  /** In a write the store refused (down, closed, invalid record). */
  readonly failed: number;
}

export const DEFAULT_MAX_QUEUED_RECORDS = 100_000;
export const DEFAULT_RECORDS_PER_WRITE = 1_000;

/**
 * The background writer: a queue of records, drained one `store.write` at a time. Nothing is
 * retried: a record that is not written is overtaken by the next event of its key, and
 * materialization writes every view's values in any case.
 */
export class OnlinePush {
  readonly #store: OnlineStore;
  readonly #viewsByStream = new Map<string, PushedView[]>();
  readonly #maxQueued: number;
  readonly #perWrite: number;
  readonly #log: (line: string) => void;
  #queue: OnlineRecord[][] = [];
  #queued = 0;
  #draining: Promise<void> | undefined;
  #closed = false;
  #failing = false;
  #stats = { written: 0, dropped: 0, failed: 0 };

  constructor(options: OnlinePushOptions, log: (line: string) => void) {
    this.#store = options.store;
    for (const view of options.views) {
      const views = this.#viewsByStream.get(view.stream) ?? [];
      views.push(view);
      this.#viewsByStream.set(view.stream, views);
    }
    this.#maxQueued = options.maxQueuedRecords ?? DEFAULT_MAX_QUEUED_RECORDS;
    this.#perWrite = options.recordsPerWrite ?? DEFAULT_RECORDS_PER_WRITE;
    this.#log = log;
  }

  /** A collector for each batch of `stream`, or undefined when no pushed view reads it (nothing is kept then). */
  batchesOf(stream: string): (() => StoredEventsBatch) | undefined {
    const views = this.#viewsByStream.get(stream);
    if (!views) return undefined;
    return () => new PushBatch(views, (records, unusable) => this.#enqueue(records, unusable));
  }

  stats(): OnlinePushStats {
    return { ...this.#stats };
  }

  /** Stops taking records, writes those queued, then closes the store. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#draining;
    try {
      await this.#store.close();
    } catch (error) {
      this.#log(`online push: closing the online store failed: ${(error as Error).message}`);
    }
  }

  #enqueue(records: OnlineRecord[], unusable: number): void {
    this.#stats.failed += unusable;
    if (records.length === 0) return;
    if (this.#closed || this.#queued + records.length > this.#maxQueued) {
      this.#stats.dropped += records.length;
      return;
    }
    this.#queue.push(records);
    this.#queued += records.length;
    // Started on the next turn of the event loop: after the response that acknowledged the batch.
    this.#draining ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    while (this.#queued > 0) {
      const chunk = this.#take(this.#perWrite);
      try {
        const result = await this.#store.write(chunk);
        this.#stats.written += result.written;
        if (this.#failing) this.#log('online push: writing to the online store again');
        this.#failing = false;
      } catch (error) {
        this.#stats.failed += chunk.length;
        if (!this.#failing) this.#log(`online push: ${chunk.length} records not written, and later failures are only counted until a write succeeds (GET /healthz): ${(error as Error).message}`);
        this.#failing = true;
      }
      // SQLite writes block the event loop: let requests in between.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#draining = undefined;
  }

  /** Up to `count` queued records, oldest first. */
  #take(count: number): OnlineRecord[] {
    const taken: OnlineRecord[] = [];
    while (taken.length < count && this.#queue.length > 0) {
      const first = this.#queue[0]!;
      const room = count - taken.length;
      if (first.length <= room) {
        taken.push(...first);
        this.#queue.shift();
      } else {
        taken.push(...first.slice(0, room));
        this.#queue[0] = first.slice(room);
      }
    }
    this.#queued -= taken.length;
    return taken;
  }
}

/**
 * The records of one batch: per view and key, the newest event (the later one of the batch on equal
 * times, as the store would keep it). Events are seen normalized: timestamps in UTC ISO-8601, int64
 * beyond 2^53 as digit strings.
 */
class PushBatch implements StoredEventsBatch {
  readonly #latest = new Map<string, { micros: number; record: OnlineRecord }>();
  #unusable = 0;

  constructor(
    private readonly views: readonly PushedView[],
    private readonly done: (records: OnlineRecord[], unusable: number) => void,
  ) {}

  add(event: Readonly<Record<string, unknown>>): void {
    for (const view of this.views) {
      const key = keyOf(view, event);
      const eventTime = event[view.timestampField];
      const micros = typeof eventTime === 'string' ? microsFromIso(eventTime) : undefined;
      if (key === null) continue; // a null join key is an unknown entity: nothing to serve
      if (key === undefined || micros === undefined) {
        this.#unusable++;
        continue;
      }
      const id = `${view.view}\u0000${encodeOnlineKey(key)}`;
      const previous = this.#latest.get(id);
      if (previous && previous.micros > micros) continue;
      const values: Record<string, OnlineFeatureValue> = {};
      // Own members only: a nullable feature named `constructor` left out would read Object.prototype's.
      for (const feature of view.features) values[feature] = (Object.hasOwn(event, feature) ? event[feature] ?? null : null) as OnlineFeatureValue;
      this.#latest.set(id, { micros, record: { view: view.view, key, values, eventTime: eventTime as string, ...(view.ttlSeconds !== undefined ? { ttlSeconds: view.ttlSeconds } : {}) } });
    }
  }

  stored(): void {
    this.done([...this.#latest.values()].map((latest) => latest.record), this.#unusable);
  }
}

/** The view's key in `event`; null when a part is null or missing, undefined when a part cannot be a key (a float, a bool). */
function keyOf(view: PushedView, event: Readonly<Record<string, unknown>>): OnlineKeyPart[] | null | undefined {
  const key: OnlineKeyPart[] = [];
  for (const column of view.keys) {
    let part = event[column.name];
    if (part === null || part === undefined) return null;
    // The log API keeps int64 values beyond 2^53 as digit strings; the store takes them as bigints.
    if (column.type === 'int64' && typeof part === 'string') part = BigInt(part);
    if (keyPartProblem(part) !== undefined) return undefined;
    key.push(part as OnlineKeyPart);
  }
  return key;
}
