// The dedicated-worker router in Node: Node has BroadcastChannel; Web Locks are stood in for by a
// small in-process lock manager (the real ones are e2e's job). A leader answers every request on
// its versioned channel, including one it does not know (a follower of another build).
import { afterAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../src/client/protocol.ts';
import { CHANNEL, LEADER_LOCK, Router } from './router.ts';
import { Locks } from './test-locks.ts';

const locks = new Locks();
Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true });
const channels: BroadcastChannel[] = [];
afterAll(() => {
  for (const c of channels) c.close();
});

/** A raw endpoint on the channel, standing in for a follower worker of some build. */
function follower(name: string) {
  const channel = new BroadcastChannel(name);
  channels.push(channel);
  const received: unknown[] = [];
  let wake = () => {};
  channel.onmessage = (event: MessageEvent) => {
    received.push(event.data);
    wake();
  };
  const next = async (match: (msg: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
    for (;;) {
      const found = received.find((m) => match(m as Record<string, unknown>));
      if (found) return found as Record<string, unknown>;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  };
  return { post: (msg: unknown) => channel.postMessage(msg), next };
}

describe('Router', () => {
  it('names its channel and leader lock after the protocol version, and answers a request it does not know with UNKNOWN_METHOD', async () => {
    expect(CHANNEL).toBe(`lightcone:rpc:v${PROTOCOL_VERSION}`);
    expect(LEADER_LOCK).toBe(`lightcone:leader:v${PROTOCOL_VERSION}`);
    const f = follower(`lightcone:rpc:v${PROTOCOL_VERSION}`);
    new Router({ workerId: 'leader', lock: 'lightcone:worker:leader', lockHeld: Promise.resolve(), testHooks: false, spawnEngine: () => Promise.reject(new Error('no engine in this test')) });
    expect(locks.requested).toContain(`lightcone:leader:v${PROTOCOL_VERSION}`);
    await f.next((m) => m.t === 'leader' && m.id === 'leader');

    // A newer build's method, and a request whose arguments are not a list: each gets an answer.
    f.post({ t: 'req', from: 'newer', id: 1, method: 'callEverything', args: ['db', []] });
    f.post({ t: 'req', from: 'newer', id: 2, method: 'describe', args: 'db' });
    const unknown = await f.next((m) => m.t === 'res' && m.to === 'newer' && m.id === 1);
    expect(unknown).toMatchObject({ ok: false, error: { lightcone: { name: 'UsageError', code: 'UNKNOWN_METHOD', details: { method: 'callEverything' } } } });
    expect((unknown.error as { lightcone: { message: string } }).lightcone.message).toMatch(/different versions.*reload/);
    expect(await f.next((m) => m.t === 'res' && m.to === 'newer' && m.id === 2)).toMatchObject({ ok: false, error: { lightcone: { code: 'UNKNOWN_METHOD' } } });
  });
});
