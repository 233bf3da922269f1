// Lightcone's engine hosted in a bench worker the way its own worker hosts it (Engine.open over
// indexedDbDurability, the Database facade; see worker/worker-host.ts), for what `connect()`
// cannot show from outside. W7: the cold open of a database written through `connect()`, timed
// step by step (Engine.open itself, and its recovery steps by hand); it writes nothing, the
// engine is never closed. W8: the engine's SQLite memory, which the SharedWorker does not expose.
// W1 hops: one traced call at a time from the page, with the times of its steps inside this
// worker. W12: snapshots of a large database under one call in flight, the export and the image
// write timed apart. Timing wraps the engine's durability and its datastore's `export` from
// outside (this worker only); the engine runs as shipped.
import { originOwner } from '../../../worker/origin-owner.ts';
import { indexedDbDurability } from '../../../src/durability/indexeddb.ts';
import type { Durability, Recovered } from '../../../src/durability/durability.ts';
import { Engine } from '../../../src/engine/engine.ts';
import { databaseFacade, type Database } from '../../../src/api/database.ts';
import { loadSqlite } from '../../../src/datastore/sqlite.ts';
import { openDatastore } from '../../../src/datastore/datastore.ts';
import { decodeDelta } from '../../../src/engine/delta-codec.ts';
import { Host } from '../../../src/host/host.ts';
import { serve } from '../rpc.ts';
import { sqliteMemoryUsed } from './sqlite-memory.ts';
import type { Breakdown } from '../peer.ts';

/** Delegates to `inner`, timing `open()` and keeping what it recovered. */
function timed(inner: Durability, out: { openMs: number; recovered?: Recovered; metaMs: number }): Durability {
  return {
    open: async () => {
      const t = performance.now();
      const r = await inner.open();
      out.openMs = performance.now() - t;
      out.recovered = r;
      return r;
    },
    append: (payload) => inner.append(payload),
    flush: () => inner.flush(),
    writeSnapshot: (snapshot) => inner.writeSnapshot(snapshot),
    getMeta: async (key) => {
      const t = performance.now();
      const v = await inner.getMeta(key);
      out.metaMs += performance.now() - t;
      return v;
    },
    putMeta: (key, value) => inner.putMeta(key, value),
    close: () => inner.close(),
    destroy: () => inner.destroy(),
    stats: () => inner.stats(),
  };
}

/**
 * W7, `mode` 'engine': Engine.open as Lightcone's worker calls it (IndexedDB reads timed inside),
 * then the first query. `mode` 'steps': the same recovery done by hand, one timed step at a time
 * in this fresh worker (so each step pays its own cold JIT, as inside Engine.open): WASM init,
 * owner read, snapshot + log read, metadata reads, deserialize into a datastore, module load
 * (`new Host`), log replay (decode + apply every record).
 */
async function coldOpen(name: string, mode: string, code: string): Promise<Breakdown> {
  const parts: Breakdown = {};
  let t = performance.now();
  const lap = (k: string) => {
    const now = performance.now();
    parts[k] = (parts[k] ?? 0) + now - t;
    t = now;
  };
  await loadSqlite();
  lap('wasm init');
  const owner = await originOwner();
  lap('owner read');
  if (mode === 'steps') {
    const d = indexedDbDurability(name);
    const recovered = await d.open();
    lap('IndexedDB read (snapshot + log)');
    await d.getMeta('database');
    await d.getMeta('logs');
    lap('IndexedDB meta reads');
    const datastore = await openDatastore(recovered.snapshot?.image);
    lap('deserialize (openDatastore)');
    const stored = datastore.getMeta('module.js');
    new Host({ datastore, code: stored ? new TextDecoder().decode(stored) : code, databaseIdentity: 0n, log: () => {} });
    lap('module load (new Host)');
    for (const rec of recovered.records) datastore.applyDelta(decodeDelta(rec.payload).delta);
    lap('log replay (decode + apply)');
    await d.getMeta('calls');
    lap('IndexedDB meta reads');
    parts['log records replayed'] = recovered.records.length;
    parts['snapshot MB'] = (recovered.snapshot?.image.length ?? 0) / 1e6;
    return parts;
  }
  const probe: { openMs: number; recovered?: Recovered; metaMs: number } = { openMs: 0, metaMs: 0 };
  const engine = await Engine.open({ name, durability: timed(indexedDbDurability(name), probe), owner });
  const REST = 'rest of Engine.open (deserialize, module, replay)';
  lap(REST);
  parts[REST] = parts[REST]! - probe.openMs - probe.metaMs;
  parts['IndexedDB read (snapshot + log)'] = probe.openMs;
  parts['IndexedDB meta reads'] = probe.metaMs;
  const res = await engine.sql('SELECT * FROM item WHERE id = 1');
  lap('first query');
  if (res.rows.length !== 1) throw new Error(`first query returned ${res.rows.length} rows`);
  return parts;
}

let db: Database | undefined;

/** W8: opens (publishing `code`) database `name`. */
async function open(name: string, code: string): Promise<string> {
  const engine = await Engine.open({ name, durability: indexedDbDurability(name), owner: await originOwner(), code });
  db = databaseFacade(engine);
  return 'IndexedDB strict (group commit)';
}

/** Loads `n` rows from id `from` as page.ts loads Lightcone: calls of 1000 rows, 64 in flight. */
async function insertMany(from: number, n: number): Promise<void> {
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += 1000) calls.push(db!.call('insert_many', [from + i, Math.min(1000, n - i)]));
  await Promise.all(calls);
}

async function stats(): Promise<Record<string, number>> {
  const s = await loadSqlite();
  return { wasmHeap: s.wasm.heap8u().byteLength, sqliteMemory: sqliteMemoryUsed(s) };
}

async function close(): Promise<void> {
  await db?.close();
  db = undefined;
}

/** Wall-clock ms shared by the page and its workers (`timeOrigin` + `now()`; same-origin contexts agree in Chromium). */
const at = () => performance.timeOrigin + performance.now();

/** Delegates to `inner`, noting when each append is made and when it is durable (log order = call order). */
function traced(inner: Durability, appends: { append: number; durable: number }[]): Durability {
  return {
    ...timed(inner, { openMs: 0, metaMs: 0 }),
    append(payload) {
      const mark = { append: at(), durable: 0 };
      appends.push(mark);
      const rec = inner.append(payload);
      rec.durable.then(
        () => void (mark.durable = at()),
        () => {},
      );
      return rec;
    },
  };
}

let hops: { engine: Engine; appends: { append: number; durable: number }[] } | undefined;

/** W1 hops: opens (publishing `code`) database `name` with its appends timed. */
async function hopsOpen(name: string, code: string): Promise<void> {
  const appends: { append: number; durable: number }[] = [];
  const engine = await Engine.open({ name, durability: traced(indexedDbDurability(name), appends), owner: await originOwner(), code });
  hops = { engine, appends };
}

/**
 * W1 hops: one `insert_traced` call as the page makes it, one at a time: when the request
 * arrived, when the call's commit was appended and made durable, and when the call resolved
 * (absolute ms); the reducer's own start and end come from `take_trace`.
 */
async function hopsCall(id: number): Promise<{ received: number; append: number; durable: number; resolved: number }> {
  const received = at();
  const h = hops!;
  h.appends.length = 0;
  // With a call id, as Lightcone's worker makes every call (it travels in the log record).
  await h.engine.call('insert_traced', [id], { callId: crypto.randomUUID() });
  const resolved = at();
  const mark = h.appends[0];
  if (!mark || h.appends.length !== 1) throw new Error(`expected one append per call, got ${h.appends.length}`);
  return { received, append: mark.append, durable: mark.durable, resolved };
}

/** W1 hops: the module's trace since the last read (see bench/modules/items.ts `take_trace`). */
const hopsTrace = async (): Promise<string> => (await hops!.engine.call('take_trace', [])) as string;

async function hopsClose(): Promise<void> {
  await hops?.engine.close();
  hops = undefined;
}

/** W12: the engine under test, and what its snapshots did (absolute ms). */
let snap:
  | {
      engine: Engine;
      durability: Durability;
      /** Each image copy: from its start to its last step (calls run between its steps), its size, and its longest step. */
      copies: { start: number; end: number; bytes: number; longestStep: number }[];
      writes: { start: number; end: number }[];
      next: number;
    }
  | undefined;

/**
 * W12: opens (publishing `code`) database `name`, snapshotting every `every` records and never
 * when idle, with each image copy and each snapshot write timed.
 */
async function snapOpen(name: string, code: string, every: number): Promise<void> {
  const copies: { start: number; end: number; bytes: number; longestStep: number }[] = [];
  const writes: { start: number; end: number }[] = [];
  const inner = indexedDbDurability(name);
  const durability: Durability = {
    ...timed(inner, { openMs: 0, metaMs: 0 }),
    async writeSnapshot(snapshot) {
      const w = { start: at(), end: 0 };
      writes.push(w);
      try {
        await inner.writeSnapshot(snapshot);
      } finally {
        w.end = at();
      }
    },
  };
  const engine = await Engine.open({ name, durability, owner: await originOwner(), code, snapshotEvery: every, idleSnapshotMs: 0 });
  // The engine copies its image with `datastore.copy()`, a step at a time between calls.
  const ds = engine.host.datastore;
  const copyImage = ds.copy.bind(ds);
  ds.copy = () => {
    const c = { start: at(), end: 0, bytes: 0, longestStep: 0 };
    copies.push(c);
    const copy = copyImage();
    const step = copy.step.bind(copy);
    copy.step = (pages) => {
      const t = at();
      const done = step(pages);
      c.longestStep = Math.max(c.longestStep, at() - t);
      if (done) {
        c.end = at();
        c.bytes = copy.size;
      }
      return done;
    };
    return copy;
  };
  snap = { engine, durability: inner, copies, writes, next: 1 };
}

/** W12: loads `rows` item rows in calls of 1000 rows (all queued at once), then waits for every snapshot started to be written. */
async function snapLoad(rows: number): Promise<number> {
  const s = snap!;
  const t0 = performance.now();
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < rows; i += 1000) calls.push(s.engine.call('insert_many', [s.next + i, Math.min(1000, rows - i)]));
  await Promise.all(calls);
  s.next += rows;
  await snapSettled();
  return performance.now() - t0;
}

/** Waits until every snapshot started has been written (throws after 2 minutes: one failed). */
async function snapSettled(): Promise<void> {
  const st = snap!.engine.snapshotStats;
  const deadline = performance.now() + 120_000;
  while (st.started !== st.written) {
    if (performance.now() > deadline) throw new Error(`a snapshot was not written: ${st.started} started, ${st.written} written`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Latencies of a set of calls: count, p50, p99, max (ms). */
function spread(ms: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]! : NaN);
  return { n: s.length, p50: q(0.5), p99: q(0.99), max: s.length ? s[s.length - 1]! : NaN };
}

/**
 * W12: `insert_one` calls one at a time for at least `ms` and until `minSnapshots` snapshots
 * started in that time were written (at most 4 × `ms`). Each call is put in one class by what
 * overlapped it: an image copy (its steps run on this thread between calls), else a snapshot
 * write, else nothing.
 */
async function snapRun(ms: number, minSnapshots: number) {
  const s = snap!;
  const firstCopy = s.copies.length;
  const firstWrite = s.writes.length;
  const bytesBefore = s.durability.stats().snapshotBytes;
  const calls: { start: number; end: number }[] = [];
  // A 2 ms timer on this thread: gaps longer than 20 ms are stretches the engine thread could
  // run nothing else (calls take about 1 ms), so they tell thread work from waiting on storage.
  const ticks: number[] = [];
  const timer = setInterval(() => ticks.push(at()), 2);
  const t0 = at();
  const written = () => s.writes.slice(firstWrite).filter((w) => w.end > 0).length;
  while (at() - t0 < 4 * ms && (at() - t0 < ms || written() < minSnapshots)) {
    const start = at();
    await s.engine.call('insert_one', [s.next++]);
    calls.push({ start, end: at() });
  }
  await snapSettled();
  clearInterval(timer);
  const blocked: number[] = [];
  for (let i = 1; i < ticks.length; i++) if (ticks[i]! - ticks[i - 1]! > 20) blocked.push(ticks[i]! - ticks[i - 1]!);
  const copies = s.copies.slice(firstCopy);
  const writes = s.writes.slice(firstWrite);
  const overlaps = (c: { start: number; end: number }, xs: { start: number; end: number }[]) => xs.some((x) => c.start < x.end && x.start < c.end);
  const byClass: Record<'none' | 'copy' | 'write', number[]> = { none: [], copy: [], write: [] };
  for (const c of calls) byClass[overlaps(c, copies) ? 'copy' : overlaps(c, writes) ? 'write' : 'none'].push(c.end - c.start);
  return {
    calls: calls.length,
    snapshots: copies.length,
    none: spread(byClass.none),
    copy: spread(byClass.copy),
    write: spread(byClass.write),
    during: spread([...byClass.copy, ...byClass.write]),
    all: spread(calls.map((c) => c.end - c.start)),
    copyMs: copies.map((c) => c.end - c.start),
    longestStepMs: copies.map((c) => c.longestStep),
    writeMs: writes.map((w) => w.end - w.start),
    imageBytes: copies.map((c) => c.bytes),
    /** Image bytes the snapshots of this repetition wrote (only parts that changed), per snapshot. */
    writtenBytes: writes.length ? (s.durability.stats().snapshotBytes - bytesBefore) / writes.length : 0,
    /** ms the engine thread ran without a break of its timer (> 20 ms), per snapshot: total and longest. */
    blockedMs: copies.length ? blocked.reduce((a, b) => a + b, 0) / copies.length : 0,
    longestBlockMs: blocked.length ? Math.max(...blocked) : 0,
  };
}

export type SnapRun = Awaited<ReturnType<typeof snapRun>>;

async function snapClose(): Promise<void> {
  await snap?.engine.close();
  snap = undefined;
}

serve({ coldOpen, open, insertMany, stats, close, hopsOpen, hopsCall, hopsTrace, hopsClose, snapOpen, snapLoad, snapRun, snapClose } as unknown as Record<string, (...a: never[]) => unknown>);
