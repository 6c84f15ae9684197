/**
 * The online store: the latest feature values of each entity, served by key at low latency.
 * SQLite embedded (`sqlite/`), Redis in production (`redis/`); both pass the same contract suite
 * (test/contracts/online-store.contract.ts). Layouts, key encoding and failure behaviour:
 * docs/online-store.md.
 */

/**
 * One join key value: a string, or an integer (a safe-integer number, or a bigint for int64 values
 * beyond 2^53). Types are kept apart: `1` and `"1"` are different keys; `1` and `1n` are the same.
 */
export type OnlineKeyPart = string | number | bigint;

/**
 * A feature value as rows carry it everywhere in Flywheel (JSON-safe): numbers (int32, int64 when
 * exact, floats), strings (timestamps as ISO-8601 UTC, dates as `YYYY-MM-DD`, int64 beyond 2^53 as
 * decimal strings), booleans and null. Non-finite numbers are rejected.
 */
export type OnlineFeatureValue = string | number | boolean | null;

/** The values of one entity of one feature view, as of `eventTime`. */
export interface OnlineRecord {
  /** The feature view (an identifier). */
  readonly view: string;
  /** The view's join key values, in entity order (composite keys have several). */
  readonly key: readonly OnlineKeyPart[];
  /** Feature name → value. A record replaces the whole stored record: features it lacks are dropped. */
  readonly values: Readonly<Record<string, OnlineFeatureValue>>;
  /** When the values became true: ISO-8601 with a zone (`Z` or `±hh:mm`), microseconds kept. */
  readonly eventTime: string;
  /**
   * The view's ttl in seconds: the record is removed once it is more than this older than its event
   * time (Redis sets the key to expire then; SQLite's deleteExpired sweeps it). Absent or null: kept until replaced.
   */
  readonly ttlSeconds?: number | null;
}

export interface OnlineWriteResult {
  /** Records stored (new keys, and newer or equal event times than the stored record's). */
  readonly written: number;
  /** Records not stored because the stored record of their key has a later event time. */
  readonly skippedOlder: number;
}

export interface OnlineReadRequest {
  readonly view: string;
  readonly key: readonly OnlineKeyPart[];
  /** Only these features, in this order; a feature the stored record lacks reads as null. Default: every stored feature. */
  readonly features?: readonly string[];
  /** The view's ttl: older values are `expired` (see OnlineValue). null: values never expire. */
  readonly ttlSeconds: number | null;
}

interface OnlineValueOf<Status extends string> {
  readonly status: Status;
  readonly view: string;
  readonly key: readonly OnlineKeyPart[];
}

/** The stored record, within its ttl: its values are served. */
export interface OnlinePresentValue extends OnlineValueOf<'present'> {
  readonly values: Readonly<Record<string, OnlineFeatureValue>>;
  /** The record's event time, ISO-8601 UTC (`2024-05-01T12:00:00.000Z`; six fraction digits when it has microseconds). */
  readonly eventTime: string;
  /** When the store wrote it, ISO-8601 UTC. */
  readonly writtenAt: string;
}

/** A record exists but its event time is older than `now - ttl`: every feature reads as null (`values` is empty). */
export interface OnlineExpiredValue extends OnlineValueOf<'expired'> {
  readonly values: Readonly<Record<string, never>>;
  readonly eventTime: string;
  readonly writtenAt: string;
}

/** No record for this view and key. */
export interface OnlineMissingValue extends OnlineValueOf<'missing'> {
  readonly values: Readonly<Record<string, never>>;
  readonly eventTime: null;
  readonly writtenAt: null;
}

/**
 * Rows of one view whose values are already encoded, one JSON array per row in `features` order:
 * the fast path of materialization, where the offline engine writes the JSON (`json_array(...)` in
 * DuckDB) so no value is converted one by one in JavaScript.
 */
export interface EncodedOnlineBatch {
  readonly view: string;
  /** Feature names (identifiers, not starting with `__`), in the order of every row's `values`. */
  readonly features: readonly string[];
  readonly rows: readonly EncodedOnlineRow[];
  /** The view's ttl in seconds, as OnlineRecord.ttlSeconds says; absent or null: never expires. */
  readonly ttlSeconds?: number | null;
}

export interface EncodedOnlineRow {
  /** The view's join key values, in entity order. */
  readonly key: readonly OnlineKeyPart[];
  /** The values' event time in microseconds since the epoch (a safe integer). */
  readonly eventMicros: number;
  /** A JSON array text with one value per feature, in the batch's `features` order: `[3,12.5,"FR",null]`. */
  readonly values: string;
}

/** One key as readEncoded finds it: the stored record as it is, for callers that assemble JSON themselves. */
export interface EncodedOnlineRecord {
  /**
   * The stored features, in the order of `values`. Records written with the same feature list share
   * one frozen array, so a caller may cache what it derives from it by identity.
   */
  readonly features: readonly string[];
  /** A JSON array text, one value per feature. */
  readonly values: string;
  readonly eventMicros: number;
  readonly writtenMicros: number;
  /**
   * The stored value's UTF-8 bytes, when the store read the record as bytes (the Redis stores): its
   * JSON array, the same text as `values`, is `bytes[valuesStart, bytes.length)`. Serving copies
   * those bytes into its answer rather than decoding them into `values` and encoding them again.
   */
  readonly bytes?: Buffer;
  readonly valuesStart?: number;
}

export interface OnlineKeyRequest {
  readonly view: string;
  readonly key: readonly OnlineKeyPart[];
}

export type OnlineValue = OnlinePresentValue | OnlineExpiredValue | OnlineMissingValue;
export type OnlineValueStatus = OnlineValue['status'];

/**
 * Where materialization writes the latest feature values and serving reads them.
 *
 * @example
 * await store.write([{ view: 'user_stats', key: [42], values: { txn_count_7d: 3 }, eventTime: '2024-05-01T12:00:00Z' }]);
 * const [stats] = await store.read([{ view: 'user_stats', key: [42], ttlSeconds: 86_400 }], new Date());
 * if (stats?.status === 'present') console.log(stats.values.txn_count_7d);
 */
export interface OnlineStore {
  /**
   * Stores records. Per (view, key), a record replaces the stored one only when its event time is
   * later than or equal to the stored one's, never when it is earlier, also against concurrent
   * writers (the check and the replacement are one atomic step). Records of one call are applied
   * in order. Invalid records (InvalidOnlineRecordError) reject the whole call before anything is
   * written.
   */
  write(records: readonly OnlineRecord[]): Promise<OnlineWriteResult>;
  /**
   * write() for rows whose values are already JSON arrays (materialization's fast path), with the
   * same newer-wins rule. Keys, times and the feature list are checked; each `values` must be a JSON
   * array text with one entry per feature (its brackets are checked, its content is trusted).
   */
  writeEncoded(batch: EncodedOnlineBatch): Promise<OnlineWriteResult>;
  /**
   * Reads many keys of many views in one round trip; one result per request, in request order.
   * `now` and each request's ttl decide `expired` with the training-set rule: a record is expired
   * when `now - eventTime > ttl`, so one exactly `ttl` old is still present.
   */
  read(requests: readonly OnlineReadRequest[], now: Date): Promise<OnlineValue[]>;
  /**
   * The stored records of many keys in one round trip, undecoded; undefined where nothing is stored.
   * No ttl is applied: the caller decides `present`/`expired` with isExpired (online-time.ts).
   * This is the serving API's read: it splices `values` into its response without parsing them.
   */
  readEncoded(requests: readonly OnlineKeyRequest[]): Promise<(EncodedOnlineRecord | undefined)[]>;
  /**
   * Up to `limit` keys of `view` that have a stored record, in no promised order (the first the
   * engine finds). For warming a reader with real records (server/serving/warm-up.ts), not for
   * listing a view: the work is bounded, so it may return fewer than `limit` while the view holds
   * more (Redis reads a few SCAN pages at most). Keys it cannot give back exactly (an int64 beyond
   * 2^53) are left out.
   */
  sampleKeys(view: string, limit: number): Promise<OnlineKeyPart[][]>;
  /** Deletes every record of a view. */
  deleteView(view: string): Promise<void>;
  /**
   * Removes records of `view` that are expired at `now` for `ttlSeconds` (the read rule:
   * `now - eventTime > ttl`; one exactly `ttl` old stays), at most `limit` of them (a bounded sweep:
   * SQLite holds its write lock for one statement). `done` is true when none is left to remove. A
   * record replaced by a newer one meanwhile is never removed (the check and the delete are one step).
   */
  deleteExpired(view: string, ttlSeconds: number, now: Date, limit: number): Promise<{ deleted: number; done: boolean }>;
  /** Resolves when the store answers; throws OnlineStoreUnavailableError when it does not. */
  ping(): Promise<void>;
  /** Releases connections and files. Calls after it throw OnlineStoreError. */
  close(): Promise<void>;
}
