// One subscriber (a client connection): its identity, its query sets, and the reference-counted
// row cache behind SpacetimeDB's client semantics — a row matched by several queries (or several
// times by one join) is inserted on 0→1 and deleted on 1→0, whatever the order of the changes
// within one transaction. A table that only one single-table query returns needs no cache: it is
// "direct", and receives that query's change as is (built once, shared by every such subscriber).
// Event rows are delivered as inserts and never cached.
import { compactBytes } from '../datastore/bytes.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import { InternalError } from '../errors.ts';
import type { Plan } from './query-group.ts';
import type { RowDecoding } from './rows.ts';
import type { Row, TableUpdate } from './types.ts';

/** A cached row and its reference count; `before`/`mark` remember the count at the start of the current round. */
interface Entry {
  readonly table: StoreTable;
  readonly key: string;
  readonly row: Uint8Array;
  count: number;
  before: number;
  mark: number;
}

/** Connection-level callbacks: every row change of the subscriber's cache, and the end of it. */
export interface SubscriberCallbacks {
  /** One call per round (a committed transaction, or an unsubscribed query set) that changed the cache. */
  onUpdate?: (update: TableUpdate[]) => void;
  /** The subscriber failed (durability, closing, internal error) and is over; or a callback threw. */
  onError?: (error: Error) => void;
}

/** Who a subscriber is and how it wants updates. */
export interface SubscriberOptions extends SubscriberCallbacks {
  sender: bigint;
  isOwner: boolean;
  confirmedReads: boolean;
  /** Delivered synchronously inside the engine's turn (see `SubscriberIdentity.inline`). */
  inline?: boolean;
}

/** The rows a round inserted into and deleted from the cache, per table. */
export type CacheChanges = Map<StoreTable, { inserts: Row[]; deletes: Row[] }>;

export class Subscriber {
  readonly sender: bigint;
  readonly isOwner: boolean;
  readonly confirmedReads: boolean;
  readonly inline: boolean;
  readonly #callbacks: SubscriberCallbacks;
  /** Active query sets: each plan with the number of its queries that are that plan. */
  readonly sets = new Set<Map<Plan, number>>();
  readonly #cache = new Map<StoreTable, Map<string, Entry>>();
  /** Per returned table, the plans (of all sets) returning it and their reference counts. */
  readonly tables = new Map<StoreTable, Map<Plan, number>>();
  /** Tables served directly by their single plan (no cache). */
  readonly #direct = new Set<StoreTable>();
  #directUpdates: TableUpdate[] | undefined;
  /** `#directUpdates` is a plan's shared `[update]` array (copy before adding to it). */
  #directShared = false;
  #touched: Entry[] = [];
  #transient: Map<StoreTable, Map<string, Uint8Array>> | undefined;
  /** Id of the round that last touched this subscriber (the manager collects touched subscribers by it). */
  mark = -1;
  #active = true;
  /**
   * Set when the subscriber must end after the deliveries already queued for it (a view it reads
   * failed): it is detached from its plans at once and takes no new query sets.
   */
  closing = false;
  /** Runs when the subscriber ends (unregisters it from its plans). */
  onEnd: (() => void) | undefined;

  constructor(opts: SubscriberOptions) {
    this.sender = opts.sender;
    this.isOwner = opts.isOwner;
    this.confirmedReads = opts.confirmedReads;
    this.inline = opts.inline ?? false;
    this.#callbacks = { ...(opts.onUpdate ? { onUpdate: opts.onUpdate } : {}), ...(opts.onError ? { onError: opts.onError } : {}) };
  }

  get active(): boolean {
    return this.#active;
  }

  isDirect(table: StoreTable): boolean {
    return this.#direct.has(table);
  }

  /** Switches `table` to direct delivery (dropping its cache) or back to the cache. */
  setDirect(table: StoreTable, direct: boolean): void {
    if (direct) {
      this.#direct.add(table);
      this.#cache.delete(table);
    } else {
      this.#direct.delete(table);
    }
  }

  /** Sets a cached row's count without a transition (when a direct table moves to the cache). */
  seed(table: StoreTable, key: string, row: Uint8Array, count: number): void {
    let rows = this.#cache.get(table);
    if (!rows) {
      rows = new Map();
      this.#cache.set(table, rows);
    }
    rows.set(key, { table, key, row: compactBytes(row), count, before: count, mark: -1 });
  }

  /**
   * A direct table's change in this round, shared with the plan's other subscribers; `alone` is
   * `[update]`, also shared, delivered as is when nothing else changed for this subscriber.
   */
  direct(update: TableUpdate, alone: TableUpdate[]): void {
    if (this.#directUpdates === undefined) {
      this.#directUpdates = alone;
      this.#directShared = true;
      return;
    }
    if (this.#directShared) {
      // Never grow an array other subscribers were handed too.
      this.#directUpdates = [...this.#directUpdates];
      this.#directShared = false;
    }
    this.#directUpdates.push(update);
  }

  /** Adds `d` references to `row` of `table` in round `mark`. */
  change(table: StoreTable, key: string, row: Uint8Array, d: number, mark: number): void {
    let rows = this.#cache.get(table);
    if (!rows) {
      rows = new Map();
      this.#cache.set(table, rows);
    }
    let e = rows.get(key);
    if (!e) {
      // Kept while the row is in the results: not as a view into a transaction's shared chunk.
      e = { table, key, row: compactBytes(row), count: 0, before: 0, mark };
      rows.set(key, e);
      this.#touched.push(e);
    } else if (e.mark !== mark) {
      e.mark = mark;
      e.before = e.count;
      this.#touched.push(e);
    }
    e.count += d;
  }

  /** An event row (or a row joined to one) of this round: an insert, once, never cached. */
  transient(table: StoreTable, key: string, row: Uint8Array): void {
    this.#transient ??= new Map();
    let rows = this.#transient.get(table);
    if (!rows) {
      rows = new Map();
      this.#transient.set(table, rows);
    }
    rows.set(key, row);
  }

  /** Ends a commit's round: the direct tables' changes, then the cached rows whose count crossed zero. */
  finishUpdate(rows: RowDecoding): TableUpdate[] | undefined {
    const direct = this.#directUpdates;
    this.#directUpdates = undefined;
    if (this.#touched.length === 0 && !this.#transient) return direct;
    const cached = toUpdate(this.finish(rows));
    if (!direct) return cached;
    return cached ? [...direct, ...cached] : direct;
  }

  /** Ends a round of cache changes: the rows whose count crossed zero, decoded, per table (empty when none did). */
  finish(rows: RowDecoding): CacheChanges {
    const out: CacheChanges = new Map();
    const slot = (t: StoreTable) => {
      let s = out.get(t);
      if (!s) {
        s = { inserts: [], deletes: [] };
        out.set(t, s);
      }
      return s;
    };
    const touched = this.#touched;
    this.#touched = [];
    for (const e of touched) {
      if (e.count < 0) throw new InternalError(`live query reference count of a ${e.table.def.canonicalName} row went negative: this is a Lightcone bug`);
      if (e.before === 0 && e.count > 0) slot(e.table).inserts.push(rows.row(e.table, e.key, e.row));
      else if (e.before > 0 && e.count === 0) slot(e.table).deletes.push(rows.row(e.table, e.key, e.row));
      if (e.count === 0) this.#cache.get(e.table)!.delete(e.key);
    }
    if (this.#transient) {
      for (const [t, m] of this.#transient) for (const [k, r] of m) slot(t).inserts.push(rows.row(t, k, r));
      this.#transient = undefined;
    }
    return out;
  }

  /** Calls `onUpdate` (unless ended); a throwing callback is reported, not fatal. */
  deliver(update: TableUpdate[]): void {
    const f = this.#callbacks.onUpdate;
    if (!this.#active || !f) return;
    try {
      f(update);
    } catch (e) {
      this.#report(e);
    }
  }

  /** Runs a user callback, routing what it throws to `onError` (or the console). */
  guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#report(e);
    }
  }

  #report(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    if (this.#callbacks.onError && this.#active) {
      try {
        this.#callbacks.onError(err);
        return;
      } catch {
        /* fall through to the console */
      }
    }
    console.error('lightcone: a live query callback threw', err);
  }

  /** Ends the subscriber; with an error, tells `onError`. Idempotent. */
  end(error?: Error): void {
    if (!this.#active) return;
    this.#active = false;
    this.onEnd?.();
    this.#cache.clear();
    this.#direct.clear();
    this.tables.clear();
    this.#touched = [];
    this.#transient = undefined;
    this.#directUpdates = undefined;
    if (error && this.#callbacks.onError) {
      const cb = this.#callbacks.onError;
      try {
        cb(error);
      } catch (e) {
        console.error('lightcone: a live query onError callback threw', e);
      }
    }
  }
}

/** Cache changes as the `TableUpdate[]` callbacks receive, or undefined when nothing changed. */
export function toUpdate(changes: CacheChanges): TableUpdate[] | undefined {
  let out: TableUpdate[] | undefined;
  for (const [t, c] of changes) {
    if (c.inserts.length === 0 && c.deletes.length === 0) continue;
    (out ??= []).push({ table: t.def.canonicalName, inserts: c.inserts, deletes: c.deletes });
  }
  return out;
}
