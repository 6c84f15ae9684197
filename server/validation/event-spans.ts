/**
 * Where each event of a batch sits in the request text, so an event already in its stored form can be
 * stored as the bytes it was sent as (plus the two fields the server adds) instead of being
 * serialized again. Found by one pass over the text after JSON.parse accepted it, jumping from quote
 * to quote with indexOf.
 */
export interface EventSpans {
  readonly text: string;
  /** Offset of each event's first character (`{` for an object). */
  readonly starts: Int32Array;
  /** Offset just after each event's last character. */
  readonly ends: Int32Array;
  /** Members of each event object as written (a key written twice counts twice). */
  readonly keys: Int32Array;
  /** 1 when an event's text spans lines (whitespace newlines): such text cannot be a line of NDJSON. */
  readonly multiline: Uint8Array;
}

// Local on purpose (event-spans.ts and batch-scanner.ts each keep theirs): imported from a shared
// module these became property loads in the hot loops, about 8% more CPU per event (bench/log-api.ts).
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const NEWLINE = 0x0a;
const RETURN = 0x0d;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** The spans of the `count` elements of a JSON array text that JSON.parse accepted. */
export function arrayElementSpans(text: string, count: number): EventSpans {
  const spans = allocate(text, count);
  let element = 0;
  let depth = 0; // 0: between the top array's elements; 1: at an element's own level
  let start = -1;
  let keys = 0;
  let multiline = 0;
  let lastNonSpace = -1;
  let i = text.indexOf('[') + 1;
  const end = text.length;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (start === -1) start = i;
      i = stringEnd(text, i);
      lastNonSpace = i - 1;
      continue;
    }
    if (c === COMMA && depth === 0) {
      finish(spans, element++, start, lastNonSpace + 1, keys, multiline);
      start = -1;
      keys = 0;
      multiline = 0;
    } else if (c === CLOSE_BRACKET && depth === 0) {
      if (start !== -1) finish(spans, element++, start, lastNonSpace + 1, keys, multiline);
      break;
    } else if (c === NEWLINE || c === RETURN) {
      if (start !== -1) multiline = 1;
    } else if (c > 0x20) {
      if (start === -1) start = i;
      lastNonSpace = i;
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
      else if (c === COLON && depth === 1) keys++;
    }
    i++;
  }
  return spans;
}

/** The spans of NDJSON events, one per non-blank line, given where the lines are. */
export function lineSpans(text: string, starts: readonly number[], ends: readonly number[]): EventSpans {
  const spans = allocate(text, starts.length);
  for (let n = 0; n < starts.length; n++) {
    let s = starts[n]!;
    let e = ends[n]!;
    while (s < e && text.charCodeAt(s) <= 0x20) s++;
    while (e > s && text.charCodeAt(e - 1) <= 0x20) e--;
    finish(spans, n, s, e, topLevelKeys(text, s, e), 0);
  }
  return spans;
}

/** Members of the object written between `start` and `end` (0 when it is not an object). */
function topLevelKeys(text: string, start: number, end: number): number {
  let depth = 0;
  let keys = 0;
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
    else if (c === COLON && depth === 1) keys++;
    i++;
  }
  return keys;
}

/** Offset just after the closing quote of the string that opens at `open`. */
function stringEnd(text: string, open: number): number {
  let close = text.indexOf('"', open + 1);
  for (;;) {
    // A quote preceded by an odd number of backslashes is escaped.
    let backslashes = 0;
    for (let j = close - 1; text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return close + 1;
    close = text.indexOf('"', close + 1);
  }
}

function allocate(text: string, count: number): EventSpans {
  return { text, starts: new Int32Array(count), ends: new Int32Array(count), keys: new Int32Array(count), multiline: new Uint8Array(count) };
}

function finish(spans: EventSpans, n: number, start: number, end: number, keys: number, multiline: number): void {
  if (n >= spans.starts.length) return; // cannot happen for text JSON.parse accepted as `count` elements
  spans.starts[n] = start;
  spans.ends[n] = end;
  spans.keys[n] = keys;
  spans.multiline[n] = multiline;
}
