// Upgrading keeps the data: a database whose snapshot was written by the earlier storage layout
// (each row's BSATN in a `_row` column beside its typed columns, u64 stored sign-flipped, no
// column for products and arrays) opens with every row, answers SQL and calls as before, and its
// next snapshot is in the current layout.
import { describe, expect, it } from 'vitest';
import { openDatastore } from '../datastore/datastore.ts';
import { quote, storedTableName } from '../datastore/layout.ts';
import { memoryDurability, MemoryStore } from '../durability/memory.ts';
import { bundleModule } from '../host/bundle.ts';
import { Engine, randomIdentity } from './engine.ts';
import type { ModuleSchema } from '../datastore/schema.ts';

const code = (await bundleModule('examples/bank')).code;
const owner = randomIdentity();
const TWO_63 = 1n << 63n;

/** Rewrites a current-layout image into the earlier layout, table by table. */
async function toLegacyImage(image: Uint8Array, schema: ModuleSchema): Promise<Uint8Array> {
  const ds = await openDatastore(image);
  for (const def of schema.tables) {
    const table = ds.addTable(def, schema.typespace);
    const rows = ds.scanAll(table).map((row) => ({ row, values: ds.storedValues(table, row) }));
    const { db } = ds.sqlite;
    const name = storedTableName(def.name);
    for (const ix of db.selectValues(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, [name]) as string[]) {
      db.exec(`DROP INDEX ${quote(ix)}`);
    }
    db.exec(`DROP TABLE ${quote(name)}`);
    const typed = table.codecs.flatMap((c, i) => (c.kind === 'none' ? [] : [i]));
    db.exec(`CREATE TABLE ${quote(name)} (_rid INTEGER PRIMARY KEY${typed.map((i) => `, c${i}`).join('')}, _row BLOB NOT NULL)`);
    const insert = db.prepare(`INSERT INTO ${quote(name)} (${[...typed.map((i) => `c${i}`), '_row'].join(', ')}) VALUES (${[...typed, 0].map(() => '?').join(', ')})`);
    for (const { row, values } of rows) {
      const old = typed.map((i) => {
        const v = values[i]!;
        if (table.codecs[i]!.kind !== 'u64') return v;
        // The earlier u64 form: the value with its top bit flipped, as a signed 64-bit integer.
        const u = v instanceof Uint8Array ? v.reduce((x, b) => (x << 8n) | BigInt(b), 0n) : BigInt(v as bigint);
        return BigInt.asIntN(64, u ^ TWO_63);
      });
      insert.bind([...old, row] as never).stepReset();
    }
    insert.finalize();
  }
  const out = ds.export();
  ds.close();
  return out;
}

describe('a database written by the earlier storage layout', () => {
  it('opens with every row, answers SQL and calls, and snapshots in the current layout', async () => {
    const store = new MemoryStore();
    const e = await Engine.open({ name: 'bank', durability: memoryDurability(store), code, owner, snapshotEvery: 1 });
    const ids = [1n, 2n, TWO_63, 2n ** 64n - 1n];
    for (const [i, id] of ids.entries()) await e.call('open_account', [id, `owner-${i}`, 1000n * BigInt(i + 1)]);
    await e.call('transfer', [2n ** 64n - 1n, 1n, 250n]);
    const accounts = (await e.sql('SELECT * FROM account')).rows;
    const schema = e.host.schema;
    await e.close();
    expect(store.snapshot).toBeDefined();
    expect(store.log).toEqual([]);

    store.snapshot = { ...store.snapshot!, image: await toLegacyImage(store.snapshot!.image, schema) };
    const legacy = await openDatastore(store.snapshot.image);
    expect(legacy.sqlite.db.selectValues(`SELECT name FROM pragma_table_info('t:account')`)).toContain('_row');
    legacy.close();

    const again = await Engine.open({ name: 'bank', durability: memoryDurability(store), owner, snapshotEvery: 1 });
    const sorted = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    expect(sorted((await again.sql('SELECT * FROM account')).rows)).toEqual(sorted(accounts));
    expect((await again.sql(`SELECT owner FROM account WHERE id = ${TWO_63}`)).rows).toEqual([{ owner: 'owner-2' }]);
    expect((await again.sql('SELECT id FROM account WHERE id > 2')).rows.map((r) => r.id)).toEqual(expect.arrayContaining([TWO_63, 2n ** 64n - 1n]));
    await again.call('transfer', [TWO_63, 2n, 100n]);
    expect((await again.sql('SELECT balance FROM account WHERE id = 2')).rows).toEqual([{ balance: 2100n }]);
    await again.close();

    // The snapshot the call wrote is in the current layout.
    const current = await openDatastore(store.snapshot!.image);
    expect(current.sqlite.db.selectValues(`SELECT name FROM pragma_table_info('t:account')`)).not.toContain('_row');
    current.close();
  });
});
