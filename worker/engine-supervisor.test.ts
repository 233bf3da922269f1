// The supervisor's contract in Node, against stand-in engines on real MessageChannels and a clock
// the test moves: a runaway call (one that stops the engine answering) rejects with TIME_LIMIT once
// its budget is spent, the engine is replaced, calls in flight beside it run again one at a time
// (each once, by call id), a dead engine is replaced, and subscriptions and test hooks follow.
// The real engine worker in Chromium is e2e/limits.spec.ts's job.
import * as Comlink from 'comlink';
import { describe, expect, it } from 'vitest';
import type { SerializedError } from '../src/errors.ts';
import type { BeatMessage, SubscriptionSink, TestHooks, WireCall, WireCallOptions, WireSettled } from '../src/client/protocol.ts';
import { installTransferHandlers } from '../src/client/wire.ts';
import { LaneSender } from '../src/client/call-lane.ts';
import { EngineSupervisor, type Clock, type EngineLink } from './engine-supervisor.ts';

installTransferHandlers();

/** Time that moves only when the test says so; timers run in order as it passes. */
class ManualClock implements Clock {
  #t = 0;
  readonly #timers = new Set<{ ms: number; next: number; f: () => void }>();
  now = (): number => this.#t;
  every(ms: number, f: () => void): () => void {
    const timer = { ms, next: this.#t + ms, f };
    this.#timers.add(timer);
    return () => this.#timers.delete(timer);
  }
  /** Moves time forward by `ms`, running due timers, and lets every message in flight arrive after each. */
  async advance(ms: number): Promise<void> {
    await settle(); // what was sent before reaches its engine at the present time
    const end = this.#t + ms;
    for (;;) {
      let due: { ms: number; next: number; f: () => void } | undefined;
      for (const t of this.#timers) if (t.next <= end && (!due || t.next < due.next)) due = t;
      if (!due) break;
      this.#t = due.next;
      due.next += due.ms;
      due.f();
      await settle();
    }
    this.#t = end;
    await settle();
  }
}

/** Event-loop turns (not time): enough for every message exchange in flight to finish. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Fake {
  index: number;
  terminated: boolean;
  hooks: TestHooks[];
  subscribed: string[];
  /** Ends an announced block (see `http`). */
  release: () => void;
  /** Resolves when this engine has ended (its lock, as a lane's page watches it). */
  gone: Promise<void>;
  /** Batches that came on call lanes. */
  laneBatches: number;
}

/**
 * Stand-in engines sharing one store, running calls one at a time like the real one: `spin` stops
 * answering forever, `slow` for `args[0]` ms of the test's clock, `http` announces a block and
 * answers when released; `synced` is a call on a synced database: it says it waits for its server
 * (`{ waiting }`) and answers when the test's `server.answer(callId)` says, on whichever engine
 * holds it then; anything else commits once per call id (a retry is answered from the store).
 */
function fakeEngines(clock: ManualClock) {
  const committed = new Map<string, string>();
  const answers = new Map<string, { promise: Promise<string>; resolve: (v: string) => void }>();
  const server = {
    wait(callId: string): Promise<string> {
      let a = answers.get(callId);
      if (!a) {
        let resolve!: (v: string) => void;
        const promise = new Promise<string>((r) => (resolve = r));
        answers.set(callId, (a = { promise, resolve }));
      }
      return a.promise;
    },
    answer: (callId: string) => answers.get(callId)?.resolve(`committed ${callId}`),
  };
  const runs: string[] = [];
  const engines: Fake[] = [];
  const spawn = async (): Promise<EngineLink> => {
    const rpc = new MessageChannel();
    const beat = new MessageChannel();
    let stuck = false;
    let gone!: () => void;
    const goneP = new Promise<void>((resolve) => (gone = resolve));
    let unblock = () => {};
    let slowUntil: { at: number; done: () => void } | undefined;
    let chain: Promise<unknown> = Promise.resolve();
    const lanes: MessagePort[] = [];
    const fake: Fake = { index: engines.length, terminated: false, hooks: [], subscribed: [], release: () => unblock(), gone: goneP, laneBatches: 0 };
    beat.port2.addEventListener('message', (e: MessageEvent<BeatMessage>) => {
      if (slowUntil && clock.now() >= slowUntil.at) {
        slowUntil.done();
        slowUntil = undefined;
        stuck = false;
      }
      if (!stuck && 'ping' in e.data) beat.port2.postMessage({ pong: e.data.ping } satisfies BeatMessage);
    });
    beat.port2.start();
    const run = (fn: string, args: unknown, opts: WireCallOptions): Promise<string> => {
      const turn = chain.then(() => execute(fn, args, opts));
      chain = turn.catch(() => {});
      return turn;
    };
    const execute = (fn: string, args: unknown, opts: WireCallOptions): Promise<string> | string => {
      if (fn === 'slow') {
        stuck = true;
        const at = clock.now() + (args as number[])[0]!;
        return new Promise<string>((resolve) => (slowUntil = { at, done: () => resolve(`slow(${JSON.stringify(args)})`) }));
      }
      if (fn === 'spin') {
        stuck = true;
        return new Promise<never>(() => {});
      }
      if (fn === 'http') {
        beat.port2.postMessage({ busyMs: 5_000 } satisfies BeatMessage);
        stuck = true;
        return new Promise<string>((resolve) => {
          unblock = () => {
            stuck = false;
            beat.port2.postMessage({ busyMs: 0 } satisfies BeatMessage);
            resolve('answered');
          };
        });
      }
      const done = opts.callId !== undefined ? committed.get(opts.callId) : undefined;
      if (done !== undefined) return done;
      runs.push(`${fn} on engine ${fake.index}`);
      const value = `${fn}(${JSON.stringify(args)})`;
      if (opts.callId !== undefined) committed.set(opts.callId, value);
      return value;
    };
    const api = {
      call: async (_name: string, fn: string, args: unknown, opts: WireCallOptions) => {
        if (fn !== 'synced') return run(fn, args, opts);
        beat.port2.postMessage({ waiting: opts.callId! } satisfies BeatMessage);
        return server.wait(opts.callId!);
      },
      async callMany(_name: string, calls: WireCall[]): Promise<WireSettled[]> {
        const out: WireSettled[] = [];
        for (const c of calls) out.push({ ok: true, value: await run(c.fn, c.args, c.opts) });
        return out;
      },
      async subscribe(_clientId: string, subscriptionId: string, _name: string, _queries: string[], _opts: unknown, sink: SubscriptionSink) {
        fake.subscribed.push(subscriptionId);
        await sink.applied({ engine: [{ index: fake.index }] });
      },
      unsubscribe: async () => {},
      // A module's HTTP handler: `/hang` never answers on the first engine; the rest answer at once.
      fetchRoute: (_name: string, req: { method: string; path: string }) => {
        runs.push(`${req.method} ${req.path} on engine ${fake.index}`);
        return req.path === '/hang' && fake.index === 0 ? new Promise<never>(() => {}) : Promise.resolve({ status: 200, headers: [], body: new Uint8Array() });
      },
      query: async (_name: string, sql: string) => {
        runs.push(`${sql} on engine ${fake.index}`);
        return sql.includes('hang') && fake.index === 0 ? new Promise<never>(() => {}) : { columns: [], rows: [] };
      },
      setTestHooks: async (_name: string, hooks: TestHooks) => void fake.hooks.push(hooks),
      dropClient: () => {},
      // As the real engine (worker/worker-host.ts): tells the smallest budget of its lane calls in flight.
      callLane: async (port: MessagePort) => {
        if (stuck) return new Promise<never>(() => {}); // a stuck engine answers nothing
        lanes.push(port);
        const budgets: number[] = [];
        const tell = () => beat.port2.postMessage({ lane: budgets.length > 0 ? Math.min(...budgets) : 0 } satisfies BeatMessage);
        const lane = {
          callMany: async (name: string, calls: WireCall[]) => {
            fake.laneBatches++;
            const mine = calls.map((c) => c.opts.timeoutMs ?? 10_000);
            budgets.push(...mine);
            tell();
            try {
              return await api.callMany(name, calls);
            } finally {
              for (const b of mine) budgets.splice(budgets.indexOf(b), 1);
              tell();
            }
          },
        };
        Comlink.expose(lane, port);
        return { lock: `engine-${fake.index}` };
      },
    };
    Comlink.expose(api, rpc.port2);
    engines.push(fake);
    return {
      rpc: rpc.port1,
      beat: beat.port1,
      gone: goneP,
      terminate() {
        fake.terminated = true;
        stuck = true;
        rpc.port2.close();
        beat.port2.close();
        for (const port of lanes) port.close();
        gone();
      },
    };
  };
  return { spawn, engines, runs, server };
}

function supervisor(clock: ManualClock, spawn: () => Promise<EngineLink>): EngineSupervisor {
  return new EngineSupervisor({ mode: 'shared', lock: 'test', lockHeld: Promise.resolve(), testHooks: true, spawn, clock, whenReleased: () => new Promise<void>(() => {}) });
}

/** Records how a promise ended, without waiting for it. */
function outcome(p: Promise<unknown>) {
  const o: { state: 'pending' | 'resolved' | 'rejected'; value?: unknown; error?: { name?: string; code?: string; message?: string; details?: Record<string, unknown> } } = { state: 'pending' };
  p.then(
    (value) => Object.assign(o, { state: 'resolved', value }),
    (error: unknown) => Object.assign(o, { state: 'rejected', error }),
  );
  return o;
}

const opts = (callId: string, timeoutMs = 1_000): WireCallOptions => ({ callId, timeoutMs });

describe('EngineSupervisor', () => {
  it('a call that stalls the engine past its budget rejects with TIME_LIMIT; the engine is replaced and the next call runs', async () => {
    const clock = new ManualClock();
    const { spawn, engines, runs } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    expect(await s.call('db', 'add', ['before'], opts('a'))).toBe('add(["before"])');
    const spun = outcome(s.call('db', 'spin', [], opts('s')));
    await clock.advance(900);
    expect(spun.state).toBe('pending'); // within its budget
    await clock.advance(600);
    expect(spun).toMatchObject({ state: 'rejected', error: { name: 'InternalError', code: 'TIME_LIMIT', details: { function: 'spin', callId: 's', limitMs: 1_000 } } });
    expect(spun.error?.message).toMatch(/more than 1000 ms.*connect\(\{ limits: \{ callTimeoutMs \} \}\)/);
    expect(engines[0]!.terminated).toBe(true);
    expect(await s.call('db', 'add', ['after'], opts('b'))).toBe('add(["after"])');
    expect(runs).toEqual(['add on engine 0', 'add on engine 1']);
  });

  it('calls in flight beside a runaway run again one at a time: each settles once, only the runaway fails', async () => {
    const clock = new ManualClock();
    const { spawn, engines, runs } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    await s.call('db', 'add', ['warm'], opts('w'));
    // One batch: `one` commits on the first engine, which then sticks in `spin` before `two`.
    const batch = s.callMany('db', [
      { fn: 'add', args: ['one'], opts: opts('1') },
      { fn: 'spin', args: [], opts: opts('s') },
      { fn: 'add', args: ['two'], opts: opts('2') },
    ]);
    const done = outcome(batch);
    await clock.advance(1_500); // the first stall: three suspects, sent again one by one
    await clock.advance(1_500); // `spin` stalls alone
    await clock.advance(10);
    expect(done.state).toBe('resolved');
    const [one, spin, two] = done.value as WireSettled[];
    expect(one).toEqual({ ok: true, value: 'add(["one"])' });
    expect(spin).toMatchObject({ ok: false, error: { lightcone: { code: 'TIME_LIMIT' } } });
    expect(two).toEqual({ ok: true, value: 'add(["two"])' });
    expect(engines.map((e) => e.terminated)).toEqual([true, true, false]);
    // `one` ran once (its retry was answered by id); `two` ran on the third engine.
    expect(runs).toEqual(['add on engine 0', 'add on engine 0', 'add on engine 2']);
  });

  it('a request is failed only for its own budget: a slow call beside one with a smaller budget completes', async () => {
    const clock = new ManualClock();
    const { spawn, engines } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    // `slow` keeps the engine silent for 3 s (its budget is 5 s); `quick` (1 s) waits behind it.
    const slow = outcome(s.call('db', 'slow', [3_000], opts('slow', 5_000)));
    const quick = outcome(s.call('db', 'add', ['quick'], opts('quick', 1_000)));
    await clock.advance(1_500); // past the smaller budget: the engine is replaced, both are suspects
    expect(engines[0]!.terminated).toBe(true);
    await clock.advance(3_500); // `slow` alone, within its own budget; then `quick`
    expect(slow).toMatchObject({ state: 'resolved', value: 'slow([3000])' });
    expect(quick).toMatchObject({ state: 'resolved', value: 'add(["quick"])' });
    expect(engines.map((e) => e.terminated)).toEqual([true, false]);
  });

  it('an engine that dies is replaced: its call in flight runs again, subscriptions and test hooks follow; two deaths give CRASHED', async () => {
    const clock = new ManualClock();
    const { spawn, engines } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    const applied: unknown[] = [];
    const sink: SubscriptionSink = { applied: (rows) => void applied.push(rows), update: () => {}, error: (e: SerializedError) => void applied.push(e) };
    await s.subscribe('client', 'sub', 'db', ['SELECT * FROM t'], {}, sink);
    await s.setTestHooks('db', { writeDelayMs: 5 });
    const pending = outcome(s.call('db', 'http', [], opts('h', 1_000)));
    await settle();
    await s.setTestHooks('db', { crashEngine: true });
    await settle();
    expect(engines[0]!.terminated).toBe(true);
    // The second engine got the hooks and the subscription again, then the call (which blocks).
    expect(engines[1]!.hooks).toEqual([{ writeDelayMs: 5 }]);
    expect(engines[1]!.subscribed).toEqual(['sub']);
    expect(applied).toEqual([{ engine: [{ index: 0 }] }, { engine: [{ index: 1 }] }]);
    await s.setTestHooks('db', { crashEngine: true }); // a second death with the same call in flight
    await settle();
    expect(engines[1]!.terminated).toBe(true);
    expect(pending).toMatchObject({ state: 'rejected', error: { name: 'InternalError', code: 'CRASHED', details: { callId: 'h' } } });
    expect(await s.call('db', 'add', ['later'], opts('l'))).toBe('add(["later"])');
  });

  it('a synced call waiting for its server is no suspect: engine deaths neither fail it nor hold other requests behind it', async () => {
    const clock = new ManualClock();
    const { spawn, engines, server } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    const synced = outcome(s.call('db', 'synced', [], opts('p')));
    await settle();
    // Two calls in flight beside it when the engine dies: they are suspects, sent again one at a time.
    const one = outcome(s.call('db', 'add', ['one'], opts('1')));
    const two = outcome(s.call('db', 'add', ['two'], opts('2')));
    await s.setTestHooks('db', { crashEngine: true });
    await settle();
    expect(engines[0]!.terminated).toBe(true);
    // The synced call went first to the next engine and parked there: the others did not wait for it.
    expect(one).toMatchObject({ state: 'resolved', value: 'add(["one"])' });
    expect(two).toMatchObject({ state: 'resolved', value: 'add(["two"])' });
    expect(synced.state).toBe('pending');
    // Two more deaths: a parked call is not what killed them (no CRASHED).
    for (const i of [1, 2]) {
      await s.setTestHooks('db', { crashEngine: true });
      await settle();
      expect(engines[i]!.terminated).toBe(true);
    }
    expect(synced.state).toBe('pending');
    expect(await s.call('db', 'add', ['later'], opts('l'))).toBe('add(["later"])');
    server.answer('p');
    await settle();
    expect(synced).toMatchObject({ state: 'resolved', value: 'committed p' });
  });

  it('an HTTP handler or SQL write in flight when its engine dies is not run again: ClosedError, not retryable (as in Node); reads and calls are', async () => {
    const clock = new ManualClock();
    const { spawn, engines, runs } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    const route = outcome(s.fetchRoute('db', { method: 'POST', path: '/hang', headers: [], body: new Uint8Array() }));
    const write = outcome(s.query('db', "UPDATE t SET x = 1 WHERE name = 'hang'", undefined));
    const read = outcome(s.query('db', "SELECT * FROM t WHERE name = 'hang'", undefined));
    const call = outcome(s.call('db', 'spin', [], opts('c', 1_000))); // keeps the first engine busy: the rest stays in flight
    await settle();
    await s.setTestHooks('db', { crashEngine: true });
    await settle();
    expect(engines[0]!.terminated).toBe(true);
    expect(route).toMatchObject({ state: 'rejected', error: { name: 'ClosedError', code: 'CLOSED', details: { database: 'db', restarted: true, retryable: false } } });
    expect(route.error?.message).toMatch(/^the HTTP request POST \/hang on db was in flight when the engine's worker died, and may have run/);
    expect(write).toMatchObject({ state: 'rejected', error: { name: 'ClosedError', details: { restarted: true, retryable: false } } });
    // The read and the call (by its id) went to the next engine; the handler and the write did not.
    expect(read).toMatchObject({ state: 'resolved', value: { rows: [] } });
    expect(runs.filter((r) => r.endsWith('engine 1'))).toEqual(["SELECT * FROM t WHERE name = 'hang' on engine 1"]);
    expect(call.state).toBe('pending'); // `spin`, sent again, keeps engine 1 busy
    expect(runs.filter((r) => r.includes('/hang'))).toEqual(['POST /hang on engine 0']);
  });

  it('synchronous HTTP announces how long it may block: that wait is not a stall', async () => {
    const clock = new ManualClock();
    const { spawn, engines } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    const answered = outcome(s.call('db', 'http', [], opts('h', 1_000)));
    await clock.advance(4_000); // silent for 4 s against a 1 s budget, inside the announced 5 s
    expect(answered.state).toBe('pending');
    engines[0]!.release();
    await settle();
    expect(answered).toMatchObject({ state: 'resolved', value: 'answered' });
    expect(engines[0]!.terminated).toBe(false);
  });
});

describe('EngineSupervisor with call lanes (src/client/call-lane.ts)', () => {
  /** A page's lane sender over supervisor `s`, watching the fake engines' ends as their locks. */
  function lanes(s: EngineSupervisor, engines: Fake[]): LaneSender {
    return new LaneSender({ via: s, open: (port) => s.callLane(port), released: (lock) => engines[Number(lock.split('-')[1])]!.gone });
  }

  /** A supervisor with an engine running (one call made) and a page whose lane to it is open. */
  async function withLane() {
    const clock = new ManualClock();
    const { spawn, engines, runs } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    await s.call('db', 'add', ['warm'], opts('w'));
    const page = lanes(s, engines);
    await settle();
    return { clock, engines, runs, s, page };
  }

  it('calls take the lane once it is open; a runaway on it is watched, sent again through the supervisor, and named', async () => {
    const { clock, engines, runs, page } = await withLane();
    expect(page.open).toBe(true);
    expect(await page.call('db', 'add', ['on lane'], opts('a'))).toBe('add(["on lane"])');
    expect(engines[0]!.laneBatches).toBe(1);
    const spun = outcome(page.call('db', 'spin', [], opts('s')));
    await clock.advance(900);
    expect(spun.state).toBe('pending');
    // The engine said a lane call is in flight: the supervisor stops it past that call's budget.
    await clock.advance(600);
    expect(engines[0]!.terminated).toBe(true);
    expect(spun.state).toBe('pending'); // sent again through the supervisor, it stalls the next engine
    await clock.advance(1_500);
    expect(spun).toMatchObject({ state: 'rejected', error: { name: 'InternalError', code: 'TIME_LIMIT', details: { callId: 's' } } });
    expect(engines.map((e) => e.terminated)).toEqual([true, true]);
    expect(await page.call('db', 'add', ['after'], opts('b'))).toBe('add(["after"])');
    expect(runs).toEqual(['add on engine 0', 'add on engine 0', 'add on engine 2']);
  });

  it('a batch on a lane with a runaway in it: each call commits once, only the runaway fails', async () => {
    const { clock, runs, page } = await withLane();
    const done = outcome(
      page.callMany('db', [
        { fn: 'add', args: ['one'], opts: opts('1') },
        { fn: 'spin', args: [], opts: opts('s') },
        { fn: 'add', args: ['two'], opts: opts('2') },
      ]),
    );
    for (let i = 0; i < 4; i++) await clock.advance(1_500);
    expect(done.state).toBe('resolved');
    const [one, spin, two] = done.value as WireSettled[];
    expect(one).toEqual({ ok: true, value: 'add(["one"])' });
    expect(spin).toMatchObject({ ok: false, error: { lightcone: { code: 'TIME_LIMIT' } } });
    expect(two).toEqual({ ok: true, value: 'add(["two"])' });
    expect(runs.filter((r) => r === 'add on engine 0')).toHaveLength(2); // warm and one, once each
    expect(runs.filter((r) => r.startsWith('add')).length).toBe(3);
  });

  it("a request beside a lane call is failed only for its own budget: the lane's calls count as a suspect", async () => {
    const { clock, engines, s, page } = await withLane();
    // `slow` on the lane keeps the engine silent for 3 s (budget 5 s); `quick` (1 s) waits behind it.
    const slow = outcome(page.call('db', 'slow', [3_000], opts('slow', 5_000)));
    await settle();
    const quick = outcome(s.call('db', 'add', ['quick'], opts('quick', 1_000)));
    await clock.advance(1_500); // past the smaller budget: two suspects, so neither is failed
    expect(engines[0]!.terminated).toBe(true);
    expect(quick).toMatchObject({ state: 'resolved', value: 'add(["quick"])' }); // alone on the next engine
    await clock.advance(3_500);
    expect(slow).toMatchObject({ state: 'resolved', value: 'slow([3000])' });
  });

  it('a call in flight on a lane when its engine dies runs on the next engine, once; the next lane opens', async () => {
    const { clock, engines, runs, s, page } = await withLane();
    const blocked = outcome(page.call('db', 'http', [], opts('h', 1_000))); // answers only when released
    await settle();
    await s.setTestHooks('db', { crashEngine: true });
    await settle();
    expect(engines[0]!.terminated).toBe(true);
    engines[1]!.release();
    await settle();
    expect(blocked).toMatchObject({ state: 'resolved', value: 'answered' });
    expect(engines[1]!.laneBatches).toBe(0); // it came through the supervisor
    await clock.advance(1_000); // past LANE_RETRY_MS: the next call asks for a lane, the one after takes it
    await page.call('db', 'add', ['x'], opts('x'));
    await settle();
    await page.call('db', 'add', ['y'], opts('y'));
    expect(engines[1]!.laneBatches).toBe(1);
    expect(runs).toEqual(['add on engine 0', 'add on engine 1', 'add on engine 1']);
  });

  it('a lane asked of an engine that ends before it answers is none (not a request left pending)', async () => {
    const clock = new ManualClock();
    const { spawn, engines } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    await s.call('db', 'add', ['warm'], opts('w'));
    const spun = outcome(s.call('db', 'spin', [], opts('s')));
    await settle();
    const lane = outcome(s.callLane(new MessageChannel().port1));
    await settle();
    expect(lane.state).toBe('pending');
    await clock.advance(1_500);
    expect(engines[0]!.terminated).toBe(true);
    expect(lane).toMatchObject({ state: 'resolved', value: undefined });
    expect(spun.state).toBe('rejected');
  });

  it('no lane is granted while requests wait or no engine runs', async () => {
    const clock = new ManualClock();
    const { spawn } = fakeEngines(clock);
    const s = supervisor(clock, spawn);
    expect(await s.callLane(new MessageChannel().port1)).toBeUndefined(); // no engine yet
    await s.call('db', 'add', ['warm'], opts('w'));
    expect(await s.callLane(new MessageChannel().port1)).toEqual({ lock: 'engine-0' });
  });
});
