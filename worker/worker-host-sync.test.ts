// Sync in the worker's API, in Node on fake-indexeddb against a real `lightcone start` server
// (test/sync/harness.ts): `open(name, code, image, remote)` makes the database follow the server,
// reducer calls go through its replica, the remote is kept in the database's storage, a call that
// waits for the server survives the replica being replaced (and is announced as only waiting),
// and a call as an explicit sender stays local. Chromium's side (tabs, offline, reloads) is e2e/sync.spec.ts.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomIdentity } from '../src/engine/engine.ts';
import type { SyncStatus } from '../src/sync/replica.ts';
import { bundle } from '../test/server/harness.ts';
import { nodeSocket, SYNC_MODULE, syncServer, type SyncServer } from '../test/sync/harness.ts';
import { WorkerHost } from './worker-host.ts';

let srv: SyncServer;
let code: string;
let n = 0;
const fresh = () => `sync${++n}`;
/** `waiting`: the ids of the synced calls the host said only wait for the server now. */
const host = (waiting: string[] = []) =>
  new WorkerHost({
    mode: 'shared',
    lock: 'test',
    lockHeld: Promise.resolve(),
    testHooks: true,
    onWaiting: (id) => waiting.push(id),
    sync: { socket: nodeSocket, fetch: (u, i) => fetch(u, i), backoff: { min: 50, max: 300 } },
  });

/** Polls `syncStatus` until `pred` holds. */
async function until(h: WorkerHost, name: string, pred: (s: SyncStatus) => boolean): Promise<SyncStatus> {
  for (;;) {
    const s = await h.syncStatus(name);
    if (s && pred(s)) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const balance = async (h: WorkerHost, name: string) => (await h.query(name, "SELECT balance FROM account WHERE name = 'alice'", undefined)).rows.map((r) => Number(r.balance));

beforeAll(async () => {
  srv = await syncServer();
  code = await bundle(SYNC_MODULE);
  expect((await srv.call('open_account', ['alice', 100])).status).toBe(200);
});
afterAll(() => srv.stop());

describe('WorkerHost sync', () => {
  it('open with remote: calls go through the replica; a call waiting for the server survives a reopen and commits once', async () => {
    const parked: string[] = [];
    const h = host(parked);
    const name = fresh();
    const remote = { uri: srv.url, database: 'shop' };
    expect((await h.open(name, code, undefined, remote)).remote).toEqual(remote);
    await until(h, name, (s) => s.state === 'online');
    expect(await balance(h, name)).toEqual([100]);
    await h.call(name, 'withdraw', { name: 'alice', amount: 10 }, { callId: 'w1' });
    expect(await srv.rows("SELECT balance FROM account WHERE name = 'alice'")).toEqual([[90]]);

    // Offline: the call is applied here and waits in the outbox.
    await srv.stop();
    const waiting = h.call(name, 'withdraw', { name: 'alice', amount: 5 }, { callId: 'w2' });
    await until(h, name, (s) => s.pending === 1);
    expect(await balance(h, name)).toEqual([85]);
    await expect.poll(() => parked).toContain('w2'); // the engine worker tells its supervisor: it runs nothing now
    // Another remote (the same server, named queries): the engine and its replica are replaced.
    const narrowed = { ...remote, subscribe: ['SELECT * FROM account', 'SELECT * FROM item'] };
    await h.open(name, code, undefined, narrowed);
    expect(await balance(h, name)).toEqual([85]);
    await srv.restart();
    await waiting; // it moved to the new replica (same id, same outbox entry) and the server committed it
    expect(await srv.rows("SELECT balance FROM account WHERE name = 'alice'")).toEqual([[85]]);
    expect((await until(h, name, (s) => s.pending === 0 && s.state === 'online')).exactlyOnce).toBe(true);
    // Sent again with its id, it commits nothing new.
    await h.call(name, 'withdraw', { name: 'alice', amount: 5 }, { callId: 'w2' });
    expect(await srv.rows("SELECT balance FROM account WHERE name = 'alice'")).toEqual([[85]]);
    expect(await balance(h, name)).toEqual([85]);
  });

  it('the remote is kept in storage: a later open without it (an engine restart) follows it; the server refuses an overdraft', async () => {
    const name = fresh();
    await host().open(name, code, undefined, { uri: srv.url, database: 'shop' });
    // A new host is what an engine restart or a new leader tab gets: it opens by name only.
    const h = host();
    expect((await h.open(name, undefined)).remote).toEqual({ uri: srv.url, database: 'shop' });
    await until(h, name, (s) => s.state === 'online');
    await expect(h.call(name, 'withdraw', { name: 'alice', amount: 1_000 }, {})).rejects.toMatchObject({ name: 'SenderError', message: expect.stringContaining('insufficient funds') });
    expect((await h.syncStatus(name))?.pending).toBe(0);
  });

  it('a call as an explicit sender stays local; the next synced call reaches the server without it', async () => {
    const h = host();
    const name = fresh();
    await h.open(name, code, undefined, { uri: srv.url, database: 'shop' });
    await until(h, name, (s) => s.state === 'online');
    await h.call(name, 'add_item', { text: 'here only' }, { sender: randomIdentity().toHexString() });
    expect((await h.query(name, 'SELECT text FROM item', undefined)).rows.map((r) => r.text)).toContain('here only');
    expect((await h.syncStatus(name))?.pending).toBe(0);
    // Calls reach the server in order: had the first gone there, it would be there before this one.
    await h.call(name, 'add_item', { text: 'synced' }, {});
    const server = (await srv.rows('SELECT text FROM item')).map((r) => r[0]);
    expect(server).toContain('synced');
    expect(server).not.toContain('here only');
  });

  it('a call waiting for the server when the database is replaced by an image is not run locally: ClosedError', async () => {
    const h = host();
    const name = fresh();
    await h.open(name, code, undefined, { uri: srv.url, database: 'shop' });
    await until(h, name, (s) => s.state === 'online');
    await srv.stop();
    try {
      const waiting = h.call(name, 'add_item', { text: 'before the import' }, { callId: 'imported' });
      await until(h, name, (s) => s.pending === 1);
      const image = await h.exportDatabase(name);
      await h.importDatabase(name, image);
      await expect(waiting).rejects.toMatchObject({ name: 'ClosedError', message: expect.stringContaining('no longer follows a remote database') });
      expect(await h.syncStatus(name)).toBeUndefined(); // an imported database follows nothing until an open names a remote
    } finally {
      await srv.restart();
    }
  });

  it('a malformed remote is UsageError BAD_OPTION and the database stays unsynced', async () => {
    const h = host();
    const name = fresh();
    await expect(h.open(name, code, undefined, { uri: 'ftp://example.com', database: 'shop' })).rejects.toMatchObject({ name: 'UsageError', code: 'BAD_OPTION' });
    expect((await h.open(name, code)).remote).toBeUndefined();
    expect(await h.syncStatus(name)).toBeUndefined();
  });
});
