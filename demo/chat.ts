// The chat example (examples/chat) as a small app on Lightcone: set a name, send messages, watch
// them arrive live (db.subscribe) in this tab and every other tab of the site, and see whether
// storage is persistent and how much it holds. Plain DOM; it is also the page e2e/ drives.
//
// URL flags: ?transport=dedicated forces the dedicated-worker fallback (leader election);
// ?db=<name> picks another database (tests use one per test).
import { connect, SenderError, type BrowserDatabase, type Row } from 'lightcone';
import chat from '../examples/chat/index.ts?lightcone';

const params = new URLSearchParams(location.search);
const transport = params.get('transport') === 'dedicated' ? 'dedicated' : 'auto';
const dbName = params.get('db') ?? 'chat';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const storageLine = $<HTMLParagraphElement>('storage');
const list = $<HTMLUListElement>('messages');
const errorLine = $<HTMLParagraphElement>('error');

/** This tab's identity: each tab is its own chat user; a reload keeps it (sessionStorage). */
function tabIdentity(): string {
  const key = `lightcone-demo-identity:${dbName}`;
  let id = sessionStorage.getItem(key);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    bytes[0] = 0xc2;
    bytes[1] = 0x00;
    id = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
    sessionStorage.setItem(key, id);
  }
  return id;
}

const me = tabIdentity();
const messages = new Map<string, Row>();
const names = new Map<string, string | undefined>();

function hexOf(v: unknown): string {
  return typeof v === 'object' && v !== null && 'toHexString' in v && typeof v.toHexString === 'function' ? String(v.toHexString()) : String(v);
}

function render(): void {
  const rows = [...messages.values()].sort((a, b) => (BigInt(a.id as bigint) < BigInt(b.id as bigint) ? -1 : 1));
  list.replaceChildren(
    ...rows.map((m) => {
      const sender = hexOf(m.sender);
      const li = document.createElement('li');
      li.className = sender === me ? 'mine' : '';
      li.dataset.id = String(m.id);
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = names.get(sender) ?? sender.slice(0, 8);
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = String(m.text);
      li.append(who, text);
      return li;
    }),
  );
  list.scrollTop = list.scrollHeight;
  $('me').textContent = names.get(me) ? `you are ${names.get(me)}` : `you are ${me.slice(0, 8)}`;
}

function showError(error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  errorLine.textContent = `${e.name}: ${e.message}`;
  errorLine.dataset.name = e.name;
  errorLine.dataset.code = 'code' in e ? String(e.code) : '';
  errorLine.dataset.senderError = String(error instanceof SenderError);
  const details = 'details' in e && typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : {};
  errorLine.dataset.retryable = String(details.retryable === true);
  errorLine.dataset.callId = typeof details.callId === 'string' ? details.callId : '';
}

async function refreshStorage(db: BrowserDatabase): Promise<void> {
  const s = await db.storage();
  const used = s.usage === undefined ? 'unknown' : s.usage < 1024 * 1024 ? `${(s.usage / 1024).toFixed(1)} kB` : `${(s.usage / 1024 / 1024).toFixed(1)} MB`;
  storageLine.textContent = `storage: ${s.persisted ? 'persistent' : 'not persistent (the browser may evict it under pressure)'} · ${used} used`;
  storageLine.dataset.persisted = String(s.persisted);
  storageLine.dataset.usage = String(s.usage ?? '');
}

async function main(): Promise<void> {
  const db = await connect({ name: dbName, module: chat, sender: me, transport });
  (globalThis as { lightcone?: unknown }).lightcone = { db, me, SenderError, connect };
  status.textContent = `connected to "${dbName}" · engine in ${db.mode === 'shared' ? 'a SharedWorker (all tabs)' : `dedicated workers (this tab: ${db.mode})`}`;
  status.dataset.state = 'connected';
  status.dataset.mode = db.mode;

  db.subscribe(['SELECT * FROM message', 'SELECT * FROM user'], {
    onApplied(initial) {
      messages.clear();
      names.clear();
      for (const m of initial.message ?? []) messages.set(String(m.id), m);
      for (const u of initial.user ?? []) names.set(hexOf(u.identity), u.name as string | undefined);
      render();
      list.dataset.ready = 'true';
    },
    onUpdate(update) {
      for (const t of update) {
        if (t.table === 'message') {
          for (const m of t.deletes) messages.delete(String(m.id));
          for (const m of t.inserts) messages.set(String(m.id), m);
        } else if (t.table === 'user') {
          for (const u of t.deletes) names.delete(hexOf(u.identity));
          for (const u of t.inserts) names.set(hexOf(u.identity), u.name as string | undefined);
        }
      }
      render();
    },
    onError: showError,
  });

  const act = async (form: HTMLFormElement, input: HTMLInputElement, reducer: string, arg: string) => {
    errorLine.textContent = '';
    delete errorLine.dataset.name;
    form.dataset.busy = 'true';
    try {
      await db.call(reducer, reducer === 'set_name' ? { name: arg } : { text: arg });
      input.value = '';
    } catch (error) {
      showError(error);
    } finally {
      delete form.dataset.busy;
      void refreshStorage(db);
    }
  };
  const nameForm = $<HTMLFormElement>('name-form');
  const nameInput = $<HTMLInputElement>('name');
  nameForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void act(nameForm, nameInput, 'set_name', nameInput.value.trim());
  });
  const messageForm = $<HTMLFormElement>('message-form');
  const textInput = $<HTMLInputElement>('text');
  messageForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void act(messageForm, textInput, 'send_message', textInput.value);
  });

  await refreshStorage(db);
  setInterval(() => void refreshStorage(db).catch(() => {}), 5000);
}

main().catch((error: unknown) => {
  status.textContent = 'could not start';
  status.dataset.state = 'failed';
  showError(error);
});
