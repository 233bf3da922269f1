// Lightcone's engine hosted in a bench worker the way its own worker hosts it (Engine.open over
// indexedDbDurability, the Database facade; see worker/worker-host.ts), for what `connect()`
// cannot show from outside. W7: the cold open of a database written through `connect()`, timed
// step by step (Engine.open itself, and its recovery steps by hand); it writes nothing, the
// engine is never closed. W8: the engine's SQLite memory, which the SharedWorker does not expose.
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

serve({ coldOpen, open, insertMany, stats, close } as unknown as Record<string, (...a: never[]) => unknown>);
