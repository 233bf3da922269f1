// Confirmed reads (SpacetimeDB 2.x's default): a subscriber sees a transaction, and its initial
// rows, only once they are durable, in commit order even if durability resolved out of order; a
// subscriber that opts out sees it at commit. A failed write ends confirmed subscribers only.
import { afterEach, describe, expect, it } from 'vitest';
import type { Durability } from '../durability/durability.ts';
import { memoryDurability, MemoryStore } from '../durability/memory.ts';
import { Engine, randomIdentity } from '../engine/engine.ts';
import { StorageError } from '../errors.ts';
import { bundleModule } from '../host/bundle.ts';
import { Mirror, msg } from './fixtures/helpers.ts';
import { SubscriptionManager } from './manager.ts';

const code = (await bundleModule('src/subscriptions/fixtures/live.ts')).code;
const owner = randomIdentity();
const tick = (ms = 15) => new Promise((r) => setTimeout(r, ms));

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) await o.close();
});

/** A database whose log writes wait while `gate.closed`, until `gate.open()`. */
async function gated(durability?: (store: MemoryStore, beforeWrite: () => Promise<void> | undefined) => Durability) {
  let release: () => void = () => {};
  let wait: Promise<void> | undefined;
  const gate = {
    close() {
      wait = new Promise<void>((r) => (release = r));
    },
    open() {
      wait = undefined;
      release();
    },
  };
  const beforeWrite = () => wait;
  const store = new MemoryStore();
  const d = durability ? durability(store, beforeWrite) : memoryDurability(store, { beforeWrite });
  const engine = await Engine.open({ name: 'live', durability: d, code, owner });
  const live = new SubscriptionManager(engine);
  const sub = (confirmedReads: boolean) => {
    const m = new Mirror();
    return Object.assign(m, { handle: live.subscribe(['SELECT * FROM message'], m.callbacks, { sender: owner.__identity__, confirmedReads }) });
  };
  const h = {
    engine,
    live,
    gate,
    sub,
    close: async () => {
      gate.open();
      await engine.close();
      await live.close();
    },
  };
  opened.push(h);
  return h;
}

const inserted = (m: Mirror) => m.updates.map((u) => u.flatMap((t) => t.inserts.map((r) => r.id)));

describe('confirmed reads', () => {
  it('deliver a transaction only once durable; opting out delivers at commit', async () => {
    const h = await gated();
    const confirmed = h.sub(true);
    const immediate = h.sub(false);
    await Promise.all([confirmed.handle.applied, immediate.handle.applied]);
    h.gate.close();
    const call = h.engine.call('apply', [[msg(1, 1)]]);
    await tick();
    expect(inserted(immediate)).toEqual([[1n]]);
    expect(confirmed.updates).toHaveLength(0);
    h.gate.open();
    await call;
    await h.live.settled();
    expect(inserted(confirmed)).toEqual([[1n]]);
  });

  it('deliver the initial rows once the transactions in the snapshot are durable', async () => {
    const h = await gated();
    h.gate.close();
    const call = h.engine.call('apply', [[msg(1, 1)]]);
    const confirmed = h.sub(true);
    const immediate = h.sub(false);
    await immediate.handle.applied;
    expect(immediate.keys()).toHaveLength(1);
    await tick();
    expect(confirmed.initial).toBeUndefined();
    h.gate.open();
    await Promise.all([call, confirmed.handle.applied]);
    expect(confirmed.keys()).toEqual(immediate.keys());
  });

  it('keep commit order when durability resolves out of order', async () => {
    // Wrap the log so that each append's `durable` is held, then released newest first.
    const held: (() => void)[] = [];
    const h = await gated((store) => {
      const d = memoryDurability(store);
      return new Proxy(d, {
        get(target, prop) {
          if (prop !== 'append') {
            const v = Reflect.get(target, prop, target) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          }
          return (payload: Uint8Array) => {
            const rec = target.append(payload);
            const durable = new Promise<void>((resolve, reject) => held.push(() => void rec.durable.then(resolve, reject)));
            return { ...rec, durable };
          };
        },
      });
    });
    const confirmed = h.sub(true);
    await confirmed.handle.applied;
    const calls = [1, 2, 3].map((i) => h.engine.call('apply', [[msg(i, 1)]]));
    await h.engine.exclusive(() => {});
    expect(held).toHaveLength(3);
    for (const release of [...held].reverse()) {
      release();
      await tick(5);
      if (release !== held[0]) expect(confirmed.updates).toHaveLength(0);
    }
    await Promise.all(calls);
    await h.live.settled();
    expect(inserted(confirmed)).toEqual([[1n], [2n], [3n]]);
  });

  it('unsubscribing before a committed transaction is durable means it is never delivered', async () => {
    const h = await gated();
    const confirmed = h.sub(true);
    await confirmed.handle.applied;
    h.gate.close();
    const call = h.engine.call('apply', [[msg(1, 1)]]);
    await h.engine.exclusive(() => {}); // committed and evaluated, waiting for durability
    confirmed.handle.unsubscribe();
    h.gate.open();
    await call;
    await h.live.settled();
    expect(confirmed.updates).toHaveLength(0);
  });

  it('a failed write ends confirmed subscribers with the StorageError; unconfirmed ones saw it', async () => {
    let fail = false;
    const h = await gated((store) =>
      memoryDurability(store, {
        beforeWrite: () => {
          if (fail) throw new StorageError('WRITE_FAILED', 'injected: disk unavailable');
        },
      }),
    );
    const confirmed = h.sub(true);
    const immediate = h.sub(false);
    await Promise.all([confirmed.handle.applied, immediate.handle.applied]);
    fail = true;
    await expect(h.engine.call('apply', [[msg(1, 1)]])).rejects.toBeInstanceOf(StorageError);
    fail = false;
    // The engine now refuses work until reopened (memory is ahead of disk).
    await expect(h.engine.call('apply', [[msg(2, 1)]])).rejects.toMatchObject({ code: 'NOT_DURABLE' });
    await h.live.settled();
    expect(confirmed.errors.map((e) => e.name)).toEqual(['StorageError']);
    expect(confirmed.handle.active).toBe(false);
    expect(confirmed.updates).toHaveLength(0);
    // A subscriber that opted out of confirmed reads saw the transaction that was then lost.
    expect(inserted(immediate)).toEqual([[1n]]);
  });
});
