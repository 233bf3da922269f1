// SQL panel: a labelled box for SpacetimeDB's SQL dialect, "Run", the result as a table (or the
// DML's message), and an error shown at its position (the SQL with a caret under the column,
// and the text selected in the box). Runs as the identity chosen in the header.
import type { SqlResult } from 'lightcone';
import { errorText, h } from '../dom.ts';
import type { Runtime } from '../runtime.ts';
import { formatValue, type IdentityNames } from '../values.ts';

export function sqlPanel(runtime: Runtime, names: IdentityNames): { element: HTMLElement } {
  const box = h('textarea', { id: 'sql-box', rows: 4, spellcheck: 'false', placeholder: 'SELECT * FROM …' });
  const run = h('button', { type: 'submit' }, 'Run');
  const out = h('div', { className: 'sql-result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { className: 'sql', 'aria-label': 'SQL query' },
    h('label', { for: 'sql-box' }, 'SQL'),
    box,
    h('div', { className: 'actions' }, run, h('small', { className: 'hint' }, 'Ctrl+Enter runs')),
  );
  const element = h('div', {}, form, out);

  const execute = async () => {
    const db = runtime.db;
    const sql = box.value;
    if (!db) return out.replaceChildren(h('p', { className: 'error', role: 'alert' }, 'No module is running: publish one first.'));
    run.disabled = true;
    try {
      const senderHex = runtime.identity.label === 'owner' ? db.owner.toHexString() : runtime.identity.hex;
      const result = await db.query(sql, { sender: senderHex });
      out.replaceChildren(resultView(result));
    } catch (error) {
      out.replaceChildren(errorView(sql, error));
    } finally {
      run.disabled = false;
    }
  };

  const resultView = (result: SqlResult): HTMLElement => {
    if (result.message !== undefined && result.columns.length === 0) return h('p', { className: 'ok', role: 'status' }, result.message);
    return h(
      'div',
      {},
      h('p', { className: 'hint', role: 'status' }, `${result.rows.length} ${result.rows.length === 1 ? 'row' : 'rows'}`),
      h(
        'table',
        { 'aria-label': 'query result' },
        h('thead', {}, h('tr', {}, ...result.columns.map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          {},
          ...result.rows.map((row) =>
            h(
              'tr',
              {},
              ...result.columns.map((c) => {
                const f = formatValue(row[c], names);
                return h('td', { className: `v-${f.kind}`, title: f.title }, f.text);
              }),
            ),
          ),
        ),
      ),
    );
  };

  const errorView = (sql: string, error: unknown): HTMLElement => {
    const details = ((error as { details?: Record<string, unknown> }).details ?? {}) as { line?: number; column?: number; offset?: number };
    const parts: (HTMLElement | string)[] = [h('p', { className: 'error', role: 'alert' }, errorText(error))];
    if (typeof details.line === 'number' && typeof details.column === 'number') {
      const lineText = sql.split('\n')[details.line - 1] ?? '';
      const caret = `${' '.repeat(Math.max(0, details.column - 1))}^`;
      parts.push(h('pre', { className: 'sql-position', 'aria-label': `error at line ${details.line}, column ${details.column}` }, `${lineText}\n${caret}`));
      if (typeof details.offset === 'number') {
        box.focus();
        box.setSelectionRange(details.offset, Math.min(sql.length, details.offset + 1));
      }
    }
    return h('div', { className: 'sql-error', 'data-line': details.line, 'data-column': details.column }, ...parts);
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void execute();
  });
  box.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void execute();
    }
  });
  runtime.on((event) => {
    if ((event.type === 'connected' || event.type === 'schema') && box.value === '' && event.schema?.tables[0]) box.value = `SELECT * FROM ${event.schema.tables[0].name}`;
  });
  return { element };
}
