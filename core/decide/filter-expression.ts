import { FlywheelError } from '../errors.ts';

/**
 * Candidate filters of the decision API (docs/decide.md, "Filters"): a small SQL-like boolean
 * expression over one candidate's features, declared in the definitions and applied by
 * `POST /v1/decide` before scoring. Parsed once (at `flywheel plan`, where every feature it names is
 * checked against the model's feature service, and when the server starts), evaluated per candidate.
 *
 *     available = true
 *     price <= 50 AND category IN ('books', 'music')
 *     NOT (rating < 2) OR rating IS NULL
 *
 * Grammar (keywords in any case):
 *
 *     or      := and ( OR and )*
 *     and     := not ( AND not )*
 *     not     := NOT not | compare
 *     compare := operand ( ( = | != | <> | < | <= | > | >= ) operand | IS [NOT] NULL | [NOT] IN ( literal, ... ) )?
 *     operand := feature | literal | ( or )
 *     literal := number | 'text' ('' inside for a quote) | TRUE | FALSE | NULL
 *
 * SQL's three-valued logic: a comparison with a null (a missing or expired feature) is unknown, and
 * a candidate is kept only when the whole expression is true, so a filter never keeps a candidate
 * for want of a value unless it says so (`x IS NULL OR ...`). A bare feature is true when its value
 * is the boolean true. Numbers compare with numbers, strings with strings, booleans with booleans;
 * any other pair is unknown (a string feature compared with 5 keeps nothing rather than guessing).
 *
 * Pure: no I/O.
 *
 * @example
 * const filter = parseFilterExpression('price <= 50 AND available');
 * filter.features;                                  // ['price', 'available']
 * evaluateFilter(filter, { price: 12, available: true }); // true
 */

export type FilterValue = string | number | boolean | null;

export type FilterNode =
  | { readonly kind: 'feature'; readonly name: string }
  | { readonly kind: 'literal'; readonly value: FilterValue }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly left: FilterNode; readonly right: FilterNode }
  | { readonly kind: 'isNull'; readonly operand: FilterNode; readonly negated: boolean }
  | { readonly kind: 'in'; readonly operand: FilterNode; readonly values: readonly FilterValue[]; readonly negated: boolean }
  | { readonly kind: 'not'; readonly operand: FilterNode }
  | { readonly kind: 'and' | 'or'; readonly left: FilterNode; readonly right: FilterNode };

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** A parsed filter: its tree and the features it reads, each once, in order of first use. */
export interface FilterExpression {
  readonly text: string;
  readonly root: FilterNode;
  readonly features: readonly string[];
}

/** Thrown for an expression that does not parse; `offset` is the character (from 0) where it goes wrong. */
export class FilterExpressionError extends FlywheelError {
  readonly expression: string;
  readonly offset: number;
  constructor(expression: string, offset: number, reason: string) {
    super(`filter ${JSON.stringify(expression)}: ${reason} at character ${offset + 1}`);
    this.expression = expression;
    this.offset = offset;
  }
}

type Token =
  | { readonly kind: 'name'; readonly text: string; readonly at: number }
  | { readonly kind: 'number'; readonly value: number; readonly at: number }
  | { readonly kind: 'string'; readonly value: string; readonly at: number }
  | { readonly kind: 'symbol'; readonly text: string; readonly at: number }
  | { readonly kind: 'end'; readonly at: number };

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IS', 'NULL', 'IN', 'TRUE', 'FALSE']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < text.length && /[A-Za-z0-9_]/.test(text[i]!)) i++;
      tokens.push({ kind: 'name', text: text.slice(at, i), at });
      continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9.]/.test(text[i + 1] ?? '')) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const match = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i))!;
      i += match[0].length;
      tokens.push({ kind: 'number', value: Number(match[0]), at });
      continue;
    }
    if (c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new FilterExpressionError(text, at, 'unterminated string');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i];
        i++;
      }
      tokens.push({ kind: 'string', value, at });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '<=' || two === '>=' || two === '!=' || two === '<>') {
      tokens.push({ kind: 'symbol', text: two === '<>' ? '!=' : two, at });
      i += 2;
      continue;
    }
    if ('=<>(),'.includes(c)) {
      tokens.push({ kind: 'symbol', text: c, at });
      i++;
      continue;
    }
    throw new FilterExpressionError(text, at, `unexpected character ${JSON.stringify(c)}`);
  }
  tokens.push({ kind: 'end', at: text.length });
  return tokens;
}

/** Parses a filter expression. Throws FilterExpressionError. */
export function parseFilterExpression(text: string): FilterExpression {
  if (typeof text !== 'string' || text.trim() === '') throw new FilterExpressionError(String(text), 0, 'a filter must be a non-empty expression such as "available = true"');
  const tokens = tokenize(text);
  let pos = 0;
  const features: string[] = [];
  const peek = () => tokens[pos]!;
  const isKeyword = (word: string) => {
    const t = peek();
    return t.kind === 'name' && t.text.toUpperCase() === word;
  };
  const isSymbol = (symbol: string) => {
    const t = peek();
    return t.kind === 'symbol' && t.text === symbol;
  };
  const fail = (reason: string): never => {
    throw new FilterExpressionError(text, peek().at, reason);
  };
  const expectSymbol = (symbol: string) => {
    if (!isSymbol(symbol)) fail(`expected "${symbol}"`);
    pos++;
  };

  const literal = (): FilterValue | undefined => {
    const t = peek();
    if (t.kind === 'number') {
      pos++;
      return t.value;
    }
    if (t.kind === 'string') {
      pos++;
      return t.value;
    }
    if (t.kind === 'name') {
      const word = t.text.toUpperCase();
      if (word === 'TRUE' || word === 'FALSE' || word === 'NULL') {
        pos++;
        return word === 'NULL' ? null : word === 'TRUE';
      }
    }
    return undefined;
  };

  const operand = (): FilterNode => {
    if (isSymbol('(')) {
      pos++;
      const inner = or();
      expectSymbol(')');
      return inner;
    }
    const value = literal();
    if (value !== undefined) return { kind: 'literal', value };
    const t = peek();
    if (t.kind === 'name' && !KEYWORDS.has(t.text.toUpperCase())) {
      pos++;
      if (!features.includes(t.text)) features.push(t.text);
      return { kind: 'feature', name: t.text };
    }
    return fail(t.kind === 'end' ? 'the expression ends too early' : 'expected a feature, a literal or "("');
  };

  const compare = (): FilterNode => {
    const left = operand();
    const t = peek();
    if (t.kind === 'symbol' && ['=', '!=', '<', '<=', '>', '>='].includes(t.text)) {
      pos++;
      return { kind: 'compare', op: t.text as CompareOp, left, right: operand() };
    }
    if (isKeyword('IS')) {
      pos++;
      const negated = isKeyword('NOT');
      if (negated) pos++;
      if (!isKeyword('NULL')) fail('expected NULL after IS');
      pos++;
      return { kind: 'isNull', operand: left, negated };
    }
    const negatedIn = isKeyword('NOT') && tokens[pos + 1]?.kind === 'name' && (tokens[pos + 1] as { text: string }).text.toUpperCase() === 'IN';
    if (negatedIn) pos++;
    if (isKeyword('IN')) {
      pos++;
      expectSymbol('(');
      const values: FilterValue[] = [];
      for (;;) {
        const value = literal();
        if (value === undefined) fail('expected a literal in the IN list');
        values.push(value!);
        if (isSymbol(',')) {
          pos++;
          continue;
        }
        expectSymbol(')');
        break;
      }
      return { kind: 'in', operand: left, values, negated: negatedIn };
    }
    return left;
  };

  const not = (): FilterNode => {
    if (isKeyword('NOT')) {
      pos++;
      return { kind: 'not', operand: not() };
    }
    return compare();
  };

  const and = (): FilterNode => {
    let left = not();
    while (isKeyword('AND')) {
      pos++;
      left = { kind: 'and', left, right: not() };
    }
    return left;
  };

  function or(): FilterNode {
    let left = and();
    while (isKeyword('OR')) {
      pos++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  }

  const root = or();
  if (peek().kind !== 'end') fail('unexpected text after the expression');
  return { text, root, features };
}

/** Unknown (SQL's NULL) is `null`. */
type Truth = boolean | null;

/** Whether a candidate with these feature values passes: only a true expression keeps it. */
export function evaluateFilter(filter: FilterExpression, row: Readonly<Record<string, unknown>>): boolean {
  return truth(filter.root, row) === true;
}

function valueOf(node: FilterNode, row: Readonly<Record<string, unknown>>): unknown {
  switch (node.kind) {
    case 'feature':
      return row[node.name] ?? null;
    case 'literal':
      return node.value;
    default:
      return truth(node, row);
  }
}

function truth(node: FilterNode, row: Readonly<Record<string, unknown>>): Truth {
  switch (node.kind) {
    case 'feature':
    case 'literal': {
      const value = valueOf(node, row);
      return typeof value === 'boolean' ? value : value === null ? null : false;
    }
    case 'compare':
      return compareValues(node.op, valueOf(node.left, row), valueOf(node.right, row));
    case 'isNull': {
      const isNull = valueOf(node.operand, row) === null;
      return node.negated ? !isNull : isNull;
    }
    case 'in': {
      const value = valueOf(node.operand, row);
      if (value === null) return null;
      let result: Truth = false;
      for (const candidate of node.values) {
        const equal = compareValues('=', value, candidate);
        if (equal === true) {
          result = true;
          break;
        }
        if (equal === null) result = null;
      }
      return node.negated ? negate(result) : result;
    }
    case 'not':
      return negate(truth(node.operand, row));
    case 'and': {
      const left = truth(node.left, row);
      if (left === false) return false;
      const right = truth(node.right, row);
      if (right === false) return false;
      return left === null || right === null ? null : true;
    }
    case 'or': {
      const left = truth(node.left, row);
      if (left === true) return true;
      const right = truth(node.right, row);
      if (right === true) return true;
      return left === null || right === null ? null : false;
    }
    default: {
      const never: never = node;
      throw new Error(`unknown filter node ${JSON.stringify(never)}`);
    }
  }
}

function negate(value: Truth): Truth {
  return value === null ? null : !value;
}

function compareValues(op: CompareOp, left: unknown, right: unknown): Truth {
  if (left === null || right === null || left === undefined || right === undefined) return null;
  if (typeof left !== typeof right || !['number', 'string', 'boolean'].includes(typeof left)) return null;
  const a = left as number | string | boolean;
  const b = right as number | string | boolean;
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    default: {
      const never: never = op;
      throw new Error(`unknown operator ${String(never)}`);
    }
  }
}
