// Row-level security in live queries (docs/subscriptions.md §5): a subscriber other than the owner only
// ever receives rows some rule on their table returns for its identity — on the returned side and
// the lookup side of joins, for event tables too — and rows appear and disappear as the tables a
// joining rule reads change. Rules on a table are OR'ed; the owner bypasses them; plans of many
// identities are grouped by identity, so a write reaches only the identities it concerns.
import { describe, expect, it } from 'vitest';
import { randomIdentity } from '../engine/engine.ts';
import { bundleModule } from '../host/bundle.ts';
import { openDatabase } from '../node/open-database.ts';
import { alice, aop, bob, type Mirror, type AccessOp } from './fixtures/helpers.ts';
import { liveHarness } from './fixtures/harness.ts';
import type { TableUpdate } from './types.ts';

const code = (await bundleModule('src/subscriptions/fixtures/access.ts')).code;
const owner = randomIdentity();
const OWNER = owner.toHexString();

const open = liveHarness<AccessOp>('live-rls', code, owner);

const account = (id: number, who: string, team: number, balance = 0n) => aop({ kind: 0, id, who, team, balance });
const member = (id: number, who: string, team: number) => aop({ kind: 2, id, who, team });
const unmember = (id: number) => aop({ kind: 3, id, who: OWNER });
const note = (id: number, who: string, accountId: number, shared = false) => aop({ kind: 4, id, who, ref: accountId, shared });
const ids = (u: TableUpdate[] | undefined, part: 'inserts' | 'deletes') => (u ?? []).flatMap((t) => t[part].map((r) => r.id));
const changes = (m: Mirror) => m.updates.map((u) => [ids(u, 'deletes'), ids(u, 'inserts')]);

describe('live queries under row-level security', () => {
  it('hide other identities’ rows, and deliver nothing for writes the subscriber may not see', async () => {
    const h = await open();
    await h.apply([account(1, alice, 1), account(2, bob, 2)]);
    const a = h.sub(['SELECT * FROM account'], alice);
    const b = h.sub(['SELECT * FROM account WHERE balance > 5'], bob);
    const o = h.sub(['SELECT * FROM account']);
    await Promise.all([a, b, o].map((m) => m.handle.applied));
    expect(a.initial!.account!.map((r) => r.id)).toEqual([1]);
    expect(b.initial).toEqual({ account: [] });
    expect(o.initial!.account!.map((r) => r.id)).toEqual([1, 2]); // the owner bypasses RLS

    await h.apply([account(2, bob, 2, 10n), account(3, bob, 3, 10n)]);
    await h.apply([account(1, alice, 1, 10n)]);
    await h.settle();
    expect(changes(a)).toEqual([[[1], [1]]]);
    expect(changes(b)).toEqual([[[], [2, 3]]]);
    expect(o.updates).toHaveLength(2);
    for (const m of [a, b, o]) expect(m.problems).toEqual([]);
  });

  it('reveal and hide rows as the table a joining rule reads changes', async () => {
    const h = await open();
    await h.apply([account(1, alice, 1), account(2, bob, 7), account(3, bob, 7), account(4, bob, 8)]);
    const a = h.sub(['SELECT * FROM account'], alice);
    await a.handle.applied;
    expect(a.initial!.account!.map((r) => r.id)).toEqual([1]);

    await h.apply([member(1, alice, 7)]); // alice joins team 7: its accounts appear
    await h.apply([member(1, alice, 8)]); // moves to team 8
    await h.apply([member(2, alice, 1)]); // joins her own team: her account is visible twice over
    await h.apply([unmember(2)]); // …and stays visible by the other rule
    await h.apply([account(5, bob, 8)]); // a new account in her team
    await h.apply([member(3, bob, 8)]); // someone else joins: nothing changes for alice
    await h.apply([unmember(1)]);
    await h.settle();
    expect(changes(a).map(([d, i]) => [d!.sort(), i!.sort()])).toEqual([
      [[], [2, 3]],
      [[2, 3], [4]],
      [[], [5]],
      [[4, 5], []],
    ]);
    expect(a.problems).toEqual([]);
  });

  it('filter the lookup side of a join, through a joining rule', async () => {
    const h = await open();
    await h.apply([account(1, alice, 1), account(2, bob, 2), note(1, bob, 1), note(2, bob, 2), note(3, alice, 2)]);
    // Notes on accounts alice may see — and of those, the notes she may see.
    const m = h.sub(['SELECT n.* FROM note n JOIN account a ON n.account_id = a.id'], alice);
    await m.handle.applied;
    // note 1: bob's, but on alice's account (rule account_notes); note 3: hers, but on bob's hidden account.
    expect(m.initial!.note!.map((r) => r.id)).toEqual([1]);
    await h.apply([member(1, alice, 2)]); // bob's account 2 becomes visible: so do notes on it alice may see
    await h.settle();
    expect(changes(m)).toEqual([[[], [3]]]);
    await h.apply([note(2, bob, 2, true)]); // shared now
    await h.apply([unmember(1)]);
    await h.settle();
    expect(
      changes(m)
        .slice(1)
        .map(([d, i]) => [d!.sort(), i!.sort()]),
    ).toEqual([
      [[], [2]],
      [[2, 3], []],
    ]);
  });

  it('rules OR together: a row leaves only when no rule returns it', async () => {
    const h = await open();
    await h.apply([note(1, bob, 9), note(2, alice, 9)]);
    const m = h.sub(['SELECT * FROM note'], alice);
    await m.handle.applied;
    expect(m.initial!.note!.map((r) => r.id)).toEqual([2]);
    await h.apply([note(1, bob, 9, true)]); // shared: visible
    await h.apply([note(2, alice, 9, true)]); // hers and shared: an update, once
    await h.apply([note(2, alice, 9, false)]); // hers still
    await h.apply([note(1, bob, 9, false)]); // neither
    await h.settle();
    expect(changes(m)).toEqual([
      [[], [1]],
      [[2], [2]],
      [[2], [2]],
      [[1], []],
    ]);
    expect(m.problems).toEqual([]);
  });

  it('event tables: an identity receives only its own events', async () => {
    const h = await open();
    const a = h.sub(['SELECT * FROM alert'], alice);
    const o = h.sub(['SELECT * FROM alert']);
    await Promise.all([a.handle.applied, o.handle.applied]);
    await h.apply([aop({ kind: 6, who: alice, team: 1 }), aop({ kind: 6, who: bob, team: 2 })]);
    await h.apply([aop({ kind: 6, who: bob, team: 3 })]);
    await h.settle();
    expect(a.updates.map((u) => u.flatMap((t) => t.inserts.map((r) => r.n)))).toEqual([[1]]);
    expect(o.updates.map((u) => u.flatMap((t) => t.inserts.map((r) => r.n)).sort())).toEqual([[1, 2], [3]]);
  });

  it('plans of many identities share their groups; a write reaches only the identities it concerns', async () => {
    const h = await open();
    const people = Array.from({ length: 20 }, () => randomIdentity().toHexString());
    await h.apply(people.map((p, i) => account(i, p, i)));
    const subs = people.map((p) => h.sub(['SELECT * FROM account'], p));
    await Promise.all(subs.map((m) => m.handle.applied));
    // Per identity: one plan for the filtering rule, one for the joining rule; two groups in all.
    expect(h.live.stats()).toEqual({ subscribers: 20, plans: 40, groups: 2, sources: 0 });
    expect(subs.every((m, i) => m.initial!.account!.length === 1 && m.initial!.account![0]!.id === i)).toBe(true);
    await h.apply([account(3, people[3]!, 3, 1n), member(1, people[5]!, 3)]);
    await h.settle();
    const called = subs.flatMap((m, i) => (m.updates.length ? [i] : []));
    expect(called).toEqual([3, 5]);
    expect(changes(subs[5]!)).toEqual([[[], [3]]]);
  });

  it('tables that were refused to clients before rules were enforced can be subscribed to', async () => {
    const db = await openDatabase({ name: 'live-rls-fixture', module: 'test/fixtures/rls.ts' });
    open.track(db);
    await db.call('open', [10n], { sender: alice });
    await db.call('open', [20n], { sender: bob });
    const rows: unknown[] = [];
    const sub = db.subscribe(['SELECT * FROM account', 'SELECT * FROM post'], { onApplied: (r) => rows.push(...r.account!) }, { sender: bob });
    await sub.applied;
    expect(rows).toEqual([expect.objectContaining({ balance: 20n })]);
    sub.unsubscribe();
  });
});
