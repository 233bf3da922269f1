// The in-memory database's buffer grows with the database by an eighth at a commit (at least
// 256 KiB), not by doubling as SQLite's memdb does on its own, and that never costs a write its
// room: a transaction that grows the database many times over commits whole, and statements run
// outside a transaction (metadata, written when a module is published) still grow the buffer
// as far as they need, as a memdb does.
import { AlgebraicType as T } from 'spacetimedb';
import { describe, expect, it } from 'vitest';
import { type Datastore, openDatastore } from './datastore.ts';
import { tableSql } from './layout.ts';
import { encodeRow, testTable } from './test-tables.ts';

const def = testTable(
  'item',
  [
    ['id', T.U64],
    ['name', T.String],
  ],
  { primaryKey: 'id', indexes: [{ columns: ['name'] }] },
);

const MIN_GROWTH = 256 * 1024;

/** The database's size (pages × page size) and the bytes its memdb buffer holds. */
function sizes(ds: Datastore): { database: number; buffer: number; page: number } {
  const { sqlite3, db } = ds.sqlite;
  const page = Number(db.selectValue('PRAGMA page_size'));
  const database = Number(db.selectValue('PRAGMA page_count')) * page;
  const ptr = sqlite3.capi.sqlite3_serialize(db.pointer!, 'main', 0, 1 /* SQLITE_SERIALIZE_NOCOPY */);
  expect(ptr).not.toBe(0);
  return { database, buffer: Number(sqlite3.capi.sqlite3_msize(ptr)), page };
}

/** At most what one commit's growth leaves: an eighth of the database or 256 KiB, rounded up to pages (plus allocator rounding). */
function expectTight(ds: Datastore): void {
  const { database, buffer, page } = sizes(ds);
  expect(buffer).toBeGreaterThanOrEqual(database);
  expect(buffer).toBeLessThanOrEqual(database + Math.max(database / 8 + page, MIN_GROWTH) + 64);
}

function insertRows(ds: Datastore, from: number, n: number): void {
  const table = ds.tables.find((t) => t.def.name === 'item')!;
  ds.begin();
  for (let i = from; i < from + n; i++) ds.insert(table, encodeRow(def, { id: BigInt(i), name: `row ${i} ${'x'.repeat(i % 50)}` }));
  ds.commit();
}

function count(ds: Datastore): number {
  return Number(ds.sqlite.db.selectValue(`SELECT count(*) FROM ${tableSql('item')}`));
}

describe('the memdb buffer', () => {
  it('stays within an eighth of the database (at least 256 KiB) after every commit', async () => {
    const ds = await openDatastore();
    ds.addTable(def, { types: [] });
    for (let c = 0; c < 60; c++) {
      insertRows(ds, c * 1000, 1000);
      expectTight(ds);
    }
    expect(sizes(ds).database).toBeGreaterThan(4 * 2 ** 20);
    expect(count(ds)).toBe(60_000);
    ds.close();
  });

  it('commits a transaction that grows the database many times over, whole', async () => {
    const ds = await openDatastore();
    ds.addTable(def, { types: [] });
    insertRows(ds, 0, 50_000);
    expect(count(ds)).toBe(50_000);
    expect(sizes(ds).database).toBeGreaterThan(2 * 2 ** 20);
    expectTight(ds);
    ds.close();
  });

  it('grows by an eighth, not double, on the first commit after a reopen', async () => {
    const first = await openDatastore();
    first.addTable(def, { types: [] });
    insertRows(first, 0, 40_000);
    const image = first.export();
    first.close();
    const ds = await openDatastore(image);
    ds.addTable(def, { types: [] });
    expect(sizes(ds).buffer).toBe(image.length);
    insertRows(ds, 40_000, 1000);
    expectTight(ds);
    expect(count(ds)).toBe(41_000);
    ds.close();
  });

  it('still grows for statements outside a transaction, after commits held its growth', async () => {
    const ds = await openDatastore();
    ds.addTable(def, { types: [] });
    insertRows(ds, 0, 20_000);
    const big = new Uint8Array(3 * 2 ** 20).map((_, i) => i % 251);
    ds.setMeta('big', big);
    const same = (v: Uint8Array | undefined) => v !== undefined && Buffer.compare(v, big) === 0;
    expect(same(ds.getMeta('big'))).toBe(true);
    insertRows(ds, 20_000, 1000);
    expect(count(ds)).toBe(21_000);
    expect(same(ds.getMeta('big'))).toBe(true);
    ds.close();
  });

  it('closing a datastore twice is harmless', async () => {
    const ds = await openDatastore();
    ds.addTable(def, { types: [] });
    insertRows(ds, 0, 100);
    ds.close();
    ds.close();
    const next = await openDatastore();
    next.addTable(def, { types: [] });
    insertRows(next, 0, 5000);
    expect(count(next)).toBe(5000);
    next.close();
  });
});
