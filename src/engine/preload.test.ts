// A cold start that brings its module evaluates it while storage is read (the thread would
// otherwise wait) and attaches it to the recovered datastore when it is the stored module; a
// different module is dropped and published over the database as before. Logs the module writes
// while loading reach the database's log once.
import { describe, expect, it } from 'vitest';
import { openDatastore } from '../datastore/datastore.ts';
import type { Durability, OpenOptions } from '../durability/durability.ts';
import { memoryDurability, MemoryStore } from '../durability/memory.ts';
import { bundleModule } from '../host/bundle.ts';
import { Host } from '../host/host.ts';
import { Engine, randomIdentity } from './engine.ts';

const bank = (await bundleModule('examples/bank')).code;
const owner = randomIdentity();
const counter = globalThis as { __preloadTestEvals?: number };

/** The bank module, counting its evaluations and logging `tag` as it loads. */
function counted(tag: string): string {
  return `${bank}\n;globalThis.__preloadTestEvals = (globalThis.__preloadTestEvals ?? 0) + 1; __lightcone.console.log(${JSON.stringify(tag)});\n`;
}

/** `inner`, whose open calls `whileReading` before its recovery resolves, noting the evaluations then. */
function readingStorage(inner: Durability, seen: { evalsWhileReading?: number }): Durability {
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'open') {
        return async (opts?: OpenOptions) => {
          const opening = target.open(opts);
          opts?.whileReading?.();
          seen.evalsWhileReading = counter.__preloadTestEvals ?? 0;
          return opening;
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('module preloaded during a cold start', () => {
  it('the stored module, brought along, is evaluated while storage is read and not again', async () => {
    const store = new MemoryStore();
    const v1 = counted('loaded v1');
    const first = await Engine.open({ name: 'bank', durability: memoryDurability(store), code: v1, owner });
    await first.call('open_account', [1n, 'alice', 10n]);
    await first.close();

    counter.__preloadTestEvals = 0;
    const seen: { evalsWhileReading?: number } = {};
    const e = await Engine.open({ name: 'bank', durability: readingStorage(memoryDurability(store), seen), code: v1, owner });
    expect(seen.evalsWhileReading).toBe(1);
    expect(counter.__preloadTestEvals).toBe(1);
    expect(e.publishResult).not.toBe('updated');
    const rows = await e.sql('SELECT * FROM account');
    expect(rows.rows.length).toBe(1);
    await e.call('open_account', [2n, 'bob', 5n]);
    expect((await e.sql('SELECT * FROM account')).rows.length).toBe(2);
    // Its load-time log reached the database's log once for this open (and once for the first).
    expect(e.logs().filter((l) => l.message === 'loaded v1').length).toBe(2);
    await e.close();
  });

  it('a different module is dropped after the read and published over the data as before', async () => {
    const store = new MemoryStore();
    const first = await Engine.open({ name: 'bank', durability: memoryDurability(store), code: counted('loaded v1'), owner });
    await first.call('open_account', [1n, 'alice', 10n]);
    await first.close();

    const v2 = counted('loaded v2');
    const e = await Engine.open({ name: 'bank', durability: readingStorage(memoryDurability(store), {}), code: v2, owner });
    expect(e.publishResult).toBe('updated');
    expect((await e.sql('SELECT * FROM account')).rows.length).toBe(1);
    await e.close();
    // The next open runs v2, the module now stored.
    counter.__preloadTestEvals = 0;
    const again = await Engine.open({ name: 'bank', durability: readingStorage(memoryDurability(store), {}), code: v2, owner });
    expect(counter.__preloadTestEvals).toBe(1);
    expect(again.publishResult).not.toBe('updated');
    await again.close();
  });

  it('a module that fails to load is met where it is published, and the stored data opens untouched', async () => {
    const store = new MemoryStore();
    const first = await Engine.open({ name: 'bank', durability: memoryDurability(store), code: bank, owner });
    await first.call('open_account', [1n, 'alice', 10n]);
    await first.close();
    const broken = `${bank}\n;throw new Error('boom at load');\n`;
    await expect(Engine.open({ name: 'bank', durability: readingStorage(memoryDurability(store), {}), code: broken, owner })).rejects.toThrow(/boom at load/);
    const e = await Engine.open({ name: 'bank', durability: memoryDurability(store), owner });
    expect((await e.sql('SELECT * FROM account')).rows.length).toBe(1);
    await e.close();
  });
});

describe('a host loaded before its datastore', () => {
  it('has its schema and reducers at once, its tables once attached, and attaches once', async () => {
    const logs: string[] = [];
    const host = new Host({ code: counted('loaded'), log: (e) => logs.push(e.message) });
    expect(host.reducer('open_account')).toBeDefined();
    expect(logs).toEqual(['loaded']);
    expect(() => host.datastore).toThrow(/not attached/);
    const ds = await openDatastore();
    host.attach(ds, 7n);
    expect(host.datastore).toBe(ds);
    expect(host.databaseIdentity).toBe(7n);
    expect(ds.tableByName('account')).toBeDefined();
    expect(() => host.attach(ds, 7n)).toThrow(/attached to a datastore already/);
    ds.close();
  });
});
