// The official SDK's DbConnection against the protocol server, over a MessageChannel per
// connection: connect and identity, subscriptions (overlapping sets, unsubscribe, tables without
// a primary key, event tables, row-level security, sender views, the query builder's SQL),
// reducer outcomes, procedures, and confirmed reads.
import { InternalError, SenderError, type Identity } from 'spacetimedb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tables } from './fixtures/bindings.ts';
import { openHarness, signal, type Client, type Harness } from './fixtures/harness.ts';

/** A query builder value, SQL, or a list of either (what `subscribe` takes). */
type Query = object | string | readonly (object | string)[];

/** Subscribes and resolves once applied; the handle ends the set. */
function subscribe(c: Client, query: Query) {
  const applied = signal();
  const failed = signal<Error>();
  const handle = c.conn
    .subscriptionBuilder()
    .onApplied(() => applied.resolve())
    .onError((ctx) => failed.resolve(ctx.event ?? new Error('subscription failed')))
    .subscribe(query as never);
  const whenApplied = Promise.race([applied.promise, failed.promise.then((e) => Promise.reject(e))]);
  whenApplied.catch(() => {}); // a test that expects a refusal awaits `failed` instead
  return {
    handle,
    applied: whenApplied,
    failed: failed.promise,
    /** Unsubscribes and resolves once UnsubscribeApplied was handled. */
    end: () => new Promise<void>((resolve) => handle.unsubscribeThen(() => resolve())),
  };
}

const texts = (c: Client) => [...c.conn.db.message.iter()].map((m) => m.text).sort();

describe('protocol with the SDK', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await openHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  describe('connections', () => {
    it('connects, subscribes, and sees its own reducer call as a Reducer event', async () => {
      const a = await h.connect();
      expect(a.identity.toHexString()).toMatch(/^c200/);
      expect(a.token.split('.')).toHaveLength(3);
      await subscribe(a, tables.message).applied;
      const inserted = signal<{ tag: string; text: string }>();
      a.conn.db.message.onInsert((ctx, row) => inserted.resolve({ tag: ctx.event.tag, text: row.text }));
      await a.conn.reducers.send({ roomId: 1, text: 'hello' });
      expect(await inserted.promise).toEqual({ tag: 'Reducer', text: 'hello' });
      expect([...a.conn.db.message.iter()].map((m) => [m.roomId, m.text, m.sender.isEqual(a.identity)])).toEqual([[1, 'hello', true]]);
    });

    it('runs clientConnected and clientDisconnected for each connection with its own connection id', async () => {
      const a = await h.connect();
      await subscribe(a, tables.presence).applied;
      expect([...a.conn.db.presence.iter()].map((p) => p.connectionId.isEqual(a.conn.connectionId))).toEqual([true]);
      const joined = signal<{ connectionId: string; identity: Identity }>();
      const left = signal<string>();
      a.conn.db.presence.onInsert((_ctx, p) => joined.resolve({ connectionId: p.connectionId.toHexString(), identity: p.identity }));
      a.conn.db.presence.onDelete((_ctx, p) => left.resolve(p.connectionId.toHexString()));
      const b = await h.connect();
      const row = await joined.promise;
      expect(row.connectionId).toBe(b.conn.connectionId.toHexString());
      expect(row.identity.isEqual(b.identity)).toBe(true);
      await b.close();
      expect(await left.promise).toBe(b.conn.connectionId.toHexString());
    });

    it('gives a token back the same identity, also after a restart; no token a new identity; a foreign token a connect error', async () => {
      const a = await h.connect();
      await a.close();
      const again = await h.connect({ token: a.token });
      expect(again.identity.isEqual(a.identity)).toBe(true);
      const fresh = await h.connect();
      expect(fresh.identity.isEqual(a.identity)).toBe(false);
      await h.close();
      h = await openHarness({ store: h.store, owner: h.owner });
      const restarted = await h.connect({ token: a.token });
      expect(restarted.identity.isEqual(a.identity)).toBe(true);
      const other = await openHarness();
      const stranger = await other.connect();
      const refused = await h.connectFailure({ token: stranger.token });
      expect(refused.kind).toBe('connectError');
      expect(refused.error?.message).toMatch(/the token was not issued by this database/);
      await other.close();
    });

    it('closes a connection clientConnected refuses before InitialConnection; others go on', async () => {
      const a = await h.connect();
      await a.conn.reducers.setRefuse({ refuse: true });
      const refused = await h.connectFailure();
      expect(refused.kind).toBe('disconnect');
      await a.conn.reducers.setRefuse({ refuse: false });
      expect(h.server.connections).toBe(1);
      await h.connect();
    });
  });

  describe('between two clients', () => {
    let a: Client;
    let b: Client;
    beforeEach(async () => {
      a = await h.connect();
      b = await h.connect();
    });

    describe('subscriptions', () => {
      it('shows another client’s inserts as Transaction events, and updates and deletes', async () => {
        await subscribe(b, tables.message).applied;
        const events: string[] = [];
        const done = signal();
        b.conn.db.message.onInsert((ctx, m) => events.push(`insert ${m.text} ${ctx.event.tag}`));
        b.conn.db.message.onUpdate((ctx, old, m) => events.push(`update ${old.text}->${m.text} ${ctx.event.tag}`));
        b.conn.db.message.onDelete((ctx, m) => {
          events.push(`delete ${m.text} ${ctx.event.tag}`);
          done.resolve();
        });
        await a.conn.reducers.send({ roomId: 1, text: 'one' });
        await a.conn.reducers.edit({ id: 1n, text: 'uno' });
        await a.conn.reducers.remove({ id: 1n });
        await done.promise;
        expect(events).toEqual(['insert one Transaction', 'update one->uno Transaction', 'delete uno Transaction']);
      });

      it('keeps rows two overlapping query sets hold until both are unsubscribed', async () => {
        await a.conn.reducers.send({ roomId: 1, text: 'in room 1' });
        await a.conn.reducers.send({ roomId: 2, text: 'in room 2' });
        const inserts: string[] = [];
        const deletes: string[] = [];
        b.conn.db.message.onInsert((_ctx, m) => inserts.push(m.text));
        b.conn.db.message.onDelete((_ctx, m) => deletes.push(m.text));
        const room1 = subscribe(
          b,
          tables.message.where((m) => m.roomId.eq(1)),
        );
        const all = subscribe(b, 'SELECT * FROM message');
        await room1.applied;
        await all.applied;
        expect(inserts.sort()).toEqual(['in room 1', 'in room 2']);
        await all.end();
        expect(deletes).toEqual(['in room 2']);
        expect(texts(b)).toEqual(['in room 1']);
        // Only the room-1 set holds it now: moving it out of room 1 deletes it.
        const gone = signal();
        b.conn.db.message.onDelete(() => gone.resolve());
        await a.conn.reducers.move({ id: 1n, roomId: 3 });
        await gone.promise;
        expect(texts(b)).toEqual([]);
        await a.conn.reducers.move({ id: 1n, roomId: 1 });
        await a.conn.reducers.send({ roomId: 1, text: 'later' });
        await room1.end();
        expect(b.conn.db.message.count()).toBe(0n);
        expect(inserts.length - deletes.length).toBe(0);
      });

      it('counts a row once in a set whose several queries match it', async () => {
        await a.conn.reducers.send({ roomId: 1, text: 'both' });
        const inserts: string[] = [];
        const later = signal();
        b.conn.db.message.onInsert((_ctx, m) => {
          inserts.push(m.text);
          if (m.text === 'later') later.resolve();
        });
        const set = subscribe(b, [tables.message, tables.message.where((m) => m.roomId.eq(1))]);
        await set.applied;
        await a.conn.reducers.send({ roomId: 1, text: 'later' });
        await later.promise;
        expect(inserts).toEqual(['both', 'later']);
        await set.end();
        expect(b.conn.db.message.count()).toBe(0n);
      });

      it('balances inserts and deletes of rows without a primary key (keyed by their bytes)', async () => {
        const all = subscribe(b, 'SELECT * FROM note');
        const ones = subscribe(
          b,
          tables.note.where((n) => n.n.eq(1)),
        );
        await all.applied;
        await ones.applied;
        await a.conn.reducers.addNote({ text: 'x', n: 1 });
        await a.conn.reducers.addNote({ text: 'y', n: 2 });
        const seen = signal();
        b.conn.db.note.onDelete((_ctx, n) => n.text === 'x' && seen.resolve());
        await a.conn.reducers.delNote({ text: 'x', n: 1 });
        await seen.promise;
        expect([...b.conn.db.note.iter()].map((n) => n.text)).toEqual(['y']);
        await ones.end();
        await all.end();
        expect(b.conn.db.note.count()).toBe(0n);
      });

      it('delivers event table rows as inserts that are never stored', async () => {
        await subscribe(a, tables.ping).applied;
        await subscribe(b, [tables.ping, tables.message]).applied;
        const got = signal<string>();
        b.conn.db.ping.onInsert((ctx, p) => got.resolve(`${p.text} from ${p.from.isEqual(a.identity) ? 'a' : '?'} ${ctx.event.tag}`));
        const own = signal<string>();
        a.conn.db.ping.onInsert((ctx, p) => own.resolve(`${p.text} ${ctx.event.tag}`));
        await a.conn.reducers.shout({ text: 'hey' });
        expect(await got.promise).toBe('hey from a Transaction');
        expect(await own.promise).toBe('hey Reducer');
        expect(b.conn.db.ping.count()).toBe(0n);
        // A later subscription does not replay events.
        const c = await h.connect();
        const late: string[] = [];
        c.conn.db.ping.onInsert((_ctx, p) => late.push(p.text));
        await subscribe(c, tables.ping).applied;
        expect(late).toEqual([]);
      });

      it('applies row-level security per connection identity', async () => {
        await a.conn.reducers.openAccount({ balance: 10n });
        await b.conn.reducers.openAccount({ balance: 20n });
        await subscribe(a, tables.account).applied;
        await subscribe(b, 'SELECT * FROM account').applied;
        expect([...a.conn.db.account.iter()].map((x) => [x.owner.isEqual(a.identity), x.balance])).toEqual([[true, 10n]]);
        expect([...b.conn.db.account.iter()].map((x) => [x.owner.isEqual(b.identity), x.balance])).toEqual([[true, 20n]]);
        // A third client's account reaches nobody else.
        const c = await h.connect();
        const framesA = a.framesSent();
        await c.conn.reducers.openAccount({ balance: 30n });
        expect(a.framesSent()).toBe(framesA);
        expect(a.conn.db.account.count()).toBe(1n);
      });

      it('computes sender views per connection identity, and keeps them live', async () => {
        await a.conn.reducers.send({ roomId: 1, text: 'from a' });
        await b.conn.reducers.send({ roomId: 1, text: 'from b' });
        await subscribe(a, tables.myMessages).applied;
        await subscribe(b, 'SELECT * FROM my_messages').applied;
        expect([...a.conn.db.myMessages.iter()].map((m) => m.text)).toEqual(['from a']);
        expect([...b.conn.db.myMessages.iter()].map((m) => m.text)).toEqual(['from b']);
        await a.conn.reducers.send({ roomId: 2, text: 'again from a' });
        expect([...a.conn.db.myMessages.iter()].map((m) => m.text).sort()).toEqual(['again from a', 'from a']);
        expect([...b.conn.db.myMessages.iter()].map((m) => m.text)).toEqual(['from b']);
      });

      it('accepts the SQL the query builder emits: quoted names, qualified columns, NOT, string and identity literals, semijoins', async () => {
        await a.conn.reducers.addRoom({ id: 1, name: 'general' });
        await a.conn.reducers.addRoom({ id: 2, name: "it's random" });
        await a.conn.reducers.send({ roomId: 1, text: 'a in general' });
        await a.conn.reducers.send({ roomId: 2, text: "a in it's random" });
        await b.conn.reducers.send({ roomId: 2, text: 'b in random' });
        const run = async (q: Query) => {
          const c = await h.connect();
          await subscribe(c, q).applied;
          const rows = { rooms: [...c.conn.db.room.iter()].map((r) => r.name).sort(), messages: texts(c) };
          await c.close();
          return rows;
        };
        expect(await run(tables.room.where((r) => r.name.eq("it's random")))).toEqual({ rooms: ["it's random"], messages: [] });
        expect(await run(tables.message.where((m) => m.sender.eq(b.identity)))).toEqual({ rooms: [], messages: ['b in random'] });
        expect(await run(tables.message.where((m) => m.roomId.eq(2).and(m.sender.eq(a.identity).not())))).toEqual({ rooms: [], messages: ['b in random'] });
        const semijoin = tables.room.where((r) => r.name.eq('general')).rightSemijoin(tables.message, (r, m) => r.id.eq(m.roomId));
        expect(await run(semijoin)).toEqual({ rooms: [], messages: ['a in general'] });
        const c = await h.connect();
        const all = signal();
        c.conn
          .subscriptionBuilder()
          .onApplied(() => all.resolve())
          .subscribeToAllTables();
        await all.promise;
        expect(texts(c)).toEqual(['a in general', "a in it's random", 'b in random']);
        expect(c.conn.db.room.count()).toBe(2n);
      });

      it('reports a refused query to its subscription only; the connection goes on', async () => {
        const bad = subscribe(a, 'SELECT * FROM message WHERE nope = 1');
        expect((await bad.failed).message).toMatch(/nope/);
        await subscribe(a, tables.message).applied;
        await a.conn.reducers.send({ roomId: 1, text: 'still connected' });
        expect(texts(a)).toEqual(['still connected']);
      });
    });

    describe('calls', () => {
      it('settles every reducer outcome: Ok (even with no change), SenderError, InternalError; failures broadcast nothing', async () => {
        await subscribe(a, tables.room).applied;
        await subscribe(b, tables.room).applied;
        const seenByB: number[] = [];
        b.conn.db.room.onInsert((_ctx, r) => seenByB.push(r.id));
        await expect(a.conn.reducers.noop({})).resolves.toBeUndefined();
        const sender = a.conn.reducers.failSender({});
        await expect(sender).rejects.toBeInstanceOf(SenderError);
        await expect(sender).rejects.toThrow('nope');
        const internal = a.conn.reducers.failInternal({});
        await expect(internal).rejects.toBeInstanceOf(InternalError);
        await expect(internal).rejects.toThrow('boom');
        const added = signal();
        b.conn.db.room.onInsert(() => added.resolve());
        await a.conn.reducers.addRoom({ id: 5, name: 'five' });
        await added.promise;
        expect(seenByB).toEqual([5]);
        expect([...a.conn.db.room.iter()].map((r) => r.id)).toEqual([5]);
      });

      it('answers procedures with their value; their transactions reach everyone, the caller as a Transaction event', async () => {
        await subscribe(a, tables.message).applied;
        await subscribe(b, tables.message).applied;
        expect(await a.conn.procedures.echo({ text: 'x' })).toBe('echo:x');
        const aSaw = signal<string>();
        const bSaw = signal<string>();
        a.conn.db.message.onInsert((ctx, m) => aSaw.resolve(`${m.text} ${ctx.event.tag}`));
        b.conn.db.message.onInsert((ctx, m) => bSaw.resolve(`${m.text} ${ctx.event.tag}`));
        const id = await a.conn.procedures.postViaTx({ roomId: 1, text: 'via tx' });
        expect(id).toBe(1n);
        // The transaction was delivered before the procedure's result.
        expect(texts(a)).toEqual(['via tx']);
        expect(await aSaw.promise).toBe('via tx Transaction');
        expect(await bSaw.promise).toBe('via tx Transaction');
        await expect(a.conn.procedures.procFail({})).rejects.toBe('procedure exploded');
      });
    });
  });
});

describe('protocol with the SDK: confirmed reads', () => {
  it('holds transactions until durable for confirmed connections (the default), not for confirmed=false', async () => {
    let gate: Promise<void> | undefined;
    const h = await openHarness({ durability: { beforeWrite: () => gate } });
    const fast = await h.connect({ confirmedReads: false });
    const safe = await h.connect();
    const caller = await h.connect();
    await subscribe(fast, tables.message).applied;
    await subscribe(safe, tables.message).applied;
    let release!: () => void;
    gate = new Promise<void>((r) => (release = r));
    const before = { safe: safe.framesSent(), caller: caller.framesSent() };
    const fastSaw = signal();
    fast.conn.db.message.onInsert(() => fastSaw.resolve());
    let durable = false;
    const safeSaw = signal<boolean>();
    safe.conn.db.message.onInsert(() => safeSaw.resolve(durable));
    const call = caller.conn.reducers.send({ roomId: 1, text: 'pending' });
    // Delivered before the write: the unconfirmed connection has it, the others got nothing yet.
    await fastSaw.promise;
    expect(safe.framesSent()).toBe(before.safe);
    expect(caller.framesSent()).toBe(before.caller);
    gate = undefined;
    durable = true;
    release();
    await call;
    expect(await safeSaw.promise).toBe(true);
    await h.close();
  });
});
