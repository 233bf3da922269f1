// Tests for the SQL tokenizer and parser: accepted statements against their expected ASTs (spans
// checked separately), every refused construct with its message, parse errors with positions,
// literals, the subscription dialect, and the exact values of numeric literals.

import { describe, expect, it } from 'vitest';
import { SqlError } from '../errors.ts';
import type { Literal, Operand, Predicate, SelectStatement, Statement } from './ast.ts';
import { tokenize } from './lexer.ts';
import { integerValue } from './numeric-literal.ts';
import { parseSql, parseSubscriptionQuery } from './parser.ts';

// --- builders for span-less expected ASTs ------------------------------------------------------

const col = (table: string | null, column: string) => ({ kind: 'column', table, column });
const int = (text: string) => ({ kind: 'int', text });
const float = (text: string) => ({ kind: 'float', text });
const str = (value: string, text = `'${value.replace(/'/g, "''")}'`) => ({ kind: 'string', value, text });
const bool = (value: boolean, text = value ? 'TRUE' : 'FALSE') => ({ kind: 'bool', value, text });
const hex = (digits: string, text: string) => ({ kind: 'hex', digits, text });
const sender = { kind: 'param', name: 'sender' };
const cmp = (op: string, left: unknown, right: unknown) => ({ kind: 'compare', op, left, right });
const and = (...clauses: unknown[]) => ({ kind: 'and', clauses });
const or = (...clauses: unknown[]) => ({ kind: 'or', clauses });
const not = (clause: unknown) => ({ kind: 'not', clause });
const value = (operand: unknown) => ({ kind: 'value', operand });
const table = (name: string, alias = name) => ({ kind: 'table', name, alias });
const star = (t: string | null = null) => ({ kind: 'star', table: t });
const join = (t: unknown, on: unknown = null) => ({ kind: 'join', table: t, on });
const select = (projection: unknown, from: unknown, rest: { joins?: unknown[]; where?: unknown; limit?: unknown } = {}) => ({
  kind: 'select',
  projection,
  from,
  joins: rest.joins ?? [],
  where: rest.where ?? null,
  limit: rest.limit ?? null,
});
const columns = (...cols: [unknown, string][]) => ({
  kind: 'columns',
  columns: cols.map(([column, alias]) => ({ column, alias })),
});

/** The node without its `span`s, for comparing shapes. */
function strip(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) if (k !== 'span') out[k] = strip(v);
  return out;
}

/** The SqlError `fn` throws (failing the test if it throws something else or nothing). */
function thrown(fn: () => unknown): SqlError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SqlError) return e;
    throw e;
  }
  throw new Error('expected a SqlError, nothing was thrown');
}

// --- accepted statements ----------------------------------------------------------------------

describe('parseSql: accepted statements', () => {
  const cases: [string, unknown][] = [
    // Submodule tables: a name of several parts is one name (the query builder quotes each part).
    [
      'SELECT "lib"."libData".* FROM "lib"."libData" WHERE "lib"."libData"."value" = \'x\'',
      select(star('lib.libData'), table('lib.libData'), { where: cmp('eq', col('lib.libData', 'value'), str('x')) }),
    ],
    ['SELECT * FROM lib.lib_data AS d WHERE d.id > 1', select(star(), table('lib.lib_data', 'd'), { where: cmp('gt', col('d', 'id'), int('1')) })],
    ['SELECT * FROM "lib.lib_data"', select(star(), table('lib.lib_data'))],
    ['SELECT a.b.c.* FROM a.b.c', select(star('a.b.c'), table('a.b.c'))],
    ['SELECT lib.t.id AS n FROM lib.t', select(columns([col('lib.t', 'id'), 'n']), table('lib.t'))],
    // The query builder's forms, verbatim.
    ['SELECT * FROM "person" WHERE "person"."age" >= 18', select(star(), table('person'), { where: cmp('gte', col('person', 'age'), int('18')) })],
    [
      'SELECT "r".* FROM "l" JOIN "r" ON "l"."id" = "r"."lid" WHERE ("r"."x" = 1)',
      select(star('r'), table('l'), {
        joins: [join(table('r'), cmp('eq', col('l', 'id'), col('r', 'lid')))],
        where: cmp('eq', col('r', 'x'), int('1')),
      }),
    ],
    [
      `SELECT * FROM "t" WHERE ("t"."a" = 1) AND ("t"."b" <> 'x') AND ("t"."c" > 2)`,
      select(star(), table('t'), {
        where: and(cmp('eq', col('t', 'a'), int('1')), cmp('ne', col('t', 'b'), str('x')), cmp('gt', col('t', 'c'), int('2'))),
      }),
    ],
    ['SELECT * FROM "t" WHERE NOT ("t"."a" = 1)', select(star(), table('t'), { where: not(cmp('eq', col('t', 'a'), int('1'))) })],
    [
      'SELECT * FROM "t" WHERE ("t"."a" < 1) OR ("t"."a" <= 2) OR ("t"."b" = NULL)',
      select(star(), table('t'), {
        where: or(cmp('lt', col('t', 'a'), int('1')), cmp('lte', col('t', 'a'), int('2')), cmp('eq', col('t', 'b'), { kind: 'null', text: 'NULL' })),
      }),
    ],
    ['SELECT * FROM "t" WHERE TRUE = TRUE', select(star(), table('t'), { where: cmp('eq', bool(true), bool(true)) })],
    ['SELECT * FROM "t" WHERE "t"."owner" = 0x00ff', select(star(), table('t'), { where: cmp('eq', col('t', 'owner'), hex('00ff', '0x00ff')) })],
    [`SELECT * FROM "t" WHERE "t"."at" >= '2025-02-10T15:45:30.123Z'`, select(star(), table('t'), { where: cmp('gte', col('t', 'at'), str('2025-02-10T15:45:30.123Z')) })],
    // Projections, aliases, joins, LIMIT.
    ['select a from t', select(columns([col(null, 'a'), 'a']), table('t'))],
    ['SELECT a, t.b AS bee, c cee FROM t', select(columns([col(null, 'a'), 'a'], [col('t', 'b'), 'bee'], [col(null, 'c'), 'cee']), table('t'))],
    ['SELECT COUNT(*) AS n FROM t', select({ kind: 'count', alias: 'n' }, table('t'))],
    ['select count ( * ) n from t', select({ kind: 'count', alias: 'n' }, table('t'))],
    ['SELECT COUNT(*) FROM t WHERE a = 1', select({ kind: 'count', alias: 'count' }, table('t'), { where: cmp('eq', col(null, 'a'), int('1')) })],
    ['SELECT * FROM t LIMIT 10', select(star(), table('t'), { limit: int('10') })],
    ['SELECT * FROM t WHERE a = 1 LIMIT 1e3;', select(star(), table('t'), { where: cmp('eq', col(null, 'a'), int('1')), limit: int('1e3') })],
    ['SELECT * FROM t AS x', select(star(), table('t', 'x'))],
    ['SELECT * FROM t x WHERE x.a = 1', select(star(), table('t', 'x'), { where: cmp('eq', col('x', 'a'), int('1')) })],
    ['SELECT ALL * FROM t', select(star(), table('t'))],
    [
      'SELECT a.* FROM t AS a INNER JOIN s AS b ON a.id = b.id JOIN u c ON b.x = c.y AND c.z > 0',
      select(star('a'), table('t', 'a'), {
        joins: [join(table('s', 'b'), cmp('eq', col('a', 'id'), col('b', 'id'))), join(table('u', 'c'), and(cmp('eq', col('b', 'x'), col('c', 'y')), cmp('gt', col('c', 'z'), int('0'))))],
      }),
    ],
    ['SELECT t.* FROM t JOIN s', select(star('t'), table('t'), { joins: [join(table('s'))] })],
    ['SELECT t.* FROM t CROSS JOIN s WHERE t.a = s.b', select(star('t'), table('t'), { joins: [join(table('s'))], where: cmp('eq', col('t', 'a'), col('s', 'b')) })],
    [
      'SELECT t.a AS x, s.b FROM t JOIN s ON t.id = s.id',
      select(columns([col('t', 'a'), 'x'], [col('s', 'b'), 'b']), table('t'), { joins: [join(table('s'), cmp('eq', col('t', 'id'), col('s', 'id')))] }),
    ],
    // Predicates: precedence, NOT, bare operands, literal on the left, parentheses.
    [
      'SELECT * FROM t WHERE a = 1 OR b = 2 AND c = 3',
      select(star(), table('t'), { where: or(cmp('eq', col(null, 'a'), int('1')), and(cmp('eq', col(null, 'b'), int('2')), cmp('eq', col(null, 'c'), int('3')))) }),
    ],
    [
      'SELECT * FROM t WHERE (a = 1 OR b = 2) AND c = 3',
      select(star(), table('t'), { where: and(or(cmp('eq', col(null, 'a'), int('1')), cmp('eq', col(null, 'b'), int('2'))), cmp('eq', col(null, 'c'), int('3'))) }),
    ],
    ['SELECT * FROM t WHERE NOT a = 1 AND NOT NOT b != 2', select(star(), table('t'), { where: and(not(cmp('eq', col(null, 'a'), int('1'))), not(not(cmp('ne', col(null, 'b'), int('2'))))) })],
    ['SELECT * FROM t WHERE 5 < a', select(star(), table('t'), { where: cmp('lt', int('5'), col(null, 'a')) })],
    ['SELECT * FROM t WHERE (a) = (1)', select(star(), table('t'), { where: cmp('eq', col(null, 'a'), int('1')) })],
    ['SELECT * FROM t WHERE true', select(star(), table('t'), { where: value(bool(true, 'true')) })],
    ['SELECT * FROM t WHERE active AND b = 1', select(star(), table('t'), { where: and(value(col(null, 'active')), cmp('eq', col(null, 'b'), int('1'))) })],
    ['SELECT * FROM t WHERE owner = :sender', select(star(), table('t'), { where: cmp('eq', col(null, 'owner'), sender) })],
    ['SELECT * FROM t WHERE ((a >= -1))', select(star(), table('t'), { where: cmp('gte', col(null, 'a'), int('-1')) })],
    // Identifiers: case-sensitive, quoted, keywords usable when quoted or unreserved.
    ['SELECT * FROM "Person"', select(star(), table('Person'))],
    ['SELECT * FROM Person', select(star(), table('Person'))],
    ['SELECT * FROM "we""ird name"', select(star(), table('we"ird name'))],
    ['SELECT "from" FROM "select"', select(columns([col(null, 'from'), 'from']), table('select'))],
    ['SELECT * FROM user WHERE count = 1 AND name = key', select(star(), table('user'), { where: and(cmp('eq', col(null, 'count'), int('1')), cmp('eq', col(null, 'name'), col(null, 'key'))) })],
    ['SELECT * FROM t WHERE é_nom = 1', select(star(), table('t'), { where: cmp('eq', col(null, 'é_nom'), int('1')) })],
    // Any word after a dot is a name, reserved keywords too.
    [
      'SELECT transfer_log.from FROM transfer_log WHERE transfer_log.select = 1',
      select(columns([col('transfer_log', 'from'), 'from']), table('transfer_log'), { where: cmp('eq', col('transfer_log', 'select'), int('1')) }),
    ],
    ['SELECT\u00a0*\u3000FROM\u00a0t', select(star(), table('t'))],
    // Whitespace, newlines, comments, keyword case, trailing semicolons.
    ['\n  select\t*\r\n  from t -- all of it\n  /* no filter */ ;;', select(star(), table('t'))],
    ['SeLeCt * FrOm t wHeRe a = 1', select(star(), table('t'), { where: cmp('eq', col(null, 'a'), int('1')) })],
    // DML.
    [
      "INSERT INTO t VALUES (1, 'a'), (-2, 'b''c')",
      {
        kind: 'insert',
        table: table('t'),
        columns: null,
        rows: [
          [int('1'), str('a')],
          [int('-2'), str("b'c", "'b''c'")],
        ],
      },
    ],
    [
      'insert into "t" ("id", name) values (0xFF, X\'00\', TRUE, NULL, 1.5)',
      {
        kind: 'insert',
        table: table('t'),
        columns: [col(null, 'id'), col(null, 'name')],
        rows: [[hex('FF', '0xFF'), hex('00', "X'00'"), bool(true), { kind: 'null', text: 'NULL' }, float('1.5')]],
      },
    ],
    [
      "UPDATE t SET a = 1, b = 'x' WHERE c = 3",
      {
        kind: 'update',
        table: table('t'),
        assignments: [
          { column: col(null, 'a'), value: int('1') },
          { column: col(null, 'b'), value: str('x') },
        ],
        where: cmp('eq', col(null, 'c'), int('3')),
      },
    ],
    ['update t set a = -0.5', { kind: 'update', table: table('t'), assignments: [{ column: col(null, 'a'), value: float('-0.5') }], where: null }],
    ['DELETE FROM t', { kind: 'delete', table: table('t'), where: null }],
    ['delete from t where t.a <> 1', { kind: 'delete', table: table('t'), where: cmp('ne', col('t', 'a'), int('1')) }],
    ['SET row_limit = 100', { kind: 'set', name: 'row_limit', value: int('100') }],
    ['set row_limit to 5;', { kind: 'set', name: 'row_limit', value: int('5') }],
    ['SHOW row_limit', { kind: 'show', name: 'row_limit' }],
  ];

  it.each(cases)('%s', (sql, expected) => {
    expect(strip(parseSql(sql))).toEqual(expected);
  });

  it('runs the parseSql example', () => {
    const stmt = parseSql('SELECT * FROM "person" WHERE "person"."age" >= 18');
    expect(stmt.kind).toBe('select');
    expect(stmt.kind === 'select' && stmt.where?.kind).toBe('compare');
  });

  it('records spans as offsets into the SQL', () => {
    const sql = 'SELECT t.a AS x FROM t AS tt WHERE (tt.b >= -5) OR NOT c = :sender;';
    const stmt = parseSql(sql) as SelectStatement;
    const at = (span: { start: number; end: number }) => sql.slice(span.start, span.end);
    expect(at(stmt.span)).toBe(sql.slice(0, -1));
    expect(stmt.projection.kind === 'columns' && stmt.projection.columns.map((c) => [at(c.span), at(c.column.span)])).toEqual([['t.a AS x', 't.a']]);
    expect(at(stmt.from.span)).toBe('t AS tt');
    const where = stmt.where as Predicate & { kind: 'or' };
    expect(at(where.span)).toBe('(tt.b >= -5) OR NOT c = :sender');
    const [left, right] = where.clauses as [Predicate & { kind: 'compare' }, Predicate & { kind: 'not' }];
    expect([at(left.span), at(left.left.span), at(left.right.span)]).toEqual(['(tt.b >= -5)', 'tt.b', '-5']);
    expect(at(right.span)).toBe('NOT c = :sender');
    expect(at((right.clause as Predicate & { kind: 'compare' }).right.span)).toBe(':sender');
  });

  it('parses long AND/OR chains without recursion and flattens them', () => {
    const n = 5000;
    const where = Array.from({ length: n }, (_, i) => `a = ${i}`).join(' OR ');
    const stmt = parseSql(`SELECT * FROM t WHERE ${where}`) as SelectStatement;
    expect(stmt.where?.kind === 'or' && stmt.where.clauses.length).toBe(n);
  });

  it('parses deep nesting up to a limit, then refuses', () => {
    const nest = (d: number) => `SELECT * FROM t WHERE ${'('.repeat(d)}a = 1${')'.repeat(d)}`;
    expect(strip((parseSql(nest(200)) as SelectStatement).where)).toEqual(cmp('eq', col(null, 'a'), int('1')));
    const e = thrown(() => parseSql(nest(10_000)));
    expect(e.code).toBe('PARSE_ERROR');
    expect(e.message).toMatch(/nested more than 256 levels/);
  });
});

// --- literals ---------------------------------------------------------------------------------

describe('parseSql: literals', () => {
  /** The right-hand side of `WHERE a = <lit>`. */
  const rhs = (lit: string): Operand => {
    const stmt = parseSql(`SELECT * FROM t WHERE a = ${lit}`) as SelectStatement;
    return (stmt.where as Predicate & { kind: 'compare' }).right;
  };

  it.each([
    ['0', int('0')],
    ['42', int('42')],
    ['-7', int('-7')],
    ['+1', int('+1')],
    ['- 3', int('-3')],
    ['1e3', int('1e3')],
    ['1E40', int('1E40')],
    ['2e+5', int('2e+5')],
    ['1e-3', float('1e-3')],
    ['0.1', float('0.1')],
    ['.5', float('.5')],
    ['1.', float('1.')],
    ['-2.5E-3', float('-2.5E-3')],
    ['115792089237316195423570985008687907853269984665640564039457584007913129639935', int('115792089237316195423570985008687907853269984665640564039457584007913129639935')],
    ['-57896044618658097711785492504343953926634992332820282019728792003956564819968', int('-57896044618658097711785492504343953926634992332820282019728792003956564819968')],
    ["'hello'", str('hello')],
    ["''", str('')],
    ["'it''s'", str("it's", "'it''s'")],
    ["''''", str("'", "''''")],
    ["'multi\nline -- not a comment'", str('multi\nline -- not a comment')],
    ["'2025-02-10T15:45:30Z'", str('2025-02-10T15:45:30Z')],
    ["'2025-02-10 15:45:30.123+02:00'", str('2025-02-10 15:45:30.123+02:00')],
    ['TRUE', bool(true)],
    ['false', bool(false, 'false')],
    ['NULL', { kind: 'null', text: 'NULL' }],
    ['0xABCD', hex('ABCD', '0xABCD')],
    ['0Xabcd', hex('abcd', '0Xabcd')],
    ["X'ABCD'", hex('ABCD', "X'ABCD'")],
    ["x''", hex('', "x''")],
    [':sender', sender],
  ])('%s', (lit, expected) => {
    expect(strip(rhs(lit))).toEqual(expected);
  });

  it('keeps u256 integers exact and gives their value', () => {
    const max = 2n ** 256n - 1n;
    const lit = rhs(max.toString());
    expect(lit.kind).toBe('int');
    expect(lit.kind === 'int' && integerValue(lit)).toBe(max);
  });
});

describe('integerValue', () => {
  const lit = (text: string) => ({ kind: 'int', text, span: { start: 0, end: text.length } }) as const;

  it.each([
    ['0', 0n],
    ['-0', 0n],
    ['42', 42n],
    ['-7', -7n],
    ['+1', 1n],
    ['1e3', 1000n],
    ['1E40', 10n ** 40n],
    ['2e+5', 200000n],
    ['1.5e3', 1500n],
    ['100e-2', 1n],
    ['1.', 1n],
    ['0.000', 0n],
    ['0e99999', 0n],
    ['-1.25e2', -125n],
    ['1e-3', null],
    ['0.5', null],
    ['.5', null],
    ['1.05e1', null],
    ['1e1001', null],
  ])('%s', (text, expected) => {
    expect(integerValue(lit(text))).toBe(expected);
  });

  it('runs its example', () => {
    expect(integerValue({ kind: 'int', text: '1e40', span: { start: 0, end: 4 } })).toBe(10n ** 40n);
    expect(integerValue({ kind: 'float', text: '0.5', span: { start: 0, end: 3 } })).toBe(null);
  });
});

// --- refused constructs -----------------------------------------------------------------------

describe('parseSql: constructs outside the dialect are UNSUPPORTED', () => {
  const cases: [string, string, string][] = [
    // [sql, details.construct, message start]
    ['SELECT * FROM t ORDER BY a', 'ORDER BY', 'ORDER BY is not supported by SpacetimeDB SQL (at 1:17)'],
    ['SELECT * FROM t WHERE a = 1 ORDER BY a DESC LIMIT 5', 'ORDER BY', 'ORDER BY is not supported by SpacetimeDB SQL (at 1:29)'],
    ['SELECT a, COUNT(*) FROM t GROUP BY a', 'COUNT(*) with other projections', 'COUNT(*) must be the only projection'],
    ['SELECT a FROM t GROUP BY a', 'GROUP BY', 'GROUP BY is not supported by SpacetimeDB SQL (at 1:17)'],
    ['SELECT a FROM t WHERE a = 1 HAVING a > 1', 'HAVING', 'HAVING is not supported by SpacetimeDB SQL'],
    ["SELECT * FROM t WHERE name LIKE 'a%'", 'LIKE', 'LIKE is not supported by SpacetimeDB SQL (at 1:28)'],
    ["SELECT * FROM t WHERE name NOT LIKE 'a%'", 'NOT LIKE', 'NOT LIKE is not supported'],
    ["SELECT * FROM t WHERE name ILIKE 'a%'", 'ILIKE', 'ILIKE is not supported'],
    ['SELECT * FROM t WHERE a IN (1, 2)', 'IN', 'IN is not supported by SpacetimeDB SQL (at 1:25): write a = 1 OR a = 2'],
    ['SELECT * FROM t WHERE a NOT IN (1, 2)', 'NOT IN', 'NOT IN is not supported'],
    ['SELECT * FROM t WHERE a BETWEEN 1 AND 2', 'BETWEEN', 'BETWEEN is not supported'],
    ['SELECT * FROM t WHERE a IS NULL', 'IS NULL', 'IS NULL is not supported'],
    ['SELECT * FROM t WHERE a IS NOT NULL', 'IS NOT NULL', 'IS NOT NULL is not supported'],
    ['SELECT * FROM t WHERE EXISTS (SELECT * FROM s)', 'EXISTS', 'EXISTS is not supported'],
    ['SELECT * FROM t WHERE NOT EXISTS (SELECT * FROM s)', 'EXISTS', 'EXISTS is not supported'],
    ['SELECT * FROM t WHERE a = (SELECT b FROM s)', 'subquery', 'Subquery is not supported by SpacetimeDB SQL (at 1:27)'],
    ['SELECT * FROM (SELECT * FROM t)', 'subquery', 'Subquery is not supported'],
    ['SELECT * FROM t JOIN (SELECT * FROM s) ON a = b', 'subquery', 'Subquery is not supported'],
    ['SELECT * FROM t WHERE a = b + 1', 'arithmetic', 'Arithmetic is not supported by SpacetimeDB SQL (at 1:29)'],
    ['SELECT * FROM t WHERE a * 2 = 4', 'arithmetic', 'Arithmetic is not supported'],
    ['SELECT * FROM t WHERE a = -b', 'arithmetic', 'Arithmetic is not supported'],
    ['SELECT a + 1 FROM t', 'arithmetic', 'Arithmetic is not supported'],
    ['SELECT * FROM t WHERE a % 2 = 0', 'arithmetic', 'Arithmetic is not supported'],
    ["SELECT * FROM t WHERE a || 'x' = 'yx'", 'string concatenation (||)', 'String concatenation (||) is not supported'],
    ['SELECT * FROM t WHERE a & 1 = 1', 'bitwise operators', 'Bitwise operators are not supported'],
    ['SELECT * FROM t WHERE a::int = 1', 'casts (::)', 'Casts (::) are not supported'],
    ['SELECT * FROM t WHERE a[1] = 1', 'array subscripts', 'Array subscripts are not supported'],
    ["SELECT * FROM t WHERE LOWER(name) = 'a'", 'LOWER()', 'The function LOWER() is not supported by SpacetimeDB SQL (at 1:23)'],
    ['SELECT * FROM t WHERE CAST(a AS int) = 1', 'CAST()', 'The function CAST() is not supported'],
    ['SELECT SUM(a) AS s FROM t', 'SUM()', 'The function SUM() is not supported'],
    ['SELECT MAX(a) FROM t', 'MAX()', 'The function MAX() is not supported'],
    ['SELECT COUNT(a) AS n FROM t', 'COUNT(column)', 'COUNT(column) is not supported'],
    ['SELECT COUNT(DISTINCT a) AS n FROM t', 'COUNT(DISTINCT ...)', 'COUNT(DISTINCT ...) is not supported'],
    ['SELECT * FROM t WHERE CASE WHEN a THEN 1 END = 1', 'CASE', 'CASE is not supported'],
    ["SELECT * FROM t WHERE ts > TIMESTAMP '2025-01-01'", "typed literal (TIMESTAMP '...')", "Typed literals (TIMESTAMP '...') are not supported"],
    ["SELECT * FROM t WHERE a = B'1010'", 'bit-string literal', "Bit-string literals (B'...') are not supported"],
    ["SELECT * FROM t WHERE a = E'\\n'", 'escape string literal', "Escape string literals (E'...') are not supported"],
    ['SELECT * FROM t WHERE a = :other', 'parameter :other', 'The parameter :other is not supported (at 1:27): the only parameter is :sender'],
    ['SELECT DISTINCT a FROM t', 'DISTINCT', 'DISTINCT is not supported by SpacetimeDB SQL (at 1:8)'],
    ['SELECT * FROM t LIMIT 5 OFFSET 10', 'OFFSET', 'OFFSET is not supported'],
    ['SELECT * FROM t OFFSET 10', 'OFFSET', 'OFFSET is not supported'],
    ['SELECT * FROM t LIMIT -1', 'LIMIT expression', 'LIMIT expression is not supported'],
    ['SELECT * FROM t LIMIT 1.5', 'LIMIT expression', 'LIMIT expression is not supported'],
    ['SELECT * FROM t LIMIT n', 'LIMIT expression', 'LIMIT expression is not supported'],
    ['SELECT * FROM t FETCH FIRST 5 ROWS ONLY', 'FETCH', 'FETCH is not supported'],
    ['SELECT * FROM t FOR UPDATE', 'FOR UPDATE', 'FOR UPDATE is not supported'],
    ['SELECT * FROM t UNION SELECT * FROM s', 'UNION', 'UNION is not supported'],
    ['SELECT * FROM t WHERE a = 1 EXCEPT SELECT * FROM s', 'EXCEPT', 'EXCEPT is not supported'],
    ['SELECT * FROM t INTERSECT SELECT * FROM s', 'INTERSECT', 'INTERSECT is not supported'],
    ['SELECT t.* FROM t LEFT JOIN s ON t.a = s.b', 'LEFT JOIN', 'LEFT JOIN is not supported by SpacetimeDB SQL (at 1:19): only inner joins are supported'],
    ['SELECT t.* FROM t LEFT OUTER JOIN s ON t.a = s.b', 'LEFT JOIN', 'LEFT JOIN is not supported'],
    ['SELECT t.* FROM t RIGHT JOIN s ON t.a = s.b', 'RIGHT JOIN', 'RIGHT JOIN is not supported'],
    ['SELECT t.* FROM t FULL OUTER JOIN s ON t.a = s.b', 'FULL JOIN', 'FULL JOIN is not supported'],
    ['SELECT t.* FROM t NATURAL JOIN s', 'NATURAL JOIN', 'NATURAL JOIN is not supported'],
    ['SELECT t.* FROM t JOIN s USING (id)', 'JOIN ... USING', 'Non-column join constraints (USING) are not supported'],
    ['SELECT a.* FROM t AS a, s AS b WHERE a.id = b.id', 'implicit join', 'Implicit joins are not supported (at 1:23)'],
    ['SELECT *, a FROM t', 'mixed wildcard projection', 'Mixed wildcard projections are not supported (at 1:8)'],
    ['SELECT a, * FROM t', 'mixed wildcard projection', 'Mixed wildcard projections are not supported (at 1:11)'],
    ['SELECT a.*, b, c FROM t', 'mixed wildcard projection', 'Mixed wildcard projections are not supported'],
    ['SELECT 1 FROM t', 'expression in projection', 'Expression in projection is not supported'],
    ['SELECT * FROM generate_series(1, 10)', 'table function', 'Table function is not supported'],
    ['SELECT * FROM t AS x(a, b)', 'table alias column list', 'Table alias column list is not supported'],
    ['SELECT t.* FROM t JOIN s ON int = u32', 'unqualified column in a join', 'Names must be qualified when using joins (at 1:29): write table.int'],
    ['SELECT t.* FROM t JOIN s ON t.a = s.b WHERE c = 1', 'unqualified column in a join', 'Names must be qualified when using joins (at 1:45)'],
    ['SELECT a FROM t JOIN s ON t.a = s.b', 'unqualified column in a join', 'Names must be qualified when using joins (at 1:8)'],
    ['WITH x AS (SELECT * FROM t) SELECT * FROM x', 'WITH', 'WITH (common table expressions) is not supported'],
    ['(SELECT * FROM t)', 'parenthesized query', 'Parenthesized query is not supported'],
    ['CREATE TABLE t (a int)', 'CREATE statement', 'CREATE statements are not supported by SpacetimeDB SQL (at 1:1)'],
    ['drop table t', 'DROP statement', 'DROP statements are not supported'],
    ['BEGIN', 'BEGIN statement', 'BEGIN statements are not supported'],
    ['SELECT * FROM t; SELECT * FROM s', 'multiple statements', 'Multiple SQL statements are not supported (at 1:18)'],
    // DML.
    ['INSERT INTO t SELECT * FROM s', 'INSERT ... SELECT', 'INSERT ... SELECT is not supported'],
    ['INSERT INTO t (a) SELECT a FROM s', 'INSERT ... SELECT', 'INSERT ... SELECT is not supported'],
    ['INSERT INTO t DEFAULT VALUES', 'DEFAULT VALUES', 'DEFAULT VALUES is not supported'],
    ['INSERT INTO t VALUES (DEFAULT)', 'DEFAULT', 'DEFAULT is not supported'],
    ['INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING', 'ON CONFLICT', 'ON CONFLICT is not supported'],
    ['INSERT INTO t VALUES (1) RETURNING *', 'RETURNING', 'RETURNING is not supported'],
    ['INSERT INTO t VALUES (a)', 'non-literal value', 'INSERT values must be literals, found the column a'],
    ['INSERT INTO t VALUES (1 + 1)', 'arithmetic', 'Arithmetic is not supported'],
    ['INSERT INTO t VALUES (:sender)', ':sender outside a condition', 'INSERT values must be literals: :sender is only allowed in WHERE and ON conditions'],
    ['INSERT INTO t AS x VALUES (1)', 'table alias in INSERT', 'Table alias in INSERT is not supported'],
    ['INSERT INTO t (t.a) VALUES (1)', 'multi-part name', 'Multi-part names are not supported: write a instead of t.a'],
    ['UPDATE t SET a = b', 'non-literal value', 'UPDATE values must be literals, found the column b'],
    ['UPDATE t SET t.a = 1', 'multi-part name', 'Multi-part names are not supported'],
    ['UPDATE t SET (a, b) = (1, 2)', 'tuple assignment', 'Assigning a tuple of columns'],
    ['UPDATE t AS a SET c = 1', 'table alias in UPDATE', 'Table alias in UPDATE is not supported'],
    ['UPDATE t x SET c = 1', 'table alias in UPDATE', 'Table alias in UPDATE is not supported'],
    ['update t join s on t.id = s.id set c = 1', 'JOIN in UPDATE', 'JOIN in UPDATE is not supported'],
    ['update t set a = 1 from s where t.id = s.id and s.b = 2', 'UPDATE ... FROM', 'UPDATE ... FROM is not supported'],
    ['UPDATE t SET a = 1 RETURNING *', 'RETURNING', 'RETURNING is not supported'],
    ['DELETE FROM t AS x WHERE x.a = 1', 'table alias in DELETE', 'Table alias in DELETE is not supported'],
    ['DELETE FROM t USING s WHERE t.a = s.a', 'DELETE ... USING', 'DELETE ... USING is not supported'],
    ['DELETE FROM t, s', 'multi-table DELETE', 'Multi-table DELETE is not supported'],
    ['DELETE FROM t WHERE a = 1 LIMIT 1', 'LIMIT in DELETE', 'LIMIT in DELETE is not supported'],
    ['SET row_limit = :sender', ':sender outside a condition', 'SET values must be literals'],
    ['SHOW a.b', 'multi-part name', 'Multi-part names are not supported'],
  ];

  it.each(cases)('%s', (sql, construct, message) => {
    const e = thrown(() => parseSql(sql));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.details.construct).toBe(construct);
    expect(e.message.startsWith(message), `${e.message}\n  should start with\n${message}`).toBe(true);
    expect(typeof e.details.line).toBe('number');
    expect(typeof e.details.column).toBe('number');
  });

  it('carries line, column and offset of the construct', () => {
    const e = thrown(() => parseSql('SELECT *\nFROM t\n  ORDER BY a'));
    expect(e.details).toEqual({ construct: 'ORDER BY', line: 3, column: 3, offset: 18 });
    expect(e.name).toBe('SqlError');
  });
});

// --- parse errors -----------------------------------------------------------------------------

describe('parseSql: PARSE_ERROR with position and token found', () => {
  const cases: [string, string][] = [
    ['SELECT * FORM t', "expected FROM at 1:10, found 'FORM'"],
    ['SELECT *', 'expected FROM at 1:9, found end of input: a FROM clause is required'],
    ['SELECT * FROM', 'expected a table name at 1:14, found end of input'],
    ['SELECT * FROM WHERE a = 1', `expected a table name at 1:15, found 'WHERE': WHERE is a keyword: write "WHERE" to use it as a name`],
    ['SELECT FROM t', "expected a projection (*, t.*, columns or COUNT(*)) at 1:8, found 'FROM'"],
    ['SELECT a, FROM t', "expected a projection (*, t.*, columns or COUNT(*)) at 1:11, found 'FROM'"],
    ['SELECT * FROM t WHERE', 'expected a column, literal or :sender at 1:22, found end of input'],
    ['select a from where b = 1', `expected a table name at 1:15, found 'where': where is a keyword: write "where" to use it as a name`],
    ['SELECT * FROM t WHERE a =', 'expected a column, literal or :sender at 1:26, found end of input'],
    ['SELECT * FROM t WHERE a = = 1', "expected a column, literal or :sender at 1:27, found '='"],
    ['SELECT * FROM t WHERE (a = 1', "expected AND, OR or ')' at 1:29, found end of input"],
    ['SELECT * FROM t WHERE a = 1)', "expected AND, OR, LIMIT or end of statement at 1:28, found ')'"],
    ['SELECT * FROM t WHERE a = 1 b = 2', "expected AND, OR, LIMIT or end of statement at 1:29, found 'b'"],
    ['SELECT * FROM t x y', "expected JOIN, WHERE, LIMIT or end of statement at 1:19, found 'y'"],
    ['SELECT * FROM t LIMIT', 'expected a number after LIMIT at 1:22, found end of input'],
    ['SELECT * FROM t LIMIT 5 5', "expected end of statement at 1:25, found '5'"],
    ['SELECT * FROM t INNER s', "expected JOIN at 1:23, found 's'"],
    ['SELECT * FROM t\nWHERE a = 1\n  AND', 'expected a column, literal or :sender at 3:6, found end of input'],
    ['SELECT * FROM t\r\nWHERE a ! 1', "unexpected character '!' at 2:9, found '!'"],
    ["SELECT * FROM t WHERE a = 'oops", `unterminated string literal at 1:27, found "'oops": add the closing ' (write '' for a quote inside)`],
    ['SELECT * FROM "t', `unterminated quoted identifier at 1:15, found '"t': add the closing " (write "" for a quote inside)`],
    ['SELECT * FROM ""', `empty quoted identifier at 1:15, found '""'`],
    ['SELECT * FROM t /* comment', "unterminated comment at 1:17, found '/': add the closing */"],
    ['SELECT * FROM t WHERE a = 0x', "expected hex digits after 0x at 1:27, found '0x'"],
    ['SELECT * FROM t WHERE a = 0xABG', "invalid character in hex literal at 1:31, found 'G': 0x... takes hex digits 0-9 A-F only"],
    ["SELECT * FROM t WHERE a = X'AZ'", "invalid character in hex literal at 1:30, found 'Z': X'...' takes hex digits 0-9 A-F only"],
    ['SELECT * FROM t WHERE a = 12abc', "invalid number at 1:27, found '12abc'"],
    ['SELECT * FROM t WHERE a = 1e', "invalid number at 1:27, found '1e'"],
    ['SELECT * FROM t WHERE a = #', "unexpected character '#' at 1:27, found '#'"],
    ['SELECT * FROM t WHERE a = :', "unexpected ':' at 1:27, found ':': the only parameter is :sender"],
    ['', 'expected a statement (SELECT, INSERT, UPDATE, DELETE, SET or SHOW) at 1:1, found end of input'],
    ['   \n ', 'expected a statement (SELECT, INSERT, UPDATE, DELETE, SET or SHOW) at 2:2, found end of input'],
    [';', "expected a statement (SELECT, INSERT, UPDATE, DELETE, SET or SHOW) at 1:1, found ';'"],
    ['SELEKT * FROM t', "expected a statement (SELECT, INSERT, UPDATE, DELETE, SET or SHOW) at 1:1, found 'SELEKT'"],
    ['INSERT t VALUES (1)', "expected INTO at 1:8, found 't'"],
    ['INSERT INTO t (a VALUES (1)', "expected ',' or ')' at 1:18, found 'VALUES'"],
    ['INSERT INTO t VALUES 1', "expected '(' to start a row of values at 1:22, found '1'"],
    ['INSERT INTO t VALUES ()', "expected a column, literal or :sender at 1:23, found ')'"],
    ['INSERT INTO t (a) (1)', "expected VALUES at 1:19, found '('"],
    ['UPDATE t a = 1', "expected SET at 1:10, found 'a'"],
    ['UPDATE t SET a 1', "expected '=' at 1:16, found '1'"],
    ['DELETE t', "expected FROM at 1:8, found 't': write DELETE FROM t [WHERE ...]"],
    ['SET row_limit 5', "expected '=' or TO at 1:15, found '5'"],
    ['SHOW', 'expected a variable name at 1:5, found end of input'],
  ];

  it.each(cases)('%s', (sql, message) => {
    const e = thrown(() => parseSql(sql));
    expect(e.code).toBe('PARSE_ERROR');
    expect(e.message).toBe(message);
  });

  it('puts line, column, offset, found and expected in details', () => {
    const e = thrown(() => parseSql('SELECT *\n  FORM t'));
    expect(e.details).toEqual({ expected: 'FROM', line: 2, column: 3, offset: 11, found: "'FORM'" });
  });

  it('counts columns in UTF-16 code units after non-ASCII text', () => {
    const e = thrown(() => parseSql("SELECT * FROM t WHERE a = 'héllo' b"));
    expect(e.details.column).toBe(35);
  });
});

// --- subscription dialect ---------------------------------------------------------------------

describe('parseSubscriptionQuery', () => {
  it.each([
    ['SELECT * FROM "person" WHERE "person"."age" >= 18', 'person'],
    ['SELECT "r".* FROM "l" JOIN "r" ON "l"."id" = "r"."lid" WHERE ("r"."x" = 1)', 'r'],
    ['SELECT "A".* FROM "B" JOIN "A" ON "B"."y" = "A"."x"', 'A'],
    ['select * from t', 't'],
    ['select t.* from t', 't'],
    ['select a.* from t as a', 't'],
    ['select * from t where a = 1 or a = 2', 't'],
    ['select * from t where x = :sender', 't'],
    ['select * from t where not (x = 1)', 't'],
    ['select t.* from t join s on t.c = s.d', 't'],
    ['select b.* from t as a inner join s as b on b.d = a.c where a.x > 0', 's'],
    ['select a.* from t a join t b on a.parent = b.id', 't'],
    ['SELECT * FROM t;', 't'],
  ])('%s returns rows of %s', (sql, returns) => {
    const q = parseSubscriptionQuery(sql);
    expect(q.kind).toBe('select');
    expect(q.limit).toBe(null);
    expect(q.returns.name).toBe(returns);
  });

  it('gives the join condition as a column equality', () => {
    const q = parseSubscriptionQuery('SELECT "r".* FROM "l" JOIN "r" ON "l"."id" = "r"."lid" WHERE ("r"."x" = 1)');
    expect(strip(q)).toEqual({
      ...select(star('r'), table('l'), {
        joins: [join(table('r'), cmp('eq', col('l', 'id'), col('r', 'lid')))],
        where: cmp('eq', col('r', 'x'), int('1')),
      }),
      returns: table('r'),
    });
    const [j] = q.joins;
    expect(j?.on.left.table).toBe('l');
    expect(q.returns).toBe(q.joins[0]?.table);
  });

  it('runs its example', () => {
    const q = parseSubscriptionQuery('SELECT "r".* FROM "l" JOIN "r" ON "l"."id" = "r"."lid"');
    expect(q.returns.name).toBe('r');
  });

  it.each([
    ['select * from t limit 5', 'LIMIT is not supported in subscriptions'],
    ['select u32 from t', 'Subscriptions must be typed to a single table'],
    ['select t.u32 from t', 'Subscriptions must be typed to a single table'],
    ['select count(*) as n from t', 'Subscriptions must be typed to a single table'],
    ['select * from t join s on t.a = s.b', 'Subscriptions must be typed to a single table'],
    ['select t.* from t join s on t.a = s.b join u on s.c = u.d', 'Subscriptions support at most two tables'],
    ['select t.* from t join t on t.a = t.b', 'Self join requires aliases'],
    ['select t.* from t join s as t on t.a = t.b', 'Duplicate table alias t'],
    ['select t.* from t join s', 'Subscription joins need an ON condition'],
    ['select t.* from t cross join s', 'Subscription joins need an ON condition'],
    ['select t.* from t join s on t.a < s.b', 'A subscription join condition must be a single equality of two columns'],
    ['select t.* from t join s on t.a = 1', 'A subscription join condition must be a single equality of two columns'],
    ['select t.* from t join s on t.a = s.b and t.c = s.d', 'A subscription join condition must be a single equality of two columns'],
    ['select t.* from t join s on t.a = t.b', 'A subscription join condition must compare a column of each table'],
    ['select t.* from t join s on t.a = r.b', 'A subscription join condition must compare a column of each table'],
    ['delete from t', 'Subscriptions support only SELECT queries, not DELETE'],
    ['insert into t values (1)', 'Subscriptions support only SELECT queries, not INSERT'],
    ['update t set a = 1', 'Subscriptions support only SELECT queries, not UPDATE'],
    ['set row_limit = 1', 'Subscriptions support only SELECT queries, not SET'],
    ['select * from t order by a', 'ORDER BY is not supported by SpacetimeDB SQL'],
    ['select distinct a from t', 'DISTINCT is not supported by SpacetimeDB SQL'],
    ['select t.* from t join s on t.u32 = s.u32 where bytes = 0xABCD', 'Names must be qualified when using joins'],
  ])('refuses %s', (sql, message) => {
    const e = thrown(() => parseSubscriptionQuery(sql));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message.startsWith(message), e.message).toBe(true);
    expect(typeof e.details.construct).toBe('string');
  });

  it('refuses t.* naming no table of the query', () => {
    const e = thrown(() => parseSubscriptionQuery('select x.* from t join s on t.a = s.b'));
    expect(e.code).toBe('UNKNOWN_TABLE');
    expect(e.message).toBe('x.* names no table of the query (at 1:8): the tables are t, s');
    const f = thrown(() => parseSubscriptionQuery('select t.* from t as r'));
    expect(f.code).toBe('UNKNOWN_TABLE');
  });

  it('reports parse errors like parseSql', () => {
    const e = thrown(() => parseSubscriptionQuery('SELECT * FORM t'));
    expect(e.code).toBe('PARSE_ERROR');
    expect(e.message).toBe("expected FROM at 1:10, found 'FORM'");
  });
});

// --- tokenizer --------------------------------------------------------------------------------

describe('tokenize', () => {
  it('runs its example', () => {
    expect(tokenize('SELECT * FROM "t"').map((t) => t.type)).toEqual(['word', 'op', 'word', 'ident', 'eof']);
  });

  it('splits operators longest first and keeps offsets', () => {
    const toks = tokenize('a<=b<>c!=d>=e<f>g=:sender');
    expect(toks.map((t) => `${t.type}:${t.text}`)).toEqual([
      'word:a',
      'op:<=',
      'word:b',
      'op:<>',
      'word:c',
      'op:!=',
      'word:d',
      'op:>=',
      'word:e',
      'op:<',
      'word:f',
      'op:>',
      'word:g',
      'op:=',
      'param:sender',
      'eof:',
    ]);
    expect(toks.map((t) => t.start)).toEqual([0, 1, 3, 4, 6, 7, 9, 10, 12, 13, 14, 15, 16, 17, 18, 25]);
  });

  it('resolves quote escapes and upper-cases words', () => {
    const [s, q, w] = tokenize(`'a''b' "c""d" sElEcT`);
    expect([s?.text, q?.text, w?.text, w?.upper]).toEqual(["a'b", 'c"d', 'sElEcT', 'SELECT']);
  });

  it('marks floats', () => {
    expect(
      tokenize('1 1.0 .1 1e3 1e-3 1E+3')
        .filter((t) => t.type === 'number')
        .map((t) => t.float),
    ).toEqual([false, true, true, false, true, false]);
  });
});

// Compile-time checks (tsc): a switch over each union's kinds stays exhaustive ("lacks ending
// return statement" otherwise). Not called.
// biome-ignore lint/correctness/noUnusedVariables: a compile-time check, never called
function literalKinds(l: Literal): string {
  switch (l.kind) {
    case 'int':
    case 'float':
      return l.text;
    case 'string':
      return l.value;
    case 'bool':
      return String(l.value);
    case 'null':
      return 'null';
    case 'hex':
      return l.digits;
  }
}

// biome-ignore lint/correctness/noUnusedVariables: a compile-time check, never called
function statementKinds(s: Statement): string {
  switch (s.kind) {
    case 'select':
    case 'insert':
    case 'update':
    case 'delete':
    case 'set':
    case 'show':
      return s.kind;
  }
}
