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

  it('speaks v3: calls made in one turn enter the outbox in one write and reach the server in one frame', async () => {
    server = await syncServer();
    const a = await replica();
    await a.until((s) => s.state === 'online');
    expect(a.protocol()).toBe('v3.bsatn.spacetimedb');
    const frames = a.sent.length;
    const writes = a.outboxWrites.length;
    await Promise.all(Array.from({ length: 20 }, (_, i) => a.replica.call('add_item', { text: `burst ${i}` })));
    expect(a.sent.length - frames).toBe(1);
    // The first write holds all 20; later ones only shrink as answers arrive.
    const after = a.outboxWrites.slice(writes);
    expect(after[0]).toBe(20);
    expect(after.at(-1)).toBe(0);
    for (let i = 1; i < after.length; i++) expect(after[i]).toBeLessThan(after[i - 1]!);
    expect((await server.rows('SELECT text FROM item')).map(([t]) => t).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `burst ${i}`).sort());
    expect(await a.rows('SELECT text FROM item')).toHaveLength(20);
    // A frame is cut before it passes 256 KiB: five calls of 100 KiB leave as 2 + 2 + 1.
    const big = a.sent.length;
    await Promise.all(Array.from({ length: 5 }, (_, i) => a.replica.call('add_item', { text: String(i).repeat(100 * 1024) })));
    expect(a.sent.slice(big).map((f) => Math.round(f.length / 1024))).toEqual([200, 200, 100]);
    expect(await a.rows('SELECT id FROM item')).toHaveLength(25);
  });
});

describe('sync: refusals, races, offline, exactly once', () => {
  let server: SyncServer;
  const replicas: TestReplica[] = [];
  const replica = async (o: Parameters<typeof openReplica>[1] = {}, remote: Partial<Parameters<typeof openReplica>[0]> = {}) => {
    const r = await openReplica({ uri: server.url, database: 'shop', ...remote }, o);
    replicas.push(r);
    await r.until((s) => s.state === 'online' || s.state === 'stopped');
    return r;
  };
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close().catch(() => {});
    await server?.stop().catch(() => {});
  });

  it('a call the server refuses after it ran here rejects with its SenderError, and its effect vanishes in one delta', async () => {
    server = await syncServer();
    await server.call('open_account', ['bo', 5]);
    const a = await replica({ watch: 'account' });
    await server.stop();
    await a.until((s) => s.state === 'offline');
    const outcome = a.replica.call('withdraw', { name: 'bo', amount: 3n }).catch((e: Error) => e);
    await a.replica.call('add_item', { text: 'wait' }, 'local'); // the withdraw has run here by now
    expect(await a.rows('SELECT balance FROM account')).toEqual([{ balance: 2n }]);
    // Meanwhile someone else withdraws 4 on the server, which this replica cannot see yet.
    await server.elsewhere(async (other) => {
      const r = await other.http('/v1/database/shop/call/withdraw', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["bo", 4]', token: server.owner });
      expect(r.status).toBe(200);
    });
    const seen = a.updates.length;
    await server.restart();
    expect(await outcome).toMatchObject({ name: 'SenderError', message: 'insufficient funds: bo has 1' });
    expect(await a.rows('SELECT balance FROM account')).toEqual([{ balance: 1n }]);
    // Subscribers went from the optimistic 2 to the server's 1 in one delta, with nothing between.
    const after = a.updates
      .slice(seen)
      .flat()
      .filter((t) => t.table === 'account');
    expect(after).toHaveLength(1);
    expect(after[0]!.deletes).toHaveLength(1);
    expect(after[0]!.inserts).toHaveLength(1);
  });

  it("two replicas race for the last balance: the server's order wins, the loser rejects, both converge", async () => {
    server = await syncServer();
    await server.call('open_account', ['cy', 10]);
    const a = await replica();
    const b = await replica();
    const [ra, rb] = await Promise.allSettled([a.replica.call('withdraw', { name: 'cy', amount: 10n }), b.replica.call('withdraw', { name: 'cy', amount: 10n })]);
    expect([ra.status, rb.status].sort()).toEqual(['fulfilled', 'rejected']);
    const loser = (ra.status === 'rejected' ? ra : rb) as PromiseRejectedResult;
    expect(loser.reason).toMatchObject({ name: 'SenderError' });
    for (const r of [a, b]) {
      await r.until((s) => s.pending === 0);
    }
    // The winner's commit reaches the loser as a transaction: wait for it.
    for (let i = 0; i < 100 && (await b.rows('SELECT balance FROM account'))[0]?.balance !== 0n; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await a.rows('SELECT balance FROM account')).toEqual([{ balance: 0n }]);
    expect(await b.rows('SELECT balance FROM account')).toEqual([{ balance: 0n }]);
  });

  it('keeps working offline: calls wait in the outbox (also across a replica restart) and commit once, in order, when the server is back', async () => {
    server = await syncServer();
    const a = await replica();
    await server.stop();
    await a.until((s) => s.state === 'offline');
    const made = [a.replica.call('add_item', { text: 'one' }), a.replica.call('add_item', { text: 'two' })];
    for (const m of made) m.catch(() => {});
    await a.replica.call('add_item', { text: 'three' }, 'local');
    expect((await a.rows('SELECT text FROM item')).map((r) => r.text).sort()).toEqual(['one', 'three', 'two']);
    expect(a.replica.status()).toMatchObject({ state: 'offline', pending: 3 });
    // The replica process goes away and comes back on the same storage, still offline. The calls
    // waiting for the server end with ClosedError; they stay in the outbox.
    await a.close();
    for (const m of made) await expect(m).rejects.toMatchObject({ name: 'ClosedError' });
    replicas.splice(replicas.indexOf(a), 1);
    const again = await openReplica({ uri: server.url, database: 'shop' }, { store: a.store });
    replicas.push(again);
    expect(again.replica.status().pending).toBe(3);
    expect((await again.rows('SELECT text FROM item')).map((r) => r.text).sort()).toEqual(['one', 'three', 'two']);
    await server.restart();
    await again.until((s) => s.state === 'online' && s.pending === 0);
    const committed = (await server.rows('SELECT id, text FROM item')) as [number, string][];
    expect(committed.sort((x, y) => x[0] - y[0]).map(([, t]) => t)).toEqual(['one', 'two', 'three']);
    // The optimistic rows gave way to the server's (same text, the server's ids and times).
    expect((await again.rows('SELECT id, text FROM item')).map((r) => [r.id, r.text]).sort()).toEqual(
      (await server.rows('SELECT id, text FROM item')).map(([id, text]) => [BigInt(id as number), text]).sort(),
    );
  });

  it('a server restart in the middle of a burst applies every call exactly once', async () => {
    server = await syncServer();
    const a = await replica();
    expect(a.replica.status().exactlyOnce).toBe(true);
    const calls = Array.from({ length: 60 }, (_, i) => a.replica.call('add_item', { text: `n${i}` }));
    for (const c of calls) c.catch(() => {});
    await new Promise((r) => setTimeout(r, 30));
    await server.restart();
    await Promise.all(calls);
    const texts = (await server.rows('SELECT text FROM item')).map(([t]) => t as string);
    expect(texts.length).toBe(60);
    expect(new Set(texts).size).toBe(60);
  });

  it("a local insert into an auto-increment table after the server's rows arrived takes a fresh id and shows at once", async () => {
    server = await syncServer();
    await server.call('add_item', ['from the server 1']);
    await server.call('add_item', ['from the server 2']);
    const a = await replica();
    expect(await a.rows('SELECT text FROM item')).toHaveLength(2);
    await server.stop();
    await a.until((s) => s.state === 'offline');
    await a.replica.call('add_item', { text: 'mine' }, 'local');
    const rows = await a.rows('SELECT id, text FROM item');
    expect(rows.map((r) => r.text).sort()).toEqual(['from the server 1', 'from the server 2', 'mine']);
    expect(new Set(rows.map((r) => r.id)).size).toBe(3);
  });

  it('an outbox past its limit or refused by storage refuses the call with a named error and loses nothing', async () => {
    server = await syncServer();
    let full = false;
    const a = await replica({ maxOutbox: 2, refuseMeta: () => full });
    await server.stop();
    await a.until((s) => s.state === 'offline');
    await a.replica.call('add_item', { text: 'a' }, 'local');
    await a.replica.call('add_item', { text: 'b' }, 'local');
    await expect(a.replica.call('add_item', { text: 'c' }, 'local')).rejects.toMatchObject({ name: 'SyncError', code: 'OUTBOX_FULL' });
    expect(a.replica.status().pending).toBe(2);
    await a.close();
    replicas.splice(replicas.indexOf(a), 1);
    const b = await openReplica({ uri: server.url, database: 'shop' }, { maxOutbox: 5, refuseMeta: () => full, store: a.store });
    replicas.push(b);
    full = true;
    await expect(b.replica.call('add_item', { text: 'c' }, 'local')).rejects.toMatchObject({ name: 'StorageError' });
    expect(b.replica.status()).toMatchObject({ pending: 2, error: { name: 'StorageError' } });
    expect((await b.rows('SELECT text FROM item')).map((r) => r.text).sort()).toEqual(['a', 'b']);
    // The same id twice in one turn, refused by storage: both requests reject, nothing waits.
    const twice = [b.replica.call('add_item', { text: 'd' }, 'local', 'same'), b.replica.call('add_item', { text: 'd' }, 'server', 'same')];
    for (const p of twice) await expect(p).rejects.toMatchObject({ name: 'StorageError' });
    expect(b.replica.status().pending).toBe(2);
    full = false;
    // Accepted: the second request joins the first, settles with it, and the call is made once.
    const local = b.replica.call('add_item', { text: 'e' }, 'local', 'again');
    const committed = b.replica.call('add_item', { text: 'e' }, 'server', 'again');
    await local;
    expect(b.replica.status().pending).toBe(3);
    expect((await b.rows('SELECT text FROM item')).map((r) => r.text).sort()).toEqual(['a', 'b', 'e']);
    await server.restart();
    await committed;
    await b.until((s) => s.state === 'online' && s.pending === 0);
    expect((await server.rows('SELECT text FROM item')).map(([t]) => t).sort()).toEqual(['a', 'b', 'e']);
  });

  it("a replica does not run the module's schedules: the server runs them and their rows arrive from it", async () => {
    server = await syncServer({ module: 'test/fixtures/schedules.ts' });
    const a = await replica({ module: 'test/fixtures/schedules.ts' });
    await server.stop(); // offline: the optimistic row stays here until the server has it
    await a.until((s) => s.state === 'offline');
    await a.replica.call('every', { ms: 60_000n, note: 'tick' }, 'local');
    expect(await a.rows('SELECT note FROM tick')).toEqual([{ note: 'tick' }]);
    expect(a.engine.armedSchedules).toBe(0); // the row is here, no timer: nothing fires locally
    await server.restart();
    await a.until((s) => s.state === 'online' && s.pending === 0);
    expect(a.engine.armedSchedules).toBe(0);
  });

  it('against a server without call ids (plain SpacetimeDB mode) sync still works and says it is not exactly-once', async () => {
    server = await syncServer({ callIds: false });
    const a = await replica();
    expect(a.replica.status().exactlyOnce).toBe(false);
    await a.replica.call('add_item', { text: 'plain' });
    expect(await server.rows('SELECT text FROM item')).toEqual([['plain']]);
  });

  it('private tables never reach a replica; a refused token and a different module stop sync with a named error, keeping the outbox', async () => {
    server = await syncServer();
    await server.call('open_account', ['di', 1]);
    const a = await replica();
    expect(await a.rows('SELECT * FROM account')).toHaveLength(1);
    expect(await a.rows('SELECT * FROM secret')).toEqual([]);
    const refused = await replica({}, { token: 'not-a-token' });
    expect(refused.replica.status()).toMatchObject({ state: 'stopped', error: { name: 'SyncError', code: 'TOKEN_REFUSED' } });
    // The server now runs another module under that name.
    const put = await server.s.http('/v1/database/shop?host_type=Js&clear=true', {
      method: 'PUT',
      body: await (await import('../server/harness.ts')).bundle('test/fixtures/tiny.ts'),
      token: server.owner,
    });
    expect([put.status, put.status === 200 ? '' : await put.text()]).toEqual([200, '']);
    expect(await (await server.s.http('/v1/database/shop/schema?version=10')).text()).not.toContain('"account"');
    const mismatched = await replica();
    expect(mismatched.replica.status()).toMatchObject({ state: 'stopped', error: { code: 'MODULE_MISMATCH' } });
    expect(mismatched.replica.status().error!.message).toMatch(/the server has no table account/);
  });
});
