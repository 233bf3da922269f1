// `openDatabase` for Node: bundles the module with esbuild, keeps the database under
// `<dataDir>/databases/<name>` with file durability (memory when no dataDir), and the owner
// identity of the data directory in `<dataDir>/identity`. The engine runs in a worker thread with
// a time limit on module code and a heap limit (see engine-thread.ts); storage stays here.
import { getHeapStatistics } from 'node:v8';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Identity } from 'spacetimedb';
import { fileBackend, fileDurability } from '../durability/files.ts';
import { decodeMeta } from '../durability/file-format.ts';
import { MemoryStore, memoryBackend } from '../durability/memory.ts';
import type { DurabilityBackend } from '../durability/group-commit.ts';
import type { Database } from '../api/database.ts';
import { randomIdentity, toIdentity, type PublishResult } from '../engine/engine.ts';
import { UsageError } from '../errors.ts';
import { bundleModule } from '../host/bundle.ts';
import { openEngineThread, type ThreadDatabase } from './engine-thread.ts';
import type { RemoteOptions } from '../sync/replica.ts';

export interface OpenDatabaseOptions {
  /** Data directory; omitted = in memory (gone on close). */
  dataDir?: string;
  /** Database name: letters, digits, `-` and `_`. */
  name: string;
  /** Module entry file or folder: published if the database is new, compared if it exists. */
  module?: string;
  /** An already bundled module (from `bundleModule`), instead of `module`. */
  code?: string;
  /** Delete the database's data first, then publish again (runs `init`). */
  deleteData?: boolean;
  /** Owner identity (hex); defaults to the data directory's own. */
  owner?: string;
  /** Snapshot after this many commits (default 10,000; also when the log outgrows the snapshot). */
  snapshotEvery?: number;
  /**
   * The longest a reducer, procedure, view or lifecycle hook may run at a stretch, in ms (default
   * 30,000; time waiting on `ctx.http.fetch` does not count). A call that runs longer is stopped
   * and rejects with InternalError `TIME_LIMIT`; its transaction is rolled back and the database
   * goes on.
   */
  callTimeoutMs?: number;
  /**
   * The engine's heap limit in MiB (default: what V8 gives this process's main thread). A call that
   * exhausts it rejects with InternalError `HEAP_LIMIT`; its transaction is rolled back and the
   * database goes on. A process started with `--max-old-space-size` has that limit in every
   * thread instead (Node lets the flag win).
   */
  maxHeapMb?: number;
  /**
   * Follow a remote database (sync): `{ uri: 'http://127.0.0.1:3000', database: 'chat' }` (a
   * `lightcone start` server or SpacetimeDB). Reducer calls then run here at once and are sent
   * there in order; `call` resolves when the server committed them (`{ wait: 'local' }` when
   * applied here). See `db.sync` for the status. Needs `module` (the same module as the server's).
   */
  remote?: RemoteOptions;
}

/** Default of `callTimeoutMs`: far above any reducer that is meant to finish. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/** Default of `maxHeapMb`: the heap V8 sizes for this machine (as the main thread gets). */
export function defaultMaxHeapMb(): number {
  return Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20);
}

/** A database opened from Node, plus what publishing did; `M` types it (see `openDatabase`). */
export interface NodeDatabase<M = unknown> extends Database<M> {
  /** 'created', 'updated' (same schema, new code) or 'unchanged'. */
  readonly published: PublishResult;
  /**
   * The whole database as one `LCDB` image (identity, owner, module, rows), consistent between
   * calls: the bytes the browser's `export()` writes, so `connect({ name, image })`, `db.import()`
   * and `lightcone import` take it.
   */
  export(): Promise<Uint8Array>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Opens (publishing or recovering) a database. With the module's type as `M`
 * (`typeof import('./chat/index.ts')`), calls and rows are typed as `connect`'s are.
 *
 * @example
 * ```ts
 * const db = await openDatabase<typeof import('./examples/chat/index.ts')>({ name: 'chat', module: 'examples/chat/index.ts' });
 * await db.call('set_name', { name: 'Ada' });
 * ```
 */
export function openDatabase<M = unknown>(opts: OpenDatabaseOptions): Promise<NodeDatabase<M>> {
  return openThreadDatabase(opts) as Promise<NodeDatabase> as Promise<NodeDatabase<M>>;
}

/** `openDatabase`, with the requests only the server makes (see ServerAccess). */
export async function openThreadDatabase(opts: OpenDatabaseOptions): Promise<ThreadDatabase> {
  if (!NAME.test(opts.name)) {
    throw new UsageError('BAD_NAME', `database name ${JSON.stringify(opts.name)} is not valid: use letters, digits, - and _ (at most 64)`, { name: opts.name });
  }
  const callTimeoutMs = limitOption(opts.callTimeoutMs, 'callTimeoutMs', 'ms', DEFAULT_CALL_TIMEOUT_MS);
  const requestedHeapMb = limitOption(opts.maxHeapMb, 'maxHeapMb', 'MiB', undefined);
  const heapFlag = heapFlagMb();
  const maxHeapMb = heapFlag ?? requestedHeapMb ?? defaultMaxHeapMb();
  const code = opts.code ?? (opts.module !== undefined ? (await bundleModule(opts.module)).code : undefined);
  const owner = opts.owner !== undefined ? toIdentity(opts.owner, 'owner') : opts.dataDir !== undefined ? dataDirOwner(opts.dataDir) : randomIdentity();
  let backend: () => DurabilityBackend;
  if (opts.dataDir !== undefined) {
    const dir = databaseDir(opts.dataDir, opts.name);
    if (code === undefined && !existsSync(dir)) {
      // Do not create a folder (which `list` would show) for a name that was never published.
      throw new UsageError('UNKNOWN_DATABASE', `database ${opts.name} does not exist in ${resolve(opts.dataDir)}: publish it first with \`lightcone publish --module-path <module> ${opts.name}\``, {
        database: opts.name,
      });
    }
    if (opts.deleteData) await fileDurability(dir).destroy();
    backend = () => fileBackend(dir);
  } else {
    // The store lives here, not in the engine thread, so the database outlives a thread that is stopped.
    const store = new MemoryStore();
    backend = () => memoryBackend(store);
  }
  return openEngineThread({ name: opts.name, code, owner, snapshotEvery: opts.snapshotEvery, callTimeoutMs, maxHeapMb, heapFromFlag: heapFlag !== undefined, backend, remote: opts.remote });
}

/** `--max-old-space-size` given to this process (on its command line or in NODE_OPTIONS), in MiB. */
function heapFlagMb(): number | undefined {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  let mb: number | undefined;
  args.forEach((a, i) => {
    const m = /^--max[-_]old[-_]space[-_]size(?:=(\d+))?$/.exec(a);
    if (m) mb = Number(m[1] ?? args[i + 1]) || mb;
  });
  return mb;
}

/** Checks a limit option: a positive whole number, or absent (then `fallback`). */
function limitOption<T extends number | undefined>(value: number | undefined, name: string, unit: string, fallback: T): number | T {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError('BAD_OPTION', `${name} must be a positive whole number of ${unit}, got ${String(value)}`, { option: name, value });
  }
  return value;
}

/** Where a database lives inside a data directory. */
export function databaseDir(dataDir: string, name: string): string {
  return join(resolve(dataDir), 'databases', name);
}

/** The data directory's owner identity, created on first use and kept. */
export function dataDirOwner(dataDir: string): Identity {
  const file = join(resolve(dataDir), 'identity');
  if (existsSync(file)) return toIdentity(readFileSync(file, 'utf8').trim(), `identity in ${file}`);
  mkdirSync(resolve(dataDir), { recursive: true });
  const id = randomIdentity();
  try {
    writeFileSync(file, `${id.toHexString()}\n`, { flag: 'wx' });
  } catch (e) {
    // Another process created it first: use theirs, so the directory has one owner.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return toIdentity(readFileSync(file, 'utf8').trim(), `identity in ${file}`);
    throw e;
  }
  return id;
}

/** A database found in a data directory. */
export interface DatabaseInfo {
  name: string;
  identity: string | undefined;
  /** Hex of the identity that published it first (who may publish over it, delete it, read its logs). */
  owner: string | undefined;
  createdAt: number | undefined;
}

/** What a data directory says about one database; undefined when there is none of that name. */
export function databaseInfo(dataDir: string, name: string): DatabaseInfo | undefined {
  if (!NAME.test(name)) return undefined;
  const meta = readDatabaseMeta(databaseDir(dataDir, name));
  return meta ? { name, identity: meta.identity, owner: meta.owner, createdAt: meta.createdAt } : undefined;
}

/** Lists the databases of a data directory (each with its own data, log and identity). */
export async function listDatabases(dataDir: string): Promise<DatabaseInfo[]> {
  const root = join(resolve(dataDir), 'databases');
  if (!existsSync(root)) return [];
  const out: DatabaseInfo[] = [];
  for (const name of readdirSync(root).sort()) {
    if (!NAME.test(name)) continue;
    const info = databaseInfo(dataDir, name);
    if (info) out.push(info);
  }
  return out;
}

function readDatabaseMeta(dir: string): { identity?: string; owner?: string; createdAt?: number } | undefined {
  // Meta files are written atomically by the file durability as meta/<key>.
  for (const file of [join(dir, 'meta', 'database.meta')]) {
    if (existsSync(file)) {
      try {
        // The meta header (length, checksum) is binary and may hold a '{' byte: decode it, never search the text.
        const value = decodeMeta(new Uint8Array(readFileSync(file)), file);
        return JSON.parse(new TextDecoder().decode(value)) as { identity?: string; owner?: string; createdAt?: number };
      } catch {
        return {}; // damaged: still listed (opening it says what is wrong), without what it would tell
      }
    }
  }
  return undefined;
}

/** Deletes a database and all its data. Fails with DATABASE_IN_USE while another process has it open. */
export async function deleteDatabase(dataDir: string, name: string): Promise<void> {
  const dir = databaseDir(dataDir, name);
  if (!NAME.test(name) || !existsSync(dir)) {
    throw new UsageError('UNKNOWN_DATABASE', `database ${name} does not exist in ${resolve(dataDir)}`, { database: name });
  }
  await fileDurability(dir).destroy();
}
