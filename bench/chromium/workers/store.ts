// W4 and W5 in a Chromium worker: one reducer inserting 100k rows, and lookups / range scans
// inside a reducer, for Lightcone's engine (memory durability: the store is measured, not the
// disk) against raw sqlite-wasm (C API and oo1) over the same rows, in the same worker.
import { memoryDurability } from '../../../src/durability/memory.ts';
import { Engine, randomIdentity } from '../../../src/engine/engine.ts';
import { rawStore, STORE_ROWS } from '../../store-workload.ts';
import { serve } from '../rpc.ts';

type Raw = Awaited<ReturnType<typeof rawStore>>;
let code = '';
const w5: { capi?: Raw; oo1?: Raw; engine?: Engine } = {};

async function lightcone(): Promise<Engine> {
  return Engine.open({ name: 'store', durability: memoryDurability(), code, owner: randomIdentity() });
}

/** Keeps the module bundle (bench/modules/store.ts, bundled by the page's Vite plugin). */
function init(moduleCode: string): void {
  code = moduleCode;
}

/** W4: ms to insert 100k rows into a fresh database with `system`. */
async function w4(system: string): Promise<number> {
  if (system === 'lightcone') {
    const e = await lightcone();
    const t0 = performance.now();
    await e.call('insert_many', [0, STORE_ROWS]);
    const ms = performance.now() - t0;
    await e.close();
    return ms;
  }
  const raw = await rawStore(system === 'capi');
  const t0 = performance.now();
  raw.insert(0, STORE_ROWS);
  const ms = performance.now() - t0;
  raw.close();
  return ms;
}

/** W5: loads 100k rows into each system once. */
async function w5Setup(): Promise<void> {
  w5.capi = await rawStore(true);
  w5.capi.insert(0, STORE_ROWS);
  w5.oo1 = await rawStore(false);
  w5.oo1.insert(0, STORE_ROWS);
  w5.engine = await lightcone();
  await w5.engine.call('insert_many', [0, STORE_ROWS]);
}

/** W5: µs per operation: `width` 0 = primary-key lookups, else range scans of `width` rows; `n` operations. */
async function w5Run(system: string, width: number, n: number): Promise<number> {
  const t0 = performance.now();
  if (system === 'lightcone') {
    if (width === 0) await w5.engine!.call('lookups', [STORE_ROWS, n]);
    else await w5.engine!.call('ranges', [STORE_ROWS, width, n]);
  } else {
    const raw = system === 'capi' ? w5.capi! : w5.oo1!;
    if (width === 0) raw.lookups(STORE_ROWS, n);
    else raw.ranges(STORE_ROWS, width, n);
  }
  return ((performance.now() - t0) * 1000) / n;
}

async function close(): Promise<void> {
  w5.capi?.close();
  w5.oo1?.close();
  await w5.engine?.close();
}

serve({ init, w4, w5Setup, w5Run, close } as unknown as Record<string, (...a: never[]) => unknown>);
