// Sync under frame batching: a proxy hands the replica the server's bytes in clumps, as a busy
// network does, so a call's answer and the transactions after it (or the subscription's rows and
// the transactions right behind them) are read back to back. The replica must take them in the
// server's order: no call applied twice, no transaction lost.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../helpers/paths.ts';
import { openReplica, syncServer, type SyncServer, type TestReplica } from './harness.ts';

afterAll(removeTempDirs);

/** A TCP proxy to `target` that holds the server's bytes for `ms` and passes them on in one write. */
async function clumpingProxy(target: string, ms: number): Promise<{ url: string; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection(Number(port), hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    let held: Buffer[] = [];
    let flushing = false;
    upstream.on('data', (d: Buffer) => {
      held.push(d);
      if (flushing) return;
      flushing = true;
      setTimeout(() => {
        flushing = false;
        client.write(Buffer.concat(held));
        held = [];
      }, ms);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

describe("sync with the server's frames in clumps", () => {
  let server: SyncServer;
  const replicas: TestReplica[] = [];
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close().catch(() => {});
    for (const c of closers.splice(0)) await c().catch(() => {});
    await server?.stop().catch(() => {});
  });

  for (const callIds of [true, false]) {
    it(`a call's answer read together with the next transaction counts once (${callIds ? 'call ids' : 'plain server'})`, async () => {
      server = await syncServer({ callIds });
      await server.call('open_account', ['fay', 100]);
      const proxy = await clumpingProxy(server.url, 20);
      closers.push(proxy.close);
      const a = await openReplica({ uri: proxy.url, database: 'shop' });
      replicas.push(a);
      await a.until((s) => s.state === 'online');
      for (let i = 0; i < 10; i++) {
        const mine = a.replica.call('withdraw', { name: 'fay', amount: 1n });
        await new Promise((r) => setTimeout(r, 2));
        expect((await server.call('withdraw', ['fay', 1])).status).toBe(200); // someone else, right after
        await mine;
      }
      expect(await server.rows('SELECT balance FROM account')).toEqual([[80]]);
      for (let i = 0; i < 100 && (await a.rows('SELECT balance FROM account'))[0]?.balance !== 80n; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await a.rows('SELECT balance FROM account')).toEqual([{ balance: 80n }]);
      expect(a.statuses.filter((s) => s.error).map((s) => s.error!.message)).toEqual([]);
    });
  }

  it("transactions right behind the subscription's rows are not lost", async () => {
    server = await syncServer();
    const proxy = await clumpingProxy(server.url, 30);
    closers.push(proxy.close);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) await server.call('add_item', [`w${i}`]);
    })();
    const a = await openReplica({ uri: proxy.url, database: 'shop' });
    replicas.push(a);
    await a.until((s) => s.state === 'online');
    await new Promise((r) => setTimeout(r, 200));
    writing = false;
    await writer;
    const want = (await server.rows('SELECT id FROM item')).length;
    for (let i = 0; i < 200 && (await a.rows('SELECT id FROM item')).length !== want; i++) await new Promise((r) => setTimeout(r, 20));
    expect((await a.rows('SELECT id FROM item')).length).toBe(want);
  });
});
