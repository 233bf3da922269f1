// `npm run bench:browser [-- --quick] [-- --big]`: W1, W2 and W7 of BENCHMARKS.md in Debian's
// Chromium with a persistent on-disk profile, plus the floors they are judged against (one
// IndexedDB transaction, postMessage and Comlink round trips), measured in the same run.
// Prints a table and writes bench/results/browser.json. Never part of `npm test`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { build, preview } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const quick = process.argv.includes('--quick');
const big = process.argv.includes('--big');
const REPS = quick ? 3 : 5;
const CHROMIUM = process.env.LIGHTCONE_CHROMIUM ?? '/usr/lib/chromium/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const configFile = join(here, 'vite.config.ts');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

await build({ configFile, logLevel: 'warn' });
const server = await preview({ configFile });
const url = 'http://localhost:4319/';
const profile = mkdtempSync(join(tmpdir(), 'lightcone-bench-'));
const launch = () => chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS, headless: true });
const open = async () => {
  const context = await launch();
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  await page.waitForFunction(() => 'bench' in globalThis);
  return { context, page };
};

const rows = [];
const add = (workload, system, unit, samples, floor) => {
  const med = median(samples);
  rows.push({ workload, system, unit, median: med, min: Math.min(...samples), max: Math.max(...samples), runs: samples.length, ratioToFloor: floor ? med / floor : null });
  return med;
};

try {
  let { context, page } = await open();
  const version = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));

  // Calibration first: the physical floors.
  const cal = [];
  for (let r = 0; r < REPS; r++) cal.push(await page.evaluate((n) => globalThis.bench.calibrate(n), quick ? 100 : 300));
  const floor = {};
  for (const key of Object.keys(cal[0])) floor[key] = add('floor', key, key.includes('PerSec') ? (key.startsWith('idb') ? 'tx/s' : 'calls/s') : key.includes('Us') ? 'µs' : 'ms', cal.map((c) => c[key]));

  // W1 (1 in flight) and W2 (64 in flight): calls/s of a reducer inserting one row, confirmed durable.
  const w1 = await page.evaluate(([n, reps]) => globalThis.bench.inserts(`w1-${Date.now()}`, n, 1, reps), [quick ? 100 : 300, REPS]);
  add('W1 insert, 1 in flight', 'lightcone (strict)', 'calls/s', w1, floor.idbTxPerSec_strict);
  const w2 = await page.evaluate(([n, reps]) => globalThis.bench.inserts(`w2-${Date.now()}`, n, 64, reps), [quick ? 1000 : 4000, REPS]);
  add('W2 insert, 64 in flight', 'lightcone (strict)', 'calls/s', w2, floor.idbTxPerSec_strict);
  await context.close();

  // W7: cold start of a persisted database, the browser restarted on the same profile each time.
  for (const n of big ? [100_000, 1_000_000] : [100_000]) {
    const name = `w7-${n}`;
    ({ context, page } = await open());
    await page.evaluate(([db, count]) => globalThis.bench.prepareW7(db, count), [name, n]);
    await context.close();
    const samples = [];
    for (let r = 0; r < REPS; r++) {
      ({ context, page } = await open());
      samples.push(await page.evaluate((db) => globalThis.bench.openW7(db), name));
      await context.close();
    }
    add(`W7 cold start ${n / 1000}k rows`, 'open → first query', 'ms', samples.map((s) => s.total));
    add(`W7 cold start ${n / 1000}k rows`, '  of which connect()', 'ms', samples.map((s) => s.connect));
    ({ context, page } = await open());
    const parts = [];
    for (let r = 0; r < REPS; r++) parts.push(await page.evaluate((db) => globalThis.bench.breakdownW7(db), name));
    await context.close();
    for (const key of ['wasmInit', 'idbRead', 'deserialize', 'moduleLoad', 'logReplay']) add(`W7 cold start ${n / 1000}k rows`, `  breakdown: ${key}`, 'ms', parts.map((p) => p[key]));
    rows.push({ workload: `W7 cold start ${n / 1000}k rows`, system: '  stored', unit: '', median: null, note: `snapshot ${(parts[0].snapshotBytes / 1e6).toFixed(1)} MB + ${parts[0].logRecords} log records (${parts[0].replayedRows} rows replayed)` });
  }

  const fmt = (x) => (x === null || x === undefined ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
  console.log(`\nChromium ${version}, persistent profile, durability strict (default), ${REPS} repetitions, medians\n`);
  console.log(['workload'.padEnd(34), 'system'.padEnd(30), 'median'.padStart(10), 'min'.padStart(10), 'max'.padStart(10), 'unit'.padEnd(8), '× floor'].join(' '));
  for (const r of rows) {
    console.log([r.workload.padEnd(34), r.system.padEnd(30), fmt(r.median).padStart(10), fmt(r.min).padStart(10), fmt(r.max).padStart(10), (r.unit ?? '').padEnd(8), r.ratioToFloor ? r.ratioToFloor.toFixed(2) : r.note ?? ''].join(' '));
  }
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'browser.json'), JSON.stringify({ chromium: version, persistentProfile: true, durability: 'strict', reps: REPS, rows }, null, 2) + '\n');
} finally {
  await new Promise((resolve) => server.httpServer.close(resolve));
  rmSync(profile, { recursive: true, force: true });
}
