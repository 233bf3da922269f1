// The `Database` interface (docs/architecture.md §4), the same in Node and in the browser, as a thin
// facade over an Engine and its live queries: it sits above the layers it wraps (engine,
// subscriptions, sql), which never import it. Names here are a public contract: add, don't rename.
import type { Identity } from 'spacetimedb';
import type { LogEntry } from '../host/host.ts';
import { describeSchema, type SchemaDescription } from '../engine/describe.ts';
import type { CallOptions, Engine } from '../engine/engine.ts';
import { toIdentity } from '../host/identity.ts';
import type { SqlOptions, SqlResult } from '../sql/execute.ts';
import type { RouteRequest, RouteResponse } from '../host/http-wire.ts';
import { routeFetch } from './fetch.ts';
import { SubscriptionManager } from '../subscriptions/manager.ts';
import type { InitialRows, Row, SubscribeCallbacks, SubscribeOptions, SubscriptionHandle, TableUpdate } from '../subscriptions/types.ts';
import type { CallName, CallRest, CallResult, SqlRow, TypedSqlResult, TypedSubscribeCallbacks } from './typed.ts';

import type { SyncStatus } from '../sync/replica.ts';
export type { SyncStatus };
export type { CallOptions, LogEntry, SqlOptions, SqlResult, SchemaDescription, RouteRequest, RouteResponse };
export type { InitialRows, Row, SubscribeCallbacks, SubscribeOptions, SubscriptionHandle, TableUpdate };
export type { CallName, CallRest, CallResult, RowOf, SnakeCase, SqlRow, TableName, TablesOf, TypedInitialRows, TypedSqlResult, TypedSubscribeCallbacks, TypedTableUpdate } from './typed.ts';

/**
 * One Lightcone database. `M` is the module's type (`typeof import('./chat/index.ts')`): with it,
 * `call` takes only the module's reducers and procedures with their argument types, and rows of
 * tables are typed (see src/api/typed.ts); without it (the default) everything is untyped.
 */
export interface Database<M = unknown> {
  /** The database's name. */
  readonly name: string;
  /** The database's own identity (what `ctx.databaseIdentity` returns). */
  readonly identity: Identity;
  /** The owner identity (the publisher; the default caller). */
  readonly owner: Identity;
  /**
   * Calls a reducer or procedure. `args` is an object keyed by parameter name or an array in
   * parameter order. Resolves once the transaction is durable, with a procedure's return value
   * (undefined for reducers); rejects with `SenderError` or `InternalError`.
   */
  call<F extends CallName<M>>(name: F, ...rest: CallRest<M, F>): Promise<CallResult<M, F>>;
  /**
   * Runs SpacetimeDB SQL; resolves with the rows as objects keyed by column name (typed as the
   * table's rows for `SELECT * FROM <table> [WHERE …]` when the database is typed).
   */
  sql<Q extends string>(query: Q, opts?: SqlOptions): Promise<SqlRow<M, Q>[]>;
  /** Like `sql`, with column names and types (what `lightcone sql` prints). */
  query<Q extends string>(query: Q, opts?: SqlOptions): Promise<TypedSqlResult<M, Q>>;
  /** The module's log, oldest first. */
  logs(opts?: { limit?: number }): Promise<LogEntry[]>;
  /** Tables, reducers, procedures and views of the module. */
  describe(): Promise<SchemaDescription>;
  /**
   * Subscribes to live queries in SpacetimeDB's subscription SQL (`SELECT * | t.* FROM t [WHERE …]`,
   * or a join of two tables on indexed columns returning one side's rows). Returns at once;
   * `onApplied` then receives every matching row from one snapshot, and `onUpdate` one update per
   * committed transaction that changed them, in commit order, after the transaction is durable
   * (unless `confirmedReads: false`). Rows matched by several of the queries are delivered once.
   * A refused query ends the subscription through `onError` with a SqlError, and `applied` rejects.
   *
   * @example
   * ```ts
   * const sub = db.subscribe(['SELECT * FROM message WHERE room_id = 5'], {
   *   onApplied: (initial) => render(initial.message),
   *   onUpdate: (update) => { for (const t of update) apply(t.table, t.inserts, t.deletes); },
   * });
   * await sub.applied;
   * sub.unsubscribe();
   * ```
   */
  subscribe(queries: string[], callbacks: TypedSubscribeCallbacks<M>, opts?: SubscribeOptions): SubscriptionHandle;
  /**
   * Calls the module's HTTP handlers (`spacetimedb.httpHandler` + `httpRouter`) as SpacetimeDB
   * serves them at `/v1/database/<name>/route/<path>`: `db.fetch('/hello')`, or a Request or URL
   * (a URL with that prefix routes by what follows it). Resolves, once the handler's transactions
   * are durable, with its Response; 404 when no route matches, 500 when the handler throws.
   */
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
  /** `fetch` in plain data (crosses threads and `postMessage`): what `fetch` and the server call. */
  fetchRoute(request: RouteRequest): Promise<RouteResponse>;
  /** Makes everything durable and releases the storage. */
  close(): Promise<void>;
  /** Present when the database follows a remote one (`remote`): where sync stands. */
  readonly sync?: SyncHandle;
}

/** Sync's state for an app ("3 changes waiting", online or not). */
export interface SyncHandle {
  /** The status now. */
  status(): Promise<SyncStatus>;
  /** Calls `listener` with each new status; returns the function that stops it. */
  onStatus(listener: (status: SyncStatus) => void): () => void;
}

/** Wraps an engine in the public interface. */
export function databaseFacade(engine: Engine): Database {
  const live = new SubscriptionManager(engine);
  return {
    name: engine.name,
    get identity() {
      return engine.identity;
    },
    owner: engine.owner,
    call: (name, args, opts) => engine.call(name, args, opts),
    query: (q, opts) => engine.sql(q, opts),
    sql: async (q, opts) => (await engine.sql(q, opts)).rows,
    logs: async (opts) => engine.logs(opts?.limit),
    describe: async () => describeSchema(engine),
    fetch: routeFetch((req) => engine.fetchRoute(req)),
    fetchRoute: (req) => engine.fetchRoute(req),
    subscribe: (queries, callbacks, opts = {}) =>
      live.subscribe(queries, callbacks, {
        sender: opts.sender !== undefined ? toIdentity(opts.sender, 'sender').__identity__ : engine.owner.__identity__,
        confirmedReads: opts.confirmedReads ?? true,
      }),
    close: async () => {
      try {
        await engine.close();
      } finally {
        await live.close();
      }
    },
  };
}
