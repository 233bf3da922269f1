// A relation of SpacetimeDB's subscription dialect, bound: one table, or two joined on one
// column each, with a WHERE over their stored values and the side whose rows it returns. Both
// subscription queries and row-level-security rules have this shape; `relationSql` renders one
// for SQLite.
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import { SqlError } from '../errors.ts';
import type { SubscriptionQuery } from './ast.ts';
import { columnName, predicateSql, Scope, TRUE, type BindContext, type BoundPred } from './bind.ts';

/** Which relation a column belongs to: 0 = the FROM table, 1 = the JOIN table. */
export type Side = 0 | 1;

/** One or two tables, joined on one column of each, with a WHERE over their stored values. */
export interface Relation {
  /** `[from]` or `[from, join]`. */
  readonly tables: readonly [StoreTable] | readonly [StoreTable, StoreTable];
  /** Join columns: of the FROM table, then of the JOIN table. */
  readonly joinCols: readonly [number, number] | undefined;
  /** Whose rows the relation returns. */
  readonly returns: Side;
  /** The whole WHERE clause. */
  readonly where: BoundPred<Side>;
}

/**
 * Binds a parsed subscription-dialect query (a subscription, or a row-level-security rule).
 * `requireIndex` refuses joins on columns no index starts with (subscriptions need an index to
 * look the other side up; rules may join on anything). Throws the binder's SqlErrors, plus
 * UNSUPPORTED for a view in a join, NOT_COMPARABLE, UNINDEXED_JOIN, TYPE_MISMATCH and
 * EVENT_TABLE_LOOKUP for the join.
 */
export function bindRelation(ctx: BindContext, ast: SubscriptionQuery, opts: { requireIndex: boolean }): Relation {
  const join = ast.joins[0];
  const scope = new Scope<Side>(ctx, join ? [ast.from, join.table] : [ast.from]);
  const tables = scope.rels.map((r) => r.table);

  let joinCols: readonly [number, number] | undefined;
  if (join) {
    for (const t of tables) {
      if (t.def.view) {
        throw new SqlError(
          'UNSUPPORTED',
          `${t.def.canonicalName} is a view: Lightcone cannot join views in subscriptions yet; subscribe to the view alone (SELECT * FROM ${t.def.canonicalName} WHERE …)`,
          {
            view: t.def.canonicalName,
            construct: 'view in a join',
          },
        );
      }
    }
    const l = scope.column(join.on.left);
    const r = scope.column(join.on.right);
    if (l.rel === r.rel) {
      throw new SqlError('UNSUPPORTED', `the join condition must compare a column of ${scope.rels[0]!.alias} with a column of ${scope.rels[1]!.alias}`, { construct: 'join on one table' });
    }
    const ends = l.rel === 0 ? ([l, r] as const) : ([r, l] as const);
    for (const e of ends) {
      const t = tables[e.rel]!;
      scope.comparable(e, 'a join');
      if (opts.requireIndex && !isIndexed(t, e.col)) {
        throw new SqlError(
          'UNINDEXED_JOIN',
          `Subscriptions require indexes on join columns: ${columnName(t, e.col)} has no index. Add .index('btree') to it in the module, or join on indexed columns`,
          { table: t.def.canonicalName, column: t.def.columns[e.col]!.canonicalName },
        );
      }
    }
    scope.sameType(ends[0], ends[1], 'join');
    if (tables[1]!.def.isEvent) {
      throw new SqlError(
        'EVENT_TABLE_LOOKUP',
        `Event tables cannot be used as the lookup table in subscription joins: ${tables[1]!.def.canonicalName} is an event table. Put it first (FROM ${tables[1]!.def.canonicalName} JOIN ${tables[0]!.def.canonicalName} ...)`,
        { table: tables[1]!.def.canonicalName },
      );
    }
    joinCols = [ends[0].col, ends[1].col];
  }

  return {
    tables: tables as [StoreTable] | [StoreTable, StoreTable],
    joinCols,
    returns: scope.relation(ast.returns.alias),
    where: ast.where ? scope.predicate(ast.where) : TRUE,
  };
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
