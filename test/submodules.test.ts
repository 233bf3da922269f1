// Submodules (SpacetimeDB 2.x): a module mounts another module's schema under a name
// (`schema({ items, lib })`, and lib mounts `inner`). Its tables live under the namespace path in
// the datastore, SQL and subscriptions (`lib.libData`, `lib.inner.items`), its functions are
// called by their namespaced wire names (`lib.lib_insert`), the parent reaches it through
// `ctx.as.lib` / `ctx.db.lib` in one transaction, and its views, procedures, schedules and HTTP
// handler run against its own tables. Fixtures: test/fixtures/submodules/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryDurability, MemoryStore } from '../src/durability/memory.ts';
import { Engine, randomIdentity } from '../src/engine/engine.ts';
import { ModuleError, SenderError, SqlError, UsageError } from '../src/errors.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { BinaryWriter } from '../src/protocol/client-api.js';
import { rawConnect } from '../src/protocol/fixtures/raw-client.ts';
import { ProtocolServer } from '../src/protocol/server.ts';
import { removeTempDirs, tempDir } from './helpers/paths.ts';
import { rejection } from './helpers/rejection.ts';

const module = 'test/fixtures/submodules/index.ts';
const texts = (rows: Record<string, unknown>[], col: string) => rows.map((r) => String(r[col])).sort();

afterAll(removeTempDirs);

describe('a module with submodules', () => {
  let db: NodeDatabase;
  beforeAll(async () => {
    db = await openDatabase({ name: 'sub', module });
  });
  afterAll(async () => {
    await db.close();
  });

  it("publishes, and init writes to the submodule's table through ctx.as.lib", async () => {
    expect(await db.sql('SELECT label FROM items')).toEqual([{ label: 'root' }]);
    expect(await db.sql('SELECT value, shape FROM lib.libData')).toEqual([{ value: 'from init', shape: { tag: 'Dot', value: { x: 9, y: -1 } } }]);
  });

  it('keeps a table per namespace: items, lib.items and lib.inner.items are different tables', async () => {
    await db.call('lib.lib_note', { id: 7, note: 'lib note' });
    await db.call('lib.inner.inner_add', { id: 7, tag: 'inner tag' });
    await db.call('lib.use_inner', { id: 8, tag: 'via lib' });
    expect(await db.sql('SELECT * FROM items')).toEqual([{ id: 1, label: 'root' }]);
    expect(await db.sql('SELECT * FROM lib.items')).toEqual([{ id: 7, note: 'lib note' }]);
    expect(texts(await db.sql('SELECT * FROM lib.inner.items'), 'tag')).toEqual(['inner tag', 'via lib']);
  });

  it('calls submodule reducers by their namespaced wire names and source names, and lists them when a name is unknown', async () => {
    await db.call('lib.lib_insert', { value: 'wire' });
    await db.call('lib.libInsert', ['source']);
    expect(texts(await db.sql("SELECT value FROM lib.libData WHERE value = 'wire' OR value = 'source'"), 'value')).toEqual(['source', 'wire']);
    const e = await rejection(db.call('lib_insert', { value: 'x' }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toContain('lib.libInsert');
    expect(e.message).toContain('lib.inner.innerAdd');
  });

  it("runs the parent's reducer and the submodule's writes as one transaction", async () => {
    const before = (await db.sql('SELECT * FROM lib.libData')).length;
    await db.call('use_lib', { value: 'from parent' });
    const e = await rejection(db.call('use_lib_then_fail', { value: 'lost' }));
    expect(e).toBeInstanceOf(SenderError);
    expect(e.message).toBe('refused lost');
    const values = texts(await db.sql('SELECT value FROM lib.libData'), 'value');
    expect(values).toContain('from parent');
    expect(values).not.toContain('lost');
    expect(values.length).toBe(before + 1);
  });

  it("reads the submodule's tables through ctx.db.lib", async () => {
    const n = (await db.sql('SELECT * FROM lib.libData')).length;
    await db.call('count_lib', { id: 2 });
    expect(await db.sql('SELECT label FROM items WHERE id = 2')).toEqual([{ label: `lib has ${n}` }]);
    await db.sql('DELETE FROM items WHERE id = 2');
  });

  it("runs the submodule's procedure directly and through ctx.as.lib", async () => {
    const n = BigInt((await db.sql('SELECT * FROM lib.libData')).length);
    expect(await db.call('lib.lib_count')).toBe(n);
    expect(await db.call('use_lib_count')).toBe(n);
  });

  it('accepts the names SpacetimeDB SQL accepts for a namespaced table: dotted, quoted per part, quoted whole, aliased, in joins', async () => {
    const all = await db.sql('SELECT * FROM lib.libData');
    expect(await db.sql('SELECT * FROM "lib"."libData"')).toEqual(all);
    expect(await db.sql('SELECT * FROM "lib.libData"')).toEqual(all);
    expect(await db.sql('SELECT lib.libData.* FROM lib.libData')).toEqual(all);
    expect(await db.sql("SELECT d.value FROM lib.libData AS d WHERE d.value = 'wire'")).toEqual([{ value: 'wire' }]);
    expect(await db.sql("SELECT lib.libData.id FROM lib.libData WHERE lib.libData.value = 'wire'")).toEqual([{ id: expect.any(BigInt) }]);
    expect(await db.sql('SELECT lib.items.* FROM items JOIN lib.items ON items.id = lib.items.id')).toEqual([]);
    expect(await db.sql('SELECT i.* FROM lib.inner.items AS i JOIN lib.items AS l ON i.id = l.id')).toEqual([{ id: 7, tag: 'inner tag' }]);
    expect(await db.sql('SELECT COUNT(*) AS n FROM lib.lib_tick')).toEqual([{ n: 0n }]);
    const e = await rejection(db.sql('SELECT * FROM lib.nope'));
    expect(e).toBeInstanceOf(SqlError);
    expect(e.message).toContain('lib.libData');
  });

  it('takes DML on namespaced tables', async () => {
    await db.sql("INSERT INTO lib.items (id, note) VALUES (50, 'sql')");
    await db.sql("UPDATE lib.items SET note = 'sql2' WHERE id = 50");
    expect(await db.sql('SELECT note FROM lib.items WHERE id = 50')).toEqual([{ note: 'sql2' }]);
    await db.sql('DELETE FROM lib.items WHERE id = 50');
    expect(await db.sql('SELECT * FROM lib.items WHERE id = 50')).toEqual([]);
  });

  it("serves the submodule's views (rows, a query-builder query, per sender) beside the parent's", async () => {
    const all = texts(await db.sql('SELECT value FROM lib.libData'), 'value');
    expect(texts(await db.sql('SELECT * FROM lib.lib_rows'), 'value')).toEqual(all);
    expect(await db.sql('SELECT * FROM lib.lib_query')).toEqual([]);
    await db.call('lib.lib_insert', { value: 'x' });
    expect(texts(await db.sql('SELECT * FROM lib.lib_query'), 'value')).toEqual(['x']);
    expect(texts(await db.sql('SELECT * FROM lib.lib_mine'), 'value')).toEqual([...all, 'x'].sort());
    const other = 'c2'.padEnd(64, '7');
    expect(await db.sql('SELECT * FROM lib.lib_mine', { sender: other })).toEqual([]);
    expect(await db.sql('SELECT * FROM root_rows')).toEqual([{ id: 1, label: 'root' }]);
  });

  it('names namespaced tables in subscriptions as SpacetimeDB does (lib.libData)', async () => {
    const updates: { table: string; values: string[] }[] = [];
    let initial: Record<string, unknown[]> = {};
    const sub = db.subscribe(["SELECT * FROM lib.libData WHERE value = 'live'", 'SELECT * FROM lib.inner.items'], {
      onApplied: (rows) => (initial = rows),
      onUpdate: (u) => updates.push(...u.map((t) => ({ table: t.table, values: t.inserts.map((r) => String(r.value ?? r.tag)) }))),
    });
    await sub.applied;
    expect(Object.keys(initial).sort()).toEqual(['lib.inner.items', 'lib.libData']);
    await db.call('lib.lib_insert', { value: 'live' });
    await db.call('lib.inner.inner_add', { id: 9, tag: 'live inner' });
    expect(updates).toEqual([
      { table: 'lib.libData', values: ['live'] },
      { table: 'lib.inner.items', values: ['live inner'] },
    ]);
    sub.unsubscribe();
  });

  it("runs a submodule's schedule with the submodule's reducer", async () => {
    await db.call('lib.lib_schedule_tick', { note: 'soon' });
    let rows: Record<string, unknown>[] = [];
    while (!rows.length) {
      await new Promise((r) => setTimeout(r, 10));
      rows = await db.sql("SELECT note FROM lib.items WHERE note = 'tick soon'");
    }
    expect(await db.sql('SELECT * FROM lib.lib_tick')).toEqual([]);
  });

  it("answers the parent's route with the submodule's HTTP handler", async () => {
    const n = (await db.sql('SELECT * FROM lib.libData')).length;
    const res = await db.fetch('/lib-hello');
    expect(await res.text()).toBe(`hello from lib: ${n} rows, GET`);
    expect(await (await db.fetch('/root')).text()).toBe('root');
  });

  it('describes the namespaced tables, reducers, procedures and views', async () => {
    const d = await db.describe();
    expect(d.tables.map((t) => t.name)).toEqual(['items', 'lib.libData', 'lib.items', 'lib.lib_tick', 'lib.inner.items']);
    expect(d.reducers.map((r) => r.name)).toContain('lib.inner.inner_add');
    expect(d.procedures.map((p) => p.name)).toEqual(['use_lib_count', 'lib.lib_count']);
    expect(d.views.map((v) => v.name).sort()).toEqual(['lib.lib_mine', 'lib.lib_query', 'lib.lib_rows', 'root_rows']);
  });
});

describe('submodules across restarts and publishes', () => {
  it('recovers namespaced tables from storage, and migrates them with SpacetimeDB’s rules', async () => {
    const dataDir = tempDir();
    const dir = 'test/fixtures/submodules-migrate';
    const v1 = await openDatabase({ dataDir, name: 'm', module: `${dir}/v1.ts` });
    await v1.call('lib.add_entry', { id: 1, text: 'one' });
    await v1.close();

    const again = await openDatabase({ dataDir, name: 'm' });
    expect(await again.sql('SELECT * FROM lib.entries')).toEqual([{ id: 1, text: 'one' }]);
    await again.close();

    const refused = await rejection(openDatabase({ dataDir, name: 'm', module: `${dir}/v2-refused.ts` }));
    expect(refused).toBeInstanceOf(ModuleError);
    expect(refused.message).toContain('table lib.entries was removed');

    const v2 = await openDatabase({ dataDir, name: 'm', module: `${dir}/v2.ts` });
    expect(v2.published).toBe('updated');
    expect(await v2.sql('SELECT * FROM lib.entries')).toEqual([{ id: 1, text: 'one', stars: 3 }]);
    await v2.call('lib.add_extra', { note: 'new table' });
    expect(await v2.sql('SELECT note FROM lib.extra')).toEqual([{ note: 'new table' }]);
    await v2.close();
  });

  it('refuses a submodule that declares a lifecycle reducer, naming it', async () => {
    const e = await rejection(openDatabase({ name: 'bad', module: 'test/fixtures/submodules-migrate/lifecycle-in-lib.ts' }));
    expect(e).toBeInstanceOf(ModuleError);
    expect(e.message).toContain('submodule lib declares the lifecycle reducer');
  });
});

describe('submodules on the wire', () => {
  it('names the tables lib.libData in subscriptions and transaction updates, and takes calls to lib.lib_insert', async () => {
    const durability = memoryDurability(new MemoryStore());
    const engine = await Engine.open({ name: 'sub-wire', durability, code: (await bundleModule(module)).code, owner: randomIdentity() });
    const server = new ProtocolServer({ engine, keys: durability });
    try {
      const c = await rawConnect(server);
      // The query builder's form: each part quoted.
      c.send({ tag: 'Subscribe', value: { requestId: 1, querySetId: { id: 0 }, queryStrings: ['SELECT * FROM "lib"."libData"', 'SELECT * FROM lib.inner.items'] } });
      const applied = await c.next('SubscribeApplied');
      expect(applied.rows.tables.map((t) => t.table).sort()).toEqual(['lib.inner.items', 'lib.libData']);
      const args = new BinaryWriter(16);
      args.writeString('over the wire');
      c.send({ tag: 'CallReducer', value: { requestId: 2, flags: 0, reducer: 'lib.lib_insert', args: args.getBuffer().slice() } });
      // The caller's own update rides in its ReducerResult.
      const result = await c.next('ReducerResult');
      if (result.result.tag !== 'Ok') throw new Error(`the call failed: ${JSON.stringify(result.result.tag)}`);
      expect(result.result.value.transactionUpdate.querySets.flatMap((q) => q.tables.map((t) => t.tableName))).toEqual(['lib.libData']);
    } finally {
      await server.close();
      await engine.close();
    }
  });
});
