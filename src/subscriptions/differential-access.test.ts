// Randomized differential test of live views and row-level security: random transactions through
// the access fixture, and after each one every subscription — over anonymous and sender views
// (returning rows or query-builder queries, with and without WHERE), and over RLS-protected
// tables by identities other than the owner (rules that filter, rules that join, the lookup side
// of joins) — must equal a fresh db.sql of the same query for the same sender, and must have
// received an update exactly when that changed. Set LIVE_SEED to replay (LIVE_ACCESS_TXS for more).
import { describe, expect, it } from 'vitest';
import { databaseFacade } from '../api/database.ts';
import { randomIdentity } from '../engine/engine.ts';
import { bundleModule } from '../host/bundle.ts';
import { alice, aop, applyBatch, bob, carol, churningClient, prng, q, rowText, specSubscriptions, sqlOracle, type AccessOp, type Spec } from './fixtures/helpers.ts';
import { liveHarness } from './fixtures/harness.ts';
import type { SubscriptionHandle, TableUpdate } from './types.ts';

const SEED = Number(process.env.LIVE_SEED ?? 0xacce55);
const TXS = Number(process.env.LIVE_ACCESS_TXS ?? 700);
const owner = randomIdentity();
const OWNER = owner.toHexString();
const WHO = [OWNER, alice, bob, carol];
const code = (await bundleModule('src/subscriptions/fixtures/access.ts')).code;

const NOTE_VIA_ACCOUNT = 'SELECT n.* FROM note n JOIN account a ON n.account_id = a.id';

const SPECS: Spec[] = [
  // Anonymous views: one evaluation shared by everyone.
  { name: 'rich_accounts (owner)', queries: [q('rich_accounts', 'SELECT * FROM rich_accounts')] },
  { name: 'rich_accounts (alice)', queries: [q('rich_accounts', 'SELECT * FROM rich_accounts')], sender: alice },
  { name: 'rich_accounts of team 1', queries: [q('rich_accounts', 'SELECT * FROM rich_accounts WHERE team = 1')], sender: alice },
  { name: 'rich_accounts of team 2', queries: [q('rich_accounts', 'SELECT * FROM rich_accounts WHERE team = 2')], sender: bob, confirmed: true },
  { name: 'rich_accounts I own', queries: [q('rich_accounts', 'SELECT * FROM rich_accounts WHERE owner = :sender')], sender: bob },
  { name: 'shared_notes (query builder)', queries: [q('shared_notes', 'SELECT * FROM shared_notes')], sender: carol },
  { name: 'shared_notes of team 2', queries: [q('shared_notes', "SELECT * FROM shared_notes WHERE team = 2 AND text <> 'b'")] },
  { name: 'team_sizes (no primary key)', queries: [q('team_sizes', 'SELECT * FROM team_sizes')] },
  { name: 'team_sizes >= 2', queries: [q('team_sizes', 'SELECT * FROM team_sizes WHERE size >= 2')], sender: alice },
  // Sender views: one evaluation per identity.
  ...[OWNER, alice, bob].map((who, i) => ({ name: `my_accounts (${['owner', 'alice', 'bob'][i]})`, queries: [q('my_accounts', 'SELECT * FROM my_accounts')], sender: who })),
  { name: 'my_accounts > 50 (carol)', queries: [q('my_accounts', 'SELECT * FROM my_accounts WHERE balance > 50')], sender: carol },
  { name: 'my_notes (alice)', queries: [q('my_notes', 'SELECT * FROM my_notes')], sender: alice },
  { name: 'my_notes (bob)', queries: [q('my_notes', 'SELECT * FROM my_notes')], sender: bob, confirmed: true },
  { name: 'my_membership (alice)', queries: [q('my_membership', 'SELECT * FROM my_membership')], sender: alice },
  { name: 'my_membership (carol)', queries: [q('my_membership', 'SELECT * FROM my_membership')], sender: carol },
  // Row-level security.
  ...[alice, bob, carol].map((who, i) => ({ name: `account under RLS (${['alice', 'bob', 'carol'][i]})`, queries: [q('account', 'SELECT * FROM account')], sender: who })),
  { name: 'account > 50 under RLS', queries: [q('account', 'SELECT * FROM account WHERE balance > 50')], sender: alice },
  { name: 'account of team 1 under RLS', queries: [q('account', 'SELECT * FROM account WHERE team = 1')], sender: bob, confirmed: true },
  { name: 'member under RLS (alice)', queries: [q('member', 'SELECT * FROM member')], sender: alice },
  { name: 'member under RLS (bob)', queries: [q('member', 'SELECT * FROM member WHERE team <> 3')], sender: bob },
  { name: 'note under RLS (alice)', queries: [q('note', 'SELECT * FROM note')], sender: alice },
  { name: 'note of team 1 under RLS (carol)', queries: [q('note', 'SELECT * FROM note WHERE team = 1')], sender: carol },
  { name: 'join, lookup side under a joining rule', queries: [q('note', NOTE_VIA_ACCOUNT)], sender: alice },
  { name: 'join, returned side under a joining rule', queries: [q('account', 'SELECT a.* FROM account a JOIN note n ON a.id = n.account_id WHERE n.shared = true')], sender: bob },
  { name: 'join of members under the self-join rule', queries: [q('note', 'SELECT n.* FROM note n JOIN member m ON n.team = m.team WHERE m.who = :sender')], sender: carol },
  { name: 'self-join, both sides under filtering rules', queries: [q('note', "SELECT a.* FROM note a JOIN note b ON a.team = b.team WHERE b.text = 'a' AND a.id <> b.id")], sender: alice },
  { name: 'badge under RLS (alice)', queries: [q('badge', 'SELECT * FROM badge')], sender: alice },
  { name: 'badge of team 1 under RLS (bob)', queries: [q('badge', 'SELECT * FROM badge WHERE team = 1')], sender: bob },
  { name: 'badge self-join, both sides under filtering rules', queries: [q('badge', 'SELECT b.* FROM badge b JOIN badge c ON b.team = c.team WHERE c.level = 3 AND b.id <> c.id')], sender: carol },
  { name: 'join, lookup side under filtering rules', queries: [q('other', 'SELECT o.* FROM other o JOIN badge b ON o.v = b.team')], sender: alice },
  { name: 'join, returned side under filtering rules', queries: [q('badge', 'SELECT b.* FROM other o JOIN badge b ON o.v = b.team WHERE o.id = 1')], sender: bob },
  { name: 'no rules on other', queries: [q('other', 'SELECT * FROM other')], sender: alice },
  // The owner bypasses RLS.
  { name: 'account (owner)', queries: [q('account', 'SELECT * FROM account')] },
  { name: 'join (owner)', queries: [q('note', NOTE_VIA_ACCOUNT)] },
  {
    name: 'overlapping set (alice)',
    queries: [
      q('account', 'SELECT * FROM account'),
      q('account', 'SELECT * FROM account WHERE balance > 50'),
      q('rich_accounts', 'SELECT * FROM rich_accounts'),
      q('my_accounts', 'SELECT * FROM my_accounts'),
      q('note', 'SELECT * FROM note WHERE shared = true'),
      q('note', NOTE_VIA_ACCOUNT),
    ],
    sender: alice,
  },
];

/** Query sets a churning client (bob) picks from: views, RLS and both, overlapping. */
const CHURN: [string, string][][] = [
  [q('account', 'SELECT * FROM account')],
  [q('account', 'SELECT * FROM account WHERE team = 1'), q('rich_accounts', 'SELECT * FROM rich_accounts')],
  [q('my_accounts', 'SELECT * FROM my_accounts'), q('note', NOTE_VIA_ACCOUNT)],
  [q('rich_accounts', 'SELECT * FROM rich_accounts WHERE team = 1'), q('rich_accounts', 'SELECT * FROM rich_accounts')],
  [q('note', 'SELECT * FROM note'), q('member', 'SELECT * FROM member')],
];

const BALANCES = [0n, 50n, 51n, 99n, 100n, 150n, 2n ** 64n - 1n];
const TEXTS = ['a', 'b', 'é'];

function randomOps(rnd: () => number): AccessOp[] {
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const ops: AccessOp[] = [];
  for (let i = 0, n = 1 + int(3); i < n; i++) {
    const r = rnd();
    const who = pick(WHO);
    const team = int(4);
    if (r < 0.25) ops.push(aop({ kind: 0, id: int(10), who, team, balance: pick(BALANCES) }));
    else if (r < 0.33) ops.push(aop({ kind: 1, id: int(10), who }));
    else if (r < 0.48) ops.push(aop({ kind: 2, id: int(8), who, team }));
    else if (r < 0.56) ops.push(aop({ kind: 3, id: int(8), who }));
    else if (r < 0.74) ops.push(aop({ kind: 4, id: int(10), who, team, ref: int(10), shared: rnd() < 0.4, text: pick(TEXTS) }));
    else if (r < 0.8) ops.push(aop({ kind: 5, id: int(10), who }));
    else if (r < 0.88) ops.push(aop({ kind: 6, who, team }));
    else if (r < 0.92) ops.push(aop({ kind: 7, id: int(3), who, team }));
    else if (r < 0.97) ops.push(aop({ kind: 8, id: int(6), who, team, ref: int(4) }));
    else ops.push(aop({ kind: 9, id: int(6), who }));
  }
  return ops;
}

const open = liveHarness<AccessOp>('live-access-diff', code, owner);

describe(`live views and row-level security against a fresh db.sql after every transaction (seed ${SEED}, LIVE_SEED to replay)`, () => {
  it(`${TXS} random transactions keep every view and RLS subscription equal to its query`, async () => {
    const { engine, live } = await open();
    const db = databaseFacade(engine);
    const rnd = prng(SEED);
    const where = (tx: number, what: string) => `seed ${SEED} (LIVE_SEED=${SEED}), transaction ${tx}: ${what}`;
    for (let i = 0; i < 15; i++) await db.call('apply', [randomOps(rnd)]);

    const oracle = sqlOracle(db);
    const subs = specSubscriptions(live, SPECS, OWNER, oracle);
    // Alerts (an event table) of alice under RLS: exactly her alerts of each transaction, as inserts.
    const alerts: TableUpdate[][] = [];
    const alertErrors: string[] = [];
    const alertSub: SubscriptionHandle = live.subscribe(
      ['SELECT * FROM alert'],
      { onUpdate: (u) => alerts.push(u), onError: (e) => alertErrors.push(e.message) },
      { sender: BigInt(`0x${alice}`), confirmedReads: false },
    );
    // A client whose query sets come and go: its cache must always equal the union of the active sets.
    const churn = churningClient({
      connect: (cb) => live.connect({ sender: BigInt(`0x${bob}`), confirmedReads: false, ...cb }),
      settled: async () => {
        await engine.exclusive(() => {});
        await live.settled();
      },
      oracle,
      sets: CHURN,
      maxActive: 3,
      rnd,
      sender: bob,
    });

    await alertSub.applied;
    await subs.applied((what) => where(0, what));

    let failed = 0;
    for (let tx = 1; tx <= TXS; tx++) {
      if (rnd() < 0.06) {
        await churn.step();
        await churn.check(new Map(), (what) => where(tx, `${what} (just changed)`));
      }
      const ops = randomOps(rnd);
      const fail = rnd() < 0.04;
      const sender = pick4(rnd);
      subs.before();
      const alertCount = alerts.length;
      await applyBatch(db, ops, fail, sender === OWNER ? undefined : sender);
      if (fail) failed++;
      await live.settled();

      const cache = new Map<string, string[]>();
      await subs.after(ops, cache, (what) => where(tx, what));
      await churn.check(cache, (what) => where(tx, what));

      if (alertErrors.length) expect.fail(where(tx, `alerts: ${alertErrors.join('; ')}`));
      const want = fail ? [] : [...new Set(ops.filter((o) => o.kind === 6 && o.who === alice).map((o) => rowText({ who: o.who, n: o.team })))].sort();
      const fresh = alerts.slice(alertCount);
      if (fresh.length > 1) expect.fail(where(tx, `alerts: ${fresh.length} updates`));
      const have = (fresh[0] ?? []).flatMap((t) => t.inserts.map((r) => rowText({ who: (r.who as { toHexString(): string }).toHexString(), n: r.n }))).sort();
      expect(have, where(tx, 'alerts of alice')).toEqual(want);
    }
    expect(failed).toBeGreaterThan(0);
    for (const [i, spec] of SPECS.entries()) expect(subs.changes[i], `${spec.name} never changed`).toBeGreaterThan(0);
    subs.unsubscribe();
    alertSub.unsubscribe();
    churn.close();
    expect(live.stats()).toEqual({ subscribers: 0, plans: 0, groups: 0, sources: 0 });
  }, 60_000);
});

function pick4(rnd: () => number): string {
  return WHO[Math.floor(rnd() * WHO.length)]!;
}
