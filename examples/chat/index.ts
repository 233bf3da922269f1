// The SpacetimeDB quickstart chat module, written against the 2.x TypeScript API.
//
// Tables:   user (public), message (public)
// Reducers: set_name, send_message
// Lifecycle: init, client_connected, client_disconnected
import { schema, table, t, SenderError } from 'spacetimedb/server';

const user = table(
  { public: true },
  {
    identity: t.identity().primaryKey(),
    name: t.string().optional(),
    online: t.bool(),
  },
);

const message = table(
  { public: true },
  {
    id: t.u64().primaryKey().autoInc(),
    sender: t.identity().index('btree'),
    sent: t.timestamp(),
    text: t.string(),
  },
);

const spacetimedb = schema({ user, message });
export default spacetimedb;

function validateName(name: string) {
  if (!name) {
    throw new SenderError('Names must not be empty');
  }
}

function validateMessage(text: string) {
  if (!text) {
    throw new SenderError('Messages must not be empty');
  }
}

export const set_name = spacetimedb.reducer({ name: t.string() }, (ctx, { name }) => {
  validateName(name);
  const user = ctx.db.user.identity.find(ctx.sender);
  if (!user) {
    throw new SenderError('Cannot set name for unknown user');
  }
  console.info(`User ${ctx.sender} sets name to ${name}`);
  ctx.db.user.identity.update({ ...user, name });
});

export const send_message = spacetimedb.reducer({ text: t.string() }, (ctx, { text }) => {
  // Things to consider:
  // - Rate-limit messages per user.
  // - Reject messages from unnamed users.
  validateMessage(text);
  console.info(`User ${ctx.sender}: ${text}`);
  ctx.db.message.insert({
    id: 0n,
    sender: ctx.sender,
    sent: ctx.timestamp,
    text,
  });
});

// Called once, when the module is first published.
export const init = spacetimedb.init((ctx) => {
  console.log(`Chat module initialised by ${ctx.sender}`);
});

export const client_connected = spacetimedb.clientConnected((ctx) => {
  const user = ctx.db.user.identity.find(ctx.sender);
  if (user) {
    // A returning user: mark them online, keep their name.
    ctx.db.user.identity.update({ ...user, online: true });
  } else {
    // A new user: create a row, online, with no name yet.
    ctx.db.user.insert({
      identity: ctx.sender,
      name: undefined,
      online: true,
    });
  }
  console.log(`Client connected: ${ctx.sender}`);
});

export const client_disconnected = spacetimedb.clientDisconnected((ctx) => {
  const user = ctx.db.user.identity.find(ctx.sender);
  if (user) {
    ctx.db.user.identity.update({ ...user, online: false });
  } else {
    // Should be unreachable: a client cannot disconnect without connecting first.
    console.warn(`Disconnect event for unknown user with identity ${ctx.sender}`);
  }
});
