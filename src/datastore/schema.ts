// The schema of a module as the datastore stores it and the host runs it: tables with resolved
// column types, indexes, sequences, views, reducers, procedures, lifecycle hooks and RLS rules.
// Types only; `host/module-def.ts` builds them from the module's RawModuleDefV10, and the
// datastore creates its tables from them without depending on the host.
import type { AlgebraicType } from 'spacetimedb';

type Ty = AlgebraicType;
/** A product type's elements, as the package's AlgebraicType describes them. */
interface Product {
  elements: { name: string | undefined; algebraicType: Ty }[];
}

export type IndexAlgorithm = 'btree' | 'hash' | 'direct';

export interface ColumnDef {
  /** Position in the row. */
  id: number;
  /** The JS field name, as the module author wrote it. */
  name: string;
  /** The SQL/client name (snake_case under the default policy, or an explicit `.name()`). */
  canonicalName: string;
  type: Ty;
}

export interface IndexDef {
  /** `<table>_<cols>_idx_<algo>`: what `index_id_from_name` receives. */
  sourceName: string;
  accessorName: string;
  algorithm: IndexAlgorithm;
  columns: number[];
  /** True when the column set equals a unique constraint's. */
  unique: boolean;
}

export interface SequenceDef {
  column: number;
  start: bigint;
  min: bigint;
  max: bigint;
  increment: bigint;
}

export interface TableDef {
  /** Source name: the `schema({...})` key; what `table_id_from_name` receives. */
  name: string;
  canonicalName: string;
  columns: ColumnDef[];
  rowType: Product;
  primaryKey: number | undefined;
  uniques: number[][];
  indexes: IndexDef[];
  sequences: SequenceDef[];
  isPublic: boolean;
  isEvent: boolean;
  defaultValues: Map<number, Uint8Array>;
  schedule: { functionName: string; scheduleAtCol: number } | undefined;
  /** Set on the datastore table that holds a view's rows while a query reads it. */
  view?: ViewDef;
}

export interface FunctionDef {
  name: string;
  canonicalName: string;
  params: Product;
  id: number;
}
export interface ProcedureDef extends FunctionDef {
  returnType: Ty;
}
export interface ViewDef {
  name: string;
  canonicalName: string;
  id: number;
  isPublic: boolean;
  isAnonymous: boolean;
  returnType: Ty;
  /** The row product of the view (element type of its array/option). */
  rowType: Product;
  primaryKey: number | undefined;
}

/** An HTTP handler: `id` is its position in the module's HttpHandlers section (what the runtime calls it by). */
export interface HttpHandlerDef {
  name: string;
  canonicalName: string;
  id: number;
}

/** A route of the module's router: `method` is upper case (`GET`, …) or `*` for any method. */
export interface HttpRouteDef {
  method: string;
  /** `''` (the route root), `/` or `/a/b`: matched exactly. */
  path: string;
  /** The handler's source name. */
  handler: string;
}

export interface ModuleSchema {
  typespace: { types: Ty[] };
  tables: TableDef[];
  reducers: FunctionDef[];
  procedures: ProcedureDef[];
  views: ViewDef[];
  lifecycle: { init?: string; onConnect?: string; onDisconnect?: string };
  rls: string[];
  httpHandlers: HttpHandlerDef[];
  httpRoutes: HttpRouteDef[];
}
