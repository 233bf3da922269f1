// Isolation on `lightcone start`: each database's engine runs in its own worker thread with a time
// budget per call and a heap limit. A runaway or memory-hungry reducer fails that call with a
// named error, its transaction rolls back, its database restarts from durable state, and every
// other database and connection goes on. A module cannot reach Node (globals, modules, threads).
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tables } from '../../src/protocol/fixtures/bindings.ts';
import { signal } from '../../src/protocol/fixtures/harness.ts';
import { removeTempDirs } from '../helpers/paths.ts';
import { connectSdk, openServer, type SdkClient, type TestServer } from './harness.ts';

afterAll(removeTempDirs);

const json = { 'content-type': 'application/json' };

describe('isolation between databases', () => {
  let s: TestServer;
  let runawayToken: string;
  const clients: SdkClient[] = [];
  /** A server whose databases have a time limit of `callTimeoutMs` and a heap of 64 MiB. */
  async function start(callTimeoutMs: number): Promise<void> {
    s = await openServer({ callTimeoutMs, maxHeapMb: 64 });
    await s.publish('chat');
    runawayToken = (await s.publish('runaway', 'test/fixtures/runaway.ts')).token;
  }
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => {});
    await s.close();
  });

  async function chatClient(): Promise<SdkClient> {
    const c = await connectSdk(s.url, 'chat');
    clients.push(c);
    await new Promise<void>((resolve, reject) =>
      c.conn
        .subscriptionBuilder()
        .onApplied(() => resolve())
        .onError(() => reject(new Error('subscribe failed')))
        .subscribe(tables.room as never),
    );
    return c;
  }

  for (const [reducer, code, limit, timeout] of [
    ['spin', 'TIME_LIMIT', /more than 400 ms, the time limit/, 400],
    ['hog', 'HEAP_LIMIT', /64 MiB of heap/, 60_000],
  ] as const) {
    it(`${reducer}: the call fails with ${code} naming the limit, rolls back, the database restarts; the other database and its connections go on`, async () => {
      await start(timeout);
      const bystander = await chatClient();
      const runawayConn = await connectSdk(s.url, 'runaway');
      const runawayClosed = runawayConn.disconnected;
      const call = s.http(`/v1/database/runaway/call/${reducer}`, { method: 'POST', headers: json, body: '[1]' });
      // While it runs away, the other database answers over HTTP and over its WebSocket.
      const inserted = signal<string>();
      bystander.conn.db.room.onInsert((_ctx, row) => inserted.resolve(row.name));
      await bystander.conn.reducers.addRoom({ id: 1, name: 'unaffected' });
      expect(await inserted.promise).toBe('unaffected');
      expect((await s.http('/v1/database/chat/call/add_room', { method: 'POST', headers: json, body: '[2, "also"]' })).status).toBe(200);
      const r = await call;
      expect(r.status).toBe(530);
      const text = await r.text();
      expect(text).toMatch(limit);
      expect(text).toMatch(/rolled back/);
      // Its own connections were closed (the SDK sees a disconnect) and may reconnect.
      await runawayClosed;
      const back = await connectSdk(s.url, 'runaway');
      await back.close();
      // Its transaction is gone; the database works again, from durable state.
      expect((await s.http('/v1/database/runaway/call/add', { method: 'POST', headers: json, body: '[2, "after"]', token: runawayToken })).status).toBe(200);
      const rows = (await (await s.http('/v1/database/runaway/sql', { method: 'POST', body: 'SELECT id FROM item', token: runawayToken })).json()) as { rows: unknown[] }[];
      expect(rows[0]!.rows).toEqual([[2]]);
      expect((await s.http('/v1/database/chat/sql', { method: 'POST', body: 'SELECT * FROM room' }).then((x) => x.json())) as unknown).toEqual([
        expect.objectContaining({
          rows: [
            [1, 'unaffected'],
            [2, 'also'],
          ],
        }),
      ]);
    });
  }
});

describe('module code that no call covers', () => {
  for (const reducer of ['defer_spin', 'timer_spin']) {
    it(`${reducer}: a loop left behind after the call returned is found by the heartbeat and stopped; the database goes on`, async () => {
      const s = await openServer({ callTimeoutMs: 400 });
      try {
        const { token } = await s.publish('runaway', 'test/fixtures/runaway.ts');
        // A microtask runs before the call is answered, so that call may be the one stopped.
        const first = await s.http(`/v1/database/runaway/call/${reducer}`, { method: 'POST', headers: json, body: '[]', token });
        if (first.status !== 200) expect([first.status, await first.text()]).toEqual([530, expect.stringMatching(/time limit/)]);
        // The thread is stuck now; the next call waits until it is replaced, then runs.
        expect((await s.http('/v1/database/runaway/call/add', { method: 'POST', headers: json, body: '[3, "after"]', token })).status).toBe(200);
        const logs = await (await s.http('/v1/database/runaway/logs', { token })).text();
        expect(logs).toMatch(/was stopped/);
      } finally {
        await s.close(); // and the server can still shut down
      }
    });
  }
});

describe('the module sandbox', () => {
  let s: TestServer;
  beforeEach(async () => {
    s = await openServer();
    await s.publish('escape', 'test/fixtures/escape.ts');
  });
  afterEach(async () => {
    await s.close();
  });

  it("reaches none of Node's globals, not even through Function", async () => {
    const r = await s.http('/v1/database/escape/call/probe', { method: 'POST', headers: json, body: '[]' });
    expect(await r.json()).toBe(
      'process=env,nextTick env=0 getBuiltinModule=undefined binding=undefined fetch=undefined WebSocket=undefined BroadcastChannel=undefined require=undefined Function-process=undefined',
    );
  });

  it("never sees a caller's token (good for every database), over HTTP or WebSocket, even wrapping built-ins", async () => {
    const victim = await s.publish('victim', 'test/fixtures/tiny.ts');
    await s.publish('thief', 'test/fixtures/token-thief.ts');
    expect((await s.http('/v1/database/thief/call/poke', { method: 'POST', headers: json, body: '[]', token: victim.token })).status).toBe(200);
    const sdk = await connectSdk(s.url, 'thief', { token: victim.token });
    expect(sdk.token).toBe(victim.token); // the client still gets its token back in InitialConnection
    await sdk.close();
    const control = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJjb250cm9sIn0.c2lnbmVk';
    expect((await s.http('/v1/database/thief/call/note', { method: 'POST', headers: json, body: JSON.stringify([control]) })).status).toBe(200);
    expect((await s.http('/v1/database/thief/call/loot', { method: 'POST', headers: json, body: '[]' })).status).toBe(200);
    const loot = (await (await s.http('/v1/database/thief/sql', { method: 'POST', body: 'SELECT value FROM caught' })).json()) as { rows: [string][] }[];
    expect(loot[0]!.rows.map(([v]) => v)).toContain(control); // it does see what passes through
    expect(loot[0]!.rows.map(([v]) => v)).not.toContain(victim.token);
    expect(loot[0]!.rows.filter(([v]) => victim.token.startsWith(v.split('.').slice(0, 2).join('.')) && v.split('.')[2] !== '')).toEqual([]);
  });

  it("cannot load Node's modules with import(), directly or from generated code", async () => {
    expect((await s.http('/v1/database/escape/call/try_import', { method: 'POST', headers: json, body: '[]' })).status).toBe(200);
    let outcome = 'pending';
    while (outcome === 'pending') outcome = (await (await s.http('/v1/database/escape/call/import_outcome', { method: 'POST', headers: json, body: '[]' })).json()) as string;
    expect(outcome).toBe('refused:ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING refused:ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING');
  });
});
