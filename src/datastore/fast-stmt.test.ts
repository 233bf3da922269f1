// FastSql binds strings itself: short ASCII by hand, the rest through encodeInto. A string that
// outgrows the scratch buffer moves it, and the bind must use the new one.
import { describe, expect, it } from 'vitest';
import { FastSql } from './fast-stmt.ts';
import { loadSqlite } from './sqlite.ts';

describe('FastSql string parameters', () => {
  it('binds short, long, non-ASCII and buffer-growing strings as their UTF-8', async () => {
    const sqlite3 = await loadSqlite();
    const db = new sqlite3.oo1.DB(':memory:', 'c');
    const fast = new FastSql(sqlite3);
    db.exec('CREATE TABLE t (i INTEGER PRIMARY KEY, s TEXT)');
    const insert = db.prepare('INSERT INTO t (i, s) VALUES (?, ?)');
    const texts = ['', 'a', 'item-42', 'x'.repeat(128), 'y'.repeat(129), 'héllo', '日本語 😀', 'z'.repeat(200_000), `${'w'.repeat(100)}é`, 'é'.repeat(90_000)];
    for (const [i, s] of texts.entries()) fast.run(insert, [i, s]);
    insert.finalize();
    const read = db.prepare('SELECT s, length(CAST(s AS BLOB)) FROM t ORDER BY i');
    const got: [string, number][] = [];
    while (read.step()) got.push([read.getString(0)!, read.getInt(1)!]);
    read.finalize();
    db.close();
    expect(got).toEqual(texts.map((s) => [s, new TextEncoder().encode(s).length]));
  });
});
