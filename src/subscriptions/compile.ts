// Compiles one query of SpacetimeDB's subscription dialect against the module schema, once: it
// resolves tables and columns, enforces the dialect's rules (indexed join columns, event tables
// never on the lookup side, private tables for the owner only), encodes literals in stored form,
// and derives the keys that let identical queries share one evaluation and queries differing
// only in an equality literal share one group.
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import { SqlError } from '../errors.ts';
import type { Host } from '../host/host.ts';
import type { ColumnRef, Operand, Predicate, TableRef } from '../sql/ast.ts';
import { encodeLiteral } from '../sql/literals.ts';
import { parseSubscriptionQuery } from '../sql/parser.ts';
import { and, conjuncts, predicateSql, predicateText, TRUE, type Pred, type Side } from './predicate.ts';
import { keyOf, valueText, type KeyValue } from './stored-values.ts';

/** Who subscribes: `:sender` binds to `sender`; private tables need `isOwner`. */
export interface CompileContext {
  sender: bigint;
  isOwner: boolean;
}

/** The equality `side.col = value` a query is grouped by (the first one among its top-level conjuncts). */
export interface GroupKey {
  readonly side: Side;
  readonly col: number;
  readonly value: SqlValue;
  readonly mapKey: KeyValue;
}

/** A subscription query checked and compiled against the schema. */
export interface CompiledQuery {
  /** The SQL as given. */
  readonly sql: string;
  /** `[from]` or `[from, join]`. */
  readonly tables: readonly [StoreTable] | readonly [StoreTable, StoreTable];
  /** Join columns: of the FROM table, then of the JOIN table. */
  readonly joinCols: readonly [number, number] | undefined;
  /** Whose rows the query returns. */
  readonly returns: Side;
  /** The FROM table is an event table: results are inserts of the transaction only, never cached. */
  readonly transient: boolean;
  /** The whole WHERE clause. */
  readonly where: Pred;
  /** The grouping equality, if the WHERE has one at top level. */
  readonly key: GroupKey | undefined;
  /** `where` without the grouping equality. */
  readonly rest: Pred;
  /** Equal for queries that differ at most in the grouping literal. */
  readonly shapeKey: string;
  /** Equal for identical queries (same shape and literal). */
  readonly planKey: string;
}

/**
 * Parses and checks one subscription query. Throws SqlError: PARSE_ERROR and UNSUPPORTED from
 * the parser; UNKNOWN_TABLE, UNKNOWN_COLUMN, PERMISSION_DENIED, TYPE_MISMATCH, NOT_COMPARABLE,
 * UNINDEXED_JOIN, EVENT_TABLE_LOOKUP, and UNSUPPORTED for views and row-level security (not yet).
 *
 * @example
 * const q = compileQuery(host, 'SELECT * FROM message WHERE room_id = 5', { sender, isOwner: true });
 * q.key?.value; // 5 (stored form)
 */
export function compileQuery(host: Host, sql: string, ctx: CompileContext): CompiledQuery {
  const ast = parseSubscriptionQuery(sql);
  const join = ast.joins[0];
  const refs: TableRef[] = join ? [ast.from, join.table] : [ast.from];
  const tables = refs.map((r) => resolveTable(host, r, ctx));
  const scope = new Scope(host, refs, tables, ctx.sender);

  let joinCols: readonly [number, number] | undefined;
  if (join) {
    const l = scope.column(join.on.left);
    const r = scope.column(join.on.right);
    const ends = l.side === 0 ? ([l, r] as const) : ([r, l] as const);
    for (const e of ends) {
      const t = tables[e.side]!;
      if (t.sqlCols[e.col] === undefined) {
        throw new SqlError('NOT_COMPARABLE', `cannot join on ${columnName(t, e.col)}: its type ${t.codecs[e.col]!.typeName} cannot be compared`, { column: columnName(t, e.col) });
      }
      if (!isIndexed(t, e.col)) {
        throw new SqlError(
          'UNINDEXED_JOIN',
          `Subscriptions require indexes on join columns: ${columnName(t, e.col)} has no index. Add .index('btree') to it in the module, or join on indexed columns`,
          { table: t.def.canonicalName, column: t.def.columns[e.col]!.canonicalName },
        );
      }
    }
    const [a, b] = ends;
    const ta = tables[0]!.codecs[a.col]!.typeName;
    const tb = tables[1]!.codecs[b.col]!.typeName;
    if (ta !== tb) throw new SqlError('TYPE_MISMATCH', `cannot join ${columnName(tables[0]!, a.col)} (${ta}) with ${columnName(tables[1]!, b.col)} (${tb}): the join columns must have the same type`);
    if (tables[1]!.def.isEvent) {
      throw new SqlError(
        'EVENT_TABLE_LOOKUP',
        `Event tables cannot be used as the lookup table in subscription joins: ${tables[1]!.def.canonicalName} is an event table. Put it first (FROM ${tables[1]!.def.canonicalName} JOIN ${tables[0]!.def.canonicalName} ...)`,
        { table: tables[1]!.def.canonicalName },
      );
    }
    joinCols = [a.col, b.col];
  }

  const where = ast.where ? scope.predicate(ast.where) : TRUE;
  const returns: Side = ast.returns.alias === ast.from.alias ? 0 : 1;
  const transient = tables[0]!.def.isEvent;

  // Group by the first top-level `column = literal`: its value picks the subscriptions a row reaches.
  const parts = conjuncts(where);
  let key: GroupKey | undefined;
  let rest = where;
  const at = parts.findIndex((p) => p.kind === 'cmp' && p.op === 'eq' && keyOf(p.value) !== undefined);
  if (at >= 0) {
    const p = parts[at] as Extract<Pred, { kind: 'cmp' }>;
    key = { side: p.side, col: p.col, value: p.value, mapKey: keyOf(p.value)! };
    rest = and(parts.filter((_, i) => i !== at));
  }
  const relation = `${tables.map((t) => t.def.name).join('⋈')}|${joinCols ? joinCols.join('=') : ''}|r${returns}`;
  const shapeKey = `${relation}|${key ? `k${key.side}.${key.col}` : ''}|${predicateText(rest)}`;
  const planKey = key ? `${shapeKey}|=${valueText(key.value)}` : shapeKey;
  return {
    sql,
    tables: tables as [StoreTable] | [StoreTable, StoreTable],
    joinCols,
    returns,
    transient,
    where,
    key,
    rest,
    shapeKey,
    planKey,
  };
}

/**
 * The SQLite query giving a compiled query's current rows (`0, _row` of the returned table, one
 * row per matching pair, so joins keep their multiplicity), with its parameters.
 */
export function initialSql(q: CompiledQuery): { sql: string; bind: SqlValue[] } {
  const bind: SqlValue[] = [];
  const col = (side: Side, c: number) => `r${side}.${q.tables[side]!.sqlCols[c]!}`;
  let from = `${q.tables[0].sqlName} AS r0`;
  if (q.joinCols) from += ` JOIN ${q.tables[1]!.sqlName} AS r1 ON ${col(0, q.joinCols[0])} = ${col(1, q.joinCols[1])}`;
  const where = q.where.kind === 'const' && q.where.value ? '' : ` WHERE ${predicateSql(q.where, col, bind)}`;
  return { sql: `SELECT 0, r${q.returns}._row FROM ${from}${where}`, bind };
}

/** A column can serve a join lookup when an index starts with it. */
export function isIndexed(t: StoreTable, col: number): boolean {
  return t.def.indexes.some((ix) => ix.columns[0] === col);
}

/** Resolves a FROM/JOIN name to a table, or says why it cannot be subscribed to. */
function resolveTable(host: Host, ref: TableRef, ctx: CompileContext): StoreTable {
  const t = host.datastore.tableByName(ref.name);
  // Extension point (issue 3): a view subscribed by name becomes a relation whose rows the view's
  // own evaluation maintains (re-run when its read set changes, per sender for sender views, the
  // difference fed to the plans like a table delta). Its datastore table only holds rows while a
  // query materializes it, so until then a view is refused rather than faked.
  if (t?.def.view || (!t && host.schema.views.some((v) => v.name === ref.name || v.canonicalName === ref.name))) {
    throw new SqlError('UNSUPPORTED', `${ref.name} is a view: Lightcone cannot subscribe to views yet; subscribe to the tables it reads, or read it with db.sql`, {
      view: ref.name,
      construct: 'view subscription',
    });
  }
  if (!t) {
    const names = host.datastore.tables.filter((x) => !x.def.view).map((x) => x.def.canonicalName).join(', ');
    throw new SqlError('UNKNOWN_TABLE', `no such table: ${ref.name} (tables: ${names || 'none'})`, { table: ref.name });
  }
  if (!t.def.isPublic && !ctx.isOwner) {
    throw new SqlError('PERMISSION_DENIED', `table ${t.def.canonicalName} is private: only the database owner can subscribe to it`, { table: t.def.canonicalName });
  }
  // Extension point (issue 3): row-level security conjoins each rule on this table, evaluated per
  // subscriber identity. Until rules are enforced, a table that has them is the owner's only.
  if (!ctx.isOwner && rlsTables(host).has(t.def.name)) {
    throw new SqlError('UNSUPPORTED', `table ${t.def.canonicalName} has row-level security rules, which Lightcone does not enforce yet: only the owner can subscribe to it`, {
      table: t.def.canonicalName,
      construct: 'row-level security',
    });
  }
  return t;
}

const rlsCache = new WeakMap<Host, Set<string>>();
/** Source names of the tables that row-level security rules filter. */
function rlsTables(host: Host): Set<string> {
  let s = rlsCache.get(host);
  if (!s) {
    s = new Set();
    for (const rule of host.schema.rls) {
      try {
        const name = parseSubscriptionQuery(rule).returns.name;
        const t = host.datastore.tableByName(name);
        if (t) s.add(t.def.name);
      } catch {
        /* an unparseable rule filters nothing we could name */
      }
    }
    rlsCache.set(host, s);
  }
  return s;
}

function columnName(t: StoreTable, col: number): string {
  return `${t.def.canonicalName}.${t.def.columns[col]!.canonicalName}`;
}

const FLIP: Record<string, 'lt' | 'lte' | 'gt' | 'gte'> = { lt: 'gt', lte: 'gte', gt: 'lt', gte: 'lte' };

/** The relations of one query, for resolving columns and compiling the WHERE clause. */
class Scope {
  readonly #host: Host;
  readonly #refs: TableRef[];
  readonly #tables: StoreTable[];
  readonly #sender: bigint;

  constructor(host: Host, refs: TableRef[], tables: StoreTable[], sender: bigint) {
    this.#host = host;
    this.#refs = refs;
    this.#tables = tables;
    this.#sender = sender;
  }

  column(ref: ColumnRef): { side: Side; col: number } {
    const sides = this.#refs.flatMap((r, i) => (ref.table === null || r.alias === ref.table ? [i as Side] : []));
    if (sides.length === 0) {
      throw new SqlError('UNKNOWN_TABLE', `${ref.table} in ${ref.table}.${ref.column} is not a table of this query (tables: ${this.#refs.map((r) => r.alias).join(', ')})`, { table: ref.table });
    }
    for (const side of sides) {
      const col = this.#tables[side]!.def.columns.findIndex((c) => c.canonicalName === ref.column || c.name === ref.column);
      if (col >= 0) return { side, col };
    }
    const t = this.#tables[sides[0]!]!.def;
    throw new SqlError('UNKNOWN_COLUMN', `table ${t.canonicalName} has no column ${ref.column} (columns: ${t.columns.map((c) => c.canonicalName).join(', ')})`, {
      table: t.canonicalName,
      column: ref.column,
    });
  }

  #comparable(side: Side, col: number): void {
    const t = this.#tables[side]!;
    if (t.sqlCols[col] === undefined) {
      throw new SqlError('NOT_COMPARABLE', `column ${columnName(t, col)} of type ${t.codecs[col]!.typeName} cannot be compared in SQL`, { column: columnName(t, col) });
    }
  }

  predicate(p: Predicate): Pred {
    switch (p.kind) {
      case 'and':
      case 'or':
        return { kind: p.kind, clauses: p.clauses.map((c) => this.predicate(c)) };
      case 'not':
        return { kind: 'not', clause: this.predicate(p.clause) };
      case 'value': {
        const o = p.operand;
        if (o.kind === 'bool') return { kind: 'const', value: o.value };
        if (o.kind === 'column') {
          const { side, col } = this.column(o);
          const t = this.#tables[side]!;
          if (t.codecs[col]!.scalar !== 'Bool') throw new SqlError('TYPE_MISMATCH', `${o.column} is a ${t.codecs[col]!.typeName}, not a bool, so it cannot be a condition by itself`);
          return { kind: 'cmp', op: 'eq', side, col, value: 1 };
        }
        throw new SqlError('TYPE_MISMATCH', 'a condition must compare a column with a value');
      }
      case 'compare': {
        const l = p.left;
        const r = p.right;
        if (l.kind === 'column' && r.kind === 'column') {
          const a = this.column(l);
          const b = this.column(r);
          this.#comparable(a.side, a.col);
          this.#comparable(b.side, b.col);
          const ta = this.#tables[a.side]!.codecs[a.col]!.typeName;
          const tb = this.#tables[b.side]!.codecs[b.col]!.typeName;
          if (ta !== tb) throw new SqlError('TYPE_MISMATCH', `cannot compare ${l.column} (${ta}) with ${r.column} (${tb})`);
          return { kind: 'cols', op: p.op, left: a.side, lcol: a.col, right: b.side, rcol: b.col };
        }
        if (l.kind === 'column' || r.kind === 'column') {
          const flipped = l.kind !== 'column';
          const colRef = (flipped ? r : l) as ColumnRef;
          const lit = (flipped ? l : r) as Operand;
          const { side, col } = this.column(colRef);
          this.#comparable(side, col);
          const value = encodeLiteral(this.#host, this.#tables[side]!, col, lit, this.#sender);
          const op = flipped ? (FLIP[p.op] ?? p.op) : p.op;
          return { kind: 'cmp', op, side, col, value };
        }
        throw new SqlError('UNSUPPORTED', 'a comparison needs at least one column', { construct: 'literal comparison' });
      }
    }
  }
}
