// Live queries of one database: subscribers register query sets (compiled once, evaluated once
// per distinct query, grouped by equality literal), get their initial rows from one snapshot
// between transactions, and then one update per commit that changed their rows, computed from
// the commit's delta alone and delivered in commit order: after durability (confirmed reads) or
// right after commit. Views and queries under row-level security that cannot follow deltas are
// Sources: evaluated again right after a commit that changed a table they read (still inside the
// engine's serial execution), their difference fed to their plans like a table delta.
import { bytesKey } from '../datastore/bytes.ts';
import type { SqlValue } from '../datastore/columns.ts';
import type { Datastore, StoreTable, TxDelta } from '../datastore/datastore.ts';
import { FastSql } from '../datastore/fast-stmt.ts';
import { ClosedError, InternalError, LightconeError, SqlError, StorageError } from '../errors.ts';
import { evaluateView, type SqlContext } from '../sql/execute.ts';
import { namedSqlError } from '../sql/sqlite-errors.ts';
import { compileQuery, initialSql, type CompiledQuery, type SourceSpec } from './compile.ts';
import { evaluator } from './predicate.ts';
import { Group, Plan } from './query-group.ts';
import { applyRowLevelSecurity } from './rls.ts';
import { RowDecoding } from './rows.ts';
import { Source } from './source.ts';
import { StoredDecoder } from './stored-values.ts';
import { Subscriber, toUpdate, type SubscriberCallbacks, type SubscriberOptions } from './subscriber.ts';
import { Lookups, TxEval, type TableChanges } from './tx-eval.ts';
import type { InitialRows, Row, SubscribeCallbacks, SubscriptionHandle, TableUpdate } from './types.ts';

/** Who subscribes (resolved by the caller) and how updates are delivered. */
export interface SubscriberIdentity {
  sender: bigint;
  /** Default true: deliver a transaction once it is durable. */
  confirmedReads?: boolean;
  /**
   * Deliver synchronously inside the engine's serial execution instead (then `confirmedReads` is
   * the caller's business): `onApplied` inside the subscribe's turn, `onUpdate` inside the commit
   * (after the engine's commit listeners registered before this manager, before those registered
   * after it), and an unsubscribed set's deletes inside the unsubscribe's turn. For a caller that
   * orders and gates delivery itself, such as the wire protocol's per-connection outbox.
   */
  inline?: boolean;
}

/** A query set of a live client. */
export interface QuerySetHandle {
  /** Resolves after the set's `onApplied` ran; rejects if the set was refused or the database closed. */
  readonly applied: Promise<void>;
  /** Removes the set: rows no other set holds are delivered as deletes through the client's `onUpdate`. */
  unsubscribe(): void;
}

/**
 * A subscriber with several query sets sharing one reference-counted row cache (what a protocol
 * connection is). Its `onUpdate` receives every change of that cache.
 */
export interface LiveClient {
  readonly active: boolean;
  /**
   * Adds a query set. `onApplied` receives the set's rows that were not in the cache yet, so the
   * union of what `onApplied` and `onUpdate` delivered is always the union of the sets' results.
   */
  subscribe(queries: readonly string[], callbacks?: { onApplied?: (rows: InitialRows) => void; onError?: (error: Error) => void }): QuerySetHandle;
  /** Ends the client at once; no callback runs after this returns. */
  close(): void;
}

/** Counts, for tests and diagnostics. */
export interface LiveStats {
  subscribers: number;
  /** Distinct queries. */
  plans: number;
  /** Query shapes (plans differing only in a grouping literal share one). */
  groups: number;
  /** Shared evaluations of views (one per anonymous view, one per sender view and identity) and re-run queries. */
  sources: number;
}

interface Runtime {
  /** The datastore the statements and plans were made for. */
  datastore: Datastore;
  fast: FastSql;
  lookups: Lookups;
  decoder: StoredDecoder;
  rows: RowDecoding;
}

/**
 * What live queries need of a database (the engine provides it): its schema and data (`host`),
 * its owner, a turn between transactions to read a consistent state in, and the commit feed.
 */
export interface LiveDatabase extends SqlContext {
  /** Runs `f` between transactions (after every call queued before it). */
  exclusive<T>(f: () => Promise<T> | T): Promise<T>;
  /** Calls `listener` with each transaction's delta and the promise of its durability; returns the unsubscribe. */
  onCommit(listener: (delta: TxDelta, info: { durable: Promise<void> }) => void): () => void;
}

/** The live queries of one engine. Create one per engine; it listens to every commit. */
export class SubscriptionManager {
  readonly #engine: LiveDatabase;
  #rt: Runtime | undefined;
  readonly #plans = new Map<string, Plan>();
  readonly #groups = new Map<string, Group>();
  readonly #byTable = new Map<string, Group[]>();
  readonly #sources = new Map<string, Source>();
  /** Decoded values of one Source row while filtering (reused). */
  readonly #scratch: SqlValue[] = [];
  readonly #subscribers = new Set<Subscriber>();
  #mark = 0;
  /** Confirmed deliveries, chained in commit order. Never rejects. */
  #tail: Promise<void> = Promise.resolve();
  /** Durability of the latest commit (group commit makes records durable in order). */
  #lastDurable: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #detach: () => void;

  constructor(engine: LiveDatabase) {
    this.#engine = engine;
    this.#detach = engine.onCommit((delta, info) => this.#onCommit(delta, info.durable));
  }

  /**
   * Subscribes to `queries` as one subscriber: the handle returns at once, `onApplied` follows
   * with the initial rows, then `onUpdate` per transaction. Refused queries end it through
   * `onError` (and `applied` rejects).
   */
  subscribe(queries: readonly string[], callbacks: SubscribeCallbacks, who: SubscriberIdentity): SubscriptionHandle {
    const client = this.connect({
      ...who,
      ...(callbacks.onUpdate ? { onUpdate: callbacks.onUpdate } : {}),
      ...(callbacks.onError ? { onError: callbacks.onError } : {}),
    });
    const set = client.subscribe(queries, {
      ...(callbacks.onApplied ? { onApplied: callbacks.onApplied } : {}),
      onError: (e) => {
        // A refused query set ends this one-set subscriber.
        if (client.active) {
          client.close();
          callbacks.onError?.(e);
        }
      },
    });
    return {
      applied: set.applied,
      get active() {
        return client.active;
      },
      unsubscribe: () => client.close(),
    };
  }

  /** A subscriber that may hold several query sets (one shared, reference-counted cache). */
  connect(opts: SubscriberIdentity & SubscriberCallbacks): LiveClient {
    const sub = new Subscriber({
      sender: opts.sender,
      isOwner: opts.sender === this.#engine.owner.__identity__,
      confirmedReads: opts.confirmedReads ?? true,
      inline: opts.inline ?? false,
      ...(opts.onUpdate ? { onUpdate: opts.onUpdate } : {}),
      ...(opts.onError ? { onError: opts.onError } : {}),
    } satisfies SubscriberOptions);
    sub.onEnd = () => this.#release(sub);
    if (this.#closed) sub.end();
    else this.#subscribers.add(sub);
    return {
      get active() {
        return sub.active;
      },
      subscribe: (queries, cbs = {}) => this.#addSet(sub, queries, cbs),
      close: () => sub.end(),
    };
  }

  /** Resolves once every delivery queued so far has run. */
  async settled(): Promise<void> {
    await this.#tail;
    await new Promise<void>((r) => setTimeout(r, 0));
  }

  stats(): LiveStats {
    return { subscribers: this.#subscribers.size, plans: this.#plans.size, groups: this.#groups.size, sources: this.#sources.size };
  }

  /**
   * Stops listening after the last queued delivery. Subscribers whose initial rows had not been
   * delivered get ClosedError; the others simply end. Call after the engine closed.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#detach();
    await this.#tail;
    for (const s of [...this.#subscribers]) s.end();
    this.#subscribers.clear();
    // The engine closed the SQLite database, which finalized our statements with it.
    this.#rt = undefined;
  }

  // ---- query sets ----------------------------------------------------------------------------

  #addSet(sub: Subscriber, queries: readonly string[], cbs: { onApplied?: (rows: InitialRows) => void; onError?: (error: Error) => void }): QuerySetHandle {
    let settle!: { resolve: () => void; reject: (e: Error) => void };
    const applied = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    applied.catch(() => {}); // observed through `applied` or `onError`, never unhandled
    let set: Map<Plan, number> | undefined;
    let removed = false;
    const fail = (e: unknown) => {
      const err = namedSqlError(e);
      settle.reject(err);
      if (sub.active && cbs.onError) sub.guard(() => cbs.onError!(err));
    };
    const endWatch = () => {
      if (!set) settle.reject(new ClosedError('the subscription ended before its rows were delivered'));
    };
    this.#engine
      .exclusive(() => {
        if (removed || !sub.active || sub.closing) return endWatch();
        set = this.#register(sub, queries, (rows, registered) => {
          // Known before `onApplied` runs: an inline callback may already unsubscribe the set.
          set = registered;
          this.#schedule(sub, this.#lastDurable, () => {
            // Delivered even if the set was removed meanwhile: its rows entered the client's cache,
            // and the removal's deletes follow.
            if (!sub.active) return settle.reject(new ClosedError('the subscription ended before its rows were delivered'));
            if (cbs.onApplied) sub.guard(() => cbs.onApplied!(rows));
            settle.resolve();
          });
        });
      })
      .catch(fail);
    return {
      applied,
      unsubscribe: () => {
        if (removed) return;
        removed = true;
        if (!set || !sub.active) return;
        const s = set;
        this.#engine
          .exclusive(() => {
            if (sub.active && sub.sets.has(s)) this.#unregister(sub, s);
          })
          // A closed engine: close() ends every subscriber. Anything else left the cache half-counted.
          .catch((e: unknown) => {
            if (!(e instanceof ClosedError)) sub.end(new InternalError(`removing a query set failed, so the subscription ended (subscribe again): ${toError(e).message}`, {}, { cause: e }));
          });
      },
    };
  }

  /**
   * Compiles the set, loads its rows (one snapshot) into the subscriber — directly when a table
   * has this one single-table query, else into the cache — and attaches it to its plans.
   */
  #register(sub: Subscriber, queries: readonly string[], deliverApplied: (rows: InitialRows, set: Map<Plan, number>) => void): Map<Plan, number> {
    const rt = this.#runtime();
    const host = this.#engine.host;
    const ctx = { sender: sub.sender, isOwner: sub.isOwner };
    // Under row-level security one query may become several plans: their union is its result.
    const compiled: CompiledQuery[] = queries.flatMap((q) => applyRowLevelSecurity(host, compileQuery(host, q, ctx), ctx));
    const set = new Map<Plan, number>();
    try {
      for (const q of compiled) {
        const plan = this.#plan(q);
        set.set(plan, (set.get(plan) ?? 0) + 1);
      }
    } catch (e) {
      // A view failed on its first evaluation: the set is refused, like a query that does not compile.
      for (const plan of set.keys()) this.#dropIfUnused(plan);
      throw e;
    }
    const mark = ++this.#mark;
    const initial: InitialRows = {};
    try {
      for (const [plan, n] of set) {
        const table = plan.group.returned;
        const name = table.def.canonicalName;
        const rows = plan.group.transient ? undefined : (initial[name] ??= []);
        const plans = sub.tables.get(table);
        if (!plans) {
          sub.tables.set(table, new Map([[plan, n]]));
          if (canBeDirect(plan, n)) {
            sub.setDirect(table, true);
            if (rows) for (const row of this.#currentRows(plan)) rows.push(rt.rows.decode(table, row));
            continue;
          }
        } else {
          if (sub.isDirect(table)) {
            // A second query on the table: its rows so far become counted cache entries.
            sub.setDirect(table, false);
            for (const [only, count] of plans) {
              if (!only.group.transient) for (const row of this.#currentRows(only)) sub.seed(table, bytesKey(row), row, count);
            }
          }
          plans.set(plan, (plans.get(plan) ?? 0) + n);
        }
        if (rows) for (const row of this.#currentRows(plan)) sub.change(table, bytesKey(row), row, n, mark);
      }
    } catch (e) {
      // Half-counted rows would corrupt the cache: this subscriber cannot continue.
      for (const plan of set.keys()) this.#dropIfUnused(plan);
      const err = namedSqlError(e); // SQLite's limits (a 20,000-term OR) reach here unnamed
      sub.end(err);
      throw err;
    }
    for (const [plan, n] of set) plan.refs.set(sub, (plan.refs.get(sub) ?? 0) + n);
    sub.sets.add(set);
    for (const [t, c] of sub.finish(rt.rows)) {
      // A loop, not push(...inserts): an initial result may exceed the engine's argument limit.
      const rows = (initial[t.def.canonicalName] ??= []);
      for (const r of c.inserts) rows.push(r);
    }
    rt.rows.reset();
    deliverApplied(initial, set);
    return set;
  }

  /** Removes a set: its current rows lose their references; rows that reach zero are delivered as deletes. */
  #unregister(sub: Subscriber, set: Map<Plan, number>): void {
    const rt = this.#runtime();
    const mark = ++this.#mark;
    const gone: TableUpdate[] = [];
    for (const [plan, n] of set) {
      const table = plan.group.returned;
      const plans = sub.tables.get(table);
      if (sub.isDirect(table)) {
        // The table's only query: all its rows leave.
        const deletes = plan.group.transient ? [] : this.#currentRows(plan).map((row) => rt.rows.decode(table, row));
        if (deletes.length) gone.push({ table: table.def.canonicalName, inserts: [], deletes });
        sub.setDirect(table, false);
        sub.tables.delete(table);
      } else {
        if (!plan.group.transient) for (const row of this.#currentRows(plan)) sub.change(table, bytesKey(row), row, -n, mark);
        const left = (plans?.get(plan) ?? 0) - n;
        if (left > 0) plans!.set(plan, left);
        else plans?.delete(plan);
        if (plans?.size === 0) sub.tables.delete(table);
      }
      const refs = (plan.refs.get(sub) ?? 0) - n;
      if (refs > 0) plan.refs.set(sub, refs);
      else plan.refs.delete(sub);
      this.#dropIfUnused(plan);
    }
    sub.sets.delete(set);
    const cached = toUpdate(sub.finish(rt.rows));
    rt.rows.reset();
    // A table left with one single-table query needs its cache no more.
    for (const plan of set.keys()) {
      const plans = sub.tables.get(plan.group.returned);
      const [only] = plans ?? [];
      if (plans?.size === 1 && only && canBeDirect(only[0], only[1])) sub.setDirect(plan.group.returned, true);
    }
    const update = cached ? [...gone, ...cached] : gone;
    if (update.length) this.#schedule(sub, Promise.resolve(), () => sub.deliver(update));
  }

  /** Detaches an ended subscriber from every plan. */
  #release(sub: Subscriber): void {
    this.#subscribers.delete(sub);
    for (const set of sub.sets) {
      for (const plan of set.keys()) {
        plan.refs.delete(sub);
        this.#dropIfUnused(plan);
      }
    }
    sub.sets.clear();
  }

  /** The current rows of a plan's query (joins repeat a row once per matching pair). */
  #currentRows(plan: Plan): Uint8Array[] {
    const rt = this.#runtime();
    const source = plan.group.source;
    if (source) {
      const where = plan.query.where;
      if (where.kind === 'const' && where.value) return [...source.rows()];
      const test = (plan.filter ??= evaluator(where));
      const out: Uint8Array[] = [];
      for (const row of source.rows()) if (test(rt.decoder.decode(source.table, row, this.#scratch), NO_VALUES) === 1) out.push(row);
      return out;
    }
    if (!plan.initial) {
      const { sql, bind } = initialSql(plan.query);
      plan.initial = { stmt: this.#engine.host.datastore.sqlite.db.prepare(sql), bind };
    }
    return rt.fast.rows(plan.initial.stmt, plan.initial.bind, false, plan.query.tables[plan.query.returns]!).map((r) => r.row);
  }

  #plan(q: CompiledQuery): Plan {
    let plan = this.#plans.get(q.planKey);
    if (plan) return plan;
    let group = this.#groups.get(q.shapeKey);
    if (!group) {
      const source = q.source ? this.#source(q.source, q.tables[0]) : undefined;
      group = new Group(q, source);
      this.#groups.set(q.shapeKey, group);
      if (source) {
        source.groups.add(group);
      } else {
        for (const t of new Set(group.tables)) {
          const list = this.#byTable.get(t.def.name);
          if (list) list.push(group);
          else this.#byTable.set(t.def.name, [group]);
        }
      }
    }
    plan = new Plan(q, group);
    group.add(plan);
    this.#plans.set(q.planKey, plan);
    return plan;
  }

  #dropIfUnused(plan: Plan): void {
    if (plan.refs.size > 0 || this.#plans.get(plan.key) !== plan) return;
    this.#plans.delete(plan.key);
    if (plan.initial && !this.#closed) {
      try {
        plan.initial.stmt.finalize();
      } catch {
        /* its database was closed (and finalized it) already */
      }
    }
    plan.initial = undefined;
    const group = plan.group;
    group.remove(plan);
    if (group.size > 0) return;
    this.#groups.delete(group.shapeKey);
    const source = group.source;
    if (source) {
      source.groups.delete(group);
      if (source.groups.size === 0 && this.#sources.get(source.key) === source) {
        this.#sources.delete(source.key);
        if (!this.#closed) source.dispose();
      }
      return;
    }
    for (const t of new Set(group.tables)) {
      const list = this.#byTable.get(t.def.name);
      if (!list) continue;
      const i = list.indexOf(group);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#byTable.delete(t.def.name);
    }
  }

  /**
   * The Source of `spec`, evaluated once when new (between transactions; a view that throws
   * throws here, and nothing is kept).
   */
  #source(spec: SourceSpec, table: StoreTable): Source {
    const known = this.#sources.get(spec.key);
    if (known) return known;
    let source: Source;
    if (spec.kind === 'view') {
      const engine = this.#engine;
      source = new Source(spec.key, table, () => evaluateView(engine, spec.view.name, spec.sender));
    } else {
      const rt = this.#runtime();
      const stmt = this.#engine.host.datastore.sqlite.db.prepare(spec.sql);
      const reads = new Set(spec.reads);
      source = new Source(
        spec.key,
        table,
        () => ({ rows: rt.fast.rows(stmt, spec.bind, false, table).map((r) => r.row), reads }),
        () => {
          try {
            stmt.finalize();
          } catch {
            /* its database was closed (and finalized it) already */
          }
        },
      );
    }
    try {
      source.refresh();
    } catch (e) {
      source.dispose();
      throw e;
    }
    this.#sources.set(spec.key, source);
    return source;
  }

  #runtime(): Runtime {
    const host = this.#engine.host;
    if (this.#rt && this.#rt.datastore !== host.datastore) {
      // The engine switched datastores (a module published over the running database): plans
      // point at the old tables, so every subscription ends and must be made again.
      const err = new ClosedError('the database was published again: subscribe again to follow the new module', { reason: 'republished' });
      for (const s of [...this.#subscribers]) s.end(err);
      this.#rt = undefined;
    }
    if (!this.#rt) {
      const { sqlite3, db } = host.datastore.sqlite;
      const fast = new FastSql(sqlite3);
      this.#rt = { datastore: host.datastore, fast, lookups: new Lookups(db, fast), decoder: new StoredDecoder(), rows: new RowDecoding(host.schema.typespace) };
    }
    return this.#rt;
  }

  // ---- commits -------------------------------------------------------------------------------

  /** Runs synchronously inside the commit: SQLite holds exactly the post-commit state. */
  #onCommit(delta: TxDelta, durable: Promise<void>): void {
    this.#lastDurable = durable;
    if (this.#groups.size === 0 || delta.tables.length === 0) return;
    try {
      this.#evaluate(delta, durable);
    } catch (e) {
      // The caches can no longer be trusted: end every subscriber rather than deliver wrong rows.
      const err = new InternalError(`live query evaluation failed, so every subscription was ended (subscribe again): ${toError(e).message}`, {}, { cause: e });
      for (const s of [...this.#subscribers]) s.end(err);
    }
  }

  #evaluate(delta: TxDelta, durable: Promise<void>): void {
    const rt = this.#runtime();
    const ds = this.#engine.host.datastore;
    const tx = new TxEval(++this.#mark, delta, (name) => ds.tableByName(name), rt.decoder, rt.lookups);
    const refreshed = this.#sources.size > 0 ? this.#refreshSources(delta, durable) : undefined;
    for (const td of delta.tables) {
      const groups = this.#byTable.get(td.table);
      if (groups) for (const g of groups) g.evaluate(tx);
    }
    if (refreshed) {
      for (let i = 0; i < refreshed.sources.length; i++) {
        for (const g of refreshed.sources[i]!.groups) g.evaluateChanges(tx, refreshed.changes[i]!);
      }
    }
    if (tx.plans.length === 0) return;
    const touched: Subscriber[] = [];
    for (const sink of tx.plans) {
      const plan = sink as Plan;
      const table: StoreTable = plan.group.returned;
      const transient = plan.group.transient;
      /** The change of a direct table, built once for every subscriber of the plan (null: nothing changed). */
      let shared: TableUpdate | null | undefined;
      let alone: TableUpdate[] = [];
      // forEach, not for…of: no entry pair allocated per subscriber.
      plan.refs.forEach((refs, sub) => {
        if (sub.isDirect(table)) {
          if (shared === undefined) {
            shared = sharedUpdate(plan, rt.rows);
            if (shared) alone = [shared];
          }
          if (shared === null) return;
          if (sub.mark !== tx.id) {
            sub.mark = tx.id;
            touched.push(sub);
          }
          sub.direct(shared, alone);
          return;
        }
        for (const [key, p] of plan.pending) {
          if (p.n === 0 || (transient && p.n < 0)) continue;
          if (sub.mark !== tx.id) {
            sub.mark = tx.id;
            touched.push(sub);
          }
          if (transient) sub.transient(table, key, p.row);
          else sub.change(table, key, p.row, p.n * refs, tx.id);
        }
      });
      plan.pending.clear();
    }
    const immediate: { subs: Subscriber[]; updates: TableUpdate[][] } = { subs: [], updates: [] };
    const confirmed: { subs: Subscriber[]; updates: TableUpdate[][] } = { subs: [], updates: [] };
    const inline: { subs: Subscriber[]; updates: TableUpdate[][] } = { subs: [], updates: [] };
    for (const sub of touched) {
      const update = sub.finishUpdate(rt.rows);
      if (!update) continue;
      const batch = sub.inline ? inline : sub.confirmedReads ? confirmed : immediate;
      batch.subs.push(sub);
      batch.updates.push(update);
    }
    rt.rows.reset();
    for (let i = 0; i < inline.subs.length; i++) inline.subs[i]!.deliver(inline.updates[i]!);
    if (immediate.subs.length) {
      queueMicrotask(() => {
        for (let i = 0; i < immediate.subs.length; i++) immediate.subs[i]!.deliver(immediate.updates[i]!);
      });
    }
    if (confirmed.subs.length) {
      this.#afterDurable(durable, (err) => {
        for (let i = 0; i < confirmed.subs.length; i++) {
          if (err === undefined) confirmed.subs[i]!.deliver(confirmed.updates[i]!);
          else confirmed.subs[i]!.end(storageFailure(err));
        }
      });
    }
  }

  /**
   * Evaluates again every Source that read a table the commit changed, and returns those whose
   * rows changed, with how. A Source whose evaluation throws ends its subscribers (only them).
   */
  #refreshSources(delta: TxDelta, durable: Promise<void>): { sources: Source[]; changes: TableChanges[] } | undefined {
    const changed = new Set<string>();
    for (const td of delta.tables) if (td.inserts.length + td.deletes.length > 0) changed.add(td.table);
    let out: { sources: Source[]; changes: TableChanges[] } | undefined;
    let failed: [Source, unknown][] | undefined;
    for (const source of this.#sources.values()) {
      if (!source.readsAny(changed)) continue;
      try {
        const ch = source.refresh();
        if (!ch) continue;
        out ??= { sources: [], changes: [] };
        out.sources.push(source);
        out.changes.push(ch);
      } catch (e) {
        (failed ??= []).push([source, e]);
      }
    }
    if (!failed) return out;
    for (const [source, e] of failed) {
      const err = sourceFailure(source, e);
      const subs = new Set<Subscriber>();
      for (const g of source.groups) for (const plan of g.plans()) for (const sub of plan.refs.keys()) subs.add(sub);
      for (const sub of subs) this.#fail(sub, err, durable);
    }
    // Sources only the ended subscribers read are gone.
    if (out) {
      const kept: { sources: Source[]; changes: TableChanges[] } = { sources: [], changes: [] };
      for (let i = 0; i < out.sources.length; i++) {
        if (out.sources[i]!.groups.size === 0) continue;
        kept.sources.push(out.sources[i]!);
        kept.changes.push(out.changes[i]!);
      }
      out = kept.sources.length ? kept : undefined;
    }
    return out;
  }

  /**
   * Ends `sub` with `err` after what is already queued for it (earlier transactions' updates),
   * detaching it from its plans now so that it receives nothing of this transaction or later.
   */
  #fail(sub: Subscriber, err: Error, durable: Promise<void>): void {
    if (!sub.active || sub.closing) return;
    sub.closing = true;
    this.#release(sub);
    this.#schedule(sub, durable, () => sub.end(err));
  }

  /** Runs `f` for `sub` in commit order: now (inline), after `durable` (and everything before) for confirmed reads, else in a microtask. */
  #schedule(sub: Subscriber, durable: Promise<void>, f: () => void): void {
    if (sub.inline) f();
    else if (sub.confirmedReads) this.#afterDurable(durable, () => f());
    else queueMicrotask(f);
  }

  #afterDurable(durable: Promise<void>, run: (err: unknown) => void): void {
    this.#tail = this.#tail
      .then(() =>
        durable.then(
          () => run(undefined),
          (e: unknown) => run(e ?? new Error('durability failed')),
        ),
      )
      .catch((e: unknown) => console.error('lightcone: live query delivery failed', e));
  }
}

const NO_VALUES: readonly never[] = [];

/** The error a Source's subscribers end with when it could not be evaluated again. */
function sourceFailure(source: Source, e: unknown): Error {
  const name = source.table.def.canonicalName;
  const ended = `the subscriptions reading ${name} ended (subscribe again once it evaluates without error)`;
  if (e instanceof SqlError) return new SqlError(e.code, `${e.message}; ${ended}`, { ...e.details, source: name }, { cause: e });
  return new InternalError(`${name} could not be evaluated again after a commit (${toError(e).message}); ${ended}`, {}, { cause: e });
}

/** A table can be delivered without a cache when one single-table (or event) query, once, returns it. */
function canBeDirect(plan: Plan, n: number): boolean {
  return n === 1 && !plan.group.join;
}

/** A direct plan's change as one TableUpdate (each changed row counts ±1), or null when nothing changed. */
function sharedUpdate(plan: Plan, rows: RowDecoding): TableUpdate | null {
  const table = plan.group.returned;
  const inserts: Row[] = [];
  const deletes: Row[] = [];
  for (const [key, p] of plan.pending) {
    if (p.n > 0) inserts.push(rows.row(table, key, p.row));
    else if (p.n < 0 && !plan.group.transient) deletes.push(rows.row(table, key, p.row));
  }
  return inserts.length + deletes.length ? { table: table.def.canonicalName, inserts, deletes } : null;
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function storageFailure(e: unknown): Error {
  if (e instanceof LightconeError) return e;
  return new StorageError('WRITE_FAILED', `a transaction this subscription saw could not be made durable, so the subscription ended: ${toError(e).message}`, {}, { cause: e });
}
