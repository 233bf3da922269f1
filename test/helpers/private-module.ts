// A small SpacetimeDB module for the SQL tests: one private table next to a public one.
import { schema, table, t } from 'spacetimedb/server';

const secret = table(
  {},
  {
    id: t.u32().primaryKey(),
    owner: t.identity(),
    note: t.string(),
  },
);

const board = table(
  { public: true },
  {
    id: t.u32().primaryKey(),
    text: t.string(),
  },
);

const spacetimedb = schema({ secret, board });
export default spacetimedb;

export const add_secret = spacetimedb.reducer({ id: t.u32(), note: t.string() }, (ctx, { id, note }) => {
  ctx.db.secret.insert({ id, owner: ctx.sender, note });
});

export const post = spacetimedb.reducer({ id: t.u32(), text: t.string() }, (ctx, { id, text }) => {
  ctx.db.board.insert({ id, text });
});
