// Benchmark module: one table with an index, and reducers that do the work inside one call so
// the measurement is the host + datastore, not the call overhead.
import { schema, table, t, Range } from 'spacetimedb/server';

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

/** W4: insert `n` rows starting at id `from`. */
export const insert_many = spacetimedb.reducer({ from: t.u64(), n: t.u32() }, (ctx, { from, n }) => {
  for (let i = 0; i < n; i++) {
    const id = from + BigInt(i);
    ctx.db.item.insert({ id, seq: id, grp: i % 1000, name: `item-${i}`, score: id * 7n });
  }
});

/** W5: `reps` primary-key lookups spread over the first `size` ids. */
export const lookups = spacetimedb.reducer({ size: t.u64(), reps: t.u32() }, (ctx, { size, reps }) => {
  let found = 0;
  for (let i = 0; i < reps; i++) {
    if (ctx.db.item.id.find((BigInt(i) * 7919n) % size)) found++;
  }
  if (found !== reps) throw new Error(`found ${found} of ${reps}`);
});

/** W5: `reps` range scans of `width` consecutive rows on the btree index over `seq`, reading every row. */
export const ranges = spacetimedb.reducer({ size: t.u64(), width: t.u64(), reps: t.u32() }, (ctx, { size, width, reps }) => {
  let rows = 0n;
  for (let i = 0; i < reps; i++) {
    const lo = (BigInt(i) * 7919n) % (size - width + 1n);
    for (const r of ctx.db.item.seq.filter(new Range({ tag: 'included', value: lo }, { tag: 'excluded', value: lo + width }))) rows += r.score >= 0n ? 1n : 0n;
  }
  if (rows !== width * BigInt(reps)) throw new Error(`read ${rows} rows, expected ${width * BigInt(reps)}`);
});
