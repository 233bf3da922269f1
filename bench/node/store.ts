// W4 (bulk insert) and W5 (point lookups, range scans inside a reducer) in Node: Lightcone against
// raw @sqlite.org/sqlite-wasm prepared statements over the same rows, in the same process.
import { openDatabase } from '../../src/node/open-database.ts';
import { loadSqlite } from '../../src/datastore/sqlite.ts';
import { FastSql } from '../../src/datastore/fast-stmt.ts';
import { measure, type Result } from './measure.ts';

const ROWS = 100_000;

/**
 * Raw sqlite-wasm: the floor for the store. `capi` binds through the WASM exports (the fastest
 * way to drive sqlite-wasm, and what Lightcone's datastore does); otherwise the documented oo1
 * Stmt API, which most applications use.
 */
async function rawStore(capi: boolean) {
  const sqlite3 = await loadSqlite();
  const fast = new FastSql(sqlite3);
  const x = sqlite3.wasm.exports as unknown as Record<string, (...a: number[]) => number>;
  const dec = new TextDecoder();
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
      dec.decode(sqlite3.wasm.heap8u().subarray(tp, tp + tn));
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

export async function runStore(opts: { quick: boolean }): Promise<Result[]> {
  const reps = opts.quick ? 3 : 5;
  const results: Result[] = [];
  const module = 'bench/modules/store.ts'; // relative to the project root (npm run bench runs there)

  // W4: one call inserting 100k rows into an empty table (fresh database per repetition).
  results.push(
    ...(await measure('W4 bulk insert 100k rows in one reducer', 'ms', reps, {
      'raw sqlite-wasm (C API)': async () => {
        const raw = await rawStore(true);
        const t0 = performance.now();
        raw.insert(0, ROWS);
        const dt = performance.now() - t0;
        raw.close();
        return dt;
      },
      'raw sqlite-wasm (oo1)': async () => {
        const raw = await rawStore(false);
        const t0 = performance.now();
        raw.insert(0, ROWS);
        const dt = performance.now() - t0;
        raw.close();
        return dt;
      },
      lightcone: async () => {
        const db = await openDatabase({ name: 'bench', module });
        const t0 = performance.now();
        await db.call('insert_many', [0, ROWS]);
        const dt = performance.now() - t0;
        await db.close();
        return dt;
      },
    })),
  );

  // W5: per-operation latency inside one reducer call over 100k rows.
  const raw = await rawStore(true);
  raw.insert(0, ROWS);
  const rawOo1 = await rawStore(false);
  rawOo1.insert(0, ROWS);
  const db = await openDatabase({ name: 'bench5', module });
  await db.call('insert_many', [0, ROWS]);
  const perOp = async (f: () => Promise<void> | void, ops: number) => {
    const t0 = performance.now();
    await f();
    return ((performance.now() - t0) * 1000) / ops;
  };
  const lookupsN = 20_000;
  results.push(
    ...(await measure('W5 point lookup by primary key', 'µs/op', reps, {
      'raw sqlite-wasm (C API)': () => perOp(() => raw.lookups(ROWS, lookupsN), lookupsN),
      'raw sqlite-wasm (oo1)': () => perOp(() => rawOo1.lookups(ROWS, lookupsN), lookupsN),
      lightcone: () => perOp(() => db.call('lookups', [ROWS, lookupsN]) as Promise<void>, lookupsN),
    })),
  );
  for (const [width, n] of [[10, 2000], [100, 500], [10_000, 5]] as const) {
    results.push(
      ...(await measure(`W5 range scan of ${width} rows`, 'µs/scan', reps, {
        'raw sqlite-wasm (C API)': () => perOp(() => raw.ranges(ROWS, width, n), n),
        'raw sqlite-wasm (oo1)': () => perOp(() => rawOo1.ranges(ROWS, width, n), n),
        lightcone: () => perOp(() => db.call('ranges', [ROWS, width, n]) as Promise<void>, n),
      })),
    );
  }
  raw.close();
  rawOo1.close();
  await db.close();
  return results;
}
