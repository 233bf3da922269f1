// The one binder of SpacetimeDB SQL: it resolves what a parsed statement names (tables, views,
// aliases, columns) against the module's schema, checks access and types, and turns WHERE and ON
// clauses into typed predicates over stored column values, literals already encoded in stored
// form. Ad-hoc SQL (`execute.ts`) and subscriptions (`subscriptions/compile.ts`) both bind
// through it, so they name the same things, refuse the same things and say so the same way.
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import { SqlError } from '../errors.ts';
import type { Host } from '../host/host.ts';
import type { ColumnRef, CompareOp, Operand, Predicate, TableRef } from './ast.ts';
import { encodeLiteral } from './literals.ts';

/**
 * A bound predicate over the stored values of a statement's relations; `R` numbers them (0 the
 * FROM relation, then each JOIN in order). Literals are in stored form.
 */
export type BoundPred<R extends number = number> =
  | { readonly kind: 'const'; readonly value: boolean }
  | { readonly kind: 'cmp'; readonly op: CompareOp; readonly side: R; readonly col: number; readonly value: SqlValue }
  | { readonly kind: 'cols'; readonly op: CompareOp; readonly left: R; readonly lcol: number; readonly right: R; readonly rcol: number }
  | { readonly kind: 'and' | 'or'; readonly clauses: readonly BoundPred<R>[] }
  | { readonly kind: 'not'; readonly clause: BoundPred<R> };

/** The predicate that holds for every row. */
export const TRUE: BoundPred<never> = { kind: 'const', value: true };

/**
 * Who reads: a client (private tables refused, row-level security applies), the owner (sees
 * everything), or a row-level-security rule being compiled (any table, but no views).
 */
export type Access = 'client' | 'owner' | 'rule';

/** What binding needs: the module's schema and datastore, the reader, and `:sender`'s value. */
export interface BindContext {
  readonly host: Host;
  readonly sender: bigint;
  readonly access: Access;
}

/** One relation of a statement: the name the statement uses for it and the table (or view) it is. */
export interface BoundRelation {
  readonly alias: string;
  readonly table: StoreTable;
}

/** A column of a statement: which relation, which column of its table. */
export interface BoundColumn<R extends number = number> {
  readonly rel: R;
  readonly col: number;
}

/**
 * Resolves a FROM/JOIN/DML name to a table or view, or says why it cannot be read: UNKNOWN_TABLE
 * (listing the tables and views there are), PERMISSION_DENIED for a private one read by a client,
 * UNSUPPORTED for a view inside a row-level-security rule.
 */
export function resolveTable(ctx: BindContext, ref: TableRef): StoreTable {
  const ds = ctx.host.datastore;
  const t = ds.tableByName(ref.name);
  if (!t) {
    const tables = ds.tables.filter((x) => !x.def.view).map((x) => x.def.canonicalName);
    const views = ds.tables.filter((x) => x.def.view).map((x) => x.def.canonicalName);
    throw new SqlError('UNKNOWN_TABLE', `no such table: ${ref.name} (tables: ${tables.join(', ') || 'none'}${views.length ? `; views: ${views.join(', ')}` : ''})`, {
      table: ref.name,
    });
  }
  if (!t.def.isPublic && ctx.access === 'client') {
    const what = t.def.view ? 'view' : 'table';
    throw new SqlError('PERMISSION_DENIED', `${what} ${t.def.canonicalName} is private: only the database owner can read it`, { table: t.def.canonicalName });
  }
  if (t.def.view && ctx.access === 'rule') {
    throw new SqlError('UNSUPPORTED', `row-level security rules cannot read views (${t.def.canonicalName})`, { view: t.def.canonicalName, construct: 'view in a rule' });
  }
  return t;
}

/** `table.column` by canonical names, for messages. */
export function columnName(t: StoreTable, col: number): string {
  return `${t.def.canonicalName}.${t.def.columns[col]!.canonicalName}`;
}

const FLIP: Record<string, CompareOp> = { lt: 'gt', lte: 'gte', gt: 'lt', gte: 'lte' };

/**
 * The relations of one statement (FROM, then each JOIN), resolved: binds its column references
 * and predicates. Two relations may not share an alias.
 *
 * @example
 * const scope = new Scope(ctx, [from, join.table]);
 * const where = scope.predicate(ast.where);   // { kind: 'cmp', side: 0, col: 1, op: 'eq', value: 5 }
 */
export class Scope<R extends number = number> {
  readonly rels: readonly BoundRelation[];
  readonly #ctx: BindContext;

  constructor(ctx: BindContext, refs: readonly TableRef[]) {
    this.#ctx = ctx;
    this.rels = refs.map((ref) => ({ alias: ref.alias, table: resolveTable(ctx, ref) }));
    const seen = new Set<string>();
    for (const r of this.rels) {
      if (seen.has(r.alias)) {
        throw new SqlError('DUPLICATE_ALIAS', `${r.alias} appears twice in FROM/JOIN: give one of them an alias (JOIN ${r.table.def.canonicalName} AS other)`, { alias: r.alias });
      }
      seen.add(r.alias);
    }
  }

  /** The table of relation `rel`. */
  table(rel: R): StoreTable {
    return this.rels[rel]!.table;
  }

  /** The relation a `t.*` or a SUBSCRIBE's returned alias names; UNKNOWN_TABLE when none. */
  relation(alias: string): R {
    const i = this.rels.findIndex((r) => r.alias === alias);
    if (i < 0) throw new SqlError('UNKNOWN_TABLE', `${alias}.* names no table of this query (tables: ${this.rels.map((r) => r.alias).join(', ')})`, { table: alias });
    return i as R;
  }

  /** Resolves `[t.]column` (unqualified: the first relation that has it). UNKNOWN_TABLE / UNKNOWN_COLUMN. */
  column(ref: ColumnRef): BoundColumn<R> {
    const rels = this.rels.flatMap((r, i) => (ref.table === null || r.alias === ref.table ? [i] : []));
    if (rels.length === 0) {
      throw new SqlError('UNKNOWN_TABLE', `${ref.table} in ${ref.table}.${ref.column} is not a table of this query (tables: ${this.rels.map((r) => r.alias).join(', ')})`, {
        table: ref.table,
      });
    }
    for (const rel of rels) {
      const col = this.rels[rel]!.table.def.columns.findIndex((c) => c.canonicalName === ref.column || c.name === ref.column);
      if (col >= 0) return { rel: rel as R, col };
    }
    const t = this.rels[rels[0]!]!.table.def;
    throw new SqlError('UNKNOWN_COLUMN', `table ${t.canonicalName} has no column ${ref.column} (columns: ${t.columns.map((c) => c.canonicalName).join(', ')})`, {
      table: t.canonicalName,
      column: ref.column,
    });
  }

  /** Refuses a column whose values have no SQL order (products, arrays, …): NOT_COMPARABLE naming `what` uses it. */
  comparable(c: BoundColumn<R>, what = 'a comparison'): void {
    const t = this.table(c.rel);
    if (t.sqlCols[c.col] === undefined) {
      throw new SqlError('NOT_COMPARABLE', `column ${columnName(t, c.col)} of type ${t.codecs[c.col]!.typeName} cannot be compared in SQL, so it cannot be used in ${what}`, {
        column: columnName(t, c.col),
      });
    }
  }

  /** Type names of two columns must match to compare or join them: TYPE_MISMATCH otherwise. */
  sameType(a: BoundColumn<R>, b: BoundColumn<R>, what: string): void {
    const ta = this.table(a.rel).codecs[a.col]!.typeName;
    const tb = this.table(b.rel).codecs[b.col]!.typeName;
    if (ta !== tb) {
      throw new SqlError('TYPE_MISMATCH', `cannot ${what} ${columnName(this.table(a.rel), a.col)} (${ta}) with ${columnName(this.table(b.rel), b.col)} (${tb}): the types must be the same`);
    }
  }

  /** Binds a WHERE/ON clause: columns resolved, literals typed by their column and encoded, `lit op col` flipped to `col op' lit`. */
  predicate(p: Predicate): BoundPred<R> {
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
          const c = this.column(o);
          const t = this.table(c.rel);
          if (t.codecs[c.col]!.scalar !== 'Bool') {
            throw new SqlError('TYPE_MISMATCH', `${o.column} is a ${t.codecs[c.col]!.typeName}, not a bool, so it cannot be a condition by itself`, { column: columnName(t, c.col) });
          }
          return { kind: 'cmp', op: 'eq', side: c.rel, col: c.col, value: 1 };
        }
        throw new SqlError('TYPE_MISMATCH', 'a condition must compare a column with a value');
      }
      case 'compare': {
        const l = p.left;
        const r = p.right;
        if (l.kind === 'column' && r.kind === 'column') {
          const a = this.column(l);
          const b = this.column(r);
          this.comparable(a);
          this.comparable(b);
          this.sameType(a, b, 'compare');
          return { kind: 'cols', op: p.op, left: a.rel, lcol: a.col, right: b.rel, rcol: b.col };
        }
        if (l.kind === 'column' || r.kind === 'column') {
          const flipped = l.kind !== 'column';
          const c = this.column((flipped ? r : l) as ColumnRef);
          this.comparable(c);
          const value = encodeLiteral(this.#ctx.host, this.table(c.rel), c.col, (flipped ? l : r) as Operand, this.#ctx.sender);
          return { kind: 'cmp', op: flipped ? (FLIP[p.op] ?? p.op) : p.op, side: c.rel, col: c.col, value };
        }
        throw new SqlError('UNSUPPORTED', 'a comparison needs at least one column', { construct: 'literal comparison' });
      }
    }
  }
}

const SQL_OP: Record<CompareOp, string> = { eq: '=', ne: '<>', lt: '<', lte: '<=', gt: '>', gte: '>=' };

/** Renders `p` as SQLite SQL over `col(rel, col)`, pushing literals onto `bind` (never spread: a rule may bind any number). */
export function predicateSql<R extends number>(p: BoundPred<R>, col: (rel: R, col: number) => string, bind: SqlValue[]): string {
  switch (p.kind) {
    case 'const':
      return p.value ? '1' : '0';
    case 'cmp':
      bind.push(p.value);
      return `${col(p.side, p.col)} ${SQL_OP[p.op]} ?`;
    case 'cols':
      return `${col(p.left, p.lcol)} ${SQL_OP[p.op]} ${col(p.right, p.rcol)}`;
    case 'and':
    case 'or':
      return `(${p.clauses.map((c) => predicateSql(c, col, bind)).join(p.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `(NOT ${predicateSql(p.clause, col, bind)})`;
  }
}

/** The conjunction of `clauses` (TRUE when empty). */
export function and<R extends number>(clauses: readonly BoundPred<R>[]): BoundPred<R> {
  if (clauses.length === 0) return TRUE;
  if (clauses.length === 1) return clauses[0]!;
  return { kind: 'and', clauses };
}

/** The disjunction of `preds` (TRUE when one of them is). */
export function anyOf<R extends number>(preds: readonly BoundPred<R>[]): BoundPred<R> {
  if (preds.some((p) => p.kind === 'const' && p.value)) return TRUE;
  return preds.length === 1 ? preds[0]! : { kind: 'or', clauses: preds };
}

/** The top-level conjuncts of `p`. */
export function conjuncts<R extends number>(p: BoundPred<R>): readonly BoundPred<R>[] {
  if (p.kind === 'and') return p.clauses;
  if (p.kind === 'const' && p.value) return [];
  return [p];
}
