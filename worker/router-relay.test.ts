// The dedicated-worker router as a follower relaying an SDK connection (local()): one opened
// before any leader was known went nowhere, so the first leader's announcement must end it and
// let the SDK reconnect. Its own file: a process whose channel has no leader answering.
import { describe, expect, it } from 'vitest';
import { CHANNEL, LEADER_LOCK, Router } from './router.ts';
import { Locks } from './test-locks.ts';

const locks = new Locks();
Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true });

describe('Router as a follower', () => {
  it('closes an SDK connection it relayed before any leader was known once the first leader announces itself', async () => {
    // Someone holds the leader lock but has not announced itself yet.
    void locks.request(LEADER_LOCK, () => new Promise<never>(() => {}));
    const follower = new Router({
      workerId: 'follower',
      lock: 'lightcone:worker:follower',
      lockHeld: Promise.resolve(),
      testHooks: false,
      spawnEngine: () => Promise.reject(new Error('no engine in this test')),
    });
    const { port1: page, port2 } = new MessageChannel();
    const closed = new Promise<unknown>((resolve) => {
      page.onmessage = (e: MessageEvent) => resolve(e.data);
    });
    await follower.serveProtocol('db', port2);

    const leader = new BroadcastChannel(CHANNEL);
    leader.postMessage({ t: 'leader', id: 'the-leader' });
    expect(await closed).toMatchObject({ type: 'close', code: 1001 });
    leader.close();
    page.close();
  });
});
