// The page's side of a call lane against a stand-in engine on a real MessageChannel: calls take
// the lane only once nothing sent through the supervisor is in flight (so they start in the order
// they were made), calls without an id never take it, and what a dead lane held goes again
// through the supervisor. The supervisor's side is worker/engine-supervisor.test.ts's.
import * as Comlink from 'comlink';
import { describe, expect, it, vi } from 'vitest';
import { LANE_OPEN_TIMEOUT_MS, LANE_RETRY_MS, LaneSender } from './call-lane.ts';
import type { CallSender } from './call-batcher.ts';
import type { WireCall, WireSettled } from './protocol.ts';
import { installTransferHandlers } from './wire.ts';

installTransferHandlers();

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A supervisor whose calls wait until the test releases them; the engine's lane answers at once (or never, once dead). */
function world() {
  const log: string[] = [];
  const held: (() => void)[] = [];
  const via: CallSender = {
    call: (_name, fn) =>
      new Promise((resolve) => {
        log.push(`via ${fn}`);
        held.push(() => resolve(`${fn} via`));
      }),
    callMany: (_name, calls) =>
      new Promise((resolve) => {
        log.push(`via ${calls.map((c) => c.fn).join(',')}`);
        held.push(() => resolve(calls.map((c): WireSettled => ({ ok: true, value: `${c.fn} via` }))));
      }),
  };
  let dead = false;
  let died!: () => void;
  const gone = new Promise<void>((resolve) => (died = resolve));
  const open = async (port: MessagePort) => {
    Comlink.expose(
      {
        callMany: (_name: string, calls: WireCall[]) => {
          log.push(`lane ${calls.map((c) => c.fn).join(',')}`);
          return dead ? new Promise<never>(() => {}) : Promise.resolve(calls.map((c): WireSettled => ({ ok: true, value: `${c.fn} lane` })));
        },
      },
      port,
    );
    return { lock: 'engine' };
  };
  const sender = new LaneSender({ via, open, released: () => gone, hostedHere: (lock) => hosted && lock === 'engine' });
  let hosted = true;
  return {
    log,
    sender,
    release: () => {
      for (const f of held.splice(0)) f();
    },
    kill: () => {
      dead = true;
    },
    elsewhere: () => {
      hosted = false;
    },
    died,
  };
}

const withId = (id: string) => ({ callId: id });

describe('LaneSender', () => {
  it('follows calls still in flight through the supervisor, then takes the lane', async () => {
    const w = world();
    const first = w.sender.call('db', 'a', [], withId('a')); // the lane is not open yet
    await settle();
    expect(w.sender.open).toBe(true);
    const second = w.sender.call('db', 'b', [], withId('b')); // `a` is still in flight: `b` follows it
    await settle();
    expect(w.log).toEqual(['via a', 'via b']);
    w.release();
    expect(await first).toBe('a via');
    expect(await second).toBe('b via');
    expect(await w.sender.call('db', 'c', [], withId('c'))).toBe('c lane');
    expect(
      await w.sender.callMany('db', [
        { fn: 'd', args: [], opts: withId('d') },
        { fn: 'e', args: [], opts: withId('e') },
      ]),
    ).toEqual([
      { ok: true, value: 'd lane' },
      { ok: true, value: 'e lane' },
    ]);
    // A call without an id may not be sent twice: never on a lane.
    const plain = w.sender.call('db', 'f', [], {});
    await settle();
    w.release();
    expect(await plain).toBe('f via');
    expect(w.log).toEqual(['via a', 'via b', 'lane c', 'lane d,e', 'via f']);
  });

  it('sends what a dead lane held again through the supervisor, in order, and nothing new on it', async () => {
    const w = world();
    await settle();
    expect(w.sender.open).toBe(true);
    w.kill(); // the engine stops answering, then its lock is released
    const one = w.sender.callMany('db', [
      { fn: 'one', args: [], opts: withId('1') },
      { fn: 'two', args: [], opts: withId('2') },
    ]);
    const three = w.sender.call('db', 'three', [], withId('3'));
    await settle();
    w.died();
    await settle();
    expect(w.sender.open).toBe(false);
    const four = w.sender.call('db', 'four', [], withId('4'));
    await settle();
    w.release();
    expect(await one).toEqual([
      { ok: true, value: 'one via' },
      { ok: true, value: 'two via' },
    ]);
    expect(await three).toBe('three via');
    expect(await four).toBe('four via');
    expect(w.log).toEqual(['lane one,two', 'lane three', 'via one,two', 'via three', 'via four']);
  });
});

describe('LaneSender.handOver', () => {
  it('when the engine goes with this page: what is in flight goes to the supervisor too, and so do later calls until the page stays', async () => {
    const w = world();
    await settle();
    w.kill(); // the lane's calls stay in flight
    void w.sender.call('db', 'one', [], withId('1'));
    await settle();
    w.sender.handOver();
    await settle();
    void w.sender.call('db', 'two', [], withId('2')); // an app's own pagehide handler
    await settle();
    expect(w.log).toEqual(['lane one', 'via one', 'via two']);
    w.release();
    await settle();
    w.sender.stay(); // back from the back-forward cache
    void w.sender.call('db', 'three', [], withId('3'));
    await settle();
    expect(w.log.at(-1)).toBe('lane three');
  });

  it('when the engine runs elsewhere it outlives this page: nothing is sent twice', async () => {
    const w = world();
    await settle();
    w.elsewhere();
    w.kill();
    void w.sender.call('db', 'one', [], withId('1'));
    await settle();
    w.sender.handOver();
    void w.sender.call('db', 'two', [], withId('2'));
    await settle();
    expect(w.log).toEqual(['lane one', 'lane two']);
  });
});

describe('LaneSender.open', () => {
  it('a lane request that is never answered counts as refused: calls go through the supervisor, and the next request is made later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      let asked = 0;
      const via: CallSender = { call: async (_n, fn) => `${fn} via`, callMany: async (_n, calls) => calls.map((c): WireSettled => ({ ok: true, value: `${c.fn} via` })) };
      const sender = new LaneSender({ via, open: () => (asked++, new Promise<never>(() => {})), released: () => new Promise<never>(() => {}) });
      expect(asked).toBe(1);
      expect(await sender.call('db', 'a', [], withId('a'))).toBe('a via');
      expect(asked).toBe(1); // still waiting for the first answer
      await vi.advanceTimersByTimeAsync(LANE_OPEN_TIMEOUT_MS + LANE_RETRY_MS);
      expect(await sender.call('db', 'b', [], withId('b'))).toBe('b via');
      expect(asked).toBe(2);
      sender.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
