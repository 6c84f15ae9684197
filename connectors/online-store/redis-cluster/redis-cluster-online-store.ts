import { createHash } from 'node:crypto';
import { createCluster, ErrorReply } from 'redis';
import { ConfigError, FlywheelError } from '../../../core/errors.ts';
import { OnlineStoreError, OnlineStoreUnavailableError } from '../online-store-errors.ts';
import type { OnlineLayout } from '../online-layouts.ts';
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
import { escapeGlob, isNoScript, redactUrl, sampleKeysByScan, TRANSIENT_REPLIES, withCommandDeadline, type ScanPage } from '../redis/redis-online-store.ts';
import { decodeStoredBytes, READ_AS_BYTES, withLayouts } from '../redis/stored-records.ts';
import { DELETE_EXPIRED_SCRIPT, EVENT_TIME_WIDTH, eventTimeField, WRITE_SCRIPT, WRITE_SCRIPT_SHA } from '../redis/redis-write-script.ts';
import { groupBySlot, slotOf } from './slot-groups.ts';

/**
 * The online store on Redis Cluster: the single-node store's keys and values, unchanged
 * (redis/redis-online-store.ts: `<prefix><view>:<encoded key>` → `<event µs>|<written µs>|<layout>|<JSON>`,
 * layouts in `<prefix>__layouts`), so a store moves between one Redis and a cluster with its keys as
 * they are. No hash tags: the keys of one request live in many slots, and a multi-key command may
 * only touch one slot, so calls group their keys by the slot map node-redis's cluster client keeps
 * (by shard for reads, by slot for writes: slot-groups.ts):
 *
 * - a read sends one call of a read script per shard (READ_SCRIPT: GET of each of the shard's keys
 *   inside Redis, allowed across slots by the script flag `allow-cross-slot-keys`, Redis 7.0+), every
 *   shard at once: one command and one round trip per shard, in parallel. A shard that refuses
 *   because a key is not its own (a slot moved or moving) is read again the general way: one MGET
 *   per slot group, sent in the same tick so each shard still gets one pipeline;
 * - a write runs the single-node newer-wins script (redis-write-script.ts) once per slot group of
 *   up to 100 records (a script may only touch keys of one slot, which is what makes its compare
 *   and set atomic in a cluster too), the calls of a wave of records pipelined per shard;
 * - MOVED (a slot moved to another node) makes node-redis refresh its slot map and resend; ASK (a
 *   slot being migrated) resends to the importing node; TRYAGAIN (a multi-key command whose keys
 *   are split by a migration in progress) is answered by resending the group one key at a time.
 *
 * Failing fast as the single-node store does: no offline queue, `connectTimeoutMs` to (re)connect,
 * `commandTimeoutMs` per pipeline, then OnlineStoreUnavailableError. A cluster that could not be
 * reached at all is tried again on the next call.
 */

export interface RedisClusterOnlineStoreOptions {
  /** Seed nodes, `redis://host:port` (or `rediss://`); the other nodes are found from the first that answers (CLUSTER SLOTS). */
  urls: readonly string[];
  /** From the environment variable the profile names; every node shares it. */
  password?: string;
  /** Prefix of every key, e.g. `fw:card_fraud:`. */
  keyPrefix: string;
  /** How long a call waits for the cluster's slot map and connections. Default 1,000 ms. */
  connectTimeoutMs?: number;
  /** How long a call waits for the replies of one wave of commands. Default 5,000 ms. */
  commandTimeoutMs?: number;
  /** Longest pause between reconnection attempts to a node (they back off from 50 ms). Default 500 ms. */
  maxReconnectDelayMs?: number;
  /**
   * Where to connect for a node the cluster announces as `host:port`, when that address is not
   * reachable as is (NAT, containers; the tests put a proxy in front of each node). Default: as announced.
   */
  nodeAddressMap?: (address: string) => { host: string; port: number } | undefined;
}

/** Records per wave of a write: bounds the memory of one round trip, not the size of a call. */
const WRITE_WAVE_RECORDS = 2000;
/** Records per script call, as the single-node store: amortizes the call, never blocks a shard for long. */
const RECORDS_PER_SCRIPT_CALL = 100;
/** Keys per SCAN page of a sweep or a view deletion. */
const SCAN_COUNT = '1000';

type Reply = unknown;
type Cluster = ReturnType<typeof createCluster>;
type ClusterNode = Cluster['masters'][number];
/** How a reply is decoded (READ_AS_BYTES for records); node-redis's default (text) when absent. */
type ReadOptions = typeof READ_AS_BYTES;

/** One script call: up to 100 records of one slot, and the command that writes them. */
interface ScriptCall {
  readonly records: readonly PreparedRecord[];
  readonly keys: readonly string[];
  readonly args: string[];
}

export class RedisClusterOnlineStore implements OnlineStore {
  /** The seed URLs without their passwords, as errors name the store: `redis://a:7000,redis://b:7001`. */
  readonly name: string;
  readonly keyPrefix: string;
  readonly #cluster: Cluster;
  readonly #connectTimeoutMs: number;
  readonly #commandTimeoutMs: number;
  #connecting: Promise<void> | undefined;
  #connected = false;
  #lastError: unknown;
  /** Why the last seed of a discovery failed, reported instead of node-redis's summary. */
  #seedError: unknown;
  /** Whether reads take one script call per shard (#getPerNode); off for good once a node cannot run it. */
  #perNodeReads = true;
  /** Nodes (`host:port`) known to hold the write script; a node that lost it answers NOSCRIPT and gets it by EVAL. */
  readonly #scriptLoadedOn = new Set<string>();
  #closed = false;

  constructor(options: RedisClusterOnlineStoreOptions) {
    if (!Array.isArray(options.urls) || options.urls.length === 0) throw new ConfigError('name at least one node of the Redis Cluster', { field: 'onlineStore.urls' });
    this.name = options.urls.map(redactUrl).join(',');
    this.keyPrefix = options.keyPrefix;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 1000;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 5000;
    const maxDelay = options.maxReconnectDelayMs ?? 500;
    const seeds = options.urls.map((url, i) => parseSeed(url, i));
    const tls = seeds[0]!.tls;
    const username = seeds.find((s) => s.username !== undefined)?.username;
    this.#cluster = createCluster({
      rootNodes: seeds.map((seed) => ({ url: seed.url })),
      // Every node connection: the same credentials, no offline queue, reconnecting for ever.
      defaults: {
        ...(username !== undefined ? { username } : {}),
        ...(options.password !== undefined ? { password: options.password } : {}),
        disableOfflineQueue: true,
        socket: {
          connectTimeout: this.#connectTimeoutMs,
          reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 10), maxDelay),
          ...(tls ? { tls: true as const } : {}),
        },
      },
      ...(options.nodeAddressMap ? { nodeAddressMap: options.nodeAddressMap } : {}),
    });
    // Without listeners, node-redis's 'error' events would crash the process.
    this.#cluster.on('error', (error: unknown) => {
      this.#lastError = error;
      this.#seedError = error;
    });
    this.#cluster.on('node-error', (error: unknown) => {
      this.#lastError = error;
    });
    this.#cluster.on('node-ready', () => {
      // A node that (re)connected may be a restarted process without the script.
      this.#scriptLoadedOn.clear();
    });
    void this.#connect();
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

  /** The masters in turn, SAMPLE_SCAN_PAGES SCAN pages at most in all, until `limit` keys. */
  async sampleKeys(view: string, limit: number): Promise<OnlineKeyPart[][]> {
    checkView(view);
    checkSweepLimit(view, limit);
    await this.#ready('sampleKeys');
    const scans = [...this.#cluster.masters].map((master): ScanPage => (cursor, match) =>
      this.#onNode(master, ['SCAN', cursor, 'MATCH', match, 'COUNT', SCAN_COUNT], 'sampleKeys') as Promise<[string, string[]]>);
    return sampleKeysByScan(scans, `${this.keyPrefix}${view}:`, limit);
  }

  /** SCANs every master for the view's keys (masters in parallel) and UNLINKs each page, one command per slot. */
  async deleteView(view: string): Promise<void> {
    checkView(view);
    await this.#ready('deleteView');
    const match = `${escapeGlob(`${this.keyPrefix}${view}:`)}*`;
    await this.#withDeadline(
      Promise.all(
        this.#cluster.masters.map(async (master) => {
          let cursor = '0';
          do {
            const [next, keys] = (await this.#onNode(master, ['SCAN', cursor, 'MATCH', match, 'COUNT', SCAN_COUNT], 'deleteView')) as [string, string[]];
            if (keys.length > 0) await this.#perSlot(keys, (group) => ['UNLINK', ...group], 'deleteView');
            cursor = next;
          } while (cursor !== '0');
        }),
      ),
      'deleteView',
    );
  }

  /**
   * As the single-node store: keys written with a ttl expire on their own; this sweep finds the
   * others. SCAN each master a page at a time, read the page's event times (GETRANGE, one pipeline
   * per shard), and remove at most the `limit - deleted` first expired ones with the check-and-remove
   * script, one call per slot (a record replaced by a newer one meanwhile is never removed).
   */
  async deleteExpired(view: string, ttlSeconds: number, now: Date, limit: number): Promise<{ deleted: number; done: boolean }> {
    checkView(view);
    const before = expiredBeforeMicros(view, ttlSeconds, now);
    checkSweepLimit(view, limit);
    await this.#ready('deleteExpired');
    const match = `${escapeGlob(`${this.keyPrefix}${view}:`)}*`;
    let deleted = 0;
    for (const master of [...this.#cluster.masters]) {
      let cursor = '0';
      do {
        const [next, keys] = (await this.#onNode(master, ['SCAN', cursor, 'MATCH', match, 'COUNT', SCAN_COUNT], 'deleteExpired')) as [string, string[]];
        cursor = next;
        if (keys.length === 0) continue;
        const times = (await this.#settle(keys.map((key) => ['GETRANGE', key, '0', String(EVENT_TIME_WIDTH - 1)]), keys, true, 'deleteExpired')) as string[];
        const expired = keys.filter((_, i) => times[i] !== '' && Number(times[i]) < before).slice(0, limit - deleted);
        if (expired.length === 0) continue;
        const removed = await this.#perSlot(expired, (group) => ['EVAL', DELETE_EXPIRED_SCRIPT, String(group.length), ...group, String(before), String(group.length)], 'deleteExpired');
        deleted += removed.reduce<number>((sum, n) => sum + Number(n), 0);
        if (deleted >= limit) return { deleted, done: false };
      } while (cursor !== '0');
    }
    return { deleted, done: true };
  }

  /** Every master answers PING (a shard down is a store that cannot serve part of its keys). */
  async ping(): Promise<void> {
    await this.#ready('ping');
    await this.#withDeadline(Promise.all(this.#cluster.masters.map((master) => this.#onNode(master, ['PING'], 'ping'))), 'ping');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#connected) await this.#cluster.close();
      else this.#cluster.destroy();
    } catch {
      // Already closed by node-redis (a failed connection): nothing left to release.
    }
  }

  /** The Redis key of a record: the single-node store's layout. */
  #key(view: string, encodedKey: string): string {
    return `${this.keyPrefix}${view}:${encodedKey}`;
  }

  get #layoutsKey(): string {
    return `${this.keyPrefix}__layouts`;
  }

  async #write(prepared: readonly PreparedRecord[], operation: string): Promise<OnlineWriteResult> {
    this.#assertOpen(operation);
    if (prepared.length === 0) return { written: 0, skippedOlder: 0 };
    await this.#ready(operation);
    // The layouts first, and finished: they live on one shard and the records on others, so a
    // reader must never find a record whose layout is not stored yet (HSETNX: a no-op once there).
    // In the same round trip, the script goes to the masters that may not have it.
    const layouts = [...new Set<OnlineLayout>(prepared.map((r) => r.layout))];
    await Promise.all([
      this.#settle(layouts.map((layout) => ['HSETNX', this.#layoutsKey, layout.id, JSON.stringify(layout.features)]), layouts.map(() => this.#layoutsKey), false, operation),
      this.#loadScript(operation),
    ]);

    const writtenPrefix = `|${Date.now() * 1000}|`;
    const keys = prepared.map((r) => this.#key(r.view, r.encodedKey));
    const calls: ScriptCall[] = [];
    for (const group of groupBySlot(keys)) {
      for (let start = 0; start < group.length; start += RECORDS_PER_SCRIPT_CALL) {
        const positions = group.slice(start, start + RECORDS_PER_SCRIPT_CALL);
        calls.push(scriptCall(positions.map((i) => prepared[i]!), positions.map((i) => keys[i]!), writtenPrefix));
      }
    }
    let written = 0;
    let wave: ScriptCall[] = [];
    let waveRecords = 0;
    for (const call of calls) {
      wave.push(call);
      waveRecords += call.records.length;
      if (waveRecords >= WRITE_WAVE_RECORDS) {
        written += await this.#writeWave(wave, writtenPrefix, operation);
        wave = [];
        waveRecords = 0;
      }
    }
    if (wave.length > 0) written += await this.#writeWave(wave, writtenPrefix, operation);
    return { written, skippedOlder: prepared.length - written };
  }

  /** Script calls of many slots sent at once: node-redis pipelines those of one shard, every shard in parallel. */
  async #writeWave(calls: readonly ScriptCall[], writtenPrefix: string, operation: string): Promise<number> {
    const replies = await this.#send(calls.map((call) => call.args), calls.map((call) => call.keys[0]!), false, operation);
    let written = 0;
    for (const [i, reply] of replies.entries()) {
      if (reply.status === 'fulfilled') {
        written += Number(reply.value);
        continue;
      }
      const call = calls[i]!;
      if (isNoScript(reply.reason)) {
        // A node that lost the script (restarted, flushed, or new to the slot): EVAL caches it there.
        written += Number(await this.#one(['EVAL', WRITE_SCRIPT, ...call.args.slice(2)], call.keys[0]!, false, operation));
      } else if (isTryAgain(reply.reason) && call.records.length > 1) {
        // The slot is being migrated and its keys are split between two nodes: one record at a
        // time, in order (records of one key stay in call order), each following ASK where it is.
        for (const [j, record] of call.records.entries()) {
          const single = scriptCall([record], [call.keys[j]!], writtenPrefix);
          written += Number(await this.#one(['EVAL', WRITE_SCRIPT, ...single.args.slice(2)], single.keys[0]!, false, operation));
        }
      } else {
        throw this.#failure(reply.reason, operation);
      }
    }
    return written;
  }

  /** SCRIPT LOAD on every master that may not have the write script yet: one round trip, shards in parallel. */
  async #loadScript(operation: string): Promise<void> {
    const missing = this.#cluster.masters.filter((master) => !this.#scriptLoadedOn.has(master.address));
    if (missing.length === 0) return;
    await this.#withDeadline(Promise.all(missing.map((master) => this.#onNode(master, ['SCRIPT', 'LOAD', WRITE_SCRIPT], operation))), operation);
    for (const master of missing) this.#scriptLoadedOn.add(master.address);
  }

  /** One MGET per slot group, all sent at once (one pipeline per shard); then, rarely, one HMGET of layouts not seen yet. */
  async #fetch(prepared: readonly PreparedKey[], operation: string): Promise<(EncodedOnlineRecord | undefined)[]> {
    this.#assertOpen(operation);
    if (prepared.length === 0) return [];
    if (!this.#connected) await this.#ready(operation);
    const keys = new Array<string>(prepared.length);
    for (let i = 0; i < prepared.length; i++) keys[i] = this.#key(prepared[i]!.view, prepared[i]!.encodedKey);
    const values = this.#perNodeReads ? await this.#getPerNode(keys, operation) : await this.#getPerSlot(keys, operation);

    const context = { store: this.name, operation };
    const decoded = decodeStoredBytes(values, (i) => keys[i]!, context);
    const readLayouts = async (ids: string[]) => (await this.#one(['HMGET', this.#layoutsKey, ...ids], this.#layoutsKey, true, operation)) as (string | null)[];
    return withLayouts(decoded, readLayouts, this.#layoutsKey, context);
  }

  /**
   * The hot path: one read-script call per shard (READ_SCRIPT), with every key of the call that
   * the slot map places there; all shards at once. A shard whose call fails because a key is not
   * (or no longer) its own (a slot moved or moving), or that lost the script, is read again by
   * #getPerSlot, which follows MOVED and ASK; a Redis that cannot run the script (before 7.0) turns
   * this path off for the store.
   */
  async #getPerNode(keys: readonly string[], operation: string): Promise<(Buffer | null)[]> {
    const slots = this.#cluster.slots;
    const byNode = new Map<ClusterNode, number[]>();
    for (let i = 0; i < keys.length; i++) {
      const master = slots[slotOf(keys[i]!)]?.master;
      if (master === undefined) return this.#getPerSlot(keys, operation);
      const positions = byNode.get(master);
      if (positions === undefined) byNode.set(master, [i]);
      else positions.push(i);
    }
    const calls: { positions: number[]; reply: Promise<Reply> }[] = [];
    for (const [node, positions] of byNode) {
      for (let start = 0; start < positions.length; start += KEYS_PER_READ_SCRIPT_CALL) {
        const chunk = positions.slice(start, start + KEYS_PER_READ_SCRIPT_CALL);
        calls.push({ positions: chunk, reply: this.#readScriptOn(node, chunk.map((i) => keys[i]!)) });
      }
    }
    const settled = await this.#withDeadline(Promise.allSettled(calls.map((call) => call.reply)), operation);
    const values = new Array<Buffer | null>(keys.length);
    let again: number[] | undefined;
    for (const [c, reply] of settled.entries()) {
      const { positions } = calls[c]!;
      if (reply.status === 'fulfilled') {
        const found = reply.value as (Buffer | null)[];
        for (let j = 0; j < positions.length; j++) values[positions[j]!] = found[j] ?? null;
        continue;
      }
      if (!(reply.reason instanceof ErrorReply)) throw this.#failure(reply.reason, operation);
      if (!isKeyElsewhere(reply.reason)) this.#perNodeReads = false;
      (again ??= []).push(...positions);
    }
    if (again !== undefined) {
      const found = await this.#getPerSlot(again.map((i) => keys[i]!), operation);
      again.forEach((position, j) => {
        values[position] = found[j]!;
      });
    }
    return values;
  }

  /** The read script on one node, its values as bytes: EVALSHA, or EVAL when the node does not have it yet (which caches it). */
  async #readScriptOn(node: ClusterNode, keys: readonly string[]): Promise<Reply> {
    const client = await this.#cluster.nodeClient(node);
    try {
      return await client.sendCommand<Reply>(['EVALSHA', READ_SCRIPT_SHA, '0', ...keys], READ_AS_BYTES);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return client.sendCommand<Reply>(['EVAL', READ_SCRIPT, '0', ...keys], READ_AS_BYTES);
    }
  }

  /**
   * The general path: one MGET per slot group, all sent at once (routed, MOVED and ASK followed by
   * node-redis), so still one pipeline per shard; TRYAGAIN (the slot's keys split by a migration in
   * progress) is answered with single-key GETs, which follow ASK to either side.
   */
  async #getPerSlot(keys: readonly string[], operation: string): Promise<(Buffer | null)[]> {
    const groups = groupBySlot(keys);
    const replies = await this.#send(groups.map((group) => ['MGET', ...group.map((i) => keys[i]!)]), groups.map((group) => keys[group[0]!]!), true, operation, READ_AS_BYTES);
    const values = new Array<Buffer | null>(keys.length);
    for (const [g, reply] of replies.entries()) {
      const group = groups[g]!;
      let found: (Buffer | null)[];
      if (reply.status === 'fulfilled') found = reply.value as (Buffer | null)[];
      else if (isTryAgain(reply.reason) && group.length > 1) {
        found = (await this.#settle(group.map((i) => ['GET', keys[i]!]), group.map((i) => keys[i]!), true, operation, READ_AS_BYTES)) as (Buffer | null)[];
      } else throw this.#failure(reply.reason, operation);
      group.forEach((position, j) => {
        values[position] = found[j] ?? null;
      });
    }
    return values;
  }

  /** One command per slot group of `keys` (built by `command`), sent at once; every reply must succeed. */
  async #perSlot(keys: readonly string[], command: (group: string[]) => string[], operation: string): Promise<Reply[]> {
    const groups = groupBySlot(keys).map((group) => group.map((i) => keys[i]!));
    return this.#settle(groups.map(command), groups.map((group) => group[0]!), false, operation);
  }

  /** Commands sent at once, each routed by its key; any failure throws. */
  async #settle(commands: readonly string[][], routeKeys: readonly string[], readonly: boolean, operation: string, options?: ReadOptions): Promise<Reply[]> {
    const replies = await this.#send(commands, routeKeys, readonly, operation, options);
    return replies.map((reply) => {
      if (reply.status === 'rejected') throw this.#failure(reply.reason, operation);
      return reply.value;
    });
  }

  /**
   * Sends commands in the same tick, each to the master of its key's slot (node-redis follows
   * MOVED and ASK), so the commands of one shard leave in one write; settles each. Connection
   * failures and timeouts throw; error replies are returned for the caller.
   */
  async #send(commands: readonly string[][], routeKeys: readonly string[], readonly: boolean, operation: string, options?: ReadOptions): Promise<PromiseSettledResult<Reply>[]> {
    const sent = new Array<Promise<Reply>>(commands.length);
    for (let i = 0; i < commands.length; i++) sent[i] = this.#cluster.sendCommand<Reply>(routeKeys[i], readonly, commands[i]!, options);
    const settled = await this.#withDeadline(Promise.allSettled(sent), operation);
    for (const reply of settled) {
      if (reply.status === 'rejected' && !(reply.reason instanceof ErrorReply)) throw this.#failure(reply.reason, operation);
    }
    return settled;
  }

  /** One command routed by `routeKey`; its error reply, a connection failure or a timeout throws. */
  async #one(args: string[], routeKey: string, readonly: boolean, operation: string): Promise<Reply> {
    try {
      return await this.#withDeadline(this.#cluster.sendCommand<Reply>(routeKey, readonly, args), operation);
    } catch (error) {
      throw this.#failure(error, operation);
    }
  }

  /** A command for one node (SCAN, PING, SCRIPT LOAD: they name no key). */
  async #onNode(node: ClusterNode, args: string[], operation: string): Promise<Reply> {
    try {
      const client = await this.#withDeadline(Promise.resolve(this.#cluster.nodeClient(node)), operation);
      return await this.#withDeadline(client.sendCommand<Reply>(args), operation);
    } catch (error) {
      throw this.#failure(error, operation);
    }
  }

  /** Discovers the cluster (slot map, a connection per master); one attempt at a time, again after a failure. */
  #connect(): Promise<void> {
    this.#connecting ??= this.#cluster.connect().then(
      () => {
        this.#connected = true;
        this.#lastError = undefined;
      },
      (error: unknown) => {
        // "All the root nodes are unavailable" says less than why the last seed failed (refused, WRONGPASS).
        this.#lastError = this.#seedError ?? error;
        this.#seedError = undefined;
        this.#connecting = undefined;
      },
    );
    return this.#connecting;
  }

  /** Resolves when the cluster is discovered and connected; waits at most connectTimeoutMs. */
  async #ready(operation: string): Promise<void> {
    this.#assertOpen(operation);
    if (this.#connected) return;
    // A failed attempt (no seed answered) ends at once: try again, every 50 ms, until the budget is spent.
    const deadline = Date.now() + this.#connectTimeoutMs;
    for (let left = this.#connectTimeoutMs; left > 0 && !this.#connected && !this.#closed; left = deadline - Date.now()) {
      await Promise.race([this.#connect(), pause(left)]);
      if (!this.#connected) await pause(Math.min(50, Math.max(0, deadline - Date.now())));
    }
    if (!this.#connected) {
      const why = this.#lastError instanceof Error ? this.#lastError.message : 'no connection yet';
      throw new OnlineStoreUnavailableError(
        `Online store ${this.name} unavailable for ${operation}: cannot reach the cluster within ${this.#connectTimeoutMs} ms (${why})`,
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
      // MOVED or ASK here means node-redis gave up following redirections: the cluster is resharding.
      if (TRANSIENT_REPLIES.has(code) || code === 'MOVED' || code === 'ASK') return new OnlineStoreUnavailableError(`Online store ${this.name} unavailable for ${operation}: ${message}`, context, { cause: error });
      return new OnlineStoreError(`Online store ${this.name} refused ${operation}: ${message}`, context, { cause: error });
    }
    if (this.#closed) return new OnlineStoreError(`The online store ${this.name} was closed during ${operation}`, context, { cause: error });
    return new OnlineStoreUnavailableError(`Online store ${this.name} unavailable for ${operation}: ${message}`, context, { cause: error });
  }
}

/** The script call writing `records` (of one slot; `keys` are theirs), as EVALSHA arguments. */
function scriptCall(records: readonly PreparedRecord[], keys: readonly string[], writtenPrefix: string): ScriptCall {
  const args = ['EVALSHA', WRITE_SCRIPT_SHA, String(records.length), ...keys];
  for (const record of records) {
    args.push(`${eventTimeField(record.eventMicros)}${writtenPrefix}${record.layout.id}|${record.values}`, record.expireAtMillis === undefined ? '' : String(record.expireAtMillis));
  }
  return { records, keys, args };
}

/**
 * The read of one shard in one command: every key of a call that lives on one node, read by GET
 * inside Redis. A script may only touch keys of several slots with `allow-cross-slot-keys` (Redis
 * 7.0+), and each GET is still checked against the node's slots: a key the node does not serve
 * (a stale slot map, a slot migrating) fails the call with "non local key", and the store reads
 * those keys again through the per-slot path. Keys go as ARGV (declared KEYS must share one slot).
 */
export const READ_SCRIPT = `#!lua flags=no-writes,allow-cross-slot-keys
local values = {}
for i = 1, #ARGV do values[i] = redis.call('GET', ARGV[i]) end
return values
`;
const READ_SCRIPT_SHA = createHash('sha1').update(READ_SCRIPT).digest('hex');
/** Keys per read-script call: a call of 1,000 GETs holds its shard for about 0.2 ms. */
const KEYS_PER_READ_SCRIPT_CALL = 1000;

/** An error a read script gets when a key is not the node's own (now), or the cluster is down: worth the per-slot path, not a reason to stop using scripts. */
function isKeyElsewhere(error: ErrorReply): boolean {
  return /non local key|cluster is down|^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|BUSY)\b/.test(error.message);
}

function isTryAgain(error: unknown): boolean {
  return error instanceof ErrorReply && error.message.startsWith('TRYAGAIN');
}

/** A pause that never keeps the process alive on its own. */
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** A seed URL checked: `redis://` or `rediss://`, a port, database 0 (a cluster has no other). */
function parseSeed(url: string, index: number): { url: string; tls: boolean; username?: string } {
  const field = `onlineStore.urls[${index}]`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new ConfigError(`invalid Redis URL ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`, { field }, { cause: error });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new ConfigError(`invalid Redis URL ${redactUrl(url)}: expected redis:// or rediss://`, { field });
  if (parsed.pathname !== '' && parsed.pathname !== '/' && parsed.pathname !== '/0') {
    throw new ConfigError(`invalid Redis URL ${redactUrl(url)}: Redis Cluster has only database 0`, { field });
  }
  return { url, tls: parsed.protocol === 'rediss:', ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}) };
}
