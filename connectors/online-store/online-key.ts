import type { OnlineKeyPart } from './online-store.ts';

/**
 * The stored form of a view's key, the same in every engine: a JSON array of the join key values in
 * entity order, integers as JSON numbers (their decimal digits) and strings as JSON strings.
 *
 *   [42]                   user 42
 *   ["42"]                 the string "42", another key
 *   [42,"FR"]              a composite key (user, country)
 *   ["a:b","c"]            never equal to ["a","b:c"]: strings are quoted and escaped
 *   [9223372036854775807]  an int64 beyond 2^53, given as a bigint
 *
 * JSON is canonical here (one spelling per key: no spaces, numbers as integers, the same string
 * escapes), so equal keys always encode to equal text. Parts must be validated first
 * (see `keyPartProblem`).
 */
export function encodeOnlineKey(key: readonly OnlineKeyPart[]): string {
  let encoded = '[';
  for (let i = 0; i < key.length; i++) {
    const part = key[i]!;
    if (i > 0) encoded += ',';
    // Number() turns -0 into 0 and bigint digits come out as they are: `1` and `1n` are one key.
    encoded += typeof part === 'string' ? JSON.stringify(part) : typeof part === 'bigint' ? part.toString() : String(part === 0 ? 0 : part);
  }
  return `${encoded}]`;
}

/**
 * A key back from its stored form (encodeOnlineKey's inverse), or undefined for a text that is not
 * one or a key JSON numbers cannot give back exactly (an integer beyond 2^53, stored from a bigint).
 */
export function decodeOnlineKey(encoded: string): OnlineKeyPart[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(encoded);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return undefined;
  for (const part of parsed) {
    if (typeof part === 'string') continue;
    if (typeof part !== 'number' || !Number.isSafeInteger(part)) return undefined;
  }
  return parsed as OnlineKeyPart[];
}

/** Why a key part cannot be stored, or undefined when it can. */
export function keyPartProblem(part: unknown): string | undefined {
  switch (typeof part) {
    case 'string':
    case 'bigint':
      return undefined;
    case 'number':
      return Number.isSafeInteger(part) ? undefined : `${part} is not a safe integer; join keys are integers or strings (give int64 keys beyond 2^53 as bigint)`;
    default:
      return `a join key value must be a string, an integer number or a bigint, got ${part === null ? 'null' : typeof part}`;
  }
}

/** A key as printed in error messages: its encoding. */
export function describeKey(key: unknown): string {
  if (!Array.isArray(key)) return String(key);
  return key.every((part) => keyPartProblem(part) === undefined) ? encodeOnlineKey(key as OnlineKeyPart[]) : `[${key.map(String).join(', ')}]`;
}
