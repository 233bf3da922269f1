// What SpacetimeDB's SDK test clients check against its procedure and view-pk test modules
// (sdk-test-procedure, sdk-test-view-pk, sdk-test-procedural-view-pk), checked against Lightcone
// with the official SDK and bindings from `lightcone generate`: procedure return values and
// failures, `withTx` commit and rollback, a scheduled procedure, UUIDs made in one transaction;
// views whose rows keep a primary key (so the SDK reports updates as updates), per sender.
// Fixtures: test/fixtures/sdk-modules/procedures.ts, view-pk.ts.
import { Uuid } from 'spacetimedb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Loose, nextEvent, type SdkClient, type SdkSession, sdkSession, subscribed } from '../src/generate/fixtures/sdk-session.ts';

describe('procedures (sdk-test-procedure)', () => {
  let s: SdkSession;
  let c: SdkClient;
  beforeAll(async () => {
    s = await sdkSession('test/fixtures/sdk-modules/procedures.ts');
    c = await s.connect();
  });
  afterAll(async () => {
    await s.close();
  });

  it('returns primitives, structs, enums and options to the caller (procedure-return-values)', async () => {
    const p = c.conn.procedures;
    expect(await p.addNumbers({ lhs: 40, rhs: 2 })).toBe(42);
    expect(await p.makePair({ n: 7, text: 'seven' })).toEqual({ n: 7, text: 'seven' });
    expect(await p.chooseNum({ n: 3 })).toEqual({ tag: 'Num', value: 3 });
    expect(await p.chooseText({ text: 'x' })).toEqual({ tag: 'Text', value: 'x' });
    expect(await p.maybeNothing({ give: true })).toBe('something');
    expect(await p.maybeNothing({ give: false })).toBeUndefined();
  });

  it('rejects the call of a procedure that throws, and the connection goes on (procedure-observe-panic)', async () => {
    await expect(c.conn.procedures.explode({})).rejects.toThrow(/this procedure always throws/);
    expect(await c.conn.procedures.addNumbers({ lhs: 1, rhs: 1 })).toBe(2);
  });

  it('commits what withTx wrote, and rolls back a withTx that throws (insert-with-tx-commit / rollback)', async () => {
    await subscribed(c, ['SELECT * FROM note']);
    expect(await c.conn.procedures.rollbackThenCount({})).toBe(0n);
    expect(await c.conn.procedures.commitThenCount({})).toBe(1n);
    expect([...c.conn.db.note.iter()]).toEqual([{ pair: { n: 42, text: 'committed' } }]);
  });

  it('runs a procedure from a schedule, at or after the time it was asked for (schedule-procedure)', async () => {
    await subscribed(c, ['SELECT * FROM ticked']);
    const ticked = nextEvent<[Loose]>((cb) => c.conn.db.ticked.onInsert(cb));
    await c.conn.reducers.startTicks({ everyMs: 20, x: 42 });
    const row = (await ticked).args[0];
    await c.conn.reducers.stopTicks({});
    expect(row.x).toBe(42);
    expect(row.ranAt.microsSinceUnixEpoch).toBeGreaterThanOrEqual(row.askedAt.microsSinceUnixEpoch + 20_000n);
  });

  it('makes v7 UUIDs in increasing order within one transaction (sorted-uuids-insert)', async () => {
    const made = ((await c.conn.procedures.makeUuids({ count: 200 })) as string[]).map((u) => Uuid.parse(u));
    expect(made.every((u) => u.getVersion() === 'V7')).toBe(true);
    for (let i = 1; i < made.length; i++) expect(made[i - 1]!.compareTo(made[i]!)).toBeLessThan(0);
    expect((await s.engine.sql('SELECT COUNT(*) AS n FROM uuid_key')).rows).toEqual([{ n: 200n }]);
  });
});

describe('views with primary keys (sdk-test-view-pk, sdk-test-procedural-view-pk)', () => {
  let s: SdkSession;
  let alice: SdkClient;
  let bob: SdkClient;
  beforeAll(async () => {
    s = await sdkSession('test/fixtures/sdk-modules/view-pk.ts');
    alice = await s.connect();
    bob = await s.connect();
  });
  afterAll(async () => {
    await s.close();
  });

  it('reports a change to a row of a query-builder view as onUpdate(old, new) (view-pk-on-update)', async () => {
    await subscribed(alice, ['SELECT * FROM all_players']);
    await alice.conn.reducers.addPlayer({ id: 1n, name: 'before' });
    expect([...alice.conn.db.allPlayers.iter()]).toEqual([{ id: 1n, name: 'before' }]);
    const updated = nextEvent<[Loose, Loose]>((cb) => alice.conn.db.allPlayers.onUpdate(cb));
    await alice.conn.reducers.renamePlayer({ id: 1n, name: 'after' });
    expect((await updated).args).toEqual([
      { id: 1n, name: 'before' },
      { id: 1n, name: 'after' },
    ]);
  });

  it('serves a view that is a semijoin of two tables, and its rows follow both tables', async () => {
    await subscribed(bob, ['SELECT * FROM members']);
    await alice.conn.reducers.addPlayer({ id: 2n, name: 'member' });
    expect([...bob.conn.db.members.iter()]).toEqual([]);
    const joined = nextEvent<[Loose]>((cb) => bob.conn.db.members.onInsert(cb));
    await alice.conn.reducers.addMembership({ id: 10n, playerId: 2n });
    expect((await joined).args[0]).toEqual({ id: 2n, name: 'member' });
    const renamed = nextEvent<[Loose, Loose]>((cb) => bob.conn.db.members.onUpdate(cb));
    await alice.conn.reducers.renamePlayer({ id: 2n, name: 'renamed' });
    expect((await renamed).args[1]).toEqual({ id: 2n, name: 'renamed' });
  });

  it('computes a sender view per subscriber, and updates each subscriber’s own rows (sender-scoped-pk-view)', async () => {
    await subscribed(alice, ['SELECT * FROM my_owned']);
    await subscribed(bob, ['SELECT * FROM my_owned']);
    await alice.conn.reducers.addOwned({ id: 1n, level: 1n });
    await bob.conn.reducers.addOwned({ id: 2n, level: 1n });
    expect([...alice.conn.db.myOwned.iter()].map((r: Loose) => r.id)).toEqual([1n]);
    expect([...bob.conn.db.myOwned.iter()].map((r: Loose) => r.id)).toEqual([2n]);
    const updated = nextEvent<[Loose, Loose]>((cb) => alice.conn.db.myOwned.onUpdate(cb));
    await alice.conn.reducers.levelUp({ id: 1n, level: 5n });
    const [before, after] = (await updated).args;
    expect([before.level, after.level]).toEqual([1n, 5n]);
    expect([...bob.conn.db.myOwned.iter()].map((r: Loose) => r.level)).toEqual([1n]);
  });

  it('refuses a subscription that joins a view, naming the limit (view-pk-join-query-builder is not served yet)', async () => {
    await expect(subscribed(alice, ['SELECT p.* FROM membership m JOIN all_players p ON m.player_id = p.id'])).rejects.toThrow(/view/);
  });
});
