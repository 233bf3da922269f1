// Typed calls and rows: what a `Database<M>` knows of its module when `M` is the module's own
// exports (`typeof import('./chat/index.ts')`). Everything is derived from the types the
// `spacetimedb` package gives a module: the default export's `schema(...)` (its tables, their
// columns as type builders, read through `InferTypeOfRow`), and the exported reducers and
// procedures (their parameter objects and return types). Without `M` (`unknown`, or `any`) every
// type here is the untyped one, so untyped use stays as it was.
//
// Names are SpacetimeDB's canonical names, as the engine uses them: tables and columns in
// snake_case (the default case conversion), reducers by export name or its snake_case form. A
// table renamed with `table({ name })`, or a module with another `CASE_CONVERSION_POLICY`, is not
// visible to the types: use the database untyped for it.
import type { InferTypeOfRow, RowObj } from 'spacetimedb/server';
import type { CallOptions } from '../engine/engine.ts';
import type { SqlResult } from '../sql/execute.ts';
import type { InitialRows, Row, SubscribeCallbacks, TableUpdate } from '../subscriptions/types.ts';

/** True when `M` carries no module types (`unknown` or `any`). */
type IsUntyped<M> = unknown extends M ? true : false;

// ── snake_case, as the engine's `snakeCase` (src/host/module-def.ts) ─────────────────────────

type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
/** 'd' digit, 'u' upper-case letter, 'l' lower-case letter, 'o' anything else. */
type Kind<C extends string> = C extends Digit ? 'd' : Lowercase<C> extends C ? (Uppercase<C> extends C ? 'o' : 'l') : 'u';
type NextKind<Rest extends string> = Rest extends `${infer N}${string}` ? Kind<N> : '';
/** Where `convert_case` starts a new word (see `caseWords`). */
type Boundary<P extends string, K extends string, N extends string> = `${P}${K}` extends 'lu' | 'ud' | 'du' | 'dl' | 'ld' ? true : `${P}${K}${N}` extends 'uul' ? true : false;
type Snake<S extends string, Out extends string, Fresh extends boolean, Prev extends string> = S extends `${infer C}${infer Rest}`
  ? C extends '_' | '-' | ' '
    ? Snake<Rest, Out, true, ''>
    : Snake<Rest, `${Out}${(Fresh extends true ? true : Boundary<Prev, Kind<C>, NextKind<Rest>>) extends true ? (Out extends '' ? '' : '_') : ''}${Lowercase<C>}`, false, Kind<C>>
  : Out;

/** SpacetimeDB's snake_case of a name: `sendMessage` → `send_message`, `HTTPServer` → `http_server`, `oneU8` → `one_u_8`. */
export type SnakeCase<S extends string> = string extends S ? string : Snake<S, '', true, ''>;

// ── the module's tables ─────────────────────────────────────────────────────────────────────

/** The tables of a module's `schema(...)` (its default export), keyed by accessor name. */
type SchemaTables<M> = M extends { default: { schemaType: { tables: infer T } } } ? T : Record<never, never>;

/** A row as the engine gives it: the table's columns under their canonical (snake_case) names. */
type CanonicalRow<Cols extends RowObj> = InferTypeOfRow<Cols> extends infer R ? { [K in keyof R as K extends string ? SnakeCase<K> : never]: R[K] } : never;

/** Table canonical name → row type. */
export type TablesOf<M> = {
  [A in keyof SchemaTables<M> as A extends string ? SnakeCase<A> : never]: SchemaTables<M>[A] extends { columns: infer C extends RowObj } ? CanonicalRow<C> : never;
};

/** The canonical names of the module's tables. */
export type TableName<M> = keyof TablesOf<M> & string;

/** The row type of table `T` (canonical name) of module `M`. */
export type RowOf<M, T extends TableName<M>> = TablesOf<M>[T];

// ── the module's reducers and procedures ────────────────────────────────────────────────────

/**
 * What an export is, told by its context parameter (as the `spacetimedb` types define them): a
 * reducer's `ReducerCtx` has `senderAuth` and no `withTx`; a procedure's `ProcedureCtx` has
 * `withTx` and `sender`; an HTTP handler's has `withTx` and no `sender`; a view's has `from`.
 */
type Callable<E> = E extends (ctx: infer C, args: infer A) => infer R
  ? 'from' extends keyof C
    ? never
    : 'withTx' extends keyof C
      ? 'sender' extends keyof C
        ? { args: A; result: R }
        : never
      : 'senderAuth' extends keyof C
        ? { args: A; result: undefined }
        : never
  : never;

/** Export name → `{ args, result }` for every reducer and procedure of the module. */
type Functions<M> = { [K in keyof M as K extends string ? ([Callable<M[K]>] extends [never] ? never : K) : never]: Callable<M[K]> };

/** Each callable name (the export name and its snake_case form) → `{ args, result }`. */
export type CallsOf<M> = { [K in keyof Functions<M> as K extends string ? K | SnakeCase<K> : never]: Functions<M>[K] };

/**
 * Names `call` takes: the module's reducers and procedures, and any namespaced name
 * (`lib.lib_insert`, a submodule's function, which the types do not follow).
 */
export type CallName<M> = IsUntyped<M> extends true ? string : (keyof CallsOf<M> & string) | `${string}.${string}`;

type ArgsOf<M, F> = F extends keyof CallsOf<M> ? (CallsOf<M>[F] extends { args: infer A } ? A : unknown) : unknown;
type ResultOf<M, F> = F extends keyof CallsOf<M> ? (CallsOf<M>[F] extends { result: infer R } ? R : unknown) : unknown;

/** The arguments after the name: the parameter object (optional when the function takes none), then the options. */
export type CallRest<M, F> =
  IsUntyped<M> extends true ? [args?: unknown, opts?: CallOptions] : Record<never, never> extends ArgsOf<M, F> ? [args?: ArgsOf<M, F>, opts?: CallOptions] : [args: ArgsOf<M, F>, opts?: CallOptions];

/** What `call` resolves with: a procedure's return value, undefined for a reducer. */
export type CallResult<M, F> = IsUntyped<M> extends true ? unknown : ResultOf<M, F>;

// ── rows of SQL results and subscriptions ───────────────────────────────────────────────────

type Ws = ' ' | '\n' | '\t';
type TrimStart<S extends string> = S extends `${Ws}${infer R}` ? TrimStart<R> : S;
type After<S extends string> = TrimStart<S> extends `${'WHERE' | 'where' | 'Where' | 'LIMIT' | 'limit' | 'Limit'}${Ws}${string}` ? true : TrimStart<S> extends '' | ';' ? true : false;
/** The table a `SELECT * FROM <table> [WHERE …]` reads; never for any other query. */
type SelectedTable<Q extends string> =
  TrimStart<Q> extends `${'SELECT' | 'select' | 'Select'}${Ws}*${Ws}${'FROM' | 'from' | 'From'}${Ws}${infer Rest}`
    ? TrimStart<Rest> extends `${infer T}${Ws}${infer Tail}`
      ? After<Tail> extends true
        ? T
        : never
      : TrimStart<Rest> extends `${infer T};`
        ? T
        : TrimStart<Rest>
    : never;

/** A row of query `Q`: the table's row type for `SELECT * FROM <table> …` of a typed module, else untyped. */
export type SqlRow<M, Q extends string> =
  IsUntyped<M> extends true ? Record<string, unknown> : SelectedTable<Q> extends infer T extends TableName<M> ? ([T] extends [never] ? Record<string, unknown> : RowOf<M, T>) : Record<string, unknown>;

/** `SqlResult` with typed rows (see `SqlRow`). */
export type TypedSqlResult<M, Q extends string> = IsUntyped<M> extends true ? SqlResult : Omit<SqlResult, 'rows'> & { rows: SqlRow<M, Q>[] };

/** The initial rows of a subscription: each table's rows under its canonical name (absent when none matched). */
export type TypedInitialRows<M> = IsUntyped<M> extends true ? InitialRows : { [T in TableName<M>]?: RowOf<M, T>[] };

/** One table's changes in one transaction: narrow on `table` to get its rows typed. */
export type TypedTableUpdate<M> = IsUntyped<M> extends true ? TableUpdate : { [T in TableName<M>]: { table: T; inserts: RowOf<M, T>[]; deletes: RowOf<M, T>[] } }[TableName<M>];

/** The callbacks of `subscribe`, with the module's rows. */
export type TypedSubscribeCallbacks<M> =
  IsUntyped<M> extends true
    ? SubscribeCallbacks
    : Omit<SubscribeCallbacks, 'onApplied' | 'onUpdate'> & {
        onApplied?: (initial: TypedInitialRows<M>) => void;
        onUpdate?: (update: TypedTableUpdate<M>[]) => void;
      };

export type { Row };
