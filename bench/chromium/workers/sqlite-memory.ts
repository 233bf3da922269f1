// Bytes SQLite's allocator holds right now (sqlite3_status64 SQLITE_STATUS_MEMORY_USED): the
// page cache of an in-memory database plus everything else SQLite allocated. W8 reads it rather
// than the WASM memory size, which grows in coarse steps and never shrinks.
import type sqlite3InitModule from '@sqlite.org/sqlite-wasm';

type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>;

export function sqliteMemoryUsed(s: Sqlite3): number {
  const w = s.wasm;
  const sp = w.pstack.pointer;
  try {
    const [cur, high] = w.pstack.allocChunks(2, 8) as [number, number];
    const rc = s.capi.sqlite3_status64(s.capi.SQLITE_STATUS_MEMORY_USED, cur, high, 0);
    if (rc !== 0) throw new Error(`sqlite3_status64 failed: ${rc}`);
    return Number(w.peek64(cur));
  } finally {
    w.pstack.restore(sp);
  }
}
