// Subscriptions panel: type a subscription query (SpacetimeDB's subscription SQL), subscribe, and
// watch its deltas: the initial rows, then each transaction's inserts and deletes, newest first.
// Runs as the identity chosen when subscribing (sender views and row-level security apply).
import type { Row, SubscriptionHandle } from 'lightcone';
import { errorText, h } from '../dom.ts';
import type { Runtime } from '../runtime.ts';
import { formatValue, type IdentityNames } from '../values.ts';

const KEEP = 200;

export function subscriptionsPanel(runtime: Runtime, names: IdentityNames): { element: HTMLElement } {
  const box = h('input', { id: 'subscription-query', type: 'text', spellcheck: 'false', placeholder: 'SELECT * FROM …' });
  const start = h('button', { type: 'submit' }, 'Subscribe');
  const stop = h('button', { type: 'button', disabled: true }, 'Unsubscribe');
  const state = h('p', { className: 'hint', role: 'status' }, 'Not subscribed.');
  const deltas = h('ol', { className: 'deltas', 'aria-label': 'subscription deltas' });
  const form = h(
    'form',
    { className: 'subscribe', 'aria-label': 'subscription' },
    h('label', { for: 'subscription-query' }, 'Subscription query'),
    box,
    h('div', { className: 'actions' }, start, stop),
  );
  const element = h('div', {}, form, state, deltas);
  let sub: SubscriptionHandle | undefined;
  let query = '';
  let as = '';

  const rowText = (row: Row) =>
    Object.entries(row)
      .map(([k, v]) => `${k}: ${formatValue(v, names).text}`)
      .join(', ');

  const push = (kind: string, table: string, rows: Row[], sign: string) => {
    if (rows.length === 0) return;
    const item = h('li', { className: `delta delta-${kind}` }, h('strong', {}, `${kind} ${table}`), h('ul', {}, ...rows.map((r) => h('li', {}, `${sign} ${rowText(r)}`))));
    deltas.prepend(item);
    while (deltas.children.length > KEEP) deltas.lastElementChild?.remove();
  };

  const subscribe = () => {
    sub?.unsubscribe();
    const db = runtime.db;
    if (!db) {
      state.textContent = 'No module is running: publish one first.';
      return;
    }
    query = box.value.trim();
    as = runtime.identity.label;
    deltas.replaceChildren();
    state.textContent = `Subscribing to ${query} as ${as}…`;
    const senderHex = as === 'owner' ? db.owner.toHexString() : runtime.identity.hex;
    sub = db.subscribe(
      [query],
      {
        onApplied: (initial) => {
          state.textContent = `Subscribed to ${query} as ${as}.`;
          const tables = Object.entries(initial);
          if (tables.every(([, rows]) => rows.length === 0)) push('initial', '(no rows)', [{}], '');
          for (const [table, rows] of tables) push('initial', table, rows, '=');
        },
        onUpdate: (update) => {
          for (const u of update) {
            push('delete', u.table, u.deletes, '−');
            push('insert', u.table, u.inserts, '+');
          }
        },
        onError: (error) => {
          state.textContent = `The subscription ended: ${errorText(error)}`;
          stop.disabled = true;
        },
      },
      { sender: senderHex },
    );
    stop.disabled = false;
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    subscribe();
  });
  stop.addEventListener('click', () => {
    sub?.unsubscribe();
    sub = undefined;
    stop.disabled = true;
    state.textContent = 'Not subscribed.';
  });
  runtime.on((event) => {
    // A new database handle (reset, restart) ends the old subscription: make it again.
    if (event.type === 'connected' && sub) subscribe();
  });
  return { element };
}
