// The Chromium half of `npm run bench`: builds the bench page (bench/chromium/, its own Vite
// config) into a temporary folder, serves it on loopback, and drives Debian's Chromium through
// Playwright with a persistent on-disk profile in a temporary folder (restarted on the same
// profile for cold starts). Calibration first, then W1–W3, W6, W7, W8 for Lightcone (through
// `connect()`) and its peers (raw sqlite-wasm, Dexie, PGlite), systems shuffled in every round;
// W10 sets the official SDK over `local()` beside `connect()`.
import { STORE_RANGES } from '../store-workload.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from '@playwright/test';
import { build } from 'vite';
import { CHROMIUM, CHROMIUM_ARGS } from '../../e2e/chromium.ts';
import { call, log, median, rounds, rowsOf, serve, shuffle, WorkerMemory, type BrowserResult, type Samples } from './harness.ts';

export type { BrowserResult } from './harness.ts';

/** What the browser run adds to latest.json besides its rows. */
export interface BrowserMeta {
  chromium: string;
  userAgent: string;
  persistentProfile: true;
  repetitions: Record<string, number>;
  notes: string[];
}

/** Parts of the browser run; calibration always runs first (the floors). */
export type Phase = 'w123' | 'w1hops' | 'w45' | 'w6' | 'w10' | 'w12' | 'scale' | 'w7' | 'w8';
export const PHASES: readonly Phase[] = ['w123', 'w1hops', 'w45', 'w6', 'w10', 'w12', 'scale', 'w7', 'w8'];

/** Display names of the systems (page keys are 'lightcone' or '<peer>:<durability>'). */
const LABEL: Record<string, string> = {
  lightcone: 'lightcone',
  'sqlite:memory': 'raw sqlite-wasm (memory)',
  'sqlite:opfs': 'raw sqlite-wasm (OPFS sahpool)',
  'sqlite:idb-image': 'raw sqlite-wasm (image in IndexedDB)',
  'dexie:idb-default': 'Dexie (IDB default durability)',
  'dexie:idb-strict': 'Dexie (IDB strict)',
  'pglite:memory': 'PGlite (memory)',
  'pglite:idb': 'PGlite (idb://)',
  'lightcone-engine': 'lightcone Engine.open (bench worker)',
  'lightcone-steps': 'lightcone open by hand (bench worker)',
};
const label = (key: string) => LABEL[key] ?? key;
const dbName = (prefix: string, key: string) => `${prefix}-${key.replace(':', '-')}`;

/** Shared state of one run: the browser on its persistent profile, settings, rows, notes. */
interface Run {
  quick: boolean;
  /** Repetitions: default, PGlite on idb:// (W1–W3), and per browser restart (W7, W8). */
  R: number;
  R_SLOW: number;
  R_COLD: number;
  launch(): Promise<BrowserContext>;
  close(): Promise<void>;
  newPage(c: BrowserContext): Promise<Page>;
  results: BrowserResult[];
  notes: string[];
  elapsed(): string;
  /** Median ms of one IndexedDB strict transaction (calibration). */
  strictTxMs: number;
  strictTxSamples: number[];
  /** ms of one IndexedDB strict transaction holding a batch of 64 records (calibration). */
  batchTxSamples: number[];
  /** µs per page ↔ dedicated worker round trip with no payload, raw postMessage and Comlink (calibration). */
  echoSamples: Samples;
}

/**
 * Runs the Chromium workloads. `phases` limits the run (`npm run bench -- --only=browser
 * --phases=w7,w8`); calibration always runs first.
 */
export async function runBrowser(opts: { quick: boolean; phases?: readonly Phase[] }): Promise<{ results: BrowserResult[]; meta: BrowserMeta }> {
  const phases = opts.phases ?? PHASES;
  const t0 = Date.now();
  const outDir = mkdtempSync(join(tmpdir(), 'lightcone-bench-dist-'));
  const profile = mkdtempSync(join(tmpdir(), 'lightcone-bench-profile-'));
  process.env.BENCH_OUT_DIR = outDir;
  log(`building the bench page into ${outDir}`);
  await build({ configFile: join(process.cwd(), 'bench/chromium/vite.config.ts'), logLevel: 'error' });
  const { server, url } = await serve(outDir);
  let ctx: BrowserContext | undefined;
  const run: Run = {
    quick: opts.quick,
    R: opts.quick ? 3 : 5,
    R_SLOW: opts.quick ? 2 : 3,
    R_COLD: opts.quick ? 2 : 5,
    async launch() {
      ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
      for (const p of ctx.pages()) await p.close();
      return ctx;
    },
    async close() {
      await ctx?.close();
      ctx = undefined;
    },
    async newPage(c) {
      const page = await c.newPage();
      page.on('pageerror', (e) => log(`page error: ${e.message}`));
      await page.goto(url);
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
      return page;
    },
    results: [],
    notes: [],
    elapsed: () => `${((Date.now() - t0) / 1000).toFixed(0)} s`,
    strictTxMs: 0,
    strictTxSamples: [],
    batchTxSamples: [],
    echoSamples: new Map(),
  };
  try {
    const c = await run.launch();
    const chromiumVersion = c.browser()?.version() ?? 'unknown';
    const page = await run.newPage(c);
    const userAgent = await call(page, 'userAgent');
    log(`Chromium ${chromiumVersion}, persistent profile in ${profile}`);
    await calibrate(run, page);
    if (phases.includes('w123')) await w123(run, page);
    if (phases.includes('w1hops')) await w1hops(run, page);
    if (phases.includes('w45')) await w45(run, page);
    if (phases.includes('w6')) await w6(run, page);
    if (phases.includes('w10')) await w10(run, page);
    if (phases.includes('w12')) await w12(run, page);
    if (phases.includes('scale')) await scale(run, page);
    await page.close();
    await run.close();
    if (phases.includes('w7')) await w7(run);
    if (phases.includes('w8')) await w8(run);
    return {
      results: run.results,
      meta: {
        chromium: chromiumVersion,
        userAgent,
        persistentProfile: true,
        repetitions: { default: run.R, 'PGlite idb:// in W1–W3': run.R_SLOW, 'W7 and W8 (one browser restart each)': run.R_COLD },
        notes: run.notes,
      },
    };
  } finally {
    await run.close().catch(() => {}); // teardown: the run's result or its own error is what to report
    server.close();
    rmSync(outDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The physical floors, measured first in the same run. */
async function calibrate(run: Run, page: Page): Promise<void> {
  const { R, quick } = run;
  const cal = async <T>(method: string, ...args: unknown[]) => (await call(page, 'calib', method, ...args)) as T;
  const idbN = quick ? 100 : 200;
  const shared = async <T>(method: string, ...args: unknown[]) => (await call(page, 'calibShared', method, ...args)) as T;
  const idbTxn = await rounds(R, {
    relaxed: { run: () => cal<number>('idbTxn', 'relaxed', idbN) },
    default: { run: () => cal<number>('idbTxn', 'default', idbN) },
    strict: { run: () => cal<number>('idbTxn', 'strict', idbN) },
    'strict, SharedWorker': { run: () => shared<number>('idbTxn', 'strict', idbN) },
    'strict, 64 records in one put': { run: () => cal<number>('idbBatch', 'strict', 64, idbN / 2) },
    'strict, 64 records in one put, SharedWorker': { run: () => shared<number>('idbBatch', 'strict', 64, idbN / 2) },
  });
  run.results.push(
    ...rowsOf('C1 IndexedDB: one readwrite transaction, awaited', 'ms', idbTxn, {
      floor: 'relaxed',
      durability: Object.fromEntries([...idbTxn.keys()].map((k) => [k, `IndexedDB ${k.split(',')[0]}`])),
      notes: { 'strict, 64 records in one put': 'how a group commit of 64 calls writes: one transaction, one put of 64 × 100-byte records' },
    }),
  );
  const big: Samples = new Map([
    ['put 1 MB', []],
    ['get 1 MB', []],
  ]);
  for (let r = 0; r < R; r++) {
    const x = await cal<{ put: number; get: number }>('idbBig', 5);
    big.get('put 1 MB')!.push(x.put);
    big.get('get 1 MB')!.push(x.get);
  }
  run.results.push(...rowsOf('C2 IndexedDB: one 1 MB value', 'ms', big, { durability: { 'put 1 MB': 'IndexedDB strict' } }));
  const msgs = await rounds(R, {
    'postMessage 0 B': { run: () => call(page, 'echoRaw', 0, 500) },
    'Comlink 0 B': { run: () => call(page, 'echoComlink', 0, 500) },
    'postMessage 64 KB': { run: () => call(page, 'echoRaw', 65536, 200) },
    'Comlink 64 KB': { run: () => call(page, 'echoComlink', 65536, 200) },
  });
  run.results.push(...rowsOf('C3 round trip page ↔ dedicated worker', 'µs', msgs, { floor: 'postMessage 0 B', durability: {} }));
  run.echoSamples = msgs;
  const sq: Samples = new Map([
    ['prepared insert per row (100k, one tx)', []],
    ['prepared PK lookup', []],
  ]);
  for (let r = 0; r < R; r++) {
    sq.get('prepared insert per row (100k, one tx)')!.push(await cal<number>('sqliteInsert', 100_000));
    sq.get('prepared PK lookup')!.push(await cal<number>('sqliteLookup', 20_000, 100_000));
  }
  run.results.push(...rowsOf('C4 raw sqlite-wasm in a worker (oo1 API, memory)', 'µs', sq, { durability: { 'prepared insert per row (100k, one tx)': 'memory', 'prepared PK lookup': 'memory' } }));
  const img: Samples = new Map([
    ['sqlite3_js_db_export', []],
    ['sqlite3_deserialize (+ heap copy)', []],
  ]);
  for (let r = 0; r < R; r++) {
    const x = await cal<{ export: number; deserialize: number }>('sqliteImage', 10);
    img.get('sqlite3_js_db_export')!.push(x.export);
    img.get('sqlite3_deserialize (+ heap copy)')!.push(x.deserialize);
  }
  run.results.push(...rowsOf('C5 sqlite-wasm image of 10 MB', 'ms', img, { durability: {} }));
  run.strictTxSamples = idbTxn.get('strict')!;
  run.strictTxMs = median(run.strictTxSamples);
  run.batchTxSamples = idbTxn.get('strict, 64 records in one put')!;
  log(`calibration done (${run.elapsed()}): one IndexedDB strict transaction ${run.strictTxMs.toFixed(2)} ms`);
}

/** W1 (1 in flight), W2 (64 in flight) single-row writes and W3 bank transfers, every system open at once. */
async function w123(run: Run, page: Page): Promise<void> {
  const { R, R_SLOW, quick } = run;
  const SYSTEMS = ['lightcone', 'sqlite:memory', 'sqlite:opfs', 'dexie:idb-default', 'dexie:idb-strict', 'pglite:memory', 'pglite:idb'];
  // --quick: W3 leaves out Dexie at its default durability (loading 100k accounts into Dexie takes ≈7 s).
  const W3_SYSTEMS = quick ? SYSTEMS.filter((k) => k !== 'dexie:idb-default') : SYSTEMS;
  const slow = (key: string) => key === 'pglite:idb';
  const durability: Record<string, string> = {};
  for (const key of SYSTEMS) durability[label(key)] = await call(page, 'open', key, dbName('w123', key));
  log(`opened ${SYSTEMS.length} systems (${run.elapsed()})`);
  const per = (n: number, slowN: number) => Object.fromEntries(SYSTEMS.map((k) => [k, slow(k) ? slowN : n]));

  const FLOOR1 = 'floor: 1 IDB strict tx per call';
  const n1 = per(quick ? 100 : 300, 10);
  const w1 = await rounds(R, Object.fromEntries(SYSTEMS.map((k) => [label(k), { run: () => call(page, 'w1', k, n1[k]!), ...(slow(k) ? { reps: R_SLOW } : {}) }])));
  w1.set(
    FLOOR1,
    run.strictTxSamples.map((ms) => 1000 / ms),
  );
  run.results.push(
    ...rowsOf('W1 insert 1 row per call, 1 in flight (durable)', 'calls/s', w1, {
      floor: 1000 / run.strictTxMs,
      durability: { ...durability, [FLOOR1]: 'IndexedDB strict' },
      notes: { [FLOOR1]: 'calibration C1 (strict) as calls/s; the target is lightcone ≥ 0.7 × this' },
    }),
  );
  log(`W1 done (${run.elapsed()})`);

  // BENCH_CPU_PROFILE=<file>: a V8 profile of Lightcone's engine worker over W2 and W3 (not for recorded runs).
  const profileTo = process.env.BENCH_CPU_PROFILE;
  const probe = profileTo ? await WorkerMemory.open(page) : undefined;
  const stopProfile = await probe?.cpuProfile('worker', 'engine-worker');
  const stopPageProfile = await probe?.pageCpuProfile();

  const FLOOR2 = 'floor: 64 calls per IDB strict tx';
  const n2 = per(quick ? 640 : 2000, quick ? 16 : 64);
  const w2 = await rounds(R, Object.fromEntries(SYSTEMS.map((k) => [label(k), { run: () => call(page, 'w2', k, n2[k]!, 64), ...(slow(k) ? { reps: R_SLOW } : {}) }])));
  w2.set(
    FLOOR2,
    run.batchTxSamples.map((ms) => 64_000 / ms),
  );
  run.results.push(
    ...rowsOf('W2 insert 1 row per call, 64 in flight (durable)', 'calls/s', w2, {
      floor: median(w2.get(FLOOR2)!),
      durability: { ...durability, [FLOOR2]: 'IndexedDB strict' },
      notes: {
        [label('sqlite:memory')]: 'no durability: the ceiling of one RPC round trip + one SQLite insert per call',
        [FLOOR2]: 'calibration C1 (strict, one put of 64 records) as calls/s: group commit with 64 calls in flight and one write at a time cannot beat it',
      },
    }),
  );
  log(`W2 done (${run.elapsed()})`);

  const ACCOUNTS = 100_000;
  for (const key of W3_SYSTEMS) await call(page, 'seedAccounts', key, ACCOUNTS);
  log(`seeded ${ACCOUNTS} accounts in each system (${run.elapsed()})`);
  const n3 = per(quick ? 640 : 2000, quick ? 16 : 64);
  let seed = 1;
  const w3 = await rounds(R, Object.fromEntries(W3_SYSTEMS.map((k) => [label(k), { run: () => call(page, 'w3', k, ACCOUNTS, n3[k]!, 64, seed++), ...(slow(k) ? { reps: R_SLOW } : {}) }])));
  w3.set(FLOOR2, w2.get(FLOOR2)!);
  run.results.push(...rowsOf('W3 bank transfer, Zipf 100k accounts, 64 in flight', 'calls/s', w3, { floor: median(w2.get(FLOOR2)!), durability: { ...durability, [FLOOR2]: 'IndexedDB strict' } }));
  log(`W3 done (${run.elapsed()})`);
  if (stopProfile && profileTo) {
    writeFileSync(profileTo, JSON.stringify(await stopProfile()));
    if (stopPageProfile) writeFileSync(`${profileTo}.page`, JSON.stringify(await stopPageProfile()));
    log(`CPU profiles over W2 and W3: the engine worker's in ${profileTo}, the page's in ${profileTo}.page`);
  }
  for (const key of SYSTEMS) await call(page, 'close', key);
  run.notes.push(
    `W1–W3: PGlite on idb:// runs ${n1['pglite:idb']}/${n2['pglite:idb']}/${n3['pglite:idb']} calls per repetition and ${R_SLOW} repetitions (≈10 durable writes/s); every other system ${n1.lightcone}/${n2.lightcone}/${n3.lightcone} calls and ${R} repetitions.`,
  );
}

/**
 * W1 hops: where the time of one durable call (W1) goes. The same traced insert (bench/modules/
 * items.ts `insert_traced`, which notes when its code starts and ends) called one at a time from
 * the page through `connect()` (page → SharedWorker → engine worker), and to the engine hosted in
 * a bench worker (one postMessage hop), whose durability is wrapped to time each append and its
 * durable. Times cross contexts as `performance.timeOrigin + performance.now()`.
 */
async function w1hops(run: Run, page: Page): Promise<void> {
  const { R, quick } = run;
  const n = quick ? 100 : 300;
  await call(page, 'hopsOpen', 'hops');
  // One unmeasured pass each: the first calls compile the paths and fill the caches.
  await call(page, 'hopsRun', 'connect', 30);
  await call(page, 'hopsRun', 'worker', 30);
  const CONNECT = 'connect()';
  const WORKER = 'engine in a bench worker';
  const parts: Samples = new Map();
  const add = (k: string, v: number) => parts.set(k, [...(parts.get(k) ?? []), v]);
  const byRep: Record<string, number>[] = [];
  await rounds(R, {
    [CONNECT]: {
      async run() {
        const x = await call(page, 'hopsRun', 'connect', n);
        for (const [k, v] of Object.entries(x)) add(`${CONNECT} · ${k}`, v);
        const noop = await call(page, 'hopsNoop', n);
        add(`${CONNECT} · round trip running no call (logs, limit 1)`, noop.logs);
        add(`${CONNECT} · call of a procedure that commits nothing`, noop.procedure);
        add(`${CONNECT} · call of a procedure that spins 1.3 ms, less 1.3 ms`, noop.spin);
        add(`${CONNECT} · total less that procedure call (≈ commit + IndexedDB write)`, x.total! - noop.procedure);
        byRep.push(x);
        return x.total!;
      },
    },
    [WORKER]: {
      async run() {
        const x = await call(page, 'hopsRun', 'worker', n);
        for (const [k, v] of Object.entries(x)) add(`${WORKER} · ${k}`, v);
        return x.total!;
      },
    },
  });
  await call(page, 'hopsClose');
  // What connect() spends outside the engine's own work: its total less the reducer and, from the
  // bench worker's medians, commit, IndexedDB write and durable → resolved (the same engine code).
  const w = (k: string) => median(parts.get(`${WORKER} · ${k}`)!);
  const engineAfter = w('commit (SQLite commit + delta encode → append)') + w('IndexedDB log write (append → durable)') + w('durable → call resolved');
  const engineBefore = w('worker → reducer start (engine queue, arguments)');
  for (const x of byRep) add(`${CONNECT} · messaging and routing, both ways (derived)`, x.total! - x['reducer (module code + datastore)']! - engineAfter - engineBefore);
  parts.set('floor: IndexedDB strict transaction (C1)', run.strictTxSamples);
  parts.set(
    'floor: postMessage round trip, 0 B (C3)',
    run.echoSamples.get('postMessage 0 B')!.map((us) => us / 1000),
  );
  parts.set(
    'floor: Comlink round trip, 0 B (C3)',
    run.echoSamples.get('Comlink 0 B')!.map((us) => us / 1000),
  );
  const durability = { [`${CONNECT} · total`]: 'IndexedDB strict', [`${WORKER} · total`]: 'IndexedDB strict', 'floor: IndexedDB strict transaction (C1)': 'IndexedDB strict' };
  run.results.push(
    ...rowsOf('W1 hops: one durable call, 1 in flight, ms per call', 'ms', parts, {
      durability,
      notes: {
        [`${CONNECT} · page → reducer start`]: 'page → SharedWorker (Comlink) → engine worker (Comlink) → WorkerHost → engine queue → the module',
        [`${CONNECT} · reducer end → reply in page`]: 'SQLite commit + delta encode + IndexedDB log write + reply through the engine worker and the SharedWorker',
        [`${CONNECT} · messaging and routing, both ways (derived)`]: "connect()'s total less its reducer and the bench worker's engine queue, commit, IndexedDB write and durable → resolved",
        [`${WORKER} · page → worker (postMessage)`]: "the bench RPC's one hop (rpc.ts), as peers are called",
        [`${CONNECT} · call of a procedure that commits nothing`]: 'the whole connect() path of a call (both hops, queue, module) without a log write',
        [`${CONNECT} · call of a procedure that spins 1.3 ms, less 1.3 ms`]: 'the same path when the page and the SharedWorker idle for about a log write meanwhile',
      },
    }).map((row) => ({ ...row, ratioToLightcone: null })),
  );
  run.notes.push(
    `W1 hops: ${n} traced calls per repetition and path, one in flight; each step is the mean of the middle 80 % of the calls (performance.now() is coarsened to 100 µs with jitter in a page without cross-origin isolation, so means resolve below it and medians do not), the rows give the median over repetitions. Steps in different contexts are compared as performance.timeOrigin + performance.now(), which Chromium keeps on one clock for same-origin workers. The reducer times itself from inside the module (bench/modules/items.ts insert_traced).`,
  );
  log(`W1 hops done (${run.elapsed()})`);
}

/**
 * W12: a snapshot at 1M rows (100k with --quick) under load. The engine runs in a bench worker
 * (as the SharedWorker hosts it) with a snapshot every `every` records and none when idle; after
 * the load, calls of `insert_one` one at a time run for a few seconds while the engine
 * snapshots, each call classed by what overlapped it: an image copy (datastore.copy, a step at a
 * time between calls on the engine thread), else the image write (the parts that changed, beside
 * the log), else nothing.
 */
async function w12(run: Run, page: Page): Promise<void> {
  const { quick } = run;
  const rows = quick ? 100_000 : 1_000_000;
  const every = quick ? 1000 : 2000;
  const ms = quick ? 3000 : 8000;
  const R = run.R_SLOW;
  const loadMs = await call(page, 'snapSetup', 'w12', every, rows);
  log(`W12: loaded ${rows} rows in ${(loadMs / 1000).toFixed(1)} s (${run.elapsed()})`);
  await call(page, 'snapRun', 1000, 0); // warm-up: the first calls compile the paths
  const lat: Samples = new Map();
  const other: Samples = new Map();
  const add = (s: Samples, k: string, v: number) => s.set(k, [...(s.get(k) ?? []), v]);
  let calls = 0;
  let snapshots = 0;
  let stalled = 0;
  for (let r = 0; r < R; r++) {
    const x = await call(page, 'snapRun', ms, 2);
    calls += x.calls;
    snapshots += x.snapshots;
    stalled += x.copy.n + x.write.n;
    for (const [cls, label] of [
      ['none', 'no snapshot in flight'],
      ['copy', 'overlapping an image copy'],
      ['write', 'overlapping an image write (not its copy)'],
      ['during', 'while a snapshot is in flight (copy or write)'],
      ['all', 'all calls'],
    ] as const) {
      const sp = x[cls];
      if (!sp.n) continue;
      add(lat, `${label} · p50`, sp.p50);
      add(lat, `${label} · p99`, sp.p99);
      add(lat, `${label} · max`, sp.max);
    }
    for (const v of x.copyMs) add(other, 'copy (datastore.copy: first step → last, calls run between steps)', v);
    for (const v of x.longestStepMs) add(other, 'copy: longest step (engine thread)', v);
    for (const v of x.writeMs) add(other, 'image write (writeSnapshot → stored: hash parts, put new ones, switch)', v);
    for (const v of x.imageBytes) add(other, 'image MB', v / 1e6);
    if (x.writeMs.length) {
      add(other, 'MB written per snapshot (parts that changed)', x.writtenBytes / 1e6);
      const image = x.imageBytes.reduce((a, b) => a + b, 0) / Math.max(1, x.imageBytes.length);
      if (image > 0) add(other, '% of the image written per snapshot', (100 * x.writtenBytes) / image);
    }
    add(other, 'engine thread blocked per snapshot (timer gaps > 20 ms, summed)', x.blockedMs);
    add(other, 'engine thread: longest block', x.longestBlockMs);
    log(`W12 repetition ${r + 1}/${R}: ${x.calls} calls, ${x.snapshots} snapshots (${run.elapsed()})`);
  }
  await call(page, 'snapClose');
  const k = rows >= 1e6 ? `${rows / 1e6}M` : `${rows / 1e3}k`;
  run.results.push(
    ...rowsOf(`W12 snapshot at ${k} rows, 1 call in flight: call latency`, 'ms', lat, {
      durability: Object.fromEntries([...lat.keys()].map((s) => [s, 'IndexedDB strict'])),
      notes: {
        'while a snapshot is in flight (copy or write) · p99': 'target ≤ 10 ms',
      },
    }).map((row) => ({ ...row, ratioToLightcone: null })),
    ...rowsOf(`W12 snapshot at ${k} rows: the snapshot`, 'ms', other, {
      durability: { 'image write (writeSnapshot → stored: hash parts, put new ones, switch)': 'IndexedDB strict' },
      notes: {
        'engine thread blocked per snapshot (timer gaps > 20 ms, summed)':
          'a 2 ms timer on the engine thread during the repetition: the time it could not fire, in gaps over 20 ms, divided by the snapshots taken',
      },
    }).map((row) => ({
      ...row,
      unit: row.system.endsWith('MB') || row.system.startsWith('MB ') ? 'MB' : row.system.startsWith('% ') ? '%' : row.unit,
      ratioToLightcone: null,
    })),
  );
  run.notes.push(
    `W12: ${rows} rows loaded in calls of 1000 rows, then ${R} repetitions of ≥ ${ms / 1000} s of insert_one one at a time (snapshot every ${every} records, idle snapshots off): ${calls} calls, ${snapshots} snapshots, ${stalled} calls overlapping one. Latency rows are per repetition (their median over repetitions); copy and write rows are per snapshot.`,
  );
  log(`W12 done (${run.elapsed()})`);
}

/** `10k`, `100k`, `1M`: a row count as the results name it. */
const rowsLabel = (rows: number) => (rows >= 1e6 ? `${rows / 1e6}M` : `${rows / 1e3}k`);

/**
 * Scale curves, Lightcone through `connect()`: W2 (64 durable calls in flight) and W6 (100 live
 * queries, write → callback) over tables of 10k, 100k and 1M rows, and W6 over 100k rows with
 * 1, 100, 1,000 and 10,000 subscriptions. Cold start against rows is W7's.
 */
async function scale(run: Run, page: Page): Promise<void> {
  const { R, quick } = run;
  const sizes = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  const subCounts = quick ? [1, 100, 1000] : [1, 100, 1000, 10_000];
  const n2 = quick ? 640 : 2000;
  const w2: Samples = new Map();
  const w6: Samples = new Map();
  const w6subs: Samples = new Map();
  const live = async (name: string, subs: number, into: Samples, key: string) => {
    const t0 = Date.now();
    await call(page, 'liveSetup', name, subs);
    const setupMs = Date.now() - t0;
    const xs: number[] = [];
    for (let r = 0; r < R; r++) {
      const x = await call(page, 'liveWrite', 1 + Math.floor(Math.random() * subs), 50);
      if (x.callbacks !== 1) throw new Error(`scale W6: ${x.callbacks} subscriptions called for one write (${subs} subscriptions)`);
      xs.push(x.affected);
    }
    await call(page, 'liveTeardown');
    into.set(key, xs);
    log(`scale: ${key}: ${subs} subscriptions set up in ${(setupMs / 1000).toFixed(1)} s (${run.elapsed()})`);
  };
  for (const rows of sizes) {
    const name = `scale-${rows}`;
    await call(page, 'open', 'lightcone', name);
    // Calls of 10k rows, 8 in flight; then the engine's snapshots settle before measuring.
    const per = Math.min(rows, 10_000);
    for (let i = 0; i < rows / per; i += 8) await Promise.all(Array.from({ length: Math.min(8, rows / per - i) }, () => call(page, 'load', 'lightcone', per)));
    await call(page, 'lightconeSettled', name, 2500, 120_000);
    const k = `lightcone · ${rowsLabel(rows)} rows`;
    w2.set(k, []);
    for (let r = 0; r < R; r++) w2.get(k)!.push(await call(page, 'w2', 'lightcone', n2, 64));
    await call(page, 'close', 'lightcone');
    log(`scale: W2 at ${rowsLabel(rows)} rows (${run.elapsed()})`);
    await live(name, 100, w6, k);
    if (rows === 100_000) for (const subs of subCounts) await live(name, subs, w6subs, `lightcone · ${subs} subscription${subs === 1 ? '' : 's'}`);
  }
  const FLOOR2 = 'floor: 64 calls per IDB strict tx';
  w2.set(
    FLOOR2,
    run.batchTxSamples.map((ms) => 64_000 / ms),
  );
  const durable = (xs: Samples) => Object.fromEntries([...xs.keys()].map((s) => [s, 'IndexedDB strict']));
  run.results.push(
    ...rowsOf('Scale W2: 64 calls in flight (durable), by rows in the table', 'calls/s', w2, { floor: FLOOR2, durability: durable(w2) }),
    ...rowsOf('Scale W6: 100 live queries, write → callback, by rows in the table', 'ms', w6, { durability: durable(w6) }),
    ...rowsOf('Scale W6: live queries over 100k rows, write → callback, by subscriptions', 'ms', w6subs, { durability: durable(w6subs) }),
  );
  run.notes.push(
    `Scale: Lightcone through connect(); W2 ${n2} calls × ${R} repetitions per size after the load's snapshots settled; W6 ${R} writes per point, each one subscription's \`SELECT * FROM item WHERE id = k\` affected (checked: exactly one callback), confirmed reads. Cold start against rows: W7.`,
  );
  log(`scale done (${run.elapsed()})`);
}

/** W4 (100k inserts in one reducer) and W5 (lookups, range scans in a reducer) in a Chromium worker, against raw sqlite-wasm in the same worker. */
async function w45(run: Run, page: Page): Promise<void> {
  const { R } = run;
  const SYS: Record<string, string> = { capi: 'raw sqlite-wasm (C API)', oo1: 'raw sqlite-wasm (oo1)', lightcone: 'lightcone' };
  const durability = Object.fromEntries(Object.values(SYS).map((l) => [l, 'memory (the store, not the disk)']));
  const w4 = await rounds(R, Object.fromEntries(Object.entries(SYS).map(([k, l]) => [l, { run: () => call(page, 'storeW4', k) }])));
  run.results.push(...rowsOf('W4 (Chromium worker) bulk insert 100k rows in one reducer', 'ms', w4, { floor: SYS.capi!, durability }));
  await call(page, 'storeW5Setup');
  const lookups = run.quick ? 5000 : 20_000;
  const w5 = await rounds(R, Object.fromEntries(Object.entries(SYS).map(([k, l]) => [l, { run: () => call(page, 'storeW5', k, 0, lookups) }])));
  run.results.push(...rowsOf('W5 (Chromium worker) point lookup by primary key', 'µs/op', w5, { floor: SYS.capi!, durability }));
  for (const [width, n] of STORE_RANGES) {
    const r = await rounds(R, Object.fromEntries(Object.entries(SYS).map(([k, l]) => [l, { run: () => call(page, 'storeW5', k, width, n) }])));
    run.results.push(...rowsOf(`W5 (Chromium worker) range scan of ${width} rows`, 'µs/scan', r, { floor: SYS.capi!, durability }));
  }
  await call(page, 'storeClose');
  log(`W4/W5 done (${run.elapsed()})`);
}

/** W6: 100 live queries on distinct ids over 100k rows, one write → callback; Lightcone against PGlite live.incrementalQuery (memory). */
async function w6(run: Run, page: Page): Promise<void> {
  const { R, quick } = run;
  const ROWS = 100_000;
  const SUBS = quick ? 20 : 100;
  await call(page, 'open', 'lightcone', 'w6-lightcone');
  await call(page, 'load', 'lightcone', ROWS);
  await call(page, 'close', 'lightcone');
  await call(page, 'liveSetup', 'w6-lightcone', SUBS);
  await call(page, 'pgliveSetup', 'w6-pglite', SUBS, ROWS);
  log(`W6: ${SUBS} subscriptions on ${ROWS} rows set up in each system (${run.elapsed()})`);
  let extra = 0;
  let pgCallbacks = 0;
  const write = () => 1 + Math.floor(Math.random() * SUBS);
  const samples = await rounds(R, {
    lightcone: {
      async run() {
        const x = await call(page, 'liveWrite', write(), 50);
        extra = Math.max(extra, x.callbacks - 1);
        return x.affected;
      },
    },
    'PGlite incrementalQuery (memory)': {
      async run() {
        const x = await call(page, 'pgliveWrite', write(), 30_000);
        pgCallbacks = Math.max(pgCallbacks, x.callbacks);
        return x.last;
      },
    },
  });
  await call(page, 'liveTeardown');
  await call(page, 'close', 'pglite-live');
  run.results.push(
    ...rowsOf(`W6 browser: ${SUBS} live queries (distinct ids), 100k rows, write → callback`, 'ms', samples, {
      durability: { lightcone: 'IndexedDB strict (confirmed reads)', 'PGlite incrementalQuery (memory)': 'memory' },
      notes: {
        lightcone: `page call → the affected subscription's onUpdate in the page (after the write is durable); unaffected subscriptions called: ${extra}`,
        'PGlite incrementalQuery (memory)': `live.incrementalQuery: UPDATE → last callback, inside the PGlite worker (no page hop); callbacks per write: ${pgCallbacks} of ${SUBS}`,
      },
    }),
  );
  log(`W6 done (${run.elapsed()})`);
}

/**
 * W10: a reducer call → the inserted row's callback in the page, one call at a time, through
 * SpacetimeDB's official SDK over `local()` (`onInsert`) beside Lightcone's own `connect()`
 * (`onUpdate`), both subscribed to the whole table and both with confirmed reads (the default).
 * Each repetition makes `n` calls per client and gives one p50 and one p99.
 */
async function w10(run: Run, page: Page): Promise<void> {
  const { R, quick } = run;
  const n = quick ? 100 : 300;
  const SDK = 'lightcone';
  const CONNECT = 'lightcone connect()';
  const kinds = { [SDK]: 'sdk', [CONNECT]: 'connect' } as const;
  // One database each, so neither client sees the other's writes.
  await call(page, 'w10Open', 'sdk', 'w10-sdk');
  await call(page, 'w10Open', 'connect', 'w10-connect');
  // One unmeasured pass each: the first calls compile the module's paths and fill the caches.
  for (const kind of Object.values(kinds)) await call(page, 'w10', kind, 20);
  const p99: Samples = new Map(Object.keys(kinds).map((k) => [k, []]));
  const p50 = await rounds(
    R,
    Object.fromEntries(
      Object.entries(kinds).map(([system, kind]) => [
        system,
        {
          async run() {
            const x = await call(page, 'w10', kind, n);
            p99.get(system)!.push(x.p99);
            return x.p50;
          },
        },
      ]),
    ),
  );
  await call(page, 'w10Close');
  const opts = {
    durability: { [SDK]: 'IndexedDB strict (confirmed reads)', [CONNECT]: 'IndexedDB strict (confirmed reads)' },
    notes: {
      [SDK]: "official SDK (DbConnection) over local(): reducers.insertOne → the row's onInsert in the page",
      [CONNECT]: "connect(): db.call('insert_one') → the subscription's onUpdate carrying the row, in the page",
    },
  };
  // × floor for p50: one awaited IndexedDB strict transaction (calibration C1), which a confirmed read waits for.
  run.results.push(
    ...rowsOf('W10 reducer call → row callback in the page, p50', 'ms', p50, { ...opts, floor: run.strictTxMs }),
    ...rowsOf('W10 reducer call → row callback in the page, p99', 'ms', p99, opts),
  );
  run.notes.push(
    `W10: ${n} calls per repetition and client, one in flight, each on its own database subscribed to the whole item table; p50 and p99 are per repetition, the table gives their medians.`,
  );
  log(`W10 done (${run.elapsed()})`);
}

/** W7: persisted databases of 100k (and 1M) rows, opened cold after a browser restart on the same profile. */
async function w7(run: Run): Promise<void> {
  // BENCH_W7_ROWS=<n>[,<n>…]: other sizes (the 10M-row run, outside the full run's time), with
  // Lightcone and the raw sqlite-wasm systems only (PGlite and Dexie would take many minutes to load).
  const custom = process.env.BENCH_W7_ROWS?.split(',').map(Number);
  if (custom?.some((n) => !Number.isInteger(n) || n < 1000 || n % 1000 !== 0)) throw new Error(`BENCH_W7_ROWS must be multiples of 1000, got ${process.env.BENCH_W7_ROWS}`);
  const sizes = custom ?? (run.quick ? [100_000] : [10_000, 100_000, 1_000_000]);
  const COLD = custom ? ['lightcone', 'sqlite:opfs', 'sqlite:idb-image'] : ['lightcone', 'sqlite:opfs', 'sqlite:idb-image', 'dexie:idb-default', 'pglite:idb'];
  let c = await run.launch();
  const page = await run.newPage(c);
  for (const rows of sizes) {
    for (const key of COLD) {
      const name = dbName(`cold${rows}`, key);
      await call(page, 'open', key, name);
      if (key === 'lightcone') {
        // 1000 calls of rows/1000 rows, 64 in flight; the engine snapshots by its own policy
        // (including the one it takes after 1 s without a commit: the log must stay quiet for
        // longer than that plus the image's write), and the step-by-step open reports the log
        // records it replays.
        const per = rows / 1000;
        for (let i = 0; i < 1000; i += 64) await Promise.all(Array.from({ length: Math.min(64, 1000 - i) }, () => call(page, 'load', key, per)));
        await call(page, 'lightconeSettled', name, 4000, 60_000);
      } else await call(page, 'load', key, rows);
      const n = await call(page, 'count', key);
      if (n !== rows) throw new Error(`${key} holds ${n} rows, expected ${rows}`);
      await call(page, 'close', key);
      log(`W7: loaded ${rows} rows into ${label(key)} (${run.elapsed()})`);
    }
  }
  await page.close();
  await run.close();

  const RUN = [...COLD, 'lightcone-engine', 'lightcone-steps'];
  const cold = new Map<number, Map<string, { total: number[]; parts: Samples }>>(sizes.map((s) => [s, new Map()]));
  for (let r = 0; r < run.R_COLD; r++) {
    c = await run.launch();
    for (const [rows, key] of shuffle(sizes.flatMap((rows) => RUN.map((key) => [rows, key] as const)))) {
      const p = await run.newPage(c);
      const x = await call(p, 'cold', key, dbName(`cold${rows}`, key.startsWith('lightcone') ? 'lightcone' : key));
      await p.close();
      const bySystem = cold.get(rows)!;
      const entry = bySystem.get(label(key)) ?? { total: [] as number[], parts: new Map<string, number[]>() };
      bySystem.set(label(key), entry);
      entry.total.push(x.total);
      for (const [part, ms] of Object.entries(x.parts)) entry.parts.set(part, [...(entry.parts.get(part) ?? []), ms]);
    }
    await run.close();
    log(`W7 repetition ${r + 1}/${run.R_COLD} done (${run.elapsed()})`);
  }
  const FLOOR = label('sqlite:idb-image');
  for (const rows of sizes) {
    const bySystem = cold.get(rows)!;
    const k = rowsLabel(rows);
    run.results.push(
      ...rowsOf(`W7 cold start ${k} rows: open → first query`, 'ms', new Map([...bySystem].map(([s, e]) => [s, e.total])), {
        floor: FLOOR,
        durability: {
          lightcone: 'IndexedDB strict',
          [label('lightcone-engine')]: 'IndexedDB strict',
          [label('lightcone-steps')]: 'IndexedDB strict',
          [label('sqlite:opfs')]: 'OPFS sahpool',
          [FLOOR]: 'IndexedDB strict',
          [label('dexie:idb-default')]: 'IndexedDB default',
          [label('pglite:idb')]: 'IndexedDB (idb://)',
        },
        notes: {
          lightcone: 'page: connect() (SharedWorker start, WASM init, IndexedDB read, deserialize, module load, replay) + db.sql',
          [label('lightcone-engine')]: "Engine.open as Lightcone's worker calls it, in a bench worker, IndexedDB reads timed inside (steps below)",
          [label('lightcone-steps')]: "Engine.open's recovery done by hand, one timed step at a time, in a fresh bench worker (steps below)",
          [FLOOR]: 'floor: worker start + WASM init + one IndexedDB get of the image + sqlite3_deserialize + query',
        },
      }),
    );
    for (const [system, e] of bySystem) {
      const parts: Samples = new Map([...e.parts].map(([p, xs]) => [`${system} · ${p}`, xs]));
      for (const row of rowsOf(`W7 cold start ${k} rows: steps`, 'ms', parts, { durability: {} })) {
        if (row.system.endsWith('replayed')) row.unit = 'records';
        if (row.system.endsWith(' MB')) row.unit = 'MB';
        run.results.push({ ...row, ratioToLightcone: null });
      }
    }
  }
  run.notes.push('W7: the OS page cache is warm (the same machine wrote the data); each repetition restarts Chromium on the same profile and opens every database in a fresh tab, in shuffled order.');
}

/**
 * W8: bytes per row held by the worker that holds the data (1k → 101k rows), a fresh browser per
 * repetition. Lightcone's row is its engine in a bench worker (the SharedWorker's WASM heap cannot
 * be read from outside); the SharedWorker's JS heap through `connect()` is a part row.
 */
async function w8(run: Run): Promise<void> {
  const MEM = ['lightcone-engine', 'lightcone', 'sqlite:memory', 'pglite:memory', 'dexie:idb-default'];
  const FLOOR = 'floor: raw sqlite-wasm page bytes';
  const CONNECT = 'lightcone via connect() · JS heap';
  const main = (key: string) => (key === 'lightcone-engine' ? 'lightcone' : label(key));
  const target = (key: string): ['worker' | 'shared_worker', string] =>
    key === 'lightcone' ? ['shared_worker', 'shared-worker'] : key === 'lightcone-engine' ? ['worker', 'lightcone-engine'] : ['worker', `peer-${key.split(':')[0]}`];
  const mem: Samples = new Map<string, number[]>([...MEM.filter((k) => k !== 'lightcone').map((k): [string, number[]] => [main(k), []]), [FLOOR, []]]);
  const parts: Samples = new Map();
  const add = (s: Samples, k: string, v: number) => s.set(k, [...(s.get(k) ?? []), v]);
  const ROWS = 100_000;
  for (let r = 0; r < run.R_COLD; r++) {
    const c = await run.launch();
    for (const key of shuffle(MEM)) {
      const p = await run.newPage(c);
      const probe = await WorkerMemory.open(p);
      const name = dbName(`mem${r}`, key);
      await call(p, 'open', key, name);
      await call(p, 'load', key, 1000);
      // Lightcone writes snapshots in the background: measure once they are stored (their images are held until then).
      const settle = async () => void (key.startsWith('lightcone') && (await call(p, 'lightconeSettled', name, 1500, 60_000)));
      await settle();
      const [type, part] = target(key);
      const measure = async () => {
        const js = await probe.jsHeap(type, part);
        const s = key === 'lightcone' ? {} : await call(p, 'stats', key);
        return { js, wasm: s.wasmHeap ?? 0, sqlite: s.sqliteMemory, pages: s.pageBytes ?? 0 };
      };
      const before = await measure();
      await call(p, 'load', key, ROWS);
      await settle();
      const after = await measure();
      const js = (after.js - before.js) / ROWS;
      // SQLite-based systems: SQLite's allocator; PGlite: WASM memory growth (its own allocator).
      const heap = ((after.sqlite ?? after.wasm) - (before.sqlite ?? before.wasm)) / ROWS;
      if (key === 'lightcone') add(parts, CONNECT, js);
      else {
        add(mem, main(key), js + heap);
        add(parts, `${main(key)} · ${after.sqlite !== undefined ? 'SQLite memory in use' : 'WASM memory growth'}`, heap);
        add(parts, `${main(key)} · JS heap`, js);
      }
      if (key === 'sqlite:memory') add(mem, FLOOR, (after.pages - before.pages) / ROWS);
      await call(p, 'close', key);
      await probe.close();
      await p.close();
    }
    await run.close();
    log(`W8 repetition ${r + 1}/${run.R_COLD} done (${run.elapsed()})`);
  }
  const how =
    'growth from 1k to 101k rows of the worker holding the data, / 100k: WASM heap (SQLite memory in use, sqlite3_status64, for sqlite-wasm and Lightcone; linear memory growth for PGlite) + JS heap (V8 heap used + ArrayBuffer backing stores after forced GCs, DevTools protocol Runtime.getHeapUsage)';
  run.results.push(
    ...rowsOf('W8 memory per row at 100k rows', 'B/row', mem, {
      floor: FLOOR,
      durability: { lightcone: 'IndexedDB strict', [label('sqlite:memory')]: 'memory', [label('pglite:memory')]: 'memory', [label('dexie:idb-default')]: 'IndexedDB default', [FLOOR]: 'memory' },
      notes: {
        lightcone: `${how}; the engine hosted in a bench worker as its SharedWorker hosts it`,
        [FLOOR]: 'PRAGMA page_count × page_size growth for the same rows (item table + its seq index), / 100k',
        [label('dexie:idb-default')]: 'rows live in IndexedDB on disk, not in the worker',
      },
    }),
    ...rowsOf('W8 memory per row: parts', 'B/row', parts, { durability: {} }).map((row) => ({ ...row, ratioToLightcone: null })),
  );
  run.notes.push(
    `W8: ${how}. performance.measureUserAgentSpecificMemory needs COOP/COEP, which the page does not set. PGlite's WASM memory holds a preallocated buffer pool, so its growth understates what its rows use; its table files live in MEMFS (JS ArrayBuffers, counted in the JS heap).`,
  );
}
