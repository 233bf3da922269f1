// Generated bindings in use: `lightcone generate` writes them into a temp project, and the official
// SDK's DbConnection built from them talks to a Lightcone database over the wire protocol (a
// MessageChannel per connection): connect, subscribe with the generated query builders, call the
// generated reducers and procedures, and read rows through callbacks and the client cache.
import { join } from 'node:path';
import { ConnectionId, ScheduleAt, SenderError, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generatedBindings, type Loose, nextEvent, type SdkClient, serveSdk, subscribed } from './fixtures/sdk-session.ts';
import { ROOT } from './fixtures/temp-project.ts';

// The bindings are generated while the tests run, so TypeScript cannot see their types here;
// generate.test.ts type-checks the same bindings with tsc.
type Bindings = Loose;
/** Resolves with the event tag and the row of the first callback `register` reports. */
const next = <T>(register: (cb: (ctx: Loose, row: T) => void) => void): Promise<{ tag: string; row: T }> => nextEvent<[T]>(register).then(({ tag, args }) => ({ tag, row: args[0] }));

describe('generated bindings with the SDK: examples/chat', () => {
  let db: Awaited<ReturnType<typeof serveSdk>>;
  let b: Bindings;
  beforeAll(async () => {
    b = await generatedBindings(join(ROOT, 'examples/chat'));
  });
  afterEach(async () => {
    await db.close();
  });

  it('connects, subscribes with the query builders, calls reducers, and sees rows in callbacks and the cache', async () => {
    db = await serveSdk(join(ROOT, 'examples/chat'), b);
    const a = await db.connect();
    await subscribed(a, [b.tables.message, b.tables.user.where((r: Loose) => r.online.eq(true))]);
    // client_connected put the caller online.
    expect([...a.conn.db.user.iter()].map((u: Loose) => u.identity.isEqual(a.identity))).toEqual([true]);

    const renamed = next<Loose>((cb) => a.conn.db.user.onUpdate((ctx: Loose, _old: Loose, row: Loose) => cb(ctx, row)));
    await a.conn.reducers.setName({ name: 'Ada' });
    expect((await renamed).row.name).toBe('Ada');
    expect(a.conn.db.user.identity.find(a.identity)?.name).toBe('Ada');

    const inserted = next<Loose>((cb) => a.conn.db.message.onInsert(cb));
    await a.conn.reducers.sendMessage({ text: 'hello' });
    const { tag, row } = await inserted;
    expect(tag).toBe('Reducer');
    expect(row.text).toBe('hello');
    expect(row.sender.isEqual(a.identity)).toBe(true);
    expect(row.sent).toBeInstanceOf(Timestamp);
    expect([...a.conn.db.message.iter()].map((m: Loose) => [m.id, m.text])).toEqual([[1n, 'hello']]);
    expect(a.conn.db.message.count()).toBe(1n);

    await expect(a.conn.reducers.sendMessage({ text: '' })).rejects.toThrow(SenderError);
  });

  it('shows one client’s reducer call to another as a Transaction event', async () => {
    db = await serveSdk(join(ROOT, 'examples/chat'), b);
    const a = await db.connect();
    const other = await db.connect();
    await subscribed(other, b.tables.message);
    const seen = next<Loose>((cb) => other.conn.db.message.onInsert(cb));
    await a.conn.reducers.sendMessage({ text: 'from a' });
    const { tag, row } = await seen;
    expect([tag, row.text, row.sender.isEqual(a.identity)]).toEqual(['Transaction', 'from a', true]);
  });
});

describe('generated bindings with the SDK: every column type (examples/all-types)', () => {
  let db: Awaited<ReturnType<typeof serveSdk>>;
  let b: Bindings;
  let a: SdkClient;
  beforeAll(async () => {
    b = await generatedBindings(join(ROOT, 'examples/all-types'));
    db = await serveSdk(join(ROOT, 'examples/all-types'), b);
    a = await db.connect();
  });
  afterAll(async () => {
    await db.close();
  });

  it('sends every type as reducer arguments and reads it back as a row, unchanged', async () => {
    await subscribed(a, b.tables.allTypes);
    const row = {
      id: 1,
      flag: true,
      i8: -128,
      u8: 255,
      i16: -32768,
      u16: 65535,
      i32: -(2 ** 31),
      u32: 2 ** 32 - 1,
      i64: -(2n ** 63n),
      u64: 2n ** 64n - 1n,
      i128: -(2n ** 127n),
      u128: 2n ** 128n - 1n,
      i256: -(2n ** 255n),
      u256: 2n ** 256n - 1n,
      f32: 1.5,
      f64: Math.PI,
      text: 'héllo ✓',
      bytes: new Uint8Array([0, 1, 254, 255]),
      tags: ['a', '', 'c'],
      maybe: 7,
      point: { x: 3, y: -4 },
      shape: { tag: 'Rect', value: { w: 5, h: 6 } },
      color: { tag: 'Blue' },
      owner: a.identity,
      conn: new ConnectionId(0xabcdn),
      at: new Timestamp(1_700_000_000_123_456n),
      duration: new TimeDuration(-1_500_000n),
      uuid: Uuid.parse('0190a9b2-7c1e-7000-8000-000000000001'),
      schedule: ScheduleAt.time(1_800_000_000_000_000n),
    };
    // The SDK decodes a variant without payload with an empty `value` (as with SpacetimeDB's bindings).
    const decoded = <R extends { color: object }>(r: R) => ({ ...r, color: { ...r.color, value: {} } });
    const inserted = next<Loose>((cb) => a.conn.db.allTypes.onInsert(cb));
    await a.conn.reducers.insertAllTypes(row);
    expect((await inserted).row).toEqual(decoded(row));

    const none = { ...row, id: 2, maybe: undefined, shape: { tag: 'Empty' }, schedule: ScheduleAt.interval(60_000_000n) };
    const second = next<Loose>((cb) => a.conn.db.allTypes.onInsert(cb));
    await a.conn.reducers.insertAllTypes(none);
    expect((await second).row).toEqual({ ...decoded(none), shape: { tag: 'Empty', value: {} } });
    // The module's own values decode as well.
    await a.conn.reducers.insertAllTypesSample({ id: 3 });
    const sample = a.conn.db.allTypes.id.find(3);
    expect([sample.shape, sample.color, [...sample.bytes], sample.i256]).toEqual([{ tag: 'Circle', value: 0.5 }, { tag: 'Green', value: {} }, [0xde, 0xad, 0xbe, 0xef], -256n]);
    // The deprecated accessor under the module's own name reads the same cache.
    expect(a.conn.db.all_types.count()).toBe(3n);
  });

  it('filters on columns whose wire names differ from their accessors, and reads through index accessors', async () => {
    const other = await db.connect();
    await a.conn.reducers.insertPerson({ id: 1, name: 'ann', age: 31, city: 'Oslo', email: 'ann@x', level: 2 });
    await a.conn.reducers.insertPerson({ id: 2, name: 'bob', age: 25, city: 'Oslo', email: 'bob@x', level: 3 });
    await a.conn.reducers.insertTag({ ownerId: 1, label: 'x' });
    // The bindings' `ownerId` is `owner_id` on the wire (and `u8` is `u_8`): SQL naming `ownerId` would be refused.
    await subscribed(other, [b.tables.allTypes.where((r: Loose) => r.u8.eq(255)), b.tables.person.where((r: Loose) => r.age.gt(30)), b.tables.tag.where((r: Loose) => r.ownerId.eq(1))]);
    expect([...other.conn.db.allTypes.iter()].map((r: Loose) => r.id).sort()).toEqual([1, 2]);
    expect([...other.conn.db.person.iter()].map((p: Loose) => p.name)).toEqual(['ann']);
    expect(other.conn.db.person.name.find('ann')?.id).toBe(1);
    expect([...other.conn.db.person.by_city_age.filter(['Oslo', 31])].map((p: Loose) => p.id)).toEqual([1]);
    expect([...other.conn.db.person.email.filter('ann@x')].map((p: Loose) => p.id)).toEqual([1]);
    expect([...other.conn.db.tag.owner_id.filter(1)].map((t: Loose) => t.label)).toEqual(['x']);
  });

  it('delivers event table rows to onInsert without keeping them', async () => {
    await subscribed(a, b.tables.notice);
    const notice = next<Loose>((cb) => a.conn.db.notice.onInsert(cb));
    await a.conn.reducers.emitNotice({ kind: 'info', text: 'hi' });
    expect((await notice).row).toEqual({ kind: 'info', text: 'hi' });
    expect(a.conn.db.notice.count()).toBe(0n);
  });
});

describe('generated bindings with the SDK: explicit names, views and procedures (naming fixture)', () => {
  const NAMING = join(ROOT, 'src/generate/fixtures/naming.ts');
  let db: Awaited<ReturnType<typeof serveSdk>>;
  afterAll(async () => {
    await db.close();
  });

  it('reaches tables, views and reducers under their canonical names', async () => {
    const b = await generatedBindings(NAMING);
    db = await serveSdk(NAMING, b);
    const a = await db.connect();
    await subscribed(a, [b.tables.hero1, b.tables.heroesAtLevel2, b.tables.guild2]);
    const viewRow = next<Loose>((cb) => a.conn.db.heroesAtLevel2.onInsert(cb));
    await a.conn.reducers.createHero1({ heroName: 'Zed', start2Level: 2 });
    expect((await viewRow).row).toEqual({ hero1Id: 1, heroName: 'Zed', level2Reached: 2, mood3: { tag: 'Calm1', value: {} } });
    expect(a.conn.db.hero1.hero1Id.find(1)?.heroName).toBe('Zed');

    await a.conn.reducers.foundGuild2({ guild2Id: 7n, guildName: 'Owls', rankNo: 1 });
    const renamed = next<Loose>((cb) => a.conn.db.guild2.onUpdate((ctx: Loose, _old: Loose, row: Loose) => cb(ctx, row)));
    await a.conn.reducers.renameGuild2({ guild2Id: 7n, newName: 'Larks' });
    expect((await renamed).row.guildName).toBe('Larks');
    expect([...a.conn.db.guild2.ByRankName.filter([1, 'Larks'])].map((g: Loose) => g.guild2Id)).toEqual([7n]);

    expect(await a.conn.procedures.guildStats({ guild2Id: 7n })).toEqual({ hitPoints1: 10, manaTotal: 20 });
    expect(await a.conn.procedures.guildStats({ guild2Id: 8n })).toBeUndefined();
  });
});
