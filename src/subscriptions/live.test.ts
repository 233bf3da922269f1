// Semantics of live queries (docs/subscriptions.md §2): one snapshot, then one update per transaction
// in commit order; atomic multi-table updates; reference-counted rows across overlapping queries
// and join multiplicities; no callback for unaffected subscriptions; grouping and sharing of
// plans; failed reducers; unsubscribe; event tables; :sender; several query sets per client.
import { describe, expect, it } from 'vitest';
import { randomIdentity } from '../engine/engine.ts';
import { ClosedError } from '../errors.ts';
import { bundleModule } from '../host/bundle.ts';
import { openDatabase } from '../node/open-database.ts';
import { Mirror, keysOf, msg, op, room, type Op } from './fixtures/helpers.ts';
import { liveHarness } from './fixtures/harness.ts';
import type { TableUpdate } from './types.ts';

const code = (await bundleModule('src/subscriptions/fixtures/live.ts')).code;
const owner = randomIdentity();
const alice = randomIdentity();

const open = liveHarness<Op>('live', code, owner);

const ids = (u: TableUpdate[] | undefined, part: 'inserts' | 'deletes') => (u ?? []).flatMap((t) => t[part].map((r) => r.id));

describe('live queries', () => {
  it('deliver the initial rows of one snapshot, then one update per transaction in commit order', async () => {
    const h = await open();
    await h.apply([msg(1, 1), msg(2, 2)]);
    const m = h.sub(['SELECT * FROM message WHERE room_id = 1']);
    // Twenty calls in flight at once: each commits separately and in order.
    const calls = Array.from({ length: 20 }, (_, i) => h.apply([msg(100 + i, 1)]));
    await m.handle.applied;
    await Promise.all(calls);
    await h.settle();
    expect(m.initial).toEqual({ message: [{ id: 1n, room_id: 1, author: '', score: 0n, big: 0n, flag: false, weight: 0 }] });
    expect(m.updates).toHaveLength(20);
    expect(m.updates.map((u) => ids(u, 'inserts'))).toEqual(Array.from({ length: 20 }, (_, i) => [BigInt(100 + i)]));
    expect(m.problems).toEqual([]);
  });

  it('a transaction touching two tables arrives as one update; an updated row is a delete plus an insert', async () => {
    const h = await open();
    await h.apply([room(1, 'a'), msg(1, 1, { score: 1n })]);
    const m = h.sub(['SELECT * FROM message WHERE room_id = 1', 'SELECT * FROM room']);
    await m.handle.applied;
    await h.apply([room(1, 'b'), msg(1, 1, { score: 2n }), msg(2, 1)]);
    await h.settle();
    expect(m.updates).toHaveLength(1);
    const [u] = m.updates;
    const byTable = Object.fromEntries(u!.map((t) => [t.table, t]));
    expect(Object.keys(byTable).sort()).toEqual(['message', 'room']);
    expect(byTable.room!.deletes).toEqual([{ id: 1, name: 'a', kind: 0 }]);
    expect(byTable.room!.inserts).toEqual([{ id: 1, name: 'b', kind: 0 }]);
    expect(byTable.message!.deletes.map((r) => r.score)).toEqual([1n]);
    expect(byTable.message!.inserts.map((r) => [r.id, r.score])).toEqual([
      [1n, 2n],
      [2n, 0n],
    ]);
  });

  it('rows matched by overlapping queries are inserted once and deleted when no query matches them', async () => {
    const h = await open();
    await h.apply([msg(1, 1, { score: 5n })]);
    const m = h.sub(['SELECT * FROM message WHERE room_id = 1', 'SELECT * FROM message WHERE score > 0']);
    await m.handle.applied;
    expect(m.initial!.message).toHaveLength(1);
    await h.apply([msg(1, 1, { score: -1n })]); // still matched by the first query: replaced, no duplicate
    await h.apply([msg(1, 2, { score: 3n })]); // now matched by the second only
    await h.apply([msg(1, 2, { score: -3n })]); // matched by none: deleted
    await h.apply([msg(1, 2, { score: -4n })]); // still by none: nothing
    await h.settle();
    expect(m.updates.map((u) => [ids(u, 'deletes'), ids(u, 'inserts')])).toEqual([
      [[1n], [1n]],
      [[1n], [1n]],
      [[1n], []],
    ]);
    expect(m.problems).toEqual([]);
    // Identical row matched by both queries at once: one insert.
    await h.apply([msg(9, 1, { score: 9n })]);
    await h.settle();
    expect(m.updates.at(-1)).toEqual([{ table: 'message', inserts: [expect.objectContaining({ id: 9n })], deletes: [] }]);
  });

  it('a join row is held once per matching pair and deleted with the last pair', async () => {
    const h = await open();
    await h.apply([msg(1, 1), op({ kind: 4, room: 1, label: 'x' }), op({ kind: 4, room: 1, label: 'y' })]);
    const m = h.sub(['SELECT m.* FROM message m JOIN tag t ON m.room_id = t.room_id']);
    await m.handle.applied;
    expect(m.initial!.message).toHaveLength(1);
    await h.apply([op({ kind: 5, room: 1, label: 'x' })]);
    await h.settle();
    expect(m.updates).toHaveLength(0); // one pair left: still held, nothing to say
    await h.apply([op({ kind: 5, room: 1, label: 'y' })]);
    await h.settle();
    expect(m.updates.map((u) => ids(u, 'deletes'))).toEqual([[1n]]);
    expect(m.problems).toEqual([]);
  });

  it('only affected subscriptions are called; equal-shape queries are grouped and identical ones share a plan', async () => {
    const h = await open();
    const rooms = Array.from({ length: 100 }, (_, r) => h.sub([`SELECT * FROM message WHERE room_id = ${r}`]));
    const same = Array.from({ length: 10 }, () => h.sub(['SELECT * FROM message WHERE room_id = 3']));
    const joins = Array.from({ length: 50 }, (_, r) => h.sub([`SELECT m.* FROM message m JOIN room r ON m.room_id = r.id WHERE r.id = ${r}`]));
    await Promise.all([...rooms, ...same, ...joins].map((m) => m.handle.applied));
    expect(h.live.stats()).toEqual({ subscribers: 160, plans: 150, groups: 2, sources: 0 });
    await h.apply([room(3, 'three'), msg(1, 3)]);
    await h.settle();
    const called = (ms: Mirror[]) => ms.flatMap((m, i) => (m.updates.length ? [i] : []));
    expect(called(rooms)).toEqual([3]);
    expect(called(same)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(called(joins)).toEqual([3]);
    expect(rooms[3]!.updates[0]).toEqual(same[0]!.updates[0]);
    // Unsubscribing drops plans and groups that nobody uses any more.
    for (const m of [...rooms, ...same, ...joins]) m.handle.unsubscribe();
    expect(h.live.stats()).toEqual({ subscribers: 0, plans: 0, groups: 0, sources: 0 });
  });

  it('shared updates stay per subscriber when one of them has several direct tables', async () => {
    const h = await open();
    const one = h.sub(['SELECT * FROM message WHERE room_id = 1']);
    const two = h.sub(['SELECT * FROM message WHERE room_id = 1', 'SELECT * FROM room WHERE kind = 1']);
    const three = h.sub(['SELECT * FROM room WHERE kind = 1']);
    await Promise.all([one, two, three].map((m) => m.handle.applied));
    await h.apply([msg(1, 1), room(1, 'a', 1)]);
    await h.settle();
    expect(one.updates.map((u) => u.map((t) => t.table))).toEqual([['message']]);
    expect(two.updates.map((u) => u.map((t) => t.table).sort())).toEqual([['message', 'room']]);
    expect(three.updates.map((u) => u.map((t) => t.table))).toEqual([['room']]);
  });

  it('a failing reducer produces no update', async () => {
    const h = await open();
    const m = h.sub(['SELECT * FROM message']);
    await m.handle.applied;
    await expect(h.engine.call('apply_then_fail', [[msg(1, 1)]])).rejects.toThrow('refused after applying the batch');
    await h.settle();
    expect(m.updates).toHaveLength(0);
    await h.apply([msg(2, 1)]);
    await h.settle();
    expect(m.updates.map((u) => ids(u, 'inserts'))).toEqual([[2n]]);
  });

  it('unsubscribe stops updates', async () => {
    const h = await open();
    const m = h.sub(['SELECT * FROM message']);
    await m.handle.applied;
    expect(m.handle.active).toBe(true);
    await h.apply([msg(1, 1)]);
    m.handle.unsubscribe();
    m.handle.unsubscribe(); // idempotent
    await h.apply([msg(2, 1)]);
    await h.settle();
    expect(m.updates.map((u) => ids(u, 'inserts'))).toEqual([[1n]]);
    expect(m.handle.active).toBe(false);
    // Unsubscribed before its rows arrived: `applied` rejects, no callback runs.
    const early = h.sub(['SELECT * FROM message']);
    early.handle.unsubscribe();
    await expect(early.handle.applied).rejects.toBeInstanceOf(ClosedError);
    expect(early.initial).toBeUndefined();
  });

  it('event tables: inserts of the transaction, never deletes, never part of onApplied', async () => {
    const h = await open();
    await h.apply([room(1, 'a', 1), room(2, 'b', 0)]);
    const m = h.sub(['SELECT * FROM ping WHERE room_id = 1', 'SELECT * FROM room WHERE kind = 1']);
    const j = h.sub(['SELECT p.* FROM ping p JOIN room r ON p.room_id = r.id WHERE r.kind = 1']);
    await Promise.all([m.handle.applied, j.handle.applied]);
    expect(Object.keys(m.initial!)).toEqual(['room']);
    expect(j.initial).toEqual({});
    const ping = (r: number, n: number) => op({ kind: 6, room: r, rkind: n });
    await h.apply([ping(1, 7), ping(2, 8)]);
    await h.apply([ping(1, 7)]); // the same event again: delivered again
    await h.apply([room(2, 'b', 1), ping(2, 9)]); // joined with the room as this transaction left it
    await h.settle();
    const pings = (u: TableUpdate[]) => u.filter((t) => t.table === 'ping').map((t) => [t.inserts.map((r) => [r.room_id, r.n]), t.deletes]);
    expect(m.updates.map(pings)).toEqual([[[[[1, 7]], []]], [[[[1, 7]], []]], []]);
    expect(j.updates.map(pings)).toEqual([[[[[1, 7]], []]], [[[[1, 7]], []]], [[[[2, 9]], []]]]);
  });

  it(':sender binds to the subscriber, so each sees its own rooms (grouped by identity)', async () => {
    const h = await open();
    const member = (id: number, r: number) => op({ kind: 9, id: BigInt(id), room: r });
    await h.apply([member(1, 1)], owner);
    await h.apply([member(2, 2)], alice);
    await h.apply([msg(1, 1), msg(2, 2)]);
    const q = 'SELECT m.* FROM message m JOIN member b ON m.room_id = b.room_id WHERE b.who = :sender';
    const mine = h.sub([q], owner);
    const hers = h.sub([q], alice);
    await Promise.all([mine.handle.applied, hers.handle.applied]);
    expect(mine.initial!.message!.map((r) => r.id)).toEqual([1n]);
    expect(hers.initial!.message!.map((r) => r.id)).toEqual([2n]);
    expect(h.live.stats()).toMatchObject({ plans: 2, groups: 1 });
    await h.apply([msg(3, 2)]);
    await h.apply([member(3, 1)], alice); // alice joins room 1: its messages arrive
    await h.settle();
    expect(mine.updates).toHaveLength(0);
    expect(hers.updates.map((u) => ids(u, 'inserts'))).toEqual([[3n], [1n]]);
  });

  it('a client with several query sets shares one cache; removing a set deletes only rows no other set holds', async () => {
    const h = await open();
    await h.apply([msg(1, 1, { score: 5n }), msg(2, 1), msg(3, 2, { score: 5n })]);
    const updates: TableUpdate[][] = [];
    const client = h.live.connect({ sender: owner.__identity__, confirmedReads: false, onUpdate: (u) => updates.push(u) });
    const applied: Record<string, unknown>[] = [];
    const a = client.subscribe(['SELECT * FROM message WHERE room_id = 1'], { onApplied: (r) => applied.push(r) });
    const b = client.subscribe(['SELECT * FROM message WHERE score > 0'], { onApplied: (r) => applied.push(r) });
    await Promise.all([a.applied, b.applied]);
    // The second set's onApplied carries only rows new to the client.
    expect(applied.map((r) => (r.message as { id: bigint }[]).map((x) => x.id))).toEqual([[1n, 2n], [3n]]);
    a.unsubscribe();
    await h.engine.exclusive(() => {});
    await h.settle();
    expect(updates.map((u) => [ids(u, 'deletes'), ids(u, 'inserts')])).toEqual([[[2n], []]]);
    await h.apply([msg(1, 1, { score: 0n })]); // leaves the remaining set
    await h.settle();
    expect(updates.at(-1)!.map((t) => t.deletes.map((r) => r.id))).toEqual([[1n]]);
    client.close();
    expect(client.active).toBe(false);
  });

  it('a throwing callback is reported to onError and the subscription goes on', async () => {
    const h = await open();
    const errors: Error[] = [];
    let n = 0;
    const handle = h.live.subscribe(
      ['SELECT * FROM message'],
      {
        onUpdate: () => {
          n++;
          throw new Error('boom');
        },
        onError: (e) => errors.push(e),
      },
      { sender: owner.__identity__, confirmedReads: false },
    );
    await handle.applied;
    await h.apply([msg(1, 1)]);
    await h.apply([msg(2, 1)]);
    await h.settle();
    expect(n).toBe(2);
    expect(errors.map((e) => e.message)).toEqual(['boom', 'boom']);
    expect(handle.active).toBe(true);
  });
});

describe('db.subscribe', () => {
  it('follows db.sql row shapes and ends with the database', async () => {
    const db = await openDatabase({ name: 'live-facade', module: 'src/subscriptions/fixtures/live.ts' });
    await db.call('apply', [[room(1, 'é', 1), msg(1, 1, { author: '😀', big: 2n ** 64n - 1n, score: -(2n ** 63n) })]]);
    const m = new Mirror();
    const q = "SELECT m.* FROM message m JOIN room r ON m.room_id = r.id WHERE r.name = 'é'";
    const sub = db.subscribe([q], m.callbacks); // confirmed reads (the default)
    await sub.applied;
    expect(m.keys()).toEqual(keysOf('message', await db.sql(q)));
    await db.call('apply', [[msg(2, 1)]]);
    await new Promise((r) => setTimeout(r, 10));
    expect(m.keys()).toEqual(keysOf('message', await db.sql(q)));
    await db.close();
    expect(sub.active).toBe(false);
    const late = db.subscribe([q], {});
    await expect(late.applied).rejects.toBeInstanceOf(ClosedError);
  });
});
