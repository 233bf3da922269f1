// Loads @sqlite.org/sqlite-wasm once per realm and opens in-memory databases, optionally from a
// serialized image (a snapshot). The rest of the datastore only sees `oo1.DB` handles.
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { InternalError } from '../errors.ts';

export type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>;
export type SqliteDb = InstanceType<Sqlite3['oo1']['DB']>;
export type SqliteStmt = ReturnType<SqliteDb['prepare']>;

let loading: Promise<Sqlite3> | undefined;
let compiled: WebAssembly.Module | undefined;

/**
 * Makes this realm instantiate sqlite3 from an already compiled module instead of compiling
 * sqlite3.wasm itself (call before the first `loadSqlite`): a Node engine thread gets the module
 * its process compiled once, which saves most of a thread's start-up.
 */
export function useCompiledSqlite(module: WebAssembly.Module): void {
  compiled = module;
}

/** The sqlite3 module, initialised on first use (≈25 ms) and shared afterwards. */
export function loadSqlite(): Promise<Sqlite3> {
  loading ??= initSqlite(compiled).then((sqlite3) => {
    // Failed steps are reported to callers as named errors; sqlite-wasm's own warning is noise.
    try {
      (sqlite3.config as { warn: (...a: unknown[]) => void }).warn = () => {};
    } catch {
      /* a frozen config only means the warning stays */
    }
    return sqlite3;
  });
  return loading;
}

function initSqlite(module: WebAssembly.Module | undefined): Promise<Sqlite3> {
  const init = sqlite3InitModule as unknown as (opts: object) => Promise<Sqlite3>;
  // sqlite-wasm reports failed steps on stderr; the datastore turns them into named errors instead.
  const quiet = { print: () => {}, printErr: () => {} };
  if (!module) return init(quiet).catch((error: unknown) => Promise.reject(wasmLoadFailed(error)));
  // The instantiation hook has no way to fail: a failed instantiation rejects through `failed`.
  let fail!: (error: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  const instantiateWasm = (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => {
    WebAssembly.instantiate(module, imports).then((instance) => done(instance, module), fail);
    return {};
  };
  return Promise.race([init({ ...quiet, instantiateWasm }), failed]);
}

/**
 * sqlite3.wasm did not load (sqlite-wasm fetches it from next to its own script): in a browser
 * that is how the app serves its files, so the message says what to fix there.
 */
function wasmLoadFailed(error: unknown): InternalError {
  const why = error instanceof Error ? error.message : String(error);
  const browser = typeof process === 'undefined' || !process.versions?.node;
  const fix = browser
    ? "In a Vite app, add the plugin to vite.config.ts (`import lightcone from 'lightcone/vite'`, `plugins: [lightcone()]`): it serves sqlite3.wasm in dev and copies it into builds. A built app must serve that file as it is, with Content-Type application/wasm (a missing file answered with index.html fails too)"
    : 'Reinstall the package @sqlite.org/sqlite-wasm (its dist/sqlite3.wasm is missing or damaged)';
  return new InternalError(`SQLite's WebAssembly (sqlite3.wasm) could not be loaded: ${why.replace(/\.+$/, '')}. ${fix}`, {}, { cause: error, code: 'WASM_LOAD_FAILED' });
}

/**
 * Opens an in-memory database, from `image` (a `sqlite3_js_db_export` result) when given. It is
 * always a `memdb` database (one contiguous buffer, also when empty): then a copy taken with the
 * backup API sees this connection's later writes mirrored into it (a plain `:memory:` database
 * restarts the copy at every commit instead), see `ImageCopy`.
 */
export function openSqlite(sqlite3: Sqlite3, image?: Uint8Array): SqliteDb {
  const db = new sqlite3.oo1.DB(':memory:', 'c');
  const size = image?.length ?? 0;
  const p = size > 0 ? sqlite3.wasm.allocFromTypedArray(image!) : sqlite3.wasm.alloc(EMPTY_BUFFER);
  const rc = deserialize(sqlite3, db, p, size, size > 0 ? size : EMPTY_BUFFER);
  if (rc !== 0) {
    db.close();
    throw new Error(`sqlite3_deserialize failed with code ${rc}: the snapshot image is not a SQLite database`);
  }
  // Dirty pages stay in the cache until their transaction commits, however many (no spill to the
  // buffer mid-transaction, which costs a journal copy); after it, the cache shrinks back.
  db.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}; PRAGMA cache_spill = OFF`);
  setSizeLimit(sqlite3, db);
  return db;
}

/** The largest a database may grow: what 32-bit WebAssembly memory can address at most. */
const MAX_DATABASE_BYTES = 2 ** 32;

/**
 * Lifts a memdb's size cap (1 GiB by default) to what the WebAssembly memory can hold, so that a
 * database is limited by memory, as a plain in-memory database is, not by the cap.
 */
function setSizeLimit(sqlite3: Sqlite3, db: SqliteDb): void {
  const { capi, wasm } = sqlite3;
  const limit = wasm.alloc(8);
  try {
    wasm.poke64(limit, BigInt(MAX_DATABASE_BYTES));
    capi.sqlite3_file_control(db.pointer!, 'main', capi.SQLITE_FCNTL_SIZE_LIMIT, limit);
  } finally {
    wasm.dealloc(limit);
  }
}

/**
 * Keeps a `memdb`'s buffer near the size of its database. A memdb that outgrows its buffer
 * reallocates it at twice the size the write needs (up to its size limit), so without this a
 * database would hold up to twice its pages in memory. The pages a transaction adds are written
 * to the buffer when it commits (the cache never spills before: `cache_spill = OFF`), so `commit`
 * lowers the limit, for that commit only, to the database's size after it plus an eighth: the
 * buffer then grows by an eighth rather than doubling. The limit never falls below the page
 * count the commit writes (nor rises above a limit already set), so a commit cannot fail for want
 * of room it would have had without this; statements run outside `commit` (schema changes,
 * metadata) grow the buffer as a memdb does.
 */
export class BufferGrowth {
  readonly #sqlite3: Sqlite3;
  readonly #db: SqliteDb;
  readonly #pageCount: SqliteStmt;
  readonly #pageSize: number;
  /** Bytes the buffer was last seen to hold (it only grows, so a stale value is a lower bound). */
  #known = 0;

  constructor(sqlite3: Sqlite3, db: SqliteDb) {
    this.#sqlite3 = sqlite3;
    this.#db = db;
    this.#pageSize = Number(db.selectValue('PRAGMA page_size'));
    this.#pageCount = db.prepare('PRAGMA page_count');
  }

  /** Runs `commit` (a COMMIT of the open transaction) with the buffer's growth held to an eighth. */
  commit(commit: () => void): void {
    const needed = this.#sizeAfterCommit();
    if (needed <= this.#known || needed <= (this.#known = this.#bufferSize())) {
      commit();
      return;
    }
    // The database's own cap (SQLite answers a negative limit with the current one) still holds.
    const cap = this.#setLimit(-1);
    const target = Math.min(cap, needed + Math.max(Math.ceil(needed / 8 / this.#pageSize) * this.#pageSize, MIN_GROWTH));
    this.#setLimit(target);
    try {
      commit();
    } finally {
      this.#setLimit(cap);
      this.#known = this.#bufferSize();
    }
  }

  /** Finalizes the statement the constructor prepared (before the database closes; again is harmless). */
  close(): void {
    this.#pageCount.finalize();
  }

  /** The database's size once the open transaction commits: its page count now, in bytes. */
  #sizeAfterCommit(): number {
    const x = this.#sqlite3.wasm.exports as unknown as { sqlite3_step(p: number): number; sqlite3_column_int(p: number, i: number): number; sqlite3_reset(p: number): number };
    const p = this.#pageCount.pointer as unknown as number;
    try {
      if (x.sqlite3_step(p) !== SQLITE_ROW) return MAX_DATABASE_BYTES;
      return x.sqlite3_column_int(p, 0) * this.#pageSize;
    } finally {
      x.sqlite3_reset(p);
    }
  }

  /** The bytes the memdb's buffer holds (its allocation, which is at least the database's size). */
  #bufferSize(): number {
    const { capi } = this.#sqlite3;
    const ptr = capi.sqlite3_serialize(this.#db.pointer!, 'main', 0, SQLITE_SERIALIZE_NOCOPY);
    return ptr ? Number(capi.sqlite3_msize(ptr)) : 0;
  }

  /** Sets the memdb's size limit (SQLITE_FCNTL_SIZE_LIMIT) and returns the limit now in force. */
  #setLimit(bytes: number): number {
    const { capi, wasm } = this.#sqlite3;
    const sp = wasm.pstack.pointer;
    try {
      const p = wasm.pstack.alloc(8);
      wasm.poke64(p, BigInt(bytes));
      capi.sqlite3_file_control(this.#db.pointer!, 'main', capi.SQLITE_FCNTL_SIZE_LIMIT, p);
      return Number(wasm.peek64(p));
    } finally {
      wasm.pstack.restore(sp);
    }
  }
}

/** The least a buffer grows by at a commit (small databases would otherwise reallocate at most commits). */
const MIN_GROWTH = 256 * 1024;

/**
 * SQLite's page cache per database, in KiB. A memdb's pages already live in its buffer, so a
 * large cache would hold a second copy of every page read (SQLite's default here is 16 MiB:
 * memory per row doubled); a small one keeps the hot interior pages, and a miss is a memcpy
 * from the buffer.
 */
const PAGE_CACHE_KIB = 512;

/** Room an empty database's buffer starts with (it grows as pages are added). */
const EMPTY_BUFFER = 4096;

/** Hands `p` (size `used` of `capacity` bytes, from sqlite3.wasm.alloc) to `db` as its main database. */
function deserialize(sqlite3: Sqlite3, db: SqliteDb, p: number, used: number, capacity: number): number {
  const flags = sqlite3.capi.SQLITE_DESERIALIZE_FREEONCLOSE | sqlite3.capi.SQLITE_DESERIALIZE_RESIZEABLE;
  return sqlite3.capi.sqlite3_deserialize(db.pointer!, 'main', p, used, capacity, flags);
}

/** Serializes the whole database (a snapshot image). */
export function exportSqlite(sqlite3: Sqlite3, db: SqliteDb): Uint8Array {
  return sqlite3.capi.sqlite3_js_db_export(db);
}

const SQLITE_OK = 0;
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_ROW = 100;
const SQLITE_DONE = 101;
const SQLITE_SERIALIZE_NOCOPY = 1;

/**
 * A consistent copy of a database taken a few pages at a time (SQLite's online backup API), so
 * that copying a large database never holds its thread for long: call `step` between
 * transactions until it returns true. Writes the source connection commits meanwhile are
 * mirrored into the copy by SQLite, so once complete the copy is the source as it is at that
 * moment (not as it was when the copy began). Then `read` hands out its bytes, a part at a time
 * if wanted, until `close`.
 */
export class ImageCopy {
  readonly #sqlite3: Sqlite3;
  #dest: SqliteDb | undefined;
  #backup = 0;
  #ptr = 0;
  #size = 0;

  constructor(sqlite3: Sqlite3, source: SqliteDb) {
    this.#sqlite3 = sqlite3;
    const pages = Number(source.selectValue('PRAGMA page_count'));
    const pageSize = Number(source.selectValue('PRAGMA page_size'));
    // Room for the whole source and an eighth more up front: commits made during the copy grow
    // it, and a memdb that must grow doubles its buffer (a second image's worth at once).
    const capacity = pages * pageSize + Math.max(16 * pageSize, Math.ceil(pages / 8) * pageSize);
    const dest = new sqlite3.oo1.DB(':memory:', 'c');
    this.#dest = dest;
    let buffer = 0;
    try {
      buffer = sqlite3.wasm.alloc(capacity);
    } catch (e) {
      this.close();
      throw new Error(`no memory for a copy of the database (${capacity} bytes): ${(e as Error).message}`);
    }
    if (deserialize(sqlite3, dest, buffer, 0, capacity) !== 0) {
      this.close();
      throw new Error('could not allocate a buffer for a copy of the database');
    }
    setSizeLimit(sqlite3, dest);
    dest.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
    this.#backup = sqlite3.capi.sqlite3_backup_init(dest.pointer!, 'main', source.pointer!, 'main');
    if (!this.#backup) {
      const why = sqlite3.capi.sqlite3_errmsg(dest.pointer!);
      this.close();
      throw new Error(`could not start a copy of the database: ${why}`);
    }
    this.#size = pages * pageSize;
  }

  /** Bytes of the source when the copy began (until complete), then of the copy. */
  get size(): number {
    if (this.#ptr === 0 && this.#backup === 0 && this.#dest) this.#locate(this.#dest);
    return this.#size;
  }

  /** Copies up to `pages` more pages; true once the copy is complete (and the backup released). */
  step(pages: number): boolean {
    if (!this.#backup) throw new Error(this.#dest ? 'the copy is already complete' : 'the copy was closed');
    const rc = this.#sqlite3.capi.sqlite3_backup_step(this.#backup, pages);
    if (rc === SQLITE_OK || rc === SQLITE_BUSY || rc === SQLITE_LOCKED) return false;
    this.#finish();
    if (rc !== SQLITE_DONE) {
      const why = this.#sqlite3.capi.sqlite3_errstr(rc);
      this.close();
      throw new Error(`copying the database failed: ${why} (code ${rc})`);
    }
    return true;
  }

  /** Runs `sql` with `bind` on the completed copy (the source is not touched). */
  exec(sql: string, bind: unknown[]): void {
    if (this.#backup || !this.#dest) throw new Error('the copy is not complete');
    this.#dest.exec({ sql, bind: bind as never });
    this.#ptr = 0;
  }

  /** `length` bytes of the completed copy from `offset` (a new array). */
  read(offset: number, length: number): Uint8Array {
    return this.peek(offset, length).slice();
  }

  /** `length` bytes of the completed copy from `offset`, as a view into the WebAssembly heap: valid until the heap next grows or the copy is closed. */
  peek(offset: number, length: number): Uint8Array {
    if (this.#backup || !this.#dest) throw new Error('the copy is not complete');
    if (this.#ptr === 0) this.#locate(this.#dest);
    if (offset < 0 || length < 0 || offset + length > this.#size) throw new RangeError(`bytes ${offset}..${offset + length} are outside the copy (${this.#size} bytes)`);
    // A fresh view each time: the WebAssembly memory may have grown (and moved) since the last look.
    return this.#sqlite3.wasm.heap8u().subarray(this.#ptr + offset, this.#ptr + offset + length);
  }

  /** Releases the copy (and stops it when incomplete). Idempotent. */
  close(): void {
    this.#finish();
    this.#dest?.close();
    this.#dest = undefined;
  }

  #finish(): void {
    if (this.#backup) this.#sqlite3.capi.sqlite3_backup_finish(this.#backup);
    this.#backup = 0;
  }

  /** Where the copy's contiguous buffer is, and its size (no copy is made). */
  #locate(dest: SqliteDb): void {
    const { capi, wasm } = this.#sqlite3;
    const sizeOut = wasm.alloc(8);
    try {
      const ptr = capi.sqlite3_serialize(dest.pointer!, 'main', sizeOut, SQLITE_SERIALIZE_NOCOPY);
      if (!ptr) throw new Error('the copy of the database has no contiguous buffer');
      this.#ptr = ptr;
      this.#size = Number(wasm.peek(sizeOut, 'i64'));
    } finally {
      wasm.dealloc(sizeOut);
    }
  }
}
