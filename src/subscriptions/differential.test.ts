// Randomized differential test of live queries: thousands of random transactions through the
// fixture module's reducers, and after each one every subscription's accumulated result (its
// onApplied, then each onUpdate) must equal a fresh run of its queries through db.sql; it must
// have received an update exactly when that result changed. A client also adds and removes
// overlapping query sets as it goes. Set LIVE_SEED to replay a failure (LIVE_TXS for more).
import { describe, expect, it } from 'vitest';
import { databaseFacade } from '../api/database.ts';
import { randomIdentity } from '../engine/engine.ts';
import { bundleModule } from '../host/bundle.ts';
import { applyBatch, churningClient, op, prng, q, rowText, specSubscriptions, sqlOracle, type Op, type Spec } from './fixtures/helpers.ts';
import { liveHarness } from './fixtures/harness.ts';
import type { SubscriptionHandle, TableUpdate } from './types.ts';

const SEED = Number(process.env.LIVE_SEED ?? 0x5eed);
const TXS = Number(process.env.LIVE_TXS ?? 2000);
const owner = randomIdentity();
const alice = randomIdentity().toHexString();
const code = (await bundleModule('src/subscriptions/fixtures/live.ts')).code;

const M = 'message';

const SPECS: Spec[] = [
  { name: 'all messages', queries: [q(M, 'SELECT * FROM message')] },
  ...[0, 1, 2, 3, 4, 5].map((r) => ({ name: `room ${r}`, queries: [q(M, `SELECT * FROM message WHERE room_id = ${r}`)] })),
  { name: 'room 2 (identical, 2nd)', queries: [q(M, 'SELECT * FROM "message" WHERE "message"."room_id" = 2')] },
  { name: 'room 2 (identical, confirmed)', queries: [q(M, 'select * from message where room_id = 2')], confirmed: true },
  { name: 'score < 0', queries: [q(M, 'SELECT * FROM message WHERE score < 0')] },
  { name: 'score range', queries: [q(M, 'SELECT * FROM message WHERE score >= -5 AND score <= 7')] },
  { name: 'score = i64 min', queries: [q(M, 'SELECT * FROM message WHERE score = -9223372036854775808')] },
  { name: 'big > 2^63-1', queries: [q(M, 'SELECT * FROM message WHERE big > 9223372036854775807')] },
  { name: 'big in [2^63, 2^64-1)', queries: [q(M, 'SELECT * FROM message WHERE big >= 9223372036854775808 AND big < 18446744073709551615')] },
  { name: 'big <= 1 or flag', queries: [q(M, 'SELECT * FROM message WHERE big <= 1 OR flag = true')] },
  { name: 'author > x\\uE000 (UTF-8 order)', queries: [q(M, "SELECT * FROM message WHERE author > 'x\uE000'")] },
  { name: 'author < x\\u{10000}', queries: [q(M, "SELECT * FROM message WHERE author < 'x\u{10000}' AND author <> ''")] },
  { name: 'author é or 😀', queries: [q(M, "SELECT * FROM message WHERE author = 'é' OR author = '😀'")] },
  { name: 'weight > 0.5 (NaN)', queries: [q(M, 'SELECT * FROM message WHERE weight > 0.5')] },
  { name: 'not weight > 0 (NaN is unknown)', queries: [q(M, 'SELECT * FROM message WHERE NOT (weight > 0)')] },
  { name: 'flag', queries: [q(M, 'SELECT * FROM message WHERE flag')] },
  { name: 'room 1 and score > 0', queries: [q(M, 'SELECT * FROM message WHERE room_id = 1 AND score > 0')] },
  { name: 'room 3 and score > 0', queries: [q(M, 'SELECT * FROM message WHERE score > 0 AND room_id = 3')] },
  { name: 'rooms of kind 1', queries: [q('room', 'SELECT * FROM room WHERE kind = 1')] },
  { name: 'rooms named >= b', queries: [q('room', "SELECT * FROM room WHERE name >= 'b'")] },
  { name: 'tags x', queries: [q('tag', "SELECT * FROM tag WHERE label = 'x'")] },
  { name: 'secret (owner)', queries: [q('secret', 'SELECT * FROM secret')] },
  { name: 'join: messages in rooms of kind 1', queries: [q(M, 'SELECT m.* FROM message m JOIN room r ON m.room_id = r.id WHERE r.kind = 1')] },
  { name: 'join: rooms with a positive message', queries: [q('room', 'SELECT r.* FROM message m JOIN room r ON m.room_id = r.id WHERE m.score > 0')] },
  { name: 'join: messages tagged x', queries: [q(M, "SELECT message.* FROM message JOIN tag ON message.room_id = tag.room_id WHERE tag.label = 'x'")] },
  { name: 'join: tags of room b or y', queries: [q('tag', "SELECT t.* FROM room r JOIN tag t ON r.id = t.room_id WHERE r.name = 'b' OR t.label = 'y'")] },
  { name: 'join: messages of room a', queries: [q(M, "SELECT m.* FROM room r JOIN message m ON r.id = m.room_id WHERE r.name = 'a'")] },
  { name: 'join: messages of room é', queries: [q(M, "SELECT m.* FROM room r JOIN message m ON r.id = m.room_id WHERE r.name = 'é' AND m.flag = false")] },
  { name: 'join: rooms named by an author', queries: [q('room', 'SELECT r.* FROM room r JOIN message m ON r.id = m.room_id WHERE m.author = r.name')] },
  { name: 'join: my rooms (owner)', queries: [q(M, 'SELECT m.* FROM message m JOIN member b ON m.room_id = b.room_id WHERE b.who = :sender')] },
  { name: 'join: my rooms (alice)', queries: [q(M, 'SELECT m.* FROM message m JOIN member b ON m.room_id = b.room_id WHERE b.who = :sender')], sender: alice },
  { name: 'self-join', queries: [q(M, 'SELECT a.* FROM message a JOIN message b ON a.room_id = b.room_id WHERE b.score < 0 AND a.id <> b.id')] },
  { name: 'join: many-to-many, no where', queries: [q(M, 'SELECT m.* FROM message m JOIN tag t ON m.room_id = t.room_id')], confirmed: true },
  {
    name: 'overlapping set',
    queries: [
      q(M, 'SELECT * FROM message WHERE score < 0'),
      q(M, 'SELECT * FROM message WHERE room_id = 2'),
      q(M, 'SELECT m.* FROM message m JOIN room r ON m.room_id = r.id WHERE r.kind = 1'),
      q('room', 'SELECT * FROM room WHERE kind = 1'),
    ],
  },
  { name: 'two direct tables', queries: [q(M, 'SELECT * FROM message WHERE room_id = 2'), q('room', 'SELECT * FROM room WHERE kind = 1')] },
  { name: 'overlapping set with a join', queries: [q(M, 'SELECT m.* FROM message m JOIN tag t ON m.room_id = t.room_id'), q(M, 'SELECT * FROM message WHERE flag')] },
];

/** Event-table subscriptions, checked against the pings each transaction inserted. */
const EVENT_SPECS = [
  { name: 'pings of room 2', sql: 'SELECT * FROM ping WHERE room_id = 2', match: (p: Op, kind1: Set<number>) => (void kind1, p.room === 2) },
  { name: 'pings of rooms of kind 1', sql: 'SELECT p.* FROM ping p JOIN room r ON p.room_id = r.id WHERE r.kind = 1', match: (p: Op, kind1: Set<number>) => kind1.has(p.room) },
];

const AUTHORS = ['', 'a', 'b', 'é', 'x\uE000', 'x\u{10000}', 'x\uFFFD', 'zz', '😀'];
const SCORES = [-(2n ** 63n), -5n, -1n, 0n, 1n, 7n, 8n, 2n ** 63n - 1n];
const BIGS = [0n, 1n, 2n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 63n + 5n, 2n ** 64n - 1n, 12345n];
const WEIGHTS = [-1.5, 0, -0, 0.5, 2, NaN, Infinity];
const NAMES = ['a', 'b', 'c', 'é', '😀'];
const LABELS = ['x', 'y', 'z'];

function randomOps(rnd: () => number): Op[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const int = (n: number) => Math.floor(rnd() * n);
  const ops: Op[] = [];
  for (let i = 0, n = 1 + int(4); i < n; i++) {
    const r = rnd();
    const room = int(6);
    if (r < 0.35) {
      ops.push(
        op({ kind: 0, id: BigInt(int(30)), room, author: pick(AUTHORS), score: rnd() < 0.8 ? pick(SCORES) : BigInt(int(200) - 100), big: pick(BIGS), flag: rnd() < 0.5, weight: pick(WEIGHTS) }),
      );
    } else if (r < 0.5) ops.push(op({ kind: 1, id: BigInt(int(30)) }));
    else if (r < 0.6) ops.push(op({ kind: 2, room, name: pick(NAMES), rkind: int(3) }));
    else if (r < 0.65) ops.push(op({ kind: 3, room }));
    else if (r < 0.73) ops.push(op({ kind: 4, room, label: pick(LABELS) }));
    else if (r < 0.79) ops.push(op({ kind: 5, room, label: pick(LABELS) }));
    else if (r < 0.85) ops.push(op({ kind: 6, room, rkind: int(3) }));
    else if (r < 0.9) ops.push(op({ kind: rnd() < 0.6 ? 7 : 8, id: BigInt(int(5)), room }));
    else ops.push(op({ kind: rnd() < 0.7 ? 9 : 10, id: BigInt(int(6)), room }));
  }
  return ops;
}

/** Query sets the churning client picks from (they overlap each other and the table choice). */
const CHURN: [string, string][][] = [
  [q(M, 'SELECT * FROM message WHERE room_id = 1')],
  [q(M, 'SELECT * FROM message WHERE score > 0'), q('room', 'SELECT * FROM room')],
  [q(M, 'SELECT m.* FROM message m JOIN room r ON m.room_id = r.id WHERE r.kind = 1')],
  [q(M, 'SELECT * FROM message WHERE room_id = 1'), q(M, 'SELECT * FROM message WHERE room_id = 1')],
  [q('room', 'SELECT * FROM room WHERE kind = 1'), q('tag', 'SELECT * FROM tag')],
  [q('tag', "SELECT t.* FROM room r JOIN tag t ON r.id = t.room_id WHERE r.name = 'b' OR t.label = 'y'")],
];

const open = liveHarness<Op>('live-diff', code, owner);

describe(`live queries against a fresh db.sql after every transaction (seed ${SEED}, LIVE_SEED to replay)`, () => {
  it(`${TXS} random transactions keep every subscription equal to its query`, async () => {
    const { engine, live } = await open();
    const db = databaseFacade(engine);
    const rnd = prng(SEED);
    const where = (tx: number, what: string) => `seed ${SEED} (LIVE_SEED=${SEED}), transaction ${tx}: ${what}`;
    // Some state before subscribing, so that onApplied has rows to deliver.
    for (let i = 0; i < 20; i++) await db.call('apply', [randomOps(rnd)]);

    const oracle = sqlOracle(db);
    const subs = specSubscriptions(live, SPECS, owner.toHexString(), oracle);
    const events = EVENT_SPECS.map((spec) => {
      const got: TableUpdate[][] = [];
      const problems: string[] = [];
      let initial: unknown;
      const handle: SubscriptionHandle = live.subscribe(
        [spec.sql],
        { onApplied: (rows) => (initial = rows), onUpdate: (u) => got.push(u), onError: (e) => problems.push(e.message) },
        { sender: owner.__identity__, confirmedReads: false },
      );
      return { spec, got, problems, handle, initial: () => initial };
    });
    // A client whose query sets come and go: its cache must always equal the union of the active sets.
    const confirmedChurn = rnd() < 0.5;
    const churn = churningClient({
      connect: (cb) => live.connect({ sender: owner.__identity__, confirmedReads: confirmedChurn, ...cb }),
      settled: async () => {
        await engine.exclusive(() => {});
        await live.settled();
      },
      oracle,
      sets: CHURN,
      maxActive: 4,
      rnd,
    });
    await Promise.all(events.map((e) => e.handle.applied));
    for (const e of events) expect(e.initial(), where(0, `${e.spec.name}: event tables are not part of onApplied`)).toEqual({});

    await subs.applied((what) => where(0, what));

    let failed = 0;
    for (let tx = 1; tx <= TXS; tx++) {
      if (rnd() < 0.05) {
        await churn.step();
        await churn.check(new Map(), (what) => where(tx, `${what} (just changed)`));
      }
      const ops = randomOps(rnd);
      const fail = rnd() < 0.04;
      const sender = rnd() < 0.5 ? alice : undefined;
      subs.before();
      const eventCounts = events.map((e) => e.got.length);
      await applyBatch(db, ops, fail, sender);
      if (fail) failed++;
      await live.settled();

      const cache = new Map<string, string[]>();
      await subs.after(ops, cache, (what) => where(tx, what));
      await churn.check(cache, (what) => where(tx, what));

      // Event subscriptions: exactly this transaction's matching pings, as inserts.
      const pings = fail ? [] : ops.filter((o) => o.kind === 6);
      const kind1 = new Set((await db.sql('SELECT id FROM room WHERE kind = 1')).map((r) => r.id as number));
      for (const [i, e] of events.entries()) {
        if (e.problems.length) expect.fail(where(tx, `${e.spec.name}: ${e.problems.join('; ')}`));
        const want = [...new Set(pings.filter((p) => e.spec.match(p, kind1)).map((p) => rowText({ room_id: p.room, n: p.rkind })))].sort();
        const fresh = e.got.slice(eventCounts[i]);
        if (fresh.length > 1) expect.fail(where(tx, `${e.spec.name} received ${fresh.length} updates`));
        const update = fresh[0] ?? [];
        if (update.some((t) => t.deletes.length > 0)) expect.fail(where(tx, `${e.spec.name} received deletes`));
        const have = update.flatMap((t) => t.inserts.map(rowText)).sort();
        expect(have, where(tx, `${e.spec.name} pings`)).toEqual(want);
      }
    }
    expect(failed).toBeGreaterThan(0);
    subs.unsubscribe();
    for (const e of events) e.handle.unsubscribe();
    churn.close();
    expect(live.stats()).toEqual({ subscribers: 0, plans: 0, groups: 0, sources: 0 });
  }, 60_000);
});
