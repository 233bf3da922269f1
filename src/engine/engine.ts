// A Lightcone database: the host over a datastore, made durable by a Durability backend. It
// publishes or recovers (snapshot + log replay; publish.ts builds what publishing needs, this
// orders the durable writes), runs calls one at a time with confirmed writes (a call resolves
// after its transaction is durable), snapshots as the log grows, and keeps the bounded module log.
// Platform-neutral: Node and the worker wrap it with their own storage.
import { difference } from '../datastore/delta-math.ts';
import { type ConnectionId, Identity } from 'spacetimedb';
import type { Durability } from '../durability/durability.ts';
import { openDatastore, setCopyMeta, type TxDelta } from '../datastore/datastore.ts';
import { type ImageCopy, loadSqlite } from '../datastore/sqlite.ts';
import { nextEvents } from '../next-events.ts';
import { ClosedError, InternalError, SenderError, StorageError, UsageError } from '../errors.ts';
import type { CallContext, Host, LogEntry } from '../host/host.ts';
import type { FunctionDef } from '../datastore/schema.ts';
import { decodeValue, encodeArgs } from '../host/values.ts';
import { decodeDelta, encodeDelta } from './delta-codec.ts';
import { jwtPayloadJson, toIdentity } from '../host/identity.ts';
import type { LogBuffer } from './log-buffer.ts';
import { CallLedger } from './call-ledger.ts';
import { Scheduler, systemClock, type Clock, type ScheduleEntry } from './scheduler.ts';
import { SnapshotPolicy, type SnapshotStats } from './snapshot-policy.ts';
import {
  buildRepublished,
  createDatabase,
  descriptionFromImage,
  exportDatabase,
  importDatabase,
  loadModuleLog,
  planRepublish,
  readDescription,
  readSavedCalls,
  recoverHost,
  republishFailure,
  META_CALLS_IN_IMAGE,
  META_DB,
  META_LOGS,
  META_MODULE,
  type NewDatabase,
} from './publish.ts';
import { normalizeMethod, type RouteRequest, type RouteResponse, type SyncHttp } from '../host/http-wire.ts';
import { executeSql, type SqlOptions, type SqlResult } from '../sql/execute.ts';

export interface EngineOptions {
  name: string;
  durability: Durability;
  /** Module bundle to publish when the database is new (and to compare with when it exists). */
  code?: string;
  /** The owner identity (publisher): `init`'s sender and the default caller. */
  owner: Identity;
  /** Write a snapshot once this many records follow the last one. */
  snapshotEvery?: number;
  /**
   * Milliseconds without a commit after which a log that outweighs a 64th of the image is
   * snapshotted away (so a cold start replays little); default 1000, 0 turns it off.
   */
  idleSnapshotMs?: number;
  /** The clock for call timestamps and schedule timers (tests pass a manual one); default: wall time. */
  clock?: Clock;
  /** Synchronous HTTP for procedures (`ctx.http.fetch`); the platform provides it. */
  http?: SyncHttp | undefined;
  /**
   * Called once, when a commit could not be made durable: from then on this engine refuses work
   * with StorageError NOT_DURABLE (its memory is ahead of storage). The browser worker reloads the
   * database from storage when it fires; without it, reopening is the caller's job.
   */
  onNotDurable?: ((error: unknown) => void) | undefined;
}

/** Per-call options. */
export interface CallOptions {
  /** Caller identity (hex or Identity); defaults to the owner. */
  sender?: string | Identity | bigint;
  /**
   * Run on this existing connection. Without it, a call behaves as SpacetimeDB's HTTP call: a
   * fresh connection id, with `clientConnected` before and `clientDisconnected` after.
   */
  connectionId?: ConnectionId | bigint;
  /**
   * Idempotency id of a reducer call. The id is stored with the call's commit, so a call whose id
   * already committed is not run again: it resolves (undefined) once that commit is durable. A
   * retry after a lost reply (worker or leader gone mid-call) therefore never applies twice. The
   * newest 10,000 ids are remembered, across restarts. Procedures ignore it.
   */
  callId?: string;
  /**
   * The caller's token (a JWT, as `Authorization: Bearer` carries it), already accepted by whoever
   * passes it: its claims are what `ctx.senderAuth.jwt` reads during the call (without one,
   * `ctx.senderAuth.hasJWT` is false). UsageError BAD_ARGUMENT when it is not a JWT.
   */
  token?: string;
  /**
   * On a database that follows a remote one (`remote`): `'server'` (default) resolves once the
   * server committed the call and rejects with its error; `'local'` once the call is in the
   * durable outbox and applied here (the server may still refuse it). Ignored otherwise.
   */
  wait?: 'local' | 'server';
  /**
   * Runs the call at this time (microseconds since the Unix epoch) instead of now: `ctx.timestamp`
   * of the reducer or procedure and of the lifecycle hooks around it, and what the module derives
   * from it (`ctx.random` is seeded by it). A recorded call replayed with its own timestamp, sender
   * and arguments does what it did (the playground's session replay). UsageError BAD_OPTION when
   * it is not a bigint in the i64 range. A call that goes to a server (sync) runs at the server's time.
   */
  timestamp?: bigint;
}

/** What `publish` did. */
export type PublishResult = 'created' | 'unchanged' | 'updated';

/** Default of EngineOptions.snapshotEvery. */
const SNAPSHOT_EVERY = 10_000;
/** Default of EngineOptions.idleSnapshotMs. */
const IDLE_SNAPSHOT_MS = 1000;
/** Pages a snapshot copies per step between transactions (0.5–1 MB: a millisecond or two). */
const COPY_STEP_PAGES = 128;
/** Commits after which a copy step runs even if events never got a turn (see `#copyTurn`). */
const COPY_STEP_COMMITS = 8;
/** Why a snapshot copy stopped when storage refused a commit meanwhile (not a failure to report). */
const COPY_ABANDONED: unknown = Symbol('snapshot copy abandoned');

/** The context of the work running now (see Engine.#turn). */
interface Turn {
  durable: Promise<void>;
}

/** What commit listeners learn besides the delta. */
export interface CommitInfo {
  reducer: string;
  sender: bigint;
  timestamp: bigint;
  durable: Promise<void>;
  /** The call id the caller gave the reducer call that made this commit, if any. */
  callId?: string;
}

export class Engine {
  readonly name: string;
  readonly owner: Identity;
  /** Set when publishing created or replaced the module. */
  publishResult: PublishResult = 'unchanged';
  /** What the last publish changed (empty when nothing). */
  migration: string[] = [];

  // The running module and its data (both replaced by a publish that migrates).
  #host: Host;
  #identity: Identity;

  // Storage: the log's last lsn, when to snapshot, the snapshot being written, and the fence. Once
  // a commit could not be made durable (`#diverged`), memory is ahead of storage and the engine
  // refuses work until reopened.
  readonly #durability: Durability;
  #lastLsn: bigint;
  readonly #snapshots: SnapshotPolicy;
  #snapshotting: Promise<void> = Promise.resolve();
  readonly #idleMs: number;
  /** The pending idle check, and when the last commit was checked (it runs `#idleMs` after that). */
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #lastCommitAt = 0;
  #diverged: unknown;
  readonly #onNotDurable: ((error: unknown) => void) | undefined;

  // Calls: one at a time through `#queue`; the work running now (`#turn`: the durability of its
  // last commit, which is what it waits for); committed call ids for idempotent retries.
  #queue: Promise<unknown> = Promise.resolve();
  #turn: Turn = { durable: Promise.resolve() };
  readonly #calls = new CallLedger();
  #closed = false;

  // Around the calls: schedules, the clock, HTTP for procedures, the module log, commit listeners.
  readonly #scheduler: Scheduler;
  readonly #clock: Clock;
  readonly #http: SyncHttp | undefined;
  readonly #logs: LogBuffer;
  #logsDirty = false;
  /** JWT payloads (JSON) of the connections that have one: what `ctx.senderAuth.jwt` reads. */
  readonly #jwt = new Map<bigint, string>();
  readonly #commitListeners = new Set<(delta: TxDelta, info: CommitInfo) => void>();

  private constructor(opts: EngineOptions, host: Host, identity: Identity, logs: LogBuffer, lastLsn: bigint, snapshots: SnapshotPolicy) {
    this.name = opts.name;
    this.owner = opts.owner;
    this.#durability = opts.durability;
    this.#host = host;
    this.#identity = identity;
    this.#logs = logs;
    this.#lastLsn = lastLsn;
    this.#snapshots = snapshots;
    this.#idleMs = opts.idleSnapshotMs ?? IDLE_SNAPSHOT_MS;
    this.#http = opts.http;
    this.#onNotDurable = opts.onNotDurable;
    this.#clock = opts.clock ?? systemClock;
    this.#scheduler = new Scheduler(
      () => this.#host,
      (e) => this.#fireSchedule(e),
      this.#clock,
    );
    this.#attach(host);
  }

  /** Arms the schedule tables and runs what is already due (before the database is handed out). */
  /**
   * Stops running the module's schedules here for good (a sync replica: the server runs them, and
   * their effects arrive from it). Rows of scheduled tables stay; nothing fires.
   */
  stopSchedules(): void {
    this.#schedulesStopped = true;
    this.#scheduler.close();
  }

  /** How many scheduled rows have a timer armed (diagnostics and tests). */
  get armedSchedules(): number {
    return this.#scheduler.armed;
  }

  #schedulesStopped = false;

  async #startSchedules(): Promise<void> {
    if (this.#schedulesStopped) return;
    for (const e of this.#scheduler.armAll(this.#clock.nowMicros())) await this.#fireSchedule(e);
  }

  /** Runs one due schedule row: its function with the row as argument, as the database identity. */
  #fireSchedule(e: ScheduleEntry): Promise<void> {
    return this.#serial(async () => {
      const host = this.#host;
      const ds = host.datastore;
      const table = ds.tableByName(e.table.name);
      const pk = table?.indexes.find((i) => i.def.unique && i.def.columns.length === 1 && i.def.columns[0] === e.table.primaryKey);
      if (!table || !pk) return;
      const idBytes = new Uint8Array(8);
      new DataView(idBytes.buffer).setBigUint64(0, e.id, true);
      const row = ds.scanPoint(pk, idBytes)[0];
      if (!row || this.#diverged !== undefined) return; // deleted (cancelled), or memory is ahead of disk
      const fnName = e.table.schedule!.functionName;
      const now = this.#clock.nowMicros();
      const ctx: CallContext = { sender: this.#identity.__identity__, connectionId: 0n, timestamp: e.dueMicros > now ? e.dueMicros : now };
      const oneShot = e.periodMicros === undefined;
      const removeRow = () => ds.deleteByRows(table, [row]);
      const turn = this.#beginTurn();
      this.#logsDirty = true;
      const reducer = host.reducer(fnName);
      if (reducer) {
        const out = host.callReducer(reducer, row, ctx, () => (oneShot ? removeRow() : ds.markScheduleRun(e.table.name, e.id, e.dueMicros)));
        if (out.status === 'failed') {
          this.#logs.push({ ts: Date.now(), level: 'warn', message: `scheduled ${fnName} (${e.table.canonicalName} ${e.id}) failed: ${out.message}` });
          if (oneShot) host.runSystemTransaction(`unschedule ${e.table.name}`, ctx.sender, () => void removeRow());
        }
      } else {
        const proc = host.procedure(fnName);
        if (!proc) return;
        // A one-shot row is deleted before a scheduled procedure runs (procedures are not atomic).
        host.runSystemTransaction(`schedule ${e.table.name}`, ctx.sender, () => (oneShot ? void removeRow() : ds.markScheduleRun(e.table.name, e.id, e.dueMicros)));
        const out = host.callProcedure(proc, row, ctx);
        if (!out.ok) this.#logs.push({ ts: Date.now(), level: 'warn', message: `scheduled procedure ${fnName} failed: ${out.message}` });
      }
      if (!oneShot && !this.#scheduler.has(e.table.name, e.id)) this.#scheduler.rearm(e, this.#clock.nowMicros());
      this.#maybeSnapshot();
      await turn.durable.catch((err: unknown) => this.#logs.push({ ts: Date.now(), level: 'error', message: `scheduled ${fnName} could not be made durable: ${(err as Error).message}` }));
    }).catch((err: unknown) => {
      // Nobody awaits a timer's run: an internal failure goes to the module log. A closed database runs nothing.
      if (!(err instanceof ClosedError)) this.#logs.push({ ts: Date.now(), level: 'error', message: `the schedule of ${e.table.canonicalName} row ${e.id} could not run: ${(err as Error).message}` });
    });
  }

  /**
   * Opens a database: recovers it when it exists (and checks `code` against its module), or
   * publishes `code` as a new one (running `init`). Throws UsageError UNKNOWN_DATABASE when it
   * does not exist and no module was given.
   */
  static async open(opts: EngineOptions): Promise<Engine> {
    const d = opts.durability;
    // SQLite's WebAssembly initialises while storage is read (a cold start waits for both); a
    // failure is met where the datastore opens.
    loadSqlite().catch(() => {});
    const recovered = await d.open();
    const openedAt = Date.now();
    try {
      const logs = await loadModuleLog(d);
      const stored = await readDescription(d, recovered.snapshot !== undefined);
      if (!stored) {
        if (opts.code === undefined) {
          throw new UsageError('UNKNOWN_DATABASE', `database ${opts.name} does not exist: publish it first with \`lightcone publish --module-path <module> ${opts.name}\``, {
            database: opts.name,
          });
        }
        return await Engine.#create(opts, opts.code, logs);
      }
      const datastore = await openDatastore(recovered.snapshot?.image);
      let description: Uint8Array;
      if ('damaged' in stored) {
        description = descriptionFromImage(datastore, stored.damaged);
        await d.putMeta(META_DB, description);
        logs.push({ ts: Date.now(), level: 'warn', message: `the database description file was damaged and was rebuilt from the snapshot (the data is intact): ${(stored.damaged as Error).message}` });
      } else {
        description = stored.bytes;
      }
      const { host, identity } = await recoverHost({ name: opts.name, durability: d, datastore, description, log: (e) => logs.push(e), http: opts.http });
      const callIds: string[] = [];
      for (const rec of recovered.records) {
        const { delta, info } = decodeDelta(rec.payload);
        datastore.applyDelta(delta);
        if (info.callId !== undefined) callIds.push(info.callId);
      }
      if (recovered.truncatedTail) logs.push({ ts: Date.now(), level: 'warn', message: 'recovery cut a torn commit-log tail (a write interrupted by a crash); everything before it is intact' });
      const logBytes = recovered.records.reduce((n, r) => n + r.payload.length, 0);
      const snapshots = new SnapshotPolicy(opts.snapshotEvery ?? SNAPSHOT_EVERY, recovered.records.length, logBytes, recovered.snapshot?.image.length ?? 0);
      const engine = new Engine(opts, host, identity, logs, recovered.nextLsn - 1n, snapshots);
      // Warnings of this open (a torn tail, a rebuilt file) are kept with the log on close.
      engine.#logsDirty = logs.entries().some((l) => l.level === 'warn' && l.ts >= openedAt);
      engine.#calls.load(await readSavedCalls(datastore, d, logs));
      for (const id of callIds) engine.#calls.add(id, Promise.resolve());
      if (opts.code !== undefined) await engine.#republish(opts.code);
      await engine.#startSchedules();
      return engine;
    } catch (e) {
      await d.close().catch(() => {}); // the open's own error is the one to report
      throw e;
    }
  }

  static async #create(opts: EngineOptions, code: string, logs: LogBuffer): Promise<Engine> {
    const identity = randomIdentity();
    const created = await createDatabase({ name: opts.name, code, identity, owner: opts.owner, clock: opts.clock ?? systemClock, log: (e) => logs.push(e), http: opts.http });
    await Engine.#store(opts.durability, created);
    const engine = new Engine(opts, created.host, identity, logs, 0n, new SnapshotPolicy(opts.snapshotEvery ?? SNAPSHOT_EVERY));
    engine.publishResult = 'created';
    engine.#logsDirty = true;
    await engine.#startSchedules();
    return engine;
  }

  /**
   * Stores a new database (created or imported): the module, then the image as snapshot 0, and the
   * description last, because open takes storage without a description for no database, so a
   * crash in between leaves none rather than half of one.
   */
  static async #store(d: Durability, db: NewDatabase): Promise<void> {
    await d.putMeta(META_MODULE, db.module);
    await d.writeSnapshot({ lsn: 0n, image: db.image });
    await d.putMeta(META_DB, db.description);
  }

  /**
   * Publishes `code` over the existing database: the same schema just swaps the module; a changed
   * schema is migrated with SpacetimeDB's rules. The new state is built on a copy and becomes
   * durable as one snapshot (image + module together), so a crash leaves it fully old or fully new.
   */
  async #republish(code: string): Promise<void> {
    const current = this.#host;
    const plan = await planRepublish({ name: this.name, durability: this.#durability, current, identity: this.#identity, code });
    if (!plan) return;
    await this.#durability.flush();
    const next = await buildRepublished({
      name: this.name,
      current,
      plan,
      code,
      identity: this.#identity,
      owner: this.owner,
      calls: this.#calls.save(),
      log: (e) => this.#logs.push(e),
      http: this.#http,
    });
    try {
      // The switch: one atomic snapshot holding the migrated rows and the new module.
      await this.#durability.writeSnapshot({ lsn: this.#lastLsn, image: next.image });
    } catch (e) {
      next.host.datastore.close();
      throw republishFailure(this.name, e);
    }
    this.#snapshots.covered(next.image.length);
    // The image now carries the module and is read first; the copy beside it only serves images
    // that do not, so failing to update it loses nothing.
    await this.#durability.putMeta(META_MODULE, new TextEncoder().encode(code)).catch(() => {});
    current.datastore.close();
    this.#host = next.host;
    this.#attach(next.host);
    this.publishResult = 'updated';
    this.migration = plan.changes;
    this.#logs.push({ ts: Date.now(), level: 'info', message: `module updated${plan.changes.length ? `: ${plan.changes.join('; ')}` : ''}` });
    this.#logsDirty = true;
  }

  /**
   * Applies rows from elsewhere (a sync replica: the server's transactions and rebases) as one
   * transaction, one commit for subscribers and for the log, as `reducer` (a label). Resolves with
   * the delta as committed once it is durable.
   */
  applyRows(delta: TxDelta, reducer: string): Promise<TxDelta> {
    return this.#serial(() => {
      this.#checkDiverged();
      const ds = this.#host.datastore;
      const turn = this.#beginTurn();
      ds.begin();
      let committed: TxDelta;
      try {
        ds.applyRows(delta);
        committed = ds.commit();
      } catch (e) {
        ds.rollback();
        throw e;
      }
      this.#onCommit(committed, { sender: this.#identity.__identity__, connectionId: 0n, timestamp: this.#clock.nowMicros() }, reducer);
      this.#maybeSnapshot();
      return { committed, durable: turn.durable };
    }).then(async ({ committed, durable }) => {
      await durable;
      return committed;
    });
  }

  /**
   * Makes the rows of `tables` exactly `target` (table → rows; tables not named are left alone),
   * as one transaction like `applyRows`. Resolves with what changed, once durable.
   */
  replaceRows(target: ReadonlyMap<string, readonly Uint8Array[]>, reducer: string): Promise<TxDelta> {
    return this.exclusive(() => {
      const ds = this.#host.datastore;
      const before = new Map<string, Uint8Array[]>();
      for (const name of target.keys()) {
        const t = ds.tableByName(name);
        if (t) before.set(name, ds.scanAll(t));
      }
      return difference(before, target);
    }).then((delta) => this.applyRows(delta, reducer));
  }

  /**
   * What publishing `code` over this database would do, changing nothing: undefined when `code` is
   * the module it runs, else the changes (`sameSchema`: only the code differs). Throws ModuleError
   * MIGRATION_REFUSED with every refused change, or the error of a module that does not load.
   */
  async planPublish(code: string): Promise<{ changes: string[]; sameSchema: boolean } | undefined> {
    const plan = await planRepublish({ name: this.name, durability: this.#durability, current: this.#host, identity: this.#identity, code });
    return plan && { changes: plan.changes, sameSchema: plan.sameSchema };
  }

  #attach(host: Host): void {
    host.onCommit((delta, ctx, reducer) => this.#onCommit(delta, ctx, reducer));
    host.jwtSource = (connectionId) => this.#jwt.get(connectionId) ?? '';
    host.immediateSink = (name, args) => this.#scheduleImmediate(name, args);
  }

  /**
   * `volatile_nonatomic_schedule_immediate`: runs reducer or procedure `name` with BSATN `args`
   * after the work queued now, as the database identity with no connection, in its own
   * transaction, whatever becomes of the transaction that asked for it (it is not atomic with it,
   * and not durable: a call queued when the engine stops is lost). Failures go to the module log.
   */
  #scheduleImmediate(name: string, args: Uint8Array): void {
    const log = (level: 'warn' | 'error', message: string) => this.#logs.push({ ts: Date.now(), level, message });
    this.#serial(() => {
      if (this.#diverged !== undefined) return undefined;
      const host = this.#host;
      const reducer = host.reducer(name);
      const procedure = reducer ? undefined : host.procedure(name);
      if (!reducer && !procedure) {
        log('error', `volatile_nonatomic_schedule_immediate: the module has no reducer or procedure named ${name}`);
        return undefined;
      }
      const ctx: CallContext = { sender: this.#identity.__identity__, connectionId: 0n, timestamp: this.#clock.nowMicros() };
      const turn = this.#beginTurn();
      this.#logsDirty = true;
      try {
        const failure = reducer ? host.callReducer(reducer, args, ctx) : host.callProcedure(procedure!, args, ctx);
        if ('status' in failure ? failure.status === 'failed' : !failure.ok) log('warn', `${name} (volatile_nonatomic_schedule_immediate) failed: ${(failure as { message: string }).message}`);
      } finally {
        this.#maybeSnapshot();
      }
      return { durable: turn.durable }; // awaited outside the queue, which goes on meanwhile
    })
      .then((r) => r?.durable)
      .catch((err: unknown) => {
        // Nobody awaits it: what goes wrong goes to the module log. A closed database runs nothing.
        if (!(err instanceof ClosedError)) log('error', `${name} (volatile_nonatomic_schedule_immediate) could not run: ${(err as Error).message}`);
      });
  }

  #onCommit(delta: TxDelta, ctx: CallContext, reducer: string): void {
    const persistent = delta.tables.filter((t) => !this.#host.datastore.tableByName(t.table)?.def.isEvent);
    let durable: Promise<void> = Promise.resolve();
    this.#scheduler.onCommit(delta, this.#clock.nowMicros());
    const callId = ctx.callId;
    if (persistent.length > 0 || delta.sequences.length > 0 || (delta.scheduleRuns?.length ?? 0) > 0 || callId !== undefined) {
      const logged: TxDelta = { tables: persistent, sequences: delta.sequences, ...(delta.scheduleRuns ? { scheduleRuns: delta.scheduleRuns } : {}) };
      const payload = encodeDelta(logged, { timestamp: ctx.timestamp, reducer, sender: ctx.sender, ...(callId !== undefined ? { callId } : {}) });
      const rec = this.#durability.append(payload);
      this.#lastLsn = rec.lsn;
      this.#snapshots.logged(payload.length);
      if (this.#copyWaiting && ++this.#copyWaiting.commits >= COPY_STEP_COMMITS) this.#copyWaiting.go();
      durable = rec.durable;
      // A write that fails leaves its transaction in memory but not on disk: from then on the
      // engine refuses work (and never snapshots that state) until it is reopened.
      durable.catch((e: unknown) => {
        if (this.#diverged !== undefined) return;
        this.#diverged = e;
        this.#onNotDurable?.(e);
      });
      if (callId !== undefined) this.#calls.add(callId, durable);
    }
    for (const l of this.#commitListeners) l(delta, { reducer, sender: ctx.sender, timestamp: ctx.timestamp, durable, ...(callId !== undefined ? { callId } : {}) });
    this.#turn.durable = durable;
  }

  /** Starts the context of one piece of work: it waits for its own commits only. */
  #beginTurn(): Turn {
    this.#turn = { durable: Promise.resolve() };
    return this.#turn;
  }

  /** Throws when a commit could not be made durable: memory is ahead of disk until a reopen. */
  #checkDiverged(): void {
    if (this.#diverged === undefined) return;
    const why = (this.#diverged as Error).message ?? String(this.#diverged);
    throw new StorageError(
      'NOT_DURABLE',
      `database ${this.name} has a transaction that could not be made durable (${why}); close and reopen it to continue from what is on disk (nothing durable was lost)`,
      {
        database: this.name,
      },
    );
  }

  /** Listens to every commit (delta + when it is durable). Returns the unsubscribe function. */
  onCommit(listener: (delta: TxDelta, info: CommitInfo) => void): () => void {
    this.#commitListeners.add(listener);
    return () => this.#commitListeners.delete(listener);
  }

  get host(): Host {
    return this.#host;
  }
  get identity(): Identity {
    return this.#identity;
  }

  /** Runs `f` after every call queued before it (calls are serial, as in SpacetimeDB). */
  #serial<T>(f: () => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#closed) throw new ClosedError(`database ${this.name} is closed: open it again to continue`);
      return f();
    });
    this.#queue = run.catch(() => {}); // the queue only orders turns; each caller gets its own `run`
    return run;
  }

  /**
   * Calls a reducer or procedure by name. Resolves (after the transaction is durable) with a
   * procedure's return value, or undefined for a reducer; rejects with SenderError or InternalError.
   */
  call(name: string, args: unknown, opts: CallOptions = {}): Promise<unknown> {
    // Execution is serial; the wait for durability is not, so calls in flight share log writes (group commit).
    return this.#serial(() => this.#execute(name, args, opts)).then(async (result) => {
      await result.durable;
      return result.value;
    });
  }

  #execute(name: string, args: unknown, opts: CallOptions): { value: unknown; durable: Promise<void> } {
    this.#checkDiverged();
    const host = this.#host;
    const sender = toIdentity(opts.sender ?? this.owner, 'sender');
    const reducer = host.reducer(name);
    const procedure = reducer ? undefined : host.procedure(name);
    if (!reducer && !procedure) {
      const known = [...host.schema.reducers.map((r) => r.name), ...host.schema.procedures.map((p) => p.name)].filter((n) => !isLifecycle(host, n));
      throw new UsageError('UNKNOWN_REDUCER', `database ${this.name} has no reducer or procedure named ${name}; it has: ${known.join(', ') || '(none)'}`, { name, known });
    }
    if (reducer && isLifecycle(host, reducer.name)) {
      throw new UsageError('LIFECYCLE_REDUCER', `${name} is a lifecycle reducer: SpacetimeDB calls it itself, clients cannot`, { name });
    }
    if (reducer && opts.callId !== undefined) {
      const committed = this.#calls.get(opts.callId);
      if (committed) return { value: undefined, durable: committed }; // a retry: it already ran
    }
    const fn = (reducer ?? procedure)!;
    const argBytes = encodeArgs(fn.params, args, `${reducer ? 'reducer' : 'procedure'} ${fn.name}`, host.schema.typespace);
    const jwt = opts.token === undefined ? undefined : jwtPayloadJson(opts.token);
    if (opts.token !== undefined && jwt === undefined) {
      throw new UsageError('BAD_ARGUMENT', "token must be a JWT (header.payload.signature) whose payload is a JSON object: pass the caller's token as it was received", { option: 'token' });
    }
    const given = opts.connectionId === undefined ? undefined : typeof opts.connectionId === 'bigint' ? opts.connectionId : opts.connectionId.__connection_id__;
    const connectionId = given ?? randomConnectionId();
    const at = checkTimestamp(opts.timestamp);
    const ctx = (): CallContext => ({ sender: sender.__identity__, connectionId, timestamp: at ?? this.#clock.nowMicros() });
    this.#logsDirty = true;
    const turn = this.#beginTurn();
    // The token's claims belong to this call's connection while it runs (lifecycle hooks included).
    const before = this.#jwt.get(connectionId);
    if (jwt !== undefined) this.#jwt.set(connectionId, jwt);
    let value: unknown;
    try {
      if (given === undefined) this.#lifecycle('onConnect', ctx(), true);
      try {
        if (reducer) {
          // The id travels with the reducer's own transaction (not the lifecycle hooks around it).
          const out = host.callReducer(reducer, argBytes, { ...ctx(), ...(opts.callId !== undefined ? { callId: opts.callId } : {}) });
          if (out.status === 'failed') throw out.kind === 'sender' ? new SenderError(out.message, { reducer: name }) : new InternalError(out.message, { reducer: name });
        } else {
          const out = host.callProcedure(procedure!, argBytes, ctx());
          if (!out.ok) throw new InternalError(out.message, { procedure: name });
          value = decodeValue(procedure!.returnType, out.value, host.schema.typespace);
        }
      } finally {
        if (given === undefined) this.#lifecycle('onDisconnect', ctx(), false);
        this.#maybeSnapshot();
      }
    } finally {
      if (before === undefined) this.#jwt.delete(connectionId);
      else this.#jwt.set(connectionId, before);
    }
    return { value, durable: turn.durable };
  }

  /**
   * Serves a request to the module's HTTP handlers as SpacetimeDB serves `/route/<path>`: the route
   * whose path equals `req.path` (query aside) and whose method matches runs its handler, which
   * opens its own transactions (`ctx.withTx`). Resolves once those are durable. No such route:
   * 404; a handler that throws: 500 with the error (logged). Throws UsageError BAD_REQUEST for a
   * request that is not one.
   */
  async fetchRoute(req: RouteRequest): Promise<RouteResponse> {
    const { method, path, uri, headers, body } = checkRouteRequest(req);
    const routePath = path.split('?')[0]!;
    const { res, durable } = await this.#serial(() => {
      this.#checkDiverged();
      const host = this.#host;
      const route = host.schema.httpRoutes.find((r) => r.path === routePath && (r.method === '*' || r.method === method));
      const handler = route && host.schema.httpHandlers.find((h) => h.name === route.handler);
      if (!handler) return { res: textResponse(404, NO_SUCH_ROUTE), durable: Promise.resolve() };
      const turn = this.#beginTurn();
      this.#logsDirty = true;
      try {
        const out = host.callHttpHandler(handler, { method, uri, headers, body }, this.#clock.nowMicros());
        return { res: out.ok ? out.response : textResponse(500, out.message), durable: turn.durable };
      } finally {
        this.#maybeSnapshot();
      }
    });
    await durable;
    return res;
  }

  /**
   * Runs a reducer with BSATN `args` as `sender` at `timestamp` (a sync replica's own call, whose
   * replays must see the same time), without the lifecycle hooks around it. Resolves once its
   * commit is durable; rejects with SenderError or InternalError as `call` does.
   */
  callBytes(fn: FunctionDef, args: Uint8Array, opts: { sender: Identity; callId?: string; timestamp?: bigint }): Promise<void> {
    return this.#serial(() => {
      this.#checkDiverged();
      const turn = this.#beginTurn();
      this.#logsDirty = true;
      const ctx: CallContext = {
        sender: opts.sender.__identity__,
        connectionId: 0n,
        timestamp: opts.timestamp ?? this.#clock.nowMicros(),
        ...(opts.callId !== undefined ? { callId: opts.callId } : {}),
      };
      try {
        const out = this.#host.callReducer(fn, args, ctx);
        if (out.status === 'failed') throw out.kind === 'sender' ? new SenderError(out.message, { reducer: fn.name }) : new InternalError(out.message, { reducer: fn.name });
      } finally {
        this.#maybeSnapshot();
      }
      return turn.durable;
    }).then((durable) => durable);
  }

  /**
   * Runs `clientConnected` for a connection that stays open across calls (a protocol connection,
   * whose calls then pass its `connectionId`), in its own transaction. Rejects with SenderError or
   * InternalError when the hook refuses the connection. Resolves once the transaction is durable.
   */
  connectClient(sender: Identity, connectionId: bigint, token?: string): Promise<void> {
    return this.#clientLifecycle('onConnect', sender, connectionId, token);
  }

  /** Runs `clientDisconnected` when such a connection ends; a failing hook is logged, not thrown. */
  disconnectClient(sender: Identity, connectionId: bigint): Promise<void> {
    return this.#clientLifecycle('onDisconnect', sender, connectionId);
  }

  /**
   * `token` (a connection's JWT) gives the connection's calls their `ctx.senderAuth` claims from
   * `clientConnected` until `clientDisconnected` has run; a token that is not a JWT gives none.
   */
  #clientLifecycle(kind: 'onConnect' | 'onDisconnect', sender: Identity, connectionId: bigint, token?: string): Promise<void> {
    // The durability wait happens outside the call queue, as for calls (group commit).
    return this.#serial(() => {
      this.#checkDiverged();
      const turn = this.#beginTurn();
      this.#logsDirty = true;
      const jwt = token === undefined ? undefined : jwtPayloadJson(token);
      if (kind === 'onConnect' && jwt !== undefined) this.#jwt.set(connectionId, jwt);
      let ok = false;
      try {
        this.#lifecycle(kind, { sender: sender.__identity__, connectionId, timestamp: this.#clock.nowMicros() }, kind === 'onConnect');
        ok = true;
      } finally {
        if (kind === 'onDisconnect' || !ok) this.#jwt.delete(connectionId);
        this.#maybeSnapshot();
      }
      return { durable: turn.durable };
    }).then((r) => r.durable);
  }

  /** Runs a lifecycle hook in its own transaction. A failing `onConnect` refuses the call. */
  #lifecycle(kind: 'onConnect' | 'onDisconnect', ctx: CallContext, refuse: boolean): void {
    const name = this.#host.schema.lifecycle[kind];
    const fn: FunctionDef | undefined = name ? this.#host.reducer(name) : undefined;
    if (!fn) return;
    const out = this.#host.callReducer(fn, new Uint8Array(0), ctx);
    if (out.status === 'failed') {
      if (refuse) {
        const Cls = out.kind === 'sender' ? SenderError : InternalError;
        throw new Cls(`the connection was refused by ${name}: ${out.message}`, { reducer: name });
      }
      this.#logs.push({ ts: Date.now(), level: 'warn', message: `${name} failed: ${out.message}` });
    }
  }

  /** Starts a snapshot when the policy says one is due (between transactions, so the image is consistent). */
  #maybeSnapshot(force = false): void {
    this.#armIdle();
    if (this.#diverged !== undefined || !this.#snapshots.due(force)) return;
    this.#snapshot();
  }

  /**
   * After each commit: once `#idleMs` pass with no other, snapshot if the policy's idle rule says
   * so. One timer at a time; a commit meanwhile only moves the time it waits for.
   */
  #armIdle(): void {
    if (this.#idleMs <= 0 || this.#closed) return;
    this.#lastCommitAt = Date.now();
    if (this.#idleTimer !== undefined) return;
    const check = (): void => {
      const wait = this.#lastCommitAt + this.#idleMs - Date.now();
      if (wait > 0) {
        this.#idleTimer = setTimeout(check, wait);
        (this.#idleTimer as { unref?: () => void }).unref?.(); // never what keeps a Node process alive
        return;
      }
      this.#idleTimer = undefined;
      if (this.#closed) return;
      this.#serial(() => {
        if (this.#diverged === undefined && this.#snapshots.dueWhenIdle()) this.#snapshot();
      }).catch(() => {});
    };
    this.#idleTimer = setTimeout(check, this.#idleMs);
    (this.#idleTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Takes a snapshot without holding up calls: the image is copied a few pages at a time, each
   * step between transactions with events let through in between (transactions committed
   * meanwhile are mirrored into the copy, so the copy ends up as the database stands when it
   * completes, and that is the lsn it is written at); then the copy is handed to storage, which
   * reads it in parts.
   */
  #snapshot(): void {
    let copy: ImageCopy;
    try {
      copy = this.#host.datastore.copy();
    } catch (e) {
      // Runs after a commit: a copy that cannot start (no memory for it) must not fail that call,
      // and is tried again once as much log has grown, not at every commit.
      this.#snapshots.deferred();
      this.#logs.push({ ts: Date.now(), level: 'warn', message: `snapshot not started (the commit log keeps everything): ${(e as Error).message}` });
      return;
    }
    this.#snapshots.started(copy.size);
    // writeSnapshot waits for the appends before it; a failure only means the log stays longer.
    this.#snapshotting = this.#copyAndWrite(copy).then(
      () => {
        this.#snapshots.settled(true);
        // Calls that committed while the image was written were not covered by it: when they are
        // already due, take the next one now, not at the next commit, which may never come
        // (a bulk load that ended, a tab left open), so the log a cold start replays stays short.
        if (this.#closed) return;
        if (this.#snapshots.due()) this.#serial(() => this.#maybeSnapshot()).catch(() => {});
        else this.#armIdle(); // and the idle rule, which could not take one while this was written
      },
      (e: unknown) => {
        this.#snapshots.settled(false);
        if (e === COPY_ABANDONED) return;
        this.#logs.push({ ts: Date.now(), level: 'warn', message: `snapshot failed (the commit log keeps everything): ${(e as Error).message}` });
      },
    );
  }

  /** The copy waiting for its next step: it goes once events had their turn, or after a few commits. */
  #copyWaiting: { commits: number; go: () => void } | undefined;

  /**
   * Resolves when the copy's next step may run: after the events waiting now, so that calls
   * arriving meanwhile go first, or after COPY_STEP_COMMITS commits, so that callers who never
   * give events a turn (a loop awaiting calls on storage that needs no I/O) cannot starve it.
   */
  #copyTurn(): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiting = {
        commits: 0,
        go: () => {
          if (this.#copyWaiting === waiting) this.#copyWaiting = undefined;
          resolve();
        },
      };
      this.#copyWaiting = waiting;
      void nextEvents().then(waiting.go);
    });
  }

  async #copyAndWrite(copy: ImageCopy): Promise<void> {
    try {
      let lsn: bigint | undefined;
      while (lsn === undefined) {
        await this.#copyTurn();
        lsn = await this.#betweenTransactions(() => {
          // Memory holds a commit storage refused: no image of it.
          if (this.#diverged !== undefined) throw COPY_ABANDONED;
          if (!copy.step(COPY_STEP_PAGES)) return undefined;
          // The ids the log prefix held travel inside the image, so they are dropped with that
          // prefix only when the snapshot that carries them is durable (and share its checksum).
          setCopyMeta(copy, META_CALLS_IN_IMAGE, this.#calls.save());
          // The copy holds the commits made while it was taken: they are covered too.
          this.#snapshots.covered(copy.size);
          return this.#lastLsn;
        });
      }
      await this.#durability.writeSnapshot({ lsn, image: copy });
    } finally {
      copy.close();
    }
  }

  /**
   * Runs `f` between transactions: in the call queue, or directly once the engine is closing
   * (the queue is drained then, and `close` waits for the snapshot that uses this).
   */
  #betweenTransactions<T>(f: () => T): Promise<T> {
    if (this.#closed) return Promise.resolve().then(f);
    return this.#serial(f).catch((e: unknown) => {
      if (e instanceof ClosedError && this.#closed) return f();
      throw e;
    });
  }

  /** Snapshots started and written since open (for tests and benchmarks). */
  get snapshotStats(): Readonly<SnapshotStats> {
    return this.#snapshots.stats;
  }

  /** Runs SQL (DML is a transaction; resolves once it is durable). */
  sql(query: string, opts: SqlOptions = {}): Promise<SqlResult> {
    return this.#serial(() => {
      this.#checkDiverged();
      const turn = this.#beginTurn();
      const res = executeSql(this, query, opts);
      this.#maybeSnapshot();
      return { res, durable: turn.durable };
    }).then(async ({ res, durable }) => {
      await durable;
      return res;
    });
  }

  /** The module log, oldest first (at most the last `limit` entries). */
  logs(limit?: number): LogEntry[] {
    return this.#logs.entries(limit);
  }

  /** Runs `f` inside the call queue (for SQL and other reads that need a consistent state). */
  exclusive<T>(f: () => Promise<T> | T): Promise<T> {
    return this.#serial(f);
  }

  /**
   * The whole database as one byte array (identity, owner, module, SQLite image), consistent
   * between calls; `Engine.importImage` recreates it elsewhere.
   */
  exportImage(): Promise<Uint8Array> {
    return this.#serial(async () => {
      this.#checkDiverged(); // memory may hold a transaction storage refused: never hand it out
      return exportDatabase({ name: this.name, identity: this.#identity, owner: this.owner, datastore: this.#host.datastore, durability: this.#durability, calls: this.#calls.save() });
    });
  }

  /**
   * Writes an image from `exportImage` into empty storage (destroy it first), so that
   * `Engine.open` on it recovers the exported database. Throws UsageError BAD_IMAGE for bytes
   * that are not an image, ModuleError when its module does not load.
   */
  static async importImage(durability: Durability, name: string, image: Uint8Array): Promise<void> {
    const db = await importDatabase(name, image);
    await durability.open();
    try {
      await Engine.#store(durability, db);
    } finally {
      await durability.close();
    }
  }

  /** Flushes, snapshots if the log is long, saves logs, and releases storage. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#scheduler.close();
    await this.#queue;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    try {
      await this.#durability.flush();
      // A snapshot still being written covers only the log before it: wait for it, then cover
      // the rest (while one is in flight, the policy starts no other).
      await this.#snapshotting;
      if (this.#snapshots.dueAtClose()) this.#maybeSnapshot(true);
      await this.#snapshotting;
      if (this.#logsDirty) await this.#durability.putMeta(META_LOGS, this.#logs.save());
    } finally {
      await this.#durability.close();
      this.#host.datastore.close();
    }
  }
}

/** SpacetimeDB's answer to a request no route matches. */
const NO_SUCH_ROUTE = 'Database has not registered a handler for this route';

function textResponse(status: number, text: string): RouteResponse {
  return { status, headers: [['content-type', 'text/plain; charset=utf-8']], body: new TextEncoder().encode(text) };
}

/** The request with its defaults, or UsageError BAD_REQUEST naming what is wrong with it. */
function checkRouteRequest(req: RouteRequest): Required<RouteRequest> {
  const bad = (what: string) => new UsageError('BAD_REQUEST', `an HTTP request to the module's routes needs ${what}`, { what });
  if (typeof req !== 'object' || req === null) throw bad('to be an object { method, path, uri?, headers?, body? }');
  if (typeof req.method !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(req.method)) throw bad(`a method that is an HTTP token (got ${JSON.stringify(req.method)})`);
  if (typeof req.path !== 'string' || (req.path !== '' && !req.path.startsWith('/') && !req.path.startsWith('?'))) throw bad(`a path that is empty or starts with / (got ${JSON.stringify(req.path)})`);
  if (req.uri !== undefined && typeof req.uri !== 'string') throw bad('a uri that is a string');
  const headers = req.headers ?? [];
  if (!Array.isArray(headers) || !headers.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === 'string' && typeof h[1] === 'string'))
    throw bad('headers as [name, value] pairs of strings');
  if (req.body !== undefined && !(req.body instanceof Uint8Array)) throw bad('a body that is a Uint8Array');
  return { method: normalizeMethod(req.method), path: req.path, uri: req.uri ?? req.path, headers, body: req.body ?? new Uint8Array(0) };
}

/** Whether `name` is one of the module's lifecycle reducers (init, clientConnected, clientDisconnected). */
export function isLifecycle(host: Host, name: string): boolean {
  const l = host.schema.lifecycle;
  return name === l.init || name === l.onConnect || name === l.onDisconnect;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

/** Connection ids for calls without one: a random 64-bit prefix per process and a counter (unique, cheap). */
let connectionPrefix: bigint | undefined;
let connectionCounter = 0n;
function randomConnectionId(): bigint {
  if (connectionPrefix === undefined) {
    let v = 0n;
    for (const x of randomBytes(8)) v = (v << 8n) | BigInt(x);
    connectionPrefix = (v | 1n) << 64n;
  }
  connectionCounter = (connectionCounter + 1n) & ((1n << 64n) - 1n);
  return connectionPrefix | connectionCounter;
}

/** `CallOptions.timestamp`, checked: a bigint of microseconds in the i64 range (what a Timestamp holds). */
function checkTimestamp(t: unknown): bigint | undefined {
  if (t === undefined) return undefined;
  if (typeof t === 'bigint' && t >= -(1n << 63n) && t < 1n << 63n) return t;
  throw new UsageError('BAD_OPTION', `timestamp must be a bigint of microseconds since the Unix epoch (i64), got ${typeof t === 'bigint' ? `${t}n` : (JSON.stringify(t) ?? String(t))}`, {
    option: 'timestamp',
  });
}

/** A fresh identity in SpacetimeDB's shape (0xc200 prefix, random rest). */
export function randomIdentity(): Identity {
  const b = randomBytes(32);
  b[0] = 0xc2;
  b[1] = 0x00;
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return new Identity(v);
}

export { toIdentity } from '../host/identity.ts';
