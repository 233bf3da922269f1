// What SpacetimeDB's SDK test clients check against its test modules (sdk-test,
// sdk-test-connect-disconnect), checked here against Lightcone with the official SDK over the
// wire protocol and bindings from `lightcone generate`: every value type as reducer arguments and
// as rows (alone, in arrays, in options, in a wide row), inserts, updates and deletes by unique and
// primary keys as the SDK's row callbacks see them, what a reducer learns about its caller, the
// outcome of a failing reducer, whose calls a client hears about, subscribing and unsubscribing,
// rows matched twice, row-level security, schedules, enums as keys, and connect / disconnect.
// Fixtures: test/fixtures/sdk-modules/.
import { ConnectionId, Identity, SenderError, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { camelCase } from '../src/generate/case.ts';
import { type Loose, nextEvent, type SdkClient, type SdkSession, sdkSession, subscribed } from '../src/generate/fixtures/sdk-session.ts';

const TYPES = 'test/fixtures/sdk-modules/types.ts';

/** A unit variant as the SDK hands it back (with an empty `value`). */
const unit = (tag: string) => ({ tag, value: {} });

const scalars: Record<string, unknown> = {
  u8: 255,
  u16: 65535,
  u32: 2 ** 32 - 1,
  u64: 2n ** 64n - 1n,
  u128: 2n ** 128n - 1n,
  u256: 2n ** 256n - 1n,
  i8: -128,
  i16: -32768,
  i32: -(2 ** 31),
  i64: -(2n ** 63n),
  i128: -(2n ** 127n),
  i256: -(2n ** 255n),
  bool: true,
  f32: 1.5,
  f64: Math.PI,
  string: 'héllo ✓',
  identity: new Identity(0xc200n * 2n ** 240n + 7n),
  connection_id: new ConnectionId(0xabcdef0123456789n),
  timestamp: new Timestamp(1_700_000_000_123_456n),
  duration: new TimeDuration(-1_500_000n),
  uuid: Uuid.parse('0190a9b2-7c1e-7000-8000-000000000001'),
};
/** A second value per type, different from the first. */
const others: Record<string, unknown> = {
  ...Object.fromEntries(Object.entries(scalars).map(([k, v]) => [k, typeof v === 'number' ? 0 : typeof v === 'bigint' ? 1n : v])),
  bool: false,
  string: '',
  f64: -0.25,
  identity: new Identity(1n),
  connection_id: new ConnectionId(1n),
  timestamp: new Timestamp(0n),
  duration: new TimeDuration(0n),
  uuid: Uuid.parse('00000000-0000-4000-8000-000000000002'),
};
/** An array of `kind` values as the SDK holds it: bytes for u8. */
const arrayOf = (kind: string, items: unknown[]) => (kind === 'u8' ? new Uint8Array(items as number[]) : items);
/** Field names as the generated bindings spell them (camelCase). */
const camelKeys = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [camelCase(k), v]));
const samples: Record<string, unknown> = {
  ...scalars,
  color: unit('Blue'),
  payload: { tag: 'Colors', value: [unit('Red'), unit('Green')] },
  unit: {},
  byte: { b: 7 },
  primitives: camelKeys(scalars),
  arrays: camelKeys(Object.fromEntries(Object.entries(scalars).map(([k, v]) => [k, arrayOf(k, [v, others[k]])]))),
};
const keyKinds = ['u8', 'u16', 'u32', 'u64', 'u128', 'u256', 'i8', 'i16', 'i32', 'i64', 'i128', 'i256', 'bool', 'string', 'identity', 'connection_id', 'uuid'];

let s: SdkSession;
let alice: SdkClient;
let bob: SdkClient;
beforeAll(async () => {
  s = await sdkSession(TYPES);
  alice = await s.connect();
  bob = await s.connect();
});
afterAll(async () => {
  await s.close();
});

/** The SDK's handles of a table and a reducer, by their names in the module. */
const tableOf = (c: SdkClient, name: string): Loose => c.conn.db[camelCase(name)];
const call = (c: SdkClient, reducer: string, args: Record<string, unknown> = {}): Promise<void> => c.conn.reducers[camelCase(reducer)](args);
const rows = (c: SdkClient, name: string): unknown[] => [...tableOf(c, name).iter()];

describe('values of every type (sdk-test: insert-primitive, insert-vec, insert-option, insert-struct, insert-*-enum)', () => {
  it('round-trips each type alone, in an array and in an option, into the caller’s cache', async () => {
    const names = Object.keys(samples).flatMap((k) => [`one_${k}`, `vec_${k}`, `option_${k}`]);
    await subscribed(
      alice,
      names.map((n) => `SELECT * FROM ${s.engine.host.schema.tables.find((t) => t.name === n)!.canonicalName}`),
    );
    for (const [kind, value] of Object.entries(samples)) {
      await call(alice, `insert_one_${kind}`, { value });
      await call(alice, `insert_vec_${kind}`, { values: arrayOf(kind, [value, value]) });
      await call(alice, `insert_option_${kind}`, { value });
      await call(alice, `insert_option_${kind}`, { value: undefined });
      // A row of one empty struct is zero bytes, which the SDK's row lists cannot carry: read it with SQL.
      if (kind === 'unit') expect((await s.engine.sql('SELECT * FROM one_unit')).rows).toEqual([{ value: {} }]);
      else expect(rows(alice, `one_${kind}`), kind).toEqual([{ value }]);
      expect(rows(alice, `vec_${kind}`), kind).toEqual([{ values: arrayOf(kind, [value, value]) }]);
      expect(rows(alice, `option_${kind}`).length, kind).toBe(2);
      expect(rows(alice, `option_${kind}`), kind).toContainEqual({ value });
      expect(rows(alice, `option_${kind}`), kind).toContainEqual({ value: undefined });
    }
  });

  it('inserts and deletes a row of every kind at once, and one holding other tables’ rows (insert-delete-large-table)', async () => {
    const row = camelKeys({ ...samples, maybe: 'yes', outcome: { ok: 5 } });
    await subscribed(alice, ['SELECT * FROM large_row', 'SELECT * FROM holds_tables']);
    const inserted = nextEvent<[Loose]>((cb) => tableOf(alice, 'large_row').onInsert(cb));
    await call(alice, 'insert_large_row', row);
    expect((await inserted).args[0]).toEqual(row);
    const deleted = nextEvent<[Loose]>((cb) => tableOf(alice, 'large_row').onDelete(cb));
    await call(alice, 'delete_large_row', row);
    expect((await deleted).args[0]).toEqual(row);
    expect(rows(alice, 'large_row')).toEqual([]);
    // A result column takes either spelling from a caller, and stores `{ ok }` / `{ err }` as the package does.
    await s.engine.call('insert_large_row', { ...row, outcome: { tag: 'ok', value: 6 } });
    expect((await s.engine.sql('SELECT outcome FROM large_row')).rows).toEqual([{ outcome: { ok: 6 } }]);
    await call(alice, 'insert_holds_tables', { one: { value: 1 }, many: { values: new Uint8Array([1, 2]) } });
    expect(rows(alice, 'holds_tables')).toEqual([{ one: { value: 1 }, many: { values: new Uint8Array([1, 2]) } }]);
  });
});

describe('keys (sdk-test: delete-primitive, update-primitive, unique and pk tables)', () => {
  it('shows an update through a primary key as onUpdate(old, new), and a delete as onDelete, for every key type', async () => {
    await subscribed(
      bob,
      keyKinds.map((k) => `SELECT * FROM ${s.engine.host.schema.tables.find((t) => t.name === `pk_${k}`)!.canonicalName}`),
    );
    for (const kind of keyKinds) {
      const key = scalars[kind];
      await call(alice, `insert_pk_${kind}`, { key, data: 1 });
      const updated = nextEvent<[Loose, Loose]>((cb) => tableOf(bob, `pk_${kind}`).onUpdate(cb));
      await call(alice, `update_pk_${kind}`, { key, data: 2 });
      const u = await updated;
      expect([u.tag, u.args], kind).toEqual([
        'Transaction',
        [
          { key, data: 1 },
          { key, data: 2 },
        ],
      ]);
      const deleted = nextEvent<[Loose]>((cb) => tableOf(bob, `pk_${kind}`).onDelete(cb));
      await call(alice, `delete_pk_${kind}`, { key });
      expect((await deleted).args[0], kind).toEqual({ key, data: 2 });
      expect(rows(bob, `pk_${kind}`), kind).toEqual([]);
    }
  });

  it('finds rows through unique keys, and a delete + insert under a unique key is a delete and an insert', async () => {
    await subscribed(
      alice,
      keyKinds.map((k) => `SELECT * FROM ${s.engine.host.schema.tables.find((t) => t.name === `unique_${k}`)!.canonicalName}`),
    );
    for (const kind of keyKinds) {
      const key = scalars[kind];
      await call(alice, `insert_unique_${kind}`, { key, data: 1 });
      await call(alice, `insert_unique_${kind}`, { key: others[kind], data: 9 });
      expect(tableOf(alice, `unique_${kind}`).key.find(key), kind).toEqual({ key, data: 1 });
      await expect(call(alice, `insert_unique_${kind}`, { key, data: 3 }), kind).rejects.toThrow();
      const events: string[] = [];
      tableOf(alice, `unique_${kind}`).onInsert(() => events.push('insert'));
      tableOf(alice, `unique_${kind}`).onDelete(() => events.push('delete'));
      await call(alice, `update_unique_${kind}`, { key, data: 2 });
      expect(tableOf(alice, `unique_${kind}`).key.find(key), kind).toEqual({ key, data: 2 });
      await call(alice, `delete_unique_${kind}`, { key });
      expect(tableOf(alice, `unique_${kind}`).key.find(key), kind).toBeNull();
      expect(events.sort(), kind).toEqual(['delete', 'delete', 'insert']);
      await expect(call(alice, `delete_unique_${kind}`, { key }), kind).rejects.toThrow(SenderError);
    }
  });

  it('keys and indexes on an enum (pk-simple-enum, indexed-simple-enum)', async () => {
    await subscribed(bob, ['SELECT * FROM pk_color', 'SELECT * FROM indexed_color']);
    await call(alice, 'insert_pk_color', { key: unit('Green'), data: 1 });
    const updated = nextEvent<[Loose, Loose]>((cb) => tableOf(bob, 'pk_color').onUpdate(cb));
    await call(alice, 'update_pk_color', { key: unit('Green'), data: 2 });
    expect((await updated).args).toEqual([
      { key: unit('Green'), data: 1 },
      { key: unit('Green'), data: 2 },
    ]);
    await call(alice, 'insert_indexed_color', { color: unit('Red') });
    await call(alice, 'insert_indexed_color', { color: unit('Red') }); // a set: the same row once
    const recolored = nextEvent<[Loose]>((cb) => tableOf(bob, 'indexed_color').onInsert((ctx: Loose, row: Loose) => row.color.tag === 'Blue' && cb(ctx, row)));
    await call(alice, 'recolor', { from: unit('Red'), to: unit('Blue') });
    await recolored;
    expect(rows(bob, 'indexed_color')).toEqual([{ color: unit('Blue') }]);
  });
});

describe('the caller and the outcome (sdk-test: insert-caller-*, insert-call-*, on-reducer, fail-reducer)', () => {
  it('records the caller’s identity and connection id, the call’s time and UUIDs made from it', async () => {
    await subscribed(alice, ['SELECT * FROM one_identity', 'SELECT * FROM one_connection_id', 'SELECT * FROM one_timestamp', 'SELECT * FROM vec_uuid']);
    await call(alice, 'insert_caller_identity');
    await call(alice, 'insert_caller_connection_id');
    expect(rows(alice, 'one_identity')).toContainEqual({ value: alice.identity });
    expect(rows(alice, 'one_connection_id')).toContainEqual({ value: alice.conn.connectionId });
    const stamped = nextEvent<[Loose]>((cb) => tableOf(alice, 'one_timestamp').onInsert(cb));
    await call(alice, 'insert_call_timestamp');
    const stamp = await stamped;
    expect(stamp.args[0].value.microsSinceUnixEpoch).toBeGreaterThan(0n);
    await call(alice, 'insert_call_uuids');
    const uuids = (rows(alice, 'vec_uuid') as { values: Uuid[] }[]).find((r) => r.values.length === 3)!.values;
    expect(uuids.map((u) => u.getVersion())).toEqual(['V4', 'V7', 'V7']);
    expect(uuids[1]!.compareTo(uuids[2]!)).toBeLessThan(0);
  });

  it('a reducer that succeeds resolves after the caller’s cache has its rows; one that fails rejects with its message and changes nothing', async () => {
    await subscribed(alice, ['SELECT * FROM pk_u8']);
    await call(alice, 'insert_pk_u8', { key: 128, data: 0xbeef });
    expect(rows(alice, 'pk_u8')).toEqual([{ key: 128, data: 0xbeef }]);
    await expect(call(alice, 'insert_pk_u8', { key: 128, data: 0xbabe })).rejects.toThrow(/unique/i);
    await expect(call(alice, 'always_fails', { why: 'on purpose' })).rejects.toThrow(new SenderError('on purpose'));
    expect(rows(alice, 'pk_u8')).toEqual([{ key: 128, data: 0xbeef }]);
    await call(alice, 'no_op_succeeds');
  });

  it('the caller sees its own call as a Reducer event, another subscriber as a Transaction; a call that changes no subscribed row reaches no one else', async () => {
    await subscribed(alice, ['SELECT * FROM one_f32']);
    await subscribed(bob, ['SELECT * FROM one_f32']);
    const mine = nextEvent<[Loose]>((cb) => tableOf(alice, 'one_f32').onInsert(cb));
    const theirs = nextEvent<[Loose]>((cb) => tableOf(bob, 'one_f32').onInsert(cb));
    await call(alice, 'insert_one_f32', { value: 0.5 });
    expect([(await mine).tag, (await theirs).tag]).toEqual(['Reducer', 'Transaction']);
    let heard = 0;
    tableOf(bob, 'one_f32').onInsert(() => heard++);
    await call(alice, 'insert_one_f64', { value: 2 });
    await call(bob, 'no_op_succeeds'); // bob's own call comes after alice's: anything for him came first
    expect(heard).toBe(0);
  });
});

describe('subscriptions (sdk-test: subscribe-and-unsubscribe, subscription-error, row-deduplication, rls)', () => {
  it('unsubscribing drops the rows from the cache; a bad query fails the subscription with an error', async () => {
    const c = await s.connect();
    await call(c, 'insert_one_i16', { value: 5 });
    const handle = await subscribed(c, ['SELECT * FROM one_i_16']);
    expect(rows(c, 'one_i16').length).toBeGreaterThan(0);
    await new Promise<void>((resolve) => handle.unsubscribeThen(() => resolve()));
    expect(rows(c, 'one_i16')).toEqual([]);
    await expect(subscribed(c, ['SELECT * FROM no_such_table'])).rejects.toThrow(/no_such_table/);
  });

  it('a row matched by two queries is in the cache once and reported once', async () => {
    const c = await s.connect();
    await subscribed(c, ['SELECT * FROM pk_u32 WHERE key > 10', 'SELECT * FROM pk_u32 WHERE key < 100']);
    let inserts = 0;
    tableOf(c, 'pk_u32').onInsert(() => inserts++);
    await call(c, 'insert_pk_u32', { key: 50, data: 1 });
    expect(rows(c, 'pk_u32')).toEqual([{ key: 50, data: 1 }]);
    expect(inserts).toBe(1);
  });

  it('a row-level security rule shows each client only its own users row', async () => {
    await call(alice, 'insert_user', { name: 'alice' });
    await call(bob, 'insert_user', { name: 'bob' });
    await subscribed(alice, ['SELECT * FROM users']);
    await subscribed(bob, ['SELECT * FROM users']);
    expect(rows(alice, 'users')).toEqual([{ identity: alice.identity, name: 'alice' }]);
    expect(rows(bob, 'users')).toEqual([{ identity: bob.identity, name: 'bob' }]);
  });
});

describe('schedules and identities (sdk-test: scheduled reducers, reauth, reconnect-different-connection-id)', () => {
  it('runs a scheduled reducer as the database, and its row reaches subscribers', async () => {
    await subscribed(alice, ['SELECT * FROM delivered']);
    const delivered = nextEvent<[Loose]>((cb) => tableOf(alice, 'delivered').onInsert(cb));
    await call(alice, 'schedule_message', { text: 'later', delay_ms: 5 });
    const row = (await delivered).args[0];
    expect(row.text).toBe('later');
    expect(row.sender.isEqual(s.engine.identity)).toBe(true);
  });

  it('a token given back yields the same identity on a new connection id', async () => {
    const again = await s.connect({ token: alice.token });
    expect(again.identity.isEqual(alice.identity)).toBe(true);
    expect(again.conn.connectionId.isEqual(alice.conn.connectionId)).toBe(false);
    const fresh = await s.connect();
    expect(fresh.identity.isEqual(alice.identity)).toBe(false);
  });
});

describe('connect and disconnect (sdk-test-connect-disconnect)', () => {
  it('clientConnected sees the connecting identity; clientDisconnected runs when it disconnects, and a new connection sees its row', async () => {
    const cd = await sdkSession('test/fixtures/sdk-modules/connect-disconnect.ts');
    try {
      let ended!: (error: Error | undefined) => void;
      const disconnected = new Promise<Error | undefined>((resolve) => (ended = resolve));
      const first = await cd.connect({ onDisconnect: (e) => ended(e) });
      await subscribed(first, ['SELECT * FROM connected']);
      expect(rows(first, 'connected')).toEqual([{ identity: first.identity }]);
      first.conn.disconnect();
      expect(await disconnected).toBeUndefined();
      expect(first.conn.isActive).toBe(false);
      const second = await cd.connect();
      await subscribed(second, ['SELECT * FROM disconnected']);
      // The disconnect hook of the first connection ran before the second could read.
      let seen = rows(second, 'disconnected');
      while (seen.length === 0) {
        await new Promise((r) => setTimeout(r, 10));
        seen = rows(second, 'disconnected');
      }
      expect(seen).toEqual([{ identity: first.identity }]);
    } finally {
      await cd.close();
    }
  });
});
