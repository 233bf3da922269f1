// The typed AST of SpacetimeDB's SQL dialect (`crates/sql-parser`), as `parser.ts` produces it and
// the datastore's executor compiles it. Literals keep their source text (numbers may be u256), and
// every node has a span so that later errors (unknown column, type mismatch) can point at the SQL.

/** Offsets into the SQL text, in UTF-16 code units; `end` is exclusive. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

// ---------------------------------------------------------------------------------------------
// Statements

/** Any statement of the ad-hoc dialect (`spacetime sql`). */
export type Statement = SelectStatement | InsertStatement | UpdateStatement | DeleteStatement | SetStatement | ShowStatement;

/** Tag of each statement kind. */
export type StatementKind = Statement['kind'];

/**
 * `SELECT projection FROM t [[AS] a] { [INNER|CROSS] JOIN t2 [[AS] b] [ON pred] } [WHERE pred] [LIMIT n]`.
 *
 * When `joins` is not empty every column reference in the query is qualified (the parser refuses
 * unqualified ones, as SpacetimeDB does); with a single relation an unqualified column belongs to `from`.
 */
export interface SelectStatement {
  readonly kind: 'select';
  readonly projection: Projection;
  readonly from: TableRef;
  readonly joins: readonly Join[];
  readonly where: Predicate | null;
  /** `LIMIT n`: an unsigned integer literal (its text may be `1e3`). */
  readonly limit: IntLiteral | null;
  readonly span: Span;
}

/** `INSERT INTO t [(c1, c2)] VALUES (lit, ...), ...`; `columns` is null when the list is omitted. */
export interface InsertStatement {
  readonly kind: 'insert';
  readonly table: TableRef;
  readonly columns: readonly ColumnRef[] | null;
  readonly rows: readonly (readonly Literal[])[];
  readonly span: Span;
}

/** `UPDATE t SET c = lit, ... [WHERE pred]`. */
export interface UpdateStatement {
  readonly kind: 'update';
  readonly table: TableRef;
  readonly assignments: readonly Assignment[];
  readonly where: Predicate | null;
  readonly span: Span;
}

/** One `c = lit` of an UPDATE. */
export interface Assignment {
  readonly column: ColumnRef;
  readonly value: Literal;
  readonly span: Span;
}

/** `DELETE FROM t [WHERE pred]`. */
export interface DeleteStatement {
  readonly kind: 'delete';
  readonly table: TableRef;
  readonly where: Predicate | null;
  readonly span: Span;
}

/** `SET var = lit` (or `SET var TO lit`); SpacetimeDB knows only `row_limit`. */
export interface SetStatement {
  readonly kind: 'set';
  readonly name: string;
  readonly value: Literal;
  readonly span: Span;
}

/** `SHOW var`. */
export interface ShowStatement {
  readonly kind: 'show';
  readonly name: string;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Relations and projections

/** A table in FROM, JOIN or a DML target. `alias` is the name the query uses for it: the table's own name when no alias is written. */
export interface TableRef {
  readonly kind: 'table';
  readonly name: string;
  readonly alias: string;
  readonly span: Span;
}

/** `[INNER] JOIN t [ON pred]` or `CROSS JOIN t`; `on` is null for a cross join. */
export interface Join {
  readonly kind: 'join';
  readonly table: TableRef;
  readonly on: Predicate | null;
  readonly span: Span;
}

/** What a SELECT returns. */
export type Projection = StarProjection | ColumnsProjection | CountProjection;

/** `*` (`table` null) or `t.*` (`table` is the alias written). */
export interface StarProjection {
  readonly kind: 'star';
  readonly table: string | null;
  readonly span: Span;
}

/** `col [AS a], t.col [AS b], ...`. */
export interface ColumnsProjection {
  readonly kind: 'columns';
  readonly columns: readonly ProjectedColumn[];
  readonly span: Span;
}

/** One projected column; `alias` is the output name (the column's name when no alias is written). */
export interface ProjectedColumn {
  readonly column: ColumnRef;
  readonly alias: string;
  readonly span: Span;
}

/** `COUNT(*) [[AS] n]`; `alias` defaults to `count`. The result is always one row. */
export interface CountProjection {
  readonly kind: 'count';
  readonly alias: string;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Predicates

/** A WHERE or ON condition. */
export type Predicate = Comparison | AndPredicate | OrPredicate | NotPredicate | ValuePredicate;

/** Comparison operators; `!=` and `<>` both become `ne`. */
export type CompareOp = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte';

/** `left op right` between columns, literals and `:sender`, in any combination. */
export interface Comparison {
  readonly kind: 'compare';
  readonly op: CompareOp;
  readonly left: Operand;
  readonly right: Operand;
  readonly span: Span;
}

/** `a AND b AND ...`, flattened: `clauses` has two or more entries. */
export interface AndPredicate {
  readonly kind: 'and';
  readonly clauses: readonly Predicate[];
  readonly span: Span;
}

/** `a OR b OR ...`, flattened: `clauses` has two or more entries. */
export interface OrPredicate {
  readonly kind: 'or';
  readonly clauses: readonly Predicate[];
  readonly span: Span;
}

/**
 * `NOT p`. A Lightcone extension: SpacetimeDB's query builder emits `NOT (...)` for `.not()`, but
 * the 2.x server parser has no unary NOT. An executor that wants strict parity refuses this node.
 */
export interface NotPredicate {
  readonly kind: 'not';
  readonly clause: Predicate;
  readonly span: Span;
}

/** A bare operand used as a condition (`WHERE TRUE`, `WHERE active`); it must have type bool. */
export interface ValuePredicate {
  readonly kind: 'value';
  readonly operand: Operand;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Operands and literals

/** A side of a comparison. */
export type Operand = ColumnRef | Literal | Param;

/** `col` (`table` null) or `t.col` (`table` is the alias written). */
export interface ColumnRef {
  readonly kind: 'column';
  readonly table: string | null;
  readonly column: string;
  readonly span: Span;
}

/** A column reference known to be qualified (`t.col`). */
export interface QualifiedColumnRef extends ColumnRef {
  readonly table: string;
}

/** `:sender`, the caller's Identity; it also compares with bytes columns. */
export interface Param {
  readonly kind: 'param';
  readonly name: 'sender';
  readonly span: Span;
}

/** Any literal. Its type is inferred from the column it meets, as SpacetimeDB does. */
export type Literal = IntLiteral | FloatLiteral | StringLiteral | BoolLiteral | NullLiteral | HexLiteral;

/** Tag of each literal kind. */
export type LiteralKind = Literal['kind'];

/**
 * A number written without a fraction or negative exponent: `42`, `-7`, `+1`, `1e3`, `1E40`.
 * `text` is the source form with its sign attached (`- 7` gives `-7`); `integerValue` in
 * `numeric-literal.ts` gives the exact bigint.
 */
export interface IntLiteral {
  readonly kind: 'int';
  readonly text: string;
  readonly span: Span;
}

/** A number with a fraction or a negative exponent: `0.1`, `.5`, `1.`, `-2.5e-3`. May still denote an integer (`1.5e3`). */
export interface FloatLiteral {
  readonly kind: 'float';
  readonly text: string;
  readonly span: Span;
}

/** `'text'`: `value` has the `''` escapes resolved, `text` is the source with its quotes. Timestamps are strings. */
export interface StringLiteral {
  readonly kind: 'string';
  readonly value: string;
  readonly text: string;
  readonly span: Span;
}

/** `TRUE` or `FALSE` (any case). */
export interface BoolLiteral {
  readonly kind: 'bool';
  readonly value: boolean;
  readonly text: string;
  readonly span: Span;
}

/** `NULL`. Not in SpacetimeDB's parser, but the query builder emits it for `undefined`/`null`. */
export interface NullLiteral {
  readonly kind: 'null';
  readonly text: string;
  readonly span: Span;
}

/** `0xABCD` or `X'ABCD'` (Identity, ConnectionId, Uuid, bytes): `digits` is the hex without prefix or quotes, as written. */
export interface HexLiteral {
  readonly kind: 'hex';
  readonly digits: string;
  readonly text: string;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Subscription dialect

/**
 * A query of the subscription dialect: a SELECT of whole rows of one table, with at most one
 * join whose condition is an equality of a column of each table, and no LIMIT.
 */
export interface SubscriptionQuery extends SelectStatement {
  readonly projection: StarProjection;
  readonly joins: readonly [] | readonly [SubscriptionJoin];
  readonly limit: null;
  /** The relation whose rows the query returns: `from` without a join, else the one `t.*` names. */
  readonly returns: TableRef;
}

/** The join of a subscription query: `JOIN t ON a.col = b.col`, one column from each table. */
export interface SubscriptionJoin extends Join {
  readonly on: ColumnEquality;
}

/** `a.col = b.col`. */
export interface ColumnEquality extends Comparison {
  readonly op: 'eq';
  readonly left: QualifiedColumnRef;
  readonly right: QualifiedColumnRef;
}
