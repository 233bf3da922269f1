// Tables panel: every table and view of the running module, live (one subscription each, `SELECT *`),
// as the identity chosen in the header sees them: row-level security filters the rows of anyone
// but the owner, a private table is the owner's alone (its section says so), and a view is computed
// for that identity. Paged (PAGE_SIZE rows a page); values formatted by type (values.ts).
import type { BrowserDatabase, Row, SchemaDescription, SubscriptionHandle } from 'lightcone';
import { errorText, h } from '../dom.ts';
import type { Runtime } from '../runtime.ts';
import { formatValue, type IdentityNames } from '../values.ts';

export const PAGE_SIZE = 50;

type Table = SchemaDescription['tables'][number];

/** One section: a table or a view, its rows and where its pager stands. */
interface Source {
  name: string;
  kind: 'table' | 'view';
  /** Columns with types (tables); a view's come from its rows. */
  columns: { name: string; type: string }[] | undefined;
  primaryKey: string | undefined;
  note: string;
  rows: Map<string, { row: Row; count: number }>;
  page: number;
  error: string | undefined;
  sub: SubscriptionHandle | undefined;
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

function tableNote(t: Table): string {
  return [t.access === 'private' ? 'private' : '', t.event ? 'event table' : '', t.scheduled ? `schedules ${t.scheduled}` : ''].filter(Boolean).join(', ');
}

export function tablesPanel(runtime: Runtime, names: IdentityNames): { element: HTMLElement; onShow: () => void } {
  const body = h('div', { className: 'tables' });
  const status = h('p', { className: 'hint', role: 'status' });
  const element = h('div', {}, status, body);
  let sources: Source[] = [];
  let scheduled = false;

  const render = () => {
    scheduled = false;
    if (!runtime.db || !runtime.schema) {
      status.textContent = 'No module is running: publish one.';
      body.replaceChildren();
      return;
    }
    status.textContent = sources.length === 0 ? 'The module has no tables.' : `Rows as ${runtime.identity.label} sees them.`;
    body.replaceChildren(...sources.map(section));
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  };

  const section = (s: Source): HTMLElement => {
    const rows = [...s.rows.values()].flatMap((r) => Array<Row>(r.count).fill(r.row));
    const pk = s.primaryKey;
    if (pk !== undefined) rows.sort((a, b) => compare(a[pk], b[pk]));
    const columns = s.columns ?? Object.keys(rows[0] ?? {}).map((name) => ({ name, type: '' }));
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    const page = Math.min(s.page, pages - 1);
    const shown = rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    const caption = `${s.name} (${s.error ? 'not readable' : `${rows.length} ${rows.length === 1 ? 'row' : 'rows'}`}${s.note ? `, ${s.note}` : ''})`;
    const table = h(
      'table',
      { 'aria-label': `${s.kind} ${s.name}` },
      h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col', title: c.type }, c.name, h('span', { className: 'type' }, ` ${c.type}${c.name === pk ? ' · key' : ''}`))))),
      h(
        'tbody',
        {},
        ...shown.map((row) =>
          h(
            'tr',
            {},
            ...columns.map((c) => {
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
            h('button', { type: 'button', disabled: page === 0, onclick: () => setPage(s, page - 1) }, `Previous page of ${s.name}`),
            ` rows ${page * PAGE_SIZE + 1}–${page * PAGE_SIZE + shown.length} of ${rows.length} `,
            h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => setPage(s, page + 1) }, `Next page of ${s.name}`),
          )
        : null;
    return h(
      'section',
      { className: 'table', 'aria-label': s.name },
      h('h3', {}, caption),
      s.note.includes('event table') ? h('p', { className: 'hint' }, 'Rows of an event table exist only inside the transaction that inserts them.') : null,
      s.error ? h('p', { className: 'hint' }, s.error) : s.columns || rows.length > 0 ? table : h('p', { className: 'hint' }, 'No rows.'),
      pager,
    );
  };

  const setPage = (s: Source, page: number) => {
    s.page = Math.max(0, page);
    schedule();
  };

  const add = (s: Source, row: Row, n: number) => {
    const key = rowKey(row);
    const count = (s.rows.get(key)?.count ?? 0) + n;
    if (count <= 0) s.rows.delete(key);
    else s.rows.set(key, { row, count });
  };

  const subscribe = (db: BrowserDatabase | undefined, schema: SchemaDescription | undefined) => {
    const pages = new Map(sources.map((s) => [s.name, s.page]));
    for (const s of sources) s.sub?.unsubscribe();
    sources = [];
    if (!db || !schema) return schedule();
    const who = runtime.identity;
    const sender = who.label === 'owner' ? db.owner.toHexString() : who.hex;
    sources = [
      ...schema.tables.map(
        (t): Source => ({ name: t.name, kind: 'table', columns: t.columns, primaryKey: t.primaryKey, note: tableNote(t), rows: new Map(), page: 0, error: undefined, sub: undefined }),
      ),
      ...schema.views.map(
        (v): Source => ({
          name: v.name,
          kind: 'view',
          columns: undefined,
          primaryKey: undefined,
          note: `view${v.perSender ? ' per sender' : ''}`,
          rows: new Map(),
          page: 0,
          error: undefined,
          sub: undefined,
        }),
      ),
    ];
    for (const s of sources) {
      s.page = pages.get(s.name) ?? 0;
      if (s.note.includes('event table')) continue;
      s.sub = db.subscribe(
        [`SELECT * FROM ${s.name}`],
        {
          onApplied: (initial) => {
            s.rows.clear();
            for (const row of initial[s.name] ?? Object.values(initial).flat()) add(s, row, 1);
            schedule();
          },
          onUpdate: (update) => {
            for (const u of update) {
              for (const row of u.deletes) add(s, row, -1);
              for (const row of u.inserts) add(s, row, 1);
            }
            schedule();
          },
          onError: (error) => {
            s.error = `Its subscription ended: ${errorText(error)}`;
            schedule();
          },
        },
        { sender },
      );
    }
    schedule();
  };

  runtime.on((event) => {
    if (event.type === 'connected') subscribe(event.db, event.schema);
    else if (event.type === 'schema') subscribe(runtime.db, event.schema);
    else if (event.type === 'identity') subscribe(runtime.db, runtime.schema);
    else if (event.type === 'engine' && event.state === 'stopped') subscribe(undefined, undefined);
  });
  subscribe(runtime.db, runtime.schema);
  return { element, onShow: schedule };
}
