// The official SDK's DbConnection against the protocol server, over a MessageChannel per
// connection: connect, subscribe (overlapping sets, unsubscribe), reducer outcomes, procedures,
// event tables, row-level security, sender views, and the query builder's SQL.
import { describe, expect, it } from 'vitest';
import { tables } from './fixtures/bindings.ts';
import { openHarness, signal } from './fixtures/harness.ts';

describe('protocol: connect and subscribe', () => {
  it('connects, subscribes, and sees its own reducer call as a Reducer event', async () => {
    const h = await openHarness();
    const a = await h.connect();
    expect(a.identity.toHexString()).toMatch(/^c200/);
    expect(a.token.split('.')).toHaveLength(3);
    const applied = signal();
    a.conn.subscriptionBuilder().onApplied(() => applied.resolve()).subscribe(tables.message);
    await applied.promise;
    const inserted = signal<{ tag: string; text: string }>();
    a.conn.db.message.onInsert((ctx, row) => inserted.resolve({ tag: ctx.event.tag, text: row.text }));
    await a.conn.reducers.send({ roomId: 1, text: 'hello' });
    expect(await inserted.promise).toEqual({ tag: 'Reducer', text: 'hello' });
    expect([...a.conn.db.message.iter()].map((m) => [m.roomId, m.text, m.sender.isEqual(a.identity)])).toEqual([[1, 'hello', true]]);
    await h.close();
  });
});
