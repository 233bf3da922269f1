// W4 (bulk insert) and W5 (point lookups, range scans inside a reducer) in Node: Lightcone against
// raw @sqlite.org/sqlite-wasm prepared statements over the same rows, in the same process.
import { openDatabase } from '../../src/node/open-database.ts';
import { rawStore, STORE_LOOKUPS, STORE_RANGES, STORE_ROWS as ROWS } from '../store-workload.ts';
import { measure, type Result } from './measure.ts';

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
  const lookupsN = STORE_LOOKUPS;
  results.push(
    ...(await measure('W5 point lookup by primary key', 'µs/op', reps, {
      'raw sqlite-wasm (C API)': () => perOp(() => raw.lookups(ROWS, lookupsN), lookupsN),
      'raw sqlite-wasm (oo1)': () => perOp(() => rawOo1.lookups(ROWS, lookupsN), lookupsN),
      lightcone: () => perOp(() => db.call('lookups', [ROWS, lookupsN]) as Promise<void>, lookupsN),
    })),
  );
  for (const [width, n] of STORE_RANGES) {
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
