// The store workloads W4 (bulk insert) and W5 (point lookups, range scans) shared by the Node run
// (bench/node/store.ts) and the Chromium worker (bench/chromium/workers/store.ts): raw
// @sqlite.org/sqlite-wasm over the same rows, driven through the C API and through oo1.
import { loadSqlite } from '../src/datastore/sqlite.ts';
import { FastSql } from '../src/datastore/fast-stmt.ts';
import { utf8Decode } from '../src/host/text-codec.ts';

/** Rows of the W4/W5 table. */
export const STORE_ROWS = 100_000;
/** Primary-key lookups per W5 repetition. */
export const STORE_LOOKUPS = 20_000;
/** W5 range scans: rows per scan, scans per repetition. */
export const STORE_RANGES: readonly (readonly [number, number])[] = [
  [10, 2000],
  [100, 500],
  [10_000, 5],
];

/**
 * Raw sqlite-wasm: the floor for the store. `capi` binds through the WASM exports (the fastest
 * way to drive sqlite-wasm, and what Lightcone's datastore does), with short ASCII text encoded
 * and decoded by hand as Lightcone's module runtime does, so that the floor is not slower than
 * Lightcone at text; otherwise the documented oo1 Stmt API, which most applications use.
 */
export async function rawStore(capi: boolean) {
  const sqlite3 = await loadSqlite();
  const fast = new FastSql(sqlite3);
  const x = sqlite3.wasm.exports as unknown as Record<string, (...a: number[]) => number>;
  const db = new sqlite3.oo1.DB(':memory:', 'c');
  db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, grp INTEGER NOT NULL, name TEXT NOT NULL, score INTEGER NOT NULL); CREATE INDEX item_seq ON item (seq)');
  return {
    insert(from: number, n: number) {
      const st = db.prepare('INSERT INTO item (id, seq, grp, name, score) VALUES (?, ?, ?, ?, ?)');
      db.exec('BEGIN');
      for (let i = 0; i < n; i++) {
        const id = BigInt(from + i);
        if (capi) fast.run(st, [id, id, i % 1000, `item-${i}`, id * 7n]);
        else st.bind([id, id, i % 1000, `item-${i}`, id * 7n]).stepReset();
      }
      db.exec('COMMIT');
      st.finalize();
    },
    /** Reads the 5 columns of the current row through the C API. */
    readRowC(p: number) {
      const x = sqlite3.wasm.exports as unknown as Record<string, (...a: number[]) => number | bigint>;
      x.sqlite3_column_int64!(p, 0);
      x.sqlite3_column_int64!(p, 1);
      x.sqlite3_column_int!(p, 2);
      const tp = x.sqlite3_column_text!(p, 3) as number;
      const tn = x.sqlite3_column_bytes!(p, 3) as number;
      utf8Decode(sqlite3.wasm.heap8u().subarray(tp, tp + tn));
      x.sqlite3_column_int64!(p, 4);
    },
    lookups(size: number, reps: number) {
      const st = db.prepare('SELECT id, seq, grp, name, score FROM item WHERE id = ?');
      let found = 0;
      for (let i = 0; i < reps; i++) {
        if (capi) {
          fast.bind(st, [BigInt((i * 7919) % size)]);
          if (x.sqlite3_step!(st.pointer as unknown as number) === 100) {
            this.readRowC(st.pointer as unknown as number);
            found++;
          }
          x.sqlite3_reset!(st.pointer as unknown as number);
          continue;
        }
        st.bind([BigInt((i * 7919) % size)]);
        if (st.step()) {
          for (let c = 0; c < 5; c++) st.get(c);
          found++;
        }
        st.reset();
      }
      st.finalize();
      if (found !== reps) throw new Error('raw lookups missed');
    },
    ranges(size: number, width: number, reps: number) {
      const st = db.prepare('SELECT id, seq, grp, name, score FROM item WHERE seq >= ? AND seq < ? ORDER BY seq');
      let rows = 0;
      for (let i = 0; i < reps; i++) {
        const lo = (i * 7919) % (size - width + 1);
        if (capi) {
          fast.bind(st, [BigInt(lo), BigInt(lo + width)]);
          while (x.sqlite3_step!(st.pointer as unknown as number) === 100) {
            this.readRowC(st.pointer as unknown as number);
            rows++;
          }
          x.sqlite3_reset!(st.pointer as unknown as number);
          continue;
        }
        st.bind([BigInt(lo), BigInt(lo + width)]);
        while (st.step()) {
          for (let c = 0; c < 5; c++) st.get(c);
          rows++;
        }
        st.reset();
      }
      st.finalize();
      if (rows !== width * reps) throw new Error('raw ranges missed');
    },
    close: () => db.close(),
  };
}
