// W2 without the page: the engine on IndexedDB inside one dedicated worker, 64 calls in flight,
// to tell the engine + storage cost from the messaging cost.
import { indexedDbDurability } from '../../src/durability/indexeddb.ts';
import { Engine, randomIdentity } from '../../src/engine/engine.ts';

self.onmessage = async (event: MessageEvent<{ name: string; code: string; calls: number; inFlight: number; durability: 'strict' | 'relaxed' }>) => {
  const { name, code, calls, inFlight, durability } = event.data;
  const d = indexedDbDurability(name, { durability });
  const engine = await Engine.open({ name, durability: d, code, owner: randomIdentity() });
  let id = 1n;
  for (let i = 0; i < 50; i++) await engine.call('insert_many', { from: id++, n: 1 });
  const before = d.stats();
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (started < calls) {
        started++;
        await engine.call('insert_many', { from: id++, n: 1 }, { callId: crypto.randomUUID() });
      }
    }),
  );
  const ms = performance.now() - t0;
  const after = d.stats();
  await engine.close();
  (self as unknown as Worker).postMessage({ callsPerSec: (calls * 1000) / ms, writes: after.writes - before.writes, records: after.records - before.records });
};
