// The durability contract (src/durability/contract.ts) against Chromium's real IndexedDB, run in
// a page of the e2e build (demo/contract.html) with `vitest` aliased to e2e/vitest-shim.ts.
import { durabilityContract } from '../src/durability/contract.ts';
import { indexedDbDurability } from '../src/durability/indexeddb.ts';
import { run } from './vitest-shim.ts';

let counter = 0;
durabilityContract('indexeddb (Chromium)', { exclusive: false, failureCode: 'QUOTA_EXCEEDED' }, () => {
  const name = `contract-${Date.now()}-${++counter}`;
  let failNext = false;
  return {
    instance: () =>
      indexedDbDurability(name, {
        beforeLogCommit: () => {
          if (!failNext) return;
          failNext = false;
          throw new DOMException('simulated: the quota is full', 'QuotaExceededError');
        },
      }),
    failNextWrite: () => {
      failNext = true;
    },
    cleanup: () => indexedDbDurability(name).destroy(),
  };
});

(globalThis as { contractResults?: unknown }).contractResults = run();
