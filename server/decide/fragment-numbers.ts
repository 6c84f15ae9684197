/**
 * Reads the values of a stored record's JSON fragment (`0.25,null,true,"a",…`, as the serving path
 * keeps them) straight into a Float64Array, as an ONNX model's inputs want them: numbers as they are,
 * null NaN, booleans 1 and 0, and anything else (a string) marked as not numeric. Nothing is
 * allocated per value: `JSON.parse` of the same fragment made a HeapNumber per value and an array per
 * record, most of a decide request's garbage (bench/decide.ts).
 *
 * A number is read exactly as `JSON.parse` reads it. Most stored numbers take Clinger's fast path:
 * at most 15 significant digits (an exact integer below 2^53) and a power of ten up to 10^22 (exact
 * as a double), so one IEEE multiplication or division gives the correctly rounded double; any other
 * number is handed to `Number` (tested against `JSON.parse` in test/decide-fragment-numbers.test.ts).
 */

/** What `readFragmentNumbers` marks a value as. */
export const NUMERIC = 0;
export const NOT_NUMERIC = 1;

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

/**
 * Reads `count` comma-separated JSON values of `text` into `out[at…at+count)` (and their kinds into
 * `kinds`); false when the text is not `count` such values (a nested array or object, a malformed
 * fragment): the caller then reads it with JSON.parse. One pass over the characters: a number's
 * digits are accumulated as they are checked (a first version that found each number's end, then
 * read it, cost twice JSON.parse's time per value; this one about the same, bench/decide-stages.ts).
 */
export function readFragmentNumbers(text: string, count: number, out: Float64Array, kinds: Uint8Array, at: number): boolean {
  const end = text.length;
  if (count === 0) return text.trim() === '';
  let i = 0;
  let n = 0;
  let c = text.charCodeAt(0);
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++i);
  for (;;) {
    if (n === count) return false;
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      const negative = c === 0x2d;
      if (negative) c = text.charCodeAt(++i);
      let mantissa = 0;
      let digits = 0;
      let scale = 0;
      if (c === 0x30) {
        c = text.charCodeAt(++i);
      } else if (c >= 0x31 && c <= 0x39) {
        do {
          mantissa = mantissa * 10 + (c - 0x30);
          digits++;
          c = text.charCodeAt(++i);
        } while (c >= 0x30 && c <= 0x39);
      } else {
        return false;
      }
      if (c === 0x2e) {
        c = text.charCodeAt(++i);
        if (!(c >= 0x30 && c <= 0x39)) return false;
        do {
          if (digits > 0 || c !== 0x30) digits++;
          mantissa = mantissa * 10 + (c - 0x30);
          scale--;
          c = text.charCodeAt(++i);
        } while (c >= 0x30 && c <= 0x39);
      }
      if (c === 0x65 || c === 0x45) {
        c = text.charCodeAt(++i);
        let sign = 1;
        if (c === 0x2b || c === 0x2d) {
          if (c === 0x2d) sign = -1;
          c = text.charCodeAt(++i);
        }
        if (!(c >= 0x30 && c <= 0x39)) return false;
        let exponent = 0;
        do {
          if (exponent < 100_000) exponent = exponent * 10 + (c - 0x30);
          c = text.charCodeAt(++i);
        } while (c >= 0x30 && c <= 0x39);
        scale += sign * exponent;
      }
      // Clinger's fast path: an exact mantissa below 2^53 and an exact power of ten, one rounding.
      if (digits <= 15 && scale >= -22 && scale <= 22) {
        const magnitude = scale >= 0 ? mantissa * POWERS_OF_TEN[scale]! : mantissa / POWERS_OF_TEN[-scale]!;
        out[at + n] = negative ? -magnitude : magnitude;
      } else {
        out[at + n] = Number(text.slice(start, i));
      }
      kinds[at + n] = NUMERIC;
    } else if (c === 0x6e) {
      if (text.charCodeAt(i + 1) !== 0x75 || text.charCodeAt(i + 2) !== 0x6c || text.charCodeAt(i + 3) !== 0x6c) return false;
      out[at + n] = Number.NaN;
      kinds[at + n] = NUMERIC;
      c = text.charCodeAt((i += 4));
    } else if (c === 0x74) {
      if (text.charCodeAt(i + 1) !== 0x72 || text.charCodeAt(i + 2) !== 0x75 || text.charCodeAt(i + 3) !== 0x65) return false;
      out[at + n] = 1;
      kinds[at + n] = NUMERIC;
      c = text.charCodeAt((i += 4));
    } else if (c === 0x66) {
      if (text.charCodeAt(i + 1) !== 0x61 || text.charCodeAt(i + 2) !== 0x6c || text.charCodeAt(i + 3) !== 0x73 || text.charCodeAt(i + 4) !== 0x65) return false;
      out[at + n] = 0;
      kinds[at + n] = NUMERIC;
      c = text.charCodeAt((i += 5));
    } else if (c === 0x22) {
      for (c = text.charCodeAt(++i); c !== 0x22; c = text.charCodeAt(++i)) {
        if (i >= end) return false;
        if (c === 0x5c) i++; // an escape: the next character is part of the string
      }
      out[at + n] = Number.NaN;
      kinds[at + n] = NOT_NUMERIC;
      c = text.charCodeAt(++i);
    } else {
      return false;
    }
    n++;
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++i);
    if (i >= end) return n === count;
    if (c !== 0x2c) return false;
    c = text.charCodeAt(++i);
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++i);
  }
}
