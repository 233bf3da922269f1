// The datastore's orderings must equal SpacetimeDB's (numbers by value, signed/unsigned 64–256
// bits, strings by UTF-8 bytes), and its row semantics (set semantics, unique checks, deltas,
// rollback, sequences) must match docs/host-abi.md §8.
import { AlgebraicType, BinaryReader, type AlgebraicType as Ty } from 'spacetimedb';
import { describe, expect, it } from 'vitest';
import { openDatastore } from './datastore.ts';
import { DatastoreError } from './datastore-error.ts';
import { encodeOne, encodeRow, testTable } from './test-tables.ts';
import { prng as rng } from '../../test/helpers/prng.ts';

function randomBig(r: () => number, bits: number, signed: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(Math.floor(r() * 65536));
  v = BigInt.asUintN(bits, v);
  // Bias towards edges: small magnitudes, extremes and the sign boundary.
  const pick = r();
  if (pick < 0.15) v = BigInt(Math.floor(r() * 5));
  else if (pick < 0.25) v = (1n << BigInt(bits)) - 1n - BigInt(Math.floor(r() * 3));
  else if (pick < 0.35) v = (1n << BigInt(bits - 1)) + BigInt(Math.floor(r() * 3)) - 1n;
  return signed ? BigInt.asIntN(bits, v) : v;
}

const INT_TYPES: [string, number, boolean][] = [
  ['I8', 8, true],
  ['U8', 8, false],
  ['I16', 16, true],
  ['U16', 16, false],
  ['I32', 32, true],
  ['U32', 32, false],
  ['I64', 64, true],
  ['U64', 64, false],
  ['I128', 128, true],
  ['U128', 128, false],
  ['I256', 256, true],
  ['U256', 256, false],
];

async function scanOrdered(ty: Ty, values: unknown[]): Promise<unknown[]> {
  const ds = await openDatastore();
  const def = testTable(
    't',
    [
      ['id', { tag: 'U32' }],
      ['v', ty],
    ],
    { primaryKey: 'id', indexes: [{ columns: ['v'] }] },
  );
  const table = ds.addTable(def, { types: [] });
  ds.begin();
  values.forEach((v, id) => {
    ds.insert(table, encodeRow(def, { id, v }));
  });
  ds.commit();
  const index = ds.indexByName('t_v_idx_btree')!;
  const rows = ds.scanRange(index, new Uint8Array([2]), 0, 0, 1, 0); // unbounded..unbounded, in index order
  const de = AlgebraicType.makeDeserializer({ tag: 'Product', value: def.rowType } as Ty, { types: [] });
  ds.close();
  return rows.map((b) => (de(new BinaryReader(b)) as { v: unknown }).v);
}

describe('orderings equal SpacetimeDB', () => {
  for (const [tag, bits, signed] of INT_TYPES) {
    it(`${tag} sorts by numeric value`, async () => {
      const seed = bits * 7919 + (signed ? 1 : 0);
      const r = rng(seed);
      const values = [...new Set(Array.from({ length: 200 }, () => randomBig(r, bits, signed)))];
      const typed = bits <= 32 ? values.map(Number) : values;
      const got = await scanOrdered({ tag } as Ty, typed);
      const want = [...typed].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
      expect(got, `seed ${seed}`).toEqual(want);
    });
  }

  it('strings sort by UTF-8 bytes, not UTF-16 code units', async () => {
    const values = ['', 'a', 'B', 'é', '\uFFFF', '\u{10000}', '\u{1F600}', 'zz', 'z', '\uE000', 'a\u0000b'];
    const got = await scanOrdered({ tag: 'String' }, values);
    const want = [...values].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    expect(got).toEqual(want);
    // The point of the test: UTF-16 order disagrees for these two.
    expect('\u{10000}' < '\uFFFF').toBe(true);
    expect(got.indexOf('\uFFFF')).toBeLessThan(got.indexOf('\u{10000}'));
  });

  it('bool sorts false before true; identities as unsigned 256-bit', async () => {
    expect(await scanOrdered({ tag: 'Bool' }, [true, false])).toEqual([false, true]);
    const idTy: Ty = { tag: 'Product', value: { elements: [{ name: '__identity__', algebraicType: { tag: 'U256' } }] } };
    const ids = [5n, (1n << 255n) + 1n, 0n, (1n << 256n) - 1n, 1n << 64n].map((v) => ({ __identity__: v }));
    const got = (await scanOrdered(idTy, ids)) as { __identity__: bigint }[];
    expect(got.map((x) => x.__identity__)).toEqual([0n, 5n, 1n << 64n, (1n << 255n) + 1n, (1n << 256n) - 1n]);
  });

  it('range bounds: included, excluded and unbounded on a u64 column beyond 2^63', async () => {
    const ds = await openDatastore();
    const def = testTable('t', [['id', { tag: 'U64' }]], { primaryKey: 'id' });
    const table = ds.addTable(def, { types: [] });
    const vals = [0n, 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 63n) + 1n, (1n << 64n) - 1n];
    ds.begin();
    for (const id of vals) ds.insert(table, encodeRow(def, { id }));
    ds.commit();
    const ix = ds.indexByName('t_id_idx_btree')!;
    const bound = (tag: number, v?: bigint) => (v === undefined ? new Uint8Array([tag]) : new Uint8Array([tag, ...encodeOne({ tag: 'U64' }, v)]));
    const scan = (start: Uint8Array, end: Uint8Array) => {
      const buf = new Uint8Array([...start, ...end]);
      return ds.scanRange(ix, buf, 0, 0, start.length, end.length).map((b) => new BinaryReader(b).readU64());
    };
    expect(scan(bound(0, 1n << 63n), bound(2))).toEqual([1n << 63n, (1n << 63n) + 1n, (1n << 64n) - 1n]);
    expect(scan(bound(1, 1n << 63n), bound(1, (1n << 64n) - 1n))).toEqual([(1n << 63n) + 1n]);
    expect(scan(bound(2), bound(1, 1n))).toEqual([0n]);
    ds.close();
  });
});

describe('row semantics', () => {
  const def = testTable(
    'p',
    [
      ['id', { tag: 'U64' }],
      ['name', { tag: 'String' }],
      ['age', { tag: 'U32' }],
    ],
    {
      primaryKey: 'id',
      indexes: [{ columns: ['name'], unique: true }, { columns: ['age'] }],
      autoInc: ['id'],
    },
  );
  /** A fresh datastore with the table `p`. */
  const openWithTable = async () => {
    const ds = await openDatastore();
    return { ds, t: ds.addTable(def, { types: [] }) };
  };
  /** A row of `p` (id 0 asks for the next auto-increment value). */
  const row = (id: bigint, name: string, age: number) => encodeRow(def, { id, name, age });

  it('fills auto-increment placeholders and reports the generated bytes', async () => {
    const { ds, t } = await openWithTable();
    ds.begin();
    const a = ds.insert(t, row(0n, 'a', 1));
    const b = ds.insert(t, row(0n, 'b', 1));
    const c = ds.insert(t, row(10n, 'c', 1));
    ds.commit();
    expect(a.generated).toEqual(encodeOne({ tag: 'U64' }, 1n));
    expect(b.generated).toEqual(encodeOne({ tag: 'U64' }, 2n));
    expect(c.generated).toBeUndefined();
    ds.close();
  });

  it('a commit refused because the database is full is rolled back, and the next transaction works', async () => {
    const { ds, t } = await openWithTable();
    ds.begin();
    for (let i = 1; i <= 10; i++) ds.insert(t, row(BigInt(i), `kept ${i}`, i));
    ds.commit();
    // Cap the database at its size: the next transaction that needs a new page cannot commit.
    const { sqlite3, db } = ds.sqlite;
    const limit = (bytes: bigint) => {
      const p = sqlite3.wasm.alloc(8);
      try {
        sqlite3.wasm.poke64(p, bytes);
        sqlite3.capi.sqlite3_file_control(db.pointer!, 'main', sqlite3.capi.SQLITE_FCNTL_SIZE_LIMIT, p);
      } finally {
        sqlite3.wasm.dealloc(p);
      }
    };
    limit(0n);
    ds.begin();
    let refused: unknown;
    try {
      for (let i = 11; i <= 5000; i++) ds.insert(t, row(BigInt(i), `lost ${i} ${'x'.repeat(100)}`, i));
      ds.commit();
    } catch (e) {
      refused = e;
      ds.rollback();
    }
    expect(String(refused)).toMatch(/full/i);
    expect(ds.inTransaction).toBe(false);
    expect(ds.count(t)).toBe(10);
    limit(2n ** 32n);
    ds.begin();
    ds.insert(t, row(11n, 'after', 11));
    ds.commit();
    expect(ds.count(t)).toBe(11);
    expect(db.selectValue(`SELECT count(*) FROM ${t.sqlName}`)).toBe(11);
    ds.close();
  });

  it('sequence values are not returned by a rollback', async () => {
    const { ds, t } = await openWithTable();
    ds.begin();
    ds.insert(t, row(0n, 'a', 1));
    ds.rollback();
    ds.begin();
    const r = ds.insert(t, row(0n, 'a', 1));
    ds.commit();
    expect(r.generated).toEqual(encodeOne({ tag: 'U64' }, 2n));
    expect(ds.count(t)).toBe(1);
    ds.close();
  });

  it('an identical row is a no-op; a different row with a taken key is UNIQUE_ALREADY_EXISTS and the tx continues', async () => {
    const { ds, t } = await openWithTable();
    ds.begin();
    ds.insert(t, row(1n, 'a', 1));
    ds.insert(t, row(1n, 'a', 1));
    let err: unknown;
    try {
      ds.insert(t, row(2n, 'a', 2));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatastoreError);
    expect((err as DatastoreError).errno).toBe(12);
    expect((err as Error).message).toContain('name = "a"');
    ds.insert(t, row(3n, 'c', 3));
    const delta = ds.commit();
    expect(ds.count(t)).toBe(2);
    expect(delta.tables[0]!.inserts).toHaveLength(2);
    ds.close();
  });

  it('the delta nets out insert+delete and unchanged updates, and records real updates as delete+insert', async () => {
    const { ds, t } = await openWithTable();
    const pk = ds.indexByName('p_id_idx_btree')!;
    ds.begin();
    ds.insert(t, row(1n, 'a', 1));
    ds.insert(t, row(2n, 'b', 1));
    ds.commit();
    ds.begin();
    ds.insert(t, row(3n, 'tmp', 1));
    ds.deleteByPoint(pk, encodeOne({ tag: 'U64' }, 3n));
    ds.update(t, pk, row(1n, 'a', 1));
    ds.update(t, pk, row(2n, 'b', 5));
    const delta = ds.commit();
    expect(delta.tables).toHaveLength(1);
    expect(delta.tables[0]!.deletes).toEqual([row(2n, 'b', 1)]);
    expect(delta.tables[0]!.inserts).toEqual([row(2n, 'b', 5)]);
    ds.close();
  });

  it('update of a missing key is NO_SUCH_ROW; rollback restores rows and counts', async () => {
    const { ds, t } = await openWithTable();
    const pk = ds.indexByName('p_id_idx_btree')!;
    ds.begin();
    ds.insert(t, row(1n, 'a', 1));
    ds.commit();
    ds.begin();
    expect(() => ds.update(t, pk, row(9n, 'z', 1))).toThrow(expect.objectContaining({ errno: 15 }));
    ds.clear(t);
    expect(ds.count(t)).toBe(0);
    ds.rollback();
    expect(ds.count(t)).toBe(1);
    expect(ds.scanAll(t)).toEqual([row(1n, 'a', 1)]);
    ds.close();
  });

  it('malformed and trailing bytes are BSATN_DECODE_ERROR', async () => {
    const { ds, t } = await openWithTable();
    ds.begin();
    const good = row(1n, 'a', 1);
    expect(() => ds.insert(t, good.subarray(0, good.length - 2))).toThrow(expect.objectContaining({ errno: 3 }));
    expect(() => ds.insert(t, new Uint8Array([...good, 0]))).toThrow(expect.objectContaining({ errno: 3 }));
    ds.rollback();
    ds.close();
  });

  it('tables without a primary key are sets', async () => {
    const ds = await openDatastore();
    const d = testTable(
      's',
      [
        ['a', { tag: 'U32' }],
        ['b', { tag: 'String' }],
      ],
      { indexes: [{ columns: ['a'] }] },
    );
    const t = ds.addTable(d, { types: [] });
    ds.begin();
    ds.insert(t, encodeRow(d, { a: 1, b: 'x' }));
    ds.insert(t, encodeRow(d, { a: 1, b: 'x' }));
    ds.insert(t, encodeRow(d, { a: 1, b: 'y' }));
    expect(ds.deleteByRows(t, [encodeRow(d, { a: 1, b: 'x' })])).toBe(1);
    expect(ds.deleteByRows(t, [encodeRow(d, { a: 1, b: 'x' })])).toBe(0);
    ds.commit();
    expect(ds.count(t)).toBe(1);
    ds.close();
  });

  it('event tables show rows inside the transaction only', async () => {
    const ds = await openDatastore();
    const d = testTable('e', [['k', { tag: 'String' }]], { isEvent: true });
    const t = ds.addTable(d, { types: [] });
    ds.begin();
    ds.insert(t, encodeRow(d, { k: 'x' }));
    expect(ds.count(t)).toBe(1);
    const delta = ds.commit();
    expect(delta.tables[0]!.inserts).toHaveLength(1);
    expect(ds.count(t)).toBe(0);
    expect(ds.scanAll(t)).toEqual([]);
    ds.close();
  });

  it('applyRows moves a sequence past the ids it brings, wherever the column sits in the row', async () => {
    const ds = await openDatastore();
    const def = testTable(
      'seqs',
      [
        ['name', { tag: 'String' }],
        ['id', { tag: 'U64' }],
      ],
      { primaryKey: 'id', autoInc: ['id'] },
    );
    const t = ds.addTable(def, { types: [] });
    ds.begin();
    ds.applyRows({ tables: [{ table: 'seqs', inserts: [encodeRow(def, { name: 'a longer name', id: 7n }), encodeRow(def, { name: 'b', id: 41n })], deletes: [] }], sequences: [] }, true);
    const generated = ds.insert(t, encodeRow(def, { name: 'next', id: 0n })).generated;
    ds.commit();
    expect(generated).toEqual(encodeOne({ tag: 'U64' }, 42n));
    ds.close();
  });

  it('export + reopen + applyDelta reproduce the state (recovery path)', async () => {
    const { ds, t } = await openWithTable();
    ds.begin();
    ds.insert(t, row(0n, 'a', 1));
    ds.commit();
    const image = ds.export();
    ds.begin();
    ds.insert(t, row(0n, 'b', 2));
    ds.deleteByPoint(ds.indexByName('p_name_idx_btree')!, encodeOne({ tag: 'String' }, 'a'));
    const delta = ds.commit();
    const ds2 = await openDatastore(image);
    const t2 = ds2.addTable(def, { types: [] });
    ds2.applyDelta(delta);
    expect(ds2.scanAll(t2)).toEqual(ds.scanAll(t));
    // The sequence continues after recovery instead of reusing ids.
    ds2.begin();
    const r = ds2.insert(t2, row(0n, 'c', 3));
    ds2.commit();
    expect(r.generated).toEqual(encodeOne({ tag: 'U64' }, 3n));
    ds.close();
    ds2.close();
  });
});
