import { describe, expect, it } from 'vitest';
import { NOT_NUMERIC, NUMERIC, readFragmentNumbers } from '../server/decide/fragment-numbers.ts';

/** server/decide/fragment-numbers.ts reads a stored fragment's values exactly as JSON.parse does. */

function read(text: string, count: number): { ok: boolean; numbers: number[]; kinds: number[] } {
  const numbers = new Float64Array(count + 2).fill(7);
  const kinds = new Uint8Array(count + 2).fill(9);
  const ok = readFragmentNumbers(text, count, numbers, kinds, 1);
  return { ok, numbers: Array.from(numbers.subarray(1, count + 1)), kinds: Array.from(kinds.subarray(1, count + 1)) };
}

/** Each number of `texts` read alone equals JSON.parse's double, bit for bit (-0 included). */
function expectSameAsJsonParse(texts: readonly string[]): void {
  for (const text of texts) {
    const got = read(text, 1);
    const want = JSON.parse(text) as number;
    if (!got.ok || !Object.is(got.numbers[0], want)) expect({ text, got: got.numbers[0], ok: got.ok }).toEqual({ text, got: want, ok: true });
  }
}

describe('reading a fragment\'s numbers', () => {
  it('reads numbers, null, booleans and strings, in place, and says which are not numeric', () => {
    expect(read('0.25,null,true,false,"a,\\"b",-3', 6)).toEqual({ ok: true, numbers: [0.25, Number.NaN, 1, 0, Number.NaN, -3], kinds: [NUMERIC, NUMERIC, NUMERIC, NUMERIC, NOT_NUMERIC, NUMERIC] });
    expect(read(' 1 , 2 ', 2)).toEqual({ ok: true, numbers: [1, 2], kinds: [NUMERIC, NUMERIC] });
  });

  it('refuses what is not exactly `count` flat values, for JSON.parse to read', () => {
    for (const [text, count] of [['1,2', 1], ['1', 2], ['[1],2', 2], ['{"a":1}', 1], ['01', 1], ['1.', 1], ['-', 1], ['1e', 1], ['"open', 1], ['nul', 1], ['1;2', 2], ['', 1], ['.5', 1], ['+1', 1]] as const) {
      expect([text, read(text, count).ok]).toEqual([text, false]);
    }
  });

  it('gives the same doubles as JSON.parse on edge cases', () => {
    expectSameAsJsonParse([
      '0', '-0', '-0.0', '0.0', '0e10', '-0e-10', '1', '-1', '0.1', '0.2', '0.3', '0.30000000000000004', '1.5e-10', '1E5', '1e+5', '123e20', '9007199254740993',
      '123456789012345', '1234567890123456', '12345678901234567890', '0.000001', '1e-7', '1e22', '1e23', '1e-22', '1e-23', '5e-324', '2.2250738585072014e-308',
      '1.7976931348623157e308', '1e309', '-1e309', '1e-400', '4.9406564584124654e-324', '0.1e1', '100000000000000000000000', '3.141592653589793', '2.718281828459045',
      '0.00000000000000000000000000001', '1e0000000000000000000001', '1e-0000000000000000000001', '99999999999999999999999e-23',
    ]);
  });

  it('gives the same doubles as JSON.parse on 200,000 random numbers of every shape', () => {
    let seed = 12_345;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed % n;
    };
    const digits = (n: number) => Array.from({ length: n }, () => String(next(10))).join('');
    const texts: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      const integer = next(4) === 0 ? '0' : String(1 + next(9)) + digits(next(18));
      const fraction = next(2) === 0 ? '' : `.${digits(1 + next(20))}`;
      const exponent = next(3) === 0 ? `${next(2) === 0 ? 'e' : 'E'}${['', '+', '-'][next(3)]}${next(330)}` : '';
      texts.push(`${next(2) === 0 ? '-' : ''}${integer}${fraction}${exponent}`);
    }
    // Also every float64 printed by JavaScript itself (the shortest round-trip form), as JSON.stringify stores them.
    const view = new DataView(new ArrayBuffer(8));
    for (let i = 0; i < 50_000; i++) {
      view.setUint32(0, (next(0x7fef) << 16) | next(0x10000));
      view.setUint32(4, (next(0x10000) << 16) | next(0x10000));
      texts.push(JSON.stringify(view.getFloat64(0)));
    }
    const joined = texts.join(',');
    const got = read(joined, texts.length);
    expect(got.ok).toBe(true);
    const want = JSON.parse(`[${joined}]`) as number[];
    const differing = texts.filter((_, i) => !Object.is(got.numbers[i], want[i]));
    expect(differing.slice(0, 5)).toEqual([]);
  });
});
