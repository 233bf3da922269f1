// The benchmark page: Playwright (bench/chromium/run.ts) calls `window.bench.*` to run one
// repetition of one workload on one system and gets a number back. Lightcone is reached the way
// an app reaches it, `connect()` from the UI thread (its worker is a SharedWorker); every peer
// runs in its own dedicated worker behind the same small RPC (rpc.ts), so each call from this
// page pays one message round trip, like a Lightcone call.
import * as Comlink from 'comlink';
import { connect, local, type BrowserDatabase } from '../../src/index.ts';
import { DbConnection } from './items-bindings.ts';
import itemsModule from '../modules/items.ts?lightcone';
import bankModule from '../../examples/bank/index.ts?lightcone';
import storeModule from '../modules/store.ts?lightcone';
import { RpcClient } from './rpc.ts';
import type { Breakdown, PeerApi } from './peer.ts';
import type { SnapRun } from './workers/lightcone-engine.ts';
import { zipfPairs } from './zipf.ts';

/** A system under test, as the workloads see it. */
interface System {
  /** Durability level, for the results. */
  durability: string;
  insertOne(id: number): Promise<void>;
  /** Loads `n` rows from id `from` the way the system does bulk work. */
  insertMany(from: number, n: number): Promise<void>;
  seedAccounts(n: number): Promise<void>;
  transfer(from: number, to: number, amount: number): Promise<void>;
  count(): Promise<number>;
  stats(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

type PeerKind = 'sqlite' | 'dexie' | 'pglite';

/** A fresh dedicated worker for a peer (literal URLs, so Vite bundles each worker). */
function spawnPeer(kind: PeerKind): Worker {
  if (kind === 'sqlite') return new Worker(new URL('./workers/peer-sqlite.ts', import.meta.url), { type: 'module', name: 'peer-sqlite' });
  if (kind === 'dexie') return new Worker(new URL('./workers/peer-dexie.ts', import.meta.url), { type: 'module', name: 'peer-dexie' });
  return new Worker(new URL('./workers/peer-pglite.ts', import.meta.url), { type: 'module', name: 'peer-pglite' });
}

/** Calls a peer's PeerApi method over the RPC. */
function peerCall<K extends keyof PeerApi>(rpc: RpcClient, method: K, ...args: Parameters<PeerApi[K]>): ReturnType<PeerApi[K]> {
  return rpc.call(method, ...args) as ReturnType<PeerApi[K]>;
}

async function openPeer(kind: PeerKind, durability: string, name: string): Promise<System & { rpc: RpcClient }> {
  const rpc = new RpcClient(spawnPeer(kind));
  const label = await peerCall(rpc, 'open', name, durability);
  return {
    rpc,
    durability: label,
    insertOne: (id) => peerCall(rpc, 'insertOne', id),
    insertMany: (from, n) => peerCall(rpc, 'insertMany', from, n),
    seedAccounts: (n) => peerCall(rpc, 'seedAccounts', n),
    transfer: (from, to, amount) => peerCall(rpc, 'transfer', from, to, amount),
    count: () => peerCall(rpc, 'count'),
    stats: () => peerCall(rpc, 'stats'),
    async close() {
      await peerCall(rpc, 'close').catch(() => {}); // measured already; terminate() below frees it either way
      rpc.terminate();
    },
  };
}

/** Lightcone through `connect()`: database `name` runs the items module, `<name>-bank` the bank example. */
async function openLightcone(name: string): Promise<System> {
  const items = await connect({ name, module: itemsModule });
  let bank: BrowserDatabase | undefined;
  const bankDb = async () => (bank ??= await connect({ name: `${name}-bank`, module: bankModule }));
  return {
    durability: 'IndexedDB strict (group commit)',
    insertOne: async (id) => void (await items.call('insert_one', [id])),
    async insertMany(from, n) {
      // Batches of 1000 rows per call, 64 calls in flight (a bulk load as an app would write it).
      const batches: [number, number][] = [];
      for (let i = 0; i < n; i += 1000) batches.push([from + i, Math.min(1000, n - i)]);
      await inFlight(batches.length, 64, async (i) => void (await items.call('insert_many', batches[i]!)));
    },
    seedAccounts: async (n) => void (await (await bankDb()).call('seed', [n])),
    transfer: async (from, to, amount) => void (await (await bankDb()).call('transfer', [from, to, amount])),
    count: async () => Number((await items.sql('SELECT COUNT(*) AS n FROM item'))[0]!.n),
    stats: async () => ({}),
    async close() {
      await items.close();
      await bank?.close();
    },
  };
}

/** Runs `f(0..n-1)` with at most `k` calls in flight; resolves with the elapsed ms. */
async function inFlight(n: number, k: number, f: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(k, n) }, async () => {
      while (next < n) await f(next++);
    }),
  );
  return performance.now() - t0;
}

const systems = new Map<string, System>();
const nextId = new Map<string, number>();
const sys = (key: string): System => {
  const s = systems.get(key);
  if (!s) throw new Error(`system ${key} is not open`);
  return s;
};
/** Fresh ids for `key`'s item table (W1 and W2 share one database per system). */
const ids = (key: string, n: number): number => {
  const from = nextId.get(key) ?? 1;
  nextId.set(key, from + n);
  return from;
};

/** Lightcone's engine in a bench worker (workers/lightcone-engine.ts): loads and reports its WASM heap (W8). */
async function openEngineWorker(name: string): Promise<System> {
  const rpc = new RpcClient(spawnEngineWorker());
  const durability = await rpc.call<string>('open', name, itemsModule.code);
  const no = () => Promise.reject(new Error('not served by the engine worker'));
  return {
    durability,
    insertOne: no,
    insertMany: (from, n) => rpc.call('insertMany', from, n),
    seedAccounts: no,
    transfer: no,
    count: no,
    stats: () => rpc.call('stats'),
    async close() {
      await rpc.call('close').catch(() => {}); // measured already; terminate() below frees it either way
      rpc.terminate();
    },
  };
}

function spawnEngineWorker(): Worker {
  return new Worker(new URL('./workers/lightcone-engine.ts', import.meta.url), { type: 'module', name: 'lightcone-engine' });
}

/** `key` is 'lightcone', 'lightcone-engine' or '<peer>:<durability>' (e.g. 'dexie:idb-strict'). */
async function open(key: string, name: string): Promise<string> {
  await systems.get(key)?.close();
  const [kind, durability] = key.split(':') as [string, string | undefined];
  const s = kind === 'lightcone' ? await openLightcone(name) : kind === 'lightcone-engine' ? await openEngineWorker(name) : await openPeer(kind as PeerKind, durability ?? 'memory', name);
  systems.set(key, s);
  nextId.set(key, 1);
  return s.durability;
}

/** W1: `n` single-row writes, one in flight; calls/s. */
async function w1(key: string, n: number): Promise<number> {
  const s = sys(key);
  const from = ids(key, n);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await s.insertOne(from + i);
  return n / ((performance.now() - t0) / 1000);
}

/** W2: `n` single-row writes, `k` in flight; calls/s. */
async function w2(key: string, n: number, k: number): Promise<number> {
  const s = sys(key);
  const from = ids(key, n);
  const ms = await inFlight(n, k, (i) => s.insertOne(from + i));
  return n / (ms / 1000);
}

const pairsCache = new Map<string, [number, number][]>();

/** W3: `n` transfers between Zipf-chosen accounts of `accounts`, `k` in flight; calls/s. */
async function w3(key: string, accounts: number, n: number, k: number, seed: number): Promise<number> {
  const s = sys(key);
  const cacheKey = `${accounts}:${n}:${seed}`;
  let pairs = pairsCache.get(cacheKey);
  if (!pairs) pairsCache.set(cacheKey, (pairs = zipfPairs(accounts, n, seed)));
  const p = pairs;
  const ms = await inFlight(n, k, (i) => s.transfer(p[i]![0], p[i]![1], 1));
  return n / (ms / 1000);
}

/** Loads `rows` item rows (fresh ids) with the system's bulk path; ms. */
async function load(key: string, rows: number): Promise<number> {
  const s = sys(key);
  const from = ids(key, rows);
  const t0 = performance.now();
  await s.insertMany(from, rows);
  return performance.now() - t0;
}

async function seedAccounts(key: string, n: number): Promise<number> {
  const t0 = performance.now();
  await sys(key).seedAccounts(n);
  return performance.now() - t0;
}

async function close(key: string): Promise<void> {
  await systems.get(key)?.close();
  systems.delete(key);
}

/**
 * Waits until Lightcone's IndexedDB log for `name` stops changing for `quietMs` (a snapshot the
 * engine started in the background has been written); resolves with the records left in it.
 */
async function lightconeSettled(name: string, quietMs: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const entries = () =>
    new Promise<number>((resolve, reject) => {
      const r = indexedDB.open(`lightcone:${name}`);
      r.onerror = () => reject(r.error);
      r.onsuccess = () => {
        const db = r.result;
        const c = db.transaction('log', 'readonly').objectStore('log').count();
        c.onsuccess = () => {
          resolve(c.result);
          db.close();
        };
        c.onerror = () => reject(c.error);
      };
    });
  let last = await entries();
  let since = performance.now();
  while (performance.now() < deadline && performance.now() - since < quietMs) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await entries();
    if (now !== last) {
      last = now;
      since = performance.now();
    }
  }
  return last;
}

/** W7: cold open of an existing database and its first query; total ms and the steps. */
async function cold(key: string, name: string): Promise<{ total: number; parts: Breakdown }> {
  const [kind, durability] = key.split(':') as [string, string | undefined];
  const t0 = performance.now();
  if (kind === 'lightcone') {
    const db = await connect({ name, module: itemsModule });
    const t1 = performance.now();
    const rows = await db.sql('SELECT * FROM item WHERE id = 1');
    const t2 = performance.now();
    if (rows.length !== 1) throw new Error('first query found no row');
    await db.close();
    return { total: t2 - t0, parts: { 'connect()': t1 - t0, 'first query': t2 - t1 } };
  }
  const engine = kind === 'lightcone-engine' || kind === 'lightcone-steps';
  const rpc = new RpcClient(engine ? spawnEngineWorker() : spawnPeer(kind as PeerKind));
  try {
    const parts = await rpc.call<Breakdown>('coldOpen', name, engine ? kind.slice('lightcone-'.length) : (durability ?? ''), itemsModule.code);
    const total = performance.now() - t0;
    const accounted = Object.entries(parts)
      .filter(([k]) => !k.startsWith('(') && !k.includes('replayed') && !k.endsWith(' MB'))
      .reduce((a, [, v]) => a + v, 0);
    return { total, parts: { 'worker start + script load': total - accounted, ...parts } };
  } finally {
    rpc.terminate();
  }
}

// ── W1 hops: where the time of one durable call goes ───────────────────────

/** Wall-clock ms shared by the page and its workers (`timeOrigin` + `now()`; same-origin contexts agree in Chromium). */
const at = () => performance.timeOrigin + performance.now();

/** Mean of the middle 80 % (performance.now() is coarsened to 100 µs with jitter here: means of many calls resolve below it, medians do not). */
function trimmedMean(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const cut = Math.floor(s.length / 10);
  const mid = s.slice(cut, s.length - cut);
  return mid.reduce((a, b) => a + b, 0) / mid.length;
}

let hopsDb: BrowserDatabase | undefined;
let hopsRpc: RpcClient | undefined;

/** Opens W1 hops' two databases: `<name>-connect` through `connect()`, `<name>-worker` in a bench worker hosting the engine. */
async function hopsOpen(name: string): Promise<void> {
  await hopsClose();
  hopsDb = await connect({ name: `${name}-connect`, module: itemsModule });
  hopsRpc = new RpcClient(spawnEngineWorker());
  await hopsRpc.call('hopsOpen', `${name}-worker`, itemsModule.code);
  nextId.set('hops:connect', 1);
  nextId.set('hops:worker', 1);
}

/** The reducer's start and end of each traced call, by id (bench/modules/items.ts `take_trace`). */
function parseTrace(json: string): Map<number, [number, number]> {
  const xs = JSON.parse(json) as number[];
  const out = new Map<number, [number, number]>();
  for (let i = 0; i + 2 < xs.length; i += 3) out.set(xs[i]!, [xs[i + 1]!, xs[i + 2]!]);
  return out;
}

/**
 * W1 hops: `n` traced calls one at a time, through `connect()` or to the engine in a bench worker
 * (one postMessage hop); each step's ms per call (trimmed mean over the calls).
 */
async function hopsRun(kind: 'connect' | 'worker', n: number): Promise<Record<string, number>> {
  const from = ids(`hops:${kind}`, n);
  const steps = new Map<string, number[]>();
  const add = (k: string, v: number) => steps.set(k, [...(steps.get(k) ?? []), v]);
  if (kind === 'connect') {
    const db = hopsDb!;
    const page: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const t0 = at();
      await db.call('insert_traced', [from + i]);
      page.push([t0, at()]);
    }
    const trace = parseTrace((await db.call('take_trace', [])) as string);
    for (let i = 0; i < n; i++) {
      const [t0, t1] = page[i]!;
      const [start, end] = trace.get(from + i)!;
      add('page → reducer start', start - t0);
      add('reducer (module code + datastore)', end - start);
      add('reducer end → reply in page', t1 - end);
      add('total', t1 - t0);
    }
  } else {
    const rpc = hopsRpc!;
    const calls: { t0: number; t1: number; w: { received: number; append: number; durable: number; resolved: number } }[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = at();
      const w = await rpc.call<{ received: number; append: number; durable: number; resolved: number }>('hopsCall', from + i);
      calls.push({ t0, t1: at(), w });
    }
    const trace = parseTrace(await rpc.call<string>('hopsTrace'));
    for (let i = 0; i < n; i++) {
      const { t0, t1, w } = calls[i]!;
      const [start, end] = trace.get(from + i)!;
      add('page → worker (postMessage)', w.received - t0);
      add('worker → reducer start (engine queue, arguments)', start - w.received);
      add('reducer (module code + datastore)', end - start);
      add('commit (SQLite commit + delta encode → append)', w.append - end);
      add('IndexedDB log write (append → durable)', w.durable - w.append);
      add('durable → call resolved', w.resolved - w.durable);
      add('reply → page (postMessage)', t1 - w.resolved);
      add('total', t1 - t0);
    }
  }
  return Object.fromEntries([...steps].map(([k, xs]) => [k, trimmedMean(xs)]));
}

/**
 * W1 hops: ms per `connect()` round trip that runs no call (`logs`, limit 1: page → SharedWorker →
 * engine worker and back), per call of a procedure that commits nothing (the call's whole path
 * without its IndexedDB write), and per call of one that spins 1.3 ms, less the 1.3 ms (the same
 * path when the threads around the engine go idle while it works, as during a log write).
 */
async function hopsNoop(n: number): Promise<{ logs: number; procedure: number; spin: number }> {
  const db = hopsDb!;
  const time = async (f: () => Promise<unknown>) => {
    const ms: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = at();
      await f();
      ms.push(at() - t0);
    }
    return trimmedMean(ms);
  };
  const SPIN = 1.3; // about one strict IndexedDB transaction
  return {
    logs: await time(() => db.logs({ limit: 1 })),
    procedure: await time(() => db.call('noop', [])),
    spin: (await time(() => db.call('spin', [SPIN]))) - SPIN,
  };
}

async function hopsClose(): Promise<void> {
  await hopsDb?.close();
  hopsDb = undefined;
  await hopsRpc?.call('hopsClose').catch(() => {}); // measured already; terminate() below frees it either way
  hopsRpc?.terminate();
  hopsRpc = undefined;
}

// ── W12: a snapshot of a large database under load ─────────────────────────

let snapRpc: RpcClient | undefined;

/** W12: opens database `name` in a bench worker hosting the engine (snapshot every `every` records) and loads `rows` rows; ms of the load. */
async function snapSetup(name: string, every: number, rows: number): Promise<number> {
  await snapClose();
  snapRpc = new RpcClient(spawnEngineWorker());
  await snapRpc.call('snapOpen', name, itemsModule.code, every);
  return snapRpc.call<number>('snapLoad', rows);
}

/** W12: one repetition (see workers/lightcone-engine.ts `snapRun`). */
const snapRun = (ms: number, minSnapshots: number): Promise<SnapRun> => snapRpc!.call<SnapRun>('snapRun', ms, minSnapshots);

async function snapClose(): Promise<void> {
  await snapRpc?.call('snapClose').catch(() => {}); // measured already; terminate() below frees it either way
  snapRpc?.terminate();
  snapRpc = undefined;
}

// ── calibration ──────────────────────────────────────────────────────────────

let calibrator: RpcClient | undefined;
let sharedCalibrator: RpcClient | undefined;
/** Runs a calibration method in a dedicated worker, or (`shared`) in a SharedWorker like Lightcone's engine. */
const calib = <T>(method: string, ...args: unknown[]): Promise<T> =>
  (calibrator ??= new RpcClient(new Worker(new URL('./workers/calibrate.ts', import.meta.url), { type: 'module', name: 'calibrate' }))).call<T>(method, ...args);
const calibShared = <T>(method: string, ...args: unknown[]): Promise<T> =>
  (sharedCalibrator ??= new RpcClient(new SharedWorker(new URL('./workers/calibrate.ts', import.meta.url), { type: 'module', name: 'calibrate-shared' }))).call<T>(method, ...args);

let echo: { worker: Worker; remote: Comlink.Remote<{ echo(x: unknown): unknown }> } | undefined;
function echoWorker() {
  if (!echo) {
    const worker = new Worker(new URL('./workers/echo.ts', import.meta.url), { type: 'module', name: 'echo' });
    const channel = new MessageChannel();
    worker.postMessage({ comlink: channel.port2 }, [channel.port2]);
    echo = { worker, remote: Comlink.wrap<{ echo(x: unknown): unknown }>(channel.port1) };
  }
  return echo;
}

/** µs per raw postMessage round trip page ↔ dedicated worker with a `bytes` payload (copied). */
async function echoRaw(bytes: number, n: number): Promise<number> {
  const { worker } = echoWorker();
  const payload = new Uint8Array(bytes);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve) => {
      worker.onmessage = () => resolve();
      worker.postMessage(payload);
    });
  }
  return ((performance.now() - t0) * 1000) / n;
}

/** µs per Comlink round trip (a MessagePort to the worker) with a `bytes` payload. */
async function echoComlink(bytes: number, n: number): Promise<number> {
  const { remote } = echoWorker();
  const payload = new Uint8Array(bytes);
  await remote.echo(payload);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await remote.echo(payload);
  return ((performance.now() - t0) * 1000) / n;
}

// ── W6: live queries ────────────────────────────────────────────────────────

let liveDb: BrowserDatabase | undefined;
let handles: { unsubscribe(): void }[] = [];
let fired = new Map<number, number>();

/** Lightcone: `n` subscriptions on distinct ids of database `name`. */
async function liveSetup(name: string, n: number): Promise<void> {
  liveDb ??= await connect({ name, module: itemsModule });
  const db = liveDb;
  const applied: Promise<void>[] = [];
  for (let i = 1; i <= n; i++) {
    const h = db.subscribe([`SELECT * FROM item WHERE id = ${i}`], {
      onUpdate: () => {
        if (!fired.has(i)) fired.set(i, performance.now());
      },
    });
    handles.push(h);
    applied.push(h.applied);
  }
  await Promise.all(applied);
}

/** One write to item `id`: ms to its subscription's callback, and how many callbacks fired within `settleMs` after. */
async function liveWrite(id: number, settleMs: number): Promise<{ affected: number; callbacks: number }> {
  fired = new Map();
  const t0 = performance.now();
  const call = liveDb!.call('bump', [id]);
  while (!fired.has(id) && performance.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 0));
  const affected = (fired.get(id) ?? NaN) - t0;
  await call;
  await new Promise((r) => setTimeout(r, settleMs));
  return { affected, callbacks: fired.size };
}

async function liveTeardown(): Promise<void> {
  for (const h of handles) h.unsubscribe();
  handles = [];
  await liveDb?.close();
  liveDb = undefined;
}

/** PGlite's live.incrementalQuery (its worker holds the subscriptions), in memory, over `rows` rows. */
async function pgliveSetup(name: string, n: number, rows: number): Promise<void> {
  const s = await openPeer('pglite', 'memory', name);
  systems.set('pglite-live', s);
  await s.insertMany(1, rows);
  await s.rpc.call('liveSetup', n);
}

function pgliveWrite(id: number, waitMs: number): Promise<{ affected: number; last: number; callbacks: number }> {
  return (systems.get('pglite-live') as System & { rpc: RpcClient }).rpc.call('liveWrite', id, waitMs);
}

// ── W10: the official SDK over local() against connect() ───────────────────

/** One W10 client: makes a call for `id` and resolves when the page sees the inserted row. */
interface RoundTrip {
  roundTrip(id: bigint): Promise<void>;
  close(): Promise<void>;
}

/** Who is waiting for which row (ids are unique per database, so one map per client suffices). */
function waiters() {
  const waiting = new Map<bigint, () => void>();
  return {
    wait: (id: bigint) => new Promise<void>((resolve) => waiting.set(id, resolve)),
    seen(id: bigint) {
      waiting.get(id)?.();
      waiting.delete(id);
    },
  };
}

/** The official SDK (bindings from `lightcone generate`) over `local()`, subscribed to every item. */
async function sdkClient(name: string): Promise<RoundTrip> {
  const w = waiters();
  const conn = await new Promise<DbConnection>((resolve, reject) => {
    DbConnection.builder()
      .withUri('lightcone://local')
      .withDatabaseName(name)
      .withWSFn(local({ module: itemsModule }))
      .onConnect((c) => {
        c.subscriptionBuilder()
          .onApplied(() => resolve(c))
          .onError((ctx) => reject(ctx.event ?? new Error('W10 subscription failed')))
          .subscribe('SELECT * FROM item');
      })
      .onConnectError((_ctx, error) => reject(error))
      .build();
  });
  conn.db.item.onInsert((_ctx, row) => w.seen(row.id));
  return {
    async roundTrip(id) {
      const seen = w.wait(id);
      await Promise.all([conn.reducers.insertOne({ id }), seen]);
    },
    async close() {
      conn.disconnect();
    },
  };
}

/** Lightcone's own client: `connect()`, one subscription on every item, `onUpdate` per write. */
async function connectClient(name: string): Promise<RoundTrip> {
  const w = waiters();
  const db = await connect({ name, module: itemsModule });
  const h = db.subscribe(['SELECT * FROM item'], {
    onUpdate: (updates) => {
      for (const u of updates) for (const row of u.inserts) w.seen(BigInt((row as { id: bigint | number }).id));
    },
  });
  await h.applied;
  return {
    async roundTrip(id) {
      const seen = w.wait(id);
      await Promise.all([db.call('insert_one', [id]), seen]);
    },
    async close() {
      h.unsubscribe();
      await db.close();
    },
  };
}

const w10Clients = new Map<string, RoundTrip>();

/** Opens W10's client `kind` ('sdk' or 'connect') on its own database `name`. */
async function w10Open(kind: 'sdk' | 'connect', name: string): Promise<void> {
  await w10Clients.get(kind)?.close();
  w10Clients.set(kind, kind === 'sdk' ? await sdkClient(name) : await connectClient(name));
  nextId.set(`w10:${kind}`, 1);
}

/** W10: `n` calls one at a time, each timed from the call to the row's callback in this page; p50 and p99 in ms. */
async function w10(kind: 'sdk' | 'connect', n: number): Promise<{ p50: number; p99: number }> {
  const c = w10Clients.get(kind);
  if (!c) throw new Error(`W10 client ${kind} is not open`);
  const from = ids(`w10:${kind}`, n);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await c.roundTrip(BigInt(from + i));
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99) };
}

async function w10Close(): Promise<void> {
  for (const c of w10Clients.values()) await c.close();
  w10Clients.clear();
}

// ── W4, W5: the store, in a worker (workers/store.ts) ──────────────────────

let storeRpc: RpcClient | undefined;
async function store(): Promise<RpcClient> {
  if (!storeRpc) {
    storeRpc = new RpcClient(new Worker(new URL('./workers/store.ts', import.meta.url), { type: 'module', name: 'store' }));
    await storeRpc.call('init', storeModule.code);
  }
  return storeRpc;
}
/** W4: ms for 100k inserts with `system` ('lightcone', 'capi' or 'oo1'), fresh database. */
const storeW4 = async (system: string): Promise<number> => (await store()).call<number>('w4', system);
const storeW5Setup = async (): Promise<void> => (await store()).call<void>('w5Setup');
/** W5: µs per lookup (`width` 0) or per range scan of `width` rows. */
const storeW5 = async (system: string, width: number, n: number): Promise<number> => (await store()).call<number>('w5Run', system, width, n);
async function storeClose(): Promise<void> {
  await storeRpc?.call('close').catch(() => {}); // measured already; terminate() below frees it either way
  storeRpc?.terminate();
  storeRpc = undefined;
}

const bench = {
  storeW4,
  storeW5Setup,
  storeW5,
  storeClose,
  open,
  close,
  w1,
  w2,
  w3,
  load,
  seedAccounts,
  count: (key: string) => sys(key).count(),
  stats: (key: string) => sys(key).stats(),
  lightconeSettled,
  cold,
  calib,
  calibShared,
  echoRaw,
  echoComlink,
  liveSetup,
  liveWrite,
  liveTeardown,
  pgliveSetup,
  pgliveWrite,
  w10Open,
  w10,
  w10Close,
  hopsOpen,
  hopsRun,
  hopsNoop,
  hopsClose,
  snapSetup,
  snapRun,
  snapClose,
  userAgent: () => navigator.userAgent,
};

/** The page's API as run.ts sees it. */
export type BenchPage = typeof bench;
(globalThis as unknown as { bench: BenchPage }).bench = bench;
document.getElementById('status')!.textContent = 'ready';
