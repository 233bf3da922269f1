// The notes example (examples/notes) as a small collaborative app: a database that follows `notes`
// on the server named by `?server=` (default http://127.0.0.1:3000). Notes are listed live; the
// open note's body is a Yjs document in this tab (one Y.Doc per opened note, with this tab's own
// random clientID). Typing turns the textarea's change into a Yjs update and calls `edit_note`
// with `{ wait: 'local' }` (applied here at once, queued for the server). Rows from the
// subscription (other people's edits, the server's merge) are applied to the same Y.Doc, and the
// textarea is rewritten only when its text differs, with the caret kept through Yjs relative
// positions. e2e/notes.spec.ts drives it. (IME composition is not handled specially.)
import { connect, type BrowserDatabase, type Row, type SyncStatus } from 'lightcone';
import * as Y from 'yjs';
import notesModule from '../examples/notes/index.ts?lightcone';

const server = new URLSearchParams(location.search).get('server') ?? 'http://127.0.0.1:3000';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const syncLine = $<HTMLParagraphElement>('sync');
const list = $<HTMLUListElement>('notes');
const editor = $<HTMLElement>('editor');
const editorTitle = $<HTMLHeadingElement>('editor-title');
const textarea = $<HTMLTextAreaElement>('body');
const errorLine = $<HTMLParagraphElement>('error');

/** The origin of updates taken from a row: they are the database's already, never sent back. */
const FROM_ROW = Symbol('row');

const notes = new Map<string, Row>();
const docs = new Map<string, Y.Doc>();
let openId: string | undefined;
let listed = '';

function showError(error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  errorLine.textContent = `${e.name}: ${e.message}`;
}

function showStatus(s: SyncStatus): void {
  const waiting = s.pending > 0 ? ` · ${s.pending} change${s.pending === 1 ? '' : 's'} waiting` : '';
  syncLine.textContent = `${s.state}${waiting}${s.error ? ` · ${s.error.name}: ${s.error.message}` : ''}`;
  syncLine.dataset.state = s.state;
  syncLine.dataset.pending = String(s.pending);
}

/** The note list, rebuilt only when a note came or went (not on every edit: focus stays put). */
function renderList(): void {
  const rows = [...notes.values()].sort((a, b) => String(a.title).localeCompare(String(b.title)) || String(a.id).localeCompare(String(b.id)));
  const key = JSON.stringify([openId, rows.map((r) => [r.id, r.title])]);
  if (key === listed) return;
  listed = key;
  if (rows.length === 0) {
    const li = document.createElement('li');
    li.textContent = 'No notes yet.';
    return void list.replaceChildren(li);
  }
  list.replaceChildren(
    ...rows.map((r) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = String(r.title) || 'Untitled';
      if (r.id === openId) button.setAttribute('aria-current', 'true');
      button.addEventListener('click', () => (location.hash = encodeURIComponent(String(r.id))));
      li.append(button);
      return li;
    }),
  );
}

/**
 * Runs `change` on the open note's document and then shows its text, keeping the selection where
 * it was in the text (relative positions survive text inserted or removed around them). The
 * textarea is not touched when it shows that text already: no flicker, no caret jump.
 */
function keepSelection(doc: Y.Doc, change: () => void): void {
  const text = doc.getText('body');
  const { selectionStart, selectionEnd, selectionDirection } = textarea;
  const start = Y.createRelativePositionFromTypeIndex(text, selectionStart);
  const end = Y.createRelativePositionFromTypeIndex(text, selectionEnd);
  change();
  const value = text.toString();
  if (textarea.value === value) return;
  textarea.value = value;
  const at = (pos: Y.RelativePosition) => Y.createAbsolutePositionFromRelativePosition(pos, doc)?.index ?? value.length;
  textarea.setSelectionRange(at(start), at(end), selectionDirection);
}

/** A row of `note` arrived: merge its body into this tab's document of that note, if opened. */
function takeRow(row: Row): void {
  const doc = docs.get(String(row.id));
  if (!doc) return;
  const apply = () => Y.applyUpdate(doc, row.body as Uint8Array, FROM_ROW);
  if (String(row.id) === openId) keepSelection(doc, apply);
  else apply();
}

/**
 * Replaces what changed between the document's text and `next` (the textarea after an input
 * event): the text after the caret is unchanged, so the change is found before it, which puts
 * typed characters exactly where they were typed even among repeated letters.
 */
function takeInput(text: Y.Text, next: string, caret: number): void {
  const prev = text.toString();
  let end = 0;
  const maxEnd = Math.min(prev.length, next.length - caret);
  while (end < maxEnd && prev[prev.length - 1 - end] === next[next.length - 1 - end]) end++;
  let start = 0;
  const maxStart = Math.min(prev.length, next.length) - end;
  while (start < maxStart && prev[start] === next[start]) start++;
  const removed = prev.length - start - end;
  const inserted = next.slice(start, next.length - end);
  text.doc!.transact(() => {
    if (removed > 0) text.delete(start, removed);
    if (inserted) text.insert(start, inserted);
  });
}

function open(db: BrowserDatabase, id: string | undefined): void {
  openId = id !== undefined && notes.has(id) ? id : undefined;
  renderList();
  editor.hidden = openId === undefined;
  if (openId === undefined) return;
  const row = notes.get(openId)!;
  let doc = docs.get(openId);
  if (!doc) {
    const noteId = openId;
    doc = new Y.Doc();
    // Every change made here (typing) is sent as the update Yjs computed for it.
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== FROM_ROW) db.call('edit_note', { id: noteId, update }, { wait: 'local' }).catch(showError);
    });
    docs.set(openId, doc);
  }
  Y.applyUpdate(doc, row.body as Uint8Array, FROM_ROW);
  editorTitle.textContent = String(row.title) || 'Untitled';
  textarea.value = doc.getText('body').toString();
}

async function main(): Promise<void> {
  const db = await connect({ name: 'notes', module: notesModule, remote: { uri: server, database: 'notes' } });
  db.sync!.onStatus(showStatus);
  const wanted = () => decodeURIComponent(location.hash.slice(1)) || undefined;
  await db.subscribe(['SELECT * FROM note'], {
    onApplied(initial) {
      notes.clear();
      for (const r of initial.note ?? []) notes.set(String(r.id), r);
      for (const r of notes.values()) takeRow(r);
      if (openId === undefined || !notes.has(openId)) open(db, wanted());
      renderList();
    },
    onUpdate(update) {
      for (const t of update) {
        for (const r of t.deletes) notes.delete(String(r.id));
        for (const r of t.inserts) {
          notes.set(String(r.id), r);
          takeRow(r);
        }
      }
      if (openId === undefined && wanted() !== undefined) open(db, wanted()); // made in another tab, or arriving
      renderList();
    },
    onError: showError,
  }).applied;

  addEventListener('hashchange', () => open(db, wanted()));
  textarea.addEventListener('input', () => {
    const doc = openId === undefined ? undefined : docs.get(openId);
    if (doc) takeInput(doc.getText('body'), textarea.value, textarea.selectionEnd);
  });
  const titleInput = $<HTMLInputElement>('title');
  $<HTMLFormElement>('new-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const id = crypto.randomUUID(); // the client names the note: made offline, it keeps its id
    db.call('create_note', { id, title: titleInput.value.trim() }, { wait: 'local' }).then(() => {
      titleInput.value = '';
      location.hash = id;
    }, showError);
  });
  document.body.dataset.ready = 'true';
}

main().catch((error: unknown) => {
  syncLine.textContent = 'could not start';
  syncLine.dataset.state = 'failed';
  showError(error);
});
