// W7 breakdown: repeats Engine.open's steps on a persisted database, timing each (WASM init, the
// IndexedDB read of snapshot + log, deserialize, module load, log replay). Same functions as the
// engine, called one by one.
import { openDatastore } from '../../src/datastore/datastore.ts';
import { loadSqlite } from '../../src/datastore/sqlite.ts';
import { indexedDbDurability } from '../../src/durability/indexeddb.ts';
import { decodeDelta } from '../../src/engine/delta-codec.ts';
import { Host } from '../../src/host/host.ts';

self.onmessage = async (event: MessageEvent<string>) => {
  const name = event.data;
  const t0 = performance.now();
  await loadSqlite();
  const t1 = performance.now();
  const d = indexedDbDurability(name);
  const recovered = await d.open();
  const t2 = performance.now();
  const datastore = await openDatastore(recovered.snapshot?.image);
  const t3 = performance.now();
  const code = datastore.getMeta('module.js') ?? (await d.getMeta('module.js'));
  new Host({ datastore, code: new TextDecoder().decode(code), databaseIdentity: 1n, log: () => {} });
  const t4 = performance.now();
  let rows = 0;
  for (const rec of recovered.records) {
    const { delta } = decodeDelta(rec.payload);
    for (const t of delta.tables) rows += t.inserts.length;
    datastore.applyDelta(delta);
  }
  const t5 = performance.now();
  await d.close();
  datastore.close();
  (self as unknown as Worker).postMessage({
    wasmInit: t1 - t0,
    idbRead: t2 - t1,
    deserialize: t3 - t2,
    moduleLoad: t4 - t3,
    logReplay: t5 - t4,
    snapshotBytes: recovered.snapshot?.image.length ?? 0,
    logRecords: recovered.records.length,
    replayedRows: rows,
  });
};
