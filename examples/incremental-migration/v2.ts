// Version 2: the class becomes an enum and characters gain a level. Changing a column's type is
// a migration SpacetimeDB refuses, so v2 keeps `character` as it was and adds `character_v2`:
// the incremental-migration pattern. Rows move to the new table when they are touched; reads look
// in the new table first and fall back to the old one.
import { schema, table, t, SenderError } from 'spacetimedb/server';

const character = table({ public: true }, { id: t.u64().primaryKey(), name: t.string(), class_name: t.string() });
const CharacterClass = t.enum('CharacterClass', ['Warrior', 'Mage', 'Rogue']);
const character_v2 = table({ public: true }, { id: t.u64().primaryKey(), name: t.string(), class: CharacterClass, level: t.u32() });
const spacetimedb = schema({ character, character_v2 });
export default spacetimedb;

type V2 = { id: bigint; name: string; class: { tag: 'Warrior' } | { tag: 'Mage' } | { tag: 'Rogue' }; level: number };

function toClass(name: string): V2['class'] {
  const tag = name.toLowerCase() === 'mage' ? 'Mage' : name.toLowerCase() === 'rogue' ? 'Rogue' : 'Warrior';
  return { tag };
}

/** Looks in v2 first; migrates the v1 row on first access. */
function load(
  db: {
    character: { id: { find(id: bigint): { id: bigint; name: string; class_name: string } | null; delete(id: bigint): boolean } };
    character_v2: { id: { find(id: bigint): V2 | null }; insert(r: V2): V2 };
  },
  id: bigint,
): V2 | null {
  const v2 = db.character_v2.id.find(id);
  if (v2) return v2;
  const v1 = db.character.id.find(id);
  if (!v1) return null;
  const moved = db.character_v2.insert({ id: v1.id, name: v1.name, class: toClass(v1.class_name), level: 1 });
  db.character.id.delete(id);
  return moved;
}

export const create_character = spacetimedb.reducer({ id: t.u64(), name: t.string(), class_name: t.string() }, (ctx, args) => {
  if (load(ctx.db, args.id)) throw new SenderError(`character ${args.id} already exists`);
  ctx.db.character_v2.insert({ id: args.id, name: args.name, class: toClass(args.class_name), level: 1 });
});

export const level_up = spacetimedb.reducer({ id: t.u64() }, (ctx, { id }) => {
  const c = load(ctx.db, id);
  if (!c) throw new SenderError(`no character ${id}`);
  ctx.db.character_v2.id.update({ ...c, level: c.level + 1 });
});
