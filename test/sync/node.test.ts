// Sync through the public Node API: openDatabase({ remote }) with file durability, in its engine
// thread, against `lightcone start` on loopback.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SyncStatus } from '../../src/api/database.ts';
import { openDatabase, type NodeDatabase } from '../../src/node/open-database.ts';
import { removeTempDirs, tempDir } from '../helpers/paths.ts';
import { SYNC_MODULE, syncServer, type SyncServer } from './harness.ts';

afterAll(removeTempDirs);

function until(db: NodeDatabase, pred: (s: SyncStatus) => boolean): Promise<SyncStatus> {
  return new Promise((resolve) => {
    const stop = db.sync!.onStatus((s) => {
      if (pred(s)) {
        stop();
        resolve(s);
      }
    });
    void db.sync!.status().then((s) => {
      if (pred(s)) {
        stop();
        resolve(s);
      }
    });
  });
}

describe('openDatabase({ remote })', () => {
  let server: SyncServer;
  const open: NodeDatabase[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close().catch(() => {});
    await server?.stop().catch(() => {});
  });

  it('follows the server, calls optimistically, waits in a durable outbox while offline (across a reopen), then commits', async () => {
    server = await syncServer();
    await server.call('open_account', ['ed', 9]);
    const dataDir = tempDir('lightcone-replica-');
    const remote = { uri: server.url, database: 'shop' };
    let db = await openDatabase({ dataDir, name: 'shop', module: SYNC_MODULE, remote });
    open.push(db);
    expect(await until(db, (s) => s.state === 'online')).toMatchObject({ state: 'online', exactlyOnce: true, pending: 0 });
    expect(await db.sql('SELECT * FROM account')).toEqual([{ name: 'ed', balance: 9n }]);
    await db.call('withdraw', { name: 'ed', amount: 1n });
    expect(await server.rows('SELECT balance FROM account')).toEqual([[8]]);

    await server.stop();
    await until(db, (s) => s.state === 'offline');
    await db.call('withdraw', { name: 'ed', amount: 2n }, { wait: 'local' });
    expect(await db.sql('SELECT balance FROM account')).toEqual([{ balance: 6n }]);
    expect((await db.sync!.status()).pending).toBe(1);
    await db.close();
    open.pop();

    db = await openDatabase({ dataDir, name: 'shop', module: SYNC_MODULE, remote });
    open.push(db);
    expect(await db.sql('SELECT balance FROM account')).toEqual([{ balance: 6n }]);
    expect((await db.sync!.status()).pending).toBe(1);
    await server.restart();
    await until(db, (s) => s.state === 'online' && s.pending === 0);
    expect(await server.rows('SELECT balance FROM account')).toEqual([[6]]);
    // A refusal from the server rejects the call with the server's error.
    await expect(db.call('withdraw', { name: 'ed', amount: 100n })).rejects.toMatchObject({ name: 'SenderError', message: 'insufficient funds: ed has 6' });
    expect(await db.sql('SELECT balance FROM account')).toEqual([{ balance: 6n }]);
  });
});
