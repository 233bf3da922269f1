// Executes SpacetimeDB's ad-hoc SQL against a database: the AST is checked against the module's
// schema (tables, columns, literal types) and compiled to SQLite over the datastore's encoded
// columns; rows come back as the row's BSATN, decoded with the package's own deserializers.
// DML runs as one transaction through the datastore, so it yields a delta like a reducer.
import type { AlgebraicType as Ty } from 'spacetimedb';
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import { DatastoreError } from '../datastore/datastore-error.ts';
import type { Identity } from 'spacetimedb';
import type { Host } from '../host/host.ts';
import { toIdentity } from '../host/identity.ts';
import { namedSqlError } from './sqlite-errors.ts';
import { SqlError } from '../errors.ts';
import { coerceValue, decodeValue, encodeValue } from '../host/values.ts';
import type { ColumnRef, Literal, Operand, Predicate, SelectStatement, Statement, SubscriptionQuery, TableRef } from './ast.ts';
import { integerValue } from './numeric-literal.ts';
import { parseSql, parseSubscriptionQuery } from './parser.ts';
import { encodeLiteral, literalJs, litText } from './literals.ts';

/** What SQL needs of a database: its host (schema, datastore, module) and owner. */
export interface SqlContext {
  readonly host: Host;
  readonly owner: Identity;
}

/** Options of one SQL call. */
export interface SqlOptions {
  /** Who runs the query (hex identity); defaults to the owner, who sees every table. */
  sender?: string;
}

/** Rows with their column names in order (a result of `db.query`). */
export interface SqlResult {
  columns: string[];
  rows: Record<string, unknown>[];
  /** For DML: what changed (`3 rows updated`). */
  message?: string;
}

interface Rel {
  alias: string;
  table: StoreTable;
  sqlAlias: string;
}

interface Compiled {
  sql: string;
  bind: SqlValue[];
}

/** Parses, checks and runs one statement. */
export function executeSql(engine: SqlContext, query: string, opts: SqlOptions = {}): SqlResult {
  try {
    const stmt = parseSql(query);
    const sender = opts.sender !== undefined ? toIdentity(opts.sender, 'sender').__identity__ : engine.owner.__identity__;
    const isOwner = sender === engine.owner.__identity__;
    return new Executor(engine, query, sender, isOwner).run(stmt);
  } catch (e) {
    throw namedSqlError(e);
  }
}

class Executor {
  readonly #engine: SqlContext;
  readonly #query: string;
  readonly #sender: bigint;
  readonly #isOwner: boolean;
  #rels: Rel[] = [];
  /** Prefix of SQLite aliases, distinct for nested compilations (RLS rules inside a query). */
  #aliasPrefix = 'r';

  constructor(engine: SqlContext, query: string, sender: bigint, isOwner: boolean) {
    this.#engine = engine;
    this.#query = query;
    this.#sender = sender;
    this.#isOwner = isOwner;
  }

  run(stmt: Statement): SqlResult {
    switch (stmt.kind) {
      case 'select':
        return this.#withViews(stmt, () => this.#select(stmt));
      case 'insert':
      case 'update':
      case 'delete':
        if (!this.#isOwner) throw new SqlError('PERMISSION_DENIED', `only the database owner may run ${stmt.kind.toUpperCase()}; read with SELECT or call a reducer`);
        return this.#dml(stmt);
      case 'set':
      case 'show':
        throw new SqlError('UNSUPPORTED', `${stmt.kind.toUpperCase()} is not supported by Lightcone yet`, { construct: stmt.kind.toUpperCase() });
    }
  }

  #table(ref: TableRef): StoreTable {
    const t = this.#engine.host.datastore.tableByName(ref.name);
    if (!t) {
      const names = this.#engine.host.datastore.tables.map((x) => x.def.canonicalName).join(', ');
      throw new SqlError('UNKNOWN_TABLE', `no such table: ${ref.name} (tables: ${names || 'none'})`, { table: ref.name });
    }
    if (!t.def.isPublic && !this.#isOwner) throw new SqlError('PERMISSION_DENIED', `table ${ref.name} is private: only the owner can read it`, { table: ref.name });
    return t;
  }

  #bindRels(from: TableRef, joins: readonly { table: TableRef }[]): void {
    this.#rels = [from, ...joins.map((j) => j.table)].map((ref, i) => ({ alias: ref.alias, table: this.#table(ref), sqlAlias: `${this.#aliasPrefix}${i}` }));
    const seen = new Set<string>();
    for (const r of this.#rels) {
      if (seen.has(r.alias)) throw new SqlError('DUPLICATE_ALIAS', `${r.alias} appears twice in FROM/JOIN: give one of them an alias (JOIN ${r.table.def.canonicalName} AS other)`);
      seen.add(r.alias);
    }
  }

  #column(ref: ColumnRef): { rel: Rel; col: number } {
    const rels = ref.table === null ? this.#rels : this.#rels.filter((r) => r.alias === ref.table);
    if (rels.length === 0) throw new SqlError('UNKNOWN_TABLE', `${ref.table} in ${ref.table}.${ref.column} is not a table of this query`, { table: ref.table });
    for (const rel of rels) {
      const col = rel.table.def.columns.findIndex((c) => c.canonicalName === ref.column || c.name === ref.column);
      if (col >= 0) return { rel, col };
    }
    const t = rels[0]!.table.def;
    throw new SqlError('UNKNOWN_COLUMN', `table ${t.canonicalName} has no column ${ref.column} (columns: ${t.columns.map((c) => c.canonicalName).join(', ')})`, { column: ref.column });
  }

  #sqlCol(rel: Rel, col: number, what: string): string {
    const c = rel.table.sqlCols[col];
    if (c === undefined) {
      throw new SqlError('NOT_COMPARABLE', `${what}: column ${rel.table.def.columns[col]?.canonicalName} of type ${rel.table.codecs[col]?.typeName} cannot be compared in SQL`);
    }
    return `${rel.sqlAlias}.${c}`;
  }

  // ---- predicates ----------------------------------------------------------------------------

  #pred(p: Predicate, out: Compiled): string {
    switch (p.kind) {
      case 'and':
        return `(${p.clauses.map((c) => this.#pred(c, out)).join(' AND ')})`;
      case 'or':
        return `(${p.clauses.map((c) => this.#pred(c, out)).join(' OR ')})`;
      case 'not':
        return `(NOT ${this.#pred(p.clause, out)})`;
      case 'value':
        if (p.operand.kind === 'bool') return p.operand.value ? '1' : '0';
        if (p.operand.kind === 'column') {
          const { rel, col } = this.#column(p.operand);
          if (rel.table.codecs[col]!.scalar !== 'Bool') throw new SqlError('TYPE_MISMATCH', `${p.operand.column} is not a bool and cannot be a condition by itself`);
          return `(${this.#sqlCol(rel, col, 'WHERE')} = 1)`;
        }
        throw new SqlError('TYPE_MISMATCH', 'a condition must compare a column with a value');
      case 'compare': {
        const op = { eq: '=', ne: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' }[p.op];
        const l = p.left;
        const r = p.right;
        if (l.kind === 'column' && r.kind === 'column') {
          const a = this.#column(l);
          const b = this.#column(r);
          const ta = a.rel.table.codecs[a.col]!;
          const tb = b.rel.table.codecs[b.col]!;
          if (ta.typeName !== tb.typeName) {
            throw new SqlError('TYPE_MISMATCH', `cannot compare ${l.column} (${ta.typeName}) with ${r.column} (${tb.typeName})`);
          }
          return `${this.#sqlCol(a.rel, a.col, 'comparison')} ${op} ${this.#sqlCol(b.rel, b.col, 'comparison')}`;
        }
        if (l.kind === 'column' || r.kind === 'column') {
          const colRef = (l.kind === 'column' ? l : r) as ColumnRef;
          const value = (l.kind === 'column' ? r : l) as Literal | Operand;
          const flipped = l.kind !== 'column';
          const { rel, col } = this.#column(colRef);
          const sqlCol = this.#sqlCol(rel, col, 'comparison');
          out.bind.push(encodeLiteral(this.#engine.host, rel.table, col, value, this.#sender));
          const fop = flipped ? ({ '<': '>', '<=': '>=', '>': '<', '>=': '<=' } as Record<string, string>)[op] ?? op : op;
          return `${sqlCol} ${fop} ?`;
        }
        throw new SqlError('UNSUPPORTED', 'a comparison needs at least one column', { construct: 'literal comparison' });
      }
    }
  }

  // ---- SELECT --------------------------------------------------------------------------------

  #select(s: SelectStatement): SqlResult {
    this.#bindRels(s.from, s.joins);
    const c: Compiled = { sql: '', bind: [] };
    const from = this.#rels.map((r, i) => {
      const src = `${this.#source(r.table, c)} AS ${r.sqlAlias}`;
      if (i === 0) return src;
      const on = s.joins[i - 1]!.on;
      return `JOIN ${src}${on ? ` ON ${this.#pred(on, c)}` : ''}`;
    });
    const where = s.where ? ` WHERE ${this.#pred(s.where, c)}` : '';
    const limitV = s.limit ? integerValue(s.limit) : null;
    if (s.limit && (limitV === null || limitV < 0n || limitV > U64_MAX)) throw new SqlError('BAD_LIMIT', `LIMIT takes an integer from 0 to ${U64_MAX}, got ${s.limit.text}`);
    // SpacetimeDB's LIMIT is a u64, SQLite's an i64: beyond i64 both mean "every row".
    const limit = limitV !== null ? ` LIMIT ${limitV > I64_MAX ? I64_MAX : limitV}` : '';
    const db = this.#engine.host.datastore.sqlite.db;
    if (s.projection.kind === 'count') {
      const n = db.selectValue(`SELECT count(*) FROM (SELECT 1 FROM ${from.join(' ')}${where}${limit})`, c.bind.length ? c.bind : undefined);
      return { columns: [s.projection.alias], rows: [{ [s.projection.alias]: BigInt(n as number | bigint) }] };
    }
    let outRels: Rel[];
    let columns: { name: string; rel: Rel; col: number }[];
    const proj = s.projection;
    if (proj.kind === 'star') {
      if (proj.table === null && this.#rels.length > 1) {
        throw new SqlError('UNSUPPORTED', 'SELECT * over a join: select one table\'s rows with t.* or name the columns', { construct: 'SELECT * with JOIN' });
      }
      const rel = proj.table === null ? this.#rels[0]! : this.#rels.find((r) => r.alias === proj.table);
      if (!rel) throw new SqlError('UNKNOWN_TABLE', `${proj.table}.* names no table of this query`);
      outRels = [rel];
      columns = rel.table.def.columns.map((cd, i) => ({ name: cd.canonicalName, rel, col: i }));
    } else {
      columns = proj.columns.map((pc) => {
        const { rel, col } = this.#column(pc.column);
        return { name: pc.alias === pc.column.column ? rel.table.def.columns[col]!.canonicalName : pc.alias, rel, col };
      });
      outRels = [...new Set(columns.map((x) => x.rel))];
      const seen = new Set<string>();
      for (const c of columns) {
        if (seen.has(c.name)) throw new SqlError('DUPLICATE_NAME', `the result has two columns named ${c.name}: give one of them an alias (… AS other_${c.name})`, { column: c.name });
        seen.add(c.name);
      }
    }
    const sql = `SELECT ${outRels.map((r) => `${r.sqlAlias}._row`).join(', ')} FROM ${from.join(' ')}${where}${limit}`;
    if (this.rawRows) {
      this.rawRows.length = 0;
      const st = db.prepare(sql);
      try {
        if (c.bind.length) st.bind(c.bind);
        while (st.step()) this.rawRows.push(st.get(0) as Uint8Array);
      } finally {
        st.finalize();
      }
      return { columns: [], rows: [] };
    }
    const rows: Record<string, unknown>[] = [];
    const ts = this.#engine.host.schema.typespace;
    const stmt = db.prepare(sql);
    try {
      if (c.bind.length) stmt.bind(c.bind);
      while (stmt.step()) {
        const decoded = outRels.map((r, i) => decodeValue(rowTy(r.table), stmt.get(i) as Uint8Array, ts) as Record<string, unknown>);
        const row: Record<string, unknown> = {};
        for (const col of columns) row[col.name] = decoded[outRels.indexOf(col.rel)]![col.rel.table.def.columns[col.col]!.name];
        rows.push(row);
      }
    } finally {
      stmt.finalize();
    }
    return { columns: columns.map((x) => x.name), rows };
  }

  // ---- row-level security --------------------------------------------------------------------

  /**
   * The SQLite source for a table: the table itself, or for a client other than the owner and a
   * table with `clientVisibilityFilter` rules, only the rows some rule returns (rules OR'ed).
   */
  #source(table: StoreTable, c: Compiled): string {
    if (this.#isOwner || table.def.view) return table.sqlName;
    const rules = rulesFor(this.#engine, table);
    if (rules.length === 0) return table.sqlName;
    const parts = rules.map((rule, k) => {
      const inner = new Executor(this.#engine, rule.sql, this.#sender, true);
      inner.#aliasPrefix = `${this.#aliasPrefix}${k}x`;
      const compiled = inner.compileRowIds(rule.stmt);
      for (const b of compiled.bind) c.bind.push(b); // no spread: a rule may bind any number of literals
      return `_rid IN (${compiled.sql})`;
    });
    return `(SELECT * FROM ${table.sqlName} WHERE ${parts.join(' OR ')})`;
  }

  /** Compiles a subscription-dialect query to `SELECT <returned relation>._rid …` (for RLS). */
  compileRowIds(s: SubscriptionQuery): Compiled {
    this.#bindRels(s.from, s.joins);
    const c: Compiled = { sql: '', bind: [] };
    const from = this.#rels.map((r, i) => {
      const src = `${r.table.sqlName} AS ${r.sqlAlias}`;
      if (i === 0) return src;
      const on = s.joins[i - 1]!.on;
      return `JOIN ${src} ON ${this.#pred(on, c)}`;
    });
    const where = s.where ? ` WHERE ${this.#pred(s.where, c)}` : '';
    const ret = this.#rels.find((r) => r.alias === s.returns.alias)!;
    return { sql: `SELECT ${ret.sqlAlias}._rid FROM ${from.join(' ')}${where}`, bind: c.bind };
  }

  // ---- views ---------------------------------------------------------------------------------

  /** When set, SELECT collects the returned relation's BSATN rows here instead of decoding them. */
  rawRows: Uint8Array[] | undefined;

  /**
   * Runs `f` with every view the statement reads materialized into its datastore table, inside a
   * transaction that is rolled back afterwards (views are computed, never stored).
   */
  #withViews<T>(s: SelectStatement, f: () => T): T {
    const ds = this.#engine.host.datastore;
    const views = [...new Set([s.from, ...s.joins.map((j) => j.table)].map((r) => ds.tableByName(r.name)).filter((t) => t?.def.view))] as StoreTable[];
    if (views.length === 0) return f();
    const own = !ds.inTransaction;
    if (own) ds.begin();
    try {
      for (const t of views) materializeView(this.#engine, t, this.#sender);
      return f();
    } finally {
      if (own) ds.rollback();
    }
  }

  // ---- DML -----------------------------------------------------------------------------------

  #dml(stmt: Statement & { kind: 'insert' | 'update' | 'delete' }): SqlResult {
    const table = this.#table(stmt.table);
    this.#rels = [{ alias: stmt.table.alias, table, sqlAlias: 'r0' }];
    const ts = this.#engine.host.schema.typespace;
    const def = table.def;
    const ds = this.#engine.host.datastore;
    const matching = (where: Predicate | null): Uint8Array[] => {
      const c: Compiled = { sql: '', bind: [] };
      const w = where ? ` WHERE ${this.#pred(where, c)}` : '';
      const st = ds.sqlite.db.prepare(`SELECT r0._row FROM ${table.sqlName} AS r0${w}`);
      const out: Uint8Array[] = [];
      try {
        if (c.bind.length) st.bind(c.bind);
        while (st.step()) out.push(st.get(0) as Uint8Array);
      } finally {
        st.finalize();
      }
      return out;
    };
    const coerceLit = (col: number, lit: Literal): unknown => {
      const cd = def.columns[col]!;
      try {
        return coerceValue(cd.type, literalJs(lit, table.codecs[col]!.scalar, this.#sender), cd.canonicalName, ts);
      } catch (e) {
        throw new SqlError('TYPE_MISMATCH', `${litText(lit)} is not a valid ${table.codecs[col]!.typeName} for column ${cd.canonicalName}`, { column: cd.canonicalName, cause: (e as Error).message });
      }
    };
    let count = 0;
    const verb = stmt.kind === 'insert' ? 'inserted' : stmt.kind === 'update' ? 'updated' : 'deleted';
    this.#engine.host.runSystemTransaction(`sql ${stmt.kind}`, this.#sender, () => {
      try {
        if (stmt.kind === 'insert') {
          const cols = stmt.columns ? stmt.columns.map((c) => this.#column(c).col) : def.columns.map((_, i) => i);
          const missing = def.columns.filter((_, i) => !cols.includes(i));
          if (missing.length) throw new SqlError('MISSING_COLUMNS', `INSERT INTO ${def.canonicalName} must give every column; missing: ${missing.map((m) => m.canonicalName).join(', ')}`);
          for (const row of stmt.rows) {
            if (row.length !== cols.length) throw new SqlError('BAD_INSERT', `INSERT row has ${row.length} values for ${cols.length} columns`);
            const obj: Record<string, unknown> = {};
            cols.forEach((c, i) => (obj[def.columns[c]!.name] = coerceLit(c, row[i]!)));
            ds.insert(table, encodeValue(rowTy(table), obj, ts));
            count++;
          }
        } else if (stmt.kind === 'delete') {
          count = ds.deleteByRows(table, matching(stmt.where));
        } else {
          const sets = stmt.assignments.map((a) => {
            const col = this.#column(a.column).col;
            return { name: def.columns[col]!.name, value: coerceLit(col, a.value) };
          });
          const rows = matching(stmt.where);
          ds.deleteByRows(table, rows);
          for (const old of rows) {
            const obj = decodeValue(rowTy(table), old, ts) as Record<string, unknown>;
            for (const s of sets) obj[s.name] = s.value;
            ds.insert(table, encodeValue(rowTy(table), obj, ts));
            count++;
          }
        }
      } catch (e) {
        if (e instanceof DatastoreError) throw new SqlError('CONSTRAINT', `${stmt.kind.toUpperCase()} failed, nothing was changed: ${e.message}`, { errno: e.errno });
        throw e;
      }
    });
    return { columns: [], rows: [], message: `${count} row${count === 1 ? '' : 's'} ${verb}` };
  }
}

const rowTypes = new WeakMap<StoreTable, Ty>();
function rowTy(t: StoreTable): Ty {
  let ty = rowTypes.get(t);
  if (!ty) {
    ty = { tag: 'Product', value: t.def.rowType } as Ty;
    rowTypes.set(t, ty);
  }
  return ty;
}



/**
 * Computes a view for `sender` into its datastore table (inside the open transaction): calls the
 * view, evaluates the SQL a query-builder view returns (bypassing RLS, as SpacetimeDB does), and
 * refuses duplicate primary keys. Returns the tables the view read.
 */
export function materializeView(engine: SqlContext, table: StoreTable, sender: bigint): Set<string> {
  const host = engine.host;
  const view = table.def.view!;
  let out;
  try {
    out = host.callView(view, sender);
  } catch (e) {
    throw new SqlError('VIEW_FAILED', (e as Error).message, { view: view.name });
  }
  let rows: Uint8Array[];
  const reads = out.reads;
  if (out.result.kind === 'rows') {
    rows = out.result.rows;
  } else {
    const inner = new Executor(engine, out.result.sql, sender, true);
    inner.rawRows = [];
    const stmt = parseSubscriptionQuery(out.result.sql);
    inner.run(stmt);
    rows = inner.rawRows;
    for (const r of [stmt.from, ...stmt.joins.map((j) => j.table)]) reads.add(host.datastore.tableByName(r.name)?.def.name ?? r.name);
  }
  const ds = host.datastore;
  ds.clear(table);
  const dup = (detail: string) =>
    new SqlError('VIEW_DUPLICATE_KEY', `view ${view.name} returned two rows with the same primary key (${detail}); a view with a primary key must return each key once`, { view: view.name });
  for (const row of rows) {
    const before = table.count;
    try {
      ds.insert(table, row);
    } catch (e) {
      if (e instanceof DatastoreError && e.errno === 12) throw dup(e.message.replace(/^[^:]*: /, ''));
      throw e;
    }
    // An identical row is a no-op for a table; for a view with a primary key it is still a repeated key.
    if (table.count === before && view.primaryKey !== undefined) throw dup('the same row twice');
  }
  return reads;
}

/**
 * Evaluates a view for `sender` outside any transaction: its rows (BSATN) and its read set (the
 * tables it read), for subscriptions that re-run a view only when what it read changed.
 */
export function evaluateView(engine: SqlContext, viewName: string, sender: bigint): { rows: Uint8Array[]; reads: Set<string> } {
  const ds = engine.host.datastore;
  const table = ds.tableByName(viewName);
  if (!table?.def.view) throw new SqlError('UNKNOWN_VIEW', `no such view: ${viewName}`, { view: viewName });
  ds.begin();
  try {
    const reads = materializeView(engine, table, sender);
    return { rows: ds.scanAll(table), reads };
  } finally {
    ds.rollback();
  }
}

interface Rule {
  sql: string;
  stmt: SubscriptionQuery;
  table: string;
}
const rulesCache = new WeakMap<object, Rule[]>();

/** The module's RLS rules, parsed once per module instance. */
function allRules(engine: SqlContext): Rule[] {
  const host = engine.host;
  let rules = rulesCache.get(host);
  if (!rules) {
    rules = host.schema.rls.map((sql) => {
      const stmt = parseSubscriptionQuery(sql);
      const t = host.datastore.tableByName(stmt.returns.name);
      return { sql, stmt, table: t?.def.name ?? stmt.returns.name };
    });
    rulesCache.set(host, rules);
  }
  return rules;
}

function rulesFor(engine: SqlContext, table: StoreTable): Rule[] {
  return allRules(engine).filter((r) => r.table === table.def.name);
}

/**
 * Checks every row-level-security rule of the module against its schema (tables, columns,
 * literal types) without reading data. Throws SqlError naming the rule's text when one is invalid.
 */
export function validateRules(engine: SqlContext): void {
  for (const sql of engine.host.schema.rls) {
    try {
      const stmt = parseSubscriptionQuery(sql);
      new Executor(engine, sql, engine.owner.__identity__, true).compileRowIds(stmt);
    } catch (e) {
      throw new SqlError('INVALID_RLS_RULE', `row-level security rule ${JSON.stringify(sql)} is invalid: ${(e as Error).message}`, { rule: sql });
    }
  }
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

