// A commit's TransactionUpdate is encoded once for connections that receive the same rows, and
// never shared with one whose rows differ, even when the first row is the same object.
import { afterEach, describe, expect, it } from 'vitest';
import type { TransactionUpdate } from './client-api.js';
import { BinaryWriter } from './client-api.js';
import { openHarness, type Harness } from './fixtures/harness.ts';
import { rawConnect, type RawClient } from './fixtures/raw-client.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function args(write: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter(64);
  write(w);
  return w.getBuffer().slice();
}

/** Inserts and deletes per table of a TransactionUpdate, as row counts. */
function counts(u: TransactionUpdate): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const set of u.querySets) {
    for (const t of set.tables) {
      for (const r of t.rows) {
        if (r.tag !== 'PersistentTable') continue;
        const n = (l: typeof r.value.inserts) => (l.sizeHint.tag === 'RowOffsets' ? l.sizeHint.value.length : 0);
        out[t.tableName] = [n(r.value.inserts), n(r.value.deletes)];
      }
    }
  }
  return out;
}

describe('TransactionUpdates shared between connections', () => {
  it('identical subscriptions get the same bytes; a subscription seeing only part of the change gets its own', async () => {
    h = await openHarness();
    const caller = await rawConnect(h.server);
    caller.send({ tag: 'CallReducer', value: { requestId: 1, flags: 0, reducer: 'send', args: args((w) => (w.writeU32(1), w.writeString('hello'))) } });
    await caller.next('ReducerResult');
    const subscribe = async (query: string): Promise<RawClient> => {
      const c = await rawConnect(h!.server);
      c.send({ tag: 'Subscribe', value: { requestId: 1, querySetId: { id: 3 }, queryStrings: [query] } });
      await c.next('SubscribeApplied');
      return c;
    };
    const all = await subscribe('SELECT * FROM message');
    const same = await subscribe('SELECT * FROM message');
    const room2 = await subscribe('SELECT * FROM message WHERE roomId = 2');
    const frames = [all, same, room2].map((c) => c.frames.length);
    // Message 1 moves to room 2: `all` sees its old row deleted and the new one inserted; `room2` only the insert.
    caller.send({ tag: 'CallReducer', value: { requestId: 2, flags: 0, reducer: 'move', args: args((w) => (w.writeU64(1n), w.writeU32(2))) } });
    const [a, s, r] = await Promise.all([all, same, room2].map((c) => c.next('TransactionUpdate')));
    expect(counts(a!)).toEqual({ message: [1, 1] });
    expect(counts(s!)).toEqual({ message: [1, 1] });
    expect(counts(r!)).toEqual({ message: [1, 0] });
    const sent = [all, same, room2].map((c, i) => c.frames[frames[i]!]!);
    expect(sent[1]).toEqual(sent[0]);
    expect(sent[2]).not.toEqual(sent[0]);
    // Each connection's frame is its own buffer (frames may be transferred).
    expect(new Set(sent.map((f) => f.buffer)).size).toBe(3);
  });
});
