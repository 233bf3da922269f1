// The worker's API in Node, on fake-indexeddb: open/publish by name, calls with idempotency ids,
// SQL, subscriptions that follow the engine, images, delete, and the reload after a failed write
// (memory must not keep a transaction that storage refused). Tabs and Web Locks are e2e's job.
import 'fake-indexeddb/auto';
import * as Comlink from 'comlink';
import { describe, expect, it } from 'vitest';
import type { LaneApi } from '../src/client/protocol.ts';
import { installTransferHandlers } from '../src/client/wire.ts';
import type { InitialRows, TableUpdate } from '../src/subscriptions/types.ts';
import type { SerializedError } from '../src/errors.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { indexedDbDurability } from '../src/durability/indexeddb.ts';
import { Engine, randomIdentity } from '../src/engine/engine.ts';
import { WorkerHost } from './worker-host.ts';

installTransferHandlers();
const chat = (await bundleModule('examples/chat')).code;
const host = () => new WorkerHost({ mode: 'shared', lock: 'test', lockHeld: Promise.resolve(), testHooks: true });
let n = 0;
const fresh = () => `db${++n}`;

/** A sink that records what a subscription delivered. */
function recorder() {
  const events: ({ applied: InitialRows } | { update: TableUpdate[] } | { error: SerializedError })[] = [];
  let wake = () => {};
  const sink = {
    applied: (applied: InitialRows) => {
      events.push({ applied });
      wake();
    },
    update: (update: TableUpdate[]) => {
      events.push({ update });
      wake();
    },
    error: (error: SerializedError) => {
      events.push({ error });
      wake();
    },
  };
  const next = async (count: number) => {
    for (let i = 0; i < 200 && events.length < count; i++) await new Promise<void>((r) => ((wake = r), setTimeout(r, 10)));
    return events;
  };
  return { sink, events, next };
}

const texts = async (h: WorkerHost, name: string) => (await h.query(name, 'SELECT * FROM message', undefined)).rows.map((r) => r.text).sort();

describe('WorkerHost', () => {
  it('opens by name, publishes once, and dedupes calls by id', async () => {
    const h = host();
    const name = fresh();
    expect((await h.open(name, chat)).published).toBe('created');
    expect((await h.open(name, chat)).published).toBe('unchanged');
    await h.call(name, 'send_message', { text: 'a' }, { callId: 'x' });
    await h.call(name, 'send_message', { text: 'a' }, { callId: 'x' });
    expect(await texts(h, name)).toEqual(['a']);
    // A second host (another worker, later) opens the same storage without the code.
    const other = host();
    await other.call(name, 'send_message', { text: 'a' }, { callId: 'x' });
    expect(await texts(other, name)).toEqual(['a']);
    expect((await other.describe(name)).tables.map((t) => t.name).sort()).toEqual(['message', 'user']);
  });

  it('a database that does not exist and no module is a UsageError', async () => {
    await expect(host().call(fresh(), 'send_message', { text: 'a' }, {})).rejects.toMatchObject({ name: 'UsageError', code: 'UNKNOWN_DATABASE' });
    await expect(host().open('bad name!', chat)).rejects.toMatchObject({ code: 'BAD_NAME' });
  });

  it('subscriptions get initial rows and updates, and end when their client is dropped', async () => {
    const h = host();
    const name = fresh();
    await h.open(name, chat);
    await h.call(name, 'send_message', { text: 'first' }, {});
    const r = recorder();
    await h.subscribe('client-1', 'sub-1', name, ['SELECT * FROM message'], {}, r.sink);
    await h.call(name, 'send_message', { text: 'second' }, {});
    const events = await r.next(2);
    expect(events[0]).toMatchObject({ applied: { message: [{ text: 'first' }] } });
    expect(events[1]).toMatchObject({ update: [{ table: 'message', inserts: [{ text: 'second' }], deletes: [] }] });
    h.dropClient('client-1');
    await h.call(name, 'send_message', { text: 'third' }, {});
    await new Promise((res) => setTimeout(res, 50));
    expect(r.events.length).toBe(2);
  });

  it('after a failed write the database reloads from storage: the refused call is gone, subscriptions continue', async () => {
    const h = host();
    const name = fresh();
    await h.open(name, chat);
    await h.call(name, 'send_message', { text: 'before' }, { callId: 'b' });
    const r = recorder();
    await h.subscribe('c', 's', name, ['SELECT * FROM message'], {}, r.sink);
    await h.setTestHooks(name, { failWrites: true });
    await expect(h.call(name, 'send_message', { text: 'refused' }, { callId: 'r' })).rejects.toMatchObject({ name: 'StorageError', code: 'QUOTA_EXCEEDED' });
    await h.setTestHooks(name, { failWrites: false });
    await h.call(name, 'send_message', { text: 'after' }, { callId: 'a' });
    expect(await texts(h, name)).toEqual(['after', 'before']);
    const events = await r.next(3);
    expect(events.some((e) => 'error' in e)).toBe(false);
    // The subscription was made again on the reloaded engine: a fresh snapshot, then the update.
    expect(events.filter((e) => 'applied' in e).length).toBe(2);
    expect(events.at(-1)).toMatchObject({ update: [{ inserts: [{ text: 'after' }] }] });
    // The refused call may be retried with its id: it never ran durably, so it runs now.
    await h.call(name, 'send_message', { text: 'refused' }, { callId: 'r' });
    expect(await texts(h, name)).toEqual(['after', 'before', 'refused']);
  });

  it('one fence: what meets a failed write waits for the reload and runs; nothing is told NOT_DURABLE', async () => {
    const h = host();
    const name = fresh();
    await h.open(name, chat);
    await h.call(name, 'send_message', { text: 'before' }, { callId: 'before' });
    await h.setTestHooks(name, { failWrites: true });
    const refused = h.call(name, 'send_message', { text: 'refused' }, { callId: 'refused' });
    refused.catch(() => void h.setTestHooks(name, { failWrites: false }));
    // Calls and reads issued one microtask apart sweep across the failure, the engine's fence and
    // the reload: each either was carried by the refused write (QUOTA_EXCEEDED) or runs.
    const calls: Promise<string>[] = [];
    const reads: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      await Promise.resolve();
      calls.push(
        h.call(name, 'send_message', { text: `c${i}` }, { callId: `c${i}` }).then(
          () => `c${i}`,
          (e: { code?: string }) => `c${i} ${e.code}`,
        ),
      );
      reads.push(h.query(name, 'SELECT * FROM message', undefined), h.exportDatabase(name));
    }
    await expect(refused).rejects.toMatchObject({ name: 'StorageError', code: 'QUOTA_EXCEEDED' });
    const settled = await Promise.all(calls);
    const ran = settled.filter((s) => !s.includes(' '));
    for (const s of settled) expect(s).toMatch(/^c\d+( QUOTA_EXCEEDED)?$/);
    expect(ran.length).toBeGreaterThan(0);
    await Promise.all(reads); // none refused
    expect(await texts(h, name)).toEqual(['before', ...ran].sort());
  });

  it('a fence that trips while the database opens: calls give up with a retryable RELOADING while storage refuses, and run once it accepts', async () => {
    const name = fresh();
    const schedules = (await bundleModule('test/fixtures/schedules.ts')).code;
    // An overdue one-shot row that no engine ran yet: the engine that wrote it closes before its timer.
    const writer = await Engine.open({ name, durability: indexedDbDurability(name), code: schedules, owner: randomIdentity() });
    const written = writer.call('once_in', [-60_000, 'overdue']);
    await writer.close();
    await written;
    const h = host();
    await h.setTestHooks(name, { failWrites: true });
    // Opening runs the overdue row and storage refuses its write: the engine is fenced before any
    // call reaches it, and so is every reload while storage keeps refusing.
    await expect(h.call(name, 'cancel_all', [], { callId: 'x' })).rejects.toMatchObject({ name: 'StorageError', code: 'RELOADING', details: { retryable: true } });
    await h.setTestHooks(name, { failWrites: false });
    await h.call(name, 'cancel_all', [], { callId: 'x' });
    expect((await h.query(name, 'SELECT * FROM fired', undefined)).rows.map((r) => r.note)).toEqual(['overdue']);
  });

  it('export and import move a database; delete ends its subscriptions', async () => {
    const h = host();
    const a = fresh();
    const b = fresh();
    await h.open(a, chat);
    await h.call(a, 'send_message', { text: 'exported' }, {});
    const image = await h.exportDatabase(a);
    await h.open(b, chat);
    await h.call(b, 'send_message', { text: 'replaced' }, {});
    const r = recorder();
    await h.subscribe('c', 's', b, ['SELECT * FROM message'], {}, r.sink);
    await h.importDatabase(b, image);
    expect(await texts(h, b)).toEqual(['exported']);
    const events = await r.next(2);
    expect(events[1]).toMatchObject({ applied: { message: [{ text: 'exported' }] } });
    // open(name, code, image): creates a missing database from the image, leaves an existing one.
    const c = fresh();
    expect((await h.open(c, chat, image)).published).toBe('created');
    expect(await texts(h, c)).toEqual(['exported']);
    await h.call(c, 'send_message', { text: 'kept' }, {});
    expect((await host().open(c, chat, image)).published).toBe('unchanged');
    expect(await texts(h, c)).toEqual(['exported', 'kept']);
    await h.deleteDatabase(b);
    expect((await r.next(3))[2]).toMatchObject({ error: { name: 'ClosedError' } });
    await expect(h.call(b, 'send_message', { text: 'x' }, {})).rejects.toMatchObject({ code: 'UNKNOWN_DATABASE' });
  });

  it('publish swaps the module under running subscriptions (they get a fresh snapshot)', async () => {
    const h = host();
    const name = fresh();
    await h.open(name, chat);
    await h.call(name, 'send_message', { text: 'v1' }, {});
    const r = recorder();
    await h.subscribe('c', 's', name, ['SELECT * FROM message'], {}, r.sink);
    expect((await h.publish(name, `${chat}\n// v2`)).published).toBe('updated');
    expect((await h.publish(name, `${chat}\n// v2`)).published).toBe('unchanged');
    await h.call(name, 'send_message', { text: 'v2' }, {});
    const events = await r.next(3);
    expect(events.map((e) => Object.keys(e)[0])).toEqual(['applied', 'applied', 'update']);
    expect(events[1]).toMatchObject({ applied: { message: [{ text: 'v1' }] } });
    await expect(h.publish(name, '')).rejects.toMatchObject({ code: 'BAD_MODULE' });
  });

  it('client connections: clientConnected once, calls on them run no hooks, clientDisconnected when the client goes; a new worker disconnects what a dead one held', async () => {
    const h = host();
    const name = fresh();
    await h.open(name, chat);
    const ada = `c200${'ad'.repeat(30)}`;
    const bob = `c200${'b0'.repeat(30)}`;
    const presence = async (w: WorkerHost) =>
      (await w.query(name, 'SELECT * FROM user', undefined)).rows
        .map((r) => `${(r.identity as { toHexString(): string }).toHexString() === ada ? 'ada' : 'bob'} ${r.online ? 'online' : 'offline'}`)
        .sort();
    const until = async (w: WorkerHost, want: string[]) => {
      for (let i = 0; i < 200 && JSON.stringify(await presence(w)) !== JSON.stringify(want); i++) await new Promise((r) => setTimeout(r, 10));
      return presence(w);
    };
    const id = await h.attach(name, 'page-1', ada);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(await h.attach(name, 'page-1', ada)).toBe(id); // asked again: the same connection
    expect(await presence(h)).toEqual(['ada online']);
    // A call on the connection runs no lifecycle hooks; one without runs them around it (HTTP-like).
    await h.call(name, 'send_message', { text: 'on the connection' }, { sender: ada, connectionId: id });
    await h.call(name, 'send_message', { text: 'as an HTTP call' }, { sender: bob });
    expect(await presence(h)).toEqual(['ada online', 'bob offline']);
    // The page goes: clientDisconnected runs.
    h.dropClient('page-1');
    expect(await until(h, ['ada offline', 'bob offline'])).toEqual(['ada offline', 'bob offline']);
    // A connection whose worker dies without disconnecting it is disconnected by the next worker that opens the database.
    await h.attach(name, 'page-2', ada);
    expect(await presence(h)).toEqual(['ada online', 'bob offline']);
    expect(await presence(host())).toEqual(['ada offline', 'bob offline']);
  });

  it('test hooks are refused in builds without them', async () => {
    const h = new WorkerHost({ mode: 'shared', lock: 'test', lockHeld: Promise.resolve(), testHooks: false });
    await expect(h.setTestHooks('x', { failWrites: true })).rejects.toMatchObject({ code: 'NO_TEST_HOOKS' });
  });
});

describe('WorkerHost call lanes', () => {
  it('tells while lane calls are in flight (the smallest budget), and tells again when none is, a refused one included', async () => {
    const told: number[] = [];
    const h = new WorkerHost({ mode: 'shared', lock: 'engine-lock', lockHeld: Promise.resolve(), testHooks: true, onLane: (ms) => told.push(ms) });
    const name = fresh();
    await h.open(name, chat);
    const channel = new MessageChannel();
    expect(await h.callLane(channel.port2)).toEqual({ lock: 'engine-lock' });
    const lane = Comlink.wrap<LaneApi>(channel.port1);
    const sent = await lane.callMany(name, [
      { fn: 'send_message', args: { text: 'a' }, opts: { callId: 'a', timeoutMs: 3_000 } },
      { fn: 'send_message', args: { text: 'b' }, opts: { callId: 'b' } },
    ]);
    expect(sent.map((r) => r.ok)).toEqual([true, true]);
    expect(told).toEqual([3_000, 0]);
    // A database name the host refuses at once: its budget is still given back.
    await expect(lane.callMany('no such name!', [{ fn: 'send_message', args: { text: 'c' }, opts: { callId: 'c' } }])).rejects.toMatchObject({ name: 'UsageError' });
    expect(told).toEqual([3_000, 0, 10_000, 0]);
    // Calls without an id may not be sent twice, so they never travel on a lane.
    await expect(lane.callMany(name, [{ fn: 'send_message', args: { text: 'd' }, opts: {} }])).rejects.toMatchObject({ name: 'UsageError', code: 'BAD_ARGUMENT' });
    expect(await texts(h, name)).toEqual(['a', 'b']);
    channel.port1.close();
  });
});
