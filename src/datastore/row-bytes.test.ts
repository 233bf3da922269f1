// Rows are stored once, as their columns, and handed back byte for byte as they were written:
// every column type (including floats SQLite would alter: NaN, -0), u64 on both sides of 2^63,
// products and arrays kept as BSATN. Images written by the earlier layout (each row's BSATN in a
// `_row` column beside its columns, u64 sign-flipped) are converted when their tables attach.
import type { AlgebraicType as Ty } from 'spacetimedb';
import { describe, expect, it } from 'vitest';
import { openDatastore } from './datastore.ts';
import { DatastoreError } from './datastore-error.ts';
import { encodeOne, encodeRow, testTable } from './test-tables.ts';
import { prng } from '../../test/helpers/prng.ts';

const PAIR: Ty = {
  tag: 'Product',
  value: {
    elements: [
      { name: 'x', algebraicType: { tag: 'I32' } },
      { name: 'tags', algebraicType: { tag: 'Array', value: { tag: 'String' } } },
    ],
  },
};
const SHAPE: Ty = {
  tag: 'Sum',
  value: {
    variants: [
      { name: 'circle', algebraicType: { tag: 'F64' } },
      { name: 'none', algebraicType: { tag: 'Product', value: { elements: [] } } },
    ],
  },
};
const COLOR: Ty = {
  tag: 'Sum',
  value: {
    variants: [
      { name: 'red', algebraicType: { tag: 'Product', value: { elements: [] } } },
      { name: 'green', algebraicType: { tag: 'Product', value: { elements: [] } } },
    ],
  },
};

/** One column of every kind the codecs know. */
const COLUMNS: [string, Ty][] = [
  ['id', { tag: 'U32' }],
  ['b', { tag: 'Bool' }],
  ['i8', { tag: 'I8' }],
  ['u8', { tag: 'U8' }],
  ['i16', { tag: 'I16' }],
  ['u16', { tag: 'U16' }],
  ['i32', { tag: 'I32' }],
  ['u32', { tag: 'U32' }],
  ['i64', { tag: 'I64' }],
  ['u64', { tag: 'U64' }],
  ['i128', { tag: 'I128' }],
  ['u256', { tag: 'U256' }],
  ['f32', { tag: 'F32' }],
  ['f64', { tag: 'F64' }],
  ['s', { tag: 'String' }],
  ['bytes', { tag: 'Array', value: { tag: 'U8' } }],
  ['color', COLOR],
  ['pair', PAIR],
  ['shape', SHAPE],
];

const TWO_63 = 1n << 63n;

function randomRow(r: () => number, id: number): Record<string, unknown> {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const big = (bits: number) => {
    let v = 0n;
    for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(Math.floor(r() * 65536));
    return BigInt.asUintN(bits, v);
  };
  return {
    id,
    b: r() < 0.5,
    i8: pick([-128, -1, 0, 1, 127]),
    u8: pick([0, 1, 255]),
    i16: pick([-32768, -2, 0, 32767]),
    u16: pick([0, 65535, 300]),
    i32: pick([-(2 ** 31), -1, 0, 2 ** 31 - 1]),
    u32: pick([0, 2 ** 32 - 1, 2 ** 31, 7]),
    i64: pick([-(2n ** 63n), -1n, 0n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, BigInt.asIntN(64, big(64))]),
    u64: pick([0n, 1n, 2n ** 53n, 2n ** 53n + 1n, TWO_63 - 1n, TWO_63, 2n ** 64n - 1n, big(64)]),
    i128: BigInt.asIntN(128, big(128)),
    u256: big(256),
    f32: pick([0, -0, 1.5, -2.25, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3]),
    f64: pick([0, -0, 0.1, -1e300, Number.NaN, Number.MIN_VALUE, 2 ** 60, r()]),
    s: pick(['', 'a', 'é', '\u{1F600}', 'x'.repeat(300), 'a\u0000b']),
    bytes: pick([new Uint8Array(), new Uint8Array([0, 255, 1]), new Uint8Array(70).fill(9)]),
    color: { tag: pick(['red', 'green']) },
    pair: { x: pick([-1, 0, 5]), tags: pick([[], ['a'], ['bb', 'ccc']]) },
    shape: pick([{ tag: 'circle', value: 2.5 }, { tag: 'circle', value: Number.NaN }, { tag: 'none' }]),
  };
}

describe('rows are stored once and read back byte for byte', () => {
  it('every column type, through inserts, scans, point and range lookups, updates and deletes', async () => {
    const ds = await openDatastore();
    const def = testTable('all', COLUMNS, { primaryKey: 'id', indexes: [{ columns: ['u64'] }, { columns: ['f64'] }] });
    const table = ds.addTable(def, { types: [] });
    const r = prng(2026);
    const rows = Array.from({ length: 300 }, (_, id) => encodeRow(def, randomRow(r, id)));
    ds.begin();
    for (const row of rows) ds.insert(table, row);
    ds.commit();
    expect(ds.scanAll(table)).toEqual(rows);
    const pk = ds.indexByName('all_id_idx_btree')!;
    for (const id of [0, 7, 299]) expect(ds.scanPoint(pk, encodeOne({ tag: 'U32' }, id))).toEqual([rows[id]]);
    const byU64 = ds.indexByName('all_u64_idx_btree')!;
    const asc = ds.scanRange(byU64, new Uint8Array([2]), 0, 0, 1, 0);
    expect(asc).toHaveLength(rows.length);
    const u64s = asc.map((b) => new DataView(b.buffer).getBigUint64(offsetOf(def, 'u64'), true));
    expect(u64s).toEqual([...u64s].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    ds.begin();
    const changed = encodeRow(def, { ...randomRow(r, 5), u64: 2n ** 64n - 1n, f64: -0, f32: Number.NaN });
    ds.update(table, pk, changed);
    expect(ds.deleteByRows(table, [rows[9]!])).toBe(1);
    const delta = ds.commit();
    expect(delta.tables[0]!.inserts).toEqual([changed]);
    expect(delta.tables[0]!.deletes).toEqual(expect.arrayContaining([rows[5], rows[9]]));
    expect(ds.scanPoint(pk, encodeOne({ tag: 'U32' }, 5))).toEqual([changed]);
    expect(ds.scanPoint(pk, encodeOne({ tag: 'U32' }, 9))).toEqual([]);
    // What SQL sees: -0 is a REAL (equal to 0), a u64 from 2^63 up is a BLOB after every integer.
    const { db } = ds.sqlite;
    expect(db.selectValue(`SELECT typeof(c13) FROM "t:all" WHERE c0 = 5`)).toBe('real');
    expect(db.selectValue(`SELECT c13 = 0 FROM "t:all" WHERE c0 = 5`)).toBe(1);
    expect(db.selectValue(`SELECT typeof(c9) FROM "t:all" WHERE c0 = 5`)).toBe('blob');
    // One copy: the table's columns are the row's columns, its u32 primary key the rowid (no key index).
    const cols = db.selectArrays(`SELECT name, pk FROM pragma_table_info('t:all')`);
    expect(cols).toEqual(COLUMNS.map((_, i) => [`c${i}`, i === 0 ? 1 : 0]));
    expect(db.selectValues(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 't:all' ORDER BY name`)).toEqual(['i:all_f64_idx_btree', 'i:all_u64_idx_btree']);
    ds.close();
  });

  it('a NaN with its own payload keeps its bits', async () => {
    const ds = await openDatastore();
    const def = testTable('f', [
      ['id', { tag: 'U32' }],
      ['v', { tag: 'F64' }],
      ['w', { tag: 'F32' }],
    ]);
    const table = ds.addTable(def, { types: [] });
    const row = new Uint8Array(16);
    const v = new DataView(row.buffer);
    v.setUint32(0, 1, true);
    v.setUint32(4, 0x00000001, true);
    v.setUint32(8, 0xfff80000, true); // a negative quiet NaN with a payload bit
    v.setUint32(12, 0x7fc00123, true); // an f32 NaN with a payload
    ds.begin();
    ds.insert(table, row);
    ds.commit();
    expect(ds.scanAll(table)).toEqual([row]);
    ds.close();
  });

  it('strings read back as written, and one that is not UTF-8 is stored alike whichever way it comes', async () => {
    const ds = await openDatastore();
    // No unique constraint: the whole row is the key, so lookups bind every column.
    const def = testTable('s', [
      ['id', { tag: 'U32' }],
      ['name', { tag: 'String' }],
    ]);
    const table = ds.addTable(def, { types: [] });
    const ascii = encodeRow(def, { id: 1, name: 'plain' });
    const utf8 = encodeRow(def, { id: 2, name: 'naïve ☃ 𝄞' });
    // Not UTF-8 (a lone continuation byte, an overlong NUL).
    const odd = new Uint8Array([3, 0, 0, 0, 4, 0, 0, 0, 0x61, 0x80, 0xc0, 0x80]);
    ds.begin();
    for (const row of [ascii, utf8, odd]) ds.insert(table, row);
    const delta = ds.commit();
    const stored = ds.scanAll(table);
    expect(stored.slice(0, 2)).toEqual([ascii, utf8]);
    // Inserting the odd row again finds the stored one (a set: a no-op), and the bytes a scan
    // returns delete it.
    ds.begin();
    ds.insert(table, odd);
    expect(ds.deleteByRows(table, [stored[2]!])).toBe(1);
    ds.commit();
    expect(ds.count(table)).toBe(2);
    // Replaying the first commit on an empty copy stores the same rows.
    const replayed = await openDatastore();
    const t2 = replayed.addTable(def, { types: [] });
    replayed.applyDelta(delta);
    expect(replayed.scanAll(t2)).toEqual(stored);
    ds.close();
    replayed.close();
  });

  it('a table without a unique constraint is still a set (the whole row is its key)', async () => {
    const ds = await openDatastore();
    const def = testTable('bag', [
      ['a', { tag: 'U64' }],
      ['p', PAIR],
    ]);
    const table = ds.addTable(def, { types: [] });
    const one = encodeRow(def, { a: TWO_63 + 5n, p: { x: 1, tags: ['q'] } });
    const two = encodeRow(def, { a: TWO_63 + 5n, p: { x: 1, tags: ['r'] } });
    ds.begin();
    ds.insert(table, one);
    ds.insert(table, one);
    ds.insert(table, two);
    ds.commit();
    expect(ds.count(table)).toBe(2);
    ds.begin();
    expect(ds.deleteByRows(table, [one])).toBe(1);
    ds.commit();
    expect(ds.scanAll(table)).toEqual([two]);
    ds.close();
  });

  it('a stored value of the wrong size (a damaged image) is a named error, not a wrong row', async () => {
    const ds = await openDatastore();
    const def = testTable('w', [
      ['id', { tag: 'U32' }],
      ['v', { tag: 'I128' }],
    ]);
    const table = ds.addTable(def, { types: [] });
    ds.begin();
    ds.insert(table, encodeRow(def, { id: 1, v: -5n }));
    ds.commit();
    ds.sqlite.db.exec(`UPDATE "t:w" SET c1 = x'0102'`);
    expect(() => ds.scanAll(table)).toThrow(DatastoreError);
    expect(() => ds.scanAll(table)).toThrow(/holds 2 bytes where 16 were expected: the database image is damaged/);
    ds.close();
  });

  it('a table without columns holds at most one (empty) row', async () => {
    const ds = await openDatastore();
    const table = ds.addTable(testTable('unit', []), { types: [] });
    ds.begin();
    ds.insert(table, new Uint8Array());
    ds.insert(table, new Uint8Array());
    const delta = ds.commit();
    expect(ds.count(table)).toBe(1);
    expect(delta.tables[0]!.inserts).toEqual([new Uint8Array()]);
    expect(ds.scanAll(table)).toEqual([new Uint8Array()]);
    ds.close();
  });
});

describe('images of the earlier layout are converted when their tables attach', () => {
  it('keeps every row, its key lookups and a u64 index order', async () => {
    const def = testTable(
      'item',
      [
        ['id', { tag: 'U64' }],
        ['name', { tag: 'String' }],
        ['pair', PAIR],
      ],
      { primaryKey: 'id', indexes: [{ columns: ['name'] }] },
    );
    const rows = [0n, 3n, TWO_63, 2n ** 64n - 1n, 12n].map((id, i) => encodeRow(def, { id, name: `n${i % 2}`, pair: { x: i, tags: [`t${i}`] } }));
    // The earlier layout, as its datastore wrote it: typed columns (u64 sign-flipped, products
    // absent), the row's BSATN in `_row`, and the unique and plain indexes.
    const old = await openDatastore();
    const { db } = old.sqlite;
    db.exec(`CREATE TABLE "t:item" (_rid INTEGER PRIMARY KEY, c0, c1, _row BLOB NOT NULL)`);
    db.exec(`CREATE UNIQUE INDEX "u:item:0" ON "t:item" (c0)`);
    db.exec(`CREATE INDEX "i:item_name_idx_btree" ON "t:item" (c1)`);
    const ids = [0n, 3n, TWO_63, 2n ** 64n - 1n, 12n];
    rows.forEach((row, i) => {
      db.exec({ sql: `INSERT INTO "t:item" (c0, c1, _row) VALUES (?, ?, ?)`, bind: [BigInt.asIntN(64, ids[i]! ^ TWO_63), `n${i % 2}`, row] });
    });
    const image = old.export();
    old.close();

    const ds = await openDatastore(image);
    const table = ds.addTable(def, { types: [] });
    expect(ds.count(table)).toBe(5);
    expect(new Set(ds.scanAll(table).map((b) => b.join()))).toEqual(new Set(rows.map((b) => b.join())));
    const pk = ds.indexByName('item_id_idx_btree')!;
    expect(ds.scanPoint(pk, encodeOne({ tag: 'U64' }, TWO_63))).toEqual([rows[2]]);
    const inOrder = ds.scanRange(pk, new Uint8Array([2]), 0, 0, 1, 0);
    expect(inOrder).toEqual([rows[0], rows[1], rows[4], rows[2], rows[3]]);
    const byName = ds.indexByName('item_name_idx_btree')!;
    expect(ds.scanPoint(byName, encodeOne({ tag: 'String' }, 'n1'))).toHaveLength(2);
    const { db: now } = ds.sqlite;
    expect(now.selectValues(`SELECT name FROM pragma_table_info('t:item')`)).toEqual(['_rid', 'c0', 'c1', 'c2']);
    expect(now.selectValue(`SELECT count(*) FROM sqlite_master WHERE name LIKE '%legacy%'`)).toBe(0);
    // The converted image keeps working through a commit and a second open.
    ds.begin();
    ds.insert(table, encodeRow(def, { id: 99n, name: 'new', pair: { x: 0, tags: [] } }));
    ds.commit();
    const again = await openDatastore(ds.export());
    ds.close();
    const t2 = again.addTable(def, { types: [] });
    expect(again.count(t2)).toBe(6);
    again.close();
  });
});

/** Byte offset of column `name` in a row of `def` (only for fixed-width columns before it). */
function offsetOf(def: ReturnType<typeof testTable>, name: string): number {
  const widths: Record<string, number> = { U32: 4, Bool: 1, I8: 1, U8: 1, I16: 2, U16: 2, I32: 4, I64: 8, U64: 8, I128: 16, U256: 32 };
  let at = 0;
  for (const c of def.columns) {
    if (c.name === name) return at;
    at += widths[c.type.tag]!;
  }
  throw new Error(`no column ${name}`);
}

describe('packed rows lent from the read buffer', () => {
  it('keep their bytes through later reads, released or not; a released scan is not copied', async () => {
    const def = testTable(
      't',
      [
        ['id', { tag: 'U32' }],
        ['name', { tag: 'String' }],
      ],
      { primaryKey: 'id' },
    );
    const ds = await openDatastore();
    const table = ds.addTable(def, { types: [] });
    ds.begin();
    for (let i = 0; i < 50; i++) ds.insert(table, encodeRow(def, { id: i, name: `row ${i}` }));
    ds.commit();
    const pk = table.indexes[0]!;
    const key = (id: number) => encodeOne({ tag: 'U32' }, id);
    const expected = (id: number) => encodeRow(def, { id, name: `row ${id}` });
    // Not released: the next read gives it a copy before writing over the buffer.
    const kept = ds.scanPointPacked(pk, key(7));
    const before = kept.bytes;
    expect(kept.bytes).toEqual(expected(7));
    expect(ds.scanPoint(pk, key(8))).toEqual([expected(8)]);
    expect(ds.scanAll(table)).toHaveLength(50);
    expect(kept.bytes).toEqual(expected(7));
    expect(kept.bytes).not.toBe(before);
    // Released: the reader may write over it, and does not copy it first.
    const done = ds.scanPointPacked(pk, key(9));
    const view = done.bytes;
    ds.releaseRows(done);
    ds.scanPointPacked(pk, key(10));
    expect(done.bytes).toBe(view);
    expect(view).toEqual(expected(10).subarray(0, view.length)); // row 9's view now shows row 10
    ds.close();
  });
});
