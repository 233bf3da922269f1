// A local database that follows a remote one (sync). It runs in the engine's realm (the Node
// engine thread, the browser's engine worker) beside the Engine whose rows apps read.
//
// The replica's rows are always the server's confirmed rows (what its subscription delivered)
// with the calls still pending replayed on top, in order:
// - a reducer call runs locally at once (subscribers see it) and enters the outbox, which is kept
//   in the database's own storage (a meta record) before the call counts as made; it is sent to
//   the server in order whenever a connection is up;
// - the confirmed rows live in a second, in-memory datastore with the module loaded over it (the
//   "confirmed store"). When the server sends a transaction (ours or anyone's), it is applied
//   there, the pending calls are replayed there (same arguments, sender and timestamp, sequences
//   put back afterwards so ids do not drift), and the replica's rows move from the old state to
//   the new one in ONE transaction: subscribers see one delta per rebase;
// - our call's result removes it from the outbox: its optimistic rows give way to the server's
//   (auto-increment ids and `ctx.timestamp` may differ) in that same transaction; a call the
//   server refuses vanishes with its effects and its promise rejects with the server's error;
// - on every (re)connect the subscription's rows replace the confirmed store and the replica is
//   rebuilt from them (the outbox replayed), so nothing depends on what was in memory before.
// With a Lightcone server every call carries an id the database commits once: a resend after a
// reconnect, a restart or a crash never applies a call twice. Against plain SpacetimeDB (no ids)
// a call that was in flight when the connection dropped is sent again: at least once for those.
import { Identity } from 'spacetimedb';
import type { Datastore, TxDelta } from '../datastore/datastore.ts';
import { openDatastore } from '../datastore/datastore.ts';
import { compose, inverse, isEmpty } from '../datastore/delta-math.ts';
import { isLifecycle, type Engine } from '../engine/engine.ts';
import { ClosedError, InternalError, SenderError, SyncError, UsageError } from '../errors.ts';
import { Host } from '../host/host.ts';
import { encodeArgs } from '../host/values.ts';
import { schemaJson } from '../server/sats-json.ts';
import type { FetchLike, SocketFactory } from './transport.ts';
import { WireClient, type CallOutcome, type TableRows } from './wire-client.ts';

/** Where the replica follows: `connect({ remote })` / `openDatabase({ remote })`. */
export interface RemoteOptions {
  /** The server: `http://127.0.0.1:3000` (`lightcone start`) or a SpacetimeDB host. */
  uri: string;
  /** The database's name on the server. */
  database: string;
  /** An identity token the server issued; without one the replica gets an identity and keeps it. */
  token?: string;
  /** The queries whose rows the replica keeps (default: every public table). */
  subscribe?: string[];
}

/** What an app shows about sync ("3 changes waiting"). */
export interface SyncStatus {
  /** `syncing`: connecting or catching up; `stopped`: an error sync cannot retry past (see `error`). */
  state: 'online' | 'offline' | 'syncing' | 'stopped';
  /** Calls not yet committed by the server. */
  pending: number;
  /** When the server last confirmed a call or sent a transaction (ms since the epoch). */
  lastConfirmedAt: number | undefined;
  /** The replica's identity on the server, once known. */
  identity: string | undefined;
  /** Whether the server commits each call once even when it is sent again (Lightcone servers). */
  exactlyOnce: boolean;
  /** The last error, kept until the next successful connect. */
  error: { name: string; code: string; message: string } | undefined;
}

/** How long to wait for a call: `local` = in the durable outbox and applied here; `server` = committed there. */
export type CallWait = 'local' | 'server';

/** What the platform gives the replica. */
export interface ReplicaEnv {
  engine: Engine;
  /** The database's storage: the outbox and the token are meta records there. */
  store: { getMeta(key: string): Promise<Uint8Array | undefined>; putMeta(key: string, value: Uint8Array): Promise<void> };
  /** The module bundle (loaded a second time over the confirmed store). */
  code: string;
  socket: SocketFactory;
  fetch: FetchLike;
  /** First and longest wait between connection attempts, ms (default 200 and 10,000). */
  backoff?: { min: number; max: number };
  /** Calls the outbox may hold (default MAX_OUTBOX). */
  maxOutbox?: number;
}

const META_OUTBOX = 'sync-outbox';
const META_TOKEN = 'sync-token';
/** Calls the outbox holds at most; one more is refused with SyncError OUTBOX_FULL. */
export const MAX_OUTBOX = 100_000;
/** Calls sent and not yet answered, at most (the server ends a connection with 16,384 waiting). */
export const MAX_IN_FLIGHT = 1_000;

interface Pending {
  id: string;
  reducer: string;
  args: Uint8Array;
  /** µs: the timestamp of its first run, used by every replay. */
  ts: bigint;
  /** Its rows in the replica now (its last replay). */
  effect: TxDelta;
  /** Sent on the current connection. */
  sent: boolean;
  waiters: { resolve: (v: undefined) => void; reject: (e: Error) => void }[];
}

const EMPTY: TxDelta = { tables: [], sequences: [] };

/** A call as `call` was asked for it, before it enters the outbox. */
interface CallRequest {
  reducer: string;
  args: Uint8Array;
  wait: CallWait;
  id: string | undefined;
  resolve: (v: undefined) => void;
  reject: (e: Error) => void;
}

/** One thing the server sent: a transaction, or a call's answer (with its transaction's rows). */
interface Inbound {
  tables: TableRows[];
  answer?: { p: Pending; outcome: CallOutcome };
}

export class Replica {
  readonly #env: ReplicaEnv;
  readonly #remote: RemoteOptions;
  #pending: Pending[] = [];
  #confirmed: { ds: Datastore; host: Host } | undefined;
  #wire: WireClient | undefined;
  #token: string | undefined;
  #identity: Identity | undefined;
  #callIds = false;
  #status: SyncStatus = { state: 'syncing', pending: 0, lastConfirmedAt: undefined, identity: undefined, exactlyOnce: false, error: undefined };
  readonly #listeners = new Set<(s: SyncStatus) => void>();
  /** Replica work runs one piece at a time, in arrival order. */
  #lane: Promise<unknown> = Promise.resolve();
  #closed = false;
  #wake: (() => void) | undefined;
  #saving: Promise<void> | undefined;
  #inbox: Inbound[] = [];
  #draining = false;
  /** Calls asked for and not yet taken by the lane. */
  #calling: CallRequest[] = [];
  #counter = 0;
  readonly #prefix = Math.random().toString(36).slice(2, 10);

  constructor(env: ReplicaEnv, remote: RemoteOptions) {
    this.#env = env;
    this.#remote = checkRemote(remote);
  }

  /** Loads the outbox and the token, then keeps connecting in the background until `close`. */
  async start(): Promise<void> {
    // The server runs the module's schedules; their effects arrive from it like any transaction.
    this.#env.engine.stopSchedules();
    const saved = await this.#env.store.getMeta(META_OUTBOX);
    if (saved) this.#pending = decodeOutbox(saved);
    this.#token = this.#remote.token ?? text(await this.#env.store.getMeta(META_TOKEN));
    const ds = await openDatastore();
    this.#confirmed = { ds, host: new Host({ datastore: ds, code: this.#env.code, databaseIdentity: this.#env.engine.host.databaseIdentity, log: () => {} }) };
    this.#setStatus({ pending: this.#pending.length });
    void this.#run();
  }

  status(): SyncStatus {
    return { ...this.#status, error: this.#status.error && { ...this.#status.error } };
  }

  onStatus(listener: (s: SyncStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Whether `name` is a reducer this replica syncs (procedures run locally only). */
  syncs(name: string): boolean {
    const r = this.#env.engine.host.reducer(name);
    return r !== undefined && !isLifecycle(this.#env.engine.host, r.name);
  }

  /**
   * Makes a reducer call: it enters the durable outbox and runs locally; resolves per `wait`
   * (`server`: committed by the server, or rejects with its SenderError / InternalError). `id`
   * makes the call idempotent here too: a call with an id already pending joins it.
   */
  call(name: string, args: unknown, wait: CallWait = 'server', id?: string): Promise<undefined> {
    const engine = this.#env.engine;
    const fn = engine.host.reducer(name);
    if (!fn) return engine.call(name, args) as Promise<undefined>; // the engine names what exists
    let bytes: Uint8Array;
    try {
      bytes = encodeArgs(fn.params, args, `reducer ${fn.name}`, engine.host.schema.typespace);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<undefined>((resolve, reject) => {
      this.#calling.push({ reducer: fn.name, args: bytes, wait, id, resolve, reject });
      // Calls made in one turn are taken by one step of the lane: one outbox write for all of them.
      if (this.#calling.length === 1) this.#inLane(() => this.#makeCalls()).catch(() => {});
    });
  }

  /**
   * Makes the calls asked for since the last step: into the outbox (written once for the lot, and
   * before any of them counts as made), then each run locally in order, then sent. Every request
   * taken here settles, whatever fails.
   */
  async #makeCalls(): Promise<void> {
    const batch = this.#calling.splice(0);
    try {
      await this.#makeBatch(batch);
    } catch (e) {
      // Not expected (a status listener that throws, say): no caller is left waiting. A promise
      // already settled ignores this.
      for (const c of batch) c.reject(e as Error);
      throw e;
    }
  }

  async #makeBatch(batch: CallRequest[]): Promise<void> {
    /** New calls of this batch, each with its requests (more than one when the same id came twice). */
    const made: { p: Pending; requests: CallRequest[] }[] = [];
    const max = this.#env.maxOutbox ?? MAX_OUTBOX;
    for (const c of batch) {
      if (this.#closed) {
        c.reject(new SyncError('DISCONNECTED', 'the replica is closed: open the database again'));
        continue;
      }
      const fresh = c.id !== undefined ? made.find((m) => m.p.id === c.id) : undefined;
      if (fresh) {
        // The same call twice in this batch: it settles with the first (not yet saved or run).
        fresh.requests.push(c);
        continue;
      }
      const existing = c.id !== undefined ? this.#pending.find((p) => p.id === c.id) : undefined;
      if (existing) {
        // The same call again: it joins the one pending.
        if (c.wait === 'server') existing.waiters.push({ resolve: c.resolve, reject: c.reject });
        else c.resolve(undefined);
        continue;
      }
      if (this.#pending.length >= max) {
        c.reject(new SyncError('OUTBOX_FULL', `${max} calls are waiting for the server already: wait for the replica to reconnect before making more`, { pending: max }));
        continue;
      }
      const p: Pending = {
        id: c.id ?? `${this.#prefix}.${Date.now().toString(36)}.${(this.#counter++).toString(36)}`,
        reducer: c.reducer,
        args: c.args,
        ts: BigInt(Date.now()) * 1000n,
        effect: EMPTY,
        sent: false,
        waiters: [],
      };
      this.#pending.push(p);
      made.push({ p, requests: [c] });
    }
    if (made.length === 0) return;
    try {
      await this.#saveOutbox();
    } catch (e) {
      // Storage refused the outbox (full, quota): these calls were not made; nothing else changes.
      const refused = new Set(made.map((m) => m.p));
      this.#pending = this.#pending.filter((x) => !refused.has(x));
      this.#fail(e);
      for (const m of made) for (const c of m.requests) c.reject(e as Error);
      return;
    }
    this.#setStatus({ pending: this.#pending.length });
    for (const { p, requests } of made) {
      for (const c of requests) if (c.wait === 'server') p.waiters.push({ resolve: c.resolve, reject: c.reject });
      p.effect = await this.#runLocally(p);
      for (const c of requests) if (c.wait === 'local') c.resolve(undefined);
    }
    this.#sendPending();
  }

  /** Stops syncing (the outbox stays for next time). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wire?.close();
    this.#wake?.();
    await this.#lane.catch(() => {});
    this.#confirmed?.ds.close();
    // Calls waiting for the server stay in the outbox for the next open; their promises end here.
    const closed = new ClosedError('the database was closed before the server answered this call: it stays in the outbox and is sent when the database is opened again', { retryable: false });
    for (const p of this.#pending) {
      for (const w of p.waiters) w.reject(closed);
      p.waiters = [];
    }
    this.#setStatus({ state: 'stopped' });
  }

  // ── the connection loop ─────────────────────────────────────────────────────

  async #run(): Promise<void> {
    const { min, max } = this.#env.backoff ?? { min: 200, max: 10_000 };
    let wait = min;
    while (!this.#closed) {
      this.#setStatus({ state: 'syncing' });
      try {
        await this.#connect();
        wait = min;
        await new Promise<void>((resolve) => (this.#wake = resolve)); // until the connection ends
      } catch (e) {
        const err = e as Error & { code?: string };
        this.#setStatus({ state: 'offline', error: { name: err.name ?? 'Error', code: err.code ?? 'CONNECT_FAILED', message: err.message } });
        if (err instanceof SyncError && (err.code === 'MODULE_MISMATCH' || err.code === 'TOKEN_REFUSED')) {
          this.#setStatus({ state: 'stopped' });
          return;
        }
      }
      if (this.#closed) return;
      if (this.#status.state !== 'stopped') this.#setStatus({ state: 'offline' });
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, wait);
      });
      wait = Math.min(max, wait * 2);
    }
  }

  async #connect(): Promise<void> {
    const { fetch, socket } = this.#env;
    const base = this.#remote.uri.endsWith('/') ? this.#remote.uri : `${this.#remote.uri}/`;
    if (this.#token === undefined) {
      const r = await fetch(new URL('v1/identity', base).href, { method: 'POST' });
      if (r.status !== 200) throw new SyncError('CONNECT_FAILED', `the server at ${this.#remote.uri} gave no identity (${r.status})`);
      this.#token = (JSON.parse(await r.text()) as { token: string }).token;
      await this.#env.store.putMeta(META_TOKEN, new TextEncoder().encode(this.#token));
    }
    await this.#checkModule(base);
    const features = await fetch(new URL('v1/lightcone', base).href).catch(() => undefined);
    this.#callIds = features?.status === 200 && (JSON.parse(await features.text()) as { callIds?: boolean }).callIds === true;
    // Messages behind InitialConnection in its frame (v3) arrive before `open` resolves, so the
    // callbacks look `wire` up when they need it, not when they are called.
    let wire: WireClient | undefined;
    /** Why the connection ended, if it did before it was set up. */
    let ended: SyncError | undefined;
    wire = await WireClient.open({
      uri: this.#remote.uri,
      database: this.#remote.database,
      token: this.#token,
      socket,
      fetch,
      // A transaction the replica cannot apply (rows of a table it does not know, say) is shown in
      // the status and ends this connection: the next one rebuilds the replica from scratch.
      onTransaction: (tables) => this.#receive(() => wire, { tables }),
      onClose: (reason, failure) => {
        ended = failure ?? new SyncError('DISCONNECTED', reason);
        if (this.#wire === wire) this.#wire = undefined;
        // What the server sent ended it: the status says what (kept until the next connect).
        this.#setStatus({ state: 'offline', ...(failure ? { error: { name: failure.name, code: failure.code, message: failure.message } } : {}) });
        this.#wake?.();
      },
    });
    try {
      this.#identity = Identity.fromString(wire.identity);
      // The rebuild is queued as the rows are read, so a transaction right behind them queues after it.
      let rebuilt: Promise<void> | undefined;
      await wire.subscribe(this.#queries(), (rows) => {
        rebuilt = this.#inLane(() => this.#resync(rows));
        rebuilt.catch(() => {}); // awaited below
      });
      await rebuilt;
      // It may have ended while the rows were applied: then it is not online.
      if (ended) throw ended;
    } catch (e) {
      wire.close();
      throw e;
    }
    this.#wire = wire;
    this.#setStatus({ state: 'online', identity: wire.identity, exactlyOnce: this.#callIds, error: undefined, lastConfirmedAt: Date.now() });
    this.#inLane(async () => this.#sendPending()).catch(() => {});
  }

  /** The server's module must be this one: a mismatch is SyncError MODULE_MISMATCH naming what differs. */
  async #checkModule(base: string): Promise<void> {
    const r = await this.#env.fetch(new URL(`v1/database/${encodeURIComponent(this.#remote.database)}/schema?version=10`, base).href);
    if (r.status === 404) throw new SyncError('CONNECT_FAILED', `the server at ${this.#remote.uri} has no database ${this.#remote.database}: publish the module there first`);
    if (r.status !== 200) throw new SyncError('CONNECT_FAILED', `the server at ${this.#remote.uri} answered ${r.status} for the schema of ${this.#remote.database}`);
    const theirs = JSON.parse(await r.text()) as Schema10;
    const ours = JSON.parse(schemaJson(this.#env.engine.host.describe, 10)) as Schema10;
    const differences = compareSchemas(ours, theirs);
    if (differences.length > 0) {
      throw new SyncError(
        'MODULE_MISMATCH',
        `the module here differs from the one database ${this.#remote.database} runs on ${this.#remote.uri}: ${differences.join('; ')}. Publish the same module on both sides (calls made meanwhile stay in the outbox).`,
        { differences },
      );
    }
  }

  #queries(): string[] {
    if (this.#remote.subscribe) return this.#remote.subscribe;
    return this.#env.engine.host.schema.tables.filter((t) => t.isPublic && !t.isEvent).map((t) => `SELECT * FROM ${t.name}`);
  }

  /**
   * Sends pending calls not yet sent on this connection, in order, at most MAX_IN_FLIGHT at a time
   * (more are sent as answers come), so a large outbox never overruns the server's queue.
   */
  #sendPending(): void {
    const wire = this.#wire;
    if (!wire) return;
    let inFlight = this.#pending.filter((p) => p.sent).length;
    for (const p of this.#pending) {
      if (inFlight >= MAX_IN_FLIGHT) return;
      if (p.sent) continue;
      p.sent = true;
      inFlight++;
      // The answer is handed over as it is read, in order with the transactions around it.
      wire
        .call(p.reducer, p.args, this.#callIds ? p.id : undefined, (outcome) => this.#receive(() => wire, { tables: outcome.ok ? outcome.tables : [], answer: { p, outcome } }))
        .catch(() => {
          p.sent = false; // the connection dropped: sent again on the next one
        });
    }
  }

  // ── rebasing ────────────────────────────────────────────────────────────────

  /**
   * What the server sent (a transaction, or a call's answer with its transaction), in order. What
   * arrives while a rebase runs is taken in ONE next rebase: under a burst the replica replays
   * its outbox once per batch, not once per server transaction.
   */
  #receive(wire: () => WireClient | undefined, item: Inbound): void {
    this.#inbox.push(item);
    if (this.#draining) return;
    this.#draining = true;
    this.#inLane(() => this.#drain()).catch((e: unknown) => {
      // A transaction the replica cannot apply (rows of a table it does not know, say) is shown
      // in the status and ends this connection: the next one rebuilds the replica from scratch.
      this.#fail(e);
      wire()?.close();
      this.#wake?.();
    });
  }

  async #drain(): Promise<void> {
    this.#draining = false; // what arrives from now on is the next batch
    const items = this.#inbox.splice(0);
    const answered = items.flatMap((i) => (i.answer && this.#pending.includes(i.answer.p) ? [i.answer] : []));
    const done = new Set(answered.map((a) => a.p));
    try {
      await this.#rebase(
        items.map((i) => this.#toDelta(i.tables)),
        done,
      );
    } finally {
      // The server's answer is final whatever happened here: the calls leave the outbox (never
      // to be sent again) and their promises settle. A failed rebase is repaired by the rebuild
      // of the next connection.
      if (this.#pending.some((p) => done.has(p))) {
        this.#pending = this.#pending.filter((p) => !done.has(p));
        await this.#saveOutbox().catch((e: unknown) => this.#fail(e));
      }
      for (const { p, outcome } of answered) {
        if (outcome.ok) for (const w of p.waiters) w.resolve(undefined);
        else {
          const error = outcome.kind === 'sender' ? new SenderError(outcome.message, { reducer: p.reducer }) : new InternalError(outcome.message, { reducer: p.reducer });
          for (const w of p.waiters) w.reject(error);
        }
        p.waiters = [];
      }
      this.#sendPending();
    }
  }

  /**
   * Applies server transactions to the confirmed store, replays the outbox (less the answered
   * calls), and moves the replica to the result in one transaction.
   */
  async #rebase(server: TxDelta[], done: ReadonlySet<Pending>): Promise<void> {
    const c = this.#confirmed!;
    const before = compose(this.#pending.map((p) => p.effect));
    if (done.size > 0) {
      this.#pending = this.#pending.filter((x) => !done.has(x));
      await this.#saveOutbox();
    }
    applyTo(c.ds, server);
    const effects = this.#replay();
    const net = compose([inverse(before), ...server, ...effects]);
    try {
      if (!isEmpty(net)) await this.#env.engine.applyRows(net, 'sync');
    } catch {
      await this.#rebuild(); // the replica drifted from what the outbox says: rebuild it whole
    }
    this.#setStatus({ pending: this.#pending.length, lastConfirmedAt: Date.now() });
  }

  /** A (re)connect: the subscription's rows become the confirmed store, the replica is rebuilt. */
  async #resync(tables: TableRows[]): Promise<void> {
    const c = this.#confirmed!;
    c.ds.begin();
    try {
      for (const t of c.ds.tables) if (!t.def.isEvent) c.ds.clear(t);
      c.ds.commit();
    } catch (e) {
      c.ds.rollback();
      throw e;
    }
    applyTo(c.ds, [this.#toDelta(tables)]);
    for (const p of this.#pending) p.sent = false;
    await this.#rebuild();
  }

  /** Makes the replica's rows exactly the confirmed store with the outbox replayed. */
  async #rebuild(): Promise<void> {
    const c = this.#confirmed!;
    const positions = c.ds.sequencePositions();
    const runs = this.#runAll(c);
    const target = new Map<string, Uint8Array[]>();
    for (const t of c.ds.tables) if (!t.def.isEvent && this.#env.engine.host.datastore.tableByName(t.def.name)) target.set(t.def.name, c.ds.scanAll(t));
    this.#undo(c, runs, positions);
    await this.#env.engine.replaceRows(target, 'sync');
  }

  /** Replays the outbox on the confirmed store and undoes it; returns each call's rows. */
  #replay(): TxDelta[] {
    const c = this.#confirmed!;
    const positions = c.ds.sequencePositions();
    const runs = this.#runAll(c);
    this.#undo(c, runs, positions);
    return runs;
  }

  #runAll(c: { ds: Datastore; host: Host }): TxDelta[] {
    const sender = (this.#identity ?? this.#env.engine.identity).__identity__;
    return this.#pending.map((p) => {
      const fn = c.host.reducer(p.reducer);
      if (!fn) return EMPTY;
      const out = c.host.callReducer(fn, p.args, { sender, connectionId: 0n, timestamp: p.ts });
      // A call whose replay fails now stays pending without rows: the server decides.
      p.effect = out.status === 'committed' ? { tables: out.delta.tables, sequences: [] } : EMPTY;
      return p.effect;
    });
  }

  /** Undoes the replays in one transaction, sequences too. */
  #undo(c: { ds: Datastore }, runs: TxDelta[], positions: ReturnType<Datastore['sequencePositions']>): void {
    // Each run's inverse, last first: the inverse of their composition, without building it.
    applyTo(c.ds, runs.map(inverse).reverse());
    c.ds.restoreSequencePositions(positions);
  }

  /** A call made here: its first run, on the replica itself (as `p.id`, so its commit is found). */
  async #runLocally(p: Pending): Promise<TxDelta> {
    const engine = this.#env.engine;
    let effect: TxDelta = EMPTY;
    const stop = engine.onCommit((delta, info) => {
      if (info.callId === `sync:${p.id}`) effect = { tables: delta.tables, sequences: [] };
    });
    try {
      const fn = engine.host.reducer(p.reducer)!;
      await engine.callBytes(fn, p.args, { sender: this.#identity ?? engine.identity, callId: `sync:${p.id}`, timestamp: p.ts });
    } catch {
      // It fails here: it stays pending without rows, and the server decides.
    } finally {
      stop();
    }
    return effect;
  }

  #toDelta(tables: TableRows[]): TxDelta {
    const ds = this.#confirmed!.ds;
    const out: TxDelta = { tables: [], sequences: [] };
    for (const t of tables) {
      const table = ds.tableByName(t.table) ?? ds.tables.find((x) => x.def.canonicalName === t.table);
      if (!table) throw new SyncError('UNKNOWN_TABLE', `the server sent rows of table ${t.table}, which this module does not define: publish the same module on both sides`, { table: t.table });
      out.tables.push({ table: table.def.name, inserts: t.inserts, deletes: t.deletes });
    }
    return out;
  }

  // ── the outbox and the lane ─────────────────────────────────────────────────

  /** Writes the outbox; writes asked for while one is under way are made once, after it. */
  #saveOutbox(): Promise<void> {
    if (this.#saving) return this.#saving.then(() => this.#saveOutbox());
    const bytes = encodeOutbox(this.#pending);
    this.#saving = this.#env.store.putMeta(META_OUTBOX, bytes).finally(() => {
      this.#saving = undefined;
    });
    return this.#saving;
  }

  #inLane<T>(f: () => Promise<T> | T): Promise<T> {
    const run = this.#lane.then(f);
    this.#lane = run.catch(() => {});
    return run;
  }

  /** Shows `e` in the status (sync goes on: the connection is made again). */
  #fail(e: unknown): void {
    const err = e as Error & { code?: string };
    this.#setStatus({ error: { name: err.name ?? 'Error', code: err.code ?? 'SYNC_FAILED', message: err.message ?? String(e) } });
  }

  #setStatus(change: Partial<SyncStatus>): void {
    const next = { ...this.#status, ...change };
    if (sameStatus(next, this.#status)) return;
    this.#status = next;
    for (const l of this.#listeners) l(this.status());
  }
}

// ── helpers ─────────────────────────────────────────────────────────────────

function checkRemote(r: RemoteOptions): RemoteOptions {
  if (!r || typeof r.uri !== 'string' || typeof r.database !== 'string' || r.database === '') {
    throw new UsageError('BAD_OPTION', 'remote needs { uri, database }: the server (http://host:port) and the database name there', { option: 'remote' });
  }
  try {
    const u = new URL(r.uri);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new UsageError('BAD_OPTION', `remote.uri ${JSON.stringify(r.uri)} is not an http:// or https:// URL`, { option: 'remote.uri' });
  }
  return r;
}

/**
 * Applies changes, in order, to the confirmed store in a transaction of their own. Strict: a
 * deleted row that is not there means the store no longer matches the server's, which must not
 * pass silently.
 */
function applyTo(ds: Datastore, deltas: readonly TxDelta[]): void {
  if (deltas.every(isEmpty)) return;
  ds.begin();
  try {
    // In order, in one transaction: the same rows as their composition, without building it.
    for (const d of deltas) if (!isEmpty(d)) ds.applyRows(d, true);
    ds.commit();
  } catch (e) {
    ds.rollback();
    throw e;
  }
}

function sameStatus(a: SyncStatus, b: SyncStatus): boolean {
  const ea = a.error;
  const eb = b.error;
  const sameError = ea === eb || (ea !== undefined && eb !== undefined && ea.name === eb.name && ea.code === eb.code && ea.message === eb.message);
  return a.state === b.state && a.pending === b.pending && a.lastConfirmedAt === b.lastConfirmedAt && a.identity === b.identity && a.exactlyOnce === b.exactlyOnce && sameError;
}

function text(b: Uint8Array | undefined): string | undefined {
  return b ? new TextDecoder().decode(b) : undefined;
}

/** Each call's JSON in the saved outbox, made once: the outbox is written whole on every change. */
const savedForm = new WeakMap<Pending, string>();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function encodeOutbox(pending: readonly Pending[]): Uint8Array {
  const calls = pending.map((p) => {
    let json = savedForm.get(p);
    if (json === undefined) {
      let hex = '';
      for (const b of p.args) hex += HEX[b]!;
      json = JSON.stringify({ id: p.id, reducer: p.reducer, args: hex, ts: p.ts.toString() });
      savedForm.set(p, json);
    }
    return json;
  });
  return new TextEncoder().encode(`{"v":1,"calls":[${calls.join(',')}]}`);
}

function decodeOutbox(bytes: Uint8Array): Pending[] {
  const o = JSON.parse(new TextDecoder().decode(bytes)) as { v: number; calls: { id: string; reducer: string; args: string; ts: string }[] };
  return o.calls.map((c) => ({
    id: c.id,
    reducer: c.reducer,
    args: Uint8Array.from(c.args.match(/../g) ?? [], (h) => Number.parseInt(h, 16)),
    ts: BigInt(c.ts),
    effect: EMPTY,
    sent: false,
    waiters: [],
  }));
}

type Schema10 = { sections: Record<string, unknown>[] };

/** What differs between two v10 schemas, by table and reducer (names and types). */
export function compareSchemas(ours: Schema10, theirs: Schema10): string[] {
  const section = (s: Schema10, name: string) => (s.sections.find((x) => name in x)?.[name] ?? []) as Record<string, unknown>[];
  const typespace = (s: Schema10) => ((section(s, 'Typespace') as unknown as { types: unknown[] }).types ?? []) as unknown[];
  const out: string[] = [];
  for (const [kind, key] of [
    ['table', 'Tables'],
    ['reducer', 'Reducers'],
  ] as const) {
    const mine = new Map(section(ours, key).map((x) => [String(x.source_name ?? x.name), x]));
    const other = new Map(section(theirs, key).map((x) => [String(x.source_name ?? x.name), x]));
    for (const [name, def] of mine) {
      const o = other.get(name);
      if (!o) out.push(`the server has no ${kind} ${name}`);
      else if (JSON.stringify(def) !== JSON.stringify(o)) out.push(`${kind} ${name} is defined differently`);
    }
    for (const name of other.keys()) if (!mine.has(name)) out.push(`this module has no ${kind} ${name}`);
  }
  if (out.length === 0 && JSON.stringify(typespace(ours)) !== JSON.stringify(typespace(theirs))) out.push('the types (columns or parameters) differ');
  return out;
}
