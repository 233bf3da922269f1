// Collaborative notes: each note's body is a Yjs document, stored as its state-as-update bytes.
// `edit_note` merges a client's Yjs update into the stored state inside the reducer, so the merge
// runs authoritatively on the server and optimistically in every replica that follows it; edits
// made concurrently (or offline) by different clients all survive, in the same bytes everywhere.
//
// Tables:   note (public)
// Reducers: create_note, edit_note
//
// yjs inside a module: see README.md (no Math.random; `crypto` at import; a fixed clientID).
import { schema, table, t, SenderError } from 'spacetimedb/server';
import * as Y from 'yjs';

const note = table(
  { public: true },
  {
    id: t.string().primaryKey(),
    title: t.string(),
    /** `Y.encodeStateAsUpdate` of the note's document. */
    body: t.byteArray(),
    updatedAt: t.timestamp(),
  },
);

const spacetimedb = schema({ note });
export default spacetimedb;

/**
 * The reducer's own Yjs client id. The reducer only merges updates and never edits, so this id
 * never enters a document; it is fixed (0, which a random 32-bit client id is practically never)
 * so that the document a reducer builds is the same on the server and in every replica.
 */
const MERGE_CLIENT_ID = 0;

/** A document holding `state`; `guid` given so that Y.Doc does not make a random one. */
function docOf(state: Uint8Array): Y.Doc {
  const doc = new Y.Doc({ guid: 'note', gc: true });
  doc.clientID = MERGE_CLIENT_ID;
  if (state.length > 0) Y.applyUpdate(doc, state);
  return doc;
}

export const create_note = spacetimedb.reducer({ id: t.string(), title: t.string() }, (ctx, { id, title }) => {
  if (id === '') throw new SenderError('a note needs an id: pass a non-empty string (a uuid made by the client)');
  if (ctx.db.note.id.find(id)) throw new SenderError(`note ${id} exists already`);
  const empty = Y.encodeStateAsUpdate(docOf(new Uint8Array(0)));
  ctx.db.note.insert({ id, title, body: empty, updatedAt: ctx.timestamp });
});

export const edit_note = spacetimedb.reducer({ id: t.string(), update: t.byteArray() }, (ctx, { id, update }) => {
  const n = ctx.db.note.id.find(id);
  if (!n) throw new SenderError(`no note ${id}: create it with create_note first`);
  const doc = docOf(n.body);
  try {
    Y.applyUpdate(doc, update);
  } catch (e) {
    throw new SenderError(`the update for note ${id} is not a Yjs update (${(e as Error).message}): send Y.encodeStateAsUpdate or a doc's 'update' event bytes`);
  }
  ctx.db.note.id.update({ ...n, body: Y.encodeStateAsUpdate(doc), updatedAt: ctx.timestamp });
  doc.destroy();
});
