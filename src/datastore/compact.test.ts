// compactMemdb: a memdb's buffer doubles when the database outgrows it and never shrinks; moving
// the database into a buffer near its size gives the rest back, and the connection goes on as
// before (its prepared statements, its settings, its size limit).
import { describe, expect, it } from 'vitest';
import { compactMemdb, ImageCopy, loadSqlite, memdbFootprint, openSqlite, type SqliteDb } from './sqlite.ts';

const sqlite3 = await loadSqlite();

const PAD = 'x'.repeat(60);

/** Grows `db` by `rows` rows (ids from `from`) in one transaction. */
function grow(db: SqliteDb, from: number, rows: number): void {
  db.exec('BEGIN');
  const st = db.prepare('INSERT INTO t VALUES (?, ?)');
  try {
    for (let i = from; i < from + rows; i++) st.bind([i, `${i} ${PAD}`]).stepReset();
  } finally {
    st.finalize();
  }
  db.exec('COMMIT');
}

function fresh(): SqliteDb {
  const db = openSqlite(sqlite3);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); CREATE INDEX t_v ON t (v)');
  return db;
}

/** Bytes SQLite's allocator holds now. */
function memoryUsed(): number {
  const w = sqlite3.wasm;
  const sp = w.pstack.pointer;
  try {
    const cur = w.pstack.alloc(8);
    const high = w.pstack.alloc(8);
    expect(sqlite3.capi.sqlite3_status64(sqlite3.capi.SQLITE_STATUS_MEMORY_USED, cur, high, 0)).toBe(0);
    return Number(w.peek(cur, 'i64'));
  } finally {
    w.pstack.restore(sp);
  }
}

const limitOf = (db: SqliteDb): bigint => {
  const p = sqlite3.wasm.alloc(8);
  try {
    sqlite3.wasm.poke64(p, -1n);
    sqlite3.capi.sqlite3_file_control(db.pointer!, 'main', sqlite3.capi.SQLITE_FCNTL_SIZE_LIMIT, p);
    return BigInt(sqlite3.wasm.peek(p, 'i64') as bigint | number);
  } finally {
    sqlite3.wasm.dealloc(p);
  }
};

describe('compactMemdb', () => {
  it('moves a database whose buffer growth doubled into one of its size and a quarter, and it goes on working', () => {
    const db = fresh();
    const insert = db.prepare('INSERT INTO t VALUES (?, ?)'); // prepared before the move, used after it
    // Grow until the buffer holds at least half the database beyond it (as after a doubling).
    let rows = 0;
    for (;;) {
      grow(db, rows, 5000);
      rows += 5000;
      const f = memdbFootprint(sqlite3, db)!;
      if (f.size > 2 << 20 && f.capacity - f.size >= f.size / 2) break;
    }
    const before = memdbFootprint(sqlite3, db)!;
    const used = memoryUsed();
    expect(compactMemdb(sqlite3, db)).toBe(true);
    const after = memdbFootprint(sqlite3, db)!;
    expect(after.size).toBe(before.size);
    expect(after.capacity).toBeLessThanOrEqual(Math.ceil(before.size * 1.25) + 4096);
    // The old buffer is freed: what SQLite holds drops by about the slack given back.
    expect(memoryUsed()).toBeLessThan(used - (before.capacity - after.capacity) / 2);
    // Everything is there, a statement prepared before still runs, the settings and the limit hold.
    expect(db.selectValue('PRAGMA integrity_check')).toBe('ok');
    expect(db.selectValue('SELECT count(*) FROM t')).toBe(rows);
    insert.bind([rows, 'after the move']).stepReset();
    insert.finalize();
    expect(db.selectValue('SELECT v FROM t WHERE id = ?', [rows])).toBe('after the move');
    expect(db.selectValue('PRAGMA cache_size')).toBe(-512);
    expect(limitOf(db)).toBe(2n ** 32n);
    // Tight now: nothing to give back until it grows again.
    expect(compactMemdb(sqlite3, db)).toBe(false);
    db.close();
  });

  it('leaves a small database, or one with little slack, where it is', () => {
    const db = fresh();
    grow(db, 0, 100);
    expect(compactMemdb(sqlite3, db)).toBe(false);
    db.close();
  });

  it('a database compacted after a copy completed is still what the copy holds', () => {
    const db = fresh();
    let rows = 0;
    for (;;) {
      grow(db, rows, 5000);
      rows += 5000;
      const f = memdbFootprint(sqlite3, db)!;
      if (f.size > 2 << 20 && f.capacity - f.size >= f.size / 2) break;
    }
    const copy = new ImageCopy(sqlite3, db);
    expect(copy.copying).toBe(true);
    while (!copy.step(64)) {}
    expect(copy.copying).toBe(false);
    expect(compactMemdb(sqlite3, db)).toBe(true);
    const copied = openSqlite(sqlite3, copy.read(0, copy.size));
    expect(copied.selectValue('SELECT count(*) FROM t')).toBe(db.selectValue('SELECT count(*) FROM t'));
    copied.close();
    copy.close();
    db.close();
  });
});
