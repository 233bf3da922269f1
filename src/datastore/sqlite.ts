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

/** Opens an in-memory database, from `image` (a `sqlite3_js_db_export` result) when given. */
export function openSqlite(sqlite3: Sqlite3, image?: Uint8Array): SqliteDb {
  const db = new sqlite3.oo1.DB(':memory:', 'c');
  if (image && image.length > 0) {
    const p = sqlite3.wasm.allocFromTypedArray(image);
    const flags = sqlite3.capi.SQLITE_DESERIALIZE_FREEONCLOSE | sqlite3.capi.SQLITE_DESERIALIZE_RESIZEABLE;
    const rc = sqlite3.capi.sqlite3_deserialize(db.pointer!, 'main', p, image.length, image.length, flags);
    if (rc !== 0) {
      db.close();
      throw new Error(`sqlite3_deserialize failed with code ${rc}: the snapshot image is not a SQLite database`);
    }
  }
  return db;
}

/** Serializes the whole database (a snapshot image). */
export function exportSqlite(sqlite3: Sqlite3, db: SqliteDb): Uint8Array {
  return sqlite3.capi.sqlite3_js_db_export(db);
}
