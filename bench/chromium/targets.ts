// The targets of docs/benchmarks.md §3 checked against one run's rows: each line says met or
// missed and by what factor, so the table's reader does not have to do the arithmetic.
import type { Result } from '../node/measure.ts';

/** One target, as checked in this run. */
export interface TargetCheck {
  workload: string;
  target: string;
  /** What was measured, in words. */
  measured: string;
  met: boolean;
}

const find = (results: readonly Result[], workload: string, system: string): Result | undefined => results.find((r) => r.workload.startsWith(workload) && r.system === system);

const x = (v: number) => (v >= 10 ? v.toFixed(0) : v.toFixed(2));

/** Checks every target whose rows are present in `results`. */
export function checkTargets(results: readonly Result[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const lc = (workload: string) => find(results, workload, 'lightcone');

  const w1 = lc('W1 ');
  if (w1?.ratioToFloor != null) {
    out.push({ workload: 'W1', target: '≥ 0.8 × one IndexedDB strict transaction per call', measured: `${x(w1.median)} calls/s = ${x(w1.ratioToFloor)} × floor`, met: w1.ratioToFloor >= 0.8 });
  }
  const w2 = lc('W2 ');
  if (w2) {
    out.push({ workload: 'W2', target: '≥ 25,000 calls/s', measured: `${x(w2.median)} calls/s (${x(25_000 / w2.median)}× short)`, met: w2.median >= 25_000 });
    for (const dexie of ['Dexie (IDB strict)', 'Dexie (IDB default durability)']) {
      const d = find(results, 'W2 ', dexie);
      if (d) out.push({ workload: 'W2', target: `≥ 10 × ${dexie} one transaction per write`, measured: `${x(w2.median / d.median)} ×`, met: w2.median >= 10 * d.median });
    }
  }
  const w3 = lc('W3 ');
  if (w3) out.push({ workload: 'W3', target: '≥ 12,000 calls/s', measured: `${x(w3.median)} calls/s`, met: w3.median >= 12_000 });
  // W4 in Node and in the Chromium worker.
  for (const r of results.filter((r) => r.workload.startsWith('W4 ') && r.system === 'lightcone')) {
    if (r.ratioToFloor != null) out.push({ workload: r.workload, target: '≤ 2 × raw sqlite-wasm prepared inserts', measured: `${x(r.ratioToFloor)} × (C API floor)`, met: r.ratioToFloor <= 2 });
  }
  for (const r of results.filter((r) => r.workload.startsWith('W5 ') && r.system === 'lightcone')) {
    if (r.ratioToFloor != null) out.push({ workload: r.workload, target: '≤ 2 × raw sqlite-wasm prepared statements', measured: `${x(r.ratioToFloor)} × (C API floor)`, met: r.ratioToFloor <= 2 });
  }
  for (const r of results.filter((r) => r.workload.startsWith('W6 live, 1000 subscriptions') && r.system === 'lightcone')) {
    out.push({ workload: r.workload, target: 'p50 < 1 ms', measured: `${x(r.median)} ${r.unit}`, met: r.median < 1 });
  }
  const w6b = results.find((r) => r.workload.startsWith('W6 browser:') && r.system.startsWith('PGlite'));
  if (w6b?.ratioToLightcone != null) {
    out.push({ workload: 'W6 (Chromium)', target: '≥ 10 × faster than PGlite live.incrementalQuery', measured: `${x(w6b.ratioToLightcone)} × faster`, met: w6b.ratioToLightcone >= 10 });
  }
  const w9 = lc('W9 WebSocket reducer round trip, 1 in flight, p50');
  if (w9)
    out.push({
      workload: 'W9 round trip',
      target: 'p50 < 1 ms (SDK over WebSocket, confirmed reads)',
      measured: `${x(w9.median)} ms${w9.ratioToFloor != null ? ` = ${x(w9.ratioToFloor)} × a bare ws echo` : ''}`,
      met: w9.median < 1,
    });
  const w9t = lc('W9 WebSocket throughput');
  if (w9t) out.push({ workload: 'W9 throughput', target: '≥ 20,000 calls/s (16 connections × 4 in flight)', measured: `${x(w9t.median)} calls/s`, met: w9t.median >= 20_000 });
  const w10 = lc('W10 reducer call → row callback in the page, p50');
  if (w10)
    out.push({
      workload: 'W10',
      target: 'p50 < 2 ms (official SDK over local(), confirmed reads)',
      measured: `${x(w10.median)} ms${w10.ratioToFloor != null ? ` = ${x(w10.ratioToFloor)} × one IndexedDB strict transaction` : ''}`,
      met: w10.median < 2,
    });
  const w11 = lc('W11 sync: 8 replicas');
  if (w11) out.push({ workload: 'W11 convergence', target: '< 100 ms from the last of 8 × 100 calls to all replicas converged', measured: `${x(w11.median)} ms`, met: w11.median < 100 });
  const w11o = lc('W11 sync: optimistic call → local subscription callback, p50');
  if (w11o) out.push({ workload: 'W11 optimistic', target: 'p50 < 2 ms (replica call → local subscriber)', measured: `${x(w11o.median)} ms`, met: w11o.median < 2 });
  const p1 = lc('P1 playground: first usable paint');
  if (p1) out.push({ workload: 'P1 playground', target: '< 1500 ms to the first usable paint (built files, cold cache)', measured: `${x(p1.median)} ms`, met: p1.median < 1500 });
  const p3 = lc('P3 playground: typing while bundling, longest input delay');
  const p3floor = find(results, 'P3 playground: typing while bundling, longest input delay', 'floor: the same typing, nothing else running');
  if (p3 && p3floor) {
    const limit = Math.max(50, 1.25 * p3floor.median);
    out.push({
      workload: 'P3 playground',
      target: 'typing never blocked by bundling: longest input delay while bundling ≤ max(50 ms, 1.25 × the same typing with nothing running)',
      measured: `${x(p3.median)} ms while bundling, ${x(p3floor.median)} ms typing alone`,
      met: p3.median <= limit,
    });
  }
  for (const size of ['100k', '1M', '10M']) {
    const r = lc(`W7 cold start ${size} rows: open`);
    if (r?.ratioToFloor != null)
      out.push({
        workload: `W7 ${size}`,
        target: '≤ 1.5 × the raw image in IndexedDB (worker, WASM, one read, deserialize)',
        measured: `${x(r.median)} ms = ${x(r.ratioToFloor)} × floor`,
        met: r.ratioToFloor <= 1.5,
      });
  }
  // W12 counts only at 1M rows (the --quick run's 100k rows say nothing about the target).
  const w12 = find(results, 'W12 snapshot at 1M rows, 1 call in flight', 'while a snapshot is in flight (copy or write) · p99');
  if (w12) out.push({ workload: 'W12', target: 'p99 ≤ 10 ms while a snapshot of 1M rows is taken (1 call in flight)', measured: `${x(w12.median)} ms`, met: w12.median <= 10 });
  const w8 = lc('W8 memory per row at');
  if (w8?.ratioToFloor != null)
    out.push({ workload: 'W8', target: '≤ 1.5 × raw sqlite-wasm page bytes', measured: `${x(w8.median)} B/row = ${x(w8.ratioToFloor)} × floor`, met: w8.ratioToFloor <= 1.5 });
  return out;
}
