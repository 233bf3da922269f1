// Benchmark module for live queries (W6): chat rooms, their messages, and memberships by
// identity, so that subscriptions can filter by room, by identical query, or by a :sender join.
import { schema, table, t } from 'spacetimedb/server';

const room = table({ public: true }, { id: t.u32().primaryKey(), name: t.string() });

const message = table(
  { public: true },
  {
    id: t.u64().primaryKey().autoInc(),
    roomId: t.u32().index('btree'),
    author: t.string(),
    text: t.string(),
  },
);

const member = table(
  { public: true },
  {
    id: t.u32().primaryKey(),
    who: t.identity().index('btree'),
    roomId: t.u32().index('btree'),
  },
);

const spacetimedb = schema({ room, message, member });
export default spacetimedb;

/** `rooms` rooms and `messages` messages spread over them round-robin. */
export const seed = spacetimedb.reducer({ rooms: t.u32(), messages: t.u32() }, (ctx, { rooms, messages }) => {
  for (let r = 0; r < rooms; r++) ctx.db.room.insert({ id: r, name: `room-${r}` });
  for (let i = 0; i < messages; i++) ctx.db.message.insert({ id: 0n, roomId: i % rooms, author: `user-${i % 997}`, text: `message ${i}` });
});

/** Member `i` of `whos` joins room `i`. */
export const seed_members = spacetimedb.reducer({ whos: t.array(t.identity()) }, (ctx, { whos }) => {
  whos.forEach((who, i) => {
    ctx.db.member.insert({ id: i, who, roomId: i });
  });
});

/** The measured write: one message into a room. */
export const send = spacetimedb.reducer({ roomId: t.u32(), text: t.string() }, (ctx, { roomId, text }) => {
  ctx.db.message.insert({ id: 0n, roomId, author: 'bench', text });
});
