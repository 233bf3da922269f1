// Refused subscription queries: each ends the subscription through onError with a SqlError whose
// code and message say why (as SpacetimeDB does), `applied` rejects with it, no rows arrive, and
// one refused query refuses its whole set. Views that fail when first evaluated are refused alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomIdentity } from '../engine/engine.ts';
import { SqlError, UsageError } from '../errors.ts';
import { openDatabase, type NodeDatabase } from '../node/open-database.ts';

const stranger = randomIdentity().toHexString();

/** Subscribes and returns the error it ended with (and checks that nothing else happened). */
async function refusal(db: NodeDatabase, queries: string[], sender?: string): Promise<SqlError> {
  const errors: Error[] = [];
  let applied = false;
  const sub = db.subscribe(queries, { onApplied: () => (applied = true), onError: (e) => errors.push(e) }, sender ? { sender } : {});
  const err = await sub.applied.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(applied).toBe(false);
  expect(errors).toHaveLength(1);
  expect(err).toBe(errors[0]);
  expect(sub.active).toBe(false);
  expect(err).toBeInstanceOf(SqlError);
  return err as SqlError;
}

describe('refused subscription queries', () => {
  let db: NodeDatabase;
  beforeAll(async () => {
    db = await openDatabase({ name: 'live-errors', module: 'src/subscriptions/fixtures/live.ts' });
  });
  afterAll(async () => {
    await db?.close();
  });

  const cases: [string, string, string, RegExp][] = [
    ['unknown table', 'SELECT * FROM nope', 'UNKNOWN_TABLE', /^no such table: nope \(tables: room, message, tag, secret, member, ping\)/],
    ['unknown column', 'SELECT * FROM message WHERE nope = 1', 'UNKNOWN_COLUMN', /table message has no column nope \(columns: id, room_id, author/],
    ['unknown alias', 'SELECT m.* FROM message m JOIN room r ON m.room_id = r.id WHERE x.id = 1', 'UNKNOWN_TABLE', /x in x.id is not a table of this query/],
    ['unindexed join column', 'SELECT m.* FROM message m JOIN room r ON m.author = r.name', 'UNINDEXED_JOIN', /^Subscriptions require indexes on join columns: message.author has no index/],
    [
      'event table on the lookup side',
      'SELECT r.* FROM room r JOIN ping p ON r.id = p.room_id',
      'EVENT_TABLE_LOOKUP',
      /^Event tables cannot be used as the lookup table in subscription joins: ping is an event table/,
    ],
    ['join columns of different types', 'SELECT m.* FROM message m JOIN room r ON m.id = r.id', 'TYPE_MISMATCH', /cannot join message.id \(u64\) with room.id \(u32\)/],
    ['literal of the wrong type', "SELECT * FROM message WHERE room_id = 'five'", 'TYPE_MISMATCH', /'five' is not a valid u32 for column room_id/],
    ['u64 literal out of range', 'SELECT * FROM message WHERE big = 18446744073709551616', 'TYPE_MISMATCH', /is not a valid u64 for column big/],
    ['comparing columns of different types', 'SELECT * FROM message WHERE score = big', 'TYPE_MISMATCH', /cannot compare message.score \(i64\) with message.big \(u64\)/],
    ['a projection', 'SELECT id FROM message', 'UNSUPPORTED', /^Subscriptions must be typed to a single table/],
    ['* over a join', 'SELECT * FROM message m JOIN room r ON m.room_id = r.id', 'UNSUPPORTED', /^Subscriptions must be typed to a single table/],
    ['LIMIT', 'SELECT * FROM message LIMIT 5', 'UNSUPPORTED', /^LIMIT is not supported in subscriptions/],
    ['three tables', 'SELECT m.* FROM message m JOIN room r ON m.room_id = r.id JOIN tag t ON t.room_id = r.id', 'UNSUPPORTED', /^Subscriptions support at most two tables/],
    ['DML', 'DELETE FROM message', 'UNSUPPORTED', /^Subscriptions support only SELECT queries, not DELETE/],
    ['a join on something else than two columns', 'SELECT m.* FROM message m JOIN room r ON m.room_id = 1', 'UNSUPPORTED', /join condition must be a single equality of two columns/],
    ['text that does not parse', 'SELECT * FROM', 'PARSE_ERROR', /at 1:14/],
  ];
  for (const [what, sql, code, message] of cases) {
    it(`${what}: ${code}`, async () => {
      const e = await refusal(db, [sql]);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
    });
  }

  it('a private table is the owner’s only', async () => {
    const e = await refusal(db, ['SELECT * FROM secret'], stranger);
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toBe('table secret is private: only the database owner can read it');
    // …also as the joined table
    expect((await refusal(db, ['SELECT m.* FROM message m JOIN secret s ON m.room_id = s.room_id'], stranger)).code).toBe('PERMISSION_DENIED');
    const ok = db.subscribe(['SELECT * FROM secret'], {});
    await expect(ok.applied).resolves.toBeUndefined();
    ok.unsubscribe();
  });

  it('one refused query refuses the whole set', async () => {
    const e = await refusal(db, ['SELECT * FROM message', 'SELECT * FROM nope']);
    expect(e.code).toBe('UNKNOWN_TABLE');
  });

  it('a sender that is not an identity is a UsageError at once', () => {
    expect(() => db.subscribe(['SELECT * FROM message'], {}, { sender: 'not hex' })).toThrow(UsageError);
  });
});

describe('views that cannot be subscribed to', () => {
  let db: NodeDatabase;
  beforeAll(async () => {
    db = await openDatabase({ name: 'live-view-errors', module: 'test/fixtures/views.ts' });
    await db.call('add', ['alice', 30]);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('a view in a join: UNSUPPORTED', async () => {
    const e = await refusal(db, ['SELECT p.* FROM person p JOIN adults_list a ON p.id = a.id']);
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toBe('adults_list is a view: Lightcone cannot join views in subscriptions yet; subscribe to the view alone (SELECT * FROM adults_list WHERE …)');
  });

  it('a view that throws when first evaluated: VIEW_FAILED, and the set is refused', async () => {
    const e = await refusal(db, ['SELECT * FROM adults_list', 'SELECT * FROM broken']);
    expect(e.code).toBe('VIEW_FAILED');
    expect(e.message).toContain('this view is broken');
  });

  it('a view returning a primary key twice: VIEW_DUPLICATE_KEY', async () => {
    const e = await refusal(db, ['SELECT * FROM twice']);
    expect(e.code).toBe('VIEW_DUPLICATE_KEY');
  });

  it('an unknown column of a view: UNKNOWN_COLUMN', async () => {
    const e = await refusal(db, ['SELECT * FROM adults_query WHERE nope = 1']);
    expect(e.code).toBe('UNKNOWN_COLUMN');
  });

  it('after a refused view, other views still subscribe', async () => {
    const ok = db.subscribe(['SELECT * FROM adults_list'], {});
    await expect(ok.applied).resolves.toBeUndefined();
    ok.unsubscribe();
  });
});
