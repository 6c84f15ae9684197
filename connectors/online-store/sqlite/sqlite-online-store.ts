import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { FlywheelError } from '../../../core/errors.ts';
import { OnlineStoreError, OnlineStoreUnavailableError } from '../online-store-errors.ts';
import { checkView, nowMicros, prepareRecords, prepareRequests, toOnlineValues, type StoredRecord } from '../online-records.ts';
import type { OnlineReadRequest, OnlineRecord, OnlineStore, OnlineValue, OnlineWriteResult } from '../online-store.ts';

/**
 * The embedded online store: one SQLite file (better-sqlite3), one table, WAL mode so readers in
 * other processes (the HTTP server) never wait for the writer (materialization).
 *
 *   online_values(view TEXT, key TEXT, values_json TEXT, event_time INTEGER, written_at INTEGER,
 *                 PRIMARY KEY (view, key)) WITHOUT ROWID
 *
 * `key` is the JSON-array key encoding (online-key.ts), `values_json` a JSON object of the features,
 * times are microseconds since the epoch. A write is one transaction of upserts whose
 * `WHERE excluded.event_time >= event_time` keeps the newer record; a read is one statement for the
 * whole batch. better-sqlite3 is synchronous: calls block the event loop while they run (about a
 * millisecond for 500 keys).
 */

export const SQLITE_ONLINE_SCHEMA = `CREATE TABLE IF NOT EXISTS online_values (
  view TEXT NOT NULL,
  key TEXT NOT NULL,
  values_json TEXT NOT NULL,
  event_time INTEGER NOT NULL,
  written_at INTEGER NOT NULL,
  PRIMARY KEY (view, key)
) WITHOUT ROWID`;

/** Inserts a record, or replaces the stored one when it is not newer; `changes` is 0 when skipped. */
export const SQLITE_UPSERT = `INSERT INTO online_values (view, key, values_json, event_time, written_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (view, key) DO UPDATE SET
  values_json = excluded.values_json, event_time = excluded.event_time, written_at = excluded.written_at
WHERE excluded.event_time >= online_values.event_time`;

/**
 * Reads a batch in one statement: the parameter is a JSON array of `[view, key]` pairs, and each
 * found row carries the position of its request. CROSS JOIN keeps the pairs as the outer loop, so
 * each is one primary-key lookup.
 */
export const SQLITE_READ = `SELECT r.key AS position, v.values_json AS valuesJson, v.event_time AS eventMicros, v.written_at AS writtenMicros
FROM json_each(?) AS r CROSS JOIN online_values AS v
WHERE v.view = r.value ->> 0 AND v.key = r.value ->> 1`;

export interface SqliteOnlineStoreOptions {
  /** The database file; created with its folder when missing. Should be absolute (the config loader resolves it). */
  path: string;
  /** How long a write waits for another process's write lock before failing as unavailable. Default 5,000 ms. */
  busyTimeoutMs?: number;
}

interface ReadRow {
  position: number;
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
  readonly #upsert: Database.Statement<[string, string, string, number, number]>;
  readonly #read: Database.Statement<[string], ReadRow>;
  readonly #deleteView: Database.Statement<[string]>;
  readonly #writeBatch: (records: ReturnType<typeof prepareRecords>, writtenMicros: number) => number;
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
      this.#read = this.#db.prepare(SQLITE_READ);
      this.#deleteView = this.#db.prepare('DELETE FROM online_values WHERE view = ?');
    } catch (error) {
      this.#db.close();
      throw this.#failure(error, 'open');
    }
    const upsert = this.#upsert;
    this.#writeBatch = this.#db.transaction((records: ReturnType<typeof prepareRecords>, writtenMicros: number) => {
      let written = 0;
      for (const record of records) {
        written += upsert.run(record.view, record.encodedKey, JSON.stringify(record.values), record.eventMicros, writtenMicros).changes;
      }
      return written;
    }).immediate;
  }

  async write(records: readonly OnlineRecord[]): Promise<OnlineWriteResult> {
    const prepared = prepareRecords(records);
    this.#assertOpen('write');
    if (prepared.length === 0) return { written: 0, skippedOlder: 0 };
    try {
      const written = this.#writeBatch(prepared, Date.now() * 1000);
      return { written, skippedOlder: prepared.length - written };
    } catch (error) {
      throw this.#failure(error, 'write');
    }
  }

  async read(requests: readonly OnlineReadRequest[], now: Date): Promise<OnlineValue[]> {
    const prepared = prepareRequests(requests);
    const at = nowMicros(now);
    this.#assertOpen('read');
    if (prepared.length === 0) return [];
    let rows: ReadRow[];
    try {
      rows = this.#read.all(JSON.stringify(prepared.map((p) => [p.request.view, p.encodedKey])));
    } catch (error) {
      throw this.#failure(error, 'read');
    }
    const found = new Array<StoredRecord | undefined>(prepared.length);
    for (const row of rows) {
      found[row.position] = { values: JSON.parse(row.valuesJson) as StoredRecord['values'], eventMicros: row.eventMicros, writtenMicros: row.writtenMicros };
    }
    return toOnlineValues(prepared, found, at);
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
