import { createClient, ErrorReply } from 'redis';
import { ConfigError, FlywheelError } from '../../../core/errors.ts';
import { OnlineStoreError, OnlineStoreUnavailableError } from '../online-store-errors.ts';
import { decodeOnlineKey } from '../online-key.ts';
import type { OnlineLayout } from '../online-layouts.ts';
import { decodeStoredBytes, READ_AS_BYTES, withLayouts } from './stored-records.ts';
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
import { randomUUID } from 'node:crypto';
import { expiryBoundsKey, SWEEP_BEGIN_SCRIPT, SWEEP_END_SCRIPT, SWEEP_PAGE_SCRIPT, WRITE_BOUND_SCRIPT, writeBound } from './redis-expiry-bound.ts';
import { eventTimeField, WRITE_SCRIPT, WRITE_SCRIPT_SHA } from './redis-write-script.ts';

/**
 * The production online store: one Redis string per (view, key),
 *
 *   <prefix><view>:<encoded key>  →  <event µs, 17 characters>|<written µs>|<layout id>|<JSON array of the values>
 *   <prefix>__layouts             →  hash { <layout id>: <JSON array of the feature names> }
 *
 * with the prefix `fw:<project>:` unless the profile sets `keyPrefix`, and the key encoded as a JSON
 * array (online-key.ts): `fw:card_fraud:user_stats:[42]`. One string per record, not a hash of
 * fields, because reads are the hot path: one bulk reply per entity is parsed several times faster
 * by the client than 50 (docs/online-store.md, "Why one string per record"). Writes run a Lua
 * script per 100 records (redis-write-script.ts) that replaces a value only when the record is not
 * older; a read is one MGET of every key of the call: one round trip.
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
const WRITE_PIPELINE_RECORDS = 2000;
/** Records per script call: large enough to amortize the call, small enough not to block Redis for long (~0.1 ms). */
const RECORDS_PER_SCRIPT_CALL = 100;
/** Error replies a retry may fix (a loading, busy or failing-over server). Shared with the Redis Cluster store. */
export const TRANSIENT_REPLIES = new Set(['LOADING', 'BUSY', 'TRYAGAIN', 'MASTERDOWN', 'CLUSTERDOWN', 'READONLY', 'OOM', 'NOREPLICAS']);

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
    return this.#write(prepareRecords(records), 'write');
  }

  async writeEncoded(batch: EncodedOnlineBatch): Promise<OnlineWriteResult> {
    return this.#write(prepareEncodedBatch(batch), 'writeEncoded');
  }

  async read(requests: readonly OnlineReadRequest[], now: Date): Promise<OnlineValue[]> {
    const prepared = prepareRequests(requests);
    const at = nowMicros(now);
    const found = await this.#fetch(prepared.map((p) => ({ view: p.request.view, encodedKey: p.encodedKey })), 'read');
    return toOnlineValues(prepared, found, at);
  }

  async readEncoded(requests: readonly OnlineKeyRequest[]): Promise<(EncodedOnlineRecord | undefined)[]> {
    return this.#fetch(prepareKeys(requests), 'readEncoded');
  }

  /** At most SAMPLE_SCAN_PAGES SCAN pages of the view's keys: a view that is a small part of a large keyspace may give fewer than `limit`. */
  async sampleKeys(view: string, limit: number): Promise<OnlineKeyPart[][]> {
    checkView(view);
    checkSweepLimit(view, limit);
    await this.#ready('sampleKeys');
    const scan: ScanPage = (cursor, match) => this.#command(['SCAN', cursor, 'MATCH', match, 'COUNT', '1000'], 'sampleKeys') as Promise<[string, string[]]>;
    return sampleKeysByScan([scan], `${this.keyPrefix}${view}:`, limit);
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

  /**
   * Keys written with a ttl expire on their own (PEXPIREAT); this sweep finds the others (written
   * before their view had a ttl, or by a writer that gave none): SCAN the view's keys a page at a
   * time and remove the expired ones with a script that checks and removes in one step. When the
   * view's expiry bound says every key expires by itself within the ttl, there are none, and it
   * returns at once (redis-expiry-bound.ts; a sweep as of a later instant than the clock's still
   * scans: Redis expires keys by its own clock).
   */
  async deleteExpired(view: string, ttlSeconds: number, now: Date, limit: number): Promise<{ deleted: number; done: boolean }> {
    checkView(view);
    const before = expiredBeforeMicros(view, ttlSeconds, now);
    checkSweepLimit(view, limit);
    await this.#ready('deleteExpired');
    const ttlMicros = String(Math.round(ttlSeconds * 1_000_000));
    const token = randomUUID();
    const bounds = expiryBoundsKey(this.keyPrefix);
    const begun = await this.#command(['EVAL', SWEEP_BEGIN_SCRIPT, '2', bounds, this.#layoutsKey, view, ttlMicros, token], 'deleteExpired');
    if (begun === 'skip' && now.getTime() <= Date.now()) return { deleted: 0, done: true };
    const match = `${escapeGlob(`${this.keyPrefix}${view}:`)}*`;
    let deleted = 0;
    let unbounded = 0;
    let cursor = '0';
    do {
      const [next, keys] = (await this.#command(['SCAN', cursor, 'MATCH', match, 'COUNT', '1000'], 'deleteExpired')) as [string, string[]];
      if (keys.length > 0) {
        const [removed, kept] = (await this.#command(['EVAL', SWEEP_PAGE_SCRIPT, String(keys.length), ...keys, String(before), String(limit - deleted), ttlMicros], 'deleteExpired')) as [number, number];
        deleted += Number(removed);
        unbounded += Number(kept);
      }
      cursor = next;
    } while (cursor !== '0' && deleted < limit);
    const done = cursor === '0' && deleted < limit;
    if (begun !== 'skip') await this.#command(['EVAL', SWEEP_END_SCRIPT, '1', bounds, view, ttlMicros, token, done && unbounded === 0 ? '1' : '0'], 'deleteExpired');
    return { deleted, done };
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

  async #write(prepared: readonly PreparedRecord[], operation: string): Promise<OnlineWriteResult> {
    this.#assertOpen(operation);
    if (prepared.length === 0) return { written: 0, skippedOlder: 0 };
    await this.#ready(operation);
    const writtenPrefix = `|${Date.now() * 1000}|`;
    let written = 0;
    for (let start = 0; start < prepared.length; start += WRITE_PIPELINE_RECORDS) {
      written += await this.#writePipeline(prepared.slice(start, start + WRITE_PIPELINE_RECORDS), writtenPrefix, operation);
    }
    return { written, skippedOlder: prepared.length - written };
  }

  async #writePipeline(records: readonly PreparedRecord[], writtenPrefix: string, operation: string): Promise<number> {
    const commands: string[][] = [];
    // Each view's expiry bound kept true before its records land (redis-expiry-bound.ts), and
    // before the layouts: a prefix without them yet is one whose every record keeps bounds.
    const byView = new Map<string, PreparedRecord[]>();
    for (const record of records) {
      const same = byView.get(record.view);
      if (same) same.push(record);
      else byView.set(record.view, [record]);
    }
    for (const [view, same] of byView) commands.push(['EVAL', WRITE_BOUND_SCRIPT, '2', expiryBoundsKey(this.keyPrefix), this.#layoutsKey, view, writeBound(same)]);
    // Every layout of the pipeline, registered before its records (HSETNX: a no-op once there).
    const layouts = new Set<OnlineLayout>(records.map((r) => r.layout));
    for (const layout of layouts) commands.push(['HSETNX', this.#layoutsKey, layout.id, JSON.stringify(layout.features)]);
    const first = commands.length;
    for (let start = 0; start < records.length; start += RECORDS_PER_SCRIPT_CALL) {
      const batch = records.slice(start, start + RECORDS_PER_SCRIPT_CALL);
      const args = ['EVALSHA', WRITE_SCRIPT_SHA, String(batch.length)];
      for (const record of batch) args.push(this.#key(record.view, record.encodedKey));
      for (const record of batch) {
        args.push(`${eventTimeField(record.eventMicros)}${writtenPrefix}${record.layout.id}|${record.values}`, record.expireAtMillis === undefined ? '' : String(record.expireAtMillis));
      }
      commands.push(args);
    }
    // Loading the script costs nothing when Redis has it, and rides in the same pipeline.
    const load = this.#scriptLoaded ? [] : [['SCRIPT', 'LOAD', WRITE_SCRIPT]];
    let replies = await this.#pipeline([...load, ...commands], operation);
    if (load.length > 0) {
      const loaded = replies[0]!;
      if (loaded.status === 'rejected') throw this.#failure(loaded.reason, operation);
      this.#scriptLoaded = true;
      replies = replies.slice(1);
    }
    // Someone ran SCRIPT FLUSH between our load and the calls: those not run are safe to resend.
    const flushed = replies.flatMap((reply, i) => (reply.status === 'rejected' && isNoScript(reply.reason) ? [i] : []));
    if (flushed.length > 0) {
      const retried = await this.#pipeline([['SCRIPT', 'LOAD', WRITE_SCRIPT], ...flushed.map((i) => commands[i]!)], operation);
      flushed.forEach((index, j) => {
        replies[index] = retried[j + 1]!;
      });
    }
    let written = 0;
    for (const [i, reply] of replies.entries()) {
      if (reply.status === 'rejected') throw this.#failure(reply.reason, operation);
      if (i >= first) written += Number(reply.value);
    }
    return written;
  }

  /** One MGET for every key, then (rarely) one HMGET for layouts this process has not seen yet. */
  async #fetch(keys: readonly PreparedKey[], operation: string): Promise<(EncodedOnlineRecord | undefined)[]> {
    this.#assertOpen(operation);
    if (keys.length === 0) return [];
    // The hot path of serving: no wait (and no await) while connected.
    if (!this.#client.isReady) await this.#ready(operation);
    const args = new Array<string>(keys.length + 1);
    args[0] = 'MGET';
    for (let i = 0; i < keys.length; i++) args[i + 1] = this.#key(keys[i]!.view, keys[i]!.encodedKey);
    const reply = (await this.#command(args, operation, READ_AS_BYTES)) as (Buffer | null)[];
    const context = { store: this.name, operation };
    const decoded = decodeStoredBytes(reply, (i) => args[i + 1]!, context);
    const readLayouts = async (ids: string[]) => (await this.#command(['HMGET', this.#layoutsKey, ...ids], operation)) as (string | null)[];
    return withLayouts(decoded, readLayouts, this.#layoutsKey, context);
  }

  get #layoutsKey(): string {
    return `${this.keyPrefix}__layouts`;
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

  /** One command; its error reply, a connection failure or a timeout throws. */
  async #command(args: string[], operation: string, options?: typeof READ_AS_BYTES): Promise<Reply> {
    try {
      return await this.#withDeadline(this.#client.sendCommand<Reply>(args, options), operation);
    } catch (error) {
      throw this.#failure(error, operation);
    }
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

  /** `work`, or OnlineStoreUnavailableError once `commandTimeoutMs` passed. */
  #withDeadline<T>(work: Promise<T>, operation: string): Promise<T> {
    return withCommandDeadline(work, this.name, operation, this.#commandTimeoutMs);
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

/**
 * `work`, or OnlineStoreUnavailableError once `timeoutMs` passed (one timer, no race of promises):
 * the command deadline of the Redis and Redis Cluster stores.
 */
export function withCommandDeadline<T>(work: Promise<T>, store: string, operation: string, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new OnlineStoreUnavailableError(`Online store ${store} did not answer ${operation} within ${timeoutMs} ms`, { store, operation })),
      timeoutMs,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
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

export function isNoScript(error: unknown): boolean {
  return error instanceof ErrorReply && error.message.startsWith('NOSCRIPT');
}

/** SCAN pages read at most by sampleKeys (each looks at about 1,000 keys of the whole keyspace). */
const SAMPLE_SCAN_PAGES = 10;

/** One SCAN page of a node: the next cursor and the keys it found. */
export type ScanPage = (cursor: string, match: string) => Promise<[string, string[]]>;

/**
 * Up to `limit` keys under `prefix` (`<key prefix><view>:`), read by SCAN from each node in turn
 * (one for a single Redis, every master of a cluster), SAMPLE_SCAN_PAGES pages at most in all.
 */
export async function sampleKeysByScan(nodes: readonly ScanPage[], prefix: string, limit: number): Promise<OnlineKeyPart[][]> {
  const match = `${escapeGlob(prefix)}*`;
  const keys: OnlineKeyPart[][] = [];
  let pages = 0;
  for (const scan of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await scan(cursor, match);
      keys.push(...sampledKeys(found, prefix, limit - keys.length));
      cursor = next;
    } while (cursor !== '0' && keys.length < limit && ++pages < SAMPLE_SCAN_PAGES);
    if (keys.length >= limit || pages >= SAMPLE_SCAN_PAGES) break;
  }
  return keys;
}

/** The keys of `view` among Redis keys `<prefix><encoded key>` (SCAN's page), at most `limit`. */
function sampledKeys(redisKeys: readonly string[], prefix: string, limit: number): OnlineKeyPart[][] {
  const keys: OnlineKeyPart[][] = [];
  for (const redisKey of redisKeys) {
    if (keys.length >= limit) break;
    // MATCH is a glob: a view `a` with prefix `fw:a:` never matches `fw:ab:…`, yet check the prefix itself.
    if (!redisKey.startsWith(prefix)) continue;
    const key = decodeOnlineKey(redisKey.slice(prefix.length));
    if (key !== undefined) keys.push(key);
  }
  return keys;
}

/** Escapes `*?[]\` so a key prefix matches itself in SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
