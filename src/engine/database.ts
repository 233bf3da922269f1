// The `Database` interface of ARCHITECTURE.md, the same in Node and in the browser, as a thin
// facade over an Engine. Names here are a public contract: add, don't rename.
import type { Identity } from 'spacetimedb';
import type { LogEntry } from '../host/host.ts';
import { describeSchema, type SchemaDescription } from './describe.ts';
import type { CallOptions, Engine } from './engine.ts';
import type { SqlOptions, SqlResult } from '../sql/execute.ts';

export type { CallOptions, LogEntry, SqlOptions, SqlResult, SchemaDescription };

/** One Lightcone database. */
export interface Database {
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
  call(name: string, args?: unknown, opts?: CallOptions): Promise<unknown>;
  /** Runs SpacetimeDB SQL; resolves with the rows as objects keyed by column name. */
  sql(query: string, opts?: SqlOptions): Promise<Record<string, unknown>[]>;
  /** Like `sql`, with column names and types (what `lightcone sql` prints). */
  query(query: string, opts?: SqlOptions): Promise<SqlResult>;
  /** The module's log, oldest first. */
  logs(opts?: { limit?: number }): Promise<LogEntry[]>;
  /** Tables, reducers, procedures and views of the module. */
  describe(): Promise<SchemaDescription>;
  /** Makes everything durable and releases the storage. */
  close(): Promise<void>;
}

/** Wraps an engine in the public interface. */
export function databaseFacade(engine: Engine): Database {
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
    close: () => engine.close(),
  };
}
