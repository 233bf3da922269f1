// Version 1 of a game module: characters with a name and a class stored as a string.
import { schema, table, t, SenderError } from 'spacetimedb/server';

const character = table({ public: true }, { id: t.u64().primaryKey(), name: t.string(), class_name: t.string() });
const spacetimedb = schema({ character });
export default spacetimedb;

export const create_character = spacetimedb.reducer({ id: t.u64(), name: t.string(), class_name: t.string() }, (ctx, args) => {
  if (ctx.db.character.id.find(args.id)) throw new SenderError(`character ${args.id} already exists`);
  ctx.db.character.insert(args);
});
