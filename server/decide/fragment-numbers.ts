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
 * fragment): the caller then reads it with JSON.parse.
 */
export function readFragmentNumbers(text: string, count: number, out: Float64Array, kinds: Uint8Array, at: number): boolean {
  const end = text.length;
  let i = 0;
  for (let n = 0; n < count; n++) {
    while (i < end && isSpace(text.charCodeAt(i))) i++;
    if (i >= end) return false;
    const c = text.charCodeAt(i);
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i = numberEnd(text, i);
      if (i < 0) return false;
      out[at + n] = numberOf(text, start, i);
      kinds[at + n] = NUMERIC;
    } else if (c === 0x6e /* n */ && text.startsWith('null', i)) {
      out[at + n] = Number.NaN;
      kinds[at + n] = NUMERIC;
      i += 4;
    } else if (c === 0x74 /* t */ && text.startsWith('true', i)) {
      out[at + n] = 1;
      kinds[at + n] = NUMERIC;
      i += 4;
    } else if (c === 0x66 /* f */ && text.startsWith('false', i)) {
      out[at + n] = 0;
      kinds[at + n] = NUMERIC;
      i += 5;
    } else if (c === 0x22 /* " */) {
      i = stringEnd(text, i);
      if (i < 0) return false;
      out[at + n] = Number.NaN;
      kinds[at + n] = NOT_NUMERIC;
    } else {
      return false;
    }
    while (i < end && isSpace(text.charCodeAt(i))) i++;
    if (n < count - 1) {
      if (text.charCodeAt(i) !== 0x2c /* , */) return false;
      i++;
    }
  }
  return i === end;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** The end of the JSON number at `i` (RFC 8259 grammar), or -1 when there is none. */
function numberEnd(text: string, i: number): number {
  if (text.charCodeAt(i) === 0x2d) i++;
  const first = text.charCodeAt(i);
  if (first === 0x30) i++;
  else if (first >= 0x31 && first <= 0x39) while (isDigit(text.charCodeAt(i))) i++;
  else return -1;
  if (text.charCodeAt(i) === 0x2e /* . */) {
    i++;
    if (!isDigit(text.charCodeAt(i))) return -1;
    while (isDigit(text.charCodeAt(i))) i++;
  }
  const e = text.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    i++;
    const sign = text.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) i++;
    if (!isDigit(text.charCodeAt(i))) return -1;
    while (isDigit(text.charCodeAt(i))) i++;
  }
  return i;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The double of a well-formed JSON number `text[start, end)`, as JSON.parse gives it. */
function numberOf(text: string, start: number, end: number): number {
  let i = start;
  const negative = text.charCodeAt(i) === 0x2d;
  if (negative) i++;
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  let fraction = false;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      fraction = true;
      continue;
    }
    if (c < 0x30 || c > 0x39) break;
    // Leading zeros are not significant digits.
    if (digits > 0 || c !== 0x30) digits++;
    mantissa = mantissa * 10 + (c - 0x30);
    if (fraction) scale--;
  }
  if (i < end) {
    // The exponent.
    i++;
    let exponentSign = 1;
    const sign = text.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) {
      if (sign === 0x2d) exponentSign = -1;
      i++;
    }
    let exponent = 0;
    for (; i < end && exponent < 10_000; i++) exponent = exponent * 10 + (text.charCodeAt(i) - 0x30);
    if (i < end) return Number(text.slice(start, end));
    scale += exponentSign * exponent;
  }
  if (digits > 15 || scale < -22 || scale > 22) return Number(text.slice(start, end));
  const magnitude = scale >= 0 ? mantissa * POWERS_OF_TEN[scale]! : mantissa / POWERS_OF_TEN[-scale]!;
  return negative ? -magnitude : magnitude;
}

/** The end of the JSON string at `i` (its closing quote's next index), or -1 when it does not close. */
function stringEnd(text: string, i: number): number {
  for (i++; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c /* \ */) i++;
    else if (c === 0x22) return i + 1;
  }
  return -1;
}
