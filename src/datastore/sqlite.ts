// Loads @sqlite.org/sqlite-wasm once per realm and opens in-memory databases, optionally from a
// serialized image (a snapshot). The rest of the datastore only sees `oo1.DB` handles.
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';

export type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>;
export type SqliteDb = InstanceType<Sqlite3['oo1']['DB']>;
export type SqliteStmt = ReturnType<SqliteDb['prepare']>;

let loading: Promise<Sqlite3> | undefined;

/** The sqlite3 module, initialised on first use (≈25 ms) and shared afterwards. */
export function loadSqlite(): Promise<Sqlite3> {
  loading ??= (sqlite3InitModule as unknown as (opts: object) => Promise<Sqlite3>)({
    print: () => {},
    // sqlite-wasm reports failed steps on stderr; the datastore turns them into named errors instead.
    printErr: () => {},
  }).then((sqlite3) => {
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
