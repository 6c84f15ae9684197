/**
 * Finds where a text stops being valid JSON, with a message fit for a client. JSON.parse's own
 * messages sometimes give no position and quote the whole input, so this scanner (run only after
 * JSON.parse failed) says where instead. It keeps an explicit stack, so deep nesting cannot overflow.
 */
export interface JsonSyntaxError {
  /** Offset in `text` (UTF-16 code units) of the first character that cannot be there. */
  readonly offset: number;
  readonly message: string;
}

const ARRAY = 0;
const OBJECT = 1;

type Expect = 'value' | 'valueOrEnd' | 'key' | 'keyOrEnd' | 'colon' | 'commaOrEnd' | 'done';

export function findJsonSyntaxError(text: string, start = 0, end = text.length): JsonSyntaxError | undefined {
  const stack: number[] = [];
  let expect: Expect = 'value';
  let i = start;
  const afterValue = (): Expect => (stack.length === 0 ? 'done' : 'commaOrEnd');
  const fail = (offset: number, message: string): JsonSyntaxError => ({ offset, message });

  for (;;) {
    while (i < end && isWhitespace(text.charCodeAt(i))) i++;
    if (i >= end) {
      if (expect === 'done') return undefined;
      const open = stack.length === 0 ? '' : ` (inside an unclosed ${stack[stack.length - 1] === ARRAY ? 'array' : 'object'})`;
      return fail(end, `unexpected end of input${open}`);
    }
    const ch = text[i]!;
    switch (expect) {
      case 'done':
        return fail(i, `unexpected ${describeChar(ch)} after the end of the JSON value`);
      case 'colon':
        if (ch !== ':') return fail(i, `expected ':' after a property name, found ${describeChar(ch)}`);
        i++;
        expect = 'value';
        break;
      case 'commaOrEnd': {
        const close = stack[stack.length - 1] === ARRAY ? ']' : '}';
        if (ch === ',') {
          i++;
          expect = stack[stack.length - 1] === ARRAY ? 'value' : 'key';
        } else if (ch === close) {
          i++;
          stack.pop();
          expect = afterValue();
        } else {
          return fail(i, `expected ',' or '${close}', found ${describeChar(ch)}`);
        }
        break;
      }
      case 'key':
      case 'keyOrEnd':
        if (ch === '}' && expect === 'keyOrEnd') {
          i++;
          stack.pop();
          expect = afterValue();
        } else if (ch === '"') {
          const scanned = scanString(text, i, end);
          if (typeof scanned !== 'number') return scanned;
          i = scanned;
          expect = 'colon';
        } else {
          return fail(i, `expected a double-quoted property name, found ${describeChar(ch)}`);
        }
        break;
      case 'value':
      case 'valueOrEnd':
        if (ch === ']' && expect === 'valueOrEnd') {
          i++;
          stack.pop();
          expect = afterValue();
        } else if (ch === '[') {
          i++;
          stack.push(ARRAY);
          expect = 'valueOrEnd';
        } else if (ch === '{') {
          i++;
          stack.push(OBJECT);
          expect = 'keyOrEnd';
        } else {
          const scanned = ch === '"' ? scanString(text, i, end) : ch === '-' || isDigit(ch) ? scanNumber(text, i, end) : scanLiteral(text, i, end);
          if (typeof scanned !== 'number') return scanned;
          i = scanned;
          expect = afterValue();
        }
        break;
    }
  }
}

/** Line and column (both from 1) of an offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

function scanString(text: string, i: number, end: number): number | JsonSyntaxError {
  const open = i;
  i++;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c < 0x20) return { offset: i, message: 'unescaped control character (such as a newline) in a string' };
    if (c === 0x5c) {
      const next = text[i + 1];
      if (next === undefined || i + 1 >= end) break;
      if (next === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6)) || i + 6 > end) return { offset: i, message: 'bad \\u escape in a string (expected four hex digits)' };
        i += 6;
        continue;
      }
      if (!'"\\/bfnrt'.includes(next)) return { offset: i, message: `bad escape \\${next} in a string` };
      i += 2;
      continue;
    }
    i++;
  }
  return { offset: open, message: 'unterminated string' };
}

function scanNumber(text: string, i: number, end: number): number | JsonSyntaxError {
  const digits = (from: number) => {
    let j = from;
    while (j < end && isDigit(text[j]!)) j++;
    return j;
  };
  const start = i;
  if (text[i] === '-') i++;
  if (i < end && text[i] === '0') i++;
  else if (i < end && isDigit(text[i]!)) i = digits(i);
  else return { offset: i, message: `bad number${start === i ? '' : ': a digit must follow "-"'}` };
  if (text[i] === '.') {
    const after = digits(i + 1);
    if (after === i + 1) return { offset: i + 1, message: 'bad number: a digit must follow the decimal point' };
    i = after;
  }
  if (text[i] === 'e' || text[i] === 'E') {
    let j = i + 1;
    if (text[j] === '+' || text[j] === '-') j++;
    const after = digits(j);
    if (after === j) return { offset: j, message: 'bad number: the exponent needs digits' };
    i = after;
  }
  if (i < end && isDigit(text[i]!)) return { offset: i, message: 'bad number: no leading zeros' };
  return i;
}

function scanLiteral(text: string, i: number, end: number): number | JsonSyntaxError {
  for (const literal of ['true', 'false', 'null']) {
    if (text.startsWith(literal, i) && i + literal.length <= end) return i + literal.length;
  }
  const ch = text[i]!;
  if ('tfn'.includes(ch)) return { offset: i, message: 'bad literal; expected true, false or null' };
  return { offset: i, message: `unexpected ${describeChar(ch)}; expected a value (object, array, string, number, true, false or null)` };
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function isDigit(ch: string): boolean {
  return ch >= '0' && ch <= '9';
}

function describeChar(ch: string): string {
  if (ch === '\n') return 'a newline';
  const code = ch.charCodeAt(0);
  return code < 0x20 ? `control character U+${code.toString(16).padStart(4, '0')}` : `'${ch}'`;
}
