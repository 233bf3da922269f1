// Values at the edges of what the wire and the output can hold (test/fixtures/edge-values.ts):
// times outside i64 are refused like out-of-range integers, never wrapped; far-future times that
// JS Date cannot hold still print; tables of any size print; odd arguments fail with a name.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { TimeDuration, Timestamp } from 'spacetimedb';
import { LightconeError, UsageError } from '../src/errors.ts';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { formatSqlResult, stringifyJson, timestampText } from '../src/sql/format.ts';
import { prng } from './helpers/prng.ts';

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

/** The rejection of `p` as a LightconeError (fails the test if `p` resolves or throws anything else). */
async function rejection(p: Promise<unknown>): Promise<LightconeError> {
  const out = await p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (out.ok) throw new Error(`expected a rejection, got ${String(out.v)}`);
  expect(out.e).toBeInstanceOf(LightconeError);
  return out.e as LightconeError;
}

const moments = async () => (await db.sql('SELECT * FROM moment')).length;

describe('Timestamp, TimeDuration and ScheduleAt arguments outside i64', () => {
  const time0 = { tag: 'Time', value: 0n };

  it('are refused as BAD_ARGUMENT naming the parameter and the range, and nothing is stored', async () => {
    const cases: [string, unknown[]][] = [
      ['at', [1n << 70n, 0n, time0]],
      ['at', [I64_MAX + 1n, 0n, time0]],
      ['at', [I64_MIN - 1n, 0n, time0]],
      ['span', [0n, 1n << 70n, time0]],
      ['when', [0n, 0n, { tag: 'Time', value: 1n << 70n }]],
      ['when', [0n, 0n, { Interval: 1n << 63n }]],
    ];
    for (const [param, args] of cases) {
      const err = await rejection(db.call('stamp', args));
      expect(err, param).toBeInstanceOf(UsageError);
      expect(err.code, param).toBe('BAD_ARGUMENT');
      expect(err.message, param).toContain(`argument ${param}`);
      expect(err.message, param).toContain(`${I64_MAX}`);
    }
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
