// Benchmark module for the browser workloads: the same `item` table as store.ts (W4/W5), with a
// reducer that inserts one row (W1, W2, W12), one that inserts a batch (loading W7, W8 and W12
// data), and the W1 hop breakdown's traced insert (it notes when the reducer runs, in the clock
// every context of the origin shares: `performance.timeOrigin + performance.now()`).
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

/** Wall-clock ms shared by the page and its workers (`timeOrigin` + `now()`; same-origin contexts agree in Chromium). */
const at = () => performance.timeOrigin + performance.now();
/** W1 hops: [id, reducer start, reducer end] of each traced call since the last `take_trace` (module memory, not stored). */
const traced: number[] = [];

/** W1 hops: `insert_one`, noting when its code starts and ends (in this engine's memory, read by `take_trace`). */
export const insert_traced = spacetimedb.reducer({ id: t.u64() }, (ctx, { id }) => {
  const start = at();
  ctx.db.item.insert({ id, seq: id, grp: Number(id % 1000n), name: `item-${id}`, score: id * 7n });
  traced.push(Number(id), start, at());
});

/** W1 hops: what `insert_traced` noted since the last call, as JSON `[id, start, end, …]`, and forgets it. */
export const take_trace = spacetimedb.procedure({}, t.string(), () => JSON.stringify(traced.splice(0)));

/** W1 hops: a call that commits nothing (so it waits for no log write): the path of a call without its IndexedDB write. */
export const noop = spacetimedb.procedure({}, t.string(), () => '');

/** W1 hops: a call that commits nothing and keeps the engine busy `ms` (the threads around it idle as during a log write). */
export const spin = spacetimedb.procedure({ ms: t.f64() }, t.string(), (_ctx, { ms }) => {
  const end = at() + ms;
  while (at() < end) {
    // busy: nothing to do but wait
  }
  return '';
});
