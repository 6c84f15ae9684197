import { createClient, ErrorReply } from 'redis';
import { ConfigError, FlywheelError } from '../../../core/errors.ts';
import { OnlineStoreError, OnlineStoreUnavailableError } from '../online-store-errors.ts';
import { checkView, nowMicros, prepareRecords, prepareRequests, toOnlineValues, type PreparedRecord, type StoredRecord } from '../online-records.ts';
import type { OnlineFeatureValue, OnlineReadRequest, OnlineRecord, OnlineStore, OnlineValue, OnlineWriteResult } from '../online-store.ts';
import { EVENT_TIME_FIELD, WRITE_SCRIPT, WRITE_SCRIPT_SHA, WRITTEN_AT_FIELD } from './redis-write-script.ts';

/**
 * The production online store: one Redis hash per (view, key),
 *
 *   <prefix><view>:<encoded key>  →  { <feature>: <JSON value>, ..., __event_time: <µs>, __written_at: <µs> }
 *
 * with the prefix `fw:<project>:` unless the profile sets `keyPrefix`, and the key encoded as a JSON
 * array (online-key.ts): `fw:card_fraud:user_stats:[42]`. Writes run a Lua script per record
 * (redis-write-script.ts) that replaces the hash only when the record is not older; reads send one
 * HGETALL (or HMGET for a feature subset) per request, all in one pipeline: one round trip per call.
 *
 * Failing fast: commands are never queued while Redis is unreachable (`disableOfflineQueue`); a
 * call waits at most `connectTimeoutMs` for a connection and `commandTimeoutMs` for its replies,
 * then throws OnlineStoreUnavailableError. The client keeps reconnecting in the background (every
 * `maxReconnectDelayMs` at most), so the same store works again once Redis is back.
 */

export interface RedisOnlineStoreOptions {
  /** `redis://host:6379` or `rediss://…` (TLS), optionally with a user and a database number (`/2`). */
  url: string;
  /** From the environment variable the profile names; never from the config. */
  password?: string;
  /** Prefix of every key, e.g. `fw:card_fraud:`. */
  keyPrefix: string;
  /** How long a call waits for a connection (and one connection attempt lasts). Default 1,000 ms. */
  connectTimeoutMs?: number;
  /** How long a call waits for the replies of one pipeline. Default 5,000 ms. */
  commandTimeoutMs?: number;
  /** Longest pause between reconnection attempts (they back off from 50 ms). Default 500 ms. */
  maxReconnectDelayMs?: number;
}

/** Records per pipeline of a write: bounds the memory of one round trip, not the size of a call. */
const WRITE_PIPELINE_RECORDS = 1000;
/** Error replies a retry may fix (a loading, busy or failing-over server). */
const TRANSIENT_REPLIES = new Set(['LOADING', 'BUSY', 'TRYAGAIN', 'MASTERDOWN', 'CLUSTERDOWN', 'READONLY', 'OOM', 'NOREPLICAS']);

type Reply = unknown;

export class RedisOnlineStore implements OnlineStore {
  /** The URL without its password, as errors name it. */
  readonly name: string;
  readonly keyPrefix: string;
  readonly #client: ReturnType<typeof createClient>;
  readonly #connectTimeoutMs: number;
  readonly #commandTimeoutMs: number;
  #lastError: unknown;
  #nextReady: Promise<void> | undefined;
  /** Whether this connection has sent SCRIPT LOAD since it (re)connected. */
  #scriptLoaded = false;
  #closed = false;

  constructor(options: RedisOnlineStoreOptions) {
    this.name = redactUrl(options.url);
    this.keyPrefix = options.keyPrefix;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 1000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    const maxDelay = options.maxReconnectDelayMs ?? 500;
    try {
      this.#client = createClient({
        url: options.url,
        ...(options.password !== undefined ? { password: options.password } : {}),
        disableOfflineQueue: true,
        socket: {
          connectTimeout: this.#connectTimeoutMs,
          // Never give up: a number means "try again in that many ms".
          reconnectStrategy: (retries) => Math.min(50 * 2 ** Math.min(retries, 10), maxDelay),
        },
      });
    } catch (error) {
      throw new ConfigError(`invalid Redis URL ${this.name}: ${error instanceof Error ? error.message : String(error)}`, { field: 'onlineStore.url' }, { cause: error });
    }
    // Without a listener, node-redis's 'error' events would crash the process.
    this.#client.on('error', (error: unknown) => {
      this.#lastError = error;
    });
    this.#client.on('ready', () => {
      this.#lastError = undefined;
      this.#scriptLoaded = false;
    });
    // Resolves once connected; with a reconnect strategy that never gives up it does not reject
    // while the store is open. Calls wait for readiness in #ready().
    this.#client.connect().catch((error: unknown) => {
      this.#lastError = error;
    });
  }

  async write(records: readonly OnlineRecord[]): Promise<OnlineWriteResult> {
    const prepared = prepareRecords(records);
    this.#assertOpen('write');
    if (prepared.length === 0) return { written: 0, skippedOlder: 0 };
    await this.#ready('write');
    const writtenAt = String(Date.now() * 1000);
    let written = 0;
    for (let start = 0; start < prepared.length; start += WRITE_PIPELINE_RECORDS) {
      written += await this.#writePipeline(prepared.slice(start, start + WRITE_PIPELINE_RECORDS), writtenAt);
    }
    return { written, skippedOlder: prepared.length - written };
  }

  async read(requests: readonly OnlineReadRequest[], now: Date): Promise<OnlineValue[]> {
    const prepared = prepareRequests(requests);
    const at = nowMicros(now);
    this.#assertOpen('read');
    if (prepared.length === 0) return [];
    await this.#ready('read');
    const commands = prepared.map(({ request, encodedKey }) => {
      const key = this.#key(request.view, encodedKey);
      return request.features === undefined ? ['HGETALL', key] : ['HMGET', key, EVENT_TIME_FIELD, WRITTEN_AT_FIELD, ...request.features];
    });
    const replies = await this.#pipeline(commands, 'read');
    const found = prepared.map((p, i) => {
      const reply = replies[i]!;
      if (reply.status === 'rejected') throw this.#failure(reply.reason, 'read');
      return p.request.features === undefined ? fromHash(reply.value) : fromFields(reply.value, p.request.features);
    });
    return toOnlineValues(prepared, found, at);
  }

  async deleteView(view: string): Promise<void> {
    checkView(view);
    await this.#ready('deleteView');
    const match = `${escapeGlob(`${this.keyPrefix}${view}:`)}*`;
    let cursor = '0';
    do {
      const reply = await this.#command(['SCAN', cursor, 'MATCH', match, 'COUNT', '1000'], 'deleteView');
      const [next, keys] = reply as [string, string[]];
      if (keys.length > 0) await this.#command(['UNLINK', ...keys], 'deleteView');
      cursor = next;
    } while (cursor !== '0');
  }

  async ping(): Promise<void> {
    await this.#ready('ping');
    await this.#command(['PING'], 'ping');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#client.isReady) await this.#client.close();
      else this.#client.destroy();
    } catch {
      // Already closed by node-redis (a failed connection): nothing left to release.
    }
  }

  /** The Redis key of a record. */
  #key(view: string, encodedKey: string): string {
    return `${this.keyPrefix}${view}:${encodedKey}`;
  }

  async #writePipeline(records: readonly PreparedRecord[], writtenAt: string): Promise<number> {
    const commands = records.map((record) => {
      const args = ['EVALSHA', WRITE_SCRIPT_SHA, '1', this.#key(record.view, record.encodedKey), String(record.eventMicros), writtenAt];
      for (const [name, value] of Object.entries(record.values)) args.push(name, JSON.stringify(value));
      return args;
    });
    // Loading the script costs nothing when Redis has it, and rides in the same pipeline.
    const load = this.#scriptLoaded ? [] : [['SCRIPT', 'LOAD', WRITE_SCRIPT]];
    let replies = await this.#pipeline([...load, ...commands], 'write');
    if (load.length > 0) {
      const loaded = replies[0]!;
      if (loaded.status === 'rejected') throw this.#failure(loaded.reason, 'write');
      this.#scriptLoaded = true;
      replies = replies.slice(1);
    }
    // Someone ran SCRIPT FLUSH between our load and the calls: those not run are safe to resend.
    const flushed = replies.flatMap((reply, i) => (reply.status === 'rejected' && isNoScript(reply.reason) ? [i] : []));
    if (flushed.length > 0) {
      const retried = await this.#pipeline([['SCRIPT', 'LOAD', WRITE_SCRIPT], ...flushed.map((i) => commands[i]!)], 'write');
      flushed.forEach((index, j) => {
        replies[index] = retried[j + 1]!;
      });
    }
    let written = 0;
    for (const reply of replies) {
      if (reply.status === 'rejected') throw this.#failure(reply.reason, 'write');
      written += Number(reply.value);
    }
    return written;
  }

  /**
   * Sends commands in one pipeline (node-redis writes the commands of one tick in one go) and
   * settles each. Connection failures and timeouts throw; error replies are returned for the caller.
   */
  async #pipeline(commands: readonly string[][], operation: string): Promise<PromiseSettledResult<Reply>[]> {
    const settled = await this.#withDeadline(Promise.allSettled(commands.map((args) => this.#client.sendCommand<Reply>(args))), operation);
    for (const reply of settled) {
      if (reply.status === 'rejected' && !(reply.reason instanceof ErrorReply)) throw this.#failure(reply.reason, operation);
    }
    return settled;
  }

  async #command(args: string[], operation: string): Promise<Reply> {
    const [reply] = await this.#pipeline([args], operation);
    if (reply!.status === 'rejected') throw this.#failure(reply!.reason, operation);
    return reply!.value;
  }

  /** Resolves when the client is connected; waits at most connectTimeoutMs for a (re)connection. */
  async #ready(operation: string): Promise<void> {
    this.#assertOpen(operation);
    if (this.#client.isReady) return;
    this.#nextReady ??= new Promise<void>((resolve) => {
      this.#client.once('ready', () => {
        this.#nextReady = undefined;
        resolve();
      });
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#connectTimeoutMs);
    });
    const outcome = await Promise.race([this.#nextReady, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const why = this.#lastError instanceof Error ? this.#lastError.message : 'no connection yet';
      throw new OnlineStoreUnavailableError(
        `Online store ${this.name} unavailable for ${operation}: cannot connect within ${this.#connectTimeoutMs} ms (${why})`,
        { store: this.name, operation },
        { cause: this.#lastError },
      );
    }
  }

  #assertOpen(operation: string): void {
    if (this.#closed) throw new OnlineStoreError(`The online store ${this.name} is closed`, { store: this.name, operation });
  }

  async #withDeadline<T>(work: Promise<T>, operation: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new OnlineStoreUnavailableError(`Online store ${this.name} did not answer ${operation} within ${this.#commandTimeoutMs} ms`, { store: this.name, operation })),
        this.#commandTimeoutMs,
      );
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  #failure(error: unknown, operation: string): Error {
    if (error instanceof FlywheelError) return error;
    const context = { store: this.name, operation };
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ErrorReply) {
      const code = message.split(' ', 1)[0] ?? '';
      if (TRANSIENT_REPLIES.has(code)) return new OnlineStoreUnavailableError(`Online store ${this.name} unavailable for ${operation}: ${message}`, context, { cause: error });
      return new OnlineStoreError(`Online store ${this.name} refused ${operation}: ${message}`, context, { cause: error });
    }
    if (this.#closed) return new OnlineStoreError(`The online store ${this.name} was closed during ${operation}`, context, { cause: error });
    return new OnlineStoreUnavailableError(`Online store ${this.name} unavailable for ${operation}: ${message}`, context, { cause: error });
  }
}

/** `redis://user:secret@host:6379/1` → `redis://user@host:6379/1`: what errors and logs may show. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : '';
    const path = parsed.pathname && parsed.pathname !== '/' ? parsed.pathname : '';
    return `${parsed.protocol}//${user}${parsed.host}${path}`;
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof ErrorReply && error.message.startsWith('NOSCRIPT');
}

/** Escapes `*?[]\` so a key prefix matches itself in SCAN MATCH. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

function parseValue(json: string): OnlineFeatureValue {
  return JSON.parse(json) as OnlineFeatureValue;
}

/** An HGETALL reply (RESP2: a flat array of field, value, ...). */
function fromHash(reply: Reply): StoredRecord | undefined {
  const flat = reply as string[];
  let eventMicros: number | undefined;
  let writtenMicros = 0;
  const values: Record<string, OnlineFeatureValue> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const field = flat[i]!;
    const value = flat[i + 1]!;
    if (field === EVENT_TIME_FIELD) eventMicros = Number(value);
    else if (field === WRITTEN_AT_FIELD) writtenMicros = Number(value);
    else values[field] = parseValue(value);
  }
  return eventMicros === undefined ? undefined : { values, eventMicros, writtenMicros };
}

/** An HMGET reply for `__event_time`, `__written_at` and `features`, in that order. */
function fromFields(reply: Reply, features: readonly string[]): StoredRecord | undefined {
  const [eventTime, writtenAt, ...rest] = reply as (string | null)[];
  if (eventTime === null || eventTime === undefined) return undefined;
  const values: Record<string, OnlineFeatureValue> = {};
  features.forEach((name, i) => {
    const value = rest[i];
    values[name] = value === null || value === undefined ? null : parseValue(value);
  });
  return { values, eventMicros: Number(eventTime), writtenMicros: Number(writtenAt ?? 0) };
}
