import { it } from 'vitest';
import { openDatabase } from '/work/main/src/node/open-database.ts';
it('probe', async () => {
  const db = await openDatabase({ name: 'p', module: '/work/main/src/subscriptions/fixtures/live.ts' });
  const e = (db as any);
  console.log(JSON.stringify((await db.describe()), (k, v) => typeof v === 'bigint' ? String(v) : v).slice(0, 3000));
  await db.close();
});
