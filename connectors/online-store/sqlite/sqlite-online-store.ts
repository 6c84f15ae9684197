import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { FlywheelError } from '../../../core/errors.ts';
import { OnlineStoreError, OnlineStoreUnavailableError } from '../online-store-errors.ts';
import { decodeOnlineKey } from '../online-key.ts';
import { knownLayout, rememberLayout, type OnlineLayout } from '../online-layouts.ts';
import {
  checkSweepLimit,
  checkView,
  expiredBeforeMicros,
  nowMicros,
  prepareEncodedBatch,
  prepareKeys,
  prepareRecords,
  prepareRequests,
  toOnlineValues,
  type PreparedKey,
  type PreparedRecord,
} from '../online-records.ts';
import type {
  EncodedOnlineBatch,
  EncodedOnlineRecord,
  OnlineKeyPart,
  OnlineKeyRequest,
  OnlineReadRequest,
  OnlineRecord,
  OnlineStore,
  OnlineValue,
  OnlineWriteResult,
} from '../online-store.ts';

/**
 * The embedded online store: one SQLite file (better-sqlite3), WAL mode so readers in other
 * processes (the HTTP server) never wait for the writer (materialization).
 *
 *   online_records(view TEXT, key TEXT, layout TEXT, values_json TEXT, event_time INTEGER,
 *                  written_at INTEGER, PRIMARY KEY (view, key)) WITHOUT ROWID
 *   online_layouts(id TEXT PRIMARY KEY, features TEXT)
 *
 * `key` is the JSON-array key encoding (online-key.ts), `values_json` a JSON array of the values in
 * the order of its layout's features (online-layouts.ts), times are microseconds since the epoch.
 * A write is one transaction of upserts whose `WHERE excluded.event_time >= event_time` keeps the
 * newer record; a read is one statement for the whole batch. better-sqlite3 is synchronous: calls
 * block the event loop while they run (about a millisecond for 500 keys).
 */

export const SQLITE_ONLINE_SCHEMA = `CREATE TABLE IF NOT EXISTS online_records (
  view TEXT NOT NULL,
  key TEXT NOT NULL,
  layout TEXT NOT NULL,
  values_json TEXT NOT NULL,
  event_time INTEGER NOT NULL,
  written_at INTEGER NOT NULL,
  PRIMARY KEY (view, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS online_layouts (
  id TEXT NOT NULL PRIMARY KEY,
  features TEXT NOT NULL
) WITHOUT ROWID`;

/** Inserts a record, or replaces the stored one when it is not newer; `changes` is 0 when skipped. */
export const SQLITE_UPSERT = `INSERT INTO online_records (view, key, layout, values_json, event_time, written_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (view, key) DO UPDATE SET
  layout = excluded.layout, values_json = excluded.values_json, event_time = excluded.event_time, written_at = excluded.written_at
WHERE excluded.event_time >= online_records.event_time`;

/**
 * Reads a batch in one statement: the parameter is a JSON array of `[view, key]` pairs, and each
 * found row carries the position of its request. CROSS JOIN keeps the pairs as the outer loop, so
 * each is one primary-key lookup.
 */
export const SQLITE_READ = `SELECT r.key AS position, v.layout AS layout, v.values_json AS valuesJson, v.event_time AS eventMicros, v.written_at AS writtenMicros
FROM json_each(?) AS r CROSS JOIN online_records AS v
WHERE v.view = r.value ->> 0 AND v.key = r.value ->> 1`;

/**
 * One bounded sweep of a view's expired records (event time before the parameter, in µs): one
 * statement, so the check and the delete are one step and the write lock is held for at most `LIMIT`
 * rows. The subquery scans the view's records in key order (there is no index on event_time: it would
 * cost every write, and sweeps are rare).
 */
export const SQLITE_DELETE_EXPIRED = `DELETE FROM online_records WHERE view = ? AND key IN (
  SELECT key FROM online_records WHERE view = ? AND event_time < ? LIMIT ?)`;

export interface SqliteOnlineStoreOptions {
  /** The database file; created with its folder when missing. Should be absolute (the config loader resolves it). */
  path: string;
  /** How long a write waits for another process's write lock before failing as unavailable. Default 5,000 ms. */
  busyTimeoutMs?: number;
}

interface ReadRow {
  position: number;
  layout: string;
  valuesJson: string;
  eventMicros: number;
  writtenMicros: number;
}

/** SQLite codes a retry may fix: locks held too long, I/O errors, a full disk, a file that cannot be opened. */
const TRANSIENT_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|PROTOCOL)/;

export class SqliteOnlineStore implements OnlineStore {
  /** `sqlite:<absolute path>`, as errors name it. */
  readonly name: string;
  readonly #db: Database.Database;
  readonly #upsert: Database.Statement<[string, string, string, string, number, number]>;
  readonly #saveLayout: Database.Statement<[string, string]>;
  readonly #loadLayout: Database.Statement<[string], { features: string }>;
  readonly #read: Database.Statement<[string], ReadRow>;
  readonly #deleteView: Database.Statement<[string]>;
  readonly #sampleKeys: Database.Statement<[string, number], { key: string }>;
  readonly #deleteExpired: Database.Statement<[string, string, number, number]>;
  readonly #writeBatch: (records: readonly PreparedRecord[], writtenMicros: number) => number;
  #closed = false;

  constructor(options: SqliteOnlineStoreOptions) {
    const path = resolve(options.path);
    this.name = `sqlite:${path}`;
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.#db = new Database(path);
    } catch (error) {
      throw this.#failure(error, 'open');
    }
    try {
      this.#db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      this.#db.pragma('journal_mode = WAL');
      // With WAL, NORMAL syncs at checkpoints only: a power loss may lose the last writes, never corrupt the file.
      this.#db.pragma('synchronous = NORMAL');
      this.#db.exec(SQLITE_ONLINE_SCHEMA);
      this.#upsert = this.#db.prepare(SQLITE_UPSERT);
      this.#saveLayout = this.#db.prepare('INSERT INTO online_layouts (id, features) VALUES (?, ?) ON CONFLICT (id) DO NOTHING');
      this.#loadLayout = this.#db.prepare('SELECT features FROM online_layouts WHERE id = ?');
      this.#read = this.#db.prepare(SQLITE_READ);
      this.#deleteView = this.#db.prepare('DELETE FROM online_records WHERE view = ?');
      // The first keys of the view in the primary key's order: one index range read.
      this.#sampleKeys = this.#db.prepare('SELECT key FROM online_records WHERE view = ? ORDER BY key LIMIT ?');
      this.#deleteExpired = this.#db.prepare(SQLITE_DELETE_EXPIRED);
    } catch (error) {
      this.#db.close();
      throw this.#failure(error, 'open');
    }
    const upsert = this.#upsert;
    const saveLayout = this.#saveLayout;
    this.#writeBatch = this.#db.transaction((records: readonly PreparedRecord[], writtenMicros: number) => {
      let written = 0;
      let lastLayout: OnlineLayout | undefined;
      for (const record of records) {
        if (record.layout !== lastLayout) {
          lastLayout = record.layout;
          saveLayout.run(lastLayout.id, JSON.stringify(lastLayout.features));
        }
        written += upsert.run(record.view, record.encodedKey, record.layout.id, record.values, record.eventMicros, writtenMicros).changes;
      }
      return written;
    }).immediate;
  }

  async write(records: readonly OnlineRecord[]): Promise<OnlineWriteResult> {
    return this.#write(prepareRecords(records), 'write');
  }

  async writeEncoded(batch: EncodedOnlineBatch): Promise<OnlineWriteResult> {
    return this.#write(prepareEncodedBatch(batch), 'writeEncoded');
  }

  async read(requests: readonly OnlineReadRequest[], now: Date): Promise<OnlineValue[]> {
    const prepared = prepareRequests(requests);
    const at = nowMicros(now);
    this.#assertOpen('read');
    const found = this.#fetch(prepared.map((p) => ({ view: p.request.view, encodedKey: p.encodedKey })), 'read');
    return toOnlineValues(prepared, found, at);
  }

  async readEncoded(requests: readonly OnlineKeyRequest[]): Promise<(EncodedOnlineRecord | undefined)[]> {
    const prepared = prepareKeys(requests);
    this.#assertOpen('readEncoded');
    return this.#fetch(prepared, 'readEncoded');
  }

  #write(prepared: readonly PreparedRecord[], operation: string): OnlineWriteResult {
    this.#assertOpen(operation);
    if (prepared.length === 0) return { written: 0, skippedOlder: 0 };
    try {
      const written = this.#writeBatch(prepared, Date.now() * 1000);
      return { written, skippedOlder: prepared.length - written };
    } catch (error) {
      throw this.#failure(error, operation);
    }
  }

  #fetch(keys: readonly PreparedKey[], operation: string): (EncodedOnlineRecord | undefined)[] {
    const found = new Array<EncodedOnlineRecord | undefined>(keys.length).fill(undefined);
    if (keys.length === 0) return found;
    try {
      const rows = this.#read.all(JSON.stringify(keys.map((k) => [k.view, k.encodedKey])));
      for (const row of rows) {
        found[row.position] = { features: this.#layout(row.layout).features, values: row.valuesJson, eventMicros: row.eventMicros, writtenMicros: row.writtenMicros };
      }
    } catch (error) {
      throw this.#failure(error, operation);
    }
    return found;
  }

  /** A layout by id: from this process's cache, else from the file (then cached for good). */
  #layout(id: string): OnlineLayout {
    const known = knownLayout(id);
    if (known) return known;
    const row = this.#loadLayout.get(id);
    if (!row) throw new OnlineStoreError(`Online store ${this.name} holds records of layout ${id} but not the layout itself`, { store: this.name, operation: 'read' });
    return rememberLayout(id, row.features);
  }

  async sampleKeys(view: string, limit: number): Promise<OnlineKeyPart[][]> {
    checkView(view);
    checkSweepLimit(view, limit);
    this.#assertOpen('sampleKeys');
    let rows: { key: string }[];
    try {
      rows = this.#sampleKeys.all(view, limit);
    } catch (error) {
      throw this.#failure(error, 'sampleKeys');
    }
    const keys: OnlineKeyPart[][] = [];
    for (const { key } of rows) {
      const decoded = decodeOnlineKey(key);
      if (decoded !== undefined) keys.push(decoded);
    }
    return keys;
  }

  async deleteView(view: string): Promise<void> {
    checkView(view);
    this.#assertOpen('deleteView');
    try {
      this.#deleteView.run(view);
    } catch (error) {
      throw this.#failure(error, 'deleteView');
    }
  }

  async deleteExpired(view: string, ttlSeconds: number, now: Date, limit: number): Promise<{ deleted: number; done: boolean }> {
    checkView(view);
    const before = expiredBeforeMicros(view, ttlSeconds, now);
    checkSweepLimit(view, limit);
    this.#assertOpen('deleteExpired');
    try {
      const deleted = this.#deleteExpired.run(view, view, before, limit).changes;
      return { deleted, done: deleted < limit };
    } catch (error) {
      throw this.#failure(error, 'deleteExpired');
    }
  }

  async ping(): Promise<void> {
    this.#assertOpen('ping');
    try {
      this.#db.prepare('SELECT count(*) FROM sqlite_schema').get();
    } catch (error) {
      throw this.#failure(error, 'ping');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new OnlineStoreError(`The online store ${this.name} is closed`, { store: this.name, operation });
  }

  #failure(error: unknown, operation: string): Error {
    if (error instanceof FlywheelError) return error;
    const code = error instanceof Database.SqliteError ? error.code : undefined;
    const reason = error instanceof Error ? error.message : String(error);
    const context = { store: this.name, operation };
    if (code !== undefined && TRANSIENT_CODES.test(code)) {
      const hint = code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') ? ' (another process holds the write lock)' : '';
      return new OnlineStoreUnavailableError(`Online store ${this.name} unavailable for ${operation}${hint}: ${code}: ${reason}`, context, { cause: error });
    }
    return new OnlineStoreError(`Online store ${this.name} failed ${operation}: ${code ? `${code}: ` : ''}${reason}`, context, { cause: error });
  }
}
