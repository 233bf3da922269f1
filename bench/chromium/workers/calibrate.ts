// Calibration worker: the physical floors the workloads are read against, measured in the same
// run: IndexedDB transactions (relaxed, default, strict; one record or a group-commit batch),
// 1 MB IndexedDB put/get, raw
// sqlite-wasm prepared inserts and primary-key lookups (oo1 API), and the export/deserialize of a
// 10 MB image. Each method returns one repetition's figure. Runs as a dedicated worker and as a
// SharedWorker (where Lightcone's engine writes).
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { serve } from '../rpc.ts';
import { item } from '../rows.ts';
import { done, openStore, req } from './idb.ts';

type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>;
let sqlite3: Sqlite3 | undefined;
const init = async () => (sqlite3 ??= await (sqlite3InitModule as unknown as (o: object) => Promise<Sqlite3>)({ print: () => {}, printErr: () => {} }));

let idb: IDBDatabase | undefined;
const store = async () => (idb ??= await openStore('bench-calibration', 'kv'));

/** ms per awaited readwrite transaction holding one small put, over `n` transactions. */
async function idbTxn(durability: IDBTransactionDurability, n: number): Promise<number> {
  const db = await store();
  const value = { id: 1, text: 'a small record of about one hundred bytes, like one row of a typical table', n: 42 };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const tx = db.transaction('kv', 'readwrite', { durability });
    tx.objectStore('kv').put(value, `small-${i % 16}`);
    await done(tx);
  }
  return (performance.now() - t0) / n;
}

/**
 * ms per awaited readwrite transaction holding one put of a batch of `records` 100-byte records
 * (how a group commit writes `records` calls at once), over `n` transactions.
 */
async function idbBatch(durability: IDBTransactionDurability, records: number, n: number): Promise<number> {
  const db = await store();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const tx = db.transaction('kv', 'readwrite', { durability });
    const batch = Array.from({ length: records }, () => new Uint8Array(100).fill(i & 0xff));
    tx.objectStore('kv').put({ first: i * records, records: batch }, `batch-${i % 16}`);
    await done(tx);
  }
  return (performance.now() - t0) / n;
}

/** ms for one 1 MB put (strict) and one get of it: mean over `n`. */
async function idbBig(n: number): Promise<{ put: number; get: number }> {
  const db = await store();
  let put = 0;
  let get = 0;
  for (let i = 0; i < n; i++) {
    const bytes = new Uint8Array(1 << 20).fill(i & 0xff);
    let t = performance.now();
    const tx = db.transaction('kv', 'readwrite', { durability: 'strict' });
    tx.objectStore('kv').put(bytes, 'big');
    await done(tx);
    put += performance.now() - t;
    t = performance.now();
    const got = (await req(db.transaction('kv', 'readonly').objectStore('kv').get('big'))) as Uint8Array;
    get += performance.now() - t;
    if (got.length !== bytes.length) throw new Error('1 MB get returned the wrong size');
  }
  return { put: put / n, get: get / n };
}

/** µs per row: `n` prepared inserts (bind + stepReset) in one transaction, in memory. */
async function sqliteInsert(n: number): Promise<number> {
  const s = await init();
  const db = new s.oo1.DB(':memory:', 'c');
  db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, grp INTEGER NOT NULL, name TEXT NOT NULL, score INTEGER NOT NULL); CREATE INDEX item_seq ON item (seq)');
  const st = db.prepare('INSERT INTO item (id, seq, grp, name, score) VALUES (?, ?, ?, ?, ?)');
  const t0 = performance.now();
  db.exec('BEGIN');
  for (let i = 0; i < n; i++) {
    const r = item(i);
    st.bind([r.id, r.seq, r.grp, r.name, r.score]).stepReset();
  }
  db.exec('COMMIT');
  const us = ((performance.now() - t0) * 1000) / n;
  st.finalize();
  lookupDb?.close();
  lookupDb = db; // kept for sqliteLookup
  return us;
}

let lookupDb: InstanceType<Sqlite3['oo1']['DB']> | undefined;

/** µs per prepared primary-key lookup reading all five columns, over `n` lookups (after sqliteInsert). */
async function sqliteLookup(n: number, rows: number): Promise<number> {
  const db = lookupDb!;
  const st = db.prepare('SELECT id, seq, grp, name, score FROM item WHERE id = ?');
  let found = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    st.bind([(i * 7919) % rows]);
    if (st.step()) {
      for (let c = 0; c < 5; c++) st.get(c);
      found++;
    }
    st.reset();
  }
  const us = ((performance.now() - t0) * 1000) / n;
  st.finalize();
  if (found !== n) throw new Error('lookups missed');
  return us;
}

/** ms to `sqlite3_js_db_export` and to `sqlite3_deserialize` (copy onto the heap included) an image of ≈`mb` MB. */
async function sqliteImage(mb: number): Promise<{ export: number; deserialize: number; bytes: number }> {
  const s = await init();
  const db = new s.oo1.DB(':memory:', 'c');
  db.exec('CREATE TABLE blob (id INTEGER PRIMARY KEY, b BLOB NOT NULL)');
  const st = db.prepare('INSERT INTO blob (id, b) VALUES (?, ?)');
  db.exec('BEGIN');
  const chunk = new Uint8Array(4000).fill(7);
  for (let i = 0; i < (mb * 1024 * 1024) / 4000; i++) st.bind([i, chunk]).stepReset();
  db.exec('COMMIT');
  st.finalize();
  let t = performance.now();
  const image = s.capi.sqlite3_js_db_export(db);
  const exportMs = performance.now() - t;
  db.close();
  t = performance.now();
  const copy = new s.oo1.DB(':memory:', 'c');
  const p = s.wasm.allocFromTypedArray(image);
  const flags = s.capi.SQLITE_DESERIALIZE_FREEONCLOSE | s.capi.SQLITE_DESERIALIZE_RESIZEABLE;
  const rc = s.capi.sqlite3_deserialize(copy.pointer!, 'main', p, image.length, image.length, flags);
  if (rc !== 0) throw new Error(`sqlite3_deserialize failed: ${rc}`);
  const deserializeMs = performance.now() - t;
  copy.close();
  return { export: exportMs, deserialize: deserializeMs, bytes: image.length };
}

serve({ idbTxn, idbBatch, idbBig, sqliteInsert, sqliteLookup, sqliteImage } as unknown as Record<string, (...a: never[]) => unknown>);
