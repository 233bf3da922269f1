// The chat example (examples/chat) as a small app on Lightcone: set a name, send messages, watch
// them arrive live (db.subscribe) in this tab and every other tab of the site, see who is online
// (the module's user.online, kept by a client connection per tab), whether the browser is offline
// (the database here keeps working), and whether storage is persistent. Plain DOM; it is also the
// page e2e/ drives.
//
// URL flags: ?transport=dedicated forces the dedicated-worker fallback (leader election);
// ?db=<name> picks another database (tests use one per test); ?user=<label> is another user of
// this browser (each label keeps its own identity, so two tabs can be two people).
import { connect, MigrationRefusedError, SenderError, type BrowserDatabase, type RowOf } from 'lightcone';
import chat from '../examples/chat/index.ts?lightcone';
// For the end-to-end tests, which read whether calls take their lane; not part of the package's exports.
import { callLaneOpen } from '../src/client/connect.ts';

type Chat = typeof import('../examples/chat/index.ts');
type Message = RowOf<Chat, 'message'>;
type User = RowOf<Chat, 'user'>;

const params = new URLSearchParams(location.search);
const transport = params.get('transport') === 'dedicated' ? 'dedicated' : 'auto';
const dbName = params.get('db') ?? 'chat';
const userLabel = params.get('user') ?? 'me';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>('status');
const network = $<HTMLParagraphElement>('network');
const storageLine = $<HTMLParagraphElement>('storage');
const list = $<HTMLUListElement>('messages');
const people = $<HTMLUListElement>('people');
const errorLine = $<HTMLParagraphElement>('error');
const resetButton = $<HTMLButtonElement>('reset');

/**
 * This browser's identity for `userLabel`: made once, kept in localStorage, so the same person
 * comes back after a reload or a browser restart (what `connect({ sender })` acts as).
 */
function storedIdentity(): string {
  const key = `lightcone-demo-identity:${dbName}:${userLabel}`;
  let id = localStorage.getItem(key);
  if (!id || !/^[0-9a-f]{64}$/.test(id)) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    bytes[0] = 0xc2;
    bytes[1] = 0x00;
    id = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
    localStorage.setItem(key, id);
  }
  return id;
}

const me = storedIdentity();
const messages = new Map<bigint, Message>();
const users = new Map<string, User>();

const nameOf = (identity: string) => users.get(identity)?.name ?? identity.slice(0, 8);

/** "14:03", with the date when it is not today. */
function when(m: Message): { text: string; iso: string } {
  const date = m.sent.toDate();
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const today = date.toDateString() === new Date().toDateString();
  return { text: today ? time : `${date.toLocaleDateString()} ${time}`, iso: date.toISOString() };
}

function render(): void {
  const rows = [...messages.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  list.replaceChildren(
    ...rows.map((m) => {
      const sender = m.sender.toHexString();
      const li = document.createElement('li');
      li.className = sender === me ? 'mine' : '';
      li.dataset.id = String(m.id);
      const time = document.createElement('time');
      time.className = 'time';
      const at = when(m);
      time.dateTime = at.iso;
      time.textContent = at.text;
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = nameOf(sender);
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = m.text;
      li.append(time, who, text);
      return li;
    }),
  );
  list.scrollTop = list.scrollHeight;
  // Who is here: online first, then by name.
  const everyone = [...users.values()].sort((a, b) => Number(b.online) - Number(a.online) || nameOf(a.identity.toHexString()).localeCompare(nameOf(b.identity.toHexString())));
  people.replaceChildren(
    ...everyone.map((u) => {
      const li = document.createElement('li');
      const id = u.identity.toHexString();
      li.dataset.online = String(u.online);
      li.className = id === me ? 'me' : '';
      li.textContent = `${nameOf(id)}${id === me ? ' (you)' : ''}`;
      li.title = u.online ? 'online' : 'offline';
      return li;
    }),
  );
  $('me').textContent = `you are ${nameOf(me)}`;
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

function clearError(): void {
  errorLine.textContent = '';
  delete errorLine.dataset.name;
}

async function refreshStorage(db: BrowserDatabase<Chat>): Promise<void> {
  const s = await db.storage();
  const used = s.usage === undefined ? 'unknown' : s.usage < 1024 * 1024 ? `${(s.usage / 1024).toFixed(1)} kB` : `${(s.usage / 1024 / 1024).toFixed(1)} MB`;
  storageLine.textContent = `storage: ${s.persisted ? 'persistent' : 'not persistent (the browser may evict it under pressure)'} · ${used} used`;
  storageLine.dataset.persisted = String(s.persisted);
  storageLine.dataset.usage = String(s.usage ?? '');
}

/** The network as the browser sees it: offline, the chat keeps working on the database in this browser. */
function watchNetwork(): void {
  const show = () => {
    const online = navigator.onLine;
    network.dataset.state = online ? 'online' : 'offline';
    network.textContent = online ? '' : 'offline: messages are kept in this browser';
  };
  addEventListener('online', show);
  addEventListener('offline', show);
  show();
}

async function main(): Promise<void> {
  watchNetwork();
  const options = { name: dbName, module: chat, sender: me, transport, connection: true } as const;
  let db: BrowserDatabase<Chat>;
  try {
    db = await connect<Chat>(options);
  } catch (error) {
    // The module changed in a way SpacetimeDB refuses over this browser's data: say why, and
    // offer to start over (only on the user's click: it deletes the chat kept in this browser).
    if (!(error instanceof MigrationRefusedError)) throw error;
    showError(error);
    resetButton.hidden = false;
    db = await new Promise<BrowserDatabase<Chat>>((resolve, reject) => {
      resetButton.addEventListener('click', () => {
        resetButton.hidden = true;
        clearError();
        (error as MigrationRefusedError<BrowserDatabase<Chat>>).reset().then(resolve, reject);
      });
    });
  }
  const opened = db;
  (globalThis as { lightcone?: unknown }).lightcone = { db, me, SenderError, connect, callLaneOpen: () => callLaneOpen(opened) };
  status.textContent = `connected to "${dbName}" · engine in ${db.mode === 'shared' ? 'a SharedWorker (all tabs)' : `dedicated workers (this tab: ${db.mode})`}`;
  status.dataset.state = 'connected';
  status.dataset.mode = db.mode;

  db.subscribe(['SELECT * FROM message', 'SELECT * FROM user'], {
    onApplied(initial) {
      messages.clear();
      users.clear();
      for (const m of initial.message ?? []) messages.set(m.id, m);
      for (const u of initial.user ?? []) users.set(u.identity.toHexString(), u);
      render();
      list.dataset.ready = 'true';
    },
    onUpdate(update) {
      for (const t of update) {
        if (t.table === 'message') {
          for (const m of t.deletes) messages.delete(m.id);
          for (const m of t.inserts) messages.set(m.id, m);
        } else {
          for (const u of t.deletes) users.delete(u.identity.toHexString());
          for (const u of t.inserts) users.set(u.identity.toHexString(), u);
        }
      }
      render();
    },
    onError: showError,
  });

  /**
   * Runs one call from a form. The input is cleared as the call is sent, so the next message can
   * be typed while it is in flight; if the call fails, its text comes back (unless something new
   * was typed meanwhile).
   */
  const act = async (form: HTMLFormElement, input: HTMLInputElement, call: (text: string) => Promise<unknown>) => {
    clearError();
    const text = input.value;
    input.value = '';
    form.dataset.busy = 'true';
    try {
      await call(text);
    } catch (error) {
      if (input.value === '') input.value = text;
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
    void act(nameForm, nameInput, (name) => db.call('set_name', { name: name.trim() }));
  });
  const messageForm = $<HTMLFormElement>('message-form');
  const textInput = $<HTMLInputElement>('text');
  messageForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void act(messageForm, textInput, (text) => db.call('send_message', { text }));
  });

  await refreshStorage(db);
  setInterval(() => void refreshStorage(db).catch(() => {}), 5000);
}

main().catch((error: unknown) => {
  status.textContent = 'could not start';
  status.dataset.state = 'failed';
  showError(error);
});
