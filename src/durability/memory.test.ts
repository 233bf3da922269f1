// The durability contract against the memory backend, plus what only the memory backend can show
// cheaply: a write held in flight collects the appends made meanwhile into the next write.

import { describe, expect, it } from 'vitest';
import { bytes, durabilityContract, expectSnapshotUnderLoad, failOnce, text } from './contract.ts';
import type { LogRecord } from './durability.ts';
import { MemoryStore, memoryDurability } from './memory.ts';

durabilityContract('memory', { exclusive: true, failureCode: 'WRITE_FAILED' }, () => {
  const store = new MemoryStore();
  const failure = failOnce(() => new Error('simulated write failure'));
  return { instance: () => memoryDurability(store, { beforeWrite: failure.hook }), failNextWrite: failure.arm };
});

describe('memory durability', () => {
  it('a snapshot completes under sustained appends when each write takes a few event-loop turns', async () => {
    const store = new MemoryStore();
    // Each write takes three event-loop turns, so staggered callers append while it is in flight.
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    const d = memoryDurability(store, {
      beforeWrite: async () => {
        await turn();
        await turn();
        await turn();
      },
    });
    await d.open();
    await expectSnapshotUnderLoad(d);
    const lsn = store.snapshot!.lsn;
    expect(store.log[0]!.lsn).toBe(lsn + 1n);
    await d.close();
  });

  it('runs the Durability TSDoc example', async () => {
    const d = memoryDurability();
    const { snapshot, records } = await d.open();
    expect([snapshot, records]).toEqual([undefined, []]);
    const { lsn, durable } = d.append(new TextEncoder().encode('tx 1'));
    await durable;
    expect(lsn).toBe(1n);
    await d.writeSnapshot({ lsn, image: new Uint8Array([42]) });
    await d.close();
  });

  it('runs the MemoryStore TSDoc example', async () => {
    const store = new MemoryStore();
    const a = memoryDurability(store);
    await a.open();
    await a.append(new Uint8Array([1])).durable;
    await a.close();
    const { records } = await memoryDurability(store).open();
    expect(records[0]!.lsn).toBe(1n);
  });

  it('appends made while a write is in flight go out together in the next write', async () => {
    let release: () => void = () => {};
    const writes: LogRecord[][] = [];
    let hold = true;
    const d = memoryDurability(new MemoryStore(), {
      beforeWrite: async (records) => {
        writes.push([...records]);
        if (hold) {
          hold = false;
          await new Promise<void>((res) => (release = res));
        }
      },
    });
    await d.open();
    const first = d.append(bytes('first')).durable;
    await new Promise((res) => setTimeout(res, 0)); // the first write is now in flight
    const later: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      later.push(d.append(bytes(`later${i}`)).durable);
      await new Promise((res) => setTimeout(res, 0)); // separate ticks
    }
    release();
    await Promise.all([first, ...later]);
    expect(writes.map((w) => w.map((r) => text(r.payload)))).toEqual([['first'], ['later0', 'later1', 'later2', 'later3', 'later4']]);
    expect(d.stats()).toEqual({ writes: 2, records: 6, snapshots: 0, snapshotBytes: 0 });
  });

  it('a failure rejects the appends queued behind the failed write too, and their lsns are reused', async () => {
    let release: () => void = () => {};
    let fail = true;
    const store = new MemoryStore();
    const d = memoryDurability(store, {
      beforeWrite: async () => {
        if (!fail) return;
        fail = false;
        await new Promise<void>((res) => (release = res));
        throw new Error('disk on fire');
      },
    });
    await d.open();
    const a = d.append(bytes('a'));
    await new Promise((res) => setTimeout(res, 0));
    const b = d.append(bytes('b')); // queued behind the failing write
    expect(b.lsn).toBe(2n);
    release();
    await expect(a.durable).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    await expect(b.durable).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    const c = d.append(bytes('c'));
    expect(c.lsn).toBe(1n);
    await c.durable;
    expect(store.log.map((r) => [r.lsn, text(r.payload)])).toEqual([[1n, 'c']]);
  });

  it('a snapshot drops the records it covers from the store', async () => {
    const store = new MemoryStore();
    const d = memoryDurability(store);
    await d.open();
    for (let i = 1; i <= 4; i++) await d.append(bytes(`m${i}`)).durable;
    await d.writeSnapshot({ lsn: 2n, image: bytes('@2') });
    expect(store.log.map((r) => r.lsn)).toEqual([3n, 4n]);
    expect(store.snapshot?.lsn).toBe(2n);
  });

  it('stores copies: mutating a payload or a meta value afterwards changes nothing stored', async () => {
    const store = new MemoryStore();
    const d = memoryDurability(store);
    await d.open();
    const payload = bytes('abc');
    await d.append(payload).durable;
    payload[0] = 0;
    const meta = bytes('meta');
    await d.putMeta('k', meta);
    meta[0] = 0;
    await d.close();
    const d2 = memoryDurability(store);
    const { records } = await d2.open();
    expect(text(records[0]!.payload)).toBe('abc');
    expect(text((await d2.getMeta('k'))!)).toBe('meta');
  });
});
