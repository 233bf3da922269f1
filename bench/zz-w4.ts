import { openDatabase } from '../src/node/open-database.ts';
const module = 'bench/modules/store.ts';
const db = await openDatabase({ name: 'bench', module });
await db.call('insert_many', [0, 100_000]);
for (let r = 0; r < 6; r++) {
  const t0 = performance.now();
  await db.call('lookups', [100_000, 100_000]);
  console.log('W5', ((performance.now() - t0) * 1000 / 100_000).toFixed(2));
}
await db.close();
