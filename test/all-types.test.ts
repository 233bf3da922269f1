// examples/all-types on in-memory databases: every column type round-trips through a reducer and
// back out of SQL, every index kind answers as SpacetimeDB's would (the module's query reducers
// write what they saw into `result`), and auto-increment, set semantics, event tables and the
// error paths behave as in SpacetimeDB 2.x.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ConnectionId, Identity, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { InternalError, SenderError, UsageError } from '../src/errors.ts';
import { ALL_TYPES, removeTempDirs, tempDir } from './helpers/paths.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');

type Row = Record<string, unknown>;
interface ResultRow {
  id: bigint;
  op: string;
  n: bigint;
  s: string;
}

let code: string;
beforeAll(async () => {
  code = (await bundleModule(ALL_TYPES)).code;
});
afterAll(removeTempDirs);

let db: NodeDatabase;
beforeEach(async () => {
  db = await openDatabase({ name: 'all-types', code });
});
afterEach(async () => {
  await db.close();
});

/**
 * SQL column names of `all_types`, keyed by the module's field names: SpacetimeDB's snake_case
 * policy may put an underscore at a digit boundary (`u8` → `u_8`), so accept either spelling.
 */
function byField(row: Row): Row {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k.replace(/_(?=\d)/g, ''), v]));
}

async function allTypes(id: number): Promise<Row> {
  const rows = await db.sql(`SELECT * FROM all_types WHERE id = ${id}`);
  expect(rows, `all_types rows with id ${id}`).toHaveLength(1);
  return byField(rows[0]!);
}

/** Asserts `actual` has exactly the fields of `expected`, each strictly equal (class and value). */
function expectFields(actual: Row, expected: Row): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [k, v] of Object.entries(expected)) {
    expect(actual[k], `field ${k}`).toStrictEqual(v);
  }
}

/** The rows a query reducer reported for `op`, in the order it reported them. */
async function results(op: string): Promise<ResultRow[]> {
  const rows = (await db.sql(`SELECT * FROM result WHERE op = '${op}'`)) as unknown as ResultRow[];
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function reportedIds(op: string): Promise<number[]> {
  return (await results(op)).map((r) => Number(r.n));
}

async function reportedCount(op: string): Promise<bigint> {
  const rows = await results(op);
  expect(rows, `one ${op} result`).toHaveLength(1);
  return rows[0]!.n;
}

const MAX = (bits: bigint) => (1n << bits) - 1n;
const SMIN = (bits: bigint) => -(1n << (bits - 1n));
const SMAX = (bits: bigint) => (1n << (bits - 1n)) - 1n;

/** What insert_all_types_sample writes. */
function sampleRow(id: number): Row {
  return {
    id,
    flag: true,
    i8: -8,
    u8: 8,
    i16: -16,
    u16: 16,
    i32: -32,
    u32: 32,
    i64: -64n,
    u64: 64n,
    i128: -128n,
    u128: 128n,
    i256: -256n,
    u256: 256n,
    f32: 1.5,
    f64: 2.25,
    text: 'sample',
    bytes: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    tags: ['red', 'green'],
    maybe: 7,
    point: { x: 1, y: -1 },
    shape: { tag: 'Circle', value: 0.5 },
    color: { tag: 'Green', value: {} },
    owner: new Identity(0x1234n),
    conn: new ConnectionId(0xabcdn),
    at: new Timestamp(1_735_787_045_678_000n),
    duration: new TimeDuration(1_500_000n),
    uuid: Uuid.parse('0190a9b2-7c1e-7000-8000-000000000001'),
    schedule: { tag: 'Interval', value: new TimeDuration(60_000_000n) },
  };
}

/** Arguments for insert_all_types/update_all_types: a row of awkward but valid values. */
function customRow(id: number): Row {
  return {
    id,
    flag: false,
    i8: -1,
    u8: 200,
    i16: -300,
    u16: 60000,
    i32: -2_000_000_000,
    u32: 4_000_000_000,
    i64: -(1n << 62n) - 3n,
    u64: (1n << 63n) + 5n,
    i128: -(1n << 100n) + 7n,
    u128: (1n << 127n) + 9n,
    i256: -(1n << 200n) - 11n,
    u256: (1n << 255n) + 13n,
    f32: 0.25,
    f64: 1 / 3,
    text: 'non-BMP: 𝄞 😀 \u{10000} \u{10FFFF}; BMP-high: \uFFFD \uE000; nul: \u0000; combining: e\u0301',
    bytes: Uint8Array.from({ length: 256 }, (_, i) => i),
    tags: ['', 'ü', '👩‍👩‍👧', 'tab\tnewline\n'],
    maybe: 0,
    point: { x: -2147483648, y: 2147483647 },
    shape: { tag: 'Rect', value: { w: 3, h: 4 } },
    color: { tag: 'Blue', value: {} },
    owner: new Identity(MAX(256n)),
    conn: new ConnectionId(MAX(128n)),
    at: new Timestamp(-1n),
    duration: new TimeDuration(-123_456_789n),
    uuid: Uuid.parse('ffffffff-ffff-4fff-bfff-ffffffffffff'),
    schedule: { tag: 'Time', value: new Timestamp(4_102_444_800_000_000n) },
  };
}

describe('all_types: every column type round-trips', () => {
  it('insert_all_types_sample reads back field by field', async () => {
    await db.call('insert_all_types_sample', { id: 1 });
    const row = await allTypes(1);
    expectFields(row, sampleRow(1));
    expect(row.owner).toBeInstanceOf(Identity);
    expect(row.conn).toBeInstanceOf(ConnectionId);
    expect(row.at).toBeInstanceOf(Timestamp);
    expect(row.duration).toBeInstanceOf(TimeDuration);
    expect(row.uuid).toBeInstanceOf(Uuid);
    expect((row.uuid as Uuid).toString()).toBe('0190a9b2-7c1e-7000-8000-000000000001');
    expect((row.at as Timestamp).toDate().toISOString()).toBe('2025-01-02T03:04:05.678Z');
  });

  it('insert_all_types_extremes (max) keeps every maximum, including 64..256-bit bigints', async () => {
    const sender = new Identity(MAX(256n) - 1n);
    const conn = new ConnectionId(MAX(128n) - 2n);
    const before = BigInt(Date.now()) * 1000n;
    await db.call('insert_all_types_extremes', { id: 2, max: true }, { sender: sender.toHexString(), connectionId: conn });
    // A generous window: it checks the unit (µs since the epoch) and the clock, not speed.
    const after = BigInt(Date.now()) * 1000n + 1_000_000n;
    const row = await allTypes(2);
    const at = row.at as Timestamp;
    expect(at).toBeInstanceOf(Timestamp);
    expect(at.microsSinceUnixEpoch >= before - 1_000_000n && at.microsSinceUnixEpoch <= after, `ctx.timestamp ${at.microsSinceUnixEpoch} within the call`).toBe(true);
    const uuid = row.uuid as Uuid;
    expect(uuid).toBeInstanceOf(Uuid);
    expect(uuid.getVersion()).toBe('V7');
    expect(uuid.asBigInt() >> 80n, 'uuid v7 carries ctx.timestamp in ms').toBe(at.microsSinceUnixEpoch / 1000n);
    expectFields(row, {
      id: 2,
      flag: true,
      i8: 127,
      u8: 255,
      i16: 32767,
      u16: 65535,
      i32: 2147483647,
      u32: 4294967295,
      i64: SMAX(64n),
      u64: MAX(64n),
      i128: SMAX(128n),
      u128: MAX(128n),
      i256: SMAX(256n),
      u256: MAX(256n),
      f32: 3.4028234663852886e38,
      f64: Number.MAX_VALUE,
      text: 'héllo, wörld ✓ 😀',
      bytes: new Uint8Array([0, 1, 127, 128, 255]),
      tags: ['a', '', 'ü'],
      maybe: 4294967295,
      point: { x: 2147483647, y: -2147483648 },
      shape: { tag: 'Rect', value: { w: 4294967295, h: 1 } },
      color: { tag: 'Blue', value: {} },
      owner: sender,
      conn,
      at,
      duration: new TimeDuration(1n << 62n),
      uuid,
      schedule: { tag: 'Time', value: new Timestamp(at.microsSinceUnixEpoch) },
    });
    expect(row.u64).toBe(18446744073709551615n);
    expect(row.u256).toBe(115792089237316195423570985008687907853269984665640564039457584007913129639935n);
  });

  it('insert_all_types_extremes (min) keeps every minimum, empty values and option none', async () => {
    const conn = new ConnectionId(1n);
    await db.call('insert_all_types_extremes', { id: 3, max: false }, { connectionId: conn });
    const row = await allTypes(3);
    expectFields(row, {
      id: 3,
      flag: false,
      i8: -128,
      u8: 0,
      i16: -32768,
      u16: 0,
      i32: -2147483648,
      u32: 0,
      i64: SMIN(64n),
      u64: 0n,
      i128: SMIN(128n),
      u128: 0n,
      i256: SMIN(256n),
      u256: 0n,
      f32: -3.4028234663852886e38,
      f64: -Number.MAX_VALUE,
      text: '',
      bytes: new Uint8Array(),
      tags: [],
      maybe: undefined,
      point: { x: 0, y: 0 },
      shape: { tag: 'Empty', value: {} },
      color: { tag: 'Red', value: {} },
      owner: db.owner,
      conn,
      at: row.at,
      duration: new TimeDuration(-(1n << 62n)),
      uuid: row.uuid,
      schedule: { tag: 'Interval', value: new TimeDuration(1_000_000n) },
    });
    expect(row.i64).toBe(-9223372036854775808n);
    expect(row.i256).toBe(-57896044618658097711785492504343953926634992332820282019728792003956564819968n);
  });

  it('insert_all_types with caller values: non-BMP UTF-8, all 256 byte values, some(0), payload sums', async () => {
    const args = customRow(10);
    await db.call('insert_all_types', args);
    expectFields(await allTypes(10), args);
  });

  it('floats keep f32 precision, -0, NaN and infinities (BSATN stores IEEE bits)', async () => {
    await db.call('insert_all_types', { ...customRow(11), f32: 0.1, f64: -0, shape: { tag: 'Circle', value: Number.NaN } });
    await db.call('insert_all_types', { ...customRow(12), f32: Number.NEGATIVE_INFINITY, f64: Number.POSITIVE_INFINITY, shape: { tag: 'Circle', value: -0 } });
    const a = await allTypes(11);
    expect(a.f32, 'f32 0.1 is stored as the nearest f32').toBe(Math.fround(0.1));
    expect(Object.is(a.f64, -0), `f64 -0 stays -0, got ${String(a.f64)}`).toBe(true);
    expect((a.shape as { tag: string; value: number }).tag).toBe('Circle');
    expect(Number.isNaN((a.shape as { value: number }).value)).toBe(true);
    const b = await allTypes(12);
    expect(b.f32).toBe(Number.NEGATIVE_INFINITY);
    expect(b.f64).toBe(Number.POSITIVE_INFINITY);
    expect(Object.is((b.shape as { value: number }).value, -0)).toBe(true);
  });

  it('options: none and some read back as undefined and the value', async () => {
    await db.call('insert_all_types', { ...customRow(20), maybe: undefined });
    await db.call('insert_all_types', { ...customRow(21), maybe: null });
    await db.call('insert_all_types', { ...customRow(22), maybe: 123 });
    expect((await allTypes(20)).maybe).toBeUndefined();
    expect((await allTypes(21)).maybe).toBeUndefined();
    expect((await allTypes(22)).maybe).toBe(123);
  });

  it('sums: each variant with and without payload', async () => {
    const shapes = [
      { tag: 'Circle', value: 2.5 },
      { tag: 'Rect', value: { w: 0, h: 4294967295 } },
      { tag: 'Empty', value: {} },
    ];
    const colors = ['Red', 'Green', 'Blue'];
    for (const [i, shape] of shapes.entries()) {
      await db.call('insert_all_types', { ...customRow(30 + i), shape, color: { tag: colors[i] } });
    }
    for (const [i, shape] of shapes.entries()) {
      const row = await allTypes(30 + i);
      expect(row.shape).toStrictEqual(shape);
      expect(row.color).toStrictEqual({ tag: colors[i], value: {} });
    }
  });

  it('update_all_types replaces the whole row, keeping one row', async () => {
    await db.call('insert_all_types_sample', { id: 1 });
    const replacement = customRow(1);
    await db.call('update_all_types', replacement);
    expectFields(await allTypes(1), replacement);
    expect(await db.sql('SELECT id FROM all_types')).toHaveLength(1);
  });

  it('update_all_types on a missing id fails with SenderError and writes nothing', async () => {
    const err = await db.call('update_all_types', customRow(99)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SenderError);
    expect((err as SenderError).message).toBe('No all_types row with id 99');
    expect(await db.sql('SELECT * FROM all_types')).toHaveLength(0);
  });

  it('copy_all_types decodes a row inside the module and re-encodes it unchanged', async () => {
    await db.call('insert_all_types_sample', { id: 1 });
    await db.call('insert_all_types_extremes', { id: 2, max: true });
    await db.call('insert_all_types', customRow(3));
    await db.call('copy_all_types', { from: 1, to: 101 });
    await db.call('copy_all_types', { from: 2, to: 102 });
    await db.call('copy_all_types', { from: 3, to: 103 });
    for (const id of [1, 2, 3]) {
      expectFields(await allTypes(100 + id), { ...(await allTypes(id)), id: 100 + id });
    }
    const err = await db.call('copy_all_types', [7, 8]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SenderError);
    expect((err as Error).message).toBe('No all_types row with id 7');
  });

  it('delete_all_types deletes by primary key and reports whether it found the row', async () => {
    await db.call('insert_all_types_sample', { id: 1 });
    await db.call('delete_all_types', { id: 1 });
    expect(await reportedCount('delete_all_types')).toBe(1n);
    await db.call('delete_all_types', { id: 1 });
    expect(await reportedCount('delete_all_types')).toBe(0n);
    expect(await db.sql('SELECT * FROM all_types')).toHaveLength(0);
  });
});

// ─── person: index kinds ────────────────────────────────────────────────────

interface Person {
  id: number;
  name: string;
  age: number;
  city: string;
  email: string;
  level: number;
}

const PEOPLE: Person[] = [
  { id: 1, name: 'ann', age: 30, city: 'paris', email: 'a@x', level: 1 },
  { id: 2, name: 'bob', age: 20, city: 'paris', email: 'b@x', level: 2 },
  { id: 3, name: 'cid', age: 40, city: 'oslo', email: 'a@x', level: 3 },
  { id: 4, name: 'dee', age: 25, city: 'oslo', email: 'd@x', level: 2 },
  { id: 5, name: 'eve', age: 35, city: 'paris', email: 'e@x', level: 5 },
  { id: 6, name: 'fay', age: 25, city: 'rome', email: 'a@x', level: 7 },
  { id: 7, name: 'gus', age: 50, city: 'oslo', email: 'g@x', level: 0 },
];
const byId = new Map(PEOPLE.map((p) => [p.id, p]));

async function insertPeople(): Promise<void> {
  for (const p of PEOPLE) await db.call('insert_person', p);
}

async function personIds(): Promise<number[]> {
  return ((await db.sql('SELECT id FROM person')) as { id: number }[]).map((r) => r.id).sort((a, b) => a - b);
}

/** `key` of each reported person, in report order (the order the index returned them). */
function keys<K extends keyof Person>(ids: number[], key: K): Person[K][] {
  return ids.map((id) => byId.get(id)![key]);
}

const sortNum = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe('person: index kinds', () => {
  beforeEach(insertPeople);

  it('unique btree: find a name, and a missing one', async () => {
    await db.call('find_unique', { name: 'cid' });
    expect((await results('find_unique')).map(({ n, s }) => ({ n, s }))).toEqual([{ n: 3n, s: 'cid' }]);
    await db.call('find_unique', { name: 'nobody' });
    expect((await results('find_unique')).map(({ n, s }) => ({ n, s }))).toEqual([{ n: -1n, s: '' }]);
  });

  it('btree range with inclusive bounds returns the rows in key order', async () => {
    await db.call('scan_range', { lo: 25, hi: 35 });
    const ids = await reportedIds('scan_range');
    expect(keys(ids, 'age')).toEqual([25, 25, 30, 35]);
    expect(sortNum(ids)).toEqual([1, 4, 5, 6]);
  });

  it('btree range over everything, an empty range, and lo > hi', async () => {
    await db.call('scan_range', { lo: 0, hi: 4294967295 });
    expect(keys(await reportedIds('scan_range'), 'age')).toEqual([20, 25, 25, 30, 35, 40, 50]);
    await db.call('scan_range', { lo: 41, hi: 49 });
    expect(await reportedIds('scan_range')).toEqual([]);
    await db.call('scan_range', { lo: 35, hi: 30 });
    expect(await reportedIds('scan_range')).toEqual([]);
  });

  it('btree range with an excluded lower bound and no upper bound', async () => {
    await db.call('scan_age_above', { lo: 30 });
    const ids = await reportedIds('scan_age_above');
    expect(keys(ids, 'age')).toEqual([35, 40, 50]);
    expect(ids).toEqual([5, 3, 7]);
    await db.call('scan_age_above', { lo: 50 });
    expect(await reportedIds('scan_age_above')).toEqual([]);
    await db.call('scan_age_above', { lo: 0 });
    expect(keys(await reportedIds('scan_age_above'), 'age')).toEqual([20, 25, 25, 30, 35, 40, 50]);
  });

  it('btree point scan', async () => {
    await db.call('scan_age', { age: 25 });
    expect(sortNum(await reportedIds('scan_age'))).toEqual([4, 6]);
    await db.call('scan_age', { age: 26 });
    expect(await reportedIds('scan_age')).toEqual([]);
  });

  it('multi-column btree: prefix plus range, in age order', async () => {
    await db.call('scan_city_age', { city: 'paris', lo: 20, hi: 35 });
    expect(await reportedIds('scan_city_age')).toEqual([2, 1, 5]);
    await db.call('scan_city_age', { city: 'paris', lo: 21, hi: 34 });
    expect(await reportedIds('scan_city_age')).toEqual([1]);
    await db.call('scan_city_age', { city: 'oslo', lo: 40, hi: 50 });
    expect(await reportedIds('scan_city_age')).toEqual([3, 7]);
    await db.call('scan_city_age', { city: 'lima', lo: 0, hi: 100 });
    expect(await reportedIds('scan_city_age')).toEqual([]);
  });

  it('multi-column btree: both columns exact', async () => {
    await db.call('scan_city_exact_age', { city: 'oslo', age: 25 });
    expect(await reportedIds('scan_city_exact_age')).toEqual([4]);
    await db.call('scan_city_exact_age', { city: 'rome', age: 30 });
    expect(await reportedIds('scan_city_exact_age')).toEqual([]);
  });

  it('multi-column btree: first column only, ordered by the second', async () => {
    await db.call('scan_city', { city: 'oslo' });
    expect(await reportedIds('scan_city')).toEqual([4, 3, 7]);
    await db.call('scan_city', { city: 'paris' });
    expect(await reportedIds('scan_city')).toEqual([2, 1, 5]);
    await db.call('scan_city', { city: 'pari' });
    expect(await reportedIds('scan_city')).toEqual([]);
  });

  it('hash index: point filter and delete with a count', async () => {
    await db.call('filter_email', { email: 'a@x' });
    expect(sortNum(await reportedIds('filter_email'))).toEqual([1, 3, 6]);
    await db.call('filter_email', { email: 'zz@x' });
    expect(await reportedIds('filter_email')).toEqual([]);
    await db.call('delete_by_email', { email: 'a@x' });
    expect(await reportedCount('delete_by_email')).toBe(3n);
    expect(await personIds()).toEqual([2, 4, 5, 7]);
    await db.call('delete_by_email', { email: 'a@x' });
    expect(await reportedCount('delete_by_email')).toBe(0n);
  });

  it('direct index: point filter and range in key order', async () => {
    await db.call('filter_level', { level: 2 });
    expect(sortNum(await reportedIds('filter_level'))).toEqual([2, 4]);
    await db.call('filter_level', { level: 0 });
    expect(await reportedIds('filter_level')).toEqual([7]);
    await db.call('scan_level_range', { lo: 1, hi: 5 });
    const ids = await reportedIds('scan_level_range');
    expect(keys(ids, 'level')).toEqual([1, 2, 2, 3, 5]);
    expect(sortNum(ids)).toEqual([1, 2, 3, 4, 5]);
    await db.call('scan_level_range', { lo: 8, hi: 100 });
    expect(await reportedIds('scan_level_range')).toEqual([]);
  });

  it('deletes by btree range, multi-column prefix, direct point, primary key and unique key, with counts', async () => {
    await db.call('delete_by_range', { lo: 25, hi: 30 });
    expect(await reportedCount('delete_by_range')).toBe(3n);
    expect(await personIds()).toEqual([2, 3, 5, 7]);
    await db.call('delete_by_city', { city: 'oslo' });
    expect(await reportedCount('delete_by_city')).toBe(2n);
    expect(await personIds()).toEqual([2, 5]);
    await db.call('delete_by_level', { level: 2 });
    expect(await reportedCount('delete_by_level')).toBe(1n);
    expect(await personIds()).toEqual([5]);
    await db.call('delete_person', { id: 5 });
    expect(await reportedCount('delete_person')).toBe(1n);
    await db.call('delete_person', { id: 5 });
    expect(await reportedCount('delete_person')).toBe(0n);
    await db.call('insert_person', PEOPLE[0]!);
    await db.call('delete_person_by_name', { name: 'ann' });
    expect(await reportedCount('delete_person_by_name')).toBe(1n);
    await db.call('delete_person_by_name', { name: 'ann' });
    expect(await reportedCount('delete_person_by_name')).toBe(0n);
    expect(await personIds()).toEqual([]);
  });

  it('update through the primary key moves the row in the other indexes', async () => {
    await db.call('update_person_age', { id: 7, age: 21 });
    await db.call('scan_range', { lo: 20, hi: 22 });
    expect(await reportedIds('scan_range')).toEqual([2, 7]);
    await db.call('scan_city', { city: 'oslo' });
    expect(await reportedIds('scan_city')).toEqual([7, 4, 3]);
    const err = await db.call('update_person_age', { id: 99, age: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SenderError);
    expect((err as Error).message).toBe('No person with id 99');
  });

  it('sum_ages scans the whole table with iter()', async () => {
    await db.call('sum_ages', {});
    expect(await reportedCount('sum_ages')).toBe(BigInt(PEOPLE.reduce((s, p) => s + p.age, 0)));
  });

  it('count_rows and clear_table report per-table counts', async () => {
    await db.call('insert_tag', { owner_id: 1, label: 'x' });
    await db.call('count_rows', {});
    const counts = Object.fromEntries((await results('count_rows')).map((r) => [r.s, r.n]));
    expect(counts).toEqual({ all_types: 0n, person: 7n, counter: 0n, tag: 1n, notice: 0n, result: 0n });
    await db.call('clear_table', { table: 'person' });
    expect((await results('clear_table')).map(({ n, s }) => ({ n, s }))).toEqual([{ n: 7n, s: 'person' }]);
    expect(await personIds()).toEqual([]);
    await db.call('clear_table', { table: 'person' });
    expect(await reportedCount('clear_table')).toBe(0n);
    await db.call('count_rows', {});
    const after = Object.fromEntries((await results('count_rows')).map((r) => [r.s, r.n]));
    // result holds the clear_table row when count_rows counts.
    expect(after).toEqual({ all_types: 0n, person: 0n, counter: 0n, tag: 1n, notice: 0n, result: 1n });
    const err = await db.call('clear_table', { table: 'nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SenderError);
    expect((err as Error).message).toBe('Unknown table: nope');
  });

  it('try_insert_person catches UniqueAlreadyExists and the transaction goes on', async () => {
    // Duplicate primary key.
    await db.call('try_insert_person', { ...PEOPLE[0]!, name: 'other' });
    expect((await results('try_insert_person')).map(({ n, s }) => ({ n, s }))).toEqual([{ n: 1n, s: 'UniqueAlreadyExists' }]);
    // Duplicate unique name under a new id.
    await db.call('try_insert_person', { ...PEOPLE[1]!, id: 50 });
    expect((await results('try_insert_person')).map(({ n, s }) => ({ n, s }))).toEqual([{ n: 50n, s: 'UniqueAlreadyExists' }]);
    await db.call('try_insert_person', { id: 51, name: 'new', age: 1, city: 'x', email: 'y', level: 1 });
    expect((await results('try_insert_person')).map(({ n, s }) => ({ n, s }))).toEqual([{ n: 51n, s: 'ok' }]);
    expect(await personIds()).toEqual([1, 2, 3, 4, 5, 6, 7, 51]);
    expect(await db.sql('SELECT name FROM person WHERE id = 1')).toEqual([{ name: 'ann' }]);
    const warnings = (await db.logs()).filter((l) => l.level === 'warn' && l.message.includes('try_insert_person: UniqueAlreadyExists'));
    expect(warnings).toHaveLength(2);
  });

  it('rename_person to a taken name fails with InternalError and changes nothing', async () => {
    const err = await db.call('rename_person', { id: 1, name: 'bob' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect((err as Error).message).toMatch(/UniqueAlreadyExists|unique/i);
    expect(await db.sql('SELECT * FROM person WHERE id = 1')).toEqual([PEOPLE[0]]);
    expect(await db.sql('SELECT * FROM person WHERE id = 2')).toEqual([PEOPLE[1]]);
    await db.call('find_unique', { name: 'ann' });
    expect(await reportedIds('find_unique')).toEqual([1]);
    // The failure is logged at panic level, as SpacetimeDB logs internal errors.
    expect((await db.logs()).some((l) => l.level === 'panic' && l.message.includes('rename_person'))).toBe(true);
  });

  it('insert_person with a duplicate primary key, uncaught, is an InternalError', async () => {
    const err = await db.call('insert_person', { ...PEOPLE[0]!, name: 'zed' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect(await personIds()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});

// ─── strings order by UTF-8 bytes ───────────────────────────────────────────

/** Sorted as SpacetimeDB sorts strings: by their UTF-8 bytes. */
function utf8Sorted(xs: string[]): string[] {
  return [...xs].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

describe('strings in btree indexes order by UTF-8 bytes (test/fixtures/string-order.ts)', () => {
  let sdb: NodeDatabase;
  // BMP-high (U+E000, U+FFFF) sort before non-BMP (U+10000, U+1F600) in UTF-8, after them in UTF-16.
  const NAMES = ['a', 'z', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}', '\u{10FFFF}'];
  const nameOf = (id: number) => NAMES[id - 1]!;

  beforeEach(async () => {
    sdb = await openDatabase({ name: 'string-order', module: join(FIXTURES, 'string-order.ts') });
    // Inserted in JS (UTF-16) order, so an unsorted scan does not pass by accident.
    const insertion = [...NAMES].sort();
    for (const name of insertion) {
      const id = NAMES.indexOf(name) + 1;
      await sdb.call('add_person', { id, name, city: name, age: 1 });
    }
    // A second person in the U+FFFF and U+10000 cities, older, to check the second column.
    await sdb.call('add_person', { id: 20, name: 'p20', city: '\u{10000}', age: 5 });
    await sdb.call('add_person', { id: 21, name: 'p21', city: '\uFFFF', age: 0 });
  });
  afterEach(async () => {
    await sdb.close();
  });

  async function seen(): Promise<number[]> {
    const rows = (await sdb.sql('SELECT * FROM seen')) as { pos: number; person_id: number }[];
    return rows.sort((a, b) => a.pos - b.pos).map((r) => r.person_id);
  }

  async function scanNames(lo: [string, string], hi: [string, string]): Promise<string[]> {
    await sdb.call('scan_names', { lo_kind: lo[0], lo: lo[1], hi_kind: hi[0], hi: hi[1] });
    return (await seen()).filter((id) => id < 20).map(nameOf);
  }

  it('an unbounded range returns every name in UTF-8 order', async () => {
    expect(await scanNames(['unbounded', ''], ['unbounded', ''])).toEqual(utf8Sorted(NAMES));
    expect(await scanNames(['unbounded', ''], ['unbounded', ''])).toEqual(['a', 'z', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}', '\u{10FFFF}']);
  });

  it('[U+FFFF, ∞) holds the non-BMP names', async () => {
    // JS (UTF-16) order would put every non-BMP name before U+FFFF and return only U+FFFF.
    expect([...NAMES].sort().indexOf('\uFFFF')).toBe(NAMES.length - 1);
    expect(await scanNames(['included', '\uFFFF'], ['unbounded', ''])).toEqual(['\uFFFF', '\u{10000}', '\u{1F600}', '\u{10FFFF}']);
  });

  it('(-∞, U+10000) holds the BMP names, U+FFFF last', async () => {
    expect(await scanNames(['unbounded', ''], ['excluded', '\u{10000}'])).toEqual(['a', 'z', '\uE000', '\uFFFF']);
  });

  it('[z, U+10000] and (U+FFFF, U+1F600] follow UTF-8 order', async () => {
    expect(await scanNames(['included', 'z'], ['included', '\u{10000}'])).toEqual(['z', '\uE000', '\uFFFF', '\u{10000}']);
    expect(await scanNames(['excluded', '\uFFFF'], ['included', '\u{1F600}'])).toEqual(['\u{10000}', '\u{1F600}']);
    // Empty in UTF-8 order (U+10000 > U+FFFF), though JS would see '\u{10000}' < '\uFFFF'.
    expect(await scanNames(['included', '\u{10000}'], ['included', '\uFFFF'])).toEqual([]);
  });

  it('a range over the first column of a two-column index orders by city (UTF-8), then age', async () => {
    await sdb.call('scan_cities', { lo_kind: 'included', lo: '\uE000', hi_kind: 'included', hi: '\u{10000}' });
    // U+E000 (id 3), U+FFFF: p21 (age 0) then id 4 (age 1), U+10000: id 5 (age 1) then p20 (age 5).
    expect(await seen()).toEqual([3, 21, 4, 5, 20]);
  });
});

// ─── counter: auto-increment ────────────────────────────────────────────────

async function counterRows(): Promise<{ id: number; seq: bigint; label: string }[]> {
  const rows = (await db.sql('SELECT * FROM counter')) as { id: number; seq: bigint; label: string }[];
  return rows.sort((a, b) => a.id - b.id);
}

describe('auto-increment', () => {
  it('placeholders get 1, 2, 3 on a u32 and an i64 column', async () => {
    for (const label of ['a', 'b', 'c']) await db.call('insert_counter', { label });
    expect((await results('insert_counter')).map(({ n, s }) => ({ n, s }))).toEqual([
      { n: 1n, s: '1' },
      { n: 2n, s: '2' },
      { n: 3n, s: '3' },
    ]);
    expect(await counterRows()).toEqual([
      { id: 1, seq: 1n, label: 'a' },
      { id: 2, seq: 2n, label: 'b' },
      { id: 3, seq: 3n, label: 'c' },
    ]);
  });

  it('explicit non-zero values are kept and do not advance the sequences', async () => {
    await db.call('insert_counter', { label: 'first' });
    await db.call('insert_counter_explicit', { id: 100, seq: -5n, label: 'explicit' });
    await db.call('insert_counter', { label: 'second' });
    expect(await counterRows()).toEqual([
      { id: 1, seq: 1n, label: 'first' },
      { id: 2, seq: 2n, label: 'second' },
      { id: 100, seq: -5n, label: 'explicit' },
    ]);
  });

  it('values of deleted rows are not reused, in memory and after a restart (snapshot or log replay)', async () => {
    for (const label of ['a', 'b', 'c']) await db.call('insert_counter', { label });
    await db.call('clear_table', { table: 'counter' });
    await db.call('insert_counter', { label: 'd' });
    expect(await counterRows()).toEqual([{ id: 4, seq: 4n, label: 'd' }]);
    for (const snapshotEvery of [1, 1000]) {
      const dataDir = tempDir('lightcone-seq-');
      const d1 = await openDatabase({ name: 'seq', code, dataDir, snapshotEvery });
      for (const label of ['a', 'b', 'c']) await d1.call('insert_counter', { label });
      await d1.call('clear_table', { table: 'counter' });
      await d1.close();
      const d2 = await openDatabase({ name: 'seq', code, dataDir, snapshotEvery });
      try {
        await d2.call('insert_counter', { label: 'after restart' });
        const rows = (await d2.sql('SELECT * FROM counter')) as { id: number; seq: bigint }[];
        expect(rows).toHaveLength(1);
        expect(rows[0]!.id > 3, `snapshotEvery ${snapshotEvery}: u32 id ${rows[0]!.id} is past 3`).toBe(true);
        expect(rows[0]!.seq > 3n, `snapshotEvery ${snapshotEvery}: i64 seq ${rows[0]!.seq} is past 3`).toBe(true);
      } finally {
        await d2.close();
      }
    }
  });

  it('an explicit value that collides with a unique column fails and rolls back', async () => {
    await db.call('insert_counter', { label: 'first' });
    const err = await db.call('insert_counter_explicit', { id: 1, seq: 50n, label: 'dup' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect(await counterRows()).toEqual([{ id: 1, seq: 1n, label: 'first' }]);
  });

  it('values taken by a rolled-back call are not reused (test/fixtures/sequence-rollback.ts)', async () => {
    const sdb = await openDatabase({ name: 'sequences', module: join(FIXTURES, 'sequence-rollback.ts') });
    try {
      await sdb.call('take', { label: 'a' });
      const err = await sdb.call('take_then_fail', { label: 'b' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SenderError);
      const consumed = (await sdb.logs()).map((l) => /^consumed id=(\d+) small=(\d+)$/.exec(l.message)).find((m) => m);
      expect(consumed, 'take_then_fail logged the values it took').toBeTruthy();
      const [consumedId, consumedSmall] = [BigInt(consumed![1]!), Number(consumed![2]!)];
      expect(consumedId).toBe(2n);
      await sdb.call('take', { label: 'c' });
      const rows = ((await sdb.sql('SELECT * FROM ticket')) as { id: bigint; small: number; label: string }[]).sort((a, b) => a.small - b.small);
      expect(rows.map((r) => r.label)).toEqual(['a', 'c']);
      expect(rows[0]).toEqual({ id: 1n, small: 1, label: 'a' });
      expect(rows[1]!.id > consumedId, `id after the rollback (${rows[1]!.id}) is past the consumed ${consumedId}`).toBe(true);
      expect(rows[1]!.small > consumedSmall, `small after the rollback (${rows[1]!.small}) is past the consumed ${consumedSmall}`).toBe(true);
    } finally {
      await sdb.close();
    }
  });
});

// ─── set semantics, event tables, failures ──────────────────────────────────

describe('tables without a primary key are sets', () => {
  it('inserting the same row twice keeps one row and does not fail', async () => {
    await db.call('insert_tag', { owner_id: 1, label: 'x' });
    await db.call('insert_tag', { owner_id: 1, label: 'x' });
    await db.call('insert_tag', { owner_id: 1, label: 'y' });
    expect(await db.sql("SELECT * FROM tag WHERE label = 'x'")).toEqual([{ owner_id: 1, label: 'x' }]);
    expect(await db.sql('SELECT * FROM tag')).toHaveLength(2);
  });

  it('delete_tag deletes by full-row equality; delete_tags_of by index with a count', async () => {
    for (const [owner_id, label] of [
      [1, 'x'],
      [1, 'y'],
      [2, 'x'],
      [1, 'z'],
    ] as const)
      await db.call('insert_tag', { owner_id, label });
    await db.call('delete_tag', { owner_id: 2, label: 'x' });
    expect((await results('delete_tag')).map(({ n, s }) => ({ n, s }))).toEqual([{ n: 1n, s: 'x' }]);
    await db.call('delete_tag', { owner_id: 2, label: 'x' });
    expect(await reportedCount('delete_tag')).toBe(0n);
    await db.call('delete_tag', { owner_id: 3, label: 'y' });
    expect(await reportedCount('delete_tag')).toBe(0n);
    await db.call('list_tags', { owner_id: 1 });
    expect((await results('list_tags')).map((r) => r.s).sort()).toEqual(['x', 'y', 'z']);
    await db.call('delete_tags_of', { owner_id: 1 });
    expect(await reportedCount('delete_tags_of')).toBe(3n);
    expect(await db.sql('SELECT * FROM tag')).toEqual([]);
  });
});

describe('event tables', () => {
  it('emit_notice sees its row inside the transaction; the table is empty afterwards', async () => {
    await db.call('emit_notice', { kind: 'info', text: 'hello' });
    expect((await results('emit_notice')).map(({ n, s }) => ({ n, s }))).toEqual([{ n: 1n, s: 'info' }]);
    expect(await db.sql('SELECT * FROM notice')).toEqual([]);
    // The next transaction starts empty again: the count is 1, not 2.
    await db.call('emit_notice', { kind: 'warn', text: 'again' });
    expect((await results('emit_notice')).map(({ n, s }) => ({ n, s }))).toEqual([{ n: 1n, s: 'warn' }]);
    expect(await db.sql('SELECT * FROM notice')).toEqual([]);
    await db.call('count_rows', {});
    expect((await results('count_rows')).find((r) => r.s === 'notice')?.n).toBe(0n);
  });
});

describe('failures roll back', () => {
  it('fail_after_write rejects with SenderError and keeps nothing it wrote', async () => {
    await db.call('insert_counter', { label: 'kept' });
    const err = await db.call('fail_after_write', { message: 'nope: on purpose' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SenderError);
    expect(err).not.toBeInstanceOf(InternalError);
    expect((err as SenderError).message).toBe('nope: on purpose');
    expect((err as SenderError).name).toBe('SenderError');
    expect(await results('fail_after_write')).toEqual([]);
    expect(await results('insert_counter')).toHaveLength(1);
    // A user error is not a panic.
    expect((await db.logs()).some((l) => l.level === 'panic')).toBe(false);
  });

  it('panic rejects with InternalError, rolls back and logs at panic level', async () => {
    const err = await db.call('panic', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalError);
    expect(err).not.toBeInstanceOf(SenderError);
    expect((err as Error).message).toContain('panic: deliberate internal error');
    expect(await results('panic')).toEqual([]);
    const panics = (await db.logs()).filter((l) => l.level === 'panic');
    expect(panics).toHaveLength(1);
    expect(panics[0]!.message).toContain('panic: deliberate internal error');
    // The database goes on working.
    await db.call('insert_counter', { label: 'after' });
    expect(await counterRows()).toEqual([{ id: 1, seq: 1n, label: 'after' }]);
  });

  it('bad arguments are refused before the reducer runs', async () => {
    const err = await db.call('insert_all_types', { ...customRow(1), u8: 256 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(await db.sql('SELECT * FROM all_types')).toEqual([]);
  });
});
