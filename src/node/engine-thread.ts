// A Node database whose engine runs in its own worker thread, behind the same `Database`
// interface, so that module code has limits: a stretch of module code longer than the time limit
// is stopped (the main thread's watchdog terminates the thread), and the thread's heap is capped
// (`resourceLimits`). Either way the call that caused it rejects with InternalError TIME_LIMIT or
// HEAP_LIMIT, its transaction is gone (it never reached storage), and a new thread recovers the
// database from storage, which stays on this thread (see thread-storage.ts).
//
// The contract for the other requests in flight when a thread is replaced:
// - reducer calls are sent again with their call ids (every call gets one): the engine's call
//   ledger answers a call whose commit reached storage without running it again, and runs one
//   whose commit did not; either way it commits exactly once;
// - calls that had not started yet, reads, logs and describe are simply sent again;
// - a procedure or SQL write that had already run cannot be told apart from one that will run
//   again (procedures keep no call id), so it rejects with ClosedError (`details.restarted`);
// - subscriptions are made again on the new thread: `onApplied` runs again with a fresh snapshot.
// If the new thread exceeds a limit again before it is open (an overdue scheduled call that runs
// away, say), the database stops: every call rejects with that error until it is opened again.
import { Worker, type MessagePort as NodeMessagePort } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { Identity } from 'spacetimedb';
import { deserializeError, revive } from '../client/wire.ts';
import type { DurabilityBackend } from '../durability/group-commit.ts';
import type { Database, RouteResponse, SchemaDescription } from '../api/database.ts';
import { routeFetch } from '../api/fetch.ts';
import type { CallOptions, PublishResult } from '../engine/engine.ts';
import { ClosedError, InternalError, UsageError } from '../errors.ts';
import type { LogEntry } from '../host/host.ts';
import { toIdentity } from '../host/identity.ts';
import type { SqlOptions, SqlResult } from '../sql/execute.ts';
import type { InitialRows, SubscribeCallbacks, SubscribeOptions, SubscriptionHandle, TableUpdate } from '../subscriptions/types.ts';
import { compiledSqlite, engineWorkerScript } from './engine-worker-script.ts';
import {
  MODULE_RUN_KINDS,
  W_FN,
  W_KIND,
  W_REQ_HI,
  W_REQ_LO,
  W_REQ_MODE,
  W_SLOTS,
  W_START,
  W_STATE,
  W_BEAT,
  watchClock,
  type EngineRequest,
  type EngineThreadInit,
  type FromEngine,
  type FunctionNames,
  type SharedUpdateEvent,
  type SubscriptionEvent,
  type ToEngine,
} from './thread-protocol.ts';
import { StorageServer } from './thread-storage.ts';
import type { RemoteOptions, SyncStatus } from '../sync/replica.ts';

/** What a database's engine thread needs. */
export interface EngineThreadOptions {
  name: string;
  code: string | undefined;
  owner: Identity;
  snapshotEvery: number | undefined;
  /** The longest stretch of module code, in ms. */
  callTimeoutMs: number;
  /** The engine thread's heap limit (V8 old generation), in MiB. */
  maxHeapMb: number;
  /** The limit is the process's `--max-old-space-size`, which Node applies to every thread. */
  heapFromFlag: boolean;
  /** Makes the storage backend; called again (after the previous one closed) for each new thread. */
  backend: () => DurabilityBackend;
  /** The remote database to follow (sync). */
  remote?: RemoteOptions | undefined;
}

/** A database with its engine in a worker thread, plus what publishing did. */
export interface ThreadDatabase extends Database {
  readonly published: PublishResult;
  /** The whole database as one `LCDB` image (identity, owner, module, rows), as the browser's `export()` writes it. */
  export(): Promise<Uint8Array>;
  /** What the server needs beyond `Database`. */
  readonly server: ServerAccess;
}

/** The requests of `lightcone start`, which serves SpacetimeDB's HTTP API and protocol. */
export interface ServerAccess {
  /**
   * Hands a protocol connection to the engine thread: `port`'s first message must be its
   * `connect` (src/protocol/port.ts). The port closes when the thread ends (a limit, a close).
   */
  serve(port: import('node:worker_threads').MessagePort): void;
  /** Calls as SpacetimeDB's `/call` does (arguments as SATS-JSON text, in its own client connection). */
  clientCall(fn: string, argsJson: string, sender: string, token?: string): Promise<{ kind: 'reducer' | 'procedure'; json?: string }>;
  /** What publishing `code` would change (undefined: nothing); throws the refusal. */
  prePublish(code: string): Promise<{ changes: string[]; sameSchema: boolean } | undefined>;
  /** BSATN of the module's RawModuleDef. */
  moduleDef(): Promise<Uint8Array>;
}

/**
 * Starts the engine thread of a database and resolves once it is open (published or recovered).
 * Rejects with what opening threw, or with InternalError TIME_LIMIT / HEAP_LIMIT when opening
 * (the module's top-level code, `init`, an overdue scheduled call) exceeded a limit.
 */
export async function openEngineThread(opts: EngineThreadOptions): Promise<ThreadDatabase> {
  const [script, sqlite] = await Promise.all([engineWorkerScript(), compiledSqlite()]);
  const thread = new EngineThread(opts, script, sqlite);
  await thread.start();
  return thread.facade();
}

type Pending = { req: EngineRequest; resolve: (value: unknown) => void; reject: (error: unknown) => void };

/** A subscription as the main thread keeps it, to make it again on a new thread. */
interface LiveSub {
  id: number;
  queries: string[];
  opts: SubscribeOptions;
  callbacks: SubscribeCallbacks;
  active: boolean;
  settle: { resolve: () => void; reject: (error: Error) => void };
}

/** One engine thread and what the main thread knows about it. */
interface Generation {
  worker: Worker;
  slots: Int32Array;
  clockBase: number;
  storage: StorageServer;
  ready: boolean;
  opened: { resolve: () => void; reject: (error: unknown) => void };
  /** Set when this side ended the thread (close, a failed open): its exit is no failure. */
  expected: boolean;
  /** Why this side terminated it. */
  killed: 'time' | undefined;
  /** What opening threw (reported once the storage is released). */
  failure: unknown;
  /** The thread's 'error' event (ERR_WORKER_OUT_OF_MEMORY for the heap limit). */
  error: unknown;
  /** The watchdog's next check. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** The thread has timers armed (scheduled calls). */
  timers: boolean;
  /** Whether the thread keeps the process alive now. */
  refd: boolean;
}

/** A thread whose heartbeat stopped this long (or the time limit, if longer) is stuck. */
const STUCK_MS = 5_000;

/** Requests that run in the engine's call queue (their start is marked in the watch slots). */
const QUEUED = new Set<EngineRequest['op']>(['call', 'query', 'subscribe', 'clientCall', 'prePublish']);

class EngineThread {
  readonly #opts: EngineThreadOptions;
  readonly #script: URL;
  #gen: Generation | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #outbox: EngineRequest[] | undefined;
  readonly #subs = new Map<number, LiveSub>();
  #nextSub = 1;
  /** After close() or a failure to restart, requests reject with this. */
  #ended: Error | undefined;
  #closing: Promise<void> | undefined;
  /** Log entries written here (limits hit): the engine thread that would have logged them is gone. */
  readonly #logs: LogEntry[] = [];
  #info: { identity: Identity; owner: Identity; published: PublishResult; names: FunctionNames; procedures: Set<string> } | undefined;
  /** Call ids: a random prefix per open database and a counter. */
  readonly #callPrefix = randomBytes(9).toString('base64url');
  #callCounter = 0;
  readonly #sqlite: WebAssembly.Module | undefined;

  constructor(opts: EngineThreadOptions, script: URL, sqlite: WebAssembly.Module | undefined) {
    this.#opts = opts;
    this.#script = script;
    this.#sqlite = sqlite;
  }

  /** Opens the first thread; rejects (with the storage released) when opening fails. */
  start(): Promise<void> {
    return this.#spawn();
  }

  facade(): ThreadDatabase {
    const info = this.#info!;
    return {
      name: this.#opts.name,
      identity: info.identity,
      owner: info.owner,
      published: info.published,
      call: (fn, args, opts) => this.#call(fn, args, opts),
      query: (q, opts) => this.#query(q, opts),
      sql: async (q, opts) => (await this.#query(q, opts)).rows,
      logs: (opts) => this.#logsOf(opts?.limit),
      describe: () => this.#request({ op: 'describe' }) as Promise<SchemaDescription>,
      fetch: routeFetch((req) => this.#request({ op: 'fetchRoute', req }) as Promise<RouteResponse>),
      fetchRoute: (req) => this.#request({ op: 'fetchRoute', req }) as Promise<RouteResponse>,
      subscribe: (queries, callbacks, opts) => this.#subscribe(queries, callbacks, opts),
      close: () => this.#close(),
      export: () => this.#request({ op: 'exportImage' }) as Promise<Uint8Array>,
      ...(this.#opts.remote
        ? {
            sync: {
              status: async () => this.#syncStatus ?? { state: 'syncing', pending: 0, lastConfirmedAt: undefined, identity: undefined, exactlyOnce: false, error: undefined },
              onStatus: (l: (s: SyncStatus) => void) => {
                this.#syncListeners.add(l);
                return () => this.#syncListeners.delete(l);
              },
            },
          }
        : {}),
      server: {
        serve: (port) => this.#serve(port),
        clientCall: (fn, argsJson, sender, token) =>
          this.#request({ op: 'clientCall', fn, argsJson, sender, callId: `${this.#callPrefix}.${(this.#callCounter++).toString(36)}`, ...(token !== undefined ? { token } : {}) }) as Promise<{
            kind: 'reducer' | 'procedure';
            json?: string;
          }>,
        prePublish: (code) => this.#request({ op: 'prePublish', code }) as Promise<{ changes: string[]; sameSchema: boolean } | undefined>,
        moduleDef: () => this.#request({ op: 'moduleDef' }) as Promise<Uint8Array>,
      },
    };
  }

  #syncStatus: SyncStatus | undefined;
  readonly #syncListeners = new Set<(s: SyncStatus) => void>();

  /** Connections waiting for a thread that is being replaced. */
  readonly #waitingPorts: NodeMessagePort[] = [];

  #serve(port: NodeMessagePort): void {
    if (this.#ended) {
      port.close();
      return;
    }
    const gen = this.#gen;
    if (!gen?.ready) {
      this.#waitingPorts.push(port);
      return;
    }
    try {
      this.#post(gen, { t: 'serve', port: port as unknown as MessagePort }, [port as unknown as ArrayBuffer]);
    } catch {
      port.close();
    }
  }

  // ── the Database methods ──────────────────────────────────────────────────

  #call(fn: string, args: unknown, opts: CallOptions = {}): Promise<unknown> {
    const s = opts.sender;
    // Anything but an Identity goes as it is: the engine's check names what is wrong with it.
    const sender = s instanceof Identity ? s.toHexString() : (s as string | bigint | undefined);
    const c = opts.connectionId;
    const connectionId = c === undefined ? undefined : typeof c === 'bigint' ? c : c.__connection_id__;
    // Every call carries an id, so that sending it again to a new thread never applies it twice.
    const callId = opts.callId ?? `${this.#callPrefix}.${(this.#callCounter++).toString(36)}`;
    return this.#request({
      op: 'call',
      fn,
      args,
      sender,
      connectionId,
      callId,
      ...(opts.wait !== undefined ? { wait: opts.wait } : {}),
      ...(opts.token !== undefined ? { token: opts.token } : {}),
      ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
    });
  }

  async #query(sql: string, opts: SqlOptions = {}): Promise<SqlResult> {
    return (await this.#request({ op: 'query', sql, sender: opts.sender })) as SqlResult;
  }

  async #logsOf(limit: number | undefined): Promise<LogEntry[]> {
    const entries = (await this.#request({ op: 'logs', limit })) as LogEntry[];
    if (this.#logs.length === 0) return entries;
    const all = [...entries, ...this.#logs].sort((a, b) => a.ts - b.ts);
    return limit !== undefined ? all.slice(Math.max(0, all.length - limit)) : all;
  }

  #subscribe(queries: string[], callbacks: SubscribeCallbacks, opts: SubscribeOptions = {}): SubscriptionHandle {
    // As the in-process facade does: a bad sender throws here, before anything is set up.
    const sender = opts.sender !== undefined ? toIdentity(opts.sender, 'sender').toHexString() : undefined;
    let settle!: LiveSub['settle'];
    const applied = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    applied.catch(() => {}); // observed through `applied` or `onError`, never unhandled
    const sub: LiveSub = {
      id: this.#nextSub++,
      queries: [...queries],
      opts: { ...(sender !== undefined ? { sender } : {}), ...(opts.confirmedReads !== undefined ? { confirmedReads: opts.confirmedReads } : {}) },
      callbacks,
      active: true,
      settle,
    };
    if (this.#ended) {
      this.#endSub(sub, this.#ended, true);
    } else {
      this.#subs.set(sub.id, sub);
      this.#sendSubscribe(sub);
    }
    return {
      applied,
      get active() {
        return sub.active;
      },
      unsubscribe: () => {
        if (!sub.active) return;
        this.#endSub(sub, new ClosedError('the subscription ended before its rows were delivered'), false);
        // Ended on this side already; a thread that cannot take the request (gone, closing) keeps no subscription either.
        if (!this.#ended) void this.#request({ op: 'unsubscribe', sub: sub.id }).catch(() => {});
      },
    };
  }

  #close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#ended) {
        await this.#gen?.storage.release();
        return;
      }
      const closed = this.#request({ op: 'close' });
      const ended = new ClosedError(`database ${this.#opts.name} is closed: open it again to continue`);
      this.#ended = ended;
      try {
        await closed;
      } catch (error) {
        // A database that stopped on a limit while closing is closed all the same.
        if (error !== this.#ended) throw error;
      } finally {
        this.#ended = ended;
        const gen = this.#gen;
        if (gen) {
          gen.expected = true;
          clearTimeout(gen.timer);
          await gen.worker.terminate();
          await gen.storage.release();
        }
        for (const sub of [...this.#subs.values()]) this.#endSub(sub, this.#ended, false);
        for (const p of [...this.#pending.values()]) p.reject(this.#ended);
        this.#pending.clear();
        for (const port of this.#waitingPorts.splice(0)) port.close();
      }
    })();
    return this.#closing;
  }

  // ── requests ──────────────────────────────────────────────────────────────

  #request(body: DistributiveOmit<EngineRequest, 'id'>): Promise<unknown> {
    if (this.#ended) return Promise.reject(this.#ended);
    const req = { ...body, id: this.#nextId++ } as EngineRequest;
    return new Promise((resolve, reject) => {
      this.#pending.set(req.id, { req, resolve, reject });
      this.#enqueue(req);
    });
  }

  /** Sends `req` with the others made in this microtask (one message per batch). */
  #enqueue(req: EngineRequest): void {
    const gen = this.#gen;
    if (!gen?.ready) return; // sent when the next thread is ready
    this.#ref(gen);
    if (!this.#outbox) {
      this.#outbox = [];
      queueMicrotask(() => this.#flush());
    }
    this.#outbox.push(req);
  }

  #flush(): void {
    const reqs = this.#outbox!;
    this.#outbox = undefined;
    const gen = this.#gen;
    if (!gen?.ready) return; // the thread went away meanwhile: they go to the next one
    try {
      this.#post(gen, { t: 'req', reqs });
    } catch {
      // One of them holds something a thread cannot receive (a function, say): find it.
      for (const req of reqs) {
        try {
          this.#post(gen, { t: 'req', reqs: [req] });
        } catch (error) {
          const what = req.op === 'call' ? `the arguments of ${req.fn}` : `the ${req.op} request`;
          this.#settle(
            req.id,
            false,
            new UsageError(
              'BAD_ARGUMENT',
              `${what} cannot be passed to database ${this.#opts.name} (${(error as Error).message}): give plain values; functions, symbols and proxies are not values a module takes`,
              { op: req.op },
            ),
          );
        }
      }
    }
  }

  #post(gen: Generation, msg: ToEngine, transfer?: ArrayBuffer[]): void {
    gen.worker.postMessage(msg, transfer);
  }

  #settle(id: number, ok: boolean, value: unknown): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (ok) p.resolve(value);
    else p.reject(value);
    if (this.#pending.size === 0 && this.#gen) this.#ref(this.#gen);
  }

  /** The thread keeps the process alive while requests are in flight or schedules are armed. */
  #ref(gen: Generation): void {
    const want = this.#pending.size > 0 || gen.timers;
    if (want === gen.refd) return;
    gen.refd = want;
    if (want) gen.worker.ref();
    else gen.worker.unref();
  }

  // ── the thread ────────────────────────────────────────────────────────────

  #spawn(): Promise<void> {
    const watch = new SharedArrayBuffer(W_SLOTS * Int32Array.BYTES_PER_ELEMENT);
    const clockBase = performance.timeOrigin + performance.now();
    const backend = this.#opts.backend();
    const init: EngineThreadInit = {
      name: this.#opts.name,
      // A restart recovers what the first thread published: the module need not travel again.
      code: this.#info ? undefined : this.#opts.code,
      owner: this.#opts.owner.toHexString(),
      snapshotEvery: this.#opts.snapshotEvery,
      storage: backend.label,
      sqlite: this.#sqlite,
      watch,
      clockBase,
      remote: this.#opts.remote,
      beatMs: Math.max(20, Math.min(250, Math.floor(this.#opts.callTimeoutMs / 4))),
    };
    const worker = new Worker(this.#script, { workerData: init, resourceLimits: { maxOldGenerationSizeMb: this.#opts.maxHeapMb } });
    return new Promise<void>((resolve, reject) => {
      const gen: Generation = {
        worker,
        slots: new Int32Array(watch),
        clockBase,
        storage: new StorageServer(backend),
        ready: false,
        opened: { resolve, reject },
        expected: false,
        killed: undefined,
        failure: undefined,
        error: undefined,
        timer: undefined,
        timers: false,
        refd: true,
      };
      this.#gen = gen;
      worker.on('message', (msg: FromEngine) => this.#onMessage(gen, msg));
      worker.on('error', (error) => {
        gen.error ??= error;
      });
      worker.on('exit', () => void this.#onExit(gen));
      this.#watch(gen);
    });
  }

  #onMessage(gen: Generation, msg: FromEngine): void {
    switch (msg.t) {
      case 'storage':
        gen.storage.handle(msg, (answer, transfer) => {
          try {
            this.#post(gen, answer, transfer);
          } catch {
            // The thread is gone; its replacement asks again.
          }
        });
        return;
      case 'out':
        for (const item of msg.items) {
          if ('subs' in item) this.#onSharedUpdate(item);
          else if ('sub' in item) this.#onEvent(item);
          else this.#settle(item.id, item.ok, item.ok ? revive(item.value) : deserializeError(item.error));
        }
        return;
      case 'ready':
        this.#info ??= {
          identity: new Identity(msg.identity),
          owner: new Identity(msg.owner),
          published: msg.published,
          names: msg.names,
          procedures: new Set(msg.procedures),
        };
        gen.ready = true;
        this.#ref(gen);
        gen.opened.resolve();
        this.#resume();
        return;
      case 'failed':
        // The engine closed its storage before answering; the thread has nothing left to do.
        gen.expected = true;
        gen.failure = deserializeError(msg.error);
        void gen.worker.terminate();
        return;
      case 'alive':
        gen.timers = msg.timers;
        this.#ref(gen);
        return;
      case 'sync':
        this.#syncStatus = msg.status;
        for (const l of this.#syncListeners) l(msg.status);
        return;
    }
  }

  /** A new thread is ready: subscriptions are made again, then what was in flight goes to it. */
  #resume(): void {
    for (const port of this.#waitingPorts.splice(0)) this.#serve(port);
    const subscribing = new Set<number>();
    for (const p of this.#pending.values()) if (p.req.op === 'subscribe') subscribing.add(p.req.sub);
    const pending = [...this.#pending.values()].sort((a, b) => a.req.id - b.req.id);
    for (const p of pending) this.#enqueue(p.req);
    for (const sub of this.#subs.values()) if (!subscribing.has(sub.id)) this.#sendSubscribe(sub);
  }

  #sendSubscribe(sub: LiveSub): void {
    void this.#request({ op: 'subscribe', sub: sub.id, queries: sub.queries, opts: sub.opts }).catch((error: unknown) => {
      if (sub.active) this.#endSub(sub, error instanceof Error ? error : new Error(String(error)), true);
    });
  }

  #onEvent(ev: SubscriptionEvent): void {
    const sub = this.#subs.get(ev.sub);
    if (!sub?.active) return;
    const { callbacks } = sub;
    switch (ev.kind) {
      case 'applied':
        guard(sub, () => callbacks.onApplied?.(revive(ev.payload) as InitialRows));
        sub.settle.resolve();
        return;
      case 'update':
        guard(sub, () => callbacks.onUpdate?.(revive(ev.payload) as TableUpdate[]));
        return;
      case 'error':
        this.#endSub(sub, deserializeError(ev.payload as Parameters<typeof deserializeError>[0]) as Error, true);
        return;
    }
  }

  /** One update for several subscriptions: revived once, the same object to each (as the engine shares it). */
  #onSharedUpdate(ev: SharedUpdateEvent): void {
    let update: TableUpdate[] | undefined;
    for (const id of ev.subs) {
      const sub = this.#subs.get(id);
      if (!sub?.active) continue;
      update ??= revive(ev.payload) as TableUpdate[];
      const { callbacks } = sub;
      const u = update;
      guard(sub, () => callbacks.onUpdate?.(u));
    }
  }

  /** Ends a subscription: `applied` rejects if it had not resolved; `onError` runs if `tell`. */
  #endSub(sub: LiveSub, error: Error, tell: boolean): void {
    if (!sub.active) return;
    sub.active = false;
    this.#subs.delete(sub.id);
    sub.settle.reject(error);
    if (tell) sub.callbacks.onError?.(error);
  }

  // ── the watchdog ──────────────────────────────────────────────────────────

  /**
   * Checks the watch slots: a stretch of module code older than the time limit ends the thread.
   * Otherwise checks again when that stretch would reach the limit, or a limit from now when no
   * module code runs (a stretch starting meanwhile is then seen before it can reach the limit).
   */
  #watch(gen: Generation): void {
    if (this.#gen !== gen || gen.expected || gen.killed) return;
    const limit = this.#opts.callTimeoutMs;
    let wait = limit;
    const state = Atomics.load(gen.slots, W_STATE);
    if (state === 1) {
      const elapsed = (watchClock(gen.clockBase) - Atomics.load(gen.slots, W_START)) | 0;
      if (elapsed >= limit) {
        gen.killed = 'time';
        void gen.worker.terminate();
        return;
      }
      wait = limit - elapsed;
    } else if (state === 0) {
      // No watched module code runs, yet the thread's heartbeat stopped: it is stuck in code no
      // call covers (a loop a module deferred with a timer or a promise). (State 2, waiting on
      // HTTP, blocks the thread on purpose.)
      const stuckAfter = Math.max(limit, STUCK_MS);
      const silent = (watchClock(gen.clockBase) - Atomics.load(gen.slots, W_BEAT)) | 0;
      if (silent >= stuckAfter) {
        gen.killed = 'time';
        void gen.worker.terminate();
        return;
      }
      wait = Math.min(wait, stuckAfter - silent);
    }
    gen.timer = setTimeout(() => this.#watch(gen), Math.max(1, wait));
    gen.timer.unref();
  }

  /** The thread ended: a limit, a crash, or this side's doing. */
  async #onExit(gen: Generation): Promise<void> {
    clearTimeout(gen.timer);
    // Requests made from now on wait for the next thread (nothing is posted to this one).
    const wasReady = gen.ready;
    gen.ready = false;
    if (gen.expected) {
      await gen.storage.release().catch(() => {}); // no one to tell: the next open recovers the storage as it is and reports what is wrong
      if (gen.failure === undefined) return;
      // Reported once the storage is released, so that opening again does not find it in use.
      if (!this.#info) gen.opened.reject(gen.failure);
      else this.#stop(gen.failure instanceof Error ? gen.failure : new Error(String(gen.failure)));
      return;
    }
    const slots = gen.slots;
    const running = Atomics.load(slots, W_STATE) !== 0 ? { kind: MODULE_RUN_KINDS[Atomics.load(slots, W_KIND)] ?? 'reducer', id: Atomics.load(slots, W_FN) } : undefined;
    const mode = Atomics.load(slots, W_REQ_MODE);
    const markedId = Atomics.load(slots, W_REQ_HI) * 2 ** 31 + Atomics.load(slots, W_REQ_LO);
    const limit = this.#limitOf(gen);
    const what = this.#describeRunning(running);
    // Storage first: the writes the thread started finish (or fail) as a whole before anything reopens it.
    // A close that fails has no one to tell: the restart (or the next open) recovers the storage as it is and reports what is wrong.
    await gen.storage.release().catch(() => {});
    if (!wasReady) {
      const error = this.#limitError(limit, what, this.#info ? 'restart' : 'open');
      if (!this.#info) {
        gen.opened.reject(error);
        return;
      }
      this.#stop(error);
      return;
    }
    const culprit = mode === 1 ? this.#pending.get(markedId) : undefined;
    const error = this.#limitError(limit, what, culprit ? 'call' : 'background');
    this.#log(error.message);
    if (culprit) {
      if (culprit.req.op === 'subscribe') {
        const sub = this.#subs.get(culprit.req.sub);
        if (sub) this.#endSub(sub, error, true);
      }
      this.#settle(culprit.req.id, false, error);
    }
    // Requests that had started ran before the one that was stopped (the engine runs them in order).
    const started = (id: number) => mode !== 0 && (mode === 1 ? id < markedId : id <= markedId);
    for (const p of [...this.#pending.values()]) {
      const req = p.req;
      if (req.op === 'unsubscribe') this.#settle(req.id, true, undefined);
      else if (QUEUED.has(req.op) && started(req.id) && !this.#repeatable(req)) this.#settle(req.id, false, this.#lostError(req, limit));
    }
    if (this.#ended && !this.#pending.size) return;
    const failed = (e: unknown) => this.#stop(e instanceof Error ? e : new Error(String(e)));
    try {
      this.#spawn().catch(failed);
    } catch (e) {
      failed(e); // no thread could be made at all
    }
  }

  /** Whether a request that already ran may run again without doing its work twice. */
  #repeatable(req: EngineRequest): boolean {
    if (req.op === 'call' || req.op === 'clientCall') return !this.#info?.procedures.has(req.fn); // reducers: the call ledger
    if (req.op === 'query') return /^\s*select\b/i.test(req.sql);
    if (req.op === 'fetchRoute') return false; // a handler's transactions carry no call id
    return true;
  }

  /** The database cannot continue: everything pending and everything later rejects with `error`. */
  #stop(error: Error): void {
    this.#ended = error;
    this.#log(error.message);
    for (const p of [...this.#pending.values()]) p.reject(error);
    this.#pending.clear();
    for (const sub of [...this.#subs.values()]) this.#endSub(sub, error, true);
    for (const port of this.#waitingPorts.splice(0)) port.close();
  }

  #log(message: string): void {
    this.#logs.push({ ts: Date.now(), level: 'error', message });
    if (this.#logs.length > 100) this.#logs.shift();
  }

  #limitOf(gen: Generation): { code: 'TIME_LIMIT' | 'HEAP_LIMIT' | 'ENGINE_FAILED'; cause: string | undefined } {
    if (gen.killed === 'time') return { code: 'TIME_LIMIT', cause: undefined };
    const e = gen.error as (Error & { code?: string }) | undefined;
    if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') return { code: 'HEAP_LIMIT', cause: undefined };
    return { code: 'ENGINE_FAILED', cause: e ? `${e.name}: ${e.message}` : 'it exited' };
  }

  #describeRunning(running: { kind: string; id: number } | undefined): string | undefined {
    if (!running) return undefined;
    if (running.kind === 'load') return "the module's top-level code";
    const names = this.#info?.names[running.kind as keyof FunctionNames];
    const name = names?.[running.id];
    const kind = running.kind === 'http' ? 'HTTP handler' : running.kind;
    return name !== undefined ? `${kind} ${name}` : `a ${kind}`;
  }

  /**
   * The error of a limit, worded for where it hit: a call (rolled back, the database restarted),
   * opening, restarting (the database stops), or module code no call was waiting for.
   */
  #limitError(limit: { code: 'TIME_LIMIT' | 'HEAP_LIMIT' | 'ENGINE_FAILED'; cause: string | undefined }, what: string | undefined, where: 'call' | 'background' | 'open' | 'restart'): InternalError {
    const db = `database ${this.#opts.name}`;
    const { callTimeoutMs, maxHeapMb } = this.#opts;
    let head: string;
    let raise: string;
    if (limit.code === 'TIME_LIMIT') {
      head = `${what ?? 'module code'} ran for more than ${callTimeoutMs} ms, the time limit of ${db} (callTimeoutMs), and was stopped`;
      raise = 'if it is not an endless loop, raise the limit: openDatabase({ callTimeoutMs }) or `lightcone --call-timeout <ms>`';
    } else if (limit.code === 'HEAP_LIMIT') {
      head = `${what ?? 'the engine'} ran out of memory: ${db} may use at most ${maxHeapMb} MiB of heap (${this.#opts.heapFromFlag ? '--max-old-space-size' : 'maxHeapMb'}), and its engine was stopped`;
      raise = this.#opts.heapFromFlag
        ? "if it does not allocate without end, raise the process's --max-old-space-size (it sets every thread's heap and wins over maxHeapMb)"
        : 'if it does not allocate without end, raise the limit: openDatabase({ maxHeapMb }) or `lightcone --max-heap <MiB>`';
    } else {
      head = `the engine thread of ${db} stopped unexpectedly (${limit.cause ?? 'no reason given'})${what ? ` while running ${what}` : ''}`;
      raise = 'this is a bug in Lightcone: please report it';
    }
    const tail =
      where === 'call'
        ? `; ${what ? 'its transaction' : 'the call'} was rolled back and the database restarted from storage (what had committed is intact). ${cap(raise)}.`
        : where === 'background'
          ? ` (no call was waiting for it, e.g. a scheduled call); the database restarted from storage (committed data is intact). ${cap(raise)}.`
          : where === 'open'
            ? ` while opening the database, so it was not opened (committed data is intact). ${cap(raise)}.`
            : ` while the database restarted after an earlier stop, so ${db} stopped (committed data is intact): close it and open it again; ${raise}.`;
    return new InternalError(
      head + tail,
      { database: this.#opts.name, ...(what ? { running: what } : {}), ...(limit.code === 'TIME_LIMIT' ? { callTimeoutMs } : limit.code === 'HEAP_LIMIT' ? { maxHeapMb } : {}) },
      { code: limit.code },
    );
  }

  /** For a procedure or SQL write that had run before the thread was stopped. */
  #lostError(req: EngineRequest, limit: { code: string }): ClosedError {
    const what = req.op === 'call' || req.op === 'clientCall' ? `procedure ${req.fn}` : req.op === 'prePublish' ? 'the pre-publish check' : 'this SQL statement';
    return new ClosedError(
      `${what} had already run when database ${this.#opts.name} restarted (another call hit its ${limit.code === 'HEAP_LIMIT' ? 'heap' : 'time'} limit), and its outcome was lost: check its effects before running it again`,
      { database: this.#opts.name, restarted: true, retryable: false },
    );
  }
}

/** Runs a subscriber's callback; what it throws goes to its `onError` (the subscription goes on). */
function guard(sub: LiveSub, f: () => void): void {
  try {
    f();
  } catch (error) {
    sub.callbacks.onError?.(error instanceof Error ? error : new Error(String(error)));
  }
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
