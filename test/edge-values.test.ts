// Values at the edges of what the wire and the output can hold (test/fixtures/edge-values.ts):
// times outside i64 are refused like out-of-range integers, never wrapped; far-future times that
// JS Date cannot hold still print; tables of any size print; odd arguments fail with a name.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { TimeDuration, Timestamp } from 'spacetimedb';
import { LightconeError, UsageError } from '../src/errors.ts';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { formatSqlResult } from '../src/sql/format.ts';

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
});
