// `connect()`: the browser's `Database`, backed by a worker through Comlink. One engine serves
// every tab of the origin: a SharedWorker where the browser has one, else dedicated workers that
// elect a leader (worker/router.ts). Every call settles: the client holds a Web Lock while alive
// and watches the worker's, so when the worker goes away every pending call rejects.
//
// Calls in flight when the engine's holder goes away (the contract, tested in e2e/):
// - Every call carries an idempotency id (`opts.callId`, or a fresh random one).
// - SharedWorker: the engine outlives any one tab, so a tab closing mid-call loses nothing: the
//   call commits and the other tabs see it. Calls go to the engine worker on a lane of their own
//   (src/client/call-lane.ts); when that engine ends, what was in flight on the lane goes again
//   through the SharedWorker, with the same ids. If the SharedWorker itself dies, pending calls reject
//   with `ClosedError` (`details.retryable === true`, `details.callId`).
// - Dedicated workers: when the leader's tab closes, followers resend their pending calls, with
//   the same ids, to the next leader; the engine stores each id with its call's commit, so each
//   call commits exactly once and its promise settles normally. Without any leader for 10 s a call
//   rejects with a retryable `ClosedError`. A retry with the same `callId` never applies twice.
//
// Sync (`connect({ remote })`): the database follows one on a server (worker/worker-host.ts holds
// the replica beside the engine, so all tabs share its one connection and its outbox). `db.sync`
// reports its status; the page polls the worker for it while a listener is registered, because a
// poll is a plain forwarded request that survives every hop (router, supervisor, engine restart)
// where a pushed event would need its own path through each.
import * as Comlink from 'comlink';
import { Identity } from 'spacetimedb';
import type {
  Database,
  InitialRows,
  LogEntry,
  RouteResponse,
  SchemaDescription,
  SqlOptions,
  SqlResult,
  SubscribeCallbacks,
  SubscribeOptions,
  SubscriptionHandle,
  TableUpdate,
} from '../api/database.ts';
import type { SyncHandle } from '../api/database.ts';
import type { CallOptions, PublishResult } from '../engine/engine.ts';
import type { RemoteOptions, SyncStatus } from '../sync/replica.ts';
import { routeFetch } from '../api/fetch.ts';
import { ClosedError, errorFromJSON, UsageError } from '../errors.ts';
import { holdLock, whenReleased } from './locks.ts';
import { bootEngine, workerLoadFailed } from './engine-boot.ts';
import { PROTOCOL_VERSION, type EngineHost, type SubscriptionSink, type TestHooks, type WorkerApi, type WorkerHello } from './protocol.ts';
import { installTransferHandlers, revive } from './wire.ts';
import { CallBatcher } from './call-batcher.ts';
import { LaneSender } from './call-lane.ts';
import { announce, isRefused, MigrationRefusedError } from './refused.ts';

export type { PublishResult, TestHooks };

/**
 * A module bundled for the worker: what `import m from './module.ts?lightcone'` gives (see
 * `lightcone/vite`). `M`, the module's type (`typeof import('./module.ts')`), types the database
 * `connect` returns; the import itself carries none (TypeScript cannot type one file's import
 * through a wildcard module declaration), so pass it to `connect<M>`.
 */
export interface LightconeModule<M = unknown> {
  /** The bundle (CommonJS text with the module runtime inside). */
  readonly code: string;
  /** The module's entry file, for messages. */
  readonly entry?: string;
  /** A hash of `code`. */
  readonly hash?: string;
  /** Never present: carries `M` for inference (a method, so any module converts to any other). */
  __module?(types: M): void;
}

/** Options of `connect`; `M` is the module's type (see `connect`). */
export interface ConnectOptions<M = unknown> {
  /** Database name: letters, digits, `-` and `_`. */
  name: string;
  /**
   * The module, from the Vite plugin (`import chat from './chat/index.ts?lightcone'`). Published
   * when the database is new, and again when it differs from the running one (SpacetimeDB's
   * migration rules). Without it the database must exist already.
   */
  module?: LightconeModule<M>;
  /**
   * When the database in this browser cannot take `module` (SpacetimeDB refuses the migration, or
   * no module is stored): 'reject' (default) rejects with a `MigrationRefusedError` listing the
   * reasons, whose `reset()` is the way out; 'reset' deletes the database's data in this browser
   * and publishes `module` anew. Nothing is deleted unless the app asks for it here or by `reset()`.
   */
  onMigrationRefused?: 'reject' | 'reset';
  /**
   * Hold a client connection while this connection is open, as SpacetimeDB's SDK clients do: the
   * module's `clientConnected` runs once (as `sender`), calls as `sender` run on that connection
   * (no lifecycle hooks around each), and `clientDisconnected` runs when the page closes or
   * `close()` is called — what a module's presence (`user.online`) is made of. Default false:
   * each call behaves as SpacetimeDB's HTTP call (`clientConnected` before it, `clientDisconnected`
   * after it). When the engine restarts, it disconnects the connections it held and the page
   * connects again within a few seconds.
   */
  connection?: boolean;
  /**
   * A database image (from `export()`): when the database does not exist yet, it is created from
   * the image (then `module`, if given, is published over it). An existing database is untouched.
   */
  image?: Uint8Array;
  /** The default caller identity (hex or Identity) of `call` and `sql`; defaults to the origin's owner. */
  sender?: string | Identity;
  /** 'auto' (default): SharedWorker where available, else dedicated workers with an elected leader. */
  transport?: 'auto' | 'shared' | 'dedicated';
  /** Ask for persistent storage (`navigator.storage.persist()`) on connect; default true. */
  persist?: boolean;
  /** Execution limits of this connection's calls (see `Limits`). */
  limits?: Limits;
  /**
   * Follow a database on a server (`lightcone start`, or SpacetimeDB): reducer calls run here at
   * once (every tab sees them), wait in an outbox kept in this database's storage, and are sent
   * in order whenever the server is reachable; the server's transactions come back live. The
   * database keeps following it (in every tab, across reloads) until a `connect` names another.
   * `call(fn, args, { wait: 'local' })` resolves once the call is applied here; the default
   * `'server'` once the server committed it (or rejects with its SenderError). Procedures and calls
   * with an explicit `sender` (here or per call) run locally only. `module` must be the server's.
   */
  remote?: RemoteOptions;
}

/**
 * Execution limits. The engine runs in a worker that can be stopped: a call that keeps it busy
 * longer than `callTimeoutMs` (a reducer stuck in a loop) rejects with InternalError `TIME_LIMIT`,
 * its transaction rolls back, and the engine restarts from what is durable while the other
 * calls in flight run again (with their call ids, so each commits once).
 */
export interface Limits {
  /** How long one call may keep the engine busy, in ms (default 10,000). */
  callTimeoutMs?: number;
}

/** Storage as the page sees it. */
export interface StorageInfo {
  /** `navigator.storage.persisted()`: whether the browser keeps this origin's data under storage pressure. */
  persisted: boolean | undefined;
  /** What `navigator.storage.persist()` answered when `connect` asked (undefined: not asked or unsupported). */
  persistGranted: boolean | undefined;
  /** `navigator.storage.estimate()`: bytes used and available to the origin. */
  usage: number | undefined;
  quota: number | undefined;
}

/**
 * The browser's database: the `Database` interface (with `subscribe`) plus images and storage.
 * In the browser, `onApplied` of a subscription may run again with a fresh snapshot when the
 * engine behind it is replaced (another tab published a different module, an import, or the
 * leader tab closed): replace the rows you hold when it does.
 */
export interface BrowserDatabase<M = unknown> extends Database<M> {
  /**
   * Who held the engine when this connection opened: 'shared' (a SharedWorker), or this tab's
   * dedicated worker as 'leader' / 'follower' (a follower becomes leader when the leader's tab closes).
   */
  readonly mode: WorkerHello['mode'];
  /**
   * Publishes a new version of the module over this database (SpacetimeDB's migration rules:
   * the same schema swaps the code; allowed changes migrate; others are refused with
   * `MigrationRefusedError`, a ModuleError listing them, whose `reset()` starts the database over).
   * Every tab's subscriptions continue on the new module (`onApplied` runs again).
   */
  publish(module: LightconeModule): Promise<PublishResult>;
  /** The whole database as bytes (identity, module, rows). */
  export(): Promise<Uint8Array>;
  /**
   * Replaces this database with an image from `export()`; its subscriptions get the new rows
   * through `onApplied`. To create a new database from an image, use `connect({ name, image })`.
   */
  import(image: Uint8Array): Promise<void>;
  /** Whether storage is persistent, and how much is used. */
  storage(): Promise<StorageInfo>;
  /** Test builds only (`vite build --mode e2e`): inject storage faults into this database. */
  setTestHooks(hooks: TestHooks): Promise<void>;
}

/**
 * Opens a database in the origin's Lightcone worker, publishing `module` if needed. With the
 * module's type as `M`, calls and rows are typed: `db.call('send_mesage', …)` does not compile,
 * arguments are checked, and the rows of `subscribe` and of `sql('SELECT * FROM t …')` have the
 * table's type. Without it the database is untyped.
 *
 * @example
 * ```ts
 * import { connect } from 'lightcone';
 * import chat from './chat/index.ts?lightcone';
 *
 * const db = await connect<typeof import('./chat/index.ts')>({ name: 'chat', module: chat });
 * db.subscribe(['SELECT * FROM message'], { onUpdate: (u) => console.log(u) });
 * await db.call('send_message', { text: 'hello' });
 * ```
 */
export async function connect<M = unknown>(opts: ConnectOptions<M>): Promise<BrowserDatabase<M>> {
  installTransferHandlers();
  if (opts.persist !== false) void askPersist();
  const sender = opts.sender === undefined ? undefined : hex(opts.sender);
  const callTimeoutMs = opts.limits?.callTimeoutMs;
  if (callTimeoutMs !== undefined && !(Number.isFinite(callTimeoutMs) && callTimeoutMs > 0)) {
    throw new UsageError('BAD_OPTION', `limits.callTimeoutMs must be a positive number of milliseconds, got ${String(callTimeoutMs)}`, { option: 'limits.callTimeoutMs' });
  }
  const clientId = crypto.randomUUID();
  const releaseClient = await holdLock(`lightcone:client:${clientId}`);
  const worker = spawn(opts.transport ?? 'auto');
  const remote = Comlink.wrap<WorkerApi>(worker.endpoint);
  const link = new Link(() => {
    releaseClient();
    remote[Comlink.releaseProxy]();
    worker.terminate();
  });
  try {
    const limits = callTimeoutMs !== undefined ? { limits: { callTimeoutMs } } : {};
    // A SharedWorker may need this page to start its engine worker (see worker/shared-worker.ts).
    const engineHost = worker.shared ? Comlink.proxy(pageEngineHost()) : undefined;
    const hello = await Promise.race([remote.hello({ protocol: PROTOCOL_VERSION, clientId, ...limits }, engineHost), worker.failed, timeout(HELLO_TIMEOUT_MS)]);
    const watching = new AbortController();
    link.onClose(() => watching.abort());
    void whenReleased(hello.lock, watching.signal).then(() =>
      link.fail(new ClosedError('the Lightcone worker stopped (crashed, or its tab was closed): call connect() again; a call that was in flight may retry with its callId', { retryable: true })),
    );
    const info = await link.track(remote.open(opts.name, opts.module?.code, opts.image, opts.remote, opts.onMigrationRefused));
    let session: Session | undefined;
    if (opts.connection === true) {
      const attach = () => remote.attach(opts.name, clientId, sender);
      const held: Session = { connectionId: await link.track(attach()) };
      session = held;
      // Asked again now and then: an engine that restarted has forgotten it (and disconnected it).
      const timer = setInterval(() => {
        if (!link.closed)
          attach().then(
            (id) => (held.connectionId = id),
            () => {},
          ); // the next round asks again
      }, ATTACH_EVERY_MS);
      link.onClose(() => clearInterval(timer));
    }
    const db = facade(opts.name, info, hello.mode, sender, callTimeoutMs, clientId, remote, link, session);
    protocolPorts.set(db, {
      serve: (port) => link.track(remote.serveProtocol(opts.name, Comlink.transfer(port, [port]))),
      closed: new Promise((resolve) => link.onClose(resolve)),
      get isClosed() {
        return link.closed;
      },
    });
    return db as BrowserDatabase as BrowserDatabase<M>;
  } catch (error) {
    link.close(new ClosedError('connect failed'));
    announce(error, opts.name);
    if (isRefused(error) && opts.module !== undefined) throw new MigrationRefusedError(error, () => connect<M>({ ...opts, onMigrationRefused: 'reset' }));
    throw error;
  }
}

/** What `local()` (src/client/local.ts) needs of a connection: hand a port to its worker, know when it ends. */
export interface ProtocolPorts {
  /** Transfers `port` to the worker, which serves SpacetimeDB's wire protocol on it; resolves with the lock to watch. */
  serve(port: MessagePort): Promise<{ lock: string }>;
  /** Resolves when this connection to the worker ended (the worker died, or `close()`). */
  closed: Promise<void>;
  readonly isClosed: boolean;
}

/** Kept beside each `BrowserDatabase` rather than on it, so the public interface stays as it is. */
const protocolPorts = new WeakMap<BrowserDatabase, ProtocolPorts>();

/** The protocol ports of a database `connect()` made. */
export function protocolPortsOf(db: BrowserDatabase): ProtocolPorts {
  const ports = protocolPorts.get(db);
  if (!ports) throw new UsageError('BAD_ARGUMENT', 'this database was not made by connect(): use the one connect() returned');
  return ports;
}

/** The page's client connection (`connection: true`): its id changes when an engine restart made a new one. */
interface Session {
  connectionId: string;
}

/** How often a page with `connection: true` makes sure the engine still holds its connection. */
const ATTACH_EVERY_MS = 2_000;

/** How long `connect` waits for the worker to answer at all (script load, WASM compile). */
const HELLO_TIMEOUT_MS = 30_000;

function timeout(ms: number): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new ClosedError(`the Lightcone worker did not answer within ${ms / 1000} s: reload the page`, { retryable: true })), ms));
}

/** Tracks pending promises so that every one settles when the worker goes away or on close. */
class Link {
  #closed: ClosedError | undefined;
  readonly #pending = new Set<(error: ClosedError) => void>();
  readonly #onClose: (() => void)[] = [];
  readonly #dispose: () => void;

  constructor(dispose: () => void) {
    this.#dispose = dispose;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  onClose(f: () => void): void {
    this.#onClose.push(f);
  }

  /** Settles with `p`, or rejects with ClosedError (with `details`) if the link ends first. */
  track<T>(p: Promise<T>, details: Record<string, unknown> = {}): Promise<T> {
    if (this.#closed) {
      p.catch(() => {}); // superseded by the ClosedError below; this only prevents an unhandled rejection
      return Promise.reject(new ClosedError(this.#closed.message, { ...this.#closed.details, ...details }));
    }
    return new Promise<T>((resolve, reject) => {
      const abort = (error: ClosedError) => reject(new ClosedError(error.message, { ...error.details, ...details }));
      this.#pending.add(abort);
      p.then(resolve, reject).finally(() => this.#pending.delete(abort));
    });
  }

  /** The worker went away: reject everything pending. */
  fail(error: ClosedError): void {
    if (this.#closed) return;
    this.close(error);
  }

  close(error: ClosedError): void {
    if (this.#closed) return;
    this.#closed = error;
    for (const abort of this.#pending) abort(error);
    this.#pending.clear();
    for (const f of this.#onClose) f();
    try {
      this.#dispose();
    } catch {
      // Already gone.
    }
  }
}

function facade(
  name: string,
  info: { identity: string; owner: string; remote?: { uri: string; database: string } },
  mode: WorkerHello['mode'],
  sender: string | undefined,
  timeoutMs: number | undefined,
  clientId: string,
  remote: Comlink.Remote<WorkerApi>,
  link: Link,
  session: Session | undefined,
): BrowserDatabase {
  const subscriptions = new Map<string, { onError: (error: Error) => void }>();
  link.onClose(() => {
    for (const sub of [...subscriptions.values()]) sub.onError(new ClosedError('the database connection closed'));
    subscriptions.clear();
  });
  // Calls go straight to the engine worker on a lane of their own (src/client/call-lane.ts),
  // except on a synced database (its calls that wait for the server go alone through the worker,
  // and a lane beside them could reorder them) and in a follower tab (its calls go to the leader).
  const lanes = !info.remote && mode !== 'follower' ? openLanes(remote, link) : undefined;
  const batcher = new CallBatcher(name, lanes ?? remote);
  const senderOf = (opts?: { sender?: string | Identity | bigint }) => (opts?.sender !== undefined ? hex(opts.sender) : sender);
  const query = async (q: string, opts?: SqlOptions): Promise<SqlResult> => {
    const result = await link.track(remote.query(name, q, senderOf(opts)));
    revive(result.rows);
    return result;
  };
  const db: BrowserDatabase = {
    name,
    identity: new Identity(info.identity),
    owner: new Identity(info.owner),
    mode,
    async call(fn: string, args?: unknown, opts: CallOptions = {}) {
      if (opts.connectionId !== undefined) throw new UsageError('UNSUPPORTED_OPTION', 'connectionId is not supported by connect() yet: each call behaves as an HTTP call');
      const callId = opts.callId ?? crypto.randomUUID();
      const s = senderOf(opts);
      if (opts.wait !== undefined && opts.wait !== 'local' && opts.wait !== 'server') {
        throw new UsageError('BAD_OPTION', `wait must be 'local' or 'server', got ${JSON.stringify(opts.wait)}`, { option: 'wait' });
      }
      const wire = {
        callId,
        ...(s !== undefined ? { sender: s } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(opts.wait !== undefined ? { wait: opts.wait } : {}),
        ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
        // On the page's client connection when the call is made as its sender.
        ...(session && opts.sender === undefined ? { connectionId: session.connectionId } : {}),
      };
      // A batch is answered as a whole: a call that may wait for the server goes alone, so that
      // the calls made beside it are not held until the server answers it.
      const sent = info.remote !== undefined && opts.wait !== 'local' ? remote.call(name, fn, args, wire) : batcher.call({ fn, args, opts: wire });
      return revive(await link.track(sent, { callId }));
    },
    query,
    sql: async (q, opts) => (await query(q, opts)).rows,
    logs: (opts?: { limit?: number }) => link.track(remote.logs(name, opts?.limit)) as Promise<LogEntry[]>,
    describe: () => link.track(remote.describe(name)) as Promise<SchemaDescription>,
    fetch: routeFetch((req) => link.track(remote.fetchRoute(name, req)) as Promise<RouteResponse>),
    fetchRoute: (req) => link.track(remote.fetchRoute(name, req)) as Promise<RouteResponse>,
    subscribe(queries: string[], callbacks: SubscribeCallbacks, opts: SubscribeOptions = {}): SubscriptionHandle {
      const id = crypto.randomUUID();
      let live = true;
      let settle!: { resolve: () => void; reject: (error: Error) => void };
      const applied = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
      applied.catch(() => {}); // observed through `applied` or `onError`, never unhandled
      const end = (error: Error) => {
        if (!live) return;
        live = false;
        subscriptions.delete(id);
        settle.reject(error);
        try {
          callbacks.onError?.(error);
        } catch (thrown) {
          console.error('lightcone: a live query onError callback threw', thrown);
        }
      };
      // The callbacks run here: what they throw is reported as in Node (to onError, else to the
      // console) and the subscription goes on. Thrown back to the worker, it would reach no one.
      const guard = (f: () => void) => {
        try {
          f();
        } catch (thrown) {
          const error = thrown instanceof Error ? thrown : new Error(String(thrown));
          try {
            if (live && callbacks.onError) return callbacks.onError(error);
          } catch {
            // onError threw too: the console is left.
          }
          console.error('lightcone: a live query callback threw', error);
        }
      };
      subscriptions.set(id, { onError: end });
      const sink: SubscriptionSink = {
        applied: (initial) => {
          if (!live) return;
          guard(() => callbacks.onApplied?.(revive(initial) as InitialRows));
          settle.resolve();
        },
        update: (update) => {
          if (live) guard(() => callbacks.onUpdate?.(revive(update) as TableUpdate[]));
        },
        error: (error) => end(errorFromJSON(error)),
      };
      const s = opts.sender !== undefined ? opts.sender : sender;
      const wireOpts = { ...(s !== undefined ? { sender: s } : {}), ...(opts.confirmedReads !== undefined ? { confirmedReads: opts.confirmedReads } : {}) };
      link.track(remote.subscribe(clientId, id, name, [...queries], wireOpts, Comlink.proxy(sink))).catch((error: unknown) => end(error instanceof Error ? error : new Error(String(error))));
      return {
        applied,
        get active() {
          return live;
        },
        unsubscribe() {
          if (!live) return;
          live = false;
          subscriptions.delete(id);
          settle.reject(new ClosedError('unsubscribed before the initial rows arrived'));
          if (!link.closed) void remote.unsubscribe(clientId, id).catch(() => {}); // ended here already: the sink ignores whatever still comes
        },
      };
    },
    async publish(module: LightconeModule) {
      try {
        return (await link.track(remote.publish(name, module.code))).published;
      } catch (error) {
        announce(error, name);
        if (isRefused(error)) throw new MigrationRefusedError(error, async () => (await link.track(remote.open(name, module.code, undefined, undefined, 'reset'))).published);
        throw error;
      }
    },
    export: () => link.track(remote.exportDatabase(name)),
    async import(image: Uint8Array) {
      await link.track(remote.importDatabase(name, image));
    },
    storage,
    ...(info.remote ? { sync: syncHandle(name, remote, link) } : {}),
    setTestHooks: (hooks) => link.track(remote.setTestHooks(name, hooks)),
    async close() {
      link.close(new ClosedError(`database ${name} was closed by close(): connect() again to continue`));
    },
  };
  if (lanes) callLanes.set(db, lanes);
  return db;
}

/**
 * The call lanes of one connection: handed over at `pagehide` (see `LaneSender.handOver`) unless
 * the page goes into the back-forward cache, from which it and its engine may come back.
 */
function openLanes(remote: Comlink.Remote<WorkerApi>, link: Link): LaneSender {
  const lanes = new LaneSender({ via: remote, open: (port) => remote.callLane(port), released: whenReleased, hostedHere: (lock) => hostedEngines.has(lock) });
  const leaving = (event: Event) => {
    if (!(event as PageTransitionEvent).persisted) lanes.handOver();
  };
  const back = () => lanes.stay();
  globalThis.addEventListener?.('pagehide', leaving);
  globalThis.addEventListener?.('pageshow', back);
  link.onClose(() => {
    globalThis.removeEventListener?.('pagehide', leaving);
    globalThis.removeEventListener?.('pageshow', back);
    lanes.close();
  });
  return lanes;
}

/** Each database's call lane sender (none on a synced database or in a follower tab). */
const callLanes = new WeakMap<BrowserDatabase, LaneSender>();

/** Whether `db` (from `connect()`) has a call lane open now: its calls go straight to the engine worker. For tests and diagnostics. */
export function callLaneOpen(db: BrowserDatabase): boolean {
  return callLanes.get(db)?.open ?? false;
}

/** How often `db.sync` asks the worker for the status while a listener is registered. */
const SYNC_POLL_MS = 500;

/**
 * `db.sync` of a synced database: `status()` asks the worker; `onStatus` polls it every
 * SYNC_POLL_MS while a listener is registered and tells the listeners each status that differs
 * from the last (the first one included). Polling stops with the last listener or the connection.
 */
function syncHandle(name: string, remote: Comlink.Remote<WorkerApi>, link: Link): SyncHandle {
  const listeners = new Set<(s: SyncStatus) => void>();
  let polling = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last: { text: string; status: SyncStatus } | undefined;
  const status = async (): Promise<SyncStatus> => {
    const s = await link.track(remote.syncStatus(name));
    if (!s) throw new UsageError('UNKNOWN_DATABASE', `database ${name} no longer follows a remote database: connect() again`, { database: name });
    return s;
  };
  const tell = (l: (s: SyncStatus) => void, s: SyncStatus) => {
    try {
      l({ ...s });
    } catch (thrown) {
      console.error('lightcone: a sync status listener threw', thrown);
    }
  };
  const poll = async () => {
    timer = undefined;
    try {
      const s = await status();
      const text = JSON.stringify(s);
      if (text !== last?.text) {
        last = { text, status: s };
        for (const l of [...listeners]) tell(l, s);
      }
    } catch {
      // The worker is reloading or restarting the database: the next poll asks again.
    }
    if (listeners.size > 0 && !link.closed) timer = setTimeout(() => void poll(), SYNC_POLL_MS);
    else polling = false;
  };
  link.onClose(() => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    polling = false;
    listeners.clear();
  });
  return {
    status,
    onStatus(listener) {
      if (link.closed) return () => {};
      listeners.add(listener);
      if (!polling) {
        polling = true;
        last = undefined;
        void poll();
      } else if (last) {
        const known = last.status;
        queueMicrotask(() => listeners.has(listener) && tell(listener, known));
      }
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

/** The worker and how to end it; `failed` rejects if its script cannot start. */
function spawn(transport: 'auto' | 'shared' | 'dedicated'): { endpoint: Comlink.Endpoint; shared: boolean; terminate(): void; failed: Promise<never> } {
  const hasShared = typeof SharedWorker !== 'undefined';
  if (transport === 'shared' && !hasShared) throw new UsageError('NO_SHARED_WORKER', "this browser has no SharedWorker: use transport 'auto' or 'dedicated'");
  let fail!: (error: Error) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {}); // observed by whoever races it against the connect; never unhandled
  const onError = (event: Event) => fail(workerLoadFailed(transport !== 'dedicated' && hasShared ? 'shared worker' : 'worker', event instanceof ErrorEvent ? event.message : undefined));
  if (transport !== 'dedicated' && hasShared) {
    const worker = new SharedWorker(new URL('../../worker/shared-worker.ts', import.meta.url), { type: 'module', name: 'lightcone' });
    worker.addEventListener('error', onError);
    worker.port.start();
    return { endpoint: worker.port, shared: true, terminate: () => worker.port.close(), failed };
  }
  const worker = new Worker(new URL('../../worker/dedicated-worker.ts', import.meta.url), { type: 'module', name: 'lightcone' });
  worker.addEventListener('error', onError);
  return { endpoint: worker, shared: false, terminate: () => worker.terminate(), failed };
}

/**
 * This page's offer to start engine workers for the SharedWorker. An engine started here lives
 * as long as this page; when the page closes, the SharedWorker starts the next one in another tab.
 */
function pageEngineHost(): EngineHost {
  const engines = new Map<string, Worker>();
  return {
    async spawnEngine(supervisor: string) {
      const worker = new Worker(new URL('../../worker/engine-worker.ts', import.meta.url), { type: 'module', name: 'lightcone-engine' });
      const boot = await bootEngine(worker, supervisor);
      engines.set(boot.lock, worker);
      hostedEngines.add(boot.lock);
      return Comlink.transfer(boot, [boot.rpc, boot.beat]);
    },
    terminateEngine(lock: string) {
      engines.get(lock)?.terminate();
      engines.delete(lock);
      hostedEngines.delete(lock);
    },
  };
}

/** The Web Locks of the engine workers this page started (they end with it; see `LaneSender.handOver`). */
const hostedEngines = new Set<string>();

let persistAsked: Promise<boolean | undefined> | undefined;

/** Asks once per page for persistent storage; remembers the answer. */
function askPersist(): Promise<boolean | undefined> {
  persistAsked ??= (async () => {
    try {
      return await navigator.storage?.persist?.();
    } catch {
      return undefined; // a browser that refuses to answer: `persistGranted` says "not asked or unsupported"
    }
  })();
  return persistAsked;
}

async function storage(): Promise<StorageInfo> {
  const s = navigator.storage as StorageManager | undefined;
  const [persisted, estimate, persistGranted] = await Promise.all([
    // Advisory figures: a browser that cannot give one reports it as unknown (undefined), never as a failed call.
    s?.persisted?.().catch(() => undefined),
    s?.estimate?.().catch(() => undefined),
    persistAsked ?? Promise.resolve(undefined),
  ]);
  return { persisted, persistGranted, usage: estimate?.usage, quota: estimate?.quota };
}

function hex(id: string | Identity | bigint): string {
  if (typeof id === 'string') return id;
  if (typeof id === 'bigint') return new Identity(id).toHexString();
  return id.toHexString();
}
