// Peer: raw @sqlite.org/sqlite-wasm in a dedicated worker, through its documented oo1 API with
// prepared statements (bind + stepReset), one transaction per write and one per bulk load.
// Durability: 'memory' (no storage: the CPU floor), 'opfs' (the opfs-sahpool VFS, synchronous=FULL,
// each commit flushed through OPFS sync access handles), 'idb-image' (in memory; the whole image
// is put to IndexedDB after each bulk load: the floor of a snapshot-in-IndexedDB design for W7).
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { serve } from '../rpc.ts';
import type { Breakdown, PeerApi } from '../peer.ts';
import { SENDER, account, item, nowMicros } from '../rows.ts';
import { done, openStore, req } from './idb.ts';
import { sqliteMemoryUsed } from './sqlite-memory.ts';

type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>;
type Db = InstanceType<Sqlite3['oo1']['DB']>;
type Stmt = ReturnType<Db['prepare']>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, grp INTEGER NOT NULL, name TEXT NOT NULL, score INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS item_seq ON item (seq);
CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS account_owner ON account (owner);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, from_id INTEGER NOT NULL, to_id INTEGER NOT NULL, amount INTEGER NOT NULL, sender BLOB NOT NULL, at INTEGER NOT NULL);
`;

let sqlite3: Sqlite3 | undefined;
let db: Db | undefined;
let mode = 'memory';
let dbName = '';
const stmts = new Map<string, Stmt>();

async function init(): Promise<Sqlite3> {
  sqlite3 ??= await (sqlite3InitModule as unknown as (o: object) => Promise<Sqlite3>)({ print: () => {}, printErr: () => {} });
  return sqlite3;
}

async function openDb(name: string, durability: string): Promise<Db> {
  const s = await init();
  if (durability === 'opfs') {
    const pool = await s.installOpfsSAHPoolVfs({ name: `sahpool-${name}`, directory: `.sahpool-${name}` });
    return new pool.OpfsSAHPoolDb(`/${name}.sqlite3`);
  }
  return new s.oo1.DB(':memory:', 'c');
}

function stmt(sql: string): Stmt {
  let st = stmts.get(sql);
  if (!st) {
    st = db!.prepare(sql);
    stmts.set(sql, st);
  }
  return st;
}

const INSERT_ITEM = 'INSERT INTO item (id, seq, grp, name, score) VALUES (?, ?, ?, ?, ?)';

function bindItem(st: Stmt, id: number): void {
  const r = item(id);
  st.bind([r.id, r.seq, r.grp, r.name, r.score]).stepReset();
}

const IMAGES = 'bench-sqlite-images';

async function saveImage(): Promise<void> {
  const image = sqlite3!.capi.sqlite3_js_db_export(db!);
  const idb = await openStore(IMAGES, 'images');
  const tx = idb.transaction('images', 'readwrite', { durability: 'strict' });
  tx.objectStore('images').put(image, dbName);
  await done(tx);
  idb.close();
}

/** Copies `image` onto the WASM heap and deserializes it into a fresh in-memory database. */
function deserialize(s: Sqlite3, image: Uint8Array): Db {
  const d = new s.oo1.DB(':memory:', 'c');
  const p = s.wasm.allocFromTypedArray(image);
  const flags = s.capi.SQLITE_DESERIALIZE_FREEONCLOSE | s.capi.SQLITE_DESERIALIZE_RESIZEABLE;
  const rc = s.capi.sqlite3_deserialize(d.pointer!, 'main', p, image.length, image.length, flags);
  if (rc !== 0) throw new Error(`sqlite3_deserialize failed: ${rc}`);
  return d;
}

const api: PeerApi = {
  async open(name, durability) {
    dbName = name;
    mode = durability;
    db = await openDb(name, durability);
    db.exec(SCHEMA);
    return durability === 'opfs' ? 'OPFS sahpool, synchronous=FULL' : durability === 'idb-image' ? 'memory + image in IndexedDB (strict) after load' : 'memory (none)';
  },
  async insertOne(id) {
    bindItem(stmt(INSERT_ITEM), id); // autocommit: one transaction
  },
  async insertMany(from, n) {
    const st = stmt(INSERT_ITEM);
    db!.exec('BEGIN');
    for (let i = 0; i < n; i++) bindItem(st, from + i);
    db!.exec('COMMIT');
    if (mode === 'idb-image') await saveImage();
  },
  async seedAccounts(n) {
    const st = stmt('INSERT INTO account (id, owner, balance) VALUES (?, ?, ?)');
    db!.exec('BEGIN');
    for (let i = 1; i <= n; i++) {
      const a = account(i);
      st.bind([a.id, a.owner, a.balance]).stepReset();
    }
    db!.exec('COMMIT');
  },
  async transfer(from, to, amount) {
    if (from === to) throw new Error('Cannot transfer to the same account');
    const get = stmt('SELECT balance FROM account WHERE id = ?');
    const balance = (id: number): number => {
      get.bind([id]);
      const found = get.step();
      const b = found ? (get.get(0) as number) : -1;
      get.reset();
      if (!found) throw new Error(`Account ${id} does not exist`);
      return b;
    };
    db!.exec('BEGIN');
    try {
      const source = balance(from);
      const target = balance(to);
      if (source < amount) throw new Error('Insufficient funds');
      const upd = stmt('UPDATE account SET balance = ? WHERE id = ?');
      upd.bind([source - amount, from]).stepReset();
      upd.bind([target + amount, to]).stepReset();
      stmt('INSERT INTO audit (from_id, to_id, amount, sender, at) VALUES (?, ?, ?, ?, ?)').bind([from, to, amount, SENDER, nowMicros()]).stepReset();
      db!.exec('COMMIT');
    } catch (error) {
      db!.exec('ROLLBACK');
      throw error;
    }
  },
  async count() {
    return Number(db!.selectValue('SELECT count(*) FROM item'));
  },
  async coldOpen(name, durability): Promise<Breakdown> {
    const parts: Breakdown = {};
    let t = performance.now();
    const lap = (k: string) => {
      const now = performance.now();
      parts[k] = now - t;
      t = now;
    };
    const s = await init();
    lap('wasm init');
    if (durability === 'idb-image') {
      const idb = await openStore(IMAGES, 'images');
      const image = (await req(idb.transaction('images', 'readonly').objectStore('images').get(name))) as Uint8Array;
      idb.close();
      lap('IndexedDB read');
      db = deserialize(s, image);
      lap('deserialize');
    } else if (durability === 'opfs') {
      const pool = await s.installOpfsSAHPoolVfs({ name: `sahpool-${name}`, directory: `.sahpool-${name}` });
      lap('install opfs-sahpool');
      db = new pool.OpfsSAHPoolDb(`/${name}.sqlite3`);
      lap('open');
    } else throw new Error(`no cold open for durability ${durability}`);
    const row = stmt('SELECT id, seq, grp, name, score FROM item WHERE id = ?');
    row.bind([1]);
    if (!row.step()) throw new Error('first query found no row');
    row.get([]);
    row.reset();
    lap('first query');
    return parts;
  },
  async stats() {
    const pages = Number(db!.selectValue('PRAGMA page_count'));
    const size = Number(db!.selectValue('PRAGMA page_size'));
    return { pageBytes: pages * size, wasmHeap: sqlite3!.wasm.heap8u().byteLength, sqliteMemory: sqliteMemoryUsed(sqlite3!) };
  },
  async close() {
    for (const st of stmts.values()) st.finalize();
    stmts.clear();
    db?.close();
    db = undefined;
  },
};

serve(api as unknown as Record<string, (...a: never[]) => unknown>);
