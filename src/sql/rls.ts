// Row-level security's one source of truth: the module's `clientVisibilityFilter` rules, parsed
// once per module instance and bound per reader (`:sender`), and the SQLite source that keeps
// only the rows some rule returns. Ad-hoc SQL reads through `rlsSource`; subscriptions rewrite
// their queries from the same bound rules (src/subscriptions/rls.ts).
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import { ROW_ID } from '../datastore/layout.ts';
import { SqlError } from '../errors.ts';
import type { Host } from '../host/host.ts';
import type { SubscriptionQuery } from './ast.ts';
import { parseSubscriptionQuery } from './parser.ts';
import { bindRelation, relationSql, type Relation } from './relation.ts';

interface ParsedRule {
  readonly sql: string;
  readonly ast: SubscriptionQuery;
  /** Source name of the table the rule returns. */
  readonly table: string;
}

const parsed = new WeakMap<Host, ParsedRule[]>();

/** The module's rules, parsed once per module instance. */
function rulesOf(host: Host): ParsedRule[] {
  let rules = parsed.get(host);
  if (!rules) {
    rules = host.schema.rls.map((sql) => {
      const ast = parseSubscriptionQuery(sql);
      return { sql, ast, table: host.datastore.tableByName(ast.returns.name)?.def.name ?? ast.returns.name };
    });
    parsed.set(host, rules);
  }
  return rules;
}

/** True when the module has row-level-security rules at all. */
export function hasRules(host: Host): boolean {
  return host.schema.rls.length > 0;
}

/**
 * The rules that return `table`, bound for `sender` (as the owner reads: no row-level security
 * inside a rule). Views have none (they bypass rules, as in SpacetimeDB). A rule that no longer
 * binds is INVALID_RLS_RULE quoting it; UNSUPPORTED errors pass through as they are.
 */
export function ruleRelations(host: Host, table: StoreTable, sender: bigint): Relation[] {
  if (table.def.view) return [];
  const out: Relation[] = [];
  for (const rule of rulesOf(host)) {
    if (rule.table !== table.def.name) continue;
    try {
      out.push(bindRelation({ host, sender, access: 'rule' }, rule.ast, { requireIndex: false }));
    } catch (e) {
      if (e instanceof SqlError && e.code === 'UNSUPPORTED') throw e;
      throw new SqlError('INVALID_RLS_RULE', `row-level security rule ${JSON.stringify(rule.sql)} cannot be applied: ${(e as Error).message}`, { rule: rule.sql });
    }
  }
  return out;
}

/**
 * The SQLite source of `table` for a reader its `rules` restrict: the table itself without rules,
 * else the subquery of its rows some rule returns (rules OR'ed; their literals appended to
 * `bind`; `alias` keeps the rules' own aliases apart from the query's).
 */
export function rlsSource(table: StoreTable, rules: readonly Relation[], alias: string, bind: SqlValue[]): string {
  if (rules.length === 0) return table.sqlName;
  const parts = rules.map((r, k) => {
    const a = `${alias}_${k}_`;
    const from = relationSql(
      r,
      a,
      r.tables.map((t) => t.sqlName),
      bind,
    );
    return `${ROW_ID} IN (SELECT ${a}${r.returns}.${ROW_ID} FROM ${from})`;
  });
  return `(SELECT * FROM ${table.sqlName} WHERE ${parts.join(' OR ')})`;
}

/**
 * Checks every rule of the module against its schema (tables, columns, literal types) without
 * reading data. Throws SqlError INVALID_RLS_RULE quoting the rule when one is invalid.
 */
export function validateRules(host: Host, owner: bigint): void {
  for (const sql of host.schema.rls) {
    try {
      bindRelation({ host, sender: owner, access: 'rule' }, parseSubscriptionQuery(sql), { requireIndex: false });
    } catch (e) {
      throw new SqlError('INVALID_RLS_RULE', `row-level security rule ${JSON.stringify(sql)} is invalid: ${(e as Error).message}`, { rule: sql });
    }
  }
}
