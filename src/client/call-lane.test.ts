// The page's side of a call lane against a stand-in engine on a real MessageChannel: calls take
// the lane only once nothing sent through the supervisor is in flight (so they start in the order
// they were made), calls without an id never take it, and what a dead lane held goes again
// through the supervisor. The supervisor's side is worker/engine-supervisor.test.ts's.
import * as Comlink from 'comlink';
import { describe, expect, it } from 'vitest';
import { LaneSender } from './call-lane.ts';
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
  const sender = new LaneSender({ via, open, released: () => gone });
  return {
    log,
    sender,
    release: () => {
      for (const f of held.splice(0)) f();
    },
    kill: () => {
      dead = true;
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
  it('sends what is in flight on the lane to the supervisor too, when the page goes away', async () => {
    const w = world();
    await settle();
    w.kill(); // the lane's calls stay in flight
    void w.sender.call('db', 'one', [], withId('1'));
    await settle();
    w.sender.handOver();
    await settle();
    expect(w.log).toEqual(['lane one', 'via one']);
  });
});
