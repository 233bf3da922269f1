// A todo list shared by everyone, each item owned by the identity that added it: the playground's
// smallest example with sender checks (only an item's owner may change or remove it).
//
// Tables:   todo (public)
// Reducers: add_todo, set_done, rename_todo, remove_todo, clear_done
import type { Identity } from 'spacetimedb';
import { schema, table, t, SenderError } from 'spacetimedb/server';

const todo = table(
  { public: true },
  {
    id: t.u64().primaryKey().autoInc(),
    owner: t.identity().index('btree'),
    text: t.string(),
    done: t.bool(),
    created: t.timestamp(),
  },
);

const spacetimedb = schema({ todo });
export default spacetimedb;

function validateText(text: string) {
  if (text.trim() === '') {
    throw new SenderError('A todo needs some text');
  }
}

/** `item` (todo `id`), checked to exist and to belong to `sender`. */
function owned<Row extends { owner: Identity }>(item: Row | null, id: bigint, sender: Identity): Row {
  if (!item) throw new SenderError(`There is no todo ${id}`);
  if (!item.owner.isEqual(sender)) throw new SenderError(`Todo ${id} belongs to someone else`);
  return item;
}

export const add_todo = spacetimedb.reducer({ text: t.string() }, (ctx, { text }) => {
  validateText(text);
  const row = ctx.db.todo.insert({ id: 0n, owner: ctx.sender, text: text.trim(), done: false, created: ctx.timestamp });
  console.info(`todo ${row.id} added: ${row.text}`);
});

export const set_done = spacetimedb.reducer({ id: t.u64(), done: t.bool() }, (ctx, { id, done }) => {
  const item = owned(ctx.db.todo.id.find(id), id, ctx.sender);
  ctx.db.todo.id.update({ ...item, done });
});

export const rename_todo = spacetimedb.reducer({ id: t.u64(), text: t.string() }, (ctx, { id, text }) => {
  validateText(text);
  const item = owned(ctx.db.todo.id.find(id), id, ctx.sender);
  ctx.db.todo.id.update({ ...item, text: text.trim() });
});

export const remove_todo = spacetimedb.reducer({ id: t.u64() }, (ctx, { id }) => {
  owned(ctx.db.todo.id.find(id), id, ctx.sender);
  ctx.db.todo.id.delete(id);
});

/** Removes the caller's finished items. */
export const clear_done = spacetimedb.reducer((ctx) => {
  let removed = 0;
  for (const item of [...ctx.db.todo.owner.filter(ctx.sender)]) {
    if (item.done) {
      ctx.db.todo.id.delete(item.id);
      removed++;
    }
  }
  console.info(`${removed} finished todo${removed === 1 ? '' : 's'} removed`);
});
