// The engine's contract with durability: calls resolve only once durable (confirmed writes),
// concurrent calls share log writes (group commit), a failed write rejects that call with a
// StorageError while later calls work and nothing earlier is lost, and recovery = snapshot + log.
import { describe, expect, it } from 'vitest';
import { memoryDurability, MemoryStore } from '../durability/memory.ts';
import { StorageError } from '../errors.ts';
import { bundleModule } from '../host/bundle.ts';
import { Engine, randomIdentity } from './engine.ts';
import { decodeDelta } from './delta-codec.ts';

const code = (await bundleModule('examples/bank')).code;
const owner = randomIdentity();

describe('engine durability', () => {
  it('a call resolves only after its transaction is durable', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let gated = false;
    const d = memoryDurability(new MemoryStore(), { beforeWrite: () => (gated ? gate : undefined) });
    const e = await Engine.open({ name: 'bank', durability: d, code, owner });
    gated = true;
    let done = false;
    const p = e.call('open_account', [1n, 'alice', 10n]).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    // The committed row is already visible to the next transaction (SQL reads in-memory state).
    release();
    await p;
    expect(done).toBe(true);
    await e.close();
  });

  it('concurrent calls share storage writes (group commit)', async () => {
    const d = memoryDurability(new MemoryStore(), { beforeWrite: () => new Promise((r) => setTimeout(r, 2)) });
    const e = await Engine.open({ name: 'bank', durability: d, code, owner });
    const before = d.stats();
    await Promise.all(Array.from({ length: 64 }, (_, i) => e.call('open_account', [BigInt(i + 1), `o${i}`, 1n])));
    const after = d.stats();
    expect(after.records - before.records).toBe(64);
    expect(after.writes - before.writes).toBeLessThan(16);
    await e.close();
  });

  it('a failed write rejects that call with StorageError; the engine then refuses work until reopened, and nothing durable is lost', async () => {
    const store = new MemoryStore();
    let fail = false;
    const d = memoryDurability(store, {
      beforeWrite: () => {
        if (fail) throw new StorageError('WRITE_FAILED', 'injected: disk unavailable');
      },
    });
    const e = await Engine.open({ name: 'bank', durability: d, code, owner, snapshotEvery: 1 });
    await e.call('open_account', [1n, 'alice', 10n]);
    fail = true;
    await expect(e.call('open_account', [2n, 'bob', 5n])).rejects.toBeInstanceOf(StorageError);
    fail = false;
    // Memory holds bob's account but the disk does not: no call, read or snapshot may build on it.
    await expect(e.call('open_account', [3n, 'carol', 7n])).rejects.toMatchObject({ code: 'NOT_DURABLE' });
    await expect(e.sql('SELECT id FROM account')).rejects.toMatchObject({ code: 'NOT_DURABLE' });
    await e.close();
    const e2 = await Engine.open({ name: 'bank', durability: memoryDurability(store), owner });
    expect((await e2.sql('SELECT id FROM account')).rows.map((r) => r.id)).toEqual([1n]);
    await e2.call('open_account', [3n, 'carol', 7n]);
    expect((await e2.sql('SELECT id FROM account')).rows.map((r) => r.id)).toEqual([1n, 3n]);
    await e2.close();
  });

  it('recovers from snapshot + log and keeps sequences and logs', async () => {
    const store = new MemoryStore();
    const e = await Engine.open({ name: 'bank', durability: memoryDurability(store), code, owner, snapshotEvery: 5 });
    await e.call('seed', [3]);
    for (let i = 0; i < 12; i++) await e.call('transfer', [1n, 2n, 1n]);
    await e.close();
    const d2 = memoryDurability(store);
    const e2 = await Engine.open({ name: 'bank', durability: d2, owner });
    const acc = (await e2.sql('SELECT id, balance FROM account WHERE id <= 2')).rows;
    expect(acc).toEqual([
      { id: 1n, balance: 988n },
      { id: 2n, balance: 1012n },
    ]);
    // audit ids continue after recovery instead of restarting at 1
    await e2.call('transfer', [1n, 2n, 1n]);
    const ids = (await e2.sql('SELECT id FROM audit')).rows.map((r) => r.id as bigint);
    expect(new Set(ids).size).toBe(13);
    expect(e2.logs().length).toBeGreaterThan(0);
    await e2.close();
  });

  it('each commit-log record is the delta of one transaction', async () => {
    const store = new MemoryStore();
    const d = memoryDurability(store);
    const e = await Engine.open({ name: 'bank', durability: d, code, owner, snapshotEvery: 1_000_000 });
    await e.call('open_account', [1n, 'a', 5n]);
    await e.call('open_account', [2n, 'b', 5n]);
    await e.call('transfer', [1n, 2n, 3n]);
    await e.close();
    const rec = await memoryDurability(store).open();
    const last = decodeDelta(rec.records.at(-1)!.payload);
    expect(last.info.reducer).toBe('transfer');
    const account = last.delta.tables.find((t) => t.table === 'account')!;
    expect(account.inserts).toHaveLength(2);
    expect(account.deletes).toHaveLength(2);
  });
});
