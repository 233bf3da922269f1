// The databases a server holds: each under `<dataDir>/databases/<name>` (the layout the CLI's
// embedded mode uses), opened on first use, each with its engine in a worker thread of its own (its
// own V8 isolate and heap, a time budget per call; see src/node/engine-thread.ts). Publishing,
// deleting and opening one database run one at a time; other databases are not held up.
import { ModuleError, UsageError } from '../errors.ts';
import { databaseInfo, deleteDatabase, listDatabases, openThreadDatabase } from '../node/open-database.ts';
import type { ThreadDatabase } from '../node/engine-thread.ts';

export interface DatabasesOptions {
  dataDir: string;
  callTimeoutMs?: number | undefined;
  maxHeapMb?: number | undefined;
}

/** Refused because the caller does not own the database (answered 403). */
export class PermissionError extends Error {
  override readonly name = 'PermissionError';
}

export type PublishOp = 'created' | 'updated' | 'unchanged';

/** What `pre_publish` found. */
export type PrePublish = { kind: 'new' } | { kind: 'auto'; changes: string[]; breakClients: boolean } | { kind: 'manual'; reason: string };

export class Databases {
  readonly #opts: DatabasesOptions;
  readonly #open = new Map<string, Promise<ThreadDatabase>>();
  /** The last operation on each name: the next one starts after it. */
  readonly #queue = new Map<string, Promise<unknown>>();
  #closed = false;

  constructor(opts: DatabasesOptions) {
    this.#opts = opts;
  }

  get dataDir(): string {
    return this.#opts.dataDir;
  }

  /** The database `name`, opened if need be; undefined when there is none. */
  get(name: string): Promise<ThreadDatabase | undefined> {
    const open = this.#open.get(name);
    if (open) return open;
    return this.#serial(name, () => this.#openExisting(name));
  }

  /** The name of the database `nameOrIdentity` names (its name, or its identity as hex); as given when none. */
  async nameOf(nameOrIdentity: string): Promise<string> {
    const hex = /^(?:0x)?([0-9a-f]{64})$/i.exec(nameOrIdentity)?.[1]?.toLowerCase();
    if (!hex || databaseInfo(this.#opts.dataDir, nameOrIdentity)) return nameOrIdentity;
    return (await this.list()).find((d) => d.identity === hex)?.name ?? nameOrIdentity;
  }

  /** Hex of the owner of `name`, if it exists. */
  owner(name: string): string | undefined {
    return databaseInfo(this.#opts.dataDir, name)?.owner;
  }

  list(): Promise<{ name: string; identity: string | undefined; owner: string | undefined }[]> {
    return listDatabases(this.#opts.dataDir);
  }

  /**
   * Publishes `code` as `name`: creates it (owned by `caller`), or, if `caller` owns it, updates it
   * by SpacetimeDB's migration rules (`clear`: deletes its data first). The running database keeps
   * serving until the new module is known to be accepted; its connections then close (1001) and
   * clients reconnect to the new one.
   */
  publish(name: string, code: string, caller: string, clear: boolean): Promise<{ op: PublishOp; db: ThreadDatabase }> {
    return this.#serial(name, async () => {
      const owner = this.owner(name);
      if (owner !== undefined && owner !== caller) throw new PermissionError(`database ${name} is owned by another identity: only its owner may publish over it`);
      const running = await this.#openExisting(name);
      if (running && !clear) {
        // Refusals come from the running database, so a refused module never interrupts it.
        const plan = await running.server.prePublish(code);
        if (plan === undefined) return { op: 'unchanged', db: running };
      }
      if (running) await this.#closeOne(name);
      if (clear && owner !== undefined) await deleteDatabase(this.#opts.dataDir, name);
      const opened = openThreadDatabase({ dataDir: this.#opts.dataDir, name, code, owner: owner !== undefined && !clear ? owner : caller, ...this.#limits() });
      this.#open.set(name, opened);
      try {
        const db = await opened;
        return { op: owner === undefined || clear ? 'created' : db.published === 'unchanged' ? 'unchanged' : 'updated', db };
      } catch (e) {
        this.#open.delete(name);
        // The old module is still what is stored when the new one failed: serve it again.
        if (running && !clear) await this.#openExisting(name).catch(() => undefined);
        throw e;
      }
    });
  }

  /** What publishing `code` over `name` would do. */
  prePublish(name: string, code: string): Promise<PrePublish> {
    return this.#serial(name, async () => {
      const db = await this.#openExisting(name);
      if (!db) return { kind: 'new' };
      try {
        const plan = await db.server.prePublish(code);
        return { kind: 'auto', changes: plan?.changes ?? [], breakClients: plan !== undefined && !plan.sameSchema };
      } catch (e) {
        if (e instanceof ModuleError && e.code === 'MIGRATION_REFUSED') return { kind: 'manual', reason: e.message };
        throw e;
      }
    });
  }

  /** Deletes `name` and its data (its connections close). Resolves false when there was none. */
  delete(name: string, caller: string): Promise<boolean> {
    return this.#serial(name, async () => {
      const owner = this.owner(name);
      if (owner === undefined) return false;
      if (owner !== caller) throw new PermissionError(`database ${name} is owned by another identity: only its owner may delete it`);
      await this.#closeOne(name);
      await deleteDatabase(this.#opts.dataDir, name);
      return true;
    });
  }

  /** Closes every database (their connections close with 1001; their data is durable). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#queue.values()]);
    await Promise.allSettled([...this.#open.keys()].map((name) => this.#closeOne(name)));
  }

  #limits(): { callTimeoutMs?: number; maxHeapMb?: number } {
    const { callTimeoutMs, maxHeapMb } = this.#opts;
    return { ...(callTimeoutMs !== undefined ? { callTimeoutMs } : {}), ...(maxHeapMb !== undefined ? { maxHeapMb } : {}) };
  }

  async #openExisting(name: string): Promise<ThreadDatabase | undefined> {
    const open = this.#open.get(name);
    if (open) return open.catch(() => undefined);
    const info = databaseInfo(this.#opts.dataDir, name);
    if (!info) return undefined;
    const opened = openThreadDatabase({ dataDir: this.#opts.dataDir, name, ...(info.owner !== undefined ? { owner: info.owner } : {}), ...this.#limits() });
    this.#open.set(name, opened);
    opened.catch(() => this.#open.delete(name));
    return opened;
  }

  async #closeOne(name: string): Promise<void> {
    const open = this.#open.get(name);
    this.#open.delete(name);
    const db = await open?.catch(() => undefined);
    await db?.close().catch(() => {}); // closing a database that stopped on a limit: nothing left to close
  }

  #serial<T>(name: string, f: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new UsageError('NOT_OPEN', 'the server is shutting down'));
    const prev = this.#queue.get(name) ?? Promise.resolve();
    const next = prev.then(f, f);
    const settled = next.catch(() => {});
    this.#queue.set(name, settled);
    void settled.then(() => {
      if (this.#queue.get(name) === settled) this.#queue.delete(name);
    });
    return next;
  }
}
