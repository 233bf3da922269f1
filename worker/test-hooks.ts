// Whether this worker was built with test hooks (storage fault injection for e2e). Vite's
// `define` sets __LIGHTCONE_TEST_HOOKS__ to true only in `vite build --mode e2e`; any other
// build, including an app's own, leaves it undefined and the hooks compiled out.
import type { Durability } from '../src/durability/durability.ts';

declare const __LIGHTCONE_TEST_HOOKS__: boolean | undefined;

/** True only in test builds. */
export const TEST_HOOKS: boolean = typeof __LIGHTCONE_TEST_HOOKS__ !== 'undefined' && __LIGHTCONE_TEST_HOOKS__ === true;

/** Delegates to `inner`, but reports each append durable `delayMs()` after it is (test builds only). */
export function delayAcks(inner: Durability, delayMs: () => number): Durability {
  return {
    open: () => inner.open(),
    append(payload: Uint8Array) {
      const record = inner.append(payload);
      const ms = delayMs();
      if (ms <= 0) return record;
      const durable = record.durable.then(() => new Promise<void>((resolve) => setTimeout(resolve, ms)));
      durable.catch(() => {}); // the caller observes `durable`; this only prevents an unhandled rejection
      return { lsn: record.lsn, durable };
    },
    flush: () => inner.flush(),
    writeSnapshot: (snapshot) => inner.writeSnapshot(snapshot),
    getMeta: (key) => inner.getMeta(key),
    putMeta: (key, value) => inner.putMeta(key, value),
    close: () => inner.close(),
    destroy: () => inner.destroy(),
    stats: () => inner.stats(),
  };
}
