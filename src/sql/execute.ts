// Executes SpacetimeDB's ad-hoc SQL against a database: the AST is bound against the module's
// schema by the one SQL binder (bind.ts: tables, columns, literal types, access; rls.ts: row-level
// security) and compiled to SQLite over the datastore's encoded columns; rows come back as the
// row's BSATN (rebuilt from its columns), decoded with the package's own deserializers.
// DML runs as one transaction through the datastore, so it yields a delta like a reducer.
import type { AlgebraicType as Ty, Identity } from 'spacetimedb';
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import { DatastoreError, Errno } from '../datastore/datastore-error.ts';
import { rowColumnsSql } from '../datastore/layout.ts';
import { SqlError } from '../errors.ts';
import type { Host } from '../host/host.ts';
import { toIdentity } from '../host/identity.ts';
import { coerceValue, decodeValue, encodeValue } from '../host/values.ts';
import type { Literal, Predicate, SelectStatement, Statement, TableRef } from './ast.ts';
import { predicateSql, Scope, type BindContext } from './bind.ts';
import { literalJs, litText } from './literals.ts';
import { integerValue } from './numeric-literal.ts';
import { parseSql, parseSubscriptionQuery } from './parser.ts';
import { rlsSource, ruleRelations } from './rls.ts';
import { namedSqlError } from './sqlite-errors.ts';

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
  /**
   * For SELECT: each column's type, in column order, with every Ref resolved (a recursive type
   * keeps its Ref), as plain data that survives structured clone (for SATS-JSON over HTTP).
   */
  columnTypes?: Ty[];
  /** For DML: what changed (`3 rows updated`). */
  message?: string;
  /** For DML: the rows it changed, as SpacetimeDB's `/sql` reports them. */
  stats?: SqlStats;
}

/** Rows a DML statement changed (an UPDATE counts each row it rewrote as updated). */
export interface SqlStats {
  rows_inserted: number;
  rows_deleted: number;
  rows_updated: number;
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
    return new Executor(engine, sender, isOwner).run(stmt);
  } catch (e) {
    throw namedSqlError(e);
  }
}

class Executor {
  readonly #engine: SqlContext;
  readonly #sender: bigint;
  readonly #isOwner: boolean;
  /** The relations of the statement being compiled. */
  #scope!: Scope;
  /** Prefix of SQLite aliases, distinct for nested compilations (RLS rules inside a query). */
  #aliasPrefix = 'r';

  constructor(engine: SqlContext, sender: bigint, isOwner: boolean) {
    this.#engine = engine;
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

  #ctx(): BindContext {
    return { host: this.#engine.host, sender: this.#sender, access: this.#isOwner ? 'owner' : 'client' };
  }

  /** Binds the statement's relations (FROM, then each JOIN). */
  #bindRels(refs: readonly TableRef[]): Scope {
    this.#scope = new Scope(this.#ctx(), refs);
    return this.#scope;
  }

  /** `alias.column` of a bound column in the generated SQLite (refusing columns SQL cannot compare). */
  #sqlCol(rel: number, col: number): string {
    return `${this.#alias(rel)}.${this.#scope.table(rel).sqlCols[col]!}`;
  }

  #alias(rel: number): string {
    return `${this.#aliasPrefix}${rel}`;
  }

  /** A bound WHERE/ON clause as SQLite, its literals appended to `out.bind`. */
  #pred(p: Predicate, out: Compiled): string {
    return predicateSql(this.#scope.predicate(p), (rel, col) => this.#sqlCol(rel, col), out.bind);
  }

  // ---- SELECT --------------------------------------------------------------------------------

  #select(s: SelectStatement): SqlResult {
    const scope = this.#bindRels([s.from, ...s.joins.map((j) => j.table)]);
    const c: Compiled = { sql: '', bind: [] };
    const from = scope.rels.map((r, i) => {
      const src = `${this.#source(r.table, i, c)} AS ${this.#alias(i)}`;
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
      return { columns: [s.projection.alias], rows: [{ [s.projection.alias]: BigInt(n as number | bigint) }], columnTypes: [{ tag: 'U64' }] };
    }
    let outRels: number[];
    let columns: { name: string; rel: number; col: number }[];
    const proj = s.projection;
    if (proj.kind === 'star') {
      if (proj.table === null && scope.rels.length > 1) {
        throw new SqlError('UNSUPPORTED', "SELECT * over a join: select one table's rows with t.* or name the columns", { construct: 'SELECT * with JOIN' });
      }
      const rel = proj.table === null ? 0 : scope.relation(proj.table);
      outRels = [rel];
      columns = scope.table(rel).def.columns.map((cd, i) => ({ name: cd.canonicalName, rel, col: i }));
    } else {
      columns = proj.columns.map((pc) => {
        const { rel, col } = scope.column(pc.column);
        return { name: pc.alias === pc.column.column ? scope.table(rel).def.columns[col]!.canonicalName : pc.alias, rel, col };
      });
      outRels = [...new Set(columns.map((x) => x.rel))];
      const seen = new Set<string>();
      for (const c of columns) {
        if (seen.has(c.name)) throw new SqlError('DUPLICATE_NAME', `the result has two columns named ${c.name}: give one of them an alias (… AS other_${c.name})`, { column: c.name });
        seen.add(c.name);
      }
    }
    const sql = `SELECT ${outRels.map((r) => rowColumnsSql(scope.table(r), this.#alias(r))).join(', ')} FROM ${from.join(' ')}${where}${limit}`;
    // Each returned relation's columns start where the previous one's end.
    const firsts: number[] = [];
    let first = 0;
    for (const r of outRels) {
      firsts.push(first);
      first += scope.table(r).codecs.length;
    }
    const ds = this.#engine.host.datastore;
    if (this.rawRows) {
      this.rawRows.length = 0;
      const st = db.prepare(sql);
      try {
        if (c.bind.length) st.bind(c.bind);
        while (st.step()) this.rawRows.push(ds.readRow(st, 0, scope.table(outRels[0]!)));
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
        const decoded = outRels.map((r, i) => decodeValue(rowTy(scope.table(r)), ds.readRow(stmt, firsts[i]!, scope.table(r)), ts) as Record<string, unknown>);
        const row: Record<string, unknown> = {};
        for (const col of columns) row[col.name] = decoded[outRels.indexOf(col.rel)]![scope.table(col.rel).def.columns[col.col]!.name];
        rows.push(row);
      }
    } finally {
      stmt.finalize();
    }
    const columnTypes = columns.map((x) => plainType(scope.table(x.rel).def.columns[x.col]!.type, ts));
    return { columns: columns.map((x) => x.name), rows, columnTypes };
  }

  // ---- row-level security --------------------------------------------------------------------

  /**
   * The SQLite source for relation `rel`: its table, or for a client other than the owner and a
   * table with `clientVisibilityFilter` rules, only the rows some rule returns (rules OR'ed).
   */
  #source(table: StoreTable, rel: number, c: Compiled): string {
    if (this.#isOwner) return table.sqlName;
    return rlsSource(table, ruleRelations(this.#engine.host, table, this.#sender), `${this.#alias(rel)}x`, c.bind);
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
    const scope = this.#bindRels([stmt.table]);
    const table = scope.table(0);
    const ts = this.#engine.host.schema.typespace;
    const def = table.def;
    const ds = this.#engine.host.datastore;
    const matching = (where: Predicate | null): Uint8Array[] => {
      const c: Compiled = { sql: '', bind: [] };
      const w = where ? ` WHERE ${this.#pred(where, c)}` : '';
      const st = ds.sqlite.db.prepare(`SELECT ${rowColumnsSql(table, 'r0')} FROM ${table.sqlName} AS r0${w}`);
      const out: Uint8Array[] = [];
      try {
        if (c.bind.length) st.bind(c.bind);
        while (st.step()) out.push(ds.readRow(st, 0, table));
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
          const cols = stmt.columns ? stmt.columns.map((c) => scope.column(c).col) : def.columns.map((_, i) => i);
          const missing = def.columns.filter((_, i) => !cols.includes(i));
          if (missing.length) throw new SqlError('MISSING_COLUMNS', `INSERT INTO ${def.canonicalName} must give every column; missing: ${missing.map((m) => m.canonicalName).join(', ')}`);
          for (const row of stmt.rows) {
            if (row.length !== cols.length) throw new SqlError('BAD_INSERT', `INSERT row has ${row.length} values for ${cols.length} columns`);
            const obj: Record<string, unknown> = {};
            cols.forEach((c, i) => {
              obj[def.columns[c]!.name] = coerceLit(c, row[i]!);
            });
            ds.insertGenerated(table, encodeValue(rowTy(table), obj, ts));
            count++;
          }
        } else if (stmt.kind === 'delete') {
          count = ds.deleteByRows(table, matching(stmt.where));
        } else {
          const sets = stmt.assignments.map((a) => {
            const col = scope.column(a.column).col;
            return { name: def.columns[col]!.name, value: coerceLit(col, a.value) };
          });
          const rows = matching(stmt.where);
          ds.deleteByRows(table, rows);
          for (const old of rows) {
            const obj = decodeValue(rowTy(table), old, ts) as Record<string, unknown>;
            for (const s of sets) obj[s.name] = s.value;
            ds.insertGenerated(table, encodeValue(rowTy(table), obj, ts));
            count++;
          }
        }
      } catch (e) {
        if (e instanceof DatastoreError) throw new SqlError('CONSTRAINT', `${stmt.kind.toUpperCase()} failed, nothing was changed: ${e.message}`, { errno: e.errno });
        throw e;
      }
    });
    const stats: SqlStats = { rows_inserted: 0, rows_deleted: 0, rows_updated: 0 };
    stats[`rows_${verb}`] = count;
    return { columns: [], rows: [], message: `${count} row${count === 1 ? '' : 's'} ${verb}`, stats };
  }
}

/** `ty` with every Ref resolved (a Ref back into a type being resolved stays), as fresh plain objects. */
function plainType(ty: Ty, ts: { types: Ty[] }, resolving: readonly number[] = []): Ty {
  switch (ty.tag) {
    case 'Ref': {
      const target = ts.types[ty.value];
      if (!target || resolving.includes(ty.value)) return { tag: 'Ref', value: ty.value };
      return plainType(target, ts, [...resolving, ty.value]);
    }
    case 'Array':
      return { tag: 'Array', value: plainType(ty.value, ts, resolving) };
    case 'Product':
      return { tag: 'Product', value: { elements: ty.value.elements.map((e) => ({ name: e.name, algebraicType: plainType(e.algebraicType, ts, resolving) })) } };
    case 'Sum':
      return { tag: 'Sum', value: { variants: ty.value.variants.map((v) => ({ name: v.name, algebraicType: plainType(v.algebraicType, ts, resolving) })) } };
    default:
      return { tag: ty.tag } as Ty;
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
  let out: ReturnType<Host['callView']>;
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
    const inner = new Executor(engine, sender, true);
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
      ds.insertGenerated(table, row);
    } catch (e) {
      if (e instanceof DatastoreError && e.errno === Errno.UNIQUE_ALREADY_EXISTS) throw dup(e.message.replace(/^[^:]*: /, ''));
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

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;
