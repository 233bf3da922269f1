// ImageCopy: a copy of a database taken a few pages at a time while the same connection goes on
// writing. The completed copy must be the source as it stands at completion, byte for byte
// readable as a database, whatever happened between steps.
import { describe, expect, it } from 'vitest';
import { ImageCopy, loadSqlite, openSqlite, type SqliteDb } from './sqlite.ts';

const sqlite3 = await loadSqlite();

function source(rows: number): SqliteDb {
  const db = openSqlite(sqlite3);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); CREATE INDEX t_v ON t (v)');
  db.exec('BEGIN');
  for (let i = 0; i < rows; i++) db.exec({ sql: 'INSERT INTO t VALUES (?, ?)', bind: [i, `value ${i} ${'x'.repeat(40)}`] });
  db.exec('COMMIT');
  return db;
}

/** The completed copy's bytes, opened as a database of their own. */
function reopen(copy: ImageCopy): SqliteDb {
  return openSqlite(sqlite3, copy.read(0, copy.size));
}

const contents = (db: SqliteDb) => db.selectArrays('SELECT id, v FROM t ORDER BY id');

describe('ImageCopy', () => {
  it('a copy during which the source grows, is updated and rolls back is the source at completion', async () => {
    const db = source(20_000);
    const copy = new ImageCopy(sqlite3, db);
    const startSize = copy.size;
    let steps = 0;
    let next = 20_000;
    while (!copy.step(16)) {
      steps++;
      // Between steps: rows added (the file grows), rows whose pages were already copied changed,
      // and a transaction that wrote pages and rolled back.
      db.exec({ sql: 'INSERT INTO t VALUES (?, ?)', bind: [next++, `late ${'y'.repeat(200)}`] });
      db.exec({ sql: 'UPDATE t SET v = ? WHERE id = ?', bind: [`changed at step ${steps}`, steps % 50] });
      db.exec('BEGIN');
      db.exec({ sql: 'DELETE FROM t WHERE id < ?', bind: [5000] });
      db.exec('ROLLBACK');
    }
    expect(steps).toBeGreaterThan(10);
    for (let i = 0; i < 2000; i++) db.exec({ sql: 'INSERT INTO t VALUES (?, ?)', bind: [next + i, 'after'] }); // not in the copy
    expect(copy.size).toBeGreaterThan(startSize);
    const copied = reopen(copy);
    expect(copied.selectValue('PRAGMA integrity_check')).toBe('ok');
    db.exec({ sql: 'DELETE FROM t WHERE id >= ?', bind: [next] });
    expect(contents(copied)).toEqual(contents(db));
    copied.close();
    copy.close();
    db.close();
  });

  it("a database and its copy may grow to what WebAssembly memory holds, not to a memdb's default 1 GiB cap", () => {
    const limitOf = (db: SqliteDb): bigint => {
      const p = sqlite3.wasm.alloc(8);
      try {
        sqlite3.wasm.poke64(p, -1n); // a negative limit reads the current one
        sqlite3.capi.sqlite3_file_control(db.pointer!, 'main', sqlite3.capi.SQLITE_FCNTL_SIZE_LIMIT, p);
        return BigInt(sqlite3.wasm.peek(p, 'i64') as bigint | number);
      } finally {
        sqlite3.wasm.dealloc(p);
      }
    };
    const db = source(10);
    expect(limitOf(db)).toBe(2n ** 32n);
    db.close();
  });

  it('is read only once complete; writes to the completed copy leave the source alone; close is idempotent', () => {
    const db = source(100);
    const copy = new ImageCopy(sqlite3, db);
    expect(() => copy.read(0, 1)).toThrow(/not complete/);
    while (!copy.step(1000));
    expect(() => copy.step(1)).toThrow(/already complete/);
    copy.exec('INSERT INTO t VALUES (?, ?)', [1000, 'only in the copy']);
    expect(() => copy.read(0, copy.size + 1)).toThrow(RangeError);
    const copied = reopen(copy);
    expect(copied.selectValue('SELECT v FROM t WHERE id = 1000')).toBe('only in the copy');
    expect(db.selectValue('SELECT COUNT(*) FROM t WHERE id = 1000')).toBe(0);
    copied.close();
    copy.close();
    copy.close();
    expect(() => copy.step(1)).toThrow(/closed/);
    db.close();
  });
});
