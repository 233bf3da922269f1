// The chat example written as a SpacetimeDB app: the official SDK's React hooks
// (`SpacetimeDBProvider`, `useTable`, `useReducer`) on bindings from `lightcone generate`
// (module_bindings/, generated from examples/chat). The one line that differs from an app on a
// SpacetimeDB server is `.withWSFn(local({ module: chat }))`: the database runs in this origin's
// Lightcone worker. e2e/sdk.spec.ts drives it.
//
// URL flags: ?db=<name> picks the database (tests use one per test); ?transport=dedicated forces
// the dedicated-worker fallback.
import { createElement as h, useState, type FormEvent } from 'react';
import { createRoot } from 'react-dom/client';
import { SpacetimeDBProvider, useReducer, useSpacetimeDB, useTable } from 'spacetimedb/react';
import { connect, local } from 'lightcone';
import chat from '../../examples/chat/index.ts?lightcone';
import { DbConnection, reducers, tables } from './module_bindings/index.ts';

const params = new URLSearchParams(location.search);
const dbName = params.get('db') ?? 'chat';
const transport = params.get('transport') === 'dedicated' ? 'dedicated' : 'auto';
// Each tab is its own user; a reload keeps it (the token SpacetimeDB apps keep, per tab here).
const tokenKey = `lightcone-sdk-token:${dbName}`;

const builder = DbConnection.builder()
  .withUri('lightcone://local')
  .withDatabaseName(dbName)
  .withWSFn(local({ module: chat, transport }))
  .withToken(sessionStorage.getItem(tokenKey) ?? undefined)
  .onConnect((_conn, _identity, token) => sessionStorage.setItem(tokenKey, token));

function Chat() {
  const state = useSpacetimeDB();
  const [messages, ready] = useTable(tables.message);
  const sendMessage = useReducer(reducers.sendMessage);
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const sorted = [...messages].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setError('');
    sendMessage({ text }).then(
      () => setText(''),
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    );
  };
  return h(
    'main',
    null,
    h('h1', null, 'Chat (spacetimedb/react over local())'),
    h(
      'p',
      { id: 'status', 'data-state': state.isActive ? 'connected' : 'connecting', 'data-identity': state.identity?.toHexString() ?? '' },
      state.isActive ? `connected as ${state.identity?.toHexString().slice(0, 12)}…` : 'connecting…',
    ),
    h('ul', { id: 'messages', 'data-ready': String(ready) }, ...sorted.map((m) => h('li', { key: String(m.id) }, h('span', { className: 'text' }, m.text)))),
    h(
      'form',
      { id: 'message-form', onSubmit: submit },
      h('input', { id: 'text', value: text, onChange: (e: { target: { value: string } }) => setText(e.target.value) }),
      h('button', { type: 'submit' }, 'Send'),
    ),
    h('p', { id: 'error' }, error),
  );
}

// For e2e (test builds only, where setTestHooks works): stop the engine as a runaway call would.
(globalThis as { lightconeTest?: unknown }).lightconeTest = {
  crashEngine: async () => (await connect({ name: dbName, transport })).setTestHooks({ crashEngine: true }),
};

createRoot(document.getElementById('root')!).render(h(SpacetimeDBProvider, { connectionBuilder: builder }, h(Chat)));
