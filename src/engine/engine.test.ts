// The engine's contract with durability: calls resolve only once durable (confirmed writes),
// concurrent calls share log writes (group commit), a failed write rejects that call with a
// StorageError while later calls work and nothing earlier is lost, and recovery = snapshot + log.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Datastore } from '../datastore/datastore.ts';
import { fileDurability } from '../durability/files.ts';
import { memoryDurability, MemoryStore } from '../durability/memory.ts';
import type { Snapshot } from '../durability/durability.ts';
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

describe('engine snapshots under load', () => {
  it('eight callers updating without pause: snapshots are written during the load, one image at a time', async () => {
    const store = new MemoryStore();
    // Each log write takes an event-loop turn and each snapshot several, as a real disk would,
    // so calls queue up behind them and further triggers come while an image is being written.
    const turn = (): Promise<void> => new Promise<void>((r) => setImmediate(r));
    const d = memoryDurability(store, {
      beforeWrite: turn,
      beforeSnapshot: async () => {
        for (let i = 0; i < 20; i++) await turn();
      },
    });
    const e = await Engine.open({ name: 'bank', durability: d, code, owner, snapshotEvery: 4 });
    await e.call('seed', [8]);
    let inFlightMax = 0;
    let writtenDuringLoad = 0;
    const caller = async (from: bigint): Promise<void> => {
      for (let i = 0; i < 150; i++) {
        await e.call('transfer', [from, (from % 8n) + 1n, 1n]);
        inFlightMax = Math.max(inFlightMax, e.snapshotStats.started - e.snapshotStats.written);
      }
      writtenDuringLoad = Math.max(writtenDuringLoad, e.snapshotStats.written);
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => caller(BigInt(i + 1))));
    // Snapshots completed while the callers were running (the first caller to finish saw them)…
    expect(writtenDuringLoad).toBeGreaterThanOrEqual(5);
    // …and a trigger while one was being written never exported a second image.
    expect(inFlightMax).toBeLessThanOrEqual(1);
    // The log was compacted as it went: what is left is less than two triggers' worth.
    expect(store.log.length).toBeLessThan(100);
    await e.close();
    const e2 = await Engine.open({ name: 'bank', durability: memoryDurability(store), owner });
    const total = (await e2.sql('SELECT balance FROM account')).rows.reduce((n, r) => n + (r.balance as bigint), 0n);
    expect(total).toBe(8n * 1000n);
    await e2.close();
  });
});

describe('engine snapshots after a load', () => {
  // The first snapshot's write is held until the test lets it go; the calls made meanwhile are
  // logged after the image it carries.
  const holding = () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let reached!: () => void;
    const held = { armed: false, reached: new Promise<void>((r) => (reached = r)) };
    const store = new MemoryStore();
    const d = memoryDurability(store, {
      beforeSnapshot: () => {
        if (!held.armed) return undefined;
        held.armed = false;
        reached();
        return gate;
      },
    });
    return { store, d, release, held };
  };
  /**
   * Resolves once 150 calls have run while the first snapshot's image is held on its way to
   * storage (after its copy completed: the calls are not in it); they are durable once it is written.
   */
  const load = async (e: Engine, held: { armed: boolean; reached: Promise<void> }): Promise<{ calls: Promise<unknown> }> => {
    await e.call('seed', [8]);
    held.armed = true; // not the image the publish wrote: the first snapshot of the calls
    // The 4th record starts a snapshot; once its copy is complete, its write is held.
    const first = Promise.all(Array.from({ length: 3 }, () => e.call('transfer', [2n, 3n, 1n])));
    await held.reached;
    const calls = Promise.all([first, ...Array.from({ length: 150 }, () => e.call('transfer', [2n, 3n, 1n]))]);
    await e.exclusive(() => undefined); // all of them have run
    expect(e.snapshotStats).toEqual({ started: 1, written: 0 });
    return { calls }; // wrapped: an async function returning the promise itself would wait for it
  };

  it('calls logged while an image was being written get their own snapshot once it is done, with no further call', async () => {
    const { store, d, release, held: h } = holding();
    const e = await Engine.open({ name: 'bank', durability: d, code, owner, snapshotEvery: 4, idleSnapshotMs: 0 }); // the load rules alone
    const { calls } = await load(e, h);
    expect(e.snapshotStats.started).toBe(1); // one image at a time
    release();
    await calls;
    await vi.waitFor(() => expect(e.snapshotStats.written).toBe(2), { timeout: 20_000 });
    expect(store.log).toHaveLength(0);
    await e.close();
  });

  it('closing while an image is being written waits for it, then covers the rest of the log', async () => {
    const { store, d, release, held: h } = holding();
    const e = await Engine.open({ name: 'bank', durability: d, code, owner, snapshotEvery: 4, idleSnapshotMs: 0 }); // the load rules alone
    const { calls } = await load(e, h);
    const closed = e.close();
    release();
    await calls;
    await closed;
    expect(store.log).toHaveLength(0);
    const e2 = await Engine.open({ name: 'bank', durability: memoryDurability(store), owner });
    expect((await e2.sql('SELECT balance FROM account WHERE id = 3')).rows).toEqual([{ balance: 1153n }]);
    await e2.close();
  });
});

describe('engine snapshots when idle', () => {
  it('a log that outweighs a 64th of the image is snapshotted away once no call came for idleSnapshotMs', async () => {
    const store = new MemoryStore();
    const e = await Engine.open({ name: 'bank', durability: memoryDurability(store), code, owner, idleSnapshotMs: 20 });
    await e.call('seed', [3000]); // one record of about 100 KiB: under the 1 MiB the load rule needs
    expect(e.snapshotStats.started).toBe(0);
    expect(store.log).toHaveLength(1);
    await vi.waitFor(() => expect(e.snapshotStats.written).toBe(1), { timeout: 20_000 });
    expect(store.log).toHaveLength(0);
    await e.close();
    const e2 = await Engine.open({ name: 'bank', durability: memoryDurability(store), owner });
    expect((await e2.sql('SELECT COUNT(*) AS n FROM account')).rows).toEqual([{ n: 3000n }]);
    await e2.close();
  });
});

describe('engine: damaged non-essential files', () => {
  const damage = async (path: string): Promise<void> => {
    const bytes = new Uint8Array(await readFile(path));
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(path, bytes);
  };
  const open = (dir: string): Promise<Engine> => Engine.open({ name: 'bank', durability: fileDurability(dir, { fsync: false }), owner });

  it('a damaged module log or call-id ledger opens with the data and a warning; the database description is rebuilt from the snapshot', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lightcone-engine-'));
    try {
      const e = await Engine.open({ name: 'bank', durability: fileDurability(dir, { fsync: false }), code, owner, snapshotEvery: 3 });
      await e.call('seed', [2]);
      for (let i = 0; i < 5; i++) await e.call('transfer', [1n, 2n, 1n], { callId: `t${i}` });
      const identity = e.identity.toHexString();
      await e.close();
      // A ledger file as builds before this one wrote it, then damaged.
      await writeFile(join(dir, 'meta', 'calls.meta'), await readFile(join(dir, 'meta', 'logs.meta')));
      for (const name of ['logs.meta', 'calls.meta', 'database.meta']) await damage(join(dir, 'meta', name));

      const e2 = await open(dir);
      expect(e2.identity.toHexString()).toBe(identity);
      const rows = (await e2.sql('SELECT id, balance FROM account')).rows;
      expect(rows).toEqual([
        { id: 1n, balance: 995n },
        { id: 2n, balance: 1005n },
      ]);
      const warnings = e2
        .logs()
        .filter((l) => l.level === 'warn')
        .map((l) => l.message);
      expect(warnings.some((m) => m.includes('module log was damaged'))).toBe(true);
      expect(warnings.some((m) => m.includes('database description file was damaged'))).toBe(true);
      // The call ids travel in the snapshot image: a retry of a committed call is still not run again.
      await e2.call('transfer', [1n, 2n, 1n], { callId: 't4' });
      expect((await e2.sql('SELECT balance FROM account WHERE id = 1')).rows).toEqual([{ balance: 995n }]);
      await e2.close();
      // The rebuilt description is written back: the next open has nothing to warn about.
      const e3 = await open(dir);
      expect(e3.logs().filter((l) => l.message.includes('database description file was damaged'))).toHaveLength(1);
      await e3.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('engine snapshots under calls', () => {
  it('a snapshot copied while calls commit is the database exactly at its lsn, and holds the calls made during the copy', async () => {
    const store = new MemoryStore();
    const written: Snapshot[] = [];
    const d = memoryDurability(store, { beforeSnapshot: (s) => void written.push(s) });
    const e = await Engine.open({ name: 'bank', durability: d, code, owner, snapshotEvery: 2, idleSnapshotMs: 0 });
    const accounts = 100_000; // several MB: the copy takes several steps, with calls between them
    await e.call('seed', [accounts]); // lsn 1
    written.length = 0; // the creation's image
    let x = 7;
    const pick = (): number => (x = (x * 48271) % 2147483647) % accounts;
    let during = 0;
    // lsn 2 starts a snapshot; transfers all over the table go on until it is written.
    for (let i = 0; written.length === 0 && i < 20_000; i++) {
      const from = pick();
      await e.call('transfer', [BigInt(from + 1), BigInt(((from + 1 + (pick() % (accounts - 1))) % accounts) + 1), 1n]);
      if (e.snapshotStats.started > e.snapshotStats.written) during++;
    }
    expect(written.length).toBeGreaterThan(0);
    const snapshot = written[0]!;
    expect(during).toBeGreaterThan(1);
    expect(snapshot.lsn).toBeGreaterThan(2n); // not the state when the copy began
    await e.close();
    // The image alone (no log) is the state after exactly `lsn` records: seed, then lsn - 1 transfers.
    const alone = new MemoryStore();
    alone.snapshot = snapshot;
    for (const [k, v] of store.meta) alone.meta.set(k, v);
    const e2 = await Engine.open({ name: 'bank', durability: memoryDurability(alone), owner });
    expect((await e2.sql('SELECT COUNT(*) AS n FROM audit')).rows).toEqual([{ n: snapshot.lsn - 1n }]);
    const balances = (await e2.sql('SELECT balance FROM account')).rows.map((r) => r.balance as bigint);
    expect(balances).toHaveLength(accounts);
    expect(balances.reduce((a, b) => a + b, 0n)).toBe(BigInt(accounts) * 1000n);
    await e2.close();
  });
});

describe('engine snapshots: starting and counting', () => {
  it('a copy that cannot start is a warning, never the failure of the call that made the snapshot due, and is retried after as much log again', async () => {
    const store = new MemoryStore();
    const d = memoryDurability(store);
    const e = await Engine.open({ name: 'bank', durability: d, code, owner, snapshotEvery: 2, idleSnapshotMs: 0 });
    const created = store.snapshot; // the creation's image, at lsn 0
    const storedBefore = d.stats().snapshots;
    // No memory for the copy's buffer, as WebAssembly reports it.
    const copy = vi.spyOn(Datastore.prototype, 'copy').mockImplementation(() => {
      throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
    });
    try {
      await e.call('open_account', [1n, 'alice', 10n]);
      expect(copy).not.toHaveBeenCalled();
      await e.call('open_account', [2n, 'bob', 20n]); // the 2nd record makes a snapshot due: its copy throws
      expect(copy).toHaveBeenCalledTimes(1);
      const warnings = e.logs().filter((l) => l.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toContain('snapshot');
      expect(warnings[0]!.message).toContain('Maximum memory size exceeded');
      // Nothing was written: the creation's image is still the snapshot, the log holds both calls.
      expect(e.snapshotStats).toEqual({ started: 0, written: 0 });
      expect(d.stats().snapshots).toBe(storedBefore);
      expect(store.snapshot).toBe(created);
      expect(store.log.map((r) => r.lsn)).toEqual([1n, 2n]);
      // Not tried again at the next commit or query (each try asks for an image-sized buffer)...
      await e.call('open_account', [3n, 'carol', 30n]);
      await e.sql('SELECT id FROM account');
      expect(copy).toHaveBeenCalledTimes(1);
      // ...but once as much log has grown again.
      await e.call('open_account', [4n, 'dave', 40n]);
      expect(copy).toHaveBeenCalledTimes(2);
      expect(e.logs().filter((l) => l.level === 'warn')).toHaveLength(2);
    } finally {
      copy.mockRestore();
    }
    // With memory again, the next snapshot due starts and is written.
    await e.call('open_account', [5n, 'erin', 50n]);
    expect(e.snapshotStats.started).toBe(0);
    await e.call('open_account', [6n, 'frank', 60n]);
    expect(e.snapshotStats.started).toBe(1);
    expect((await e.sql('SELECT id FROM account')).rows.map((r) => r.id)).toEqual([1n, 2n, 3n, 4n, 5n, 6n]);
    await e.close(); // waits for the snapshot in flight
    expect(e.snapshotStats).toEqual({ started: 1, written: 1 });
    expect(store.snapshot?.lsn).toBe(6n);
    expect(store.log).toEqual([]);
    const e2 = await Engine.open({ name: 'bank', durability: memoryDurability(store), owner });
    expect((await e2.sql('SELECT id, balance FROM account')).rows).toEqual([
      { id: 1n, balance: 10n },
      { id: 2n, balance: 20n },
      { id: 3n, balance: 30n },
      { id: 4n, balance: 40n },
      { id: 5n, balance: 50n },
      { id: 6n, balance: 60n },
    ]);
    expect(e2.logs().some((l) => l.level === 'warn' && l.message.includes('Maximum memory size exceeded'))).toBe(true);
    await e2.close();
  });

  it('the snapshot policy counts from where a copy completed: calls committed during the copy make no other snapshot due', async () => {
    const store = new MemoryStore();
    const written: bigint[] = [];
    const d = memoryDurability(store, { beforeSnapshot: (s) => void written.push(s.lsn) });
    const every = 4;
    const e = await Engine.open({ name: 'bank', durability: d, code, owner, snapshotEvery: every, idleSnapshotMs: 0 }); // the load rule alone
    written.length = 0; // the creation's image
    // For each commit: whether a snapshot had started and was not written yet.
    const during: boolean[] = [];
    e.onCommit(() => during.push(e.snapshotStats.started > e.snapshotStats.written));
    // Issued together, the calls are all queued before the copy's first step (a step waits its
    // turn in the call queue): the 4th record starts a snapshot, the 8 after it commit while its
    // copy is in progress, and the copy completes after them.
    await Promise.all(Array.from({ length: 3 * every }, (_, i) => e.call('open_account', [BigInt(i + 1), `o${i}`, 1n])));
    expect(during).toEqual([...Array<boolean>(every).fill(false), ...Array<boolean>(2 * every).fill(true)]);
    await vi.waitFor(() => expect(e.snapshotStats.written).toBeGreaterThanOrEqual(1), { timeout: 20_000 });
    await e.exclusive(() => undefined); // a snapshot the written one found due would have started by now
    // One snapshot, holding every call (lsn 12): the 8 records logged during its copy are in it,
    // so they make no second snapshot due (counted from the copy's start, they would: 8 >= 4).
    expect(e.snapshotStats).toEqual({ started: 1, written: 1 });
    expect(written).toEqual([12n]);
    expect(store.log).toEqual([]);
    // The count restarted at the completion: 3 more records make no snapshot due, the 4th does.
    for (let i = 0; i < every - 1; i++) await e.call('open_account', [BigInt(100 + i), 'later', 1n]);
    expect(e.snapshotStats.started).toBe(1);
    await e.call('open_account', [200n, 'later', 1n]);
    expect(e.snapshotStats.started).toBe(2);
    await e.close();
    expect(e.snapshotStats).toEqual({ started: 2, written: 2 });
    expect(written).toEqual([12n, 16n]);
    expect(store.log).toEqual([]);
    const e2 = await Engine.open({ name: 'bank', durability: memoryDurability(store), owner });
    expect((await e2.sql('SELECT COUNT(*) AS n FROM account')).rows).toEqual([{ n: 16n }]);
    await e2.close();
  });
});
