// Benchmark module for the browser workloads: the same `item` table as store.ts (W4/W5), with a
// reducer that inserts one row (W1, W2) and one that inserts a batch (loading W7 and W8 data).
import { schema, table, t } from 'spacetimedb/server';

const item = table(
  { public: true },
  {
    id: t.u64().primaryKey(),
    seq: t.u64().index('btree'),
    grp: t.u32(),
    name: t.string(),
    score: t.u64(),
  },
);

const spacetimedb = schema({ item });
export default spacetimedb;

/** W1/W2: one row per call. */
export const insert_one = spacetimedb.reducer({ id: t.u64() }, (ctx, { id }) => {
  ctx.db.item.insert({ id, seq: id, grp: Number(id % 1000n), name: `item-${id}`, score: id * 7n });
});

/** Loads `n` rows starting at id `from` in one call. */
export const insert_many = spacetimedb.reducer({ from: t.u64(), n: t.u32() }, (ctx, { from, n }) => {
  for (let i = 0; i < n; i++) {
    const id = from + BigInt(i);
    ctx.db.item.insert({ id, seq: id, grp: Number(id % 1000n), name: `item-${id}`, score: id * 7n });
  }
});

/** W6: changes one row (the write every live query is tested against). */
export const bump = spacetimedb.reducer({ id: t.u64() }, (ctx, { id }) => {
  const row = ctx.db.item.id.find(id);
  if (!row) throw new Error(`no item ${id}`);
  ctx.db.item.id.update({ ...row, score: row.score + 1n });
});
