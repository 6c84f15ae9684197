import type { ValueType } from '../../core/types.ts';

/**
 * A selection of numeric features written into a decision row (decision-records.ts) straight from
 * the JSON text the online store holds (`0.25,null,3`), checked byte by byte instead of parsed: each
 * value must be `null` or a JSON number its column takes, exactly as the log API's normalizers take
 * them (server/validation/value-normalizers.ts). Anything this does not settle at a glance (a value
 * with an exponent, more digits than a quick range check covers, `-0`, a string) answers -1, and the
 * caller reads the text with JSON.parse and the normalizers instead: this is only the common case.
 */

/** What a number column takes. */
export const NumberKind = { float64: 0, float32: 1, int32: 2, int64: 3 } as const;

/** Each column's kind, or undefined when any column is not a number. */
export function numberKindsOf(types: readonly ValueType[]): Uint8Array | undefined {
  const kinds = new Uint8Array(types.length);
  for (let i = 0; i < types.length; i++) {
    const type = types[i]!;
    if (!(type in NumberKind)) return undefined;
    kinds[i] = NumberKind[type as keyof typeof NumberKind];
  }
  return kinds;
}

const COMMA = 0x2c;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/**
 * Writes `prefixes[i]` then value i of `values` (the text of a JSON array without brackets, one byte
 * per character) for each column into `out`; the offset after them, or -1 when a value needs the
 * general reading. `out` must hold the prefixes and `values`.
 */
export function numbersPiece(values: Buffer, prefixes: readonly Buffer[], kinds: Uint8Array, out: Buffer): number {
  let at = 0;
  let i = 0;
  const length = values.length;
  for (let column = 0; column < prefixes.length; column++) {
    if (column > 0) {
      if (values[i] !== COMMA) return -1;
      i++;
    }
    const prefix = prefixes[column]!;
    for (let p = 0; p < prefix.length; p++) out[at++] = prefix[p]!;
    const start = i;
    if (values[i] === 0x6e /* n */) {
      if (values[i + 1] !== 0x75 || values[i + 2] !== 0x6c || values[i + 3] !== 0x6c) return -1;
      i += 4;
    } else {
      // -?(0|[1-9][0-9]*)(.[0-9]+)?, no exponent: enough for what JSON.stringify writes of most values.
      if (values[i] === MINUS) i++;
      const first = i;
      if (values[i] === ZERO) i++;
      else while (i < length && values[i]! >= ZERO && values[i]! <= NINE) i++;
      const whole = i - first;
      if (whole === 0) return -1;
      let nonZeroFraction = false;
      if (values[i] === DOT) {
        if (kinds[column] === NumberKind.int32 || kinds[column] === NumberKind.int64) return -1;
        i++;
        const digits = i;
        for (; i < length && values[i]! >= ZERO && values[i]! <= NINE; i++) if (values[i] !== ZERO) nonZeroFraction = true;
        if (i === digits) return -1;
      }
      if (i < length && values[i] !== COMMA) return -1; // an exponent, white space, or not a number
      // -0 and -0.0 (written 0 by JSON.stringify) and the ranges: int32 within 9 digits, int64 within 15, floats within 38.
      if (values[start] === MINUS && values[first] === ZERO && whole === 1 && !nonZeroFraction) return -1;
      const kind = kinds[column]!;
      if (whole > (kind === NumberKind.int32 ? 9 : kind === NumberKind.int64 ? 15 : 38)) return -1;
    }
    for (let b = start; b < i; b++) out[at++] = values[b]!;
  }
  return i === length ? at : -1;
}
