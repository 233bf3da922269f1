// Argument fuzzing with a fixed seed: the all-types example's insert reducer takes one parameter
// of every type (integers of every width, floats, strings, bytes, arrays, options, products, sums,
// identities, timestamps, durations, UUIDs, ScheduleAt); each call replaces one or two of a valid
// row's values with a hostile one (out of range, beyond i64, BigInt in odd places, wrong types,
// cycles, 100,000-deep nesting, holes, symbols, functions, invalid dates, lone surrogates). Each
// call must either succeed and store exactly the value the type makes of the input (read back
// with SQL), or fail with a named UsageError; never a TypeError, RangeError or silent change.
// Replay with LIGHTCONE_SEED=<seed>.
import { ConnectionId, Identity, ScheduleAt, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LightconeError, UsageError } from '../../src/errors.ts';
import { join } from 'node:path';
import { openDatabase, type NodeDatabase } from '../../src/node/open-database.ts';
import { lightcone } from '../helpers/cli.ts';
import { ALL_TYPES, ROOT, removeTempDirs, tempDir } from '../helpers/paths.ts';
import { prng, Rng } from '../helpers/prng.ts';
import { Figures, size, suiteSeed } from './figures.ts';

const seed = suiteSeed(20_250_904);
const CALLS = size(1_000, 5_000);
const figures = new Figures('arg-fuzz', seed);

afterAll(() => {
  figures.report();
  removeTempDirs();
});

// ── types and the values they make of an input ───────────────────────────────────────────────

type T =
  | { k: 'bool' | 'f32' | 'f64' | 'string' | 'bytes' | 'identity' | 'connectionId' | 'timestamp' | 'duration' | 'uuid' | 'scheduleAt' }
  | { k: 'int'; bits: number; signed: boolean }
  | { k: 'array' | 'option'; of: T }
  | { k: 'product'; fields: [string, T][] }
  | { k: 'sum'; variants: [string, T | null][] };

const int = (bits: number, signed: boolean): T => ({ k: 'int', bits, signed });
const U32 = int(32, false);
const COLUMNS: [string, T][] = [
  ['id', U32],
  ['flag', { k: 'bool' }],
  ['i8', int(8, true)],
  ['u8', int(8, false)],
  ['i16', int(16, true)],
  ['u16', int(16, false)],
  ['i32', int(32, true)],
  ['u32', U32],
  ['i64', int(64, true)],
  ['u64', int(64, false)],
  ['i128', int(128, true)],
  ['u128', int(128, false)],
  ['i256', int(256, true)],
  ['u256', int(256, false)],
  ['f32', { k: 'f32' }],
  ['f64', { k: 'f64' }],
  ['text', { k: 'string' }],
  ['bytes', { k: 'bytes' }],
  ['tags', { k: 'array', of: { k: 'string' } }],
  ['maybe', { k: 'option', of: U32 }],
  [
    'point',
    {
      k: 'product',
      fields: [
        ['x', int(32, true)],
        ['y', int(32, true)],
      ],
    },
  ],
  [
    'shape',
    {
      k: 'sum',
      variants: [
        ['Circle', { k: 'f64' }],
        [
          'Rect',
          {
            k: 'product',
            fields: [
              ['w', U32],
              ['h', U32],
            ],
          },
        ],
        ['Empty', null],
      ],
    },
  ],
  [
    'color',
    {
      k: 'sum',
      variants: [
        ['Red', null],
        ['Green', null],
        ['Blue', null],
      ],
    },
  ],
  ['owner', { k: 'identity' }],
  ['conn', { k: 'connectionId' }],
  ['at', { k: 'timestamp' }],
  ['duration', { k: 'duration' }],
  ['uuid', { k: 'uuid' }],
  ['schedule', { k: 'scheduleAt' }],
];

const I64: [bigint, bigint] = [-(1n << 63n), (1n << 63n) - 1n];
function intRange(t: { bits: number; signed: boolean }): [bigint, bigint] {
  const b = BigInt(t.bits);
  return t.signed ? [-(1n << (b - 1n)), (1n << (b - 1n)) - 1n] : [0n, (1n << b) - 1n];
}

/**
 * What a call must do with `v` for type `t`: store `canon` (accept), refuse it, or either of the
 * two (a lenient conversion is allowed, e.g. the string "5" for an integer, but if the call is
 * accepted, `canon` is what must be stored).
 */
type Verdict = { v: 'accept' | 'either'; canon: string } | { v: 'reject' };
const accept = (canon: string): Verdict => ({ v: 'accept', canon });
const either = (canon: string): Verdict => ({ v: 'either', canon });
const REJECT: Verdict = { v: 'reject' };

/** The weaker of two verdicts for one container holding both. */
function loosen(v: Verdict, by: Verdict['v']): Verdict {
  if (v.v === 'reject' || by === 'accept') return v;
  if (by === 'reject') return REJECT;
  return either(v.canon);
}

function intFrom(t: { bits: number; signed: boolean }, x: unknown): Verdict {
  const [lo, hi] = intRange(t);
  let b: bigint | undefined;
  let how: 'accept' | 'either' = 'accept';
  if (typeof x === 'bigint') b = x;
  else if (typeof x === 'number' && Number.isInteger(x)) b = BigInt(x);
  else if (typeof x === 'string' && /^[-+]?(0x[0-9a-fA-F]+|\d+)$/.test(x.trim())) {
    const s = x.trim();
    b = s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s.replace(/^\+/, ''));
    how = 'either';
  }
  if (b === undefined || b < lo || b > hi) return REJECT;
  return { v: how, canon: `${b}` };
}

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array) && !(x instanceof Date);
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const floatCanon = (x: number): string => (Object.is(x, -0) ? '-0' : String(x));
/** A string that UTF-8 cannot hold as is (a lone surrogate): storing it exactly is impossible. */
const lossy = (s: string): boolean => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

function expected(t: T, x: unknown): Verdict {
  switch (t.k) {
    case 'bool':
      if (typeof x === 'boolean') return accept(String(x));
      if (x === 0 || x === 1) return either(String(x === 1));
      return REJECT;
    case 'int':
      return intFrom(t, x);
    case 'f64':
    case 'f32': {
      const round = t.k === 'f32' ? Math.fround : (n: number) => n;
      let n: number | undefined;
      let how: 'accept' | 'either' = 'accept';
      if (typeof x === 'number') n = x;
      else if (typeof x === 'string' && x.trim() !== '' && !Number.isNaN(Number(x))) [n, how] = [Number(x), 'either'];
      // A bigint takes the nearest double, as a decimal does; one beyond the double range has none.
      else if (typeof x === 'bigint' && Number.isFinite(Number(x))) [n, how] = [Number(x), 'either'];
      if (n === undefined) return REJECT;
      // A finite number beyond f32 rounds to Infinity: allowed, but it is not the value given.
      if (t.k === 'f32' && Number.isFinite(n) && !Number.isFinite(round(n))) how = 'either';
      return { v: how, canon: floatCanon(round(n)) };
    }
    case 'string':
      if (typeof x !== 'string') return REJECT;
      return lossy(x) ? either(JSON.stringify(x)) : accept(JSON.stringify(x));
    case 'bytes':
      if (x instanceof Uint8Array) return accept(hex(x));
      if (typeof x === 'string' && /^(0x)?([0-9a-fA-F]{2})*$/i.test(x)) return either(x.replace(/^0x/i, '').toLowerCase());
      if (Array.isArray(x)) {
        const parts = Array.from(x, (e) => intFrom({ bits: 8, signed: false }, e));
        if (x.length !== Object.keys(x).length || parts.some((p) => p.v === 'reject')) return REJECT;
        return either(hex(Uint8Array.from(parts, (p) => Number((p as { canon: string }).canon))));
      }
      return REJECT;
    case 'array': {
      if (!Array.isArray(x) || x.length !== Object.keys(x).length) return REJECT;
      let how: Verdict['v'] = 'accept';
      const parts: string[] = [];
      for (const e of x) {
        const p = expected(t.of, e);
        if (p.v === 'reject') return REJECT;
        if (p.v === 'either') how = 'either';
        parts.push(p.canon);
      }
      return { v: how, canon: `[${parts.join(',')}]` };
    }
    case 'option': {
      if (x === null || x === undefined) return accept('none');
      if (isPlainObject(x) && Object.keys(x).length === 1 && 'none' in x) return either('none');
      if (isPlainObject(x) && Object.keys(x).length === 1 && 'some' in x) return loosen(wrap(expected(t.of, x.some), 'some'), 'either');
      return wrap(expected(t.of, x), 'some');
    }
    case 'product': {
      if (!isPlainObject(x)) return REJECT;
      let how: Verdict['v'] = Object.keys(x).every((k) => t.fields.some(([n]) => n === k)) ? 'accept' : 'either';
      const parts: string[] = [];
      for (const [name, ft] of t.fields) {
        const p = expected(ft, x[name]);
        if (p.v === 'reject') return REJECT;
        if (p.v === 'either') how = 'either';
        parts.push(`${name}:${p.canon}`);
      }
      return { v: how, canon: `{${parts.join(',')}}` };
    }
    case 'sum': {
      let tag: unknown;
      let payload: unknown;
      let how: Verdict['v'] = 'accept';
      if (typeof x === 'string') [tag, how] = [x, 'either'];
      else if (isPlainObject(x) && typeof x.tag === 'string') [tag, payload] = [x.tag, x.value];
      else if (isPlainObject(x) && Object.keys(x).length === 1) [tag, payload, how] = [Object.keys(x)[0], Object.values(x)[0], 'either'];
      const variant = t.variants.find(([n]) => n === tag);
      if (!variant) return REJECT;
      if (variant[1] === null) return { v: payload === undefined || (isPlainObject(payload) && Object.keys(payload).length === 0) ? how : 'either', canon: `${variant[0]}()` };
      return loosen(wrap(expected(variant[1], payload), variant[0]), how);
    }
    case 'identity':
    case 'connectionId': {
      const bits = t.k === 'identity' ? 256n : 128n;
      if (x instanceof (t.k === 'identity' ? Identity : ConnectionId)) return accept(`${t.k === 'identity' ? (x as Identity).__identity__ : (x as ConnectionId).__connection_id__}`);
      let b: bigint | undefined;
      if (typeof x === 'string') b = /^(0x)?[0-9a-fA-F]+$/.test(x.trim()) ? BigInt(`0x${x.trim().replace(/^0x/i, '')}`) : undefined;
      else if (typeof x === 'bigint') b = x;
      else if (isPlainObject(x)) b = special(x, t.k === 'identity' ? '__identity__' : '__connection_id__');
      return b !== undefined && b >= 0n && b < 1n << bits ? either(`${b}`) : REJECT;
    }
    case 'timestamp': {
      let b: bigint | undefined;
      let how: 'accept' | 'either' = 'either';
      if (x instanceof Timestamp) [b, how] = [x.microsSinceUnixEpoch, 'accept'];
      else if (x instanceof Date) b = Number.isNaN(x.getTime()) ? undefined : BigInt(x.getTime()) * 1000n;
      else if (typeof x === 'string' && !/^-?\d+$/.test(x)) b = Number.isNaN(Date.parse(x)) ? undefined : BigInt(Date.parse(x)) * 1000n;
      else if (isPlainObject(x)) b = special(x, '__timestamp_micros_since_unix_epoch__');
      else {
        const v = intFrom({ bits: 64, signed: true }, x);
        b = v.v === 'reject' ? undefined : BigInt(v.canon);
      }
      return b !== undefined && b >= I64[0] && b <= I64[1] ? { v: how, canon: `${b}` } : REJECT;
    }
    case 'duration': {
      if (x instanceof TimeDuration) return x.micros >= I64[0] && x.micros <= I64[1] ? accept(`${x.micros}`) : REJECT;
      const micros = isPlainObject(x) ? special(x, '__time_duration_micros__') : undefined;
      if (micros !== undefined) return micros >= I64[0] && micros <= I64[1] ? either(`${micros}`) : REJECT;
      const v = intFrom({ bits: 64, signed: true }, x);
      return v.v === 'reject' ? REJECT : either(v.canon);
    }
    case 'uuid': {
      if (x instanceof Uuid) return accept(x.toString());
      if (typeof x === 'string') {
        try {
          return either(Uuid.parse(x).toString());
        } catch {
          return REJECT;
        }
      }
      if (typeof x === 'bigint') return x >= 0n && x < 1n << 128n ? either(new Uuid(x).toString()) : REJECT;
      return REJECT;
    }
    case 'scheduleAt': {
      if (!isPlainObject(x) || (x.tag !== 'Interval' && x.tag !== 'Time')) return REJECT;
      const inner = expected(x.tag === 'Interval' ? { k: 'duration' } : { k: 'timestamp' }, x.value);
      return wrap(inner, x.tag);
    }
  }
}

/** The library's own plain shape of a special value (`{ __identity__: 5n }`), which the host accepts. */
function special(x: Record<string, unknown>, field: string): bigint | undefined {
  const b = x[field];
  return typeof b === 'bigint' ? b : undefined;
}

function wrap(v: Verdict, name: string): Verdict {
  return v.v === 'reject' ? v : { v: v.v, canon: `${name}(${v.canon})` };
}

/** The canonical form of a value read back with SQL, for type `t`. */
function canonOf(t: T, x: unknown): string {
  switch (t.k) {
    case 'bool':
      return String(x);
    case 'int':
      return `${BigInt(x as number | bigint)}`;
    case 'f32':
    case 'f64':
      return floatCanon(x as number);
    case 'string':
      return JSON.stringify(x);
    case 'bytes':
      return hex(x as Uint8Array);
    case 'array':
      return `[${(x as unknown[]).map((e) => canonOf(t.of, e)).join(',')}]`;
    case 'option':
      return x === undefined || x === null ? 'none' : `some(${canonOf(t.of, x)})`;
    case 'product':
      return `{${t.fields.map(([n, ft]) => `${n}:${canonOf(ft, (x as Record<string, unknown>)[n])}`).join(',')}}`;
    case 'sum': {
      const s = x as { tag: string; value: unknown };
      const v = t.variants.find(([n]) => n === s.tag)!;
      return v[1] === null ? `${s.tag}()` : `${s.tag}(${canonOf(v[1], s.value)})`;
    }
    case 'identity':
      return `${(x as Identity).__identity__}`;
    case 'connectionId':
      return `${(x as ConnectionId).__connection_id__}`;
    case 'timestamp':
      return `${(x as Timestamp).microsSinceUnixEpoch}`;
    case 'duration':
      return `${(x as TimeDuration).micros}`;
    case 'uuid':
      return (x as Uuid).toString();
    case 'scheduleAt': {
      const s = x as { tag: 'Interval' | 'Time'; value: TimeDuration | Timestamp };
      return `${s.tag}(${s.tag === 'Interval' ? (s.value as TimeDuration).micros : (s.value as Timestamp).microsSinceUnixEpoch})`;
    }
  }
}

// ── values: valid ones for a base row, hostile ones to put in it ─────────────────────────────

class Gen extends Rng {
  big(lo: bigint, hi: bigint): bigint {
    let r = 0n;
    for (let i = 0; i < 6; i++) r = (r << 53n) | BigInt(this.int(2 ** 53));
    return lo + (r % (hi - lo + 1n));
  }

  valid(t: T): unknown {
    switch (t.k) {
      case 'bool':
        return this.rand() < 0.5;
      case 'int': {
        const [lo, hi] = intRange(t);
        const b = this.pick([lo, hi, 0n > lo ? 0n : lo, this.big(lo, hi)]);
        return t.bits <= 32 ? Number(b) : b;
      }
      case 'f32':
        return Math.fround(this.rand() * 1000 - 500);
      case 'f64':
        return this.pick([0, -0, 1.5, -1e308, Number.MIN_VALUE, this.rand()]);
      case 'string':
        return this.pick(['', 'a', 'héllo ✓', '😀', "'; DROP TABLE all_types; --", '\u0000']);
      case 'bytes':
        return Uint8Array.from({ length: this.int(5) }, () => this.int(256));
      case 'array':
        return Array.from({ length: this.int(3) }, () => this.valid(t.of));
      case 'option':
        return this.rand() < 0.3 ? undefined : this.valid(t.of);
      case 'product':
        return Object.fromEntries(t.fields.map(([n, ft]) => [n, this.valid(ft)]));
      case 'sum': {
        const [tag, inner] = this.pick(t.variants);
        return inner === null ? { tag } : { tag, value: this.valid(inner) };
      }
      case 'identity':
        return new Identity(this.big(0n, (1n << 256n) - 1n));
      case 'connectionId':
        return new ConnectionId(this.big(0n, (1n << 128n) - 1n));
      case 'timestamp':
        return new Timestamp(this.big(I64[0], I64[1]));
      case 'duration':
        return new TimeDuration(this.big(I64[0], I64[1]));
      case 'uuid':
        return new Uuid(this.big(0n, (1n << 128n) - 1n));
      case 'scheduleAt':
        return this.rand() < 0.5 ? ScheduleAt.interval(this.big(0n, I64[1])) : ScheduleAt.time(this.big(I64[0], I64[1]));
    }
  }

  /** A hostile value for type `t`: its edges, its neighbours' types, and general junk. */
  hostile(t: T): unknown {
    return this.rand() < 0.5 ? this.pick(typed(t, this)) : this.pick(JUNK)();
  }
}

function cyclic(): unknown {
  const o: Record<string, unknown> = { x: 1, y: 2 };
  o.self = o;
  return o;
}
function deepArray(n: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < n; i++) v = [v];
  return v;
}
function deepObject(n: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = { x: v, y: 1 };
  return v;
}

/** Junk that fits no type (or only by accident), made fresh per use. */
const JUNK: (() => unknown)[] = [
  () => undefined,
  () => null,
  () => Symbol('hostile'),
  () => () => 1,
  () => ({}),
  () => [],
  () => Object.create(null) as unknown,
  cyclic,
  () => deepArray(100_000),
  () => deepObject(100_000),
  () => ({ a: 1n }),
  () => [1n, { b: 2n }],
  () => new Map([[1, 2]]),
  () => new Set([1]),
  () => new Date(NaN),
  () => new Date(8.64e15),
  () => NaN,
  () => Infinity,
  () => -Infinity,
  () => -0,
  () => 2 ** 53 + 2,
  () => 1.5,
  () => '',
  () => ' ',
  () => 'x'.repeat(1 << 20),
  () => '\uD800',
  () => '\u0000big:12345678901234567890',
  () => true,
  () => 10n ** 80n,
  () => -(10n ** 80n),
  () => new Uint8Array([1, 2, 3]),
  () => new ArrayBuffer(4),
  () => [, 'hole'], // eslint-disable-line no-sparse-arrays
  () => ({ tag: 'Interval', value: 1n << 70n }),
  () => ({ toString: () => '5', valueOf: () => 5 }),
];

function typed(t: T, g: Gen): unknown[] {
  switch (t.k) {
    case 'int': {
      const [lo, hi] = intRange(t);
      return [lo - 1n, hi + 1n, lo, hi, Number(lo) - 1, Number(hi) + 1, `${hi}`, `${hi + 1n}`, ` ${lo} `, '0x10', '-0x10', '1e3', '+7', `${g.big(lo, hi)}`, 2 ** 64, -(2 ** 63), 2 ** 63, 0.5];
    }
    case 'f32':
    case 'f64':
      return [NaN, Infinity, -0, 3.5e38, 1e39, -1e39, Number.MAX_VALUE, 5e-324, '1.25', 'NaN', '0x10', 'Infinity', 2n ** 53n, 2n ** 53n + 1n, 2n ** 1024n, '1e400'];
    case 'string':
      return ['\uD800', 'a\uDC00b', '\uFFFF', '\u{10FFFF}', 'x'.repeat(100_000), 5n, 5, ['a'], { toString: () => 'a' }];
    case 'bytes':
      return ['abc', '0x', '0xzz', 'ff00', [256], [-1], [1.5], [1n, 2n], Buffer.from('hi'), new Uint16Array([1]), new DataView(new ArrayBuffer(2)), Array(3)];
    case 'array':
      return [['a', 5], [, 'a'], 'abc', new Set(['a']), Array.from({ length: 50_000 }, () => 'x'), { length: 1, 0: 'a' }]; // eslint-disable-line no-sparse-arrays
    case 'option':
      return [null, { some: 5 }, { none: {} }, { some: { some: 5 } }, { some: 2 ** 32 }, { some: 1, none: 1 }, 2 ** 32, -1, '7'];
    case 'product':
      return [{ x: 1 }, { x: 1, y: 2, z: 3 }, [1, 2], { x: 1n, y: -2n }, { x: '1', y: '2' }, { x: 2 ** 31, y: 0 }, { x: cyclic(), y: 1 }, { x: deepObject(50_000), y: 1 }];
    case 'sum':
      return [
        'Empty',
        'Red',
        'red',
        'Circle',
        { tag: 'Circle', value: NaN },
        { Circle: 1.5 },
        { tag: 'Rect', value: { w: -1, h: 1 } },
        { tag: 'Rect', value: { w: 1n, h: 2n } },
        { tag: 'Nope' },
        { tag: 'Red', value: 5 },
        { tag: 'Circle' },
        { Red: {}, Green: {} },
      ];
    case 'identity':
    case 'connectionId':
      return [
        -1n,
        1n << 256n,
        (1n << 256n) - 1n,
        1n << 128n,
        (1n << 128n) - 1n,
        'c200',
        'zz',
        `0x${'f'.repeat(64)}`,
        'f'.repeat(65),
        `0x${'f'.repeat(32)}`,
        { __identity__: 5n },
        { __identity__: 'x' },
        5,
      ];
    case 'timestamp':
      return [
        new Timestamp(1n << 63n),
        new Timestamp(-(1n << 63n) - 1n),
        new Timestamp(I64[1]),
        1n << 70n,
        -(1n << 70n),
        I64[1],
        `${I64[1] + 1n}`,
        '2025-01-01T00:00:00Z',
        '+275760-09-13T00:00:00.000Z',
        '+275760-09-14T00:00:00.000Z',
        'not a date',
        new Date(8.64e15),
        new Date(NaN),
        1.5,
      ];
    case 'duration':
      return [new TimeDuration(1n << 63n), new TimeDuration(I64[0]), 1n << 63n, -(1n << 63n) - 1n, '123', 1.5, 2 ** 63];
    case 'uuid':
      return [1n << 128n, -1n, (1n << 128n) - 1n, 'not-a-uuid', '0190a9b2-7c1e-7000-8000-000000000001', '0190A9B2-7C1E-7000-8000-00000000000Z', 5];
    case 'scheduleAt':
      return [
        { tag: 'Interval', value: new TimeDuration(1n << 70n) },
        { tag: 'Interval', value: 1n << 70n },
        { tag: 'Time', value: new Timestamp(1n << 63n) },
        { tag: 'Time', value: -(1n << 63n) },
        { tag: 'Interval', value: 5n },
        { tag: 'Interval' },
        { tag: 'Every', value: 5n },
        ScheduleAt.interval(1n << 62n),
      ];
    default:
      return [];
  }
}

// ── the run ──────────────────────────────────────────────────────────────────────────────────

describe('argument fuzzing over every type', () => {
  let db: NodeDatabase;
  beforeAll(async () => {
    db = await openDatabase({ name: 'argfuzz', module: ALL_TYPES });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it(
    `${CALLS} calls with hostile arguments: exact value stored, or a named UsageError (seed ${seed})`,
    async () => {
      const g = new Gen(prng(seed));
      const failures: string[] = [];
      const fail = (i: number, what: string): void => {
        if (failures.length < 40) failures.push(`#${i} ${what}`);
      };
      const usedIds = new Set<string>();
      let nextId = 1;
      for (let i = 0; i < CALLS; i++) {
        const row = COLUMNS.map(([, t]) => g.valid(t));
        row[0] = nextId++;
        const fuzzed = new Set<number>([g.int(COLUMNS.length)]);
        if (g.rand() < 0.2) fuzzed.add(g.int(COLUMNS.length));
        for (const c of fuzzed) row[c] = g.hostile(COLUMNS[c]![1]);
        const verdicts = COLUMNS.map(([, t], c) => expected(t, row[c]));
        const rejected = verdicts.findIndex((v) => v.v === 'reject');
        const mustAccept = verdicts.every((v) => v.v === 'accept');
        const idCanon = verdicts[0]!.v === 'reject' ? undefined : verdicts[0]!.canon;
        const idTaken = idCanon !== undefined && usedIds.has(idCanon);
        const shown = [...fuzzed].map((c) => `${COLUMNS[c]![0]} = ${show(row[c])}`).join(', ');
        figures.add('calls fuzzed');

        let error: unknown;
        let sync = false;
        try {
          const p = (() => {
            try {
              return db.call('insert_all_types', row);
            } catch (e) {
              sync = true;
              throw e;
            }
          })();
          await p;
        } catch (e) {
          error = e;
        }
        if (sync) fail(i, `db.call threw instead of rejecting (${shown})`);
        if (error !== undefined) {
          const named = error instanceof UsageError && /^[A-Z][A-Z_]+$/.test(error.code) && error.message.length > 0;
          // A valid id may collide with an earlier row: the module's insert then fails on its own.
          const collision = idTaken && error instanceof LightconeError && error.name === 'InternalError';
          if (named) figures.add('refused with UsageError');
          else if (collision) figures.add('duplicate ids refused by the module');
          else {
            figures.add('unnamed errors');
            fail(i, `${shown}: ${describeError(error)}`);
            continue;
          }
          if (mustAccept && !idTaken) fail(i, `${shown}: a valid value was refused: ${(error as Error).message.slice(0, 200)}`);
          continue;
        }
        if (rejected >= 0) {
          figures.add('silently accepted');
          fail(i, `${shown}: accepted, but ${COLUMNS[rejected]![0]} = ${show(row[rejected])} is not a valid ${COLUMNS[rejected]![1].k}`);
          // Still check below what was stored for the other columns.
        }
        usedIds.add(idCanon ?? '');
        const id = idCanon ?? '0';
        const got = await db.sql(`SELECT * FROM all_types WHERE id = ${id}`);
        if (got.length !== 1) {
          fail(i, `${shown}: accepted, but SELECT found ${got.length} rows with id ${id}`);
          continue;
        }
        const stored = Object.values(got[0]!);
        figures.add('accepted and read back');
        COLUMNS.forEach(([name, t], c) => {
          const v = verdicts[c]!;
          if (v.v === 'reject') return;
          const actual = canonOf(t, stored[c]);
          if (actual !== v.canon) {
            figures.add('values changed');
            fail(i, `${shown}: ${name} stored as ${actual.slice(0, 120)}, expected ${v.canon.slice(0, 120)}`);
          }
        });
      }
      figures.zero('unnamed errors');
      figures.zero('values changed');
      figures.zero('silently accepted');
      expect(failures, `seed ${seed}: ${failures.length} failures`).toEqual([]);
    },
    size(120_000, 600_000),
  );

  it('hostile argument lists: wrong shapes, cycles, deep nesting, extra names are named UsageErrors', async () => {
    const cyc: Record<string, unknown> = { id: 1 };
    cyc.self = cyc;
    const shapes: unknown[] = [null, 5, 'args', true, 5n, [], [1], Array(29), cyc, deepArray(100_000), deepObject(100_000), Symbol('x'), () => 1, new Map(), { id: 1n << 40n }];
    const failures: string[] = [];
    for (const args of shapes) {
      figures.add('calls fuzzed');
      let error: unknown;
      try {
        await db.call('insert_all_types', args);
      } catch (e) {
        error = e;
      }
      if (error instanceof UsageError && /^[A-Z][A-Z_]+$/.test(error.code)) figures.add('refused with UsageError');
      else {
        figures.add('unnamed errors');
        failures.push(`${show(args)}: ${error === undefined ? 'accepted' : describeError(error)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('arguments and values through the CLI', () => {
  const FIXTURES = join(ROOT, 'test', 'fixtures');

  it(`seeded JSON arguments (marker-shaped strings, integers beyond 2^53) are stored exactly (seed ${seed})`, async () => {
    const g = new Gen(prng(seed ^ 0xc11));
    const dataDir = tempDir('lightcone-argfuzz-cli-');
    const env = { LIGHTCONE_DATA_DIR: dataDir };
    expect((await lightcone(['publish', '--module-path', join(FIXTURES, 'typed-args.ts'), 'typed'], { env })).code).toBe(0);
    const notes = ['\u0000big:12345678901234567890', 'x:12345678901234567}', '{"big":18446744073709551615}', '"quoted" \\ back', '\uD83D\uDE00 ✓', '', '-0', '1e400'];
    const sent: { small: number; big: bigint; who: bigint; note: string }[] = [];
    for (let i = 0; i < size(3, 12); i++) {
      const row = {
        small: g.int(256),
        big: g.big(0n, (1n << 64n) - 1n),
        who: g.big(0n, (1n << 256n) - 1n),
        note: g.rand() < 0.7 ? g.pick(notes) + String.fromCodePoint(32 + g.int(0x2000)) : 'x'.repeat(g.int(5000)),
      };
      sent.push(row);
      figures.add('CLI calls');
      // One JSON value per parameter, as a user types them: the u64 as a bare JSON number.
      const args = [String(row.small), String(row.big), JSON.stringify(row.who.toString(16).padStart(64, '0')), JSON.stringify(row.note)];
      const r = await lightcone(['call', 'typed', 'record', ...args], { env });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const db = await openDatabase({ dataDir, name: 'typed' });
    try {
      const rows = await db.sql('SELECT * FROM entry');
      const got = rows.map((r) => ({ small: r.small as number, big: r.big as bigint, who: (r.who as Identity).__identity__, note: r.note as string }));
      expect(got).toEqual(sent);
    } finally {
      await db.close();
    }
  }, 120_000);

  it('lightcone sql prints timestamps and schedules at the ends of i64 (beyond JS Date)', async () => {
    const dataDir = tempDir('lightcone-argfuzz-cli-');
    const env = { LIGHTCONE_DATA_DIR: dataDir };
    expect((await lightcone(['publish', '--module-path', join(FIXTURES, 'edge-values.ts'), 'edge'], { env })).code).toBe(0);
    for (const args of [
      [`${I64[1]}`, `${I64[1]}`, `{"Time": ${I64[1]}}`],
      [`${I64[0]}`, `${I64[0]}`, `{"Interval": ${I64[1]}}`],
    ]) {
      const r = await lightcone(['call', 'edge', 'stamp', ...args], { env });
      expect(r.code, r.stderr).toBe(0);
    }
    for (const extra of [[], ['--json']]) {
      figures.add('CLI calls');
      const r = await lightcone(['sql', 'edge', 'SELECT * FROM moment', ...extra], { env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/9223372036854775807|\+?294247-01-10/);
    }
  }, 120_000);
});

function show(v: unknown): string {
  try {
    if (typeof v === 'bigint') return `${v}`.length > 40 ? `${v < 0n ? '-' : ''}~2^${(v < 0n ? -v : v).toString(2).length - 1} (bigint)` : `${v}n`;
    if (typeof v === 'symbol' || typeof v === 'function') return String(v);
    if (v instanceof Uint8Array) return `${v.constructor.name}[${v.length}]`;
    const s = JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
    if (s === undefined) return String(v);
    return s.length > 80 ? `${s.slice(0, 80)}… (${s.length} chars)` : s;
  } catch (e) {
    return `<${(e as Error).name}: cyclic or too deep ${Array.isArray(v) ? 'array' : typeof v}>`;
  }
}

function describeError(e: unknown): string {
  if (e instanceof LightconeError) return `${e.name} ${e.code}: ${e.message.slice(0, 200)}`;
  return `${(e as Error)?.constructor?.name ?? typeof e} (not a named error): ${String((e as Error)?.message ?? e).slice(0, 200)}`;
}
