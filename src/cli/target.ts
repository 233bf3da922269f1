// What the CLI's data commands act on: the embedded data directory (this file) or a server
// (`--server`, remote.ts). Both hand back the same shapes, so main.ts prints them the same way.
import type { LogEntry, SchemaDescription, SqlResult, SubscribeCallbacks } from '../api/database.ts';
import type { PublishResult } from '../engine/engine.ts';
import { databaseInfo, deleteDatabase, listDatabases, openDatabase, openThreadDatabase, type NodeDatabase, type OpenDatabaseOptions } from '../node/open-database.ts';
import { splitStatements } from '../server/routes.ts';
import { parseJsonArg } from './json-arg.ts';
import type { SqlSession } from './repl.ts';

/** A database as `list` shows it (a server may not tell a name). */
export interface ListedDatabase {
  name: string | undefined;
  identity: string | undefined;
}

/** Live-query callbacks of `subscribe` (rows keyed by column canonical name, as `db.subscribe` gives). */
export type SubscribeHandlers = Required<Pick<SubscribeCallbacks, 'onApplied' | 'onUpdate'>>;

/** What publishing a module over a database would do. */
export type PublishPlan = { kind: 'new' } | { kind: 'unchanged' } | { kind: 'changes'; changes: string[] };

export interface Target {
  /** Publishes the bundle `code` as `name` (`clear`: its data deleted first); the database identity in hex. */
  publish(name: string, code: string, clear: boolean): Promise<{ op: PublishResult; identity: string }>;
  /** What publishing `code` over `name` would change; throws ModuleError MIGRATION_REFUSED listing what the rules refuse. */
  prePublish(name: string, code: string): Promise<PublishPlan>;
  /** Whether database `name` exists. */
  exists(name: string): Promise<boolean>;
  /** The database held open for a series of statements (the SQL prompt). */
  session(name: string): Promise<SqlSession>;
  /** Calls a reducer (undefined) or procedure (its value) with arguments given as JSON texts. */
  call(name: string, fn: string, args: string[]): Promise<unknown>;
  /** One result per statement. */
  sql(name: string, query: string): Promise<SqlResult[]>;
  logs(name: string, limit: number | undefined): Promise<LogEntry[]>;
  /** `logs` then each new entry as it is logged, until `signal` aborts (or the server ends the stream). */
  followLogs(name: string, limit: number | undefined, onEntry: (e: LogEntry) => void, signal: AbortSignal): Promise<void>;
  describe(name: string): Promise<SchemaDescription>;
  list(): Promise<ListedDatabase[]>;
  /** Text for `list` when there is nothing: where it looked. */
  readonly emptyList: string;
  delete(name: string): Promise<void>;
  /** Runs a subscription until `signal` aborts; rejects when it ends otherwise (a refused query, a lost connection). */
  subscribe(name: string, queries: string[], on: SubscribeHandlers, signal: AbortSignal): Promise<void>;
}

/** How often the embedded `logs -f` looks for new entries. */
const POLL_MS = 250;

/** The data directory `dataDir`, each command opening the database and closing it again. */
export function embeddedTarget(dataDir: string, limits: Pick<OpenDatabaseOptions, 'callTimeoutMs' | 'maxHeapMb'>, identity: string | undefined): Target {
  const sender = identity !== undefined ? { sender: identity } : {};
  const withDb = async <T>(name: string, f: (db: NodeDatabase) => Promise<T>): Promise<T> => {
    const db = await openDatabase({ dataDir, name, ...limits });
    try {
      return await f(db);
    } finally {
      await db.close();
    }
  };
  return {
    async publish(name, code, clear) {
      const db = await openDatabase({ dataDir, name, ...limits, code, deleteData: clear });
      await db.close();
      return { op: db.published, identity: db.identity.toHexString() };
    },
    async prePublish(name, code) {
      if (databaseInfo(dataDir, name) === undefined) return { kind: 'new' };
      const db = await openThreadDatabase({ dataDir, name, ...limits });
      try {
        const plan = await db.server.prePublish(code);
        return plan === undefined ? { kind: 'unchanged' } : { kind: 'changes', changes: plan.changes };
      } finally {
        await db.close();
      }
    },
    exists: async (name) => databaseInfo(dataDir, name) !== undefined,
    async session(name) {
      const db = await openDatabase({ dataDir, name, ...limits });
      return { query: (q) => db.query(q, sender), describe: () => db.describe(), close: () => db.close() };
    },
    call: (name, fn, args) => {
      const values = args.map((a, i) => parseJsonArg(a, i + 1));
      return withDb(name, (db) => db.call(fn, values, sender));
    },
    // One result per statement, as the server's /sql answers (the engine takes one statement at a time).
    sql: (name, query) =>
      withDb(name, async (db) => {
        const results: SqlResult[] = [];
        for (const statement of splitStatements(query)) results.push(await db.query(statement, sender));
        if (results.length === 0) results.push(await db.query(query, sender)); // nothing but `;`: the engine names what is wrong
        return results;
      }),
    logs: (name, limit) => withDb(name, (db) => db.logs(limit !== undefined ? { limit } : {})),
    followLogs: (name, limit, onEntry, signal) =>
      withDb(name, async (db) => {
        let seen = await db.logs(limit !== undefined ? { limit } : {});
        for (const e of seen) onEntry(e);
        while (!signal.aborted) {
          await sleep(POLL_MS, signal);
          const now = await db.logs();
          for (const e of newEntries(seen, now)) onEntry(e);
          seen = now;
        }
      }),
    describe: (name) => withDb(name, (db) => db.describe()),
    list: () => listDatabases(dataDir),
    emptyList: `no databases in ${dataDir}`,
    delete: (name) => deleteDatabase(dataDir, name),
    subscribe: (name, queries, on, signal) =>
      withDb(
        name,
        (db) =>
          new Promise<void>((resolve, reject) => {
            // The engine thread does not keep the process alive (it is unref'd): this does, meanwhile.
            const alive = setInterval(() => {}, 2 ** 30);
            const fail = (e: Error) => {
              clearInterval(alive);
              reject(e);
            };
            const sub = db.subscribe(queries, { ...on, onError: fail }, sender);
            sub.applied.catch(fail);
            const stop = () => {
              clearInterval(alive);
              sub.unsubscribe();
              resolve();
            };
            if (signal.aborted) stop();
            else signal.addEventListener('abort', stop, { once: true });
          }),
      ),
  };
}

/**
 * The entries of `now` that `before` (an earlier read of the same log) did not have: those after
 * its last entry, matched by time and by how many entries share that time.
 */
export function newEntries(before: readonly LogEntry[], now: readonly LogEntry[]): LogEntry[] {
  const last = before.at(-1);
  if (!last) return [...now];
  const sameTime = before.filter((e) => e.ts === last.ts).length;
  const i = now.findIndex((e) => e.ts === last.ts);
  return i < 0 ? now.filter((e) => e.ts > last.ts) : now.slice(i + sameTime);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
