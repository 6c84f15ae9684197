import { RESP_TYPES } from 'redis';
import { OnlineStoreError } from '../online-store-errors.ts';
import { knownLayout, rememberLayout, type OnlineLayout } from '../online-layouts.ts';
import type { EncodedOnlineRecord } from '../online-store.ts';

/**
 * Stored values as Redis holds them, `<event µs>|<written µs>|<layout id>|<JSON array>`
 * (docs/online-store.md), decoded for `readEncoded`: the Redis store's MGET reply and the Redis
 * Cluster store's read-script and MGET replies go through the same loop, as bytes.
 */

export interface StoredRecord {
  readonly eventMicros: number;
  readonly writtenMicros: number;
  readonly layoutId: string;
  readonly values: string;
}

/** Where a reply is decoded, for errors: the store as printed and the operation. */
export interface StoredContext {
  readonly store: string;
  readonly operation: string;
}

/** A stored value, `<event µs>|<written µs>|<layout id>|<JSON array>`, cut at its first three bars. */
export function parseStored(value: string, key: string, context: StoredContext): StoredRecord {
  const a = value.indexOf('|');
  const b = value.indexOf('|', a + 1);
  const c = value.indexOf('|', b + 1);
  if (a < 0 || b < 0 || c < 0) throw notARecord(value, key, context);
  return { eventMicros: Number(value.slice(0, a)), writtenMicros: Number(value.slice(a + 1, b)), layoutId: value.slice(b + 1, c), values: value.slice(c + 1) };
}

/** Replies decoded: `found` by position (undefined: no record), and the records whose layout this process has not seen yet. */
export interface DecodedReplies {
  readonly found: (EncodedOnlineRecord | undefined)[];
  /** Records of unknown layouts, left undefined in `found` until completeRecords fills them in. */
  readonly pending: { readonly index: number; readonly record: StoredRecord }[] | undefined;
}

/**
 * How both Redis stores ask node-redis for their reads' values: bulk strings as Buffers, each a view
 * of the socket's chunk (a copy only when a value spans two chunks), never a JavaScript string.
 */
export const READ_AS_BYTES = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

/**
 * Decodes a read's replies (READ_AS_BYTES), `keyOf(i)` naming reply `i` in errors. The serving hot
 * path: records of one read mostly share a layout, so the previous record's layout id is compared
 * where it stands in the value (no substring, no lookup); only a new id is cut out and looked up. A
 * record's JSON array stays bytes until someone asks for `values` (ByteRecord): serving copies those
 * bytes into its answer. Decoding the replies into strings and encoding their arrays again into the
 * answer was about a fifth of the serving process's CPU per request at 100 candidates (values only).
 */
export function decodeStoredBytes(values: readonly (Buffer | null | undefined)[], keyOf: (index: number) => string, context: StoredContext): DecodedReplies {
  const found = new Array<EncodedOnlineRecord | undefined>(values.length);
  let pending: { index: number; record: StoredRecord }[] | undefined;
  let lastId: Buffer | undefined;
  let lastLayout: OnlineLayout | undefined;
  for (let i = 0; i < values.length; i++) {
    const bytes = values[i];
    if (bytes === null || bytes === undefined) {
      found[i] = undefined; // no holes: callers may map over the answer
      continue;
    }
    const a = bytes.indexOf(BAR);
    const b = a < 0 ? -1 : bytes.indexOf(BAR, a + 1);
    if (b < 0) throw notARecord(bytes.toString('utf8'), keyOf(i), context);
    let layout: OnlineLayout | undefined;
    let c: number;
    if (lastLayout !== undefined && startsWithAt(bytes, lastId!, b + 1) && bytes[b + 1 + lastId!.length] === BAR) {
      layout = lastLayout;
      c = b + 1 + lastId!.length;
    } else {
      c = bytes.indexOf(BAR, b + 1);
      if (c < 0) throw notARecord(bytes.toString('utf8'), keyOf(i), context);
      layout = knownLayout(bytes.toString('latin1', b + 1, c));
      if (layout === undefined) {
        // Rare (a layout first seen by this process): cut again whole, as text.
        (pending ??= []).push({ index: i, record: parseStored(bytes.toString('utf8'), keyOf(i), context) });
        continue;
      }
      lastId = bytes.subarray(b + 1, c);
      lastLayout = layout;
    }
    found[i] = new ByteRecord(layout.features, bytes, c + 1, microsOfBytes(bytes, 0, a), a + 1, b);
  }
  return { found, pending };
}

/** Whether `bytes` holds `prefix` at `at`. A loop: layout ids are 16 bytes, shorter than a native call's overhead. */
function startsWithAt(bytes: Buffer, prefix: Buffer, at: number): boolean {
  if (at + prefix.length > bytes.length) return false;
  for (let k = 0; k < prefix.length; k++) if (bytes[at + k] !== prefix[k]) return false;
  return true;
}

/** A record read as bytes: `values` is decoded on first use, and serving never asks (it copies `bytes`). */
class ByteRecord implements EncodedOnlineRecord {
  readonly features: readonly string[];
  readonly bytes: Buffer;
  readonly valuesStart: number;
  readonly eventMicros: number;
  readonly #writtenFrom: number;
  readonly #writtenTo: number;
  #values: string | undefined;

  constructor(features: readonly string[], bytes: Buffer, valuesStart: number, eventMicros: number, writtenFrom: number, writtenTo: number) {
    this.features = features;
    this.bytes = bytes;
    this.valuesStart = valuesStart;
    this.eventMicros = eventMicros;
    this.#writtenFrom = writtenFrom;
    this.#writtenTo = writtenTo;
  }

  get values(): string {
    return (this.#values ??= this.bytes.toString('utf8', this.valuesStart));
  }

  get writtenMicros(): number {
    return microsOfBytes(this.bytes, this.#writtenFrom, this.#writtenTo);
  }
}

/** Below this, ten times a number plus a digit is still a safe integer. */
const LAST_EXACT_PREFIX = Math.floor((Number.MAX_SAFE_INTEGER - 9) / 10);

/**
 * The number spelt by `bytes[from, to)`, as `Number` reads its text: summed digit by digit while the
 * text is an optional `-` and digits and the sum stays exact, else by `Number` itself (so any other
 * text, such as a value not written by Flywheel, reads as it would from a string).
 */
function microsOfBytes(bytes: Buffer, from: number, to: number): number {
  const negative = bytes[from] === MINUS;
  let n = 0;
  let k = negative ? from + 1 : from;
  if (k === to) return Number(bytes.toString('latin1', from, to));
  for (; k < to; k++) {
    const digit = bytes[k]! - ZERO;
    if (digit < 0 || digit > 9 || n > LAST_EXACT_PREFIX) return Number(bytes.toString('latin1', from, to));
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

const MINUS = 0x2d;
const ZERO = 0x30;

/** The layout ids of `pending` records, each once: what the store reads (one HMGET) before completeRecords. */
export function pendingLayoutIds(pending: DecodedReplies['pending']): string[] {
  return pending === undefined ? [] : [...new Set(pending.map((p) => p.record.layoutId))];
}

/**
 * The records of a read, every one with its layout: the layouts of pending records are read (one
 * `readLayouts` call: the store's HMGET of its layouts hash, `layoutsKey`) and remembered first.
 */
export async function withLayouts(
  decoded: DecodedReplies,
  readLayouts: (ids: string[]) => Promise<readonly (string | null | undefined)[]>,
  layoutsKey: string,
  context: StoredContext,
): Promise<(EncodedOnlineRecord | undefined)[]> {
  const ids = pendingLayoutIds(decoded.pending);
  if (ids.length > 0) {
    const features = await readLayouts(ids);
    ids.forEach((id, i) => {
      const json = features[i];
      if (json === null || json === undefined) throw new OnlineStoreError(`Online store ${context.store} holds records of layout ${id} but not the layout itself (${layoutsKey})`, context);
      rememberLayout(id, json);
    });
  }
  return completeRecords(decoded);
}

/** Fills in `found` for the pending records, once their layouts are known (rememberLayout); returns `found`. */
export function completeRecords({ found, pending }: DecodedReplies): (EncodedOnlineRecord | undefined)[] {
  for (const { index, record } of pending ?? []) {
    found[index] = { features: knownLayout(record.layoutId)!.features, values: record.values, eventMicros: record.eventMicros, writtenMicros: record.writtenMicros };
  }
  return found;
}

const BAR = 0x7c;

function notARecord(value: string, key: string, context: StoredContext): OnlineStoreError {
  return new OnlineStoreError(`Online store ${context.store}: the value of ${key} is not a Flywheel record (${value.slice(0, 40)}…)`, context);
}
