// Row-level security for subscribers other than the owner: each query is rewritten, per
// subscriber identity, into queries whose union is what the module's `clientVisibilityFilter`
// rules let that identity see (rules on one table OR'ed, as db.sql applies them). Rules that
// read only their own table become WHERE conjuncts; a rule that joins a second table becomes a
// join plan of its own, maintained incrementally like any join; only what would need three
// tables falls back to re-running the filtered query when a table it reads changes.
import type { SqlValue } from '../datastore/columns.ts';
import { rowColumnsSql } from '../datastore/layout.ts';
import { SqlError } from '../errors.ts';
import type { Host } from '../host/host.ts';
import { and, anyOf, conjuncts, TRUE } from '../sql/bind.ts';
import { relationSql, type Relation, type Side } from '../sql/relation.ts';
import { hasRules, rlsSource, ruleRelations } from '../sql/rls.ts';
import { finishQuery, type CompileContext, type CompiledQuery } from './compile.ts';
import type { Pred } from './predicate.ts';

/**
 * The queries whose results, together, are what `q` shows the subscriber under the module's
 * row-level security: `[q]` for the owner, for views (which bypass RLS) and for tables without
 * rules. Every relation of `q` (the lookup side of a join too) is filtered by its table's rules,
 * with `:sender` bound to the subscriber. Throws SqlError UNSUPPORTED for rules that would make
 * an event table's rows depend on a join the delta cannot follow.
 *
 * @example
 * // rules: SELECT * FROM account WHERE owner = :sender; SELECT account.* FROM account JOIN member …
 * applyRowLevelSecurity(host, compileQuery(host, 'SELECT * FROM account', ctx), ctx);
 * // → [account WHERE owner = <sender>, account ⋈ member WHERE member.who = <sender>]
 */
export function applyRowLevelSecurity(host: Host, q: CompiledQuery, ctx: CompileContext): CompiledQuery[] {
  if (ctx.isOwner || q.source) return [q];
  if (!hasRules(host)) return [q];
  const sides = q.tables.map((t) => ruleRelations(host, t, ctx.sender));
  if (sides.every((rs) => rs.length === 0)) return [q];
  const simple = sides.every((rs) => rs.every((r) => r.tables.length === 1));

  if (!q.joinCols) {
    const rules = sides[0]!;
    const singles = rules.filter((r) => r.tables.length === 1);
    const out: CompiledQuery[] = [];
    if (singles.length) out.push(finishQuery(q.sql, { ...q, where: and([...conjuncts(q.where), ...conjuncts(anyOf(singles.map((r) => r.where)))]) }, undefined));
    for (const r of rules) if (r.tables.length === 2) out.push(finishQuery(q.sql, throughRule(q, r), undefined));
    return out;
  }
  if (simple) {
    // Both sides' rules read only their own rows: conditions on each side of the join.
    const extra = sides.flatMap((rs, s) => (rs.length ? conjuncts(onSide(anyOf(rs.map((r) => r.where)), s as Side)) : []));
    return [finishQuery(q.sql, { ...q, where: and([...conjuncts(q.where), ...extra]) }, undefined)];
  }
  return [rerun(q, sides, ctx.sender)];
}

/** A single-table query over T restricted by a rule joining T with another table: T ⋈ other, T first. */
function throughRule(q: CompiledQuery, r: Relation): Relation {
  const [c0, c1] = r.joinCols!;
  const other = r.tables[r.returns === 0 ? 1 : 0]!;
  if (other.def.isEvent) {
    throw new SqlError('UNSUPPORTED', `a row-level security rule on ${q.tables[0].def.canonicalName} joins the event table ${other.def.canonicalName}, which subscriptions cannot follow`, {
      construct: 'event table in a rule',
    });
  }
  const where = r.returns === 0 ? r.where : flip(r.where);
  return { tables: [q.tables[0], other], joinCols: r.returns === 0 ? [c0, c1] : [c1, c0], returns: 0, where: and([...conjuncts(q.where), ...conjuncts(where)]) };
}

/**
 * A join query with a joining rule on a side would need three tables: its RLS-filtered result is
 * re-run (as db.sql would run it) whenever a table it or the rules read changed, and diffed.
 */
function rerun(q: CompiledQuery, sides: readonly Relation[][], sender: bigint): CompiledQuery {
  if (q.transient) {
    throw new SqlError('UNSUPPORTED', `subscriptions cannot join the event table ${q.tables[0].def.canonicalName} under a row-level security rule that joins another table`, {
      construct: 'event table with a joining rule',
    });
  }
  const bind: SqlValue[] = [];
  const sources = q.tables.map((t, s) => rlsSource(t, sides[s]!, `v${s}`, bind));
  const sql = `SELECT DISTINCT 0, ${rowColumnsSql(q.tables[q.returns]!, `r${q.returns}`)} FROM ${relationSql(q, 'r', sources, bind)}`;
  const reads = new Set<string>();
  for (const t of q.tables) reads.add(t.def.name);
  for (const rs of sides) for (const r of rs) for (const t of r.tables) reads.add(t.def.name);
  const returned = q.tables[q.returns]!;
  const key = `rls:${sender.toString(16)}|${q.planKey}`;
  return finishQuery(q.sql, { tables: [returned], joinCols: undefined, returns: 0, where: TRUE }, { kind: 'query', key, sql, bind, reads: [...reads] });
}

/** `p` (over one table, side 0) moved to `side`. */
function onSide(p: Pred, side: Side): Pred {
  return mapSides(p, () => side);
}

/** `p` with the FROM and JOIN sides swapped. */
function flip(p: Pred): Pred {
  return mapSides(p, (s) => (s === 0 ? 1 : 0));
}

function mapSides(p: Pred, f: (s: Side) => Side): Pred {
  switch (p.kind) {
    case 'const':
      return p;
    case 'cmp':
      return { ...p, side: f(p.side) };
    case 'cols':
      return { ...p, left: f(p.left), right: f(p.right) };
    case 'and':
    case 'or':
      return { kind: p.kind, clauses: p.clauses.map((c) => mapSides(c, f)) };
    case 'not':
      return { kind: 'not', clause: mapSides(p.clause, f) };
  }
}
