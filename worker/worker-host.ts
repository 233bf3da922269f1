// The databases of one origin, hosted by name inside the worker that holds the engine (the
// SharedWorker, or the elected leader among dedicated workers): opens or publishes each on first
// use with IndexedDB durability, serves the WorkerApi through the same `Database` facade as Node,
// and keeps each client's subscriptions so they end when the client does and follow the engine
// when it is replaced (re-publish, import, or a reload after a write storage refused).
//
// Sync: a database opened with `remote` follows that database on a server. Its Replica
// (src/sync/replica.ts) lives here beside its engine, so the one engine of the origin holds the
// one server connection and every tab's calls go through the same outbox. Where it follows is a
// meta record of the database's own storage: every later open of it (a reload, a publish, an
// engine worker restarted by its supervisor, a new leader tab) follows it again, outbox and all.
// A call that waits for the server when its replica is replaced rejects with ClosedError here and
// runs again on the next one with the same call id, where it joins the same outbox entry.
import { xhrSyncHttp } from './sync-http.ts';
import type { Identity } from 'spacetimedb';
import { indexedDbDurability } from '../src/durability/indexeddb.ts';
import type { Durability } from '../src/durability/durability.ts';
import { databaseFacade, type Database, type SchemaDescription } from '../src/api/database.ts';
import { Engine, type PublishResult } from '../src/engine/engine.ts';
import { ClosedError, ModuleError, StorageError, SyncError, UsageError } from '../src/errors.ts';
import { META_MODULE } from '../src/engine/publish.ts';
import { Replica, type RemoteOptions, type SyncStatus } from '../src/sync/replica.ts';
import type { FetchLike, SocketFactory, SocketLike } from '../src/sync/wire-client.ts';
import type { LogEntry } from '../src/host/host.ts';
import type { SqlResult } from '../src/sql/execute.ts';
import type { RouteRequest, RouteResponse, SyncHttp } from '../src/host/http-wire.ts';
import type { SubscriptionHandle } from '../src/subscriptions/types.ts';
import { servePort } from '../src/protocol/port.ts';
import { ProtocolServer } from '../src/protocol/server.ts';
import type { ClientHello, DatabaseInfo, LaneApi, SubscriptionSink, TestHooks, WireCall, WireCallOptions, WireSettled, WireSubscribeOptions, WorkerApi, WorkerHello } from '../src/client/protocol.ts';
import { callBudget, checkProtocol, PROTOCOL_VERSION } from '../src/client/protocol.ts';
import * as Comlink from 'comlink';
import { hasWebLocks, holdLock, whenReleased } from '../src/client/locks.ts';
import { revive, serializeError, toSerialized } from '../src/client/wire.ts';
import { originOwner } from './origin-owner.ts';
import { inBrowser } from './browser-errors.ts';
import { toIdentity } from '../src/host/identity.ts';
import { delayAcks } from './test-hooks.ts';

/** How a host is set up by its entry. */
export interface WorkerHostOptions {
  /** What `hello` reports. */
  mode: 'shared' | 'leader';
  /** The Web Lock this worker holds while alive, and a promise that it is held. */
  lock: string;
  lockHeld: Promise<unknown>;
  /** Whether `setTestHooks` works (true only in test builds). */
  testHooks: boolean;
  /** Synchronous HTTP for procedures; defaults to synchronous XMLHttpRequest. */
  http?: SyncHttp | undefined;
  /**
   * A synced call now only waits for its server (it is in the outbox and applied here): the
   * engine worker tells its supervisor, which then does not hold other requests behind it.
   */
  onWaiting?: (callId: string) => void;
  /**
   * Calls on call lanes are in flight (the smallest of their budgets, ms) or not (0), told at
   * every change: the engine worker tells its supervisor, which never sees those calls.
   */
  onLane?: (budgetMs: number) => void;
  /** How sync reaches servers (defaults: this worker's own WebSocket and fetch, taken at import). */
  sync?: { socket?: SocketFactory; fetch?: FetchLike; backoff?: { min: number; max: number } };
}

// Taken before any module code runs in this worker: what sync talks to the server with.
const NativeWebSocket = globalThis.WebSocket as typeof WebSocket | undefined;
const nativeFetch = globalThis.fetch?.bind(globalThis);
const workerSocket: SocketFactory = (url, protocols) => {
  if (!NativeWebSocket) throw new SyncError('CONNECT_FAILED', 'this worker has no WebSocket, which sync needs: use a browser that has one');
  return new NativeWebSocket(url, protocols) as unknown as SocketLike;
};
const workerFetch: FetchLike = (url, init) => {
  if (!nativeFetch) return Promise.reject(new SyncError('CONNECT_FAILED', 'this worker has no fetch, which sync needs: use a browser that has one'));
  return nativeFetch(url, init);
};

/** The meta record that says which remote database a database follows (JSON of `RemoteOptions`). */
export const META_REMOTE = 'sync-remote';

/**
 * The meta record of a database's open client connections (`attach`): JSON `[{ connectionId,
 * sender }]` (hex). An engine that opens the database disconnects those that no client of its
 * worker holds (their worker died before it could), as SpacetimeDB does when it starts.
 */
export const META_SESSIONS = 'client-connections';

/** A page's client connection to a database (see `WorkerApi.attach`). */
interface Session {
  name: string;
  clientId: string;
  sender: string;
  connectionId: bigint;
}

/** A slot's replica while its engine runs. */
interface SlotSync {
  replica: Replica;
  remote: RemoteOptions;
  /** `remote` as stored: how an open tells whether it names the same remote. */
  key: string;
  /** Set when the replica is being closed (the engine is replaced or closed). */
  closing: boolean;
  /** Rejects with ClosedError once `closing` is set. */
  closed: Promise<never>;
  close(): void;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** A client's subscription, kept so it can be made again on a replacement engine. */
interface Live {
  name: string;
  queries: string[];
  opts: WireSubscribeOptions;
  sink: SubscriptionSink;
  handle: SubscriptionHandle | undefined;
}

/** One hosted database: its engine and facade (once open), the code it runs, its test hooks. */
class Slot {
  engine: Engine | undefined;
  db: Database | undefined;
  code: string | undefined;
  /** Releases the origin-wide Web Lock this worker holds on the database while its engine is open. */
  unlock: (() => void) | undefined;
  /**
   * Set while the database reloads after a failed write: operations wait for it, subscriptions
   * move to the reloaded engine instead of ending. Never rejects.
   */
  reloading: Promise<void> | undefined;
  readonly hooks: TestHooks = {};
  /** The engine's storage: also keeps the key that signs the wire protocol's identity tokens. */
  storage: Durability | undefined;
  /**
   * The wire protocol (SpacetimeDB's SDK over `local()`) for this engine, made on first use.
   * Closed with the engine: its SDK connections close and reconnect to the next one.
   */
  protocol: ProtocolServer | undefined;
  /** Subscriptions on this database, to move to the next engine. */
  readonly subs = new Set<Live>();
  /** Its replica, when the database follows a remote one; set and cleared with `engine`. */
  sync: SlotSync | undefined;
  /** Serializes open, publish, import and delete on this database. */
  #turn: Promise<unknown> = Promise.resolve();

  exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(f);
    this.#turn = run.catch(() => {}); // the turn only orders work; each caller gets its own `run`
    return run;
  }
}

/** Implements the worker's API over the engines it hosts. */
export class WorkerHost implements WorkerApi {
  readonly #opts: WorkerHostOptions;
  readonly #slots = new Map<string, Slot>();
  /** clientId → subscriptionId → subscription. */
  readonly #clients = new Map<string, Map<string, Live>>();
  /** The client connections this worker holds, by clientId and database name (`sessionKey`). */
  readonly #sessions = new Map<string, Session>();
  #owner: Promise<Identity> | undefined;
  /** The budgets of the calls in flight on call lanes (budget → how many), and the smallest told. */
  readonly #laneBudgets = new Map<number, number>();
  #laneTold = 0;

  constructor(opts: WorkerHostOptions) {
    this.#opts = opts;
  }

  async hello(hello: ClientHello): Promise<WorkerHello> {
    checkProtocol(hello.protocol);
    await this.#opts.lockHeld;
    this.watchClient(hello.clientId, `lightcone:client:${hello.clientId}`);
    return { protocol: PROTOCOL_VERSION, lock: this.#opts.lock, mode: this.#opts.mode };
  }

  /** Ends a client's subscriptions once the Web Lock it holds while alive is released. */
  watchClient(clientId: string, lock: string): void {
    if (this.#clients.has(clientId)) return;
    this.#clients.set(clientId, new Map());
    void whenReleased(lock).then(() => this.dropClient(clientId));
  }

  /** Ends every subscription of a client. */
  dropClient(clientId: string): void {
    const subs = this.#clients.get(clientId);
    this.#clients.delete(clientId);
    for (const live of subs?.values() ?? []) this.#stop(live);
    for (const [key, session] of this.#sessions) {
      if (session.clientId !== clientId) continue;
      this.#sessions.delete(key);
      void this.#detach(session);
    }
  }

  async attach(name: string, clientId: string, sender: string | undefined): Promise<string> {
    const key = sessionKey(clientId, name);
    const known = this.#sessions.get(key);
    if (known) return connectionHex(known.connectionId);
    const { engine } = await this.#current(name);
    const again = this.#sessions.get(key); // asked twice meanwhile
    if (again) return connectionHex(again.connectionId);
    const session: Session = { name, clientId, sender: toIdentity(sender ?? engine.owner, 'sender').toHexString(), connectionId: randomConnectionId() };
    this.#sessions.set(key, session);
    try {
      await engine.connectClient(toIdentity(session.sender, 'sender'), session.connectionId);
    } catch (error) {
      if (this.#sessions.get(key) === session) this.#sessions.delete(key); // clientConnected refused it
      throw error;
    }
    await this.#saveSessions(name, this.#slot(name));
    // After the hook: a client already gone is disconnected at once. (Without Web Locks, in
    // Node's tests, whoever hosts this worker calls dropClient.)
    if (hasWebLocks()) this.watchClient(clientId, `lightcone:client:${clientId}`);
    return connectionHex(session.connectionId);
  }

  async open(name: string, code: string | undefined, image?: Uint8Array, remote?: RemoteOptions, onRefused?: 'reject' | 'reset'): Promise<DatabaseInfo> {
    const slot = this.#slot(name);
    if (onRefused !== undefined && onRefused !== 'reject' && onRefused !== 'reset') {
      throw new UsageError('BAD_OPTION', `onMigrationRefused must be 'reject' or 'reset', got ${JSON.stringify(onRefused)}`, { option: 'onMigrationRefused' });
    }
    return slot.exclusive(async () => {
      const seeded = !slot.engine && image !== undefined && (await this.#seed(name, slot, image));
      const sameRemote = remote === undefined || remoteKey(remote) === slot.sync?.key;
      if (slot.engine && (code === undefined || code === slot.code) && sameRemote) return info(slot, seeded ? 'created' : 'unchanged');
      // A different module (or one given for the first time), or another remote: reopen with it.
      await this.#closeSlot(slot);
      let engine: Engine;
      try {
        engine = await this.#openEngine(name, slot, code, remote);
      } catch (error) {
        // The app asked to start over when the stored database cannot take this module: delete
        // its storage (rows, log, outbox) and publish the module anew. Subscriptions continue on
        // the new database (onApplied runs again), as after an import.
        if (onRefused !== 'reset' || code === undefined || !(error instanceof ModuleError && (error.code === 'MIGRATION_REFUSED' || error.code === 'MODULE_MISSING'))) throw error;
        await indexedDbDurability(name).destroy();
        engine = await this.#openEngine(name, slot, code, remote);
      }
      return info(slot, seeded && engine.publishResult === 'unchanged' ? 'created' : engine.publishResult);
    });
  }

  publish(name: string, code: string): Promise<DatabaseInfo> {
    if (typeof code !== 'string' || code.length === 0)
      return Promise.reject(new UsageError('BAD_MODULE', 'publish needs a module bundle (what `import m from "./module.ts?lightcone"` gives as m.code)'));
    return this.open(name, code);
  }

  /**
   * A call. On a synced database a reducer call without an explicit sender goes through the
   * replica (its outbox, then the server); procedures and calls as someone else stay local.
   */
  call(name: string, fn: string, args: unknown, opts: WireCallOptions): Promise<unknown> {
    // An id even when none was given: a synced call may run again on the next replica (see #synced).
    const callId = opts.callId ?? crypto.randomUUID();
    const callOpts = { ...(opts.sender !== undefined ? { sender: opts.sender } : {}), ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}), callId };
    const slot = this.#slot(name);
    let synced = false;
    return this.#withDb(name, (db) => {
      const sync = slot.sync;
      if (sync && opts.sender === undefined && sync.replica.syncs(fn)) {
        synced = true;
        return this.#synced(name, sync, fn, revive(args), opts.wait ?? 'server', callId);
      }
      // Run again after its replica was replaced by none (an import or a delete): it was meant for the server.
      if (synced) throw new ClosedError(`database ${name} no longer follows a remote database (it was imported or deleted): the call was not sent`, { database: name, callId });
      return db.call(fn, revive(args), opts.connectionId !== undefined ? { ...callOpts, connectionId: BigInt(`0x${opts.connectionId}`) } : callOpts);
    });
  }

  /** Runs a batch of calls (one message from a client); each settles on its own. */
  callMany(name: string, calls: WireCall[]): Promise<WireSettled[]> {
    return Promise.all(
      calls.map((c) =>
        this.call(name, c.fn, c.args, c.opts).then(
          (value): WireSettled => ({ ok: true, value }),
          (error: unknown): WireSettled => ({ ok: false, error: serializeError(error) }),
        ),
      ),
    );
  }

  query(name: string, sql: string, sender: string | undefined): Promise<SqlResult> {
    return this.#withDb(name, (db) => db.query(sql, sender !== undefined ? { sender } : {}));
  }

  logs(name: string, limit: number | undefined): Promise<LogEntry[]> {
    return this.#withDb(name, (db) => db.logs(limit !== undefined ? { limit } : {}));
  }

  describe(name: string): Promise<SchemaDescription> {
    return this.#withDb(name, (db) => db.describe());
  }

  fetchRoute(name: string, request: RouteRequest): Promise<RouteResponse> {
    return this.#withDb(name, (db) => db.fetchRoute(request));
  }

  async syncStatus(name: string): Promise<SyncStatus | undefined> {
    const slot = this.#slot(name);
    await this.#current(name); // opens the database (and its replica) after an engine restart
    return slot.sync?.replica.status();
  }

  async subscribe(clientId: string, subscriptionId: string, name: string, queries: string[], opts: WireSubscribeOptions, sink: SubscriptionSink): Promise<void> {
    const slot = this.#slot(name);
    const { db, engine } = await this.#current(name);
    let subs = this.#clients.get(clientId);
    if (!subs) {
      subs = new Map();
      this.#clients.set(clientId, subs);
    }
    const old = subs.get(subscriptionId);
    if (old) this.#stop(old);
    const live: Live = { name, queries: [...queries], opts, sink, handle: undefined };
    subs.set(subscriptionId, live);
    slot.subs.add(live);
    try {
      await this.#start(live, db);
    } catch (error) {
      // The engine was replaced before the initial rows came (a reload): the subscription moved
      // with the database, so its rows come from the new engine.
      if (!replaced(slot, engine) || !slot.subs.has(live)) throw error;
      await slot.reloading;
      if (!live.handle) throw error;
      await live.handle.applied;
    }
  }

  async unsubscribe(clientId: string, subscriptionId: string): Promise<void> {
    const subs = this.#clients.get(clientId);
    const live = subs?.get(subscriptionId);
    subs?.delete(subscriptionId);
    if (live) this.#stop(live);
  }

  /**
   * Serves one SDK connection (SpacetimeDB's wire protocol) on `port`, the server's end of a
   * channel the page made (see src/client/local.ts). The database must exist. The connection
   * lives as long as this engine: a reload, publish or import closes it (1001) and the SDK
   * reconnects. Returns the Web Lock this worker holds while alive, for the page to watch:
   * when this worker dies, the port goes silent, and the lock is how the page learns of it.
   */
  async serveProtocol(name: string, port: MessagePort): Promise<{ lock: string }> {
    const slot = this.#slot(name);
    const { engine } = await this.#current(name);
    if (!slot.protocol) {
      if (!slot.storage) throw new ClosedError(`database ${name} was closed while opening: retry`, { database: name, retryable: true });
      slot.protocol = new ProtocolServer({ engine, keys: slot.storage });
    }
    servePort(slot.protocol, port);
    return { lock: this.#opts.lock };
  }

  /** Serves a call lane on `port` (see `WorkerApi.callLane`). */
  async callLane(port: MessagePort): Promise<{ lock: string }> {
    const lane: LaneApi = {
      callMany: (name, calls) => {
        // Only calls that may be sent again (an id each) travel on lanes; say so to a caller that errs.
        if (!Array.isArray(calls) || calls.some((c) => typeof c?.opts?.callId !== 'string')) {
          return Promise.reject(new UsageError('BAD_ARGUMENT', 'a call lane takes calls with a call id only: send others through the worker'));
        }
        const budgets = calls.map((c) => callBudget(c.opts.timeoutMs)); // as the supervisor counts them
        for (const b of budgets) this.#laneBudgets.set(b, (this.#laneBudgets.get(b) ?? 0) + 1);
        this.#tellLane();
        // Through a promise, so that the count is given back even when `callMany` throws at once.
        return Promise.resolve()
          .then(() => this.callMany(name, calls))
          .finally(() => {
            for (const b of budgets) {
              const left = this.#laneBudgets.get(b)! - 1;
              if (left === 0) this.#laneBudgets.delete(b);
              else this.#laneBudgets.set(b, left);
            }
            this.#tellLane();
          });
      },
    };
    Comlink.expose(lane, port);
    return { lock: this.#opts.lock };
  }

  #tellLane(): void {
    let smallest = 0;
    for (const b of this.#laneBudgets.keys()) if (smallest === 0 || b < smallest) smallest = b;
    if (smallest === this.#laneTold) return;
    this.#laneTold = smallest;
    this.#opts.onLane?.(smallest);
  }

  exportDatabase(name: string): Promise<Uint8Array> {
    return this.#withDb(name, (_db, engine) => engine.exportImage());
  }

  async importDatabase(name: string, image: Uint8Array): Promise<DatabaseInfo> {
    const slot = this.#slot(name);
    return slot.exclusive(async () => {
      await this.#closeSlot(slot);
      await indexedDbDurability(name).destroy();
      await Engine.importImage(this.#storage(name, slot), name, image);
      await this.#openEngine(name, slot, undefined);
      return info(slot, 'created');
    });
  }

  async deleteDatabase(name: string): Promise<void> {
    const slot = this.#slot(name);
    await slot.exclusive(async () => {
      await this.#closeSlot(slot);
      const gone = new ClosedError(`database ${name} was deleted`, { database: name });
      for (const live of [...slot.subs]) {
        this.#stop(live);
        live.sink.error(gone.toJSON());
      }
      await indexedDbDurability(name).destroy();
    });
  }

  async setTestHooks(name: string, hooks: TestHooks): Promise<void> {
    if (!this.#opts.testHooks) throw new UsageError('NO_TEST_HOOKS', 'test hooks exist only in test builds (vite build --mode e2e)');
    const slot = this.#slot(name);
    if (hooks.failWrites !== undefined) slot.hooks.failWrites = hooks.failWrites;
    if (hooks.writeDelayMs !== undefined) slot.hooks.writeDelayMs = hooks.writeDelayMs;
    if (hooks.ackDelayMs !== undefined) slot.hooks.ackDelayMs = hooks.ackDelayMs;
    if (hooks.crash) setTimeout(() => (globalThis as { close?: () => void }).close?.(), 0);
  }

  // ── internals ─────────────────────────────────────────────────────────────

  #slot(name: string): Slot {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new UsageError('BAD_NAME', `database name ${JSON.stringify(name)} is not valid: use letters, digits, - and _ (at most 64)`, { name });
    }
    let slot = this.#slots.get(name);
    if (!slot) {
      slot = new Slot();
      this.#slots.set(name, slot);
    }
    return slot;
  }

  /**
   * Creates database `name` from `image` if it does not exist yet (returns true). If it exists, it
   * is left open as it is (returns false).
   */
  async #seed(name: string, slot: Slot, image: Uint8Array): Promise<boolean> {
    try {
      await this.#openEngine(name, slot, undefined);
      return false;
    } catch (error) {
      if (!(error instanceof UsageError && error.code === 'UNKNOWN_DATABASE')) throw error;
    }
    await indexedDbDurability(name).destroy(); // the empty storage the attempt left behind
    await Engine.importImage(this.#storage(name, slot), name, image);
    return true;
  }

  /**
   * Runs `op` on database `name`, after any reload in progress. The fence: once a write storage
   * refused, the engine refuses work (StorageError NOT_DURABLE) and this worker reloads the
   * database from what is durable. An operation that meets the fence, or the engine closing
   * under it for the reload, never ran: it waits for the reload and runs on the reloaded engine.
   * If storage keeps refusing, it gives up after RELOAD_ATTEMPTS with a retryable RELOADING.
   */
  async #withDb<T>(name: string, op: (db: Database, engine: Engine) => Promise<T>): Promise<T> {
    const slot = this.#slot(name);
    for (let attempt = 1; ; attempt++) {
      const { db, engine } = await this.#current(name);
      try {
        return await op(db, engine);
      } catch (error) {
        const fence = error instanceof StorageError && error.code === 'NOT_DURABLE';
        if (!fence && !(error instanceof ClosedError && replaced(slot, engine))) throw error;
        // An engine whose fence tripped while it opened (an overdue schedule's write failed) had
        // no reload yet: start it now (a no-op when one runs).
        if (fence) this.#reload(name, slot, engine);
        if (attempt >= RELOAD_ATTEMPTS) {
          throw new StorageError(
            'RELOADING',
            `database ${name} is reloading from storage after writes that storage refused (${(error as Error).message}): free some space and retry (with the same callId a call never applies twice)`,
            { database: name, retryable: true },
          );
        }
      }
    }
  }

  /** The open database `name` and its engine, opening an existing one on first use. */
  async #current(name: string): Promise<{ db: Database; engine: Engine }> {
    const slot = this.#slot(name);
    if (slot.reloading) await slot.reloading;
    if (!slot.db) {
      await slot.exclusive(async () => {
        if (!slot.db) await this.#openEngine(name, slot, undefined);
      });
    }
    // Read together: a slot's db and engine are only ever set and cleared together.
    if (!slot.db || !slot.engine) throw new ClosedError(`database ${name} was closed while opening: retry`, { database: name, retryable: true });
    return { db: slot.db, engine: slot.engine };
  }

  /** Opens the engine, and its replica when `remote` is given or the database follows one already. */
  async #openEngine(name: string, slot: Slot, code: string | undefined, remote?: RemoteOptions): Promise<Engine> {
    this.#owner ??= originOwner();
    const owner = await this.#owner.catch((e: unknown) => {
      this.#owner = undefined;
      throw e;
    });
    const unlock = await lockDatabase(name);
    let engine: Engine | undefined;
    const storage = this.#storage(name, slot);
    // A fence that trips while the engine opens (engine still undefined) is met by the first
    // operation, which starts the reload then (see #withDb).
    const onNotDurable = () => engine && this.#reload(name, slot, engine);
    try {
      engine = await Engine.open({ name, durability: storage, owner, http: this.#opts.http ?? xhrSyncHttp, onNotDurable, ...(code !== undefined ? { code } : {}) });
    } catch (error) {
      unlock();
      throw inBrowser(error, name);
    }
    try {
      // Before the engine is the slot's: no call may reach it around the replica.
      slot.sync = await this.#follow(engine, storage, code, remote);
    } catch (error) {
      await engine.close().catch(() => {}); // the replica's error is the one to report
      unlock();
      throw error;
    }
    slot.unlock = unlock;
    slot.storage = storage;
    const db = databaseFacade(engine);
    slot.engine = engine;
    slot.db = db;
    if (code !== undefined) slot.code = code;
    // Subscriptions of the previous engine continue here, from a fresh snapshot.
    // One refused here ends through its onError (sink.error); this only prevents an unhandled rejection.
    for (const live of slot.subs) void this.#start(live, db).catch(() => {});
    await this.#settleSessions(name, slot, engine, storage);
    return engine;
  }

  /**
   * On a newly opened engine: the client connections the database's storage lists that no client
   * of this worker holds are disconnected (`clientDisconnected` runs: their worker died first),
   * and this worker's own are connected again (the module may be new, or the data imported).
   */
  async #settleSessions(name: string, slot: Slot, engine: Engine, storage: Durability): Promise<void> {
    const mine = [...this.#sessions.values()].filter((s) => s.name === name);
    const stored = await storage.getMeta(META_SESSIONS).catch(() => undefined);
    let listed: { connectionId: string; sender: string }[] = [];
    try {
      listed = stored ? (JSON.parse(new TextDecoder().decode(stored)) as typeof listed) : [];
    } catch {
      // An unreadable list: nothing to disconnect.
    }
    if (listed.length === 0 && mine.length === 0) return;
    for (const s of listed) {
      if (mine.some((m) => connectionHex(m.connectionId) === s.connectionId)) continue;
      await engine.disconnectClient(toIdentity(s.sender, 'sender'), BigInt(`0x${s.connectionId}`)).catch(() => {}); // a failing hook is logged by the engine
    }
    for (const s of mine) {
      await engine.connectClient(toIdentity(s.sender, 'sender'), s.connectionId).catch(() => {
        this.#sessions.delete(sessionKey(s.clientId, s.name)); // refused now: the client's next attach says why
      });
    }
    await this.#saveSessions(name, slot);
  }

  /** Writes the list of this worker's client connections to `name` into its storage. */
  async #saveSessions(name: string, slot: Slot): Promise<void> {
    const list = [...this.#sessions.values()].filter((s) => s.name === name).map((s) => ({ connectionId: connectionHex(s.connectionId), sender: s.sender }));
    await slot.storage?.putMeta(META_SESSIONS, new TextEncoder().encode(JSON.stringify(list))).catch(() => {}); // the next open cleans up what is not written
  }

  /** A client went: its connection's `clientDisconnected` runs (now if the engine runs, else on the next open). */
  async #detach(session: Session): Promise<void> {
    const slot = this.#slots.get(session.name);
    if (!slot) return;
    await slot
      .exclusive(async () => {
        const engine = slot.engine;
        if (!engine) return;
        await engine.disconnectClient(toIdentity(session.sender, 'sender'), session.connectionId);
        await this.#saveSessions(session.name, slot);
      })
      .catch(() => {}); // a failing hook is logged by the engine; a closed one cleans up on its next open
  }

  /** Closes the slot's engine; its subscriptions stay registered to move to the next engine. */
  async #closeSlot(slot: Slot): Promise<void> {
    const db = slot.db;
    const protocol = slot.protocol;
    const sync = slot.sync;
    slot.engine = undefined;
    slot.db = undefined;
    slot.protocol = undefined;
    slot.storage = undefined;
    slot.sync = undefined;
    sync?.close(); // calls waiting on it run again on the next replica (see #synced)
    const unlock = slot.unlock;
    slot.unlock = undefined;
    // Before the engine: the SDK connections are told (1001) and their disconnect hooks run.
    // Its connections are closed by then; nothing may keep the engine from closing.
    await protocol?.close('the database is being reopened (reload, publish, import or delete): reconnect').catch(() => {});
    for (const live of slot.subs) {
      const handle = live.handle;
      live.handle = undefined;
      handle?.unsubscribe();
    }
    try {
      await sync?.replica.close(); // its outbox stays in storage for the next one
      await db?.close();
    } finally {
      unlock?.();
    }
  }

  /**
   * The replica of a database that follows `remote`, or the remote its storage names. Stores
   * `remote` when it is new. Rejects (UsageError BAD_OPTION) on a malformed `remote`.
   */
  async #follow(engine: Engine, storage: Durability, code: string | undefined, remote: RemoteOptions | undefined): Promise<SlotSync | undefined> {
    const saved = await storage.getMeta(META_REMOTE);
    const savedKey = saved ? new TextDecoder().decode(saved) : undefined;
    const key = remote !== undefined ? remoteKey(remote) : savedKey;
    if (key === undefined) return undefined;
    const follows = JSON.parse(key) as RemoteOptions;
    const moduleCode = code ?? new TextDecoder().decode((await storage.getMeta(META_MODULE)) ?? new Uint8Array());
    const net = this.#opts.sync ?? {};
    const replica = new Replica(
      { engine, store: storage, code: moduleCode, socket: net.socket ?? workerSocket, fetch: net.fetch ?? workerFetch, ...(net.backoff ? { backoff: net.backoff } : {}) },
      follows,
    );
    await replica.start();
    try {
      if (key !== savedKey) await storage.putMeta(META_REMOTE, new TextEncoder().encode(key));
    } catch (error) {
      await replica.close();
      throw error;
    }
    let end!: (error: ClosedError) => void;
    const closed = new Promise<never>((_, reject) => (end = reject));
    closed.catch(() => {}); // observed by the calls that race it
    const sync: SlotSync = {
      replica,
      remote: follows,
      key,
      closing: false,
      closed,
      close() {
        sync.closing = true;
        end(new ClosedError(`database ${engine.name} was reopened (reload, publish or another remote) while a call waited for its server: it runs again with its call id`, { retryable: true }));
      },
    };
    return sync;
  }

  /**
   * A reducer call through the replica. When the replica is replaced meanwhile, the call rejects
   * with ClosedError and #withDb runs it again on the next engine, whose replica loaded the
   * outbox: the same id joins the same pending call (or, if the server had answered it already,
   * the server's call id makes the resend commit nothing new).
   */
  async #synced(name: string, sync: SlotSync, fn: string, args: unknown, wait: 'local' | 'server', callId: string): Promise<unknown> {
    const call = sync.replica.call(fn, args, wait, callId);
    if (wait === 'server' && this.#opts.onWaiting) {
      // Made right after it, the same id joins the same outbox entry (the replica's work runs in
      // arrival order): this settles once the call is in the outbox and applied here.
      const tell = this.#opts.onWaiting;
      sync.replica.call(fn, args, 'local', callId).then(
        () => tell(callId),
        () => {}, // the call itself reports why
      );
    }
    try {
      return await Promise.race([call, sync.closed]);
    } catch (error) {
      // The replica refused it because it was closing: it never ran there.
      if (!(sync.closing && error instanceof SyncError && error.code === 'DISCONNECTED')) throw error;
      throw new ClosedError(`database ${name} was reopened while the call was made: it runs again with its call id`, { retryable: true, callId });
    }
  }

  /** Subscribes `live` on `db`; resolves once its initial rows went to the sink. */
  #start(live: Live, db: Database): Promise<void> {
    const sink = live.sink;
    // A sink call rejects only when its page is gone (the page reports its own callbacks' throws): no one left to tell.
    const handle = db.subscribe(
      live.queries,
      {
        onApplied: (initial) => void Promise.resolve(sink.applied(initial)).catch(() => {}),
        onUpdate: (update) => void Promise.resolve(sink.update(update)).catch(() => {}),
        onError: (error) => {
          if (live.handle !== handle) return; // a replaced engine's subscription ending
          if (this.#slots.get(live.name)?.reloading !== undefined) return; // it moves to the reloaded engine
          void Promise.resolve(sink.error(toSerialized(error))).catch(() => {});
        },
      },
      { ...(live.opts.sender !== undefined ? { sender: live.opts.sender } : {}), ...(live.opts.confirmedReads !== undefined ? { confirmedReads: live.opts.confirmedReads } : {}) },
    );
    live.handle = handle;
    return handle.applied;
  }

  #stop(live: Live): void {
    const handle = live.handle;
    live.handle = undefined;
    handle?.unsubscribe();
    this.#slots.get(live.name)?.subs.delete(live);
  }

  /**
   * The engine `failed` tripped its fence (a log write failed: its memory holds a transaction
   * storage does not). Drop that engine and reopen the database from what is durable;
   * subscriptions continue on the new engine from a fresh snapshot. The calls that write carried
   * have already rejected with its StorageError. A no-op while a reload runs or once replaced.
   */
  #reload(name: string, slot: Slot, failed: Engine): void {
    if (slot.engine !== failed || slot.reloading) return;
    slot.reloading = slot
      .exclusive(async () => {
        if (slot.engine !== failed) return;
        await this.#closeSlot(slot).catch(() => {}); // its fence skips the final snapshot
        await this.#openEngine(name, slot, undefined);
      })
      .catch((error: unknown) => {
        // Storage does not open again: the subscriptions have nowhere to move, so they end with
        // the reason (the next operation tries to open it again and reports the same).
        for (const live of [...slot.subs]) {
          this.#stop(live);
          void Promise.resolve(live.sink.error(toSerialized(error))).catch(() => {}); // its page is gone: no one left to tell
        }
      })
      .finally(() => {
        slot.reloading = undefined;
      });
  }

  #storage(name: string, slot: Slot): Durability {
    if (!this.#opts.testHooks) return indexedDbDurability(name);
    const storage = indexedDbDurability(name, {
      beforeLogWrite: async () => {
        const ms = slot.hooks.writeDelayMs ?? 0;
        if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
      },
      beforeLogCommit: () => {
        if (slot.hooks.failWrites) throw new DOMException('test hook: the storage quota is exhausted', 'QuotaExceededError');
      },
    });
    return delayAcks(storage, () => slot.hooks.ackDelayMs ?? 0);
  }
}

function sessionKey(clientId: string, name: string): string {
  return `${clientId}\n${name}`;
}

function connectionHex(id: bigint): string {
  return id.toString(16).padStart(32, '0');
}

/** A random connection id (128 bits, never 0). */
function randomConnectionId(): bigint {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0]! |= 1;
  return bytes.reduce((v, b) => (v << 8n) | BigInt(b), 0n);
}

/** How many reloads one operation waits through before it gives up with RELOADING. */
const RELOAD_ATTEMPTS = 3;

/** Whether `engine` is no longer the slot's (or is being replaced): what ran on it is void. */
function replaced(slot: Slot, engine: Engine): boolean {
  return slot.engine !== engine || slot.reloading !== undefined;
}

/** How long opening waits for another worker to let go of a database. */
const DATABASE_LOCK_WAIT_MS = 5_000;

/**
 * Takes the origin-wide Web Lock `lightcone:database:<name>`, so that one engine at most runs a
 * database: a SharedWorker of another build of the app (another script URL, so another worker)
 * or a stray leader cannot append to the same commit log. A no-op where Web Locks are missing.
 */
async function lockDatabase(name: string): Promise<() => void> {
  if (!hasWebLocks()) return () => {};
  const timeout = AbortSignal.timeout(DATABASE_LOCK_WAIT_MS);
  try {
    return await holdLock(`lightcone:database:${name}`, timeout);
  } catch {
    throw new StorageError(
      'DATABASE_IN_USE',
      `database ${name} is open in another Lightcone worker of this site (a tab running another version of the app?): close the other tabs of this site and reload`,
      { database: name },
    );
  }
}

function info(slot: Slot, published: PublishResult): DatabaseInfo {
  const engine = slot.engine!;
  const remote = slot.sync?.remote;
  return {
    name: engine.name,
    identity: engine.identity.toHexString(),
    owner: engine.owner.toHexString(),
    published,
    ...(remote ? { remote: { uri: remote.uri, database: remote.database } } : {}),
  };
}

/** `remote` as JSON with its fields in one order (what META_REMOTE holds). */
function remoteKey(remote: RemoteOptions): string {
  const r = (remote ?? {}) as Partial<RemoteOptions>;
  return JSON.stringify({ uri: r.uri, database: r.database, ...(r.token !== undefined ? { token: r.token } : {}), ...(r.subscribe !== undefined ? { subscribe: r.subscribe } : {}) });
}
