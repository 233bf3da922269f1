// Live views (docs/subscriptions.md §6, §2): a subscribed view re-runs only after a commit that changed
// a table it read, once for all subscribers of an anonymous view and once per identity for a
// sender view; subscribers receive the difference between its old and new rows (nothing when it
// is the same); a view that throws ends only the subscriptions reading it, after what was queued.
import { describe, expect, it } from 'vitest';
import { databaseFacade } from '../api/database.ts';
import { randomIdentity } from '../engine/engine.ts';
import { ClosedError, SqlError } from '../errors.ts';
import { bundleModule } from '../host/bundle.ts';
import { alice, aop, bob, type Mirror, type AccessOp } from './fixtures/helpers.ts';
import { liveHarness } from './fixtures/harness.ts';
import type { TableUpdate } from './types.ts';

const code = (await bundleModule('src/subscriptions/fixtures/access.ts')).code;
const owner = randomIdentity();
const OWNER = owner.toHexString();

const open = liveHarness<AccessOp>('live-views', code, owner);

const account = (id: number, who: string, team: number, balance: bigint) => aop({ kind: 0, id, who, team, balance });
const member = (id: number, who: string, team: number) => aop({ kind: 2, id, who, team });
const other = (id: number, v: number) => aop({ kind: 7, id, who: OWNER, team: v });
const ids = (u: TableUpdate[] | undefined, part: 'inserts' | 'deletes') => (u ?? []).flatMap((t) => t[part].map((r) => r.id));
const changesOf = (m: Mirror) => m.updates.map((u) => [ids(u, 'deletes'), ids(u, 'inserts')]);

describe('live views', () => {
  it('re-run only after a commit that changed a table they read: once for an anonymous view, once per identity for a sender view', async () => {
    const h = await open();
    await h.apply([account(1, alice, 1, 100n), member(1, alice, 1)]);
    const rich = [h.sub(['SELECT * FROM rich_accounts'], alice), h.sub(['SELECT * FROM rich_accounts'], bob), h.sub(['SELECT * FROM rich_accounts WHERE team = 1'])];
    const mine = [h.sub(['SELECT * FROM my_membership'], alice), h.sub(['SELECT * FROM my_membership'], bob), h.sub(['SELECT * FROM my_membership'], bob)];
    await Promise.all([...rich, ...mine].map((m) => m.handle.applied));
    // One evaluation on subscribe for the anonymous view, one per identity for the sender view.
    expect([h.evals('rich_accounts'), h.evals('my_membership')]).toEqual([1, 2]);
    expect(h.live.stats().sources).toBe(3);
    expect(mine[0]!.initial).toEqual({ my_membership: [{ id: 1, who: expect.anything(), team: 1 }] });

    await h.apply([other(1, 5)]); // read by no view
    await h.apply([aop({ kind: 4, id: 1, who: alice, team: 1 })]); // a note: read by neither
    expect([h.evals('rich_accounts'), h.evals('my_membership')]).toEqual([1, 2]);

    await h.apply([account(2, bob, 1, 500n)]); // account: rich_accounts only, once for its three subscribers
    expect([h.evals('rich_accounts'), h.evals('my_membership')]).toEqual([2, 2]);
    await h.apply([member(2, bob, 3)]); // member: each identity's my_membership
    expect([h.evals('rich_accounts'), h.evals('my_membership')]).toEqual([2, 4]);
    await h.apply([account(3, bob, 2, 1n), member(3, alice, 2)]); // both
    expect([h.evals('rich_accounts'), h.evals('my_membership')]).toEqual([3, 6]);

    await h.settle();
    expect(rich.map((m) => m.updates.length)).toEqual([1, 1, 1]);
    expect(ids(rich[2]!.updates[0], 'inserts')).toEqual([2]);
    expect(mine.map((m) => m.updates.length)).toEqual([0, 1, 1]);
    for (const m of [...rich, ...mine]) expect(m.problems).toEqual([]);

    // The last subscriber of a view gone, nothing re-runs it.
    for (const m of [...rich, ...mine]) m.handle.unsubscribe();
    expect(h.live.stats()).toEqual({ subscribers: 0, plans: 0, groups: 0, sources: 0 });
    await h.apply([account(4, bob, 1, 100n), member(4, bob, 1)]);
    expect([h.evals('rich_accounts'), h.evals('my_membership')]).toEqual([3, 6]);
  });

  it('deliver the difference between old and new results, and nothing when a re-run changes nothing', async () => {
    const h = await open();
    await h.apply([account(1, alice, 1, 100n), account(2, bob, 2, 10n)]);
    const m = h.sub(['SELECT * FROM rich_accounts']);
    await m.handle.applied;
    expect(m.initial!.rich_accounts!.map((r) => r.id)).toEqual([1]);

    await h.apply([account(2, bob, 2, 20n)]); // re-runs, same result
    await h.apply([account(3, bob, 2, 99n)]); // re-runs, same result
    await h.settle();
    expect(h.evals('rich_accounts')).toBe(3);
    expect(m.updates).toEqual([]);

    await h.apply([account(2, bob, 2, 100n)]); // enters
    await h.apply([account(1, alice, 3, 150n)]); // changes: delete + insert, paired by primary key
    await h.apply([aop({ kind: 1, id: 2, who: OWNER })]); // leaves
    await h.settle();
    expect(m.updates.map((u) => [ids(u, 'deletes'), ids(u, 'inserts')])).toEqual([
      [[], [2]],
      [[1], [1]],
      [[2], []],
    ]);
    expect(m.updates[1]![0]!.inserts[0]).toMatchObject({ id: 1, team: 3, balance: 150n });
    expect(m.problems).toEqual([]);
  });

  it('a view without a primary key changes by whole rows', async () => {
    const h = await open();
    await h.apply([member(1, alice, 1), member(2, bob, 1)]);
    const m = h.sub(['SELECT * FROM team_sizes']);
    await m.handle.applied;
    expect(m.initial).toEqual({ team_sizes: [{ team: 1, size: 2 }] });
    await h.apply([member(3, bob, 2)]);
    await h.apply([member(3, bob, 1)]);
    await h.settle();
    expect(m.updates).toEqual([
      [{ table: 'team_sizes', inserts: [{ team: 2, size: 1 }], deletes: [] }],
      [
        {
          table: 'team_sizes',
          inserts: [{ team: 1, size: 3 }],
          deletes: [
            { team: 1, size: 2 },
            { team: 2, size: 1 },
          ],
        },
      ],
    ]);
  });

  it('sender views are computed for each subscriber, and reach only the identity whose rows changed', async () => {
    const h = await open();
    await h.apply([account(1, alice, 1, 1n), account(2, bob, 1, 2n), account(3, OWNER, 1, 3n)]);
    const a = h.sub(['SELECT * FROM my_accounts'], alice);
    const b = h.sub(['SELECT * FROM my_accounts'], bob);
    const bq = h.sub(['SELECT * FROM my_notes', 'SELECT * FROM my_accounts WHERE balance > 5'], bob);
    await Promise.all([a, b, bq].map((m) => m.handle.applied));
    expect(a.initial!.my_accounts!.map((r) => r.id)).toEqual([1]);
    expect(b.initial!.my_accounts!.map((r) => r.id)).toEqual([2]);
    expect(bq.initial).toEqual({ my_notes: [], my_accounts: [] });
    await h.apply([account(4, alice, 1, 9n)]);
    await h.apply([account(5, bob, 1, 9n), aop({ kind: 4, id: 1, who: bob, ref: 5 })]);
    await h.settle();
    expect(a.updates.map((u) => ids(u, 'inserts'))).toEqual([[4]]);
    expect(b.updates.map((u) => ids(u, 'inserts'))).toEqual([[5]]);
    expect(bq.updates.map((u) => u.map((t) => [t.table, t.inserts.map((r) => r.id)]).sort())).toEqual([
      [
        ['my_accounts', [5]],
        ['my_notes', [1]],
      ],
    ]);
    // db.subscribe defaults the sender to the owner.
    const db = databaseFacade(h.engine);
    const rows: unknown[] = [];
    const own = db.subscribe(['SELECT * FROM my_accounts'], { onApplied: (r) => rows.push(...r.my_accounts!) }, { confirmedReads: false });
    await own.applied;
    expect(rows).toEqual([expect.objectContaining({ id: 3 })]);
    own.unsubscribe();
  });

  it('a view that throws when re-run ends only the subscriptions reading it, after the updates queued before', async () => {
    const h = await open();
    await h.apply([account(1, alice, 0, 1n)]);
    const fragile = h.sub(['SELECT * FROM fragile', 'SELECT * FROM account']); // confirmed reads: ordered after durability
    const confirmed = h.sub(['SELECT * FROM fragile'], OWNER, true);
    const rich = h.sub(['SELECT * FROM rich_accounts']);
    const accounts = h.sub(['SELECT * FROM account']);
    await Promise.all([fragile, confirmed, rich, accounts].map((m) => m.handle.applied));

    // Two transactions before anyone hears of the first: the first update arrives, then the error.
    const first = h.apply([account(2, bob, 0, 200n)]);
    const second = h.apply([account(3, bob, 0, 13n)]);
    await Promise.all([first, second]);
    await h.settle();
    for (const m of [fragile, confirmed]) {
      expect(m.updates.map((u) => u.find((t) => t.table === 'fragile')?.inserts.map((r) => r.id))).toEqual([[2]]);
      expect(m.errors).toHaveLength(1);
      expect(m.errors[0]).toBeInstanceOf(SqlError);
      expect((m.errors[0] as SqlError).code).toBe('VIEW_FAILED');
      expect(m.errors[0]!.message).toBe('view fragile failed: unlucky balance; the subscriptions reading fragile ended (subscribe again once it evaluates without error)');
      expect(m.handle.active).toBe(false);
    }
    // The transaction committed, and everyone else heard of it.
    expect(rich.updates.map((u) => ids(u, 'inserts'))).toEqual([[2]]);
    expect(accounts.updates.map((u) => ids(u, 'inserts'))).toEqual([[2], [3]]);
    expect(accounts.handle.active).toBe(true);
    expect(h.live.stats().sources).toBe(1);

    // Nothing more for the ended ones; a new subscription is refused while the view throws…
    await h.apply([account(4, bob, 0, 5n)]);
    const again = h.sub(['SELECT * FROM fragile']);
    await expect(again.handle.applied).rejects.toMatchObject({ code: 'VIEW_FAILED' });
    await h.settle();
    expect(fragile.updates).toHaveLength(1);
    // …and accepted once it does not.
    await h.apply([aop({ kind: 1, id: 3, who: OWNER })]);
    const fixed = h.sub(['SELECT * FROM fragile']);
    await fixed.handle.applied;
    expect(fixed.initial!.fragile!.map((r) => r.id).sort()).toEqual([1, 2, 4]);
  });

  it('re-run between the transactions of a procedure', async () => {
    const h = await open();
    const m = h.sub(['SELECT * FROM rich_accounts']);
    const mine = h.sub(['SELECT * FROM my_accounts'], alice);
    await Promise.all([m.handle.applied, mine.handle.applied]);
    await expect(h.engine.call('deposit_twice', [7, alice])).resolves.toBe(200n);
    await h.settle();
    expect(m.updates.map((u) => u[0]!.inserts.map((r) => r.balance))).toEqual([[100n], [200n]]);
    expect(changesOf(mine)).toEqual([
      [[], [7]],
      [[7], [7]],
    ]);
  });

  it('a query set of a client is refused while a view throws; the client goes on', async () => {
    const h = await open();
    await h.apply([account(1, alice, 0, 13n)]);
    const errors: Error[] = [];
    const client = h.live.connect({ sender: owner.__identity__, confirmedReads: false, onError: (e) => errors.push(e) });
    const bad = client.subscribe(['SELECT * FROM fragile']);
    await expect(bad.applied).rejects.toMatchObject({ code: 'VIEW_FAILED' });
    const good = client.subscribe(['SELECT * FROM rich_accounts']);
    await expect(good.applied).resolves.toBeUndefined();
    expect(client.active).toBe(true);
    expect(h.live.stats()).toMatchObject({ plans: 1, sources: 1 });
    client.close();
    await expect(client.subscribe(['SELECT * FROM rich_accounts']).applied).rejects.toBeInstanceOf(ClosedError);
    expect(errors).toEqual([]);
  });
});
