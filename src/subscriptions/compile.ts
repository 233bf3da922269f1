// Compiles one query of SpacetimeDB's subscription dialect against the module schema, once: it
// resolves tables, views and columns, enforces the dialect's rules (indexed join columns, event
// tables never on the lookup side, private tables for the owner only), encodes literals in stored
// form, and derives the keys that let identical queries share one evaluation and queries
// differing only in an equality literal share one group. Row-level security is added in rls.ts.
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import { SqlError } from '../errors.ts';
import type { Host } from '../host/host.ts';
import type { ViewDef } from '../host/module-def.ts';
import type { ColumnRef, Operand, Predicate, SubscriptionQuery, TableRef } from '../sql/ast.ts';
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

/**
 * Where a query's rows come from when no table delta gives them: a view, re-run when a table it
 * read changed (anonymous views once for everyone, sender views per identity), or a query re-run
 * when one of `reads` changed (row-level security that joins too many tables to be incremental).
 * `key` identifies one shared evaluation.
 */
export type SourceSpec =
  | { readonly kind: 'view'; readonly key: string; readonly view: ViewDef; readonly sender: bigint }
  | { readonly kind: 'query'; readonly key: string; readonly sql: string; readonly bind: readonly SqlValue[]; readonly reads: readonly string[] };

/** One or two tables, joined on one column of each, with a WHERE over their stored values. */
export interface Relation {
  /** `[from]` or `[from, join]`. */
  readonly tables: readonly [StoreTable] | readonly [StoreTable, StoreTable];
  /** Join columns: of the FROM table, then of the JOIN table. */
  readonly joinCols: readonly [number, number] | undefined;
  /** Whose rows the query returns. */
  readonly returns: Side;
  /** The whole WHERE clause. */
  readonly where: Pred;
}

/** A subscription query checked and compiled against the schema. */
export interface CompiledQuery extends Relation {
  /** The SQL as given. */
  readonly sql: string;
  /** The FROM table is an event table: results are inserts of the transaction only, never cached. */
  readonly transient: boolean;
  /** The grouping equality, if the WHERE has one at top level. */
  readonly key: GroupKey | undefined;
  /** `where` without the grouping equality. */
  readonly rest: Pred;
  /** Equal for queries that differ at most in the grouping literal. */
  readonly shapeKey: string;
  /** Equal for identical queries (same shape and literal). */
  readonly planKey: string;
  /**
   * Set when the rows of `tables[0]` (the only table) come from an evaluation rather than from
   * transaction deltas: a view, or a query re-run. `where` then filters what it returns.
   */
  readonly source: SourceSpec | undefined;
}

/**
 * Parses and checks one subscription query (without row-level security: see rls.ts). Throws
 * SqlError: PARSE_ERROR and UNSUPPORTED from the parser (and for a view in a join);
 * UNKNOWN_TABLE, UNKNOWN_COLUMN, PERMISSION_DENIED, TYPE_MISMATCH, NOT_COMPARABLE,
 * UNINDEXED_JOIN, EVENT_TABLE_LOOKUP.
 *
 * @example
 * const q = compileQuery(host, 'SELECT * FROM message WHERE room_id = 5', { sender, isOwner: true });
 * q.key?.value; // 5 (stored form)
 */
export function compileQuery(host: Host, sql: string, ctx: CompileContext): CompiledQuery {
  const ast = parseSubscriptionQuery(sql);
  const rel = compileRelation(host, ast, ctx.sender, { access: ctx.isOwner ? 'owner' : 'client', requireIndex: true });
  const view = rel.tables[0].def.view;
  if (!view) return finishQuery(sql, rel, undefined);
  const sender = view.isAnonymous ? undefined : ctx.sender;
  const key = `view:${view.name}${sender === undefined ? '' : `|${sender.toString(16)}`}`;
  return finishQuery(sql, rel, { kind: 'view', key, view, sender: ctx.sender });
}

/** How `compileRelation` checks tables: as a client (private tables refused), as the owner, or as a rule (anything). */
export interface RelationChecks {
  access: 'client' | 'owner' | 'rule';
  /** Refuse joins on columns no index starts with (subscriptions); rules may join on any column. */
  requireIndex: boolean;
}

/** Resolves and checks a parsed subscription query's tables, join and WHERE (`:sender` bound to `sender`). */
export function compileRelation(host: Host, ast: SubscriptionQuery, sender: bigint, checks: RelationChecks): Relation {
  const join = ast.joins[0];
  const refs: TableRef[] = join ? [ast.from, join.table] : [ast.from];
  const tables = refs.map((r) => resolveTable(host, r, checks));
  const scope = new Scope(host, refs, tables, sender);

  let joinCols: readonly [number, number] | undefined;
  if (join) {
    for (const t of tables) {
      if (t.def.view) {
        throw new SqlError('UNSUPPORTED', `${t.def.canonicalName} is a view: Lightcone cannot join views in subscriptions yet; subscribe to the view alone (SELECT * FROM ${t.def.canonicalName} WHERE …)`, {
          view: t.def.canonicalName,
          construct: 'view in a join',
        });
      }
    }
    const l = scope.column(join.on.left);
    const r = scope.column(join.on.right);
    const ends = l.side === 0 ? ([l, r] as const) : ([r, l] as const);
    for (const e of ends) {
      const t = tables[e.side]!;
      if (t.sqlCols[e.col] === undefined) {
        throw new SqlError('NOT_COMPARABLE', `cannot join on ${columnName(t, e.col)}: its type ${t.codecs[e.col]!.typeName} cannot be compared`, { column: columnName(t, e.col) });
      }
      if (checks.requireIndex && !isIndexed(t, e.col)) {
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

  return {
    tables: tables as [StoreTable] | [StoreTable, StoreTable],
    joinCols,
    returns: ast.returns.alias === ast.from.alias ? 0 : 1,
    where: ast.where ? scope.predicate(ast.where) : TRUE,
  };
}

/**
 * Completes a relation into a query: its grouping key (the first top-level `column = literal`,
 * whose value picks the subscriptions a row reaches) and the keys that share plans and groups.
 */
export function finishQuery(sql: string, rel: Relation, source: SourceSpec | undefined): CompiledQuery {
  const { tables, joinCols, returns, where } = rel;
  const parts = conjuncts(where);
  let key: GroupKey | undefined;
  let rest = where;
  const at = parts.findIndex((p) => p.kind === 'cmp' && p.op === 'eq' && keyOf(p.value) !== undefined);
  if (at >= 0) {
    const p = parts[at] as Extract<Pred, { kind: 'cmp' }>;
    key = { side: p.side, col: p.col, value: p.value, mapKey: keyOf(p.value)! };
    rest = and(parts.filter((_, i) => i !== at));
  }
  const relation = `${tables.map((t) => t.def.name).join('⋈')}|${joinCols ? joinCols.join('=') : ''}|r${returns}${source ? `@${source.key}` : ''}`;
  const shapeKey = `${relation}|${key ? `k${key.side}.${key.col}` : ''}|${predicateText(rest)}`;
  const planKey = key ? `${shapeKey}|=${valueText(key.value)}` : shapeKey;
  return { sql, tables, joinCols, returns, where, transient: tables[0].def.isEvent, key, rest, shapeKey, planKey, source };
}

/**
 * The SQLite query giving a compiled query's current rows (`0, _row` of the returned table, one
 * row per matching pair, so joins keep their multiplicity), with its parameters. Not for queries
 * with a `source` (their rows are not stored).
 */
export function initialSql(q: Relation): { sql: string; bind: SqlValue[] } {
  const bind: SqlValue[] = [];
  return { sql: `SELECT 0, r${q.returns}._row FROM ${relationSql(q, 'r', [q.tables[0].sqlName, q.tables[1]?.sqlName ?? ''], bind)}`, bind };
}

/**
 * The `FROM … [JOIN … ON …] [WHERE …]` part of a relation's SQL, its relations aliased
 * `${alias}0` and `${alias}1` and read from `sources` (table names or subqueries whose
 * parameters are already in `bind`); the WHERE's literals are appended to `bind`.
 */
export function relationSql(q: Relation, alias: string, sources: readonly string[], bind: SqlValue[]): string {
  const col = (side: Side, c: number) => `${alias}${side}.${q.tables[side]!.sqlCols[c]!}`;
  let from = `${sources[0]!} AS ${alias}0`;
  if (q.joinCols) from += ` JOIN ${sources[1]!} AS ${alias}1 ON ${col(0, q.joinCols[0])} = ${col(1, q.joinCols[1])}`;
  const where = q.where.kind === 'const' && q.where.value ? '' : ` WHERE ${predicateSql(q.where, col, bind)}`;
  return `${from}${where}`;
}

/** A column can serve a join lookup when an index starts with it. */
export function isIndexed(t: StoreTable, col: number): boolean {
  return t.def.indexes.some((ix) => ix.columns[0] === col);
}

/** Resolves a FROM/JOIN name to a table or view, or says why it cannot be read. */
function resolveTable(host: Host, ref: TableRef, checks: RelationChecks): StoreTable {
  const t = host.datastore.tableByName(ref.name);
  if (!t) {
    const names = host.datastore.tables.filter((x) => !x.def.view).map((x) => x.def.canonicalName).join(', ');
    throw new SqlError('UNKNOWN_TABLE', `no such table: ${ref.name} (tables: ${names || 'none'})`, { table: ref.name });
  }
  if (!t.def.isPublic && checks.access === 'client') {
    const what = t.def.view ? 'view' : 'table';
    throw new SqlError('PERMISSION_DENIED', `${what} ${t.def.canonicalName} is private: only the database owner can subscribe to it`, { table: t.def.canonicalName });
  }
  if (t.def.view && checks.access === 'rule') {
    throw new SqlError('UNSUPPORTED', `row-level security rules cannot read views (${t.def.canonicalName})`, { view: t.def.canonicalName, construct: 'view in a rule' });
  }
  return t;
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
