// The public shapes of live queries: what `db.subscribe` takes and what its callbacks receive.
// Rows are plain objects keyed by column canonical name, with the module library's own value
// types (bigint, Identity, Timestamp, …), exactly as `db.sql` returns them.

/**
 * One row of a table, keyed by column canonical name (as `db.sql` returns rows). Row objects and
 * update arrays may be shared between subscribers: treat them as read-only.
 */
export type Row = Record<string, unknown>;

/** The initial rows of a subscription, keyed by table canonical name (one snapshot). */
export type InitialRows = Record<string, Row[]>;

/**
 * What one committed transaction changed in one table of a subscriber's results. An updated row
 * is a delete of the old row plus an insert of the new one (pair them by primary key).
 */
export interface TableUpdate {
  /** Table canonical name. */
  table: string;
  inserts: Row[];
  deletes: Row[];
}

/** Callbacks of `db.subscribe`. */
export interface SubscribeCallbacks {
  /**
   * Called once with every matching row, from one snapshot taken between transactions. Event
   * tables contribute nothing here (their rows exist only inside a transaction).
   */
  onApplied?: (initial: InitialRows) => void;
  /**
   * Called once per committed transaction that changed the subscription's results, in commit
   * order, never for a transaction that did not touch them. Rows shared by several queries of
   * the subscription are inserted once and deleted when no query matches them any more.
   */
  onUpdate?: (update: TableUpdate[]) => void;
  /**
   * Called when a query is refused (SqlError: unknown table or column, unindexed join, a view that
   * throws, …), a transaction it saw could not be made durable (StorageError), or a view it reads
   * threw when re-run after a commit (SqlError VIEW_FAILED or VIEW_DUPLICATE_KEY, after the
   * updates of earlier transactions): the subscription is then over, no more callbacks. Also
   * called with what `onApplied` or `onUpdate` threw; that one goes on.
   */
  onError?: (error: Error) => void;
}

/** Options of `db.subscribe`. */
export interface SubscribeOptions {
  /**
   * Subscriber identity (hex): what `:sender` binds to, whom sender views are computed for, whose
   * row-level security rules filter the rows (the owner bypasses them), and who must own private
   * tables. Defaults to the owner.
   */
  sender?: string;
  /**
   * Deliver a transaction only once it is durable (the default, as SpacetimeDB 2.x). `false`
   * delivers right after commit: lower latency, but a crash may forget what was delivered.
   */
  confirmedReads?: boolean;
}

/** A live subscription; returned synchronously, before its rows arrive. */
export interface SubscriptionHandle {
  /**
   * Resolves after `onApplied` ran; rejects with the error given to `onError` (a refused query,
   * a closed database). Awaiting it is optional: an unobserved rejection is not reported as unhandled.
   */
  readonly applied: Promise<void>;
  /** True until `unsubscribe`, an error or closing the database ended the subscription. */
  readonly active: boolean;
  /** Stops the subscription at once: no callback runs after this returns. Idempotent. */
  unsubscribe(): void;
}
