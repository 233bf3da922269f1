// Tables panel: every table of the running module, live through one subscription (`SELECT *` of
// each), paged (PAGE_SIZE rows a page), values formatted by type (values.ts).
import type { BrowserDatabase, Row, SchemaDescription, SubscriptionHandle } from 'lightcone';
import { errorText, h } from '../dom.ts';
import type { Runtime } from '../runtime.ts';
import { formatValue, type IdentityNames } from '../values.ts';

export const PAGE_SIZE = 50;

type Table = SchemaDescription['tables'][number];

interface Live {
  def: Table;
  rows: Map<string, { row: Row; count: number }>;
  page: number;
}

/** A key for a row: its JSON with bigints and bytes spelled out (rows have no identity of their own). */
export function rowKey(row: Row): string {
  return JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v].join(',') : v));
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'bigint' || typeof a === 'number') return a < (b as number) ? -1 : a > (b as number) ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  const ka = rowKey({ v: a });
  const kb = rowKey({ v: b });
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function tablesPanel(runtime: Runtime, names: IdentityNames): { element: HTMLElement; onShow: () => void } {
  const body = h('div', { className: 'tables' });
  const status = h('p', { className: 'hint', role: 'status' });
  const element = h('div', {}, status, body);
  const live = new Map<string, Live>();
  let sub: SubscriptionHandle | undefined;
  let scheduled = false;

  const render = () => {
    scheduled = false;
    const schema = runtime.schema;
    if (!runtime.db || !schema) {
      status.textContent = 'No module is running: publish one.';
      body.replaceChildren();
      return;
    }
    status.textContent = schema.tables.length === 0 ? 'The module has no tables.' : '';
    body.replaceChildren(...schema.tables.map((t) => renderTable(t, live.get(t.name))));
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  };

  const renderTable = (def: Table, state: Live | undefined): HTMLElement => {
    const rows = state ? [...state.rows.values()].flatMap((r) => Array<Row>(r.count).fill(r.row)) : [];
    const pk = def.primaryKey;
    if (pk !== undefined) rows.sort((a, b) => compare(a[pk], b[pk]));
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    const page = Math.min(state?.page ?? 0, pages - 1);
    const shown = rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    const caption = `${def.name} (${rows.length} ${rows.length === 1 ? 'row' : 'rows'}${def.access === 'private' ? ', private' : ''}${def.event ? ', event table' : ''})`;
    const table = h(
      'table',
      { 'aria-label': `table ${def.name}` },
      h('thead', {}, h('tr', {}, ...def.columns.map((c) => h('th', { scope: 'col', title: c.type }, c.name, h('span', { className: 'type' }, ` ${c.type}${c.name === pk ? ' · key' : ''}`))))),
      h(
        'tbody',
        {},
        ...shown.map((row) =>
          h(
            'tr',
            {},
            ...def.columns.map((c) => {
              const f = formatValue(row[c.name], names);
              return h('td', { className: `v-${f.kind}`, title: f.title }, f.text);
            }),
          ),
        ),
      ),
    );
    const pager =
      pages > 1
        ? h(
            'div',
            { className: 'pager' },
            h('button', { type: 'button', disabled: page === 0, onclick: () => setPage(def.name, page - 1) }, `Previous page of ${def.name}`),
            ` rows ${page * PAGE_SIZE + 1}–${page * PAGE_SIZE + shown.length} of ${rows.length} `,
            h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => setPage(def.name, page + 1) }, `Next page of ${def.name}`),
          )
        : null;
    return h(
      'section',
      { className: 'table', 'aria-label': def.name },
      h('h3', {}, caption),
      def.event ? h('p', { className: 'hint' }, 'Rows of an event table exist only inside the transaction that inserts them.') : null,
      table,
      pager,
    );
  };

  const setPage = (name: string, page: number) => {
    const state = live.get(name);
    if (state) state.page = Math.max(0, page);
    schedule();
  };

  const subscribe = (db: BrowserDatabase | undefined, schema: SchemaDescription | undefined) => {
    sub?.unsubscribe();
    sub = undefined;
    const keep = new Map([...live].map(([k, v]) => [k, v.page]));
    live.clear();
    if (!db || !schema) return schedule();
    for (const def of schema.tables) live.set(def.name, { def, rows: new Map(), page: keep.get(def.name) ?? 0 });
    const queries = schema.tables.filter((t) => !t.event).map((t) => `SELECT * FROM ${t.name}`);
    if (queries.length === 0) return schedule();
    sub = db.subscribe(queries, {
      onApplied: (initial) => {
        for (const state of live.values()) state.rows.clear();
        for (const [name, rows] of Object.entries(initial)) for (const row of rows) add(name, row, 1);
        schedule();
      },
      onUpdate: (update) => {
        for (const u of update) {
          for (const row of u.deletes) add(u.table, row, -1);
          for (const row of u.inserts) add(u.table, row, 1);
        }
        schedule();
      },
      onError: (error) => {
        status.textContent = `The tables' subscription ended: ${errorText(error)}`;
      },
    });
  };

  const add = (table: string, row: Row, n: number) => {
    const state = live.get(table);
    if (!state) return;
    const key = rowKey(row);
    const entry = state.rows.get(key);
    const count = (entry?.count ?? 0) + n;
    if (count <= 0) state.rows.delete(key);
    else state.rows.set(key, { row, count });
  };

  runtime.on((event) => {
    if (event.type === 'connected') subscribe(event.db, event.schema);
    else if (event.type === 'schema') subscribe(runtime.db, event.schema);
    else if (event.type === 'engine' && event.state === 'stopped') subscribe(undefined, undefined);
  });
  subscribe(runtime.db, runtime.schema);
  return {
    element,
    onShow: schedule,
  };
}
