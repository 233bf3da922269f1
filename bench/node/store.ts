// W4 (bulk insert) and W5 (point lookups, range scans inside a reducer) in Node: Lightcone against
// raw @sqlite.org/sqlite-wasm prepared statements over the same rows, in the same process.
import { openDatabase } from '../../src/node/open-database.ts';
import { loadSqlite } from '../../src/datastore/sqlite.ts';
import { measure, type Result } from './measure.ts';

const ROWS = 100_000;

/** Raw sqlite-wasm: the floor for the store. */
async function rawStore() {
  const sqlite3 = await loadSqlite();
  const db = new sqlite3.oo1.DB(':memory:', 'c');
  db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, grp INTEGER NOT NULL, name TEXT NOT NULL, score INTEGER NOT NULL); CREATE INDEX item_seq ON item (seq)');
  return {
    insert(from: number, n: number) {
      const st = db.prepare('INSERT INTO item (id, seq, grp, name, score) VALUES (?, ?, ?, ?, ?)');
      db.exec('BEGIN');
      for (let i = 0; i < n; i++) {
        const id = BigInt(from + i);
        st.bind([id, id, i % 1000, `item-${i}`, id * 7n]).stepReset();
      }
      db.exec('COMMIT');
      st.finalize();
    },
    lookups(size: number, reps: number) {
      const st = db.prepare('SELECT id, seq, grp, name, score FROM item WHERE id = ?');
      let found = 0;
      for (let i = 0; i < reps; i++) {
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
      'raw sqlite-wasm': async () => {
        const raw = await rawStore();
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
  const raw = await rawStore();
  raw.insert(0, ROWS);
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
      'raw sqlite-wasm': () => perOp(() => raw.lookups(ROWS, lookupsN), lookupsN),
      lightcone: () => perOp(() => db.call('lookups', [ROWS, lookupsN]) as Promise<void>, lookupsN),
    })),
  );
  for (const [width, n] of [[10, 2000], [100, 500], [10_000, 5]] as const) {
    results.push(
      ...(await measure(`W5 range scan of ${width} rows`, 'µs/scan', reps, {
        'raw sqlite-wasm': () => perOp(() => raw.ranges(ROWS, width, n), n),
        lightcone: () => perOp(() => db.call('ranges', [ROWS, width, n]) as Promise<void>, n),
      })),
    );
  }
  raw.close();
  await db.close();
  return results;
}
