// `lightcone call` arguments are read as exact JSON (src/cli/json-arg.ts): strings arrive unchanged
// whatever they contain, integers a double would round arrive as bigints, bad text is a UsageError.
import { describe, expect, it } from 'vitest';
import { parseJsonArg } from '../src/cli/json-arg.ts';
import { UsageError } from '../src/errors.ts';
import { coerceValue } from '../src/host/values.ts';
import { prng } from './helpers/prng.ts';

function refusal(text: string): UsageError {
  try {
    parseJsonArg(text, 3);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).code).toBe('BAD_ARGUMENT');
    expect((e as UsageError).message).toContain('argument 3');
    return e as UsageError;
  }
  throw new Error(`expected ${text.slice(0, 40)} to be refused`);
}

describe('parseJsonArg', () => {
  it('keeps strings that look like big-integer markers exactly as written', () => {
    const strings = ['\u0000big:123', '\u0000big:-99999999999999999999', 'x:12345678901234567}', '{"a":12345678901234567}', ':1234567890123456789]', '\\u0000big:1'];
    for (const s of strings) {
      expect(parseJsonArg(JSON.stringify(s), 1)).toBe(s);
      expect(parseJsonArg(JSON.stringify({ s, list: [s] }), 1)).toEqual({ s, list: [s] });
    }
    // The exact text a user types for the first one.
    expect(parseJsonArg('"\\u0000big:123"', 1)).toBe('\u0000big:123');
  });

  it('gives integers beyond 2^53 as exact bigints, and the rest as JSON.parse does', () => {
    expect(parseJsonArg('9007199254740993', 1)).toBe(9007199254740993n);
    expect(parseJsonArg('-9223372036854775808', 1)).toBe(-9223372036854775808n);
    expect(parseJsonArg('[18446744073709551615, 1]', 1)).toEqual([18446744073709551615n, 1]);
    expect(parseJsonArg('{"n":340282366920938463463374607431768211455}', 1)).toEqual({ n: 340282366920938463463374607431768211455n });
    expect(parseJsonArg('1.8446744073709551615e19', 1)).toBe(18446744073709551615n);
    expect(parseJsonArg('-12e20', 1)).toBe(-1200000000000000000000n);
    for (const t of ['9007199254740991', '-9007199254740991', '0', '-0', '1.5', '1e3', '2.5e-3', '1e400', '1e-400', '123456789012345678901.5', 'true', 'null', '[]', '{}']) {
      expect(parseJsonArg(t, 1), t).toStrictEqual(JSON.parse(t));
    }
  });

  it('agrees with JSON.parse on random values with random strings, seed 21', () => {
    const rnd = prng(21);
    const str = () => String.fromCharCode(...Array.from({ length: Math.floor(rnd() * 12) }, () => (rnd() < 0.3 ? Math.floor(rnd() * 0x10000) : 32 + Math.floor(rnd() * 95))));
    const value = (depth: number): unknown => {
      const r = rnd();
      if (depth > 3 || r < 0.4) return [str(), Math.floor(rnd() * 2 ** 53) * (rnd() < 0.5 ? -1 : 1), rnd() * 1e6, true, null][Math.floor(rnd() * 5)];
      if (r < 0.7) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 4) }, () => [str(), value(depth + 1)]));
    };
    for (let i = 0; i < 3000; i++) {
      const text = JSON.stringify(value(0), null, rnd() < 0.5 ? 2 : undefined);
      expect(parseJsonArg(text, 1), text).toStrictEqual(JSON.parse(text));
    }
  });

  it('reads a "__proto__" key as data, not as the prototype', () => {
    const v = parseJsonArg('{"__proto__":{"polluted":1}}', 1) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses what is not JSON, and nesting too deep to read, as BAD_ARGUMENT', () => {
    // A repeated key is refused rather than silently keeping the last one.
    for (const t of ['hello', '{"text":', '[1,]', '', 'NaN', "'x'", '"tab\there"', '{"a":1,"a":2}']) expect(refusal(t).message, t).toMatch(/not JSON/);
    expect(refusal('['.repeat(200_000)).message).toMatch(/nests too deeply/);
    expect(refusal(`"${'x'.repeat(5000)}`).message.length).toBeLessThan(600);
  });

  it('an integer beyond 2^53 for an f32/f64 parameter takes the nearest double', () => {
    const big = parseJsonArg('9007199254740993', 1);
    expect(coerceValue({ tag: 'F64' }, big, 'x', { types: [] })).toBe(9007199254740992);
    expect(coerceValue({ tag: 'F32' }, parseJsonArg('1e30', 1), 'x', { types: [] })).toBe(1e30);
  });
});
