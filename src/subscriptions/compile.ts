// Compiles one query of SpacetimeDB's subscription dialect against the module schema, once: the
// SQL binder (src/sql/relation.ts) resolves and checks it with the dialect's rules (indexed join
// columns, event tables never on the lookup side, private tables for the owner only); this adds
// the keys that let identical queries share one evaluation and queries differing only in an
// equality literal share one group. Row-level security is added in rls.ts.
import type { SqlValue } from '../datastore/columns.ts';
import { rowColumnsSql } from '../datastore/layout.ts';
import type { Host } from '../host/host.ts';
import type { ViewDef } from '../datastore/schema.ts';
import { and, conjuncts } from '../sql/bind.ts';
import { parseSubscriptionQuery } from '../sql/parser.ts';
import { bindRelation, relationSql, type Relation, type Side } from '../sql/relation.ts';
import { predicateText, type Pred } from './predicate.ts';
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
 * SqlError: PARSE_ERROR and UNSUPPORTED from the parser (and for a view in a join), and the
 * binder's UNKNOWN_TABLE, UNKNOWN_COLUMN, PERMISSION_DENIED, TYPE_MISMATCH, NOT_COMPARABLE,
 * UNINDEXED_JOIN, EVENT_TABLE_LOOKUP.
 *
 * @example
 * const q = compileQuery(host, 'SELECT * FROM message WHERE room_id = 5', { sender, isOwner: true });
 * q.key?.value; // 5 (stored form)
 */
export function compileQuery(host: Host, sql: string, ctx: CompileContext): CompiledQuery {
  const ast = parseSubscriptionQuery(sql);
  const rel = bindRelation({ host, sender: ctx.sender, access: ctx.isOwner ? 'owner' : 'client' }, ast, { requireIndex: true });
  const view = rel.tables[0].def.view;
  if (!view) return finishQuery(sql, rel, undefined);
  const sender = view.isAnonymous ? undefined : ctx.sender;
  const key = `view:${view.name}${sender === undefined ? '' : `|${sender.toString(16)}`}`;
  return finishQuery(sql, rel, { kind: 'view', key, view, sender: ctx.sender });
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
 * The SQLite query giving a compiled query's current rows (`0` and the stored columns of the returned table, one
 * row per matching pair, so joins keep their multiplicity), with its parameters. Not for queries
 * with a `source` (their rows are not stored).
 */
export function initialSql(q: Relation): { sql: string; bind: SqlValue[] } {
  const bind: SqlValue[] = [];
  return { sql: `SELECT 0, ${rowColumnsSql(q.tables[q.returns]!, `r${q.returns}`)} FROM ${relationSql(q, 'r', [q.tables[0].sqlName, q.tables[1]?.sqlName ?? ''], bind)}`, bind };
}
