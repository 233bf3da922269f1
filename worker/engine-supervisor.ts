// The engine's supervisor: serves the WorkerApi from a thread that never runs module code, and
// keeps the databases in an engine worker (worker/engine-worker.ts) that it can terminate. Why:
// JavaScript cannot be interrupted inside its own thread, so a reducer stuck in `for(;;){}` would
// freeze the worker running it and leave every call behind it pending forever.
//
// The contract (worker/engine-supervisor.test.ts, e2e/limits.spec.ts):
// - Every request has a time budget (a call: its connection's `limits.callTimeoutMs`, default
//   10 s; other requests: the largest budget any client gave, at least the default). While
//   requests are in flight the supervisor pings the engine; when the engine has not answered for
//   longer than the smallest budget in flight, it is stuck. (Synchronous HTTP announces how long
//   it may block and does not count.) The stuck engine is terminated and a new one recovers every
//   database from IndexedDB: committed data is intact, the stuck transaction never committed.
// - When one request was in flight, it is the runaway: it rejects with InternalError TIME_LIMIT.
//   Otherwise the requests that were in flight are sent again one at a time, each against its own
//   budget (calls keep their idempotency ids, so each commits at most once), until the one that
//   stalls alone is found; the others settle normally. So a request is only ever failed for its
//   own budget. Requests that arrive meanwhile wait their turn.
// - When the engine's worker dies (terminated, its page closed, out of memory), the requests in
//   flight are sent again to a new engine; one in flight through two deaths rejects with
//   InternalError CRASHED.
// - Except requests that may not run twice and carry no call id (a module's HTTP handler, an SQL
//   write): in flight when their engine stops, they reject with ClosedError (`details.restarted`,
//   `retryable: false`), as in Node (src/node/engine-thread.ts).
// - Subscriptions are made again on the new engine (`onApplied` runs again), test hooks too.
// - Call lanes (`callLane`): a page's calls may go straight to the engine worker on a port of
//   their own. The supervisor never sees them, but the engine tells it (on the beat port) while
//   some are in flight and the smallest of their budgets: it watches the engine as for its own
//   requests, and counts those calls as one more suspect when it stalls. When the engine ends,
//   the page sends what was in flight on its lane again through the supervisor (same call ids),
//   where the rules above apply; so a runaway that came on a lane runs twice before it is named.
//   No lane is granted while the supervisor finds a runaway or requests wait.
import * as Comlink from 'comlink';
import { bootEngine, ENGINE_START_TIMEOUT_MS } from '../src/client/engine-boot.ts';
import { whenReleased } from '../src/client/locks.ts';
import type { SchemaDescription } from '../src/engine/describe.ts';
import type { RouteRequest, RouteResponse } from '../src/host/http-wire.ts';
import { ClosedError, InternalError, UsageError } from '../src/errors.ts';
import type { LogEntry } from '../src/host/host.ts';
import type { SqlResult } from '../src/sql/execute.ts';
import type { RemoteOptions, SyncStatus } from '../src/sync/replica.ts';
import { callBudget, checkProtocol, DEFAULT_CALL_TIMEOUT_MS, PROTOCOL_VERSION, validBudget } from '../src/client/protocol.ts';
import type {
  BeatMessage,
  ClientHello,
  DatabaseInfo,
  EngineHost,
  SubscriptionSink,
  TestHooks,
  WireCall,
  WireCallOptions,
  WireSettled,
  WireSubscribeOptions,
  WorkerApi,
  WorkerHello,
} from '../src/client/protocol.ts';
import { deserializeError, serializeError, toSerialized } from '../src/client/wire.ts';

/** Failed engine starts in a row after which the waiting requests reject. */
const START_ATTEMPTS = 3;
/**
 * How long a new engine waits for the one it replaces to be gone (its database locks go with
 * it), before starting anyway: a terminated worker takes a moment to let go.
 */
const END_WAIT_MS = 10_000;

/** A running engine worker as its supervisor holds it. */
export interface EngineLink {
  /** Comlink endpoint of the engine's WorkerHost. */
  rpc: Comlink.Endpoint;
  /** The engine's liveness port (see `BeatMessage`). */
  beat: MessagePort;
  /** Resolves when the engine's worker has ended, whatever the cause. */
  gone: Promise<void>;
  terminate(): void;
}

/** Time, injectable so that tests drive it. */
export interface Clock {
  now(): number;
  /** Runs `f` every `ms` until the returned function is called. */
  every(ms: number, f: () => void): () => void;
}

/** How a supervisor is set up by its entry. */
export interface SupervisorOptions {
  /** What `hello` reports. */
  mode: 'shared' | 'leader';
  /** The Web Lock this worker holds while alive, and a promise that it is held. */
  lock: string;
  lockHeld: Promise<unknown>;
  /** Whether `setTestHooks` works (true only in test builds). */
  testHooks: boolean;
  /** Starts an engine worker. */
  spawn: () => Promise<EngineLink>;
  /** A page offered to host engine workers (see `PageHosts`). */
  onHost?: (clientId: string, host: Comlink.Remote<EngineHost>) => void;
  /** A client has gone (its page closed or it closed the connection). */
  onClientGone?: (clientId: string) => void;
  clock?: Clock;
  /** Resolves when the Web Lock `name` is free (its holder ended). */
  whenReleased?: (name: string) => Promise<void>;
}

/** The engine worker's API: the WorkerHost's. */
type EngineApi = WorkerApi & { dropClient(clientId: string): void };
type Method =
  | 'open'
  | 'publish'
  | 'attach'
  | 'call'
  | 'query'
  | 'logs'
  | 'describe'
  | 'fetchRoute'
  | 'syncStatus'
  | 'subscribe'
  | 'unsubscribe'
  | 'exportDatabase'
  | 'importDatabase'
  | 'deleteDatabase'
  | 'setTestHooks';

/** One request on its way to an engine: sent again to the next engine until it settles. */
interface Unit {
  readonly seq: number;
  readonly method: Method;
  readonly args: unknown[];
  readonly budgetMs: number;
  /** Names the request in messages ("reducer spin", "query on chat"). */
  readonly what: string;
  readonly details: Record<string, unknown>;
  readonly promise: Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  deaths: number;
  /** The engine it was last sent to, while it is there. */
  on: Generation | undefined;
  done: boolean;
  /**
   * A synced call that its engine said only waits for the server now (`{ waiting }`): it runs no
   * code, so it is no suspect when the engine stalls or dies, and nothing waits behind it.
   */
  parked: boolean;
}

/** A client's subscription, kept to be made again on the next engine. */
interface Sub {
  readonly args: [clientId: string, subscriptionId: string, name: string, queries: string[], opts: WireSubscribeOptions, sink: SubscriptionSink];
  /** The request that currently makes it, while pending. */
  unit: Unit | undefined;
}

/** One engine worker's lifetime. */
class Generation {
  readonly link: EngineLink;
  readonly remote: Comlink.Remote<EngineApi>;
  /** When the engine last showed it was not stuck (a pong, a reply, or the end of an announced block). */
  lastHeard: number;
  stopWatch: (() => void) | undefined;
  /** The ping period of the running watch. */
  period = Infinity;
  /** The smallest budget of the calls in flight on call lanes, as the engine last told (0: none). */
  lane = 0;
  ended = false;
  /** Resolves when `end` runs: what was asked of this engine and not answered never will be. */
  readonly gone: Promise<void>;
  readonly #gone: () => void;

  constructor(link: EngineLink, now: number) {
    this.link = link;
    this.remote = Comlink.wrap<EngineApi>(link.rpc);
    this.lastHeard = now;
    let gone!: () => void;
    this.gone = new Promise<void>((resolve) => (gone = resolve));
    this.#gone = gone;
  }

  end(): void {
    this.#gone();
    this.ended = true;
    this.stopWatch?.();
    this.stopWatch = undefined;
    this.link.terminate();
    this.link.beat.close();
    (this.link.rpc as { close?: () => void }).close?.(); // its pending requests are settled elsewhere
  }
}

/** The WorkerApi over a terminable engine worker; see the file header for the contract. */
export class EngineSupervisor implements WorkerApi {
  readonly #opts: SupervisorOptions;
  readonly #clock: Clock;
  readonly #whenReleased: (name: string) => Promise<void>;
  #gen: Generation | undefined;
  #starting = false;
  #startFailures = 0;
  /** Resolves once the last engine that was stopped has let go of its databases. */
  #ended: Promise<void> = Promise.resolve();
  /** Set after an engine ended: the next one gets the subscriptions and test hooks again. */
  #restore = false;
  /** Requests waiting for an engine (or their turn, while one at a time). */
  readonly #queue: Unit[] = [];
  readonly #inflight = new Set<Unit>();
  /** One request at a time, to find which one stalls or crashes the engine. */
  #solo = false;
  #seq = 0;
  #requestBudget = DEFAULT_CALL_TIMEOUT_MS;
  /** clientId + subscriptionId → subscription. */
  readonly #subs = new Map<string, Sub>();
  readonly #hooks = new Map<string, TestHooks>();
  readonly #clients = new Set<string>();

  constructor(opts: SupervisorOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    this.#whenReleased = opts.whenReleased ?? ((name) => whenReleased(name));
  }

  async hello(hello: ClientHello, engineHost?: EngineHost): Promise<WorkerHello> {
    checkProtocol(hello.protocol);
    const budget = hello.limits?.callTimeoutMs;
    if (validBudget(budget)) this.#requestBudget = Math.max(this.#requestBudget, budget);
    await this.#opts.lockHeld;
    if (engineHost) this.#opts.onHost?.(hello.clientId, engineHost as Comlink.Remote<EngineHost>);
    this.#watchClient(hello.clientId);
    return { protocol: PROTOCOL_VERSION, lock: this.#opts.lock, mode: this.#opts.mode };
  }

  open(name: string, code: string | undefined, image?: Uint8Array, remote?: RemoteOptions, onRefused?: 'reject' | 'reset'): Promise<DatabaseInfo> {
    return this.#request('open', [name, code, image, remote, onRefused], `opening ${name}`) as Promise<DatabaseInfo>;
  }
  publish(name: string, code: string): Promise<DatabaseInfo> {
    return this.#request('publish', [name, code], `publishing to ${name}`) as Promise<DatabaseInfo>;
  }
  attach(name: string, clientId: string, sender: string | undefined): Promise<string> {
    return this.#request('attach', [name, clientId, sender], `connecting a client to ${name}`) as Promise<string>;
  }
  call(name: string, fn: string, args: unknown, opts: WireCallOptions): Promise<unknown> {
    const unit = this.#callUnit(name, { fn, args, opts });
    this.#submit([unit]);
    return unit.promise;
  }
  async callMany(name: string, calls: WireCall[]): Promise<WireSettled[]> {
    if (calls.length === 0) return [];
    const units = calls.map((c) => this.#callUnit(name, c));
    this.#submit(units);
    return Promise.all(
      units.map((u) =>
        u.promise.then(
          (value): WireSettled => ({ ok: true, value }),
          (error: unknown): WireSettled => ({ ok: false, error: serializeError(error) }),
        ),
      ),
    );
  }
  query(name: string, sql: string, sender: string | undefined): Promise<SqlResult> {
    return this.#request('query', [name, sql, sender], `a query on ${name}`) as Promise<SqlResult>;
  }
  logs(name: string, limit: number | undefined): Promise<LogEntry[]> {
    return this.#request('logs', [name, limit], `reading the logs of ${name}`) as Promise<LogEntry[]>;
  }
  describe(name: string): Promise<SchemaDescription> {
    return this.#request('describe', [name], `describing ${name}`) as Promise<SchemaDescription>;
  }
  fetchRoute(name: string, request: RouteRequest): Promise<RouteResponse> {
    return this.#request('fetchRoute', [name, request], `${String(request?.method)} ${String(request?.path)} on ${name}`) as Promise<RouteResponse>;
  }
  syncStatus(name: string): Promise<SyncStatus | undefined> {
    return this.#request('syncStatus', [name], `the sync status of ${name}`) as Promise<SyncStatus | undefined>;
  }
  exportDatabase(name: string): Promise<Uint8Array> {
    return this.#request('exportDatabase', [name], `exporting ${name}`) as Promise<Uint8Array>;
  }
  importDatabase(name: string, image: Uint8Array): Promise<DatabaseInfo> {
    return this.#request('importDatabase', [name, image], `importing into ${name}`) as Promise<DatabaseInfo>;
  }
  deleteDatabase(name: string): Promise<void> {
    return this.#request('deleteDatabase', [name], `deleting ${name}`) as Promise<void>;
  }

  /**
   * Hands an SDK connection's port straight to the engine worker, so its frames never pass
   * through here. Not a request that is sent again: a port can be transferred once. When the
   * engine is stopped or dies, the port dies with it; the page watches the lock returned (the
   * engine's) and closes the SDK connection, which reconnects to the next engine.
   */
  async serveProtocol(name: string, port: MessagePort): Promise<{ lock: string }> {
    await this.#request('open', [name, undefined], `opening ${name}`); // it must exist; an engine runs after this
    const gen = this.#gen;
    if (!gen) throw new ClosedError('the Lightcone engine restarted while the connection opened: reconnect', { database: name, retryable: true });
    return gen.remote.serveProtocol(name, Comlink.transfer(port, [port]));
  }

  /**
   * Hands a page's call lane to the running engine (see the file header). None while no engine
   * runs, a runaway is being found, or requests wait: those go first, through here.
   */
  async callLane(port: MessagePort): Promise<{ lock: string } | undefined> {
    const gen = this.#gen;
    if (!gen || this.#solo || this.#queue.length > 0) {
      port.close();
      return undefined;
    }
    // An engine that ends before it answers never will (its port is closed): then there is no lane.
    return Promise.race([gen.remote.callLane(Comlink.transfer(port, [port])), gen.gone.then(() => undefined)]);
  }

  async subscribe(clientId: string, subscriptionId: string, name: string, queries: string[], opts: WireSubscribeOptions, sink: SubscriptionSink): Promise<void> {
    const key = subKey(clientId, subscriptionId);
    // The engine talks to this forwarder (a new one each time it is sent), which talks to the client.
    const forward: SubscriptionSink = Comlink.proxy({
      applied: (initial) => sink.applied(initial),
      update: (update) => sink.update(update),
      error: (error) => {
        if (this.#subs.get(key) === sub) this.#subs.delete(key); // ended: not made again
        return sink.error(error);
      },
    });
    const sub: Sub = { args: [clientId, subscriptionId, name, [...queries], opts, forward], unit: undefined };
    this.#subs.set(key, sub);
    const unit = this.#unit('subscribe', sub.args, `a subscription to ${name}`, this.#requestBudget);
    sub.unit = unit;
    this.#submit([unit]);
    try {
      await unit.promise;
    } catch (error) {
      if (this.#subs.get(key) === sub) this.#subs.delete(key);
      throw error;
    }
  }

  async unsubscribe(clientId: string, subscriptionId: string): Promise<void> {
    if (!this.#subs.delete(subKey(clientId, subscriptionId))) return;
    await this.#request('unsubscribe', [clientId, subscriptionId], 'unsubscribing');
  }

  /** Ends every subscription of a client (its page closed). */
  dropClient(clientId: string): void {
    for (const [key, sub] of this.#subs) if (sub.args[0] === clientId) this.#subs.delete(key);
    void this.#gen?.remote.dropClient(clientId).catch(() => {}); // an engine that is gone holds none of its subscriptions either
  }

  async setTestHooks(name: string, hooks: TestHooks): Promise<void> {
    if (!this.#opts.testHooks) throw new UsageError('NO_TEST_HOOKS', 'test hooks exist only in test builds (vite build --mode e2e)');
    const { crash, crashEngine, ...storage } = hooks;
    if (crash) setTimeout(() => (globalThis as { close?: () => void }).close?.(), 0);
    if (crashEngine) this.#gen?.link.terminate(); // noticed as a death, through `gone`
    if (Object.keys(storage).length === 0) return;
    this.#hooks.set(name, { ...this.#hooks.get(name), ...storage });
    await this.#request('setTestHooks', [name, storage], 'setting test hooks');
  }

  // ── requests ──────────────────────────────────────────────────────────────

  #unit(method: Method, args: unknown[], what: string, budgetMs: number, details: Record<string, unknown> = {}): Unit {
    let resolve!: (value: unknown) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => ((resolve = res), (reject = rej)));
    promise.catch(() => {}); // observed by whoever asked; never unhandled
    return { seq: ++this.#seq, method, args, budgetMs, what, details, promise, resolve, reject, deaths: 0, on: undefined, done: false, parked: false };
  }

  #callUnit(name: string, c: WireCall): Unit {
    const budget = callBudget(c.opts.timeoutMs);
    const details = { database: name, function: c.fn, ...(c.opts.callId !== undefined ? { callId: c.opts.callId } : {}) };
    return this.#unit('call', [name, c.fn, c.args, c.opts], `${c.fn} on ${name}`, budget, details);
  }

  #request(method: Method, args: unknown[], what: string): Promise<unknown> {
    const unit = this.#unit(method, args, what, this.#requestBudget, typeof args[0] === 'string' ? { database: args[0] } : {});
    this.#submit([unit]);
    return unit.promise;
  }

  /** Sends at once when an engine runs and nothing waits; else queues behind what waits. */
  #submit(units: Unit[]): void {
    const gen = this.#gen;
    if (!gen || this.#solo || this.#queue.length > 0) {
      this.#queue.push(...units);
      this.#pump();
      return;
    }
    this.#send(units, gen);
  }

  /** Sends `units` to `gen` in one message (calls of one batch) or one each. */
  #send(units: Unit[], gen: Generation): void {
    if (this.#inflight.size === 0 && gen.lane === 0) gen.lastHeard = this.#clock.now(); // idle until now, not stuck
    for (const u of units) {
      u.on = gen;
      this.#inflight.add(u);
    }
    this.#watch(gen);
    const first = units[0]!;
    if (units.length > 1) {
      const calls = units.map((u): WireCall => ({ fn: u.args[1] as string, args: u.args[2], opts: u.args[3] as WireCallOptions }));
      gen.remote.callMany(first.args[0] as string, calls).then(
        (results) => {
          for (const [i, r] of results.entries()) this.#settle(units[i]!, gen, r.ok, r.ok ? r.value : deserializeError(r.error));
        },
        (error: unknown) => {
          for (const u of units) this.#settle(u, gen, false, error);
        },
      );
      return;
    }
    const method = gen.remote[first.method] as unknown as (...args: unknown[]) => Promise<unknown>;
    method(...first.args).then(
      (value) => this.#settle(first, gen, true, value),
      (error: unknown) => this.#settle(first, gen, false, error),
    );
  }

  /** An answer from `gen`; ignored when the request has moved on (that engine ended). */
  #settle(unit: Unit, gen: Generation, ok: boolean, value: unknown): void {
    if (unit.done || unit.on !== gen) return;
    gen.lastHeard = this.#clock.now();
    this.#finish(unit, ok, value);
    this.#pump();
  }

  #finish(unit: Unit, ok: boolean, value: unknown): void {
    unit.done = true;
    unit.on = undefined;
    this.#inflight.delete(unit);
    if (ok) unit.resolve(value);
    else unit.reject(value);
  }

  /** Moves queued requests on: all at once, or the next one alone while finding a culprit. */
  #pump(): void {
    const gen = this.#gen;
    if (!gen) {
      if (this.#queue.length > 0) this.#start();
      return;
    }
    if (this.#solo) {
      for (const u of this.#inflight) if (!u.parked) return;
      const next = this.#queue.shift();
      if (next) this.#send([next], gen);
      else this.#solo = false;
      return;
    }
    while (this.#queue.length > 0) this.#send([this.#queue.shift()!], gen);
  }

  // ── engines ───────────────────────────────────────────────────────────────

  #start(): void {
    if (this.#starting) return;
    this.#starting = true;
    void this.#ended
      .then(() => this.#opts.spawn())
      .then(
        (link) => {
          this.#starting = false;
          this.#startFailures = 0;
          const gen = new Generation(link, this.#clock.now());
          link.beat.addEventListener('message', (event: MessageEvent<BeatMessage>) => {
            const now = this.#clock.now();
            // An announced block (synchronous HTTP) counts as heard from until it may end.
            if ('busyMs' in event.data) gen.lastHeard = Math.max(gen.lastHeard, now + event.data.busyMs);
            else gen.lastHeard = Math.max(gen.lastHeard, now);
            if ('waiting' in event.data) this.#park(gen, event.data.waiting);
            if ('lane' in event.data) {
              gen.lane = event.data.lane;
              if (gen.lane > 0) this.#watch(gen);
            }
          });
          link.beat.start();
          void link.gone.then(() => this.#fail(gen, 'death'));
          this.#gen = gen;
          if (this.#restore) {
            this.#restore = false;
            this.#queue.unshift(...this.#restoreUnits());
          }
          this.#pump();
        },
        (error: unknown) => {
          this.#starting = false;
          // A script that did not load (the app does not serve it) fails the same way every time.
          const final = isLoadFailure(error);
          if (!final && ++this.#startFailures < START_ATTEMPTS) return this.#pump();
          this.#startFailures = 0;
          const why = error instanceof Error ? error.message : String(error);
          for (const u of this.#queue.splice(0)) {
            this.#finish(
              u,
              false,
              final ? new InternalError(why, { ...u.details }, { code: 'WORKER_LOAD_FAILED' }) : new ClosedError(`the Lightcone engine could not start: ${why}`, { ...u.details, retryable: true }),
            );
          }
        },
      );
  }

  /** What a new engine needs before the requests that wait: test hooks, then subscriptions. */
  #restoreUnits(): Unit[] {
    const units: Unit[] = [];
    for (const [name, hooks] of this.#hooks) units.push(this.#unit('setTestHooks', [name, hooks], 'setting test hooks', this.#requestBudget));
    for (const [key, sub] of this.#subs) {
      if (sub.unit && !sub.unit.done) continue; // its own request is on its way again
      const unit = this.#unit('subscribe', sub.args, `a subscription to ${sub.args[2]}`, this.#requestBudget);
      sub.unit = unit;
      unit.promise.catch((error: unknown) => {
        if (this.#subs.get(key) !== sub) return;
        this.#subs.delete(key);
        void Promise.resolve(sub.args[5].error(toSerialized(error))).catch(() => {}); // its page is gone: no one left to tell
      });
      units.push(unit);
    }
    return units;
  }

  /**
   * Pings `gen` while it has requests, and declares it stuck past the smallest budget in flight
   * (which may not be the stuck request's: then it is found by sending them again one at a time).
   */
  #watch(gen: Generation): void {
    const period = Math.max(10, Math.min(1000, this.#smallestBudget(gen) / 4));
    if (gen.stopWatch && gen.period <= period) return;
    gen.stopWatch?.(); // a smaller budget arrived: look more often
    gen.period = period;
    let ping = 0;
    gen.stopWatch = this.#clock.every(period, () => {
      const limit = this.#smallestBudget(gen);
      if (limit === Infinity) {
        gen.stopWatch?.(); // nothing in flight: stop pinging
        gen.stopWatch = undefined;
        gen.period = Infinity;
        return;
      }
      if (this.#clock.now() - gen.lastHeard > limit) return this.#fail(gen, 'stall');
      gen.link.beat.postMessage({ ping: ++ping } satisfies BeatMessage);
    });
  }

  /** `gen` says the call `callId` only waits for its server now (see `Unit.parked`). */
  #park(gen: Generation, callId: string): void {
    for (const u of this.#inflight) {
      if (u.on === gen && u.method === 'call' && (u.args[3] as WireCallOptions | undefined)?.callId === callId) u.parked = true;
    }
    if (this.#solo) this.#pump(); // what waited behind it may go now
  }

  #smallestBudget(gen: Generation): number {
    let smallest = gen.lane > 0 ? gen.lane : Infinity;
    for (const u of this.#inflight) if (u.on === gen) smallest = Math.min(smallest, u.budgetMs);
    return smallest;
  }

  /** `gen` is stuck or gone: end it, settle or requeue what it held, and start the next. */
  #fail(gen: Generation, why: 'stall' | 'death'): void {
    if (gen.ended) return;
    gen.end();
    this.#ended = withTimeout(gen.link.gone, END_WAIT_MS).catch(() => {}); // a wait, not a result: past it, the next engine starts anyway
    if (this.#gen === gen) this.#gen = undefined;
    this.#restore = true;
    const caught = [...this.#inflight].filter((u) => u.on === gen).sort((a, b) => a.seq - b.seq);
    // Calls on lanes count as one more suspect: their pages send them again through here.
    const suspects = caught.filter((u) => !u.parked).length + (gen.lane > 0 ? 1 : 0);
    const again: Unit[] = [];
    let suspected = 0;
    for (const u of caught) {
      this.#inflight.delete(u);
      u.on = undefined;
      if (u.parked) {
        u.parked = false; // sent again, it joins its outbox entry on the next engine
        again.push(u);
      } else if (why === 'stall' ? suspects === 1 : ++u.deaths >= 2) this.#finish(u, false, why === 'stall' ? timeLimit(u) : crashed(u));
      else if (!repeatable(u)) this.#finish(u, false, lost(u, why));
      else {
        again.push(u);
        suspected++;
      }
    }
    // Several suspects: one at a time until the culprit is the only one in flight.
    if (suspected > 1 || (suspected === 1 && gen.lane > 0)) this.#solo = true;
    this.#queue.unshift(...again);
    this.#pump();
  }

  #watchClient(clientId: string): void {
    if (this.#clients.has(clientId)) return;
    this.#clients.add(clientId);
    void this.#whenReleased(`lightcone:client:${clientId}`).then(() => {
      this.#clients.delete(clientId);
      this.dropClient(clientId);
      this.#opts.onClientGone?.(clientId);
    });
  }
}

/**
 * Engine workers started by pages, for a SharedWorker (which cannot start workers in Chromium):
 * each connecting page offers to host one; the first page still open starts it. The engine then
 * lives as long as that page; when the page closes, the supervisor starts the next elsewhere.
 */
export class PageHosts {
  readonly #hosts = new Map<string, Comlink.Remote<EngineHost>>();
  readonly #supervisor: string;

  /** `supervisor`: the Web Lock the SharedWorker holds while alive. */
  constructor(supervisor: string) {
    this.#supervisor = supervisor;
  }

  add(clientId: string, host: Comlink.Remote<EngineHost>): void {
    this.#hosts.set(clientId, host);
  }

  remove(clientId: string): void {
    this.#hosts.delete(clientId);
  }

  readonly spawn = async (): Promise<EngineLink> => {
    const held = new Set(((await navigator.locks.query()).held ?? []).map((l) => l.name));
    for (const [clientId, host] of this.#hosts) {
      if (!held.has(`lightcone:client:${clientId}`)) {
        this.#hosts.delete(clientId); // its page has gone: it would never answer
        continue;
      }
      try {
        const boot = await withTimeout(host.spawnEngine(this.#supervisor), ENGINE_START_TIMEOUT_MS + 1000);
        // terminate: a page that is gone took its engine with it.
        return { rpc: boot.rpc, beat: boot.beat, gone: whenReleased(boot.lock), terminate: () => void host.terminateEngine(boot.lock).catch(() => {}) };
      } catch (error) {
        // The engine's script did not load: every tab of the site would fail alike, and the tab is fine.
        if (isLoadFailure(error)) throw error;
        this.#hosts.delete(clientId); // this tab cannot: try the next (the error below says that none could)
      }
    }
    throw new ClosedError('no open tab of this site could start the Lightcone engine worker: reload the page', { retryable: true });
  };
}

/** Engine workers nested in this worker (a dedicated worker can start workers); `supervisor`: its Web Lock. */
export function nestedEngines(create: () => Worker, supervisor: string): () => Promise<EngineLink> {
  return async () => {
    const worker = create();
    const boot = await bootEngine(worker, supervisor);
    return { rpc: boot.rpc, beat: boot.beat, gone: whenReleased(boot.lock), terminate: () => worker.terminate() };
  };
}

const realClock: Clock = {
  now: () => Date.now(),
  every(ms, f) {
    const timer = setInterval(f, ms);
    return () => clearInterval(timer);
  },
};

function subKey(clientId: string, subscriptionId: string): string {
  return `${clientId}\u0000${subscriptionId}`;
}

function timeLimit(u: Unit): InternalError {
  return new InternalError(
    `${u.what} kept the engine busy for more than ${u.budgetMs} ms, so the engine was stopped: what it had done rolled back and the database was reloaded from storage (committed data is intact). Make it do less per call, or raise the budget with connect({ limits: { callTimeoutMs } })`,
    { ...u.details, limitMs: u.budgetMs },
    { code: 'TIME_LIMIT' },
  );
}

/**
 * Whether a request that may have run on an engine that stopped can be sent to the next one
 * without doing its work twice: calls (reducers commit once by call id), reads, and the rest of
 * the API; not a module's HTTP handler (its transactions carry no call id) nor an SQL write.
 */
function repeatable(u: Unit): boolean {
  if (u.method === 'fetchRoute') return false;
  if (u.method === 'query') return /^\s*select\b/i.test(String(u.args[1]));
  return true;
}

/** For a request that may have run before its engine stopped, and is not sent again (see `repeatable`). */
function lost(u: Unit, why: 'stall' | 'death'): ClosedError {
  return new ClosedError(
    `${u.method === 'fetchRoute' ? `the HTTP request ${u.what}` : u.what} was in flight when the engine${why === 'death' ? "'s worker died" : ' was stopped (a request kept it busy past its budget)'}, and may have run: its outcome is lost, and it was not sent again so that it cannot run twice. Check its effects before sending it again`,
    { ...u.details, restarted: true, retryable: false },
  );
}

function crashed(u: Unit): InternalError {
  return new InternalError(
    `the engine's worker died twice while running ${u.what} (out of memory?), so it was given up; the database was reloaded from storage (committed data is intact)`,
    { ...u.details },
    { code: 'CRASHED' },
  );
}

/** An engine worker whose script did not load (src/client/engine-boot.ts), also as it arrives from a page through Comlink. */
function isLoadFailure(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === 'WORKER_LOAD_FAILED';
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ClosedError(`no answer within ${ms / 1000} s`)), ms);
    p.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
