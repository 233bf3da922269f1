// examples/chat: the quickstart flow, lifecycle hooks around each call, callers by identity, and
// init running once per database across close/reopen with a data directory.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionId, Identity, Timestamp } from 'spacetimedb';
import { openDatabase, type NodeDatabase } from '../src/node/open-database.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { SenderError, UsageError } from '../src/errors.ts';
import { CHAT, removeTempDirs, tempDir } from './helpers/paths.ts';

interface User {
  identity: Identity;
  name: string | undefined;
  online: boolean;
}
interface Message {
  id: bigint;
  sender: Identity;
  sent: Timestamp;
  text: string;
}

const ALICE = `c200${'a1'.repeat(30)}`;
const BOB = `c200${'b0'.repeat(30)}`;

async function users(db: NodeDatabase): Promise<Map<string, User>> {
  const rows = (await db.sql('SELECT * FROM user')) as unknown as User[];
  return new Map(rows.map((u) => [u.identity.toHexString(), u]));
}

async function messages(db: NodeDatabase): Promise<Message[]> {
  const rows = (await db.sql('SELECT * FROM message')) as unknown as Message[];
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function initLogs(logs: { message: string }[]): string[] {
  return logs.map((l) => l.message).filter((m) => m.startsWith('Chat module initialised by '));
}

afterAll(removeTempDirs);

describe('chat in memory', () => {
  let code: string;
  let db: NodeDatabase;
  beforeAll(async () => {
    code = (await bundleModule(CHAT)).code;
  });
  beforeEach(async () => {
    db = await openDatabase({ name: 'chat', code });
  });
  afterEach(async () => {
    await db.close();
  });

  it('identical subscriptions (one message item for all of them) each get every update once, in order, beside a different one', async () => {
    const seen: string[][] = [[], [], [], []];
    const queries = ['SELECT * FROM message', 'SELECT * FROM message', 'SELECT * FROM user', 'SELECT * FROM message'];
    const subs = queries.map((q, i) =>
      db.subscribe([q], { onUpdate: (u) => seen[i]!.push(...u.flatMap((t) => t.inserts.map((r) => `${t.table}:${String(r.text ?? r.online)}`))) }, { confirmedReads: false }),
    );
    await Promise.all(subs.map((s) => s.applied));
    await db.call('send_message', { text: 'one' });
    await db.call('send_message', { text: 'two' });
    const messages = ['message:one', 'message:two'];
    expect([seen[0], seen[1], seen[3]]).toEqual([messages, messages, messages]);
    expect(seen[2]!.length).toBeGreaterThan(0); // the caller's user row, a different update
    for (const s of subs) s.unsubscribe();
  });

  it('init ran at publish, as the owner, and created no user', async () => {
    expect(db.published).toBe('created');
    expect(initLogs(await db.logs())).toEqual([`Chat module initialised by ${db.owner.toHexString()}`]);
    expect((await users(db)).size).toBe(0);
  });

  it('the first call creates the caller as a user; after the call it is offline', async () => {
    await db.call('set_name', { name: 'Ada' });
    const all = await users(db);
    expect([...all.keys()]).toEqual([db.owner.toHexString()]);
    expect(all.get(db.owner.toHexString())).toEqual({ identity: db.owner, name: 'Ada', online: false });
  });

  it('client_connected runs before the reducer and client_disconnected after it', async () => {
    await db.call('set_name', ['Ada']);
    const hex = db.owner.toHexString();
    const log = (await db.logs()).map((l) => l.message);
    const connected = log.indexOf(`Client connected: ${hex}`);
    const named = log.indexOf(`User ${hex} sets name to Ada`);
    expect(connected, 'client_connected logged').toBeGreaterThanOrEqual(0);
    expect(named, 'set_name logged after client_connected').toBeGreaterThan(connected);
    // set_name copied the row client_connected had marked online; client_disconnected then cleared it.
    expect((await users(db)).get(hex)?.online).toBe(false);
    await db.call('set_name', ['Ada Lovelace']);
    expect(log.filter((m) => m === `Client connected: ${hex}`)).toHaveLength(1);
    expect((await db.logs()).map((l) => l.message).filter((m) => m === `Client connected: ${hex}`)).toHaveLength(2);
    expect((await users(db)).get(hex)).toEqual({ identity: db.owner, name: 'Ada Lovelace', online: false });
  });

  it('send_message stores messages with ids 1, 2, 3, the sender and the call timestamp', async () => {
    const before = BigInt(Date.now()) * 1000n;
    for (const text of ['one', 'two', 'three']) await db.call('send_message', { text });
    // A generous window: it checks the unit (µs since the epoch) and the clock, not speed.
    const after = BigInt(Date.now()) * 1000n + 1_000_000n;
    const msgs = await messages(db);
    expect(msgs.map((m) => [m.id, m.text])).toEqual([
      [1n, 'one'],
      [2n, 'two'],
      [3n, 'three'],
    ]);
    for (const m of msgs) {
      expect(m.sender).toBeInstanceOf(Identity);
      expect(m.sender.isEqual(db.owner)).toBe(true);
      expect(m.sent).toBeInstanceOf(Timestamp);
      expect(m.sent.microsSinceUnixEpoch >= before - 1_000_000n && m.sent.microsSinceUnixEpoch <= after).toBe(true);
    }
    expect(msgs[0]!.sent.microsSinceUnixEpoch <= msgs[2]!.sent.microsSinceUnixEpoch).toBe(true);
  });

  it('the sender option calls as another identity (hex string or Identity)', async () => {
    await db.call('set_name', { name: 'Alice' }, { sender: ALICE });
    await db.call('set_name', { name: 'Bob' }, { sender: new Identity(BigInt(`0x${BOB}`)) });
    await db.call('send_message', { text: 'hi from alice' }, { sender: ALICE });
    await db.call('send_message', { text: 'hi from bob' }, { sender: `0x${BOB}` });
    await db.call('send_message', { text: 'hi from the owner' });
    const all = await users(db);
    expect([...all.keys()].sort()).toEqual([ALICE, BOB, db.owner.toHexString()].sort());
    expect(all.get(ALICE)?.name).toBe('Alice');
    expect(all.get(BOB)?.name).toBe('Bob');
    expect(all.get(db.owner.toHexString())?.name).toBeUndefined();
    expect([...all.values()].every((u) => !u.online)).toBe(true);
    expect((await messages(db)).map((m) => [m.id, m.sender.toHexString(), m.text])).toEqual([
      [1n, ALICE, 'hi from alice'],
      [2n, BOB, 'hi from bob'],
      [3n, db.owner.toHexString(), 'hi from the owner'],
    ]);
  });

  it('a malformed sender is a UsageError', async () => {
    const err = await db.call('send_message', ['x'], { sender: 'not-hex' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain('not-hex');
    expect(await messages(db)).toEqual([]);
  });

  it('empty name and message fail with the module SenderError texts and write nothing', async () => {
    const e1 = await db.call('set_name', { name: '' }, { sender: ALICE }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(SenderError);
    expect((e1 as Error).message).toBe('Names must not be empty');
    const e2 = await db.call('send_message', { text: '' }, { sender: ALICE }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(SenderError);
    expect((e2 as Error).message).toBe('Messages must not be empty');
    expect(await messages(db)).toEqual([]);
    // The connection itself happened: client_connected/disconnected are their own transactions.
    expect((await users(db)).get(ALICE)).toEqual({ identity: new Identity(BigInt(`0x${ALICE}`)), name: undefined, online: false });
  });

  it('on an existing connection (connectionId given) the lifecycle hooks do not run', async () => {
    const err = await db.call('set_name', ['Carol'], { sender: ALICE, connectionId: new ConnectionId(42n) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SenderError);
    expect((err as Error).message).toBe('Cannot set name for unknown user');
    expect((await users(db)).size).toBe(0);
    await db.call('set_name', ['Carol'], { sender: ALICE });
    await db.call('send_message', ['on conn 42'], { sender: ALICE, connectionId: 42n });
    expect((await users(db)).get(ALICE)).toMatchObject({ name: 'Carol', online: false });
    expect((await messages(db)).map((m) => m.text)).toEqual(['on conn 42']);
  });

  it('lifecycle reducers cannot be called', async () => {
    for (const name of ['init', 'client_connected', 'client_disconnected']) {
      const err = await db.call(name, []).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(UsageError);
      expect((err as UsageError).code, name).toBe('LIFECYCLE_REDUCER');
      expect((err as Error).message).toContain(name);
    }
    expect(initLogs(await db.logs())).toHaveLength(1);
    expect((await users(db)).size).toBe(0);
  });
});

describe('chat with a data directory', () => {
  it('init runs once; data survives close and reopen; deleteData starts over and runs init again', async () => {
    const dataDir = tempDir('lightcone-chat-');
    const db1 = await openDatabase({ name: 'chat', dataDir, module: CHAT });
    expect(db1.published).toBe('created');
    const owner = db1.owner.toHexString();
    await db1.call('set_name', { name: 'Ada' });
    await db1.call('send_message', { text: 'hello' });
    await db1.call('send_message', { text: 'world' }, { sender: ALICE });
    await db1.close();

    const db2 = await openDatabase({ name: 'chat', dataDir, module: CHAT });
    try {
      expect(db2.published).toBe('unchanged');
      expect(db2.owner.toHexString()).toBe(owner);
      expect(initLogs(await db2.logs())).toEqual([`Chat module initialised by ${owner}`]);
      const all = await users(db2);
      expect(all.get(owner)).toEqual({ identity: db2.owner, name: 'Ada', online: false });
      expect(all.get(ALICE)?.online).toBe(false);
      expect((await messages(db2)).map((m) => [m.id, m.sender.toHexString(), m.text])).toEqual([
        [1n, owner, 'hello'],
        [2n, ALICE, 'world'],
      ]);
      // Ids keep growing after a restart (SpacetimeDB may skip ahead; it never reuses).
      await db2.call('send_message', { text: 'again' });
      const msgs = await messages(db2);
      expect(msgs).toHaveLength(3);
      expect(msgs[2]!.text).toBe('again');
      expect(msgs[2]!.id > 2n).toBe(true);
    } finally {
      await db2.close();
    }

    // Without a module: the stored one is used, init does not run.
    const db3 = await openDatabase({ name: 'chat', dataDir });
    try {
      expect(initLogs(await db3.logs())).toHaveLength(1);
      expect(await messages(db3)).toHaveLength(3);
    } finally {
      await db3.close();
    }

    const newOwner = `c200${'ee'.repeat(30)}`;
    const db4 = await openDatabase({ name: 'chat', dataDir, module: CHAT, deleteData: true, owner: newOwner });
    try {
      expect(db4.published).toBe('created');
      expect(await messages(db4)).toEqual([]);
      expect((await users(db4)).size).toBe(0);
      expect(initLogs(await db4.logs())).toContain(`Chat module initialised by ${newOwner}`);
    } finally {
      await db4.close();
    }
  });
});
