// Values at the edges of what the wire and the output can hold (test/fixtures/edge-values.ts):
// times outside i64 are refused like out-of-range integers, never wrapped; far-future times that
// JS Date cannot hold still print; tables of any size print; odd arguments fail with a name.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { TimeDuration, Timestamp } from 'spacetimedb';
import { LightconeError, UsageError } from '../src/errors.ts';
import { ALL_TYPES } from './helpers/paths.ts';
import { ALL_TYPES_FIELDS } from './helpers/all-types-fields.ts';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { formatSqlResult, stringifyJson, timestampText } from '../src/sql/format.ts';
import { prng } from './helpers/prng.ts';
import { rejection } from './helpers/rejection.ts';

const EDGE = join(import.meta.dirname, 'fixtures', 'edge-values.ts');
const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);

let db: NodeDatabase;
beforeEach(async () => {
  db = await openDatabase({ name: 'edge', module: EDGE });
});
afterEach(async () => {
  await db.close();
});

const moments = async () => (await db.sql('SELECT * FROM moment')).length;

describe('Timestamp, TimeDuration and ScheduleAt arguments outside i64', () => {
  const time0 = { tag: 'Time', value: 0n };

  it('are refused as BAD_ARGUMENT naming the parameter and the range, and nothing is stored', async () => {
    const cases: [string, unknown[]][] = [
      ['at', [1n << 70n, 0n, time0]],
      ['at', [I64_MAX + 1n, 0n, time0]],
      ['at', [I64_MIN - 1n, 0n, time0]],
      ['at', [new Timestamp(1n << 70n), 0n, time0]],
      ['at', [{ __timestamp_micros_since_unix_epoch__: 1n << 64n }, 0n, time0]],
      ['span', [0n, 1n << 70n, time0]],
      ['span', [0n, new TimeDuration(-(1n << 64n)), time0]],
      ['when', [0n, 0n, { tag: 'Time', value: 1n << 70n }]],
      ['when', [0n, 0n, { Interval: 1n << 63n }]],
      ['when', [0n, 0n, { tag: 'Interval', value: new TimeDuration(1n << 70n) }]],
    ];
    for (const [param, args] of cases) {
      const err = await rejection(db.call('stamp', args));
      expect(err, param).toBeInstanceOf(UsageError);
      expect(err.code, param).toBe('BAD_ARGUMENT');
      expect(err.message, param).toContain(`argument ${param}`);
      expect(err.message, param).toContain(`${I64_MAX}`);
    }
    const invalidDate = await rejection(db.call('stamp', [new Date(NaN), 0n, time0]));
    expect(invalidDate.code).toBe('BAD_ARGUMENT');
    expect(invalidDate.message).toMatch(/argument at: .*valid date/);
    expect(await moments()).toBe(0);
  });

  it('the ends of i64 themselves are accepted and read back exactly', async () => {
    await db.call('stamp', [I64_MAX, I64_MIN, { tag: 'Time', value: I64_MIN }]);
    await db.call('stamp', [I64_MIN, I64_MAX, { tag: 'Interval', value: I64_MAX }]);
    const rows = (await db.sql('SELECT * FROM moment')) as { at: Timestamp; span: TimeDuration; when: { tag: string; value: Timestamp | TimeDuration } }[];
    expect(rows.map((r) => [r.at.microsSinceUnixEpoch, r.span.micros])).toEqual([
      [I64_MAX, I64_MIN],
      [I64_MIN, I64_MAX],
    ]);
    expect((rows[0]!.when.value as Timestamp).microsSinceUnixEpoch).toBe(I64_MIN);
    expect((rows[1]!.when.value as TimeDuration).micros).toBe(I64_MAX);
  });
});

describe('lightcone sql output', () => {
  it('prints a table of more rows than a call can take as arguments (130,000)', async () => {
    const n = 130_000;
    await db.call('fill', [n]);
    const res = await db.query('SELECT * FROM bulk');
    expect(res.rows).toHaveLength(n);
    const lines = formatSqlResult(res).split('\n');
    expect(lines).toHaveLength(n + 3); // header, rule, rows, and the final newline
    expect(lines[0]).toBe(' id     | label');
    expect(lines[1]).toBe('--------+--------------');
    expect(lines).toContain(' 129999 | "row 129999"');
  });

  it('prints far-future and far-past Timestamps that JS Date cannot hold, in table and JSON form', async () => {
    await db.call('stamp', [I64_MAX, 0n, { tag: 'Time', value: I64_MIN }]);
    // 9e15 ms: a safe integer of milliseconds, yet beyond Date's 8.64e15 ("Invalid time value").
    await db.call('stamp', [9_000_000_000_000_000_000n, 0n, { tag: 'Time', value: -9_000_000_000_000_000_000n }]);
    const res = await db.query('SELECT * FROM moment');
    const text = formatSqlResult(res);
    expect(text).toContain('+287168-08-24T16:00:00.000000Z');
    expect(text).toContain('-283229-05-10T08:00:00.000000Z');
    expect(text).toContain('+294247-01-10T04:00:54.775807Z');
    expect(text).toContain('-290308-12-21T19:59:05.224192Z');
    const json = JSON.parse(stringifyJson(res.rows)) as { at: string; when: { Time: string } }[];
    expect(json[0]!.at).toBe('+294247-01-10T04:00:54.775807Z');
    expect(json[0]!.when.Time).toBe('-290308-12-21T19:59:05.224192Z');
  });
});

/** ISO text through JS Date for a time inside its range, with microseconds (floor, also before 1970). */
function viaDate(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const frac = ((micros % 1_000_000n) + 1_000_000n) % 1_000_000n;
  return new Date(Number(ms)).toISOString().replace(/\.\d{3}Z$/, `.${String(frac).padStart(6, '0')}Z`);
}

describe('timestampText', () => {
  // The Gregorian calendar repeats every 400 years (146,097 days), so a time beyond Date's range
  // reads as the time 400·k years earlier with the year moved by 400·k.
  const ERA_MICROS = 146_097n * 86_400_000_000n;

  it('matches Date#toISOString (with microseconds) across the range of Date, seed 9', () => {
    const rnd = prng(9);
    const DATE_MAX_MICROS = 8_640_000_000_000_000_000n;
    const fixed = [0n, -1n, 1n, 999_999n, -1_000_000n, 951_782_400_000_000n, -62_167_219_200_000_000n, -62_167_219_200_000_001n, 253_402_300_800_000_000n, DATE_MAX_MICROS, -DATE_MAX_MICROS];
    const random = Array.from({ length: 20_000 }, () => {
      const scale = 10 ** Math.floor(rnd() * 19);
      return (BigInt(Math.floor(rnd() * scale)) * (rnd() < 0.5 ? -1n : 1n) * DATE_MAX_MICROS) / BigInt(scale);
    });
    for (const m of [...fixed, ...random]) expect(timestampText(m), String(m)).toBe(viaDate(m));
    // The package's own formatting agrees where it is defined (times at or after 1970).
    for (const m of [0n, 1n, 951_782_400_123_456n, 253_402_300_800_000_000n]) expect(timestampText(m)).toBe(new Timestamp(m).toISOString());
  });

  it('beyond the range of Date, agrees with the same time 400·k years closer', () => {
    const rnd = prng(10);
    const beyond = [I64_MAX, I64_MIN, I64_MAX - 1n, I64_MIN + 1n, 8_640_000_000_000_000_001n, -8_640_000_000_000_000_001n];
    for (let i = 0; i < 2000; i++) beyond.push((I64_MAX / 1_000_000n) * BigInt(Math.floor(rnd() * 1_000_000)) * (rnd() < 0.5 ? -1n : 1n));
    for (const m of beyond) {
      const k = m / ERA_MICROS; // whole eras to move towards 1970
      const near = viaDate(m - k * ERA_MICROS);
      const year = /^([+-]?\d+)-/.exec(near)![1]!;
      const shifted = Number(year) + Number(k) * 400;
      const expected = (shifted >= 0 && shifted <= 9999 ? String(shifted).padStart(4, '0') : `${shifted < 0 ? '-' : '+'}${String(Math.abs(shifted)).padStart(6, '0')}`) + near.slice(year.length);
      expect(timestampText(m), String(m)).toBe(expected);
    }
  });
});

describe('hostile arguments end in a named error', () => {
  it('values a message cannot print as JSON (a bigint inside, a cycle, deep nesting, a throwing Proxy) are BAD_ARGUMENT naming the parameter', async () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const trap = new Proxy(
      {},
      {
        ownKeys: () => {
          throw new Error('trap');
        },
        get: () => {
          throw new Error('trap');
        },
      },
    );
    const hostile: [string, unknown][] = [
      ['bigint inside', { n: 1n, list: [2n] }],
      ['cycle', cycle],
      ['deep', deep],
      ['proxy', trap],
      ['symbol', Symbol('s')],
      ['function', () => 1],
      ['huge string key', { ['k'.repeat(100_000)]: 1 }],
    ];
    for (const [what, v] of hostile) {
      const err = await rejection(db.call('say', [v, 1n]));
      expect(err, what).toBeInstanceOf(UsageError);
      expect(err.code, what).toBe('BAD_ARGUMENT');
      expect(err.message.length, what).toBeLessThan(600);
      // Values that reach the type check are named by parameter (a boundary that cannot carry
      // a Symbol or a Proxy may refuse those earlier, with its own message).
      if (what === 'bigint inside' || what === 'cycle') expect(err.message, what).toContain('argument s');
    }
    const err = await rejection(db.call('say', { s: 'x', n: { n: 1n } }));
    expect(err.message).toContain('{"n": 1n}');
    expect((await rejection(db.call('say', ['x', cycle]))).message).toContain('[circular]');
    expect(await db.sql('SELECT * FROM text')).toEqual([]);
  });

  it('values that cannot be stored exactly are refused: lone surrogates, sparse arrays, bigints beyond a double', async () => {
    for (const text of ['\ud800', 'a\udc00b', 'x\ud83d']) {
      const err = await rejection(db.call('say', [text, 1n]));
      expect(err.code).toBe('BAD_ARGUMENT');
      expect(err.message).toMatch(/argument s: .*lone UTF-16 surrogate/);
    }
    await db.call('say', ['paired 😀', 1n]);
    expect((await db.sql('SELECT s FROM text')) as { s: string }[]).toEqual([{ s: 'paired 😀' }]);

    const all = await openDatabase({ name: 'all', module: ALL_TYPES });
    try {
      const row = {
        id: 1,
        flag: true,
        i8: 0,
        u8: 0,
        i16: 0,
        u16: 0,
        i32: 0,
        u32: 0,
        i64: 0n,
        u64: 0n,
        i128: 0n,
        u128: 0n,
        i256: 0n,
        u256: 0n,
        f32: 0,
        f64: 0,
        text: '',
        bytes: [1, 2],
        tags: ['a'],
        maybe: null,
        point: { x: 0, y: 0 },
        shape: 'Empty',
        color: 'Red',
        owner: '00',
        conn: '00',
        at: 0n,
        duration: 0n,
        uuid: '00000000-0000-0000-0000-000000000000',
        schedule: { Interval: 1n },
      };
      const withExtra = Object.assign(['a'], { extra: 1 });
      // eslint-disable-next-line no-sparse-arrays
      for (const [field, v] of [
        ['tags', [, 'a']],
        ['bytes', [1, , 3]],
        ['tags', withExtra],
        ['f64', 1n << 1024n],
        ['f32', -(1n << 1100n)],
      ] as [string, unknown][]) {
        const err = await rejection(all.call('insert_all_types', { ...row, [field]: v }));
        expect(err.code, field).toBe('BAD_ARGUMENT');
        expect(err.message, field).toContain(`argument ${field}`);
      }
      await all.call('insert_all_types', { ...row, f64: (1n << 60n) + 1n });
      expect(((await all.sql('SELECT * FROM all_types')) as { f_64: number }[]).map((r) => r.f_64)).toEqual([2 ** 60]);
    } finally {
      await all.close();
    }
  });

  it('a UUID outside 128 bits is BAD_ARGUMENT (the package threw a plain Error)', async () => {
    for (const u of [1n << 128n, -1n, 1n << 130n]) {
      const err = await rejection(db.call('label', [u]));
      expect(err, String(u)).toBeInstanceOf(UsageError);
      expect(err.code).toBe('BAD_ARGUMENT');
      expect(err.message).toContain('argument u');
      expect(err.message).toContain('128 bits');
    }
    await db.call('label', [(1n << 128n) - 1n]);
    expect(await db.sql('SELECT * FROM tag')).toHaveLength(1);
  });

  it('a UUID literal in SQL may be written 0x + hex digits, as the query builder writes it', async () => {
    const u = '01234567-89ab-cdef-0123-456789abcdef';
    await db.call('label', [u]);
    const rows = (await db.sql('SELECT * FROM tag WHERE u = 0x0123456789abcdef0123456789abcdef')) as { u: { toString(): string } }[];
    expect(rows.map((r) => r.u.toString())).toEqual([u]);
    expect(await db.sql('SELECT * FROM tag WHERE u = 0x0123456789abcdef0123456789abcdee')).toEqual([]);
  });

  it('random hostile values for each parameter of insert_all_types settle with a LightconeError, seed 77', async () => {
    const all = await openDatabase({ name: 'all', module: ALL_TYPES });
    try {
      const rnd = prng(77);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
      const cycle: unknown[] = [];
      cycle.push(cycle);
      const atoms: unknown[] = [
        0,
        -1,
        1.5,
        NaN,
        Infinity,
        -0,
        2 ** 53,
        1n << 300n,
        -(1n << 300n),
        '',
        'x',
        '0x',
        '0xzz',
        'ff'.repeat(40),
        '9'.repeat(100),
        '-1',
        '1e5',
        true,
        null,
        undefined,
        [],
        {},
        [1, 2],
        { tag: 'nope' },
        { tag: 'Time' },
        { Time: 'soon' },
        { some: 1 },
        { none: {} },
        { __identity__: -1n },
        { __proto__: null },
        new Uint8Array(3),
        new Date(NaN),
        new Date(8.64e15),
        new Timestamp(1n << 63n),
        new TimeDuration(1n << 65n),
        Symbol('s'),
        () => 1,
        cycle,
        new Map(),
        new Set([1]),
        Object.create(null),
      ];
      const value = (depth: number): unknown =>
        depth < 3 && rnd() < 0.25 ? (rnd() < 0.5 ? [value(depth + 1), value(depth + 1)] : { [pick(['x', 'tag', 'value', 'some', 'w'])]: value(depth + 1) }) : pick(atoms);
      const names = ALL_TYPES_FIELDS;
      let refused = 0;
      for (let i = 0; i < 600; i++) {
        const args = Object.fromEntries(names.map((n) => [n, value(0)]));
        const out = await all.call('insert_all_types', rnd() < 0.2 ? Object.values(args) : args).then(
          () => undefined,
          (e: unknown) => e,
        );
        if (out === undefined) continue;
        expect(out, `call ${i}: ${String(out)}`).toBeInstanceOf(LightconeError);
        refused++;
      }
      expect(refused).toBeGreaterThan(500);
    } finally {
      await all.close();
    }
  });
});
