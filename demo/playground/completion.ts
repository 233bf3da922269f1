// Completion for SpacetimeDB modules, from the module's own schema rather than a TypeScript
// language service: `t.` offers the type builders of the installed spacetimedb package, a column
// builder (`t.u64().`) its methods, `ctx.` the reducer context, `ctx.db.` the module's tables (read
// from its `schema({ … })`), `ctx.db.<table>.` the table's methods and index accessors (columns
// marked primaryKey/unique/index, named indexes, and what the running module's describe() lists),
// and `ctx.db.<table>.<index>.` that index's methods.
import type { Completion, CompletionContext, CompletionResult } from '@codemirror/autocomplete';
import type { SchemaDescription } from 'lightcone';

export interface Vocabulary {
  builders: readonly string[];
  columnMethods: readonly string[];
}

/** One table as the source declares it. */
export interface SourceTable {
  accessor: string;
  columns: { name: string; type: string; unique: boolean; primaryKey: boolean; indexed: boolean }[];
  indexes: { accessor: string; unique: boolean }[];
}

const CTX: Completion[] = [
  { label: 'db', type: 'property', detail: 'the tables' },
  { label: 'sender', type: 'property', detail: 'Identity of the caller' },
  { label: 'timestamp', type: 'property', detail: 'Timestamp of the call' },
  { label: 'connectionId', type: 'property', detail: 'ConnectionId | null' },
  { label: 'databaseIdentity', type: 'property', detail: 'Identity of this database' },
  { label: 'senderAuth', type: 'property', detail: "the caller's JWT claims" },
  { label: 'random', type: 'property', detail: 'deterministic random numbers' },
  { label: 'newUuidV4', type: 'method', detail: '(): Uuid', apply: 'newUuidV4()' },
  { label: 'newUuidV7', type: 'method', detail: '(): Uuid', apply: 'newUuidV7()' },
  { label: 'withTx', type: 'method', detail: 'procedures: run a transaction', apply: 'withTx((tx) => {})' },
  { label: 'http', type: 'property', detail: 'procedures: HTTP client' },
];

const TABLE_METHODS: Completion[] = [
  { label: 'insert', type: 'method', detail: '(row) → row with auto-increment filled' },
  { label: 'delete', type: 'method', detail: '(row) → boolean' },
  { label: 'count', type: 'method', detail: '() → bigint', apply: 'count()' },
  { label: 'iter', type: 'method', detail: '() → rows', apply: 'iter()' },
];

const UNIQUE_METHODS: Completion[] = [
  { label: 'find', type: 'method', detail: '(value) → row | null' },
  { label: 'update', type: 'method', detail: '(row) → row' },
  { label: 'delete', type: 'method', detail: '(value) → boolean' },
];

const BTREE_METHODS: Completion[] = [
  { label: 'filter', type: 'method', detail: '(value | range) → rows' },
  { label: 'delete', type: 'method', detail: '(value | range) → number' },
];

/** Reads the tables from the module source: `schema({ a, b: c })` and each `const x = table(opts, { cols })`. */
export function tablesOf(source: string): SourceTable[] {
  const schemaAt = source.search(/\bschema\s*\(\s*\{/);
  if (schemaAt < 0) return [];
  const open = source.indexOf('{', schemaAt);
  const body = balanced(source, open);
  if (body === undefined) return [];
  const tables: SourceTable[] = [];
  for (const entry of splitTop(body)) {
    const m = /^\s*([A-Za-z_$][\w$]*)\s*(?::\s*([A-Za-z_$][\w$]*))?\s*$/.exec(entry);
    if (!m) continue;
    const accessor = m[1]!;
    const variable = m[2] ?? accessor;
    tables.push({ accessor, ...tableDefinition(source, variable) });
  }
  return tables;
}

function tableDefinition(source: string, variable: string): Omit<SourceTable, 'accessor'> {
  const at = new RegExp(`\\b(?:const|let|var)\\s+${variable.replace(/\$/g, '\\$')}\\s*=\\s*table\\s*\\(`).exec(source);
  if (!at) return { columns: [], indexes: [] };
  const args = balanced(source, at.index + at[0].length - 1);
  if (args === undefined) return { columns: [], indexes: [] };
  const [options = '', columns = ''] = splitTop(args);
  const cols = splitTop(columns.trim().replace(/^\{|\}$/g, '')).flatMap((c) => {
    const m = /^\s*([A-Za-z_$][\w$]*)\s*:\s*(t\.[\s\S]*)$/.exec(c);
    if (!m) return [];
    const def = m[2]!;
    const type = /^t\.(\w+)/.exec(def)?.[1] ?? '';
    return [{ name: m[1]!, type, unique: /\.unique\(\)/.test(def), primaryKey: /\.primaryKey\(\)/.test(def), indexed: /\.index\(/.test(def) }];
  });
  const indexes: SourceTable['indexes'] = [];
  const idx = /\bindexes\s*:\s*\[/.exec(options);
  if (idx) {
    const list = balanced(options, idx.index + idx[0].length - 1) ?? '';
    for (const def of splitTop(list)) {
      const name = /\b(?:accessor|name)\s*:\s*['"]([^'"]+)['"]/.exec(def)?.[1];
      if (name) indexes.push({ accessor: name, unique: /algorithm\s*:\s*['"]hash['"]/.test(def) && /unique\s*:\s*true/.test(def) });
    }
  }
  return { columns: cols, indexes };
}

/** The text between the bracket at `open` and its match (brackets of any kind nest; strings and comments are skipped). */
function balanced(text: string, open: number): string | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) i = commentEnd(text, i);
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) {
      depth--;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  return undefined;
}

/** The index of the last character of the comment starting at `i` (a line comment to the line's end, or a block comment to its closing mark). */
function commentEnd(text: string, i: number): number {
  if (text[i + 1] === '/') {
    const end = text.indexOf('\n', i);
    return end < 0 ? text.length : end;
  }
  const end = text.indexOf('*/', i + 2);
  return end < 0 ? text.length : end + 1;
}

/** Splits on commas at depth 0 (strings and comments skipped); comments are removed from the parts. */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let part = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') part += text.slice(i, ++i + 1);
      else {
        if (c === quote) quote = undefined;
        part += c;
      }
      continue;
    }
    if (c === '/' && (text[i + 1] === '/' || text[i + 1] === '*')) {
      i = commentEnd(text, i);
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === ',' && depth === 0) {
      out.push(part);
      part = '';
      continue;
    }
    part += c;
  }
  out.push(part);
  return out.filter((s) => s.trim() !== '');
}

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/** The completion source; `schema()` gives the running module's description (for index accessors). */
export function spacetimeCompletions(vocab: Vocabulary, schema: () => SchemaDescription | undefined) {
  const builders: Completion[] = vocab.builders.map((b) => ({ label: b, type: 'function', detail: 't builder', apply: `${b}()` }));
  const columnMethods: Completion[] = vocab.columnMethods.map((m) => ({ label: m, type: 'method', detail: 'column', apply: m === 'index' ? "index('btree')" : `${m}()` }));
  return (context: CompletionContext): CompletionResult | null => {
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const word = /[\w$]*$/.exec(before)![0];
    const from = context.pos - word.length;
    const prefix = before.slice(0, before.length - word.length);
    const result = (options: Completion[]) => (options.length ? { from, options, validFor: /^[\w$]*$/ } : null);
    if (/\bt\.$/.test(prefix)) return result(builders);
    if (/\bt\.\w+\((?:[^()]|\([^()]*\))*\)(?:\.\w+\((?:[^()]|\([^()]*\))*\))*\.$/.test(prefix)) return result(columnMethods);
    const tables = tablesOf(context.state.doc.toString());
    let m = /\b(?:ctx|tx)\.db\.$/.exec(prefix);
    if (m) return result(tables.map((t) => ({ label: t.accessor, type: 'variable', detail: `table, ${t.columns.length} columns` })));
    m = /\b(?:ctx|tx)\.db\.([\w$]+)\.$/.exec(prefix);
    if (m) {
      const table = tables.find((t) => t.accessor === m![1]);
      if (!table) return result(TABLE_METHODS);
      return result([...TABLE_METHODS, ...indexAccessors(table, schema()).map((i) => ({ label: i.accessor, type: 'property', detail: i.unique ? 'unique index' : 'btree index' }))]);
    }
    m = /\b(?:ctx|tx)\.db\.([\w$]+)\.([\w$]+)\.$/.exec(prefix);
    if (m) {
      const table = tables.find((t) => t.accessor === m![1]);
      const index = table && indexAccessors(table, schema()).find((i) => i.accessor === m![2]);
      if (index) return result(index.unique ? UNIQUE_METHODS : BTREE_METHODS);
      return null;
    }
    if (/\b(?:ctx|tx)\.$/.test(prefix)) return result(CTX);
    return null;
  };
}

/** A table's index accessors: columns with primaryKey/unique/index, named indexes, and the running module's. */
export function indexAccessors(table: SourceTable, schema: SchemaDescription | undefined): { accessor: string; unique: boolean }[] {
  const out = new Map<string, boolean>();
  for (const c of table.columns) if (c.primaryKey || c.unique || c.indexed) out.set(c.name, c.primaryKey || c.unique);
  for (const i of table.indexes) out.set(i.accessor, i.unique);
  const described = schema?.tables.find((t) => t.name === table.accessor || t.name === snake(table.accessor));
  for (const i of described?.indexes ?? []) if (i.accessor && !out.has(i.accessor)) out.set(i.accessor, i.unique);
  return [...out].map(([accessor, unique]) => ({ accessor, unique }));
}
