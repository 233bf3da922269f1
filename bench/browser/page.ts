// The browser benchmarks (W1, W2, W7 of BENCHMARKS.md) and the IndexedDB/postMessage floors,
// exposed as `globalThis.bench` for bench/browser/run.mjs, which runs them in Chromium with a
// persistent profile. Each function returns raw samples; the runner takes medians and ratios.
import * as Comlink from 'comlink';
import { connect } from 'lightcone';
import store from '../modules/store.ts?lightcone';

const now = () => performance.now();

/** One IndexedDB database for the floors. */
async function floorDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open('bench-floor', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('kv');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function tx(db: IDBDatabase, durability: 'relaxed' | 'strict', write: (s: IDBObjectStore) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = db.transaction('kv', 'readwrite', { durability });
    write(t.objectStore('kv'));
    t.oncomplete = () => resolve();
    t.onabort = () => reject(t.error);
  });
}

function get(db: IDBDatabase, key: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const r = db.transaction('kv').objectStore('kv').get(key);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function calibrate(n: number) {
  const db = await floorDb();
  const out: Record<string, number> = {};
  for (const durability of ['relaxed', 'strict'] as const) {
    await tx(db, durability, (s) => s.put(new Uint8Array(64), 'warm'));
    const t0 = now();
    for (let i = 0; i < n; i++) await tx(db, durability, (s) => s.put(new Uint8Array(64), `k${i % 16}`));
    out[`idbTxPerSec_${durability}`] = (n * 1000) / (now() - t0);
  }
  const mb = new Uint8Array(1 << 20).fill(7);
  let t0 = now();
  await tx(db, 'strict', (s) => s.put(mb, 'mb'));
  out.idbPut1MBms = now() - t0;
  t0 = now();
  await get(db, 'mb');
  out.idbGet1MBms = now() - t0;
  db.close();

  const worker = new Worker(new URL('./echo.worker.ts', import.meta.url), { type: 'module' });
  const rtt = async (payload: unknown, reps: number) => {
    await new Promise<void>((resolve) => {
      worker.onmessage = () => resolve();
      worker.postMessage(payload);
    });
    const t = now();
    for (let i = 0; i < reps; i++) {
      await new Promise<void>((resolve) => {
        worker.onmessage = () => resolve();
        worker.postMessage(payload);
      });
    }
    return ((now() - t) / reps) * 1000;
  };
  out.postMessageRttUs_100B = await rtt('x'.repeat(100), 500);
  out.postMessageRttUs_64KB = await rtt(new Uint8Array(64 * 1024), 200);
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ comlink: port2 }, [port2]);
  const echo = Comlink.wrap<{ echo: (v: unknown) => unknown }>(port1);
  await echo.echo(1);
  let t = now();
  for (let i = 0; i < 500; i++) await echo.echo('x'.repeat(100));
  out.comlinkRttUs_100B = ((now() - t) / 500) * 1000;
  t = now();
  const big = new Uint8Array(64 * 1024);
  for (let i = 0; i < 200; i++) await echo.echo(big);
  out.comlinkRttUs_64KB = ((now() - t) / 200) * 1000;
  // Pipelined: 64 calls in flight, as W2 drives the worker.
  t = now();
  let started = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (started < 4000) {
        started++;
        await echo.echo({ from: 1n, n: 1 });
      }
    }),
  );
  out.comlinkPipelinedPerSec = (4000 * 1000) / (now() - t);
  worker.terminate();
  return out;
}

let nextId = 1_000_000_000n;

/** W1 and W2: a reducer inserting one row, `inFlight` calls at a time; calls per second per sample. */
async function inserts(name: string, calls: number, inFlight: number, samples: number) {
  const db = await connect({ name, module: store, persist: false });
  const one = () => db.call('insert_many', { from: nextId++, n: 1 });
  for (let i = 0; i < 50; i++) await one(); // warm-up
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    let started = 0;
    const t0 = now();
    const lane = async () => {
      while (started < calls) {
        started++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    out.push((calls * 1000) / (now() - t0));
  }
  await db.close();
  return out;
}

/** W7 setup: a database with `rows` rows, written in reducer calls of 50k rows. */
async function prepareW7(name: string, rows: number) {
  const db = await connect({ name, module: store, persist: false });
  for (let from = 0; from < rows; from += 50_000) await db.call('insert_many', { from: BigInt(from), n: Math.min(50_000, rows - from) });
  await db.close();
}

/** W7: open → first query result, in a browser that just started on the persisted profile. */
async function openW7(name: string) {
  const t0 = now();
  const db = await connect({ name, persist: false });
  const t1 = now();
  const rows = await db.sql('SELECT * FROM item WHERE id = 7');
  const t2 = now();
  if (rows.length !== 1) throw new Error('row 7 missing');
  await db.close();
  return { connect: t1 - t0, firstQuery: t2 - t1, total: t2 - t0 };
}

/** W7 breakdown, in a fresh dedicated worker. */
function breakdownW7(name: string): Promise<Record<string, number>> {
  const worker = new Worker(new URL('./breakdown.worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<Record<string, number>>) => {
      worker.terminate();
      resolve(e.data);
    };
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage(name);
  });
}

/** W1/W2 with the engine and IndexedDB in one dedicated worker (no page↔worker messaging). */
function engineOnly(name: string, calls: number, inFlight: number, durability: 'strict' | 'relaxed'): Promise<{ callsPerSec: number; writes: number; records: number }> {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ callsPerSec: number; writes: number; records: number }>) => {
      worker.terminate();
      resolve(e.data);
    };
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage({ name, code: store.code, calls, inFlight, durability });
  });
}

/** Round trip of a call that does no work in the engine (the client ↔ worker path alone), µs. */
async function workerRtt(name: string, reps: number, transport: 'shared' | 'dedicated') {
  const db = await connect({ name, module: store, persist: false, transport });
  for (let i = 0; i < 50; i++) await db.logs({ limit: 1 });
  const t0 = now();
  for (let i = 0; i < reps; i++) await db.logs({ limit: 1 });
  const rtt = ((now() - t0) / reps) * 1000;
  let id = 5_000_000_000n;
  const t1 = now();
  for (let i = 0; i < 200; i++) await db.call('insert_many', { from: id++, n: 1 });
  const w1 = (200 * 1000) / (now() - t1);
  await db.close();
  return { rtt, w1 };
}

(globalThis as { bench?: unknown }).bench = { calibrate, inserts, prepareW7, openW7, breakdownW7, engineOnly, workerRtt };
