// Recursive-descent parser for SpacetimeDB's SQL dialects (`crates/sql-parser`): the ad-hoc
// dialect (`parseSql`) and the subscription dialect (`parseSubscriptionQuery`). Unparseable text is
// a PARSE_ERROR with its position; valid SQL outside the dialect is UNSUPPORTED, naming the construct.

import type {
  AndPredicate,
  Assignment,
  ColumnEquality,
  ColumnRef,
  CompareOp,
  CountProjection,
  DeleteStatement,
  InsertStatement,
  IntLiteral,
  Join,
  Literal,
  Operand,
  OrPredicate,
  Predicate,
  ProjectedColumn,
  Projection,
  SelectStatement,
  SetStatement,
  ShowStatement,
  Span,
  StarProjection,
  Statement,
  SubscriptionQuery,
  TableRef,
  UpdateStatement,
} from './ast.ts';
import { SqlError } from '../errors.ts';
import { lineColumn, parseError, tokenize, unsupported } from './lexer.ts';
import type { Token } from './lexer.ts';

/**
 * Parses one statement of SpacetimeDB's ad-hoc SQL dialect: SELECT (with joins, WHERE, LIMIT,
 * COUNT(*)), INSERT, UPDATE, DELETE, SET and SHOW. A trailing `;` is allowed.
 *
 * @throws SqlError `PARSE_ERROR` (with `details.line`, `column`, `offset`, `found`) for text that
 *   does not parse; `UNSUPPORTED` (with `details.construct`) for valid SQL outside the dialect,
 *   such as ORDER BY, LIKE, functions other than COUNT(*), or unqualified columns in a join.
 * @example
 * const stmt = parseSql('SELECT * FROM "person" WHERE "person"."age" >= 18');
 * stmt.kind; // 'select'
 * stmt.kind === 'select' && stmt.where?.kind; // 'compare'
 */
export function parseSql(sql: string): Statement {
  return new Parser(sql).parse();
}

/**
 * Parses a query of the subscription dialect (also used by views returning SQL and by RLS):
 * `SELECT * | t.* FROM t [[AS] a] [[INNER] JOIN t2 [[AS] b] ON a.col = b.col] [WHERE pred]`.
 * Checks that need the schema (tables and columns exist, join columns are indexed, types) are
 * the caller's.
 *
 * @throws SqlError `UNSUPPORTED` for anything the dialect refuses ("Subscriptions must be typed
 *   to a single table", "LIMIT is not supported in subscriptions", "Subscriptions support at most
 *   two tables", DML, ...); `UNKNOWN_TABLE` when `t.*` names no table of the query; and the
 *   errors of {@link parseSql}.
 * @example
 * const q = parseSubscriptionQuery('SELECT "r".* FROM "l" JOIN "r" ON "l"."id" = "r"."lid"');
 * q.returns.name; // 'r'
 */
export function parseSubscriptionQuery(sql: string): SubscriptionQuery {
  const parser = new Parser(sql);
  const first = parser.peek();
  if (first.type === 'word' && first.upper !== 'SELECT' && first.upper !== 'WITH' && STATEMENTS.has(first.upper)) {
    throw notSelect(sql, first.start, first.upper);
  }
  const stmt = parser.parse();
  if (stmt.kind !== 'select') throw notSelect(sql, stmt.span.start, stmt.kind.toUpperCase());
  return checkSubscription(sql, stmt);
}

// ---------------------------------------------------------------------------------------------

/** Words that are never bare identifiers (quote them to use them as names). */
const RESERVED: ReadonlySet<string> = new Set([
  'ALL',
  'AND',
  'ANY',
  'AS',
  'ASC',
  'BETWEEN',
  'BY',
  'CASE',
  'CROSS',
  'DESC',
  'DISTINCT',
  'ELSE',
  'END',
  'EXCEPT',
  'EXISTS',
  'FALSE',
  'FETCH',
  'FOR',
  'FROM',
  'FULL',
  'GROUP',
  'HAVING',
  'ILIKE',
  'IN',
  'INNER',
  'INTERSECT',
  'INTO',
  'IS',
  'JOIN',
  'LEFT',
  'LIKE',
  'LIMIT',
  'NATURAL',
  'NOT',
  'NULL',
  'OFFSET',
  'ON',
  'OR',
  'ORDER',
  'OUTER',
  'RETURNING',
  'RIGHT',
  'SELECT',
  'SIMILAR',
  'THEN',
  'TRUE',
  'UNION',
  'USING',
  'VALUES',
  'WHEN',
  'WHERE',
  'WINDOW',
  'WITH',
]);

/** First words of statements: the dialect's own and others it refuses by name. */
const STATEMENTS: ReadonlySet<string> = new Set([
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'SET',
  'SHOW',
  'CREATE',
  'DROP',
  'ALTER',
  'TRUNCATE',
  'BEGIN',
  'START',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'EXPLAIN',
  'ANALYZE',
  'GRANT',
  'REVOKE',
  'COPY',
  'MERGE',
  'UPSERT',
  'REPLACE',
  'CALL',
  'PREPARE',
  'EXECUTE',
  'DEALLOCATE',
  'LOCK',
  'VACUUM',
  'PRAGMA',
  'ATTACH',
  'DETACH',
  'USE',
  'DESCRIBE',
  'TABLE',
  'VALUES',
  'WITH',
  'DECLARE',
  'LISTEN',
  'NOTIFY',
  'RESET',
]);

const COMPARE_OPS: Readonly<Record<string, CompareOp>> = {
  '=': 'eq',
  '!=': 'ne',
  '<>': 'ne',
  '<': 'lt',
  '<=': 'lte',
  '>': 'gt',
  '>=': 'gte',
};

/** Deepest nesting of parentheses and NOTs; deeper input is refused rather than overflowing the stack. */
const MAX_DEPTH = 256;

const EXPECT_STATEMENT = 'a statement (SELECT, INSERT, UPDATE, DELETE, SET or SHOW)';

class Parser {
  readonly sql: string;
  private readonly tokens: Token[];
  private readonly last: number;
  private i = 0;
  /** End offset of the last token consumed: where a node's span ends. */
  private lastEnd = 0;
  private depth = 0;

  constructor(sql: string) {
    this.sql = sql;
    this.tokens = tokenize(sql);
    this.last = this.tokens.length - 1;
  }

  parse(): Statement {
    const stmt = this.statement();
    let semicolon = false;
    while (this.eatOp(';')) semicolon = true;
    const t = this.peek();
    if (t.type !== 'eof') {
      if (semicolon) {
        throw unsupported(this.sql, t.start, 'multiple statements', {
          message: 'Multiple SQL statements are not supported',
          hint: 'send one statement at a time',
        });
      }
      // Statement parsers call end() themselves; reaching here means a token they did not expect.
      throw this.expected('end of statement');
    }
    return stmt;
  }

  // --- statements ------------------------------------------------------------------------------

  private statement(): Statement {
    const t = this.peek();
    if (t.type === 'word') {
      switch (t.upper) {
        case 'SELECT':
          return this.select();
        case 'INSERT':
          return this.insert();
        case 'UPDATE':
          return this.update();
        case 'DELETE':
          return this.delete();
        case 'SET':
          return this.set();
        case 'SHOW':
          return this.show();
        case 'WITH':
          throw unsupported(this.sql, t.start, 'WITH', {
            message: 'WITH (common table expressions) is not supported by SpacetimeDB SQL',
          });
        default:
          if (STATEMENTS.has(t.upper)) {
            throw unsupported(this.sql, t.start, `${t.upper} statement`, {
              message: `${t.upper} statements are not supported by SpacetimeDB SQL`,
              hint: 'it runs SELECT, INSERT, UPDATE, DELETE, SET and SHOW; the schema comes from the module',
            });
          }
      }
    }
    if (this.atOp('(') && this.atKw('SELECT', 1)) throw this.unsupportedAt(t, 'parenthesized query');
    throw this.expected(EXPECT_STATEMENT);
  }

  private select(): SelectStatement {
    const start = this.next().start;
    if (this.atKw('DISTINCT')) throw this.unsupportedAt(this.peek(), 'DISTINCT', 'remove duplicates on the client');
    this.eatKw('ALL');
    const projection = this.projection();
    if (!this.atKw('FROM')) {
      this.rejectClause('select');
      throw this.expected('FROM', this.peek().type === 'eof' ? 'a FROM clause is required' : undefined);
    }
    this.next();
    const from = this.tableRef(true);
    const joins: Join[] = [];
    for (;;) {
      const t = this.peek();
      if (t.type === 'op' && t.text === ',') {
        throw unsupported(this.sql, t.start, 'implicit join', {
          message: 'Implicit joins are not supported',
          hint: 'write FROM a JOIN b ON a.x = b.y',
        });
      }
      if (t.type !== 'word') break;
      if (t.upper === 'JOIN') {
        this.next();
        joins.push(this.join(t.start, true));
      } else if (t.upper === 'INNER' || t.upper === 'CROSS') {
        this.next();
        this.expectKw('JOIN');
        joins.push(this.join(t.start, t.upper === 'INNER'));
      } else if (t.upper === 'LEFT' || t.upper === 'RIGHT' || t.upper === 'FULL' || t.upper === 'NATURAL') {
        throw this.unsupportedAt(t, `${t.upper} JOIN`, 'only inner joins are supported');
      } else {
        break;
      }
    }
    let where: Predicate | null = null;
    if (this.eatKw('WHERE')) where = this.predicate();
    let limit: IntLiteral | null = null;
    if (this.eatKw('LIMIT')) limit = this.limit();
    const expected = limit !== null ? 'end of statement' : where !== null ? 'AND, OR, LIMIT or end of statement' : 'JOIN, WHERE, LIMIT or end of statement';
    this.end('select', expected);
    const stmt: SelectStatement = { kind: 'select', projection, from, joins, where, limit, span: this.span(start) };
    if (joins.length > 0) this.requireQualified(stmt);
    return stmt;
  }

  private insert(): InsertStatement {
    const start = this.next().start;
    this.expectKw('INTO');
    const table = this.tableRef(false);
    if (this.atKw('DEFAULT')) throw this.unsupportedAt(this.peek(), 'DEFAULT VALUES', 'list the rows with VALUES (...)');
    this.rejectAlias('INSERT', 'VALUES');
    let columns: ColumnRef[] | null = null;
    if (this.atOp('(') && !this.atKw('SELECT', 1)) {
      this.next();
      columns = [];
      do columns.push(this.bareColumn());
      while (this.eatOp(','));
      this.expectOp(')', "',' or ')'");
    }
    const t = this.peek();
    if (this.atKw('SELECT') || this.atKw('WITH') || (this.atOp('(') && this.atKw('SELECT', 1))) {
      throw this.unsupportedAt(t, 'INSERT ... SELECT', 'list the rows with VALUES (...)');
    }
    this.expectKw('VALUES', columns === null ? "'(' column list or VALUES" : 'VALUES');
    const rows: Literal[][] = [];
    do {
      this.expectOp('(', "'(' to start a row of values");
      const row: Literal[] = [];
      do row.push(this.literal('INSERT values'));
      while (this.eatOp(','));
      this.expectOp(')', "',' or ')'");
      rows.push(row);
    } while (this.eatOp(','));
    this.end('insert', 'end of statement');
    return { kind: 'insert', table, columns, rows, span: this.span(start) };
  }

  private update(): UpdateStatement {
    const start = this.next().start;
    const table = this.tableRef(false);
    this.rejectAlias('UPDATE', 'SET');
    if (!this.atKw('SET')) {
      this.rejectClause('update');
      throw this.expected('SET');
    }
    this.next();
    if (this.atOp('(')) {
      throw unsupported(this.sql, this.peek().start, 'tuple assignment', {
        message: 'Assigning a tuple of columns (SET (a, b) = ...) is not supported by SpacetimeDB SQL',
        hint: 'write SET a = 1, b = 2',
      });
    }
    const assignments: Assignment[] = [];
    do {
      const column = this.bareColumn();
      this.expectOp('=');
      const value = this.literal('UPDATE values');
      assignments.push({ column, value, span: { start: column.span.start, end: value.span.end } });
    } while (this.eatOp(','));
    let where: Predicate | null = null;
    if (this.eatKw('WHERE')) where = this.predicate();
    this.end('update', where !== null ? 'AND, OR or end of statement' : "',', WHERE or end of statement");
    return { kind: 'update', table, assignments, where, span: this.span(start) };
  }

  private delete(): DeleteStatement {
    const start = this.next().start;
    if (!this.atKw('FROM')) throw this.expected('FROM', 'write DELETE FROM t [WHERE ...]');
    this.next();
    const table = this.tableRef(false);
    this.rejectAlias('DELETE', 'WHERE');
    if (this.atOp(',')) {
      throw unsupported(this.sql, this.peek().start, 'multi-table DELETE', { message: 'Multi-table DELETE is not supported' });
    }
    let where: Predicate | null = null;
    if (this.eatKw('WHERE')) where = this.predicate();
    this.end('delete', where !== null ? 'AND, OR or end of statement' : 'WHERE or end of statement');
    return { kind: 'delete', table, where, span: this.span(start) };
  }

  private set(): SetStatement {
    const start = this.next().start;
    const name = this.simpleName('a variable name');
    if (!this.eatOp('=') && !this.eatKw('TO')) throw this.expected("'=' or TO");
    const value = this.literal('SET values');
    this.end('set', 'end of statement');
    return { kind: 'set', name, value, span: this.span(start) };
  }

  private show(): ShowStatement {
    const start = this.next().start;
    const name = this.simpleName('a variable name');
    this.end('show', 'end of statement');
    return { kind: 'show', name, span: this.span(start) };
  }

  /** At the end of a statement: `;` or end of input, else the construct found is refused or reported. */
  private end(kind: Statement['kind'], expected: string): void {
    const t = this.peek();
    if (t.type === 'eof' || (t.type === 'op' && t.text === ';')) return;
    this.rejectClause(kind);
    throw this.expected(expected);
  }

  /** Throws UNSUPPORTED if the current token starts a clause SpacetimeDB lacks; returns otherwise. */
  private rejectClause(kind: Statement['kind']): void {
    const t = this.peek();
    if (t.type !== 'word') return;
    const dml = kind === 'select' ? null : kind.toUpperCase();
    switch (t.upper) {
      case 'ORDER':
        throw this.unsupportedAt(t, 'ORDER BY', 'sort the rows on the client');
      case 'GROUP':
        throw this.unsupportedAt(t, 'GROUP BY', 'the only aggregate is COUNT(*) over the whole result');
      case 'HAVING':
        throw this.unsupportedAt(t, 'HAVING');
      case 'OFFSET':
        throw this.unsupportedAt(t, 'OFFSET', 'LIMIT alone is supported');
      case 'UNION':
      case 'INTERSECT':
      case 'EXCEPT':
      case 'MINUS':
        throw this.unsupportedAt(t, t.upper, 'run the queries separately');
      case 'FETCH':
        throw this.unsupportedAt(t, 'FETCH', 'use LIMIT n');
      case 'FOR':
        throw this.unsupportedAt(t, 'FOR UPDATE', 'statements run in their own transaction');
      case 'WINDOW':
        throw this.unsupportedAt(t, 'WINDOW');
      case 'RETURNING':
        throw this.unsupportedAt(t, 'RETURNING');
      case 'ON':
        if (kind === 'insert') throw this.unsupportedAt(t, 'ON CONFLICT');
        return;
      case 'LIMIT':
        if (dml !== null) throw this.unsupportedAt(t, `LIMIT in ${dml}`);
        return;
      case 'FROM':
        if (kind === 'update') throw this.unsupportedAt(t, 'UPDATE ... FROM', 'UPDATE takes one table and no joins');
        return;
      case 'USING':
        if (kind === 'delete') throw this.unsupportedAt(t, 'DELETE ... USING', 'DELETE takes one table and no joins');
        return;
      case 'JOIN':
      case 'INNER':
      case 'CROSS':
      case 'LEFT':
      case 'RIGHT':
      case 'FULL':
      case 'NATURAL':
        if (dml !== null) throw this.unsupportedAt(t, `JOIN in ${dml}`, `${dml} takes one table and no joins`);
        return;
      default:
        return;
    }
  }

  // --- relations and projections -------------------------------------------------------------

  /**
   * A table name with, if `aliasAllowed`, an optional `[AS] alias`. A name of several parts
   * (`lib.lib_data`, `"lib"."lib_data"`) is one name joined with dots, as SpacetimeDB names the
   * tables of a submodule mounted as `lib`; it is also the default alias.
   */
  private tableRef(aliasAllowed: boolean): TableRef {
    const t = this.peek();
    if (t.type === 'op' && t.text === '(' && this.atKw('SELECT', 1)) throw this.unsupportedAt(t, 'subquery');
    const parts = [this.ident('a table name').text];
    while (this.atOp('.')) {
      this.next();
      parts.push(this.nameAfterDot('a table name after').text);
    }
    const name = { text: parts.join('.') };
    if (aliasAllowed && this.atOp('(')) throw this.unsupportedAt(t, 'table function');
    let alias = name.text;
    if (aliasAllowed) {
      const before = this.i;
      if (this.eatKw('AS')) alias = this.ident('an alias').text;
      else if (this.isIdent(this.peek())) alias = this.next().text;
      if (this.i !== before && this.atOp('(')) throw this.unsupportedAt(this.peek(), 'table alias column list');
    }
    return { kind: 'table', name: name.text, alias, span: this.span(t.start) };
  }

  /**
   * Refuses `t AS a` / `t a` after a DML target. A bare word counts as an alias only when `follow`
   * (the keyword the statement continues with) or the end comes after it, so that `UPDATE t a = 1`
   * reports the missing SET instead.
   */
  private rejectAlias(statement: string, follow: string): void {
    const t = this.peek();
    const n = this.peek(1);
    const followed = this.atKw(follow, 1) || n.type === 'eof' || (n.type === 'op' && (n.text === ';' || (n.text === '(' && follow === 'VALUES')));
    const aliasLike = this.isIdent(t) && !(t.type === 'word' && t.upper === follow) && followed;
    if (this.atKw('AS') || aliasLike) {
      throw this.unsupportedAt(t, `table alias in ${statement}`, `${statement} takes a bare table name`);
    }
  }

  private join(start: number, onAllowed: boolean): Join {
    const table = this.tableRef(true);
    let on: Predicate | null = null;
    if (onAllowed && this.eatKw('ON')) on = this.predicate();
    else if (this.atKw('USING')) {
      throw unsupported(this.sql, this.peek().start, 'JOIN ... USING', {
        message: 'Non-column join constraints (USING) are not supported',
        hint: 'write JOIN t ON a.x = b.y',
      });
    }
    return { kind: 'join', table, on, span: this.span(start) };
  }

  private projection(): Projection {
    const start = this.peek().start;
    const columns: ProjectedColumn[] = [];
    let star: StarProjection | null = null;
    let count: CountProjection | null = null;
    let items = 0;
    do {
      const t = this.peek();
      items++;
      if (t.type === 'op' && t.text === '*') {
        this.next();
        star ??= { kind: 'star', table: null, span: this.span(t.start) };
      } else if (this.qualifiedStarAt() > 0) {
        const parts = this.qualifiedStarAt();
        const table = Array.from({ length: parts }, (_, k) => this.tokens[this.i + 2 * k]!.text).join('.');
        this.i += 2 * parts + 1;
        this.lastEnd = this.tokens[this.i - 1]!.end;
        star ??= { kind: 'star', table, span: this.span(t.start) };
      } else if (t.type === 'word' && this.atOp('(', 1)) {
        if (t.upper !== 'COUNT') throw this.functionUnsupported(t);
        count ??= this.count();
      } else if (this.isIdent(t)) {
        const column = this.columnRef();
        this.rejectOperator();
        let alias = column.column;
        if (this.eatKw('AS')) alias = this.ident('an alias').text;
        else if (this.isIdent(this.peek())) alias = this.next().text;
        columns.push({ column, alias, span: this.span(t.start) });
      } else if (opensExpression(t)) {
        throw this.unsupportedAt(t, 'expression in projection', 'select *, t.*, columns or COUNT(*)');
      } else {
        throw this.expected('a projection (*, t.*, columns or COUNT(*))');
      }
    } while (this.eatOp(','));
    if (items > 1 && star !== null) {
      throw unsupported(this.sql, star.span.start, 'mixed wildcard projection', {
        message: 'Mixed wildcard projections are not supported',
        hint: 'select * or t.* alone, or list the columns',
      });
    }
    if (items > 1 && count !== null) {
      throw unsupported(this.sql, count.span.start, 'COUNT(*) with other projections', {
        message: 'COUNT(*) must be the only projection',
      });
    }
    return star ?? count ?? { kind: 'columns', columns, span: this.span(start) };
  }

  /** `COUNT(*) [[AS] alias]`, at COUNT. */
  private count(): CountProjection {
    const t = this.next();
    this.next(); // (
    if (!(this.atOp('*') && this.atOp(')', 1))) {
      throw this.atKw('DISTINCT') ? this.unsupportedAt(t, 'COUNT(DISTINCT ...)') : this.unsupportedAt(t, 'COUNT(column)', 'use COUNT(*) with a WHERE clause');
    }
    this.i += 2;
    this.lastEnd = this.tokens[this.i - 1]!.end;
    let alias = 'count';
    if (this.eatKw('AS')) alias = this.ident('an alias').text;
    else if (this.isIdent(this.peek())) alias = this.next().text;
    return { kind: 'count', alias, span: this.span(t.start) };
  }

  private limit(): IntLiteral {
    const t = this.peek();
    if (t.type === 'number' && !t.float) {
      this.next();
      return { kind: 'int', text: t.text, span: { start: t.start, end: t.end } };
    }
    if (t.type === 'eof' || (t.type === 'op' && t.text === ';')) throw this.expected('a number after LIMIT');
    throw this.unsupportedAt(t, 'LIMIT expression', 'LIMIT takes a non-negative integer literal');
  }

  // --- predicates ----------------------------------------------------------------------------

  private predicate(): Predicate {
    return this.or();
  }

  private or(): Predicate {
    const first = this.and();
    if (!this.atKw('OR')) return first;
    const clauses: Predicate[] = [];
    push(clauses, first, 'or');
    while (this.eatKw('OR')) push(clauses, this.and(), 'or');
    const node: OrPredicate = { kind: 'or', clauses, span: this.span(first.span.start) };
    return node;
  }

  private and(): Predicate {
    const first = this.not();
    if (!this.atKw('AND')) return first;
    const clauses: Predicate[] = [];
    push(clauses, first, 'and');
    while (this.eatKw('AND')) push(clauses, this.not(), 'and');
    const node: AndPredicate = { kind: 'and', clauses, span: this.span(first.span.start) };
    return node;
  }

  private not(): Predicate {
    const t = this.peek();
    if (!(t.type === 'word' && t.upper === 'NOT')) return this.primary();
    this.next();
    if (this.atKw('EXISTS')) throw this.unsupportedAt(this.peek(), 'EXISTS');
    this.enter();
    const clause = this.not();
    this.depth--;
    return { kind: 'not', clause, span: this.span(t.start) };
  }

  private primary(): Predicate {
    const t = this.peek();
    if (t.type === 'op' && t.text === '(' && !this.atKw('SELECT', 1)) {
      this.next();
      this.enter();
      const inner = this.or();
      this.expectOp(')', "AND, OR or ')'");
      this.depth--;
      if (inner.kind === 'value') {
        // `(a) = 1`: a parenthesized operand may still be compared.
        this.rejectOperator();
        if (this.atCompare()) return this.comparison(inner.operand, t.start);
      }
      return { ...inner, span: this.span(t.start) };
    }
    const left = this.operand();
    return this.atCompare() ? this.comparison(left, left.span.start) : { kind: 'value', operand: left, span: left.span };
  }

  private comparison(left: Operand, start: number): Predicate {
    const op = COMPARE_OPS[this.next().text] ?? 'eq';
    const right = this.operand();
    return { kind: 'compare', op, left, right, span: this.span(start) };
  }

  private atCompare(): boolean {
    const t = this.peek();
    return t.type === 'op' && COMPARE_OPS[t.text] !== undefined;
  }

  // --- operands ------------------------------------------------------------------------------

  /** A column, literal or `:sender`, refusing an operator SpacetimeDB lacks right after it. */
  private operand(): Operand {
    const operand = this.operandOnly();
    this.rejectOperator();
    return operand;
  }

  private operandOnly(): Operand {
    const t = this.peek();
    switch (t.type) {
      case 'number':
        this.next();
        return { kind: t.float ? 'float' : 'int', text: t.text, span: { start: t.start, end: t.end } };
      case 'string':
        this.next();
        return { kind: 'string', value: t.text, text: this.sql.slice(t.start, t.end), span: { start: t.start, end: t.end } };
      case 'hex':
        this.next();
        return { kind: 'hex', digits: t.text, text: this.sql.slice(t.start, t.end), span: { start: t.start, end: t.end } };
      case 'param':
        if (t.text !== 'sender') {
          throw unsupported(this.sql, t.start, `parameter :${t.text}`, {
            message: `The parameter :${t.text} is not supported`,
            hint: 'the only parameter is :sender',
          });
        }
        this.next();
        return { kind: 'param', name: 'sender', span: { start: t.start, end: t.end } };
      case 'ident':
        return this.columnRef();
      case 'word':
        switch (t.upper) {
          case 'TRUE':
          case 'FALSE':
            this.next();
            return { kind: 'bool', value: t.upper === 'TRUE', text: t.text, span: { start: t.start, end: t.end } };
          case 'NULL':
            this.next();
            return { kind: 'null', text: t.text, span: { start: t.start, end: t.end } };
          case 'CASE':
          case 'EXISTS':
          case 'INTERVAL':
          case 'ARRAY':
            throw this.unsupportedAt(t, t.upper);
          default:
            break;
        }
        if (this.atOp('(', 1)) throw this.functionUnsupported(t);
        if (this.peek(1).type === 'string' && !RESERVED.has(t.upper)) {
          throw this.unsupportedAt(t, `typed literal (${t.upper} '...')`, {
            message: `Typed literals (${t.upper} '...') are not supported by SpacetimeDB SQL`,
            hint: "write a plain '...' string: the column gives the type",
          });
        }
        if (this.isIdent(t)) return this.columnRef();
        break;
      case 'op':
        if (t.text === '-' || t.text === '+') {
          const n = this.peek(1);
          if (n.type !== 'number') throw this.unsupportedAt(t, 'arithmetic');
          this.i += 2;
          this.lastEnd = n.end;
          return { kind: n.float ? 'float' : 'int', text: t.text + n.text, span: { start: t.start, end: n.end } };
        }
        if (t.text === '(') {
          if (this.atKw('SELECT', 1)) throw this.unsupportedAt(t, 'subquery');
          this.next();
          this.enter();
          const inner = this.operand();
          this.expectOp(')');
          this.depth--;
          return inner;
        }
        break;
      default:
        break;
    }
    throw this.expected('a column, literal or :sender');
  }

  /** A literal for INSERT, UPDATE or SET; `context` names where, for the message. */
  private literal(context: string): Literal {
    const t = this.peek();
    if (t.type === 'word' && t.upper === 'DEFAULT') throw this.unsupportedAt(t, 'DEFAULT', 'give every column a value');
    const value = this.operand();
    if (value.kind === 'column') {
      throw unsupported(this.sql, value.span.start, 'non-literal value', {
        message: `${context} must be literals, found the column ${value.table === null ? '' : `${value.table}.`}${value.column}`,
      });
    }
    if (value.kind === 'param') {
      throw unsupported(this.sql, value.span.start, ':sender outside a condition', {
        message: `${context} must be literals: :sender is only allowed in WHERE and ON conditions`,
      });
    }
    return value;
  }

  /** `col`, `t.col`, or `ns.t.col` (the last part is the column, the rest the table's name or alias). */
  private columnRef(): ColumnRef {
    const first = this.ident('a column name');
    if (!this.atOp('.')) return { kind: 'column', table: null, column: first.text, span: { start: first.start, end: first.end } };
    const parts = [first.text];
    let last = first;
    while (this.atOp('.')) {
      this.next();
      last = this.nameAfterDot('a column name after');
      parts.push(last.text);
    }
    return { kind: 'column', table: parts.slice(0, -1).join('.'), column: last.text, span: { start: first.start, end: last.end } };
  }

  /** Any word after a dot is a name, keywords too (`transfer_log.from`), as in SpacetimeDB. */
  private nameAfterDot(what: string): Token {
    return this.peek().type === 'word' ? this.next() : this.ident(what);
  }

  /** At `a.*` or `a.b.*`: how many name parts come before the `.*` (0 when not there). */
  private qualifiedStarAt(): number {
    if (!this.isIdent(this.peek())) return 0;
    for (let k = 1; this.atOp('.', 2 * k - 1); k++) {
      if (this.atOp('*', 2 * k)) return k;
      const t = this.peek(2 * k);
      if (t.type !== 'word' && t.type !== 'ident') return 0;
    }
    return 0;
  }

  /** An unqualified column name (INSERT column list, UPDATE target). */
  private bareColumn(): ColumnRef {
    const column = this.columnRef();
    if (column.table !== null) {
      throw unsupported(this.sql, column.span.start, 'multi-part name', {
        message: `Multi-part names are not supported: write ${column.column} instead of ${column.table}.${column.column}`,
      });
    }
    return column;
  }

  /** A one-part name (SET/SHOW variable). */
  private simpleName(what: string): string {
    const t = this.ident(what);
    if (this.atOp('.')) {
      throw unsupported(this.sql, t.start, 'multi-part name', { message: 'Multi-part names are not supported' });
    }
    return t.text;
  }

  /** Throws UNSUPPORTED if an operator outside the dialect follows (arithmetic, LIKE, IN, IS, ...). */
  private rejectOperator(): void {
    const t = this.peek();
    if (t.type === 'op') {
      switch (t.text) {
        case '+':
        case '-':
        case '*':
        case '/':
        case '%':
        case '^':
          throw this.unsupportedAt(t, 'arithmetic');
        case '&':
        case '|':
        case '~':
          throw this.unsupportedAt(t, 'bitwise operators', { message: 'Bitwise operators are not supported by SpacetimeDB SQL' });
        case '||':
          throw this.unsupportedAt(t, 'string concatenation (||)');
        case '::':
          throw this.unsupportedAt(t, 'casts (::)', {
            message: 'Casts (::) are not supported by SpacetimeDB SQL',
            hint: 'the column gives the type',
          });
        case '[':
          throw this.unsupportedAt(t, 'array subscripts', { message: 'Array subscripts are not supported by SpacetimeDB SQL' });
        default:
          return;
      }
    }
    if (t.type !== 'word') return;
    let word = t.upper;
    if (word === 'NOT') {
      const n = this.peek(1);
      if (!(n.type === 'word' && NEGATABLE.has(n.upper))) return;
      word = `NOT ${n.upper}`;
    } else if (word === 'IS') {
      const n = this.peek(1);
      const m = this.peek(2);
      word = n.type !== 'word' ? 'IS' : n.upper === 'NOT' && m.type === 'word' ? `IS NOT ${m.upper}` : `IS ${n.upper}`;
    } else if (!NEGATABLE.has(word) && word !== 'COLLATE') {
      return;
    }
    throw this.unsupportedAt(t, word, OPERATOR_HINTS[word.replace('NOT ', '')]);
  }

  // --- tokens --------------------------------------------------------------------------------

  peek(k = 0): Token {
    const j = this.i + k;
    return this.tokens[Math.min(j, this.last)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.last) this.i++;
    this.lastEnd = t.end;
    return t;
  }

  private atKw(kw: string, k = 0): boolean {
    const t = this.peek(k);
    return t.type === 'word' && t.upper === kw;
  }

  private atOp(op: string, k = 0): boolean {
    const t = this.peek(k);
    return t.type === 'op' && t.text === op;
  }

  private eatKw(kw: string): boolean {
    if (!this.atKw(kw)) return false;
    this.next();
    return true;
  }

  private eatOp(op: string): boolean {
    if (!this.atOp(op)) return false;
    this.next();
    return true;
  }

  private expectKw(kw: string, expected: string = kw): Token {
    if (!this.atKw(kw)) throw this.expected(expected);
    return this.next();
  }

  private expectOp(op: string, expected = `'${op}'`): Token {
    if (!this.atOp(op)) throw this.expected(expected);
    return this.next();
  }

  private isIdent(t: Token): boolean {
    return t.type === 'ident' || (t.type === 'word' && !RESERVED.has(t.upper));
  }

  /** An identifier token (bare non-reserved word or quoted), for `what` (error text). */
  private ident(what: string): Token {
    const t = this.peek();
    if (this.isIdent(t)) return this.next();
    const hint = t.type === 'word' ? `${t.text} is a keyword: write "${t.text}" to use it as a name` : undefined;
    throw this.expected(what, hint);
  }

  private span(start: number): Span {
    return { start, end: this.lastEnd };
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) {
      throw parseError(this.sql, this.peek().start, `condition nested more than ${MAX_DEPTH} levels deep`);
    }
  }

  // --- errors --------------------------------------------------------------------------------

  private expected(what: string, hint?: string): SqlError {
    return parseError(this.sql, this.peek().start, `expected ${what}`, hint, { expected: what });
  }

  private unsupportedAt(t: Token, construct: string, hint?: string | { message?: string; hint?: string }): SqlError {
    return unsupported(this.sql, t.start, construct, typeof hint === 'string' ? { hint } : hint);
  }

  private functionUnsupported(t: Token): SqlError {
    const name = t.type === 'word' ? t.upper : t.text;
    return unsupported(this.sql, t.start, `${name}()`, {
      message: `The function ${name}() is not supported by SpacetimeDB SQL`,
      hint: 'the only function is COUNT(*), alone in the projection',
    });
  }

  /** With joins, SpacetimeDB requires every column reference to name its table. */
  private requireQualified(stmt: SelectStatement): void {
    let found: ColumnRef | null = null;
    if (stmt.projection.kind === 'columns') {
      for (const c of stmt.projection.columns) if (c.column.table === null) found ??= c.column;
    }
    for (const j of stmt.joins) if (j.on !== null) found ??= unqualified(j.on);
    if (stmt.where !== null) found ??= unqualified(stmt.where);
    if (found !== null) {
      throw unsupported(this.sql, found.span.start, 'unqualified column in a join', {
        message: 'Names must be qualified when using joins',
        hint: `write table.${found.column}`,
      });
    }
  }
}

/** Words that are operators SpacetimeDB lacks, also after NOT. */
const NEGATABLE: ReadonlySet<string> = new Set(['LIKE', 'ILIKE', 'SIMILAR', 'IN', 'BETWEEN']);

/** Whether `t` starts an expression other than a column (a literal, a sign, a parenthesis, CASE...). */
function opensExpression(t: Token): boolean {
  switch (t.type) {
    case 'number':
    case 'string':
    case 'hex':
    case 'param':
      return true;
    case 'op':
      return t.text === '(' || t.text === '-' || t.text === '+';
    case 'word':
      return t.upper === 'TRUE' || t.upper === 'FALSE' || t.upper === 'NULL' || t.upper === 'CASE' || t.upper === 'EXISTS';
    default:
      return false;
  }
}

const OPERATOR_HINTS: Readonly<Record<string, string>> = {
  IN: 'write a = 1 OR a = 2',
  BETWEEN: 'write a >= lo AND a <= hi',
  LIKE: 'filter the strings on the client',
  ILIKE: 'filter the strings on the client',
};

/** Appends `p` to an AND/OR list, splicing in a nested list of the same operator. */
function push(clauses: Predicate[], p: Predicate, kind: 'and' | 'or'): void {
  if (p.kind === kind) {
    for (const c of p.clauses) clauses.push(c);
  } else {
    clauses.push(p);
  }
}

/** The first unqualified column reference in `p`, or null. */
function unqualified(p: Predicate): ColumnRef | null {
  switch (p.kind) {
    case 'compare':
      if (p.left.kind === 'column' && p.left.table === null) return p.left;
      if (p.right.kind === 'column' && p.right.table === null) return p.right;
      return null;
    case 'value':
      return p.operand.kind === 'column' && p.operand.table === null ? p.operand : null;
    case 'not':
      return unqualified(p.clause);
    case 'and':
    case 'or':
      for (const c of p.clauses) {
        const found = unqualified(c);
        if (found !== null) return found;
      }
      return null;
  }
}

function notSelect(sql: string, offset: number, statement: string): SqlError {
  return unsupported(sql, offset, `${statement} in a subscription`, {
    message: `Subscriptions support only SELECT queries, not ${statement}`,
  });
}

/** Applies the subscription dialect's restrictions to a parsed SELECT. */
function checkSubscription(sql: string, s: SelectStatement): SubscriptionQuery {
  if (s.limit !== null) {
    throw unsupported(sql, s.limit.span.start, 'LIMIT in a subscription', {
      message: 'LIMIT is not supported in subscriptions',
      hint: 'subscribe to the rows and take as many as needed on the client',
    });
  }
  const join = s.joins[0];
  if (s.joins.length > 1) {
    throw unsupported(sql, s.joins[1]!.span.start, 'more than two tables in a subscription', {
      message: 'Subscriptions support at most two tables',
    });
  }
  const single = 'Subscriptions must be typed to a single table';
  const p = s.projection;
  if (p.kind === 'count') {
    throw unsupported(sql, p.span.start, 'COUNT(*) in a subscription', {
      message: single,
      hint: 'subscribe to the rows and count them on the client',
    });
  }
  if (p.kind === 'columns') {
    throw unsupported(sql, p.span.start, 'column projection in a subscription', {
      message: single,
      hint: 'select whole rows with * or t.*',
    });
  }
  if (join === undefined) {
    if (p.table !== null && p.table !== s.from.alias) throw unknownTable(sql, p, [s.from]);
    return { ...s, projection: p, joins: [], limit: null, returns: s.from };
  }
  if (p.table === null) {
    throw unsupported(sql, p.span.start, '* with a join in a subscription', {
      message: single,
      hint: `select the rows of one table: ${s.from.alias}.* or ${join.table.alias}.*`,
    });
  }
  if (join.table.alias === s.from.alias) {
    throw unsupported(sql, join.table.span.start, 'duplicate table alias', {
      message: join.table.name === s.from.name ? 'Self join requires aliases' : `Duplicate table alias ${join.table.alias}`,
      hint: `write FROM ${s.from.name} AS a JOIN ${join.table.name} AS b ON a.col = b.col`,
    });
  }
  const on = join.on;
  const how = 'ON a.col = b.col, with a column of each table; put other conditions in WHERE';
  if (on === null) {
    throw unsupported(sql, join.span.start, 'join without ON in a subscription', {
      message: 'Subscription joins need an ON condition',
      hint: how,
    });
  }
  if (on.kind !== 'compare' || on.op !== 'eq' || on.left.kind !== 'column' || on.right.kind !== 'column') {
    throw unsupported(sql, on.span.start, 'join condition in a subscription', {
      message: 'A subscription join condition must be a single equality of two columns',
      hint: how,
    });
  }
  const l = on.left.table;
  const r = on.right.table;
  const a = s.from.alias;
  const b = join.table.alias;
  if (!((l === a && r === b) || (l === b && r === a))) {
    throw unsupported(sql, on.span.start, 'join condition in a subscription', {
      message: 'A subscription join condition must compare a column of each table',
      hint: how,
    });
  }
  const returns = p.table === a ? s.from : p.table === b ? join.table : null;
  if (returns === null) throw unknownTable(sql, p, [s.from, join.table]);
  const subJoin = { ...join, on: on as ColumnEquality };
  return { ...s, projection: p, joins: [subJoin], limit: null, returns };
}

function unknownTable(sql: string, p: StarProjection, tables: readonly TableRef[]): SqlError {
  const { line, column } = lineColumn(sql, p.span.start);
  const names = tables.map((t) => t.alias).join(', ');
  const message = `${p.table ?? ''}.* names no table of the query (at ${line}:${column}): the tables are ${names}`;
  return new SqlError('UNKNOWN_TABLE', message, { table: p.table, line, column, offset: p.span.start });
}
