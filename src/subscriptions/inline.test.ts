// Inline delivery (what the wire protocol builds on): a subscriber created with `inline` receives
// a commit's update synchronously inside the commit, so a commit listener registered after the
// manager sees it already delivered; its initial rows and an unsubscribed set's deletes arrive
// inside the engine turn that made them, and an `onApplied` that unsubscribes at once works.
import { describe, expect, it } from 'vitest';
import { memoryDurability } from '../durability/memory.ts';
import { Engine, randomIdentity } from '../engine/engine.ts';
import { bundleModule } from '../host/bundle.ts';
import { SubscriptionManager } from './manager.ts';
import type { InitialRows, TableUpdate } from './types.ts';

const code = (await bundleModule('test/fixtures/tiny.ts')).code;
const owner = randomIdentity();

async function open(): Promise<{ engine: Engine; live: SubscriptionManager }> {
  const engine = await Engine.open({ name: 'inline', durability: memoryDurability(), code, owner });
  return { engine, live: new SubscriptionManager(engine) };
}

describe('inline delivery', () => {
  it('delivers a commit’s update inside the commit, before later commit listeners run', async () => {
    const { engine, live } = await open();
    const updates: TableUpdate[][] = [];
    const client = live.connect({ sender: owner.__identity__, inline: true, onUpdate: (u) => updates.push(u) });
    await client.subscribe(['SELECT * FROM person']).applied;
    const seenByListener: number[] = [];
    engine.onCommit(() => seenByListener.push(updates.length));
    await engine.call('add', { name: 'ada', age: 36 });
    expect(seenByListener).toEqual([1]);
    expect(updates[0]![0]!.inserts.map((r) => r.name)).toEqual(['ada']);
    client.close();
    await live.close();
    await engine.close();
  });

  it('delivers initial rows inside the subscribe’s turn, and an onApplied that unsubscribes at once removes the set', async () => {
    const { engine, live } = await open();
    await engine.call('add', { name: 'ada', age: 36 });
    const applied: InitialRows[] = [];
    const updates: TableUpdate[][] = [];
    const client = live.connect({ sender: owner.__identity__, inline: true, onUpdate: (u) => updates.push(u) });
    const set = client.subscribe(['SELECT * FROM person'], {
      onApplied: (rows) => {
        applied.push(rows);
        set.unsubscribe();
      },
    });
    let appliedInTurn = -1;
    // Queued right behind the subscribe: nothing else runs between the two turns.
    await engine.exclusive(() => {
      appliedInTurn = applied.length;
    });
    expect(appliedInTurn).toBe(1);
    await engine.exclusive(() => {}); // the unsubscribe's turn ran before this one
    expect(updates.map((u) => u.map((t) => [t.table, t.deletes.length]))).toEqual([[['person', 1]]]);
    expect(live.stats().plans).toBe(0);
    await engine.call('add', { name: 'bob', age: 1 });
    expect(updates).toHaveLength(1);
    client.close();
    await live.close();
    await engine.close();
  });
});
