// A table whose primary key is one integer column keeps that column as SQLite's rowid: one B-tree
// and no key index. A u64 key from 2^63 up does not fit a rowid, so its first arrival moves the
// table to a `_rid` column inside the open transaction (undone by a rollback); a key the module no
// longer declares moves it too; tables stored the other way keep working as they are.
import { AlgebraicType, BinaryReader, type AlgebraicType as Ty } from 'spacetimedb';
import { describe, expect, it } from 'vitest';
import { type Datastore, openDatastore } from './datastore.ts';
import { DatastoreError } from './datastore-error.ts';
import { encodeOne, encodeRow, testTable } from './test-tables.ts';

const U64: Ty = { tag: 'U64' };
const I64: Ty = { tag: 'I64' };
const BIG = 1n << 63n;

function itemDef(keyType: Ty, primaryKey: string | null = 'id') {
  return testTable(
    'item',
    [
      ['id', keyType],
      ['name', { tag: 'String' }],
    ],
    primaryKey ? { primaryKey } : {},
  );
}

/** The stored table's rowid-key column (`c0`) or `_rid`, and its index names. */
function layout(ds: Datastore): { key: string; indexes: string[] } {
  const { db } = ds.sqlite;
  const key = db.selectValue(`SELECT name FROM pragma_table_info('t:item') WHERE pk = 1`) as string;
  const indexes = db.selectValues(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 't:item' ORDER BY name`) as string[];
  return { key, indexes };
}

function decodeIds(def: ReturnType<typeof itemDef>, rows: Uint8Array[]): unknown[] {
  const de = AlgebraicType.makeDeserializer({ tag: 'Product', value: def.rowType } as Ty, { types: [] });
  return rows.map((b) => (de(new BinaryReader(b)) as { id: unknown }).id);
}

describe('integer primary keys as the rowid', () => {
  it('a u64 key is the rowid until a key from 2^63 up arrives; then the table keeps a _rid column, rows and order intact', async () => {
    const ds = await openDatastore();
    const def = itemDef(U64);
    const table = ds.addTable(def, { types: [] });
    const pk = ds.indexByName('item_id_idx_btree')!;
    expect(layout(ds)).toEqual({ key: 'c0', indexes: [] });
    ds.begin();
    const five = encodeRow(def, { id: 5n, name: 'five' });
    ds.insert(table, five);
    ds.insert(table, encodeRow(def, { id: 7n, name: 'seven' }));
    ds.commit();

    ds.begin();
    ds.insert(table, encodeRow(def, { id: 6n, name: 'six' }));
    const big = encodeRow(def, { id: BIG + 1n, name: 'big' });
    ds.insert(table, big);
    expect(layout(ds)).toEqual({ key: '_rid', indexes: ['u:item:0'] });
    // Rows the transaction touched before the move keep their identity in its delta.
    expect(ds.deleteByPoint(pk, encodeOne(U64, 6n))).toBe(1);
    expect(ds.deleteByPoint(pk, encodeOne(U64, 5n))).toBe(1);
    const delta = ds.commit();
    expect(delta.tables).toEqual([{ table: 'item', inserts: [big], deletes: [five] }]);

    expect(decodeIds(def, ds.scanRange(pk, new Uint8Array([2]), 0, 0, 1, 0))).toEqual([7n, BIG + 1n]);
    expect(ds.scanPoint(pk, encodeOne(U64, BIG + 1n))).toEqual([big]);
    expect(() => {
      ds.begin();
      ds.insert(table, encodeRow(def, { id: 7n, name: 'again' }));
    }).toThrow(DatastoreError);
    ds.rollback();
    expect(ds.count(table)).toBe(2);
    ds.close();
  });

  it('the move keeps every rowid, so rows the transaction touched before it stay apart after it', async () => {
    const ds = await openDatastore();
    const def = itemDef(U64);
    const table = ds.addTable(def, { types: [] });
    const pk = ds.indexByName('item_id_idx_btree')!;
    const row = (id: bigint) => encodeRow(def, { id, name: `n${id}` });
    ds.begin();
    ds.insert(table, row(1n));
    ds.insert(table, row(7n));
    ds.commit();
    ds.begin();
    ds.insert(table, row(3n));
    ds.insert(table, row(BIG));
    // Renumbered rowids would put 7 where the transaction recorded 3.
    expect(ds.deleteByPoint(pk, encodeOne(U64, 7n))).toBe(1);
    const delta = ds.commit();
    expect(delta.tables).toEqual([{ table: 'item', inserts: [row(3n), row(BIG)], deletes: [row(7n)] }]);
    // The rows keep their keys as rowids; the big key's row took the next one.
    expect(ds.sqlite.db.selectValues(`SELECT rowid FROM "t:item" ORDER BY rowid`)).toEqual([1, 3, 8]);
    ds.close();
  });

  it('a rollback puts the rowid key back, and the table goes on working', async () => {
    const ds = await openDatastore();
    const def = itemDef(U64);
    const table = ds.addTable(def, { types: [] });
    const pk = ds.indexByName('item_id_idx_btree')!;
    ds.begin();
    ds.insert(table, encodeRow(def, { id: 1n, name: 'one' }));
    ds.commit();
    ds.begin();
    ds.insert(table, encodeRow(def, { id: BIG, name: 'big' }));
    ds.rollback();
    expect(layout(ds)).toEqual({ key: 'c0', indexes: [] });
    ds.begin();
    ds.insert(table, encodeRow(def, { id: 2n, name: 'two' }));
    ds.update(table, pk, encodeRow(def, { id: 1n, name: 'uno' }));
    ds.commit();
    expect(ds.scanAll(table).map((r) => decodeIds(def, [r])[0])).toEqual([1n, 2n]);
    expect(ds.scanPoint(pk, encodeOne(U64, 1n))).toEqual([encodeRow(def, { id: 1n, name: 'uno' })]);
    // A later transaction moves it for good.
    ds.begin();
    ds.insert(table, encodeRow(def, { id: BIG + 9n, name: 'big' }));
    ds.commit();
    expect(layout(ds).key).toBe('_rid');
    expect(ds.count(table)).toBe(3);
    ds.close();
  });

  it('i64 keys beyond 2^53 stay distinct rows in a transaction delta', async () => {
    const ds = await openDatastore();
    const def = itemDef(I64);
    const table = ds.addTable(def, { types: [] });
    const pk = ds.indexByName('item_id_idx_btree')!;
    const a = 1n << 60n;
    // The same number once converted to a double: rowids must not be.
    expect(Number(a + 1n)).toBe(Number(a));
    const rowA = encodeRow(def, { id: a, name: 'a' });
    const rowB = encodeRow(def, { id: a + 1n, name: 'b' });
    const rowNeg = encodeRow(def, { id: -a, name: 'neg' });
    ds.begin();
    ds.insert(table, rowA);
    ds.commit();
    ds.begin();
    ds.insert(table, rowB);
    ds.insert(table, rowNeg);
    expect(ds.deleteByPoint(pk, encodeOne(I64, a))).toBe(1);
    const delta = ds.commit();
    expect(delta.tables).toEqual([{ table: 'item', inserts: [rowB, rowNeg], deletes: [rowA] }]);
    expect(decodeIds(def, ds.scanRange(pk, new Uint8Array([2]), 0, 0, 1, 0))).toEqual([-a, a + 1n]);
    expect(layout(ds).key).toBe('c0');
    ds.close();
  });

  it('an update through another unique index that changes the key moves the row in the delta too', async () => {
    const ds = await openDatastore();
    const def = testTable(
      'user',
      [
        ['id', U64],
        ['email', { tag: 'String' }],
      ],
      { primaryKey: 'id', indexes: [{ columns: ['email'], unique: true }] },
    );
    const table = ds.addTable(def, { types: [] });
    const byEmail = ds.indexByName('user_email_idx_btree')!;
    const a1 = encodeRow(def, { id: 1n, email: 'a' });
    ds.begin();
    ds.insert(table, a1);
    ds.commit();
    const before = ds.export();

    const a5 = encodeRow(def, { id: 5n, email: 'a' });
    const b1 = encodeRow(def, { id: 1n, email: 'b' });
    ds.begin();
    ds.update(table, byEmail, a5);
    ds.insert(table, b1); // takes the rowid the update left
    const delta = ds.commit();
    expect(delta.tables).toEqual([{ table: 'user', inserts: [a5, b1], deletes: [a1] }]);

    // The delta replayed on the state before it gives the same rows (recovery).
    const replica = await openDatastore(before);
    const t2 = replica.addTable(def, { types: [] });
    replica.applyDelta(delta);
    expect(replica.scanAll(t2)).toEqual(ds.scanAll(table));
    ds.close();
    replica.close();
  });

  it('a primary key the module no longer declares stops being the rowid: equal ids may repeat', async () => {
    const first = await openDatastore();
    const withKey = itemDef(U64);
    const t1 = first.addTable(withKey, { types: [] });
    first.begin();
    first.insert(t1, encodeRow(withKey, { id: 1n, name: 'one' }));
    first.commit();
    const image = first.export();
    first.close();

    const ds = await openDatastore(image);
    const noKey = itemDef(U64, null);
    const table = ds.addTable(noKey, { types: [] });
    expect(layout(ds)).toEqual({ key: '_rid', indexes: ['u:item:row'] });
    ds.begin();
    ds.insert(table, encodeRow(noKey, { id: 1n, name: 'another one' }));
    ds.commit();
    expect(ds.count(table)).toBe(2);
    ds.close();
  });

  it('a table stored with a _rid column and a key index keeps that layout', async () => {
    const first = await openDatastore();
    const { db } = first.sqlite;
    db.exec(`CREATE TABLE "t:item" (_rid INTEGER PRIMARY KEY, c0, c1)`);
    db.exec(`CREATE UNIQUE INDEX "u:item:0" ON "t:item" (c0)`);
    db.exec(`INSERT INTO "t:item" (c0, c1) VALUES (3, 'three')`);
    const image = first.export();
    first.close();

    const ds = await openDatastore(image);
    const def = itemDef(U64);
    const table = ds.addTable(def, { types: [] });
    const pk = ds.indexByName('item_id_idx_btree')!;
    expect(layout(ds)).toEqual({ key: '_rid', indexes: ['u:item:0'] });
    expect(ds.scanPoint(pk, encodeOne(U64, 3n))).toEqual([encodeRow(def, { id: 3n, name: 'three' })]);
    ds.begin();
    expect(() => ds.insert(table, encodeRow(def, { id: 3n, name: 'other' }))).toThrow(/already taken/);
    ds.insert(table, encodeRow(def, { id: 4n, name: 'four' }));
    ds.commit();
    expect(ds.count(table)).toBe(2);
    ds.close();
  });
});

describe('u64 values on the insert path', () => {
  it('round-trip on both sides of 2^31, 2^32, 2^53 and 2^63, as keys, indexed columns and auto-increments', async () => {
    const def = testTable(
      'nums',
      [
        ['id', U64],
        ['n', U64],
        ['seq', U64],
      ],
      { primaryKey: 'id', indexes: [{ columns: ['n'] }], autoInc: ['seq'] },
    );
    const ds = await openDatastore();
    const table = ds.addTable(def, { types: [] });
    const values = [1n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 5n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
    ds.begin();
    values.forEach((v, i) => {
      ds.insert(table, encodeRow(def, { id: v, n: values[values.length - 1 - i]!, seq: 0n }));
    });
    ds.commit();
    const de = AlgebraicType.makeDeserializer({ tag: 'Product', value: def.rowType } as Ty, { types: [] });
    const rows = ds.scanAll(table).map((b) => de(new BinaryReader(b)) as { id: bigint; n: bigint; seq: bigint });
    expect(rows.map((r) => r.id).sort((a, b) => (a < b ? -1 : 1))).toEqual(values);
    // Each row kept its n, and got the next sequence value for its zero.
    for (const r of rows) expect(r.n).toBe(values[values.length - 1 - values.indexOf(r.id)]);
    expect(rows.map((r) => r.seq).sort((a, b) => (a < b ? -1 : 1))).toEqual(values.map((_, i) => BigInt(i + 1)));
    // Point lookups find each value by key and through the index on n.
    const pk = table.indexes.find((ix) => ix.def.columns[0] === 0)!;
    const byN = table.indexes.find((ix) => ix.def.columns[0] === 1)!;
    for (const v of values) {
      expect(ds.scanPoint(pk, encodeOne(U64, v))).toHaveLength(1);
      expect(ds.scanPoint(byN, encodeOne(U64, v))).toHaveLength(1);
    }
    // The same value again is a unique violation, named with its key.
    ds.begin();
    expect(() => ds.insert(table, encodeRow(def, { id: 2n ** 31n, n: 7n, seq: 0n }))).toThrow(DatastoreError);
    ds.rollback();
    ds.close();
  });
});
