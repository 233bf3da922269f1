// Reads a module's RawModuleDefV10 (as the package's runtime built it) into the schema the host
// and datastore work with: tables with resolved column types, reducers, procedures, views,
// lifecycle hooks, schedules, RLS rules and canonical (SQL/client) names.
import type { AlgebraicType } from 'spacetimedb';
import type { ColumnDef, HttpRouteDef, IndexAlgorithm, IndexDef, ModuleSchema, SequenceDef, TableDef, ViewDef } from '../datastore/schema.ts';
import { ModuleError } from '../errors.ts';

type Ty = AlgebraicType;
interface Element {
  name: string | undefined;
  algebraicType: Ty;
}
interface Product {
  elements: Element[];
}
interface Tagged<T extends string, V = undefined> {
  tag: T;
  value: V;
}

/** The subset of RawModuleDefV10 the host reads (structural; the package builds the real value). */
export interface RawModuleDefV10Like {
  sections: { tag: string; value: unknown }[];
}
interface RawTable {
  sourceName: string;
  productTypeRef: number;
  primaryKey: number[];
  indexes: { sourceName: string | undefined; accessorName: string | undefined; algorithm: Tagged<'BTree' | 'Hash', number[]> | Tagged<'Direct', number> }[];
  constraints: { sourceName: string | undefined; data: Tagged<'Unique', { columns: number[] }> }[];
  sequences: { sourceName: string | undefined; column: number; start: bigint | undefined; minValue: bigint | undefined; maxValue: bigint | undefined; increment: bigint }[];
  tableAccess: { tag: 'Public' | 'Private' };
  defaultValues: { colId: number; value: Uint8Array }[];
  isEvent: boolean;
}

function section<T>(def: RawModuleDefV10Like, tag: string, fallback: T): T {
  const s = def.sections.find((x) => x.tag === tag);
  return s ? (s.value as T) : fallback;
}

/** Resolves `Ref`s at the top of a type. */
export function resolveType(ty: Ty, typespace: { types: Ty[] }): Ty {
  let t = ty;
  for (let i = 0; t.tag === 'Ref' && i < 100; i++) {
    const next = typespace.types[t.value];
    if (!next) throw new ModuleError('BAD_MODULE_DEF', `type reference ${t.value} is out of range`);
    t = next;
  }
  return t;
}

/** Builds the host's schema from the module definition. */
export function readModuleDef(def: RawModuleDefV10Like): ModuleSchema {
  const typespace = section<{ types: Ty[] }>(def, 'Typespace', { types: [] });
  const snake = section<{ tag: string }>(def, 'CaseConversionPolicy', { tag: 'SnakeCase' }).tag === 'SnakeCase';
  const explicit = section<{ entries: { tag: string; value: { sourceName: string; canonicalName: string } }[] }>(def, 'ExplicitNames', { entries: [] });
  const canon = (kind: 'Table' | 'Function' | 'Index', name: string): string => {
    const e = explicit.entries.find((x) => x.tag === kind && x.value.sourceName === name);
    if (e) return e.value.canonicalName;
    return snake ? snakeCase(name) : name;
  };
  const schedules = section<{ tableName: string; scheduleAtCol: number; functionName: string }[]>(def, 'Schedules', []);
  const viewPks = section<{ viewSourceName: string; columns: string[] }[]>(def, 'ViewPrimaryKeys', []);

  const tables = section<RawTable[]>(def, 'Tables', []).map((t): TableDef => {
    const rowTy = resolveType({ tag: 'Ref', value: t.productTypeRef }, typespace);
    if (rowTy.tag !== 'Product') throw new ModuleError('BAD_MODULE_DEF', `table ${t.sourceName} has a row type that is not a product`);
    const rowType = rowTy.value as Product;
    const columns = rowType.elements.map((e, id): ColumnDef => {
      const name = e.name ?? `col${id}`;
      return { id, name, canonicalName: snake ? snakeCase(name) : name, type: resolveType(e.algebraicType, typespace) };
    });
    const uniques = t.constraints.filter((c) => c.data.tag === 'Unique').map((c) => [...c.data.value.columns]);
    const sameSet = (a: number[], b: number[]) => a.length === b.length && a.every((x) => b.includes(x));
    const indexes = t.indexes.map((ix): IndexDef => {
      const algorithm: IndexAlgorithm = ix.algorithm.tag === 'BTree' ? 'btree' : ix.algorithm.tag === 'Hash' ? 'hash' : 'direct';
      const cols = ix.algorithm.tag === 'Direct' ? [ix.algorithm.value] : [...ix.algorithm.value];
      const sourceName = ix.sourceName ?? `${t.sourceName}_${cols.map((c) => columns[c]?.name).join('_')}_idx_${algorithm}`;
      return { sourceName, accessorName: ix.accessorName ?? sourceName, algorithm, columns: cols, unique: uniques.some((u) => sameSet(u, cols)) };
    });
    const sched = schedules.find((s) => s.tableName === t.sourceName);
    return {
      name: t.sourceName,
      canonicalName: canon('Table', t.sourceName),
      columns,
      rowType,
      primaryKey: t.primaryKey[0],
      uniques,
      indexes,
      sequences: t.sequences.map((s) => sequenceDef(s, columns[s.column]?.type)),
      isPublic: t.tableAccess.tag === 'Public',
      isEvent: t.isEvent,
      defaultValues: new Map(t.defaultValues.map((d) => [d.colId, d.value])),
      schedule: sched ? { functionName: sched.functionName, scheduleAtCol: sched.scheduleAtCol } : undefined,
    };
  });

  const reducers = section<{ sourceName: string; params: Product }[]>(def, 'Reducers', []).map((r, id) => ({
    name: r.sourceName,
    canonicalName: canon('Function', r.sourceName),
    params: r.params,
    id,
  }));
  const procedures = section<{ sourceName: string; params: Product; returnType: Ty }[]>(def, 'Procedures', []).map((p, id) => ({
    name: p.sourceName,
    canonicalName: canon('Function', p.sourceName),
    params: p.params,
    returnType: p.returnType,
    id,
  }));
  const views = section<{ sourceName: string; index: number; isPublic: boolean; isAnonymous: boolean; returnType: Ty }[]>(def, 'Views', []).map((v): ViewDef => {
    const ret = resolveType(v.returnType, typespace);
    let elem: Ty | undefined;
    if (ret.tag === 'Array') elem = ret.value;
    else if (ret.tag === 'Sum') elem = (ret.value as { variants: Element[] }).variants[0]?.algebraicType;
    const row = elem ? resolveType(elem, typespace) : undefined;
    if (row?.tag !== 'Product') throw new ModuleError('BAD_MODULE_DEF', `view ${v.sourceName} must return an array or option of rows`);
    const rowType = row.value as Product;
    const pkCol = viewPks.find((p) => p.viewSourceName === v.sourceName)?.columns[0];
    const pk = pkCol === undefined ? -1 : rowType.elements.findIndex((e) => e.name === pkCol);
    return {
      name: v.sourceName,
      canonicalName: canon('Function', v.sourceName),
      id: v.index,
      isPublic: v.isPublic,
      isAnonymous: v.isAnonymous,
      returnType: v.returnType,
      rowType,
      primaryKey: pk >= 0 ? pk : undefined,
    };
  });
  const lifecycle: ModuleSchema['lifecycle'] = {};
  for (const l of section<{ lifecycleSpec: { tag: string }; functionName: string }[]>(def, 'LifeCycleReducers', [])) {
    if (l.lifecycleSpec.tag === 'Init') lifecycle.init = l.functionName;
    else if (l.lifecycleSpec.tag === 'OnConnect') lifecycle.onConnect = l.functionName;
    else if (l.lifecycleSpec.tag === 'OnDisconnect') lifecycle.onDisconnect = l.functionName;
  }
  const rls = section<{ sql: string }[]>(def, 'RowLevelSecurity', []).map((r) => r.sql);
  const httpHandlers = section<{ sourceName: string }[]>(def, 'HttpHandlers', []).map((h, id) => ({ name: h.sourceName, canonicalName: canon('Function', h.sourceName), id }));
  const httpRoutes = section<{ handlerFunction: string; method: Tagged<'Any'> | Tagged<'Method', { tag: string; value?: string }>; path: string }[]>(def, 'HttpRoutes', []).map(
    (r): HttpRouteDef => ({ handler: r.handlerFunction, path: r.path, method: r.method.tag === 'Any' ? '*' : httpMethodName(r.method.value) }),
  );
  return { typespace, tables, reducers, procedures, views, lifecycle, rls, httpHandlers, httpRoutes };
}

/** `GET`, `POST`, … for the package's HttpMethod (`{ tag: 'Get' }`, `{ tag: 'Extension', value }`). */
function httpMethodName(m: { tag: string; value?: string }): string {
  return m.tag === 'Extension' ? String(m.value) : m.tag.toUpperCase();
}

/** [min, max] of each integer type, by tag (`I8` … `U256`): two's complement for the signed ones. */
const INT_RANGES: Record<string, [bigint, bigint]> = Object.fromEntries(
  [8n, 16n, 32n, 64n, 128n, 256n].flatMap((bits) => [
    [`I${bits}`, [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n]],
    [`U${bits}`, [0n, 2n ** bits - 1n]],
  ]),
);

function sequenceDef(s: RawTable['sequences'][number], ty: Ty | undefined): SequenceDef {
  const range = ty ? INT_RANGES[ty.tag] : undefined;
  if (!range) throw new ModuleError('BAD_MODULE_DEF', `autoInc is only allowed on integer columns (column ${s.column} is ${ty?.tag ?? 'missing'})`);
  const min = s.minValue ?? (s.increment > 0n ? 1n : range[0]);
  const max = s.maxValue ?? range[1];
  return { column: s.column, start: s.start ?? (s.increment > 0n ? min : max), min, max, increment: s.increment };
}

/**
 * SpacetimeDB's snake_case conversion for canonical names (the Rust `convert_case` crate's
 * default word boundaries): `fruitName` → `fruit_name`, `oneU8` → `one_u_8`, `HTTPServer` →
 * `http_server`. The package's own `toSnakeCase` does not split digits, so it is not used here.
 */
export function snakeCase(name: string): string {
  return caseWords(name)
    .map((w) => w.toLowerCase())
    .join('_');
}

/**
 * The words `convert_case` (0.6, default boundaries) splits an identifier into: at `_`, `-` and
 * spaces, lower→upper, letter↔digit, and before the last capital of an acronym (`HTTPServer` →
 * `HTTP`, `Server`). Client code generation cases names from these same words.
 */
export function caseWords(name: string): string[] {
  const words: string[] = [];
  let cur = '';
  const kind = (c: string) => (c >= '0' && c <= '9' ? 'd' : c.toLowerCase() !== c ? 'u' : c.toUpperCase() !== c ? 'l' : 'o');
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === '_' || c === '-' || c === ' ') {
      if (cur) words.push(cur);
      cur = '';
      continue;
    }
    const prev = cur ? kind(cur[cur.length - 1]!) : '';
    const k = kind(c);
    const next = i + 1 < name.length ? kind(name[i + 1]!) : '';
    const boundary =
      (prev === 'l' && k === 'u') ||
      (prev === 'u' && k === 'd') ||
      (prev === 'd' && k === 'u') ||
      (prev === 'd' && k === 'l') ||
      (prev === 'l' && k === 'd') ||
      (prev === 'u' && k === 'u' && next === 'l'); // acronym: "HTTPServer" → HTTP | Server
    if (boundary && cur) {
      words.push(cur);
      cur = '';
    }
    cur += c;
  }
  if (cur) words.push(cur);
  return words;
}

/** The datastore table that a view's rows are materialized into while a query reads them. */
export function viewTableDef(v: ViewDef): TableDef {
  const pk = v.primaryKey;
  const columns = v.rowType.elements.map((e, id) => {
    const name = e.name ?? `col${id}`;
    return { id, name, canonicalName: snakeCase(name), type: e.algebraicType };
  });
  return {
    name: v.name,
    canonicalName: v.canonicalName,
    columns,
    rowType: v.rowType,
    primaryKey: pk,
    uniques: pk === undefined ? [] : [[pk]],
    indexes: pk === undefined ? [] : [{ sourceName: `${v.name}_${columns[pk]!.name}_idx_btree`, accessorName: columns[pk]!.name, algorithm: 'btree', columns: [pk], unique: true }],
    sequences: [],
    isPublic: v.isPublic,
    isEvent: false,
    defaultValues: new Map(),
    schedule: undefined,
    view: v,
  };
}
