// Sync in Node: a replica (engine + Replica) following `lightcone start` over real sockets.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../helpers/paths.ts';
import { openReplica, syncServer, type SyncServer, type TestReplica } from './harness.ts';

afterAll(removeTempDirs);

describe('a replica following a server', () => {
  let server: SyncServer;
  const replicas: TestReplica[] = [];
  const replica = async (o: Parameters<typeof openReplica>[1] = {}, token?: string) => {
    const r = await openReplica({ uri: server.url, database: 'shop', ...(token ? { token } : {}) }, o);
    replicas.push(r);
    return r;
  };
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close().catch(() => {});
    await server?.stop().catch(() => {});
  });

  it("applies a call at once, then gives way to the server's rows when it commits", async () => {
    server = await syncServer();
    await server.call('open_account', ['ada', 10]);
    const a = await replica({ watch: 'account' });
    await a.until((s) => s.state === 'online');
    expect(await a.rows('SELECT * FROM account')).toEqual([{ name: 'ada', balance: 10n }]);
    const applied = a.replica.call('withdraw', { name: 'ada', amount: 3n }, 'local');
    await applied;
    expect(await a.rows('SELECT balance FROM account')).toEqual([{ balance: 7n }]);
    await a.replica.call('withdraw', { name: 'ada', amount: 2n });
    expect(await server.rows('SELECT balance FROM account')).toEqual([[5]]);
    expect(await a.rows('SELECT balance FROM account')).toEqual([{ balance: 5n }]);
    expect(a.replica.status().pending).toBe(0);
  });
});
