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

/**
 * Builds the host's schema from the module definition. Submodules (`schema({ lib: libModule })`)
 * are flattened into it as SpacetimeDB mounts them: their tables, indexes, reducers, procedures and
 * views carry the namespace path as a prefix (`lib.libData`, `lib.lib_insert`), their types are
 * appended to one typespace, and function ids continue depth-first after the parent's (the order
 * the runtime dispatches them in). Only the root module's lifecycle hooks, HTTP routes and
 * row-level security rules count; a submodule declaring a lifecycle hook is refused.
 */
export function readModuleDef(def: RawModuleDefV10Like): ModuleSchema {
  const out: ModuleSchema = { typespace: { types: [] }, tables: [], reducers: [], procedures: [], views: [], lifecycle: {}, rls: [], httpHandlers: [], httpRoutes: [] };
  readModule(def, '', out, { anon: 0, sender: 0 });
  const canon = canonicalNames(def);
  out.httpHandlers = section<{ sourceName: string }[]>(def, 'HttpHandlers', []).map((h, id) => ({ name: h.sourceName, canonicalName: canon('Function', h.sourceName), id }));
  out.httpRoutes = section<{ handlerFunction: string; method: Tagged<'Any'> | Tagged<'Method', { tag: string; value?: string }>; path: string }[]>(def, 'HttpRoutes', []).map(
    (r): HttpRouteDef => ({ handler: r.handlerFunction, path: r.path, method: r.method.tag === 'Any' ? '*' : httpMethodName(r.method.value) }),
  );
  const lifecycle = section<{ lifecycleSpec: { tag: string }; functionName: string }[]>(def, 'LifeCycleReducers', []);
  for (const l of lifecycle) {
    if (l.lifecycleSpec.tag === 'Init') out.lifecycle.init = l.functionName;
    else if (l.lifecycleSpec.tag === 'OnConnect') out.lifecycle.onConnect = l.functionName;
    else if (l.lifecycleSpec.tag === 'OnDisconnect') out.lifecycle.onDisconnect = l.functionName;
  }
  out.rls = section<{ sql: string }[]>(def, 'RowLevelSecurity', []).map((r) => r.sql);
  return out;
}

/** The submodules a module mounts: `{ namespace, module }` (RawSubmoduleV10). */
export function submodulesOf(def: RawModuleDefV10Like): { namespace: string; module: RawModuleDefV10Like }[] {
  return section<{ namespace: string; module: RawModuleDefV10Like }[]>(def, 'Submodules', []);
}

/** How a module names things for SQL and clients: its explicit names, else its case policy. */
function canonicalNames(def: RawModuleDefV10Like): (kind: 'Table' | 'Function' | 'Index', name: string) => string {
  const snake = section<{ tag: string }>(def, 'CaseConversionPolicy', { tag: 'SnakeCase' }).tag === 'SnakeCase';
  const explicit = section<{ entries: { tag: string; value: { sourceName: string; canonicalName: string } }[] }>(def, 'ExplicitNames', { entries: [] });
  return (kind, name) => {
    const e = explicit.entries.find((x) => x.tag === kind && x.value.sourceName === name);
    if (e) return e.value.canonicalName;
    return snake ? snakeCase(name) : name;
  };
}

/** Adds one module (mounted at `prefix`, `''` for the root) and then its submodules to `out`. */
function readModule(def: RawModuleDefV10Like, prefix: string, out: ModuleSchema, viewIds: { anon: number; sender: number }): void {
  const typespace = out.typespace;
  // This module's type refs point into its own typespace, which goes after the types read so far.
  const offset = typespace.types.length;
  const ty = (t: Ty): Ty => (offset === 0 ? t : shiftRefs(t, offset));
  const product = (p: Product): Product => (offset === 0 ? p : { elements: p.elements.map((e) => ({ ...e, algebraicType: ty(e.algebraicType) })) });
  typespace.types.push(...section<{ types: Ty[] }>(def, 'Typespace', { types: [] }).types.map(ty));
  const snake = section<{ tag: string }>(def, 'CaseConversionPolicy', { tag: 'SnakeCase' }).tag === 'SnakeCase';
  const canon = canonicalNames(def);
  const schedules = section<{ tableName: string; scheduleAtCol: number; functionName: string }[]>(def, 'Schedules', []);
  const viewPks = section<{ viewSourceName: string; columns: string[] }[]>(def, 'ViewPrimaryKeys', []);

  for (const t of section<RawTable[]>(def, 'Tables', [])) {
    const name = prefix + t.sourceName;
    const rowTy = resolveType({ tag: 'Ref', value: t.productTypeRef + offset }, typespace);
    if (rowTy.tag !== 'Product') throw new ModuleError('BAD_MODULE_DEF', `table ${name} has a row type that is not a product`);
    const rowType = rowTy.value as Product;
    const columns = rowType.elements.map((e, id): ColumnDef => {
      const col = e.name ?? `col${id}`;
      return { id, name: col, canonicalName: snake ? snakeCase(col) : col, type: resolveType(e.algebraicType, typespace) };
    });
    const uniques = t.constraints.filter((c) => c.data.tag === 'Unique').map((c) => [...c.data.value.columns]);
    const sameSet = (a: number[], b: number[]) => a.length === b.length && a.every((x) => b.includes(x));
    const indexes = t.indexes.map((ix): IndexDef => {
      const algorithm: IndexAlgorithm = ix.algorithm.tag === 'BTree' ? 'btree' : ix.algorithm.tag === 'Hash' ? 'hash' : 'direct';
      const cols = ix.algorithm.tag === 'Direct' ? [ix.algorithm.value] : [...ix.algorithm.value];
      const local = ix.sourceName ?? `${t.sourceName}_${cols.map((c) => columns[c]?.name).join('_')}_idx_${algorithm}`;
      return { sourceName: prefix + local, accessorName: ix.accessorName ?? local, algorithm, columns: cols, unique: uniques.some((u) => sameSet(u, cols)) };
    });
    const sched = schedules.find((s) => s.tableName === t.sourceName);
    out.tables.push({
      name,
      canonicalName: prefix + canon('Table', t.sourceName),
      columns,
      rowType,
      primaryKey: t.primaryKey[0],
      uniques,
      indexes,
      sequences: t.sequences.map((s) => sequenceDef(s, columns[s.column]?.type)),
      isPublic: t.tableAccess.tag === 'Public',
      isEvent: t.isEvent,
      defaultValues: new Map(t.defaultValues.map((d) => [d.colId, d.value])),
      schedule: sched ? { functionName: prefix + sched.functionName, scheduleAtCol: sched.scheduleAtCol } : undefined,
    });
  }
  for (const r of section<{ sourceName: string; params: Product }[]>(def, 'Reducers', [])) {
    out.reducers.push({ name: prefix + r.sourceName, canonicalName: prefix + canon('Function', r.sourceName), params: product(r.params), id: out.reducers.length });
  }
  for (const p of section<{ sourceName: string; params: Product; returnType: Ty }[]>(def, 'Procedures', [])) {
    out.procedures.push({
      name: prefix + p.sourceName,
      canonicalName: prefix + canon('Function', p.sourceName),
      params: product(p.params),
      returnType: ty(p.returnType),
      id: out.procedures.length,
    });
  }
  const views = section<{ sourceName: string; index: number; isPublic: boolean; isAnonymous: boolean; returnType: Ty }[]>(def, 'Views', []);
  for (const v of views) {
    const name = prefix + v.sourceName;
    const returnType = ty(v.returnType);
    const ret = resolveType(returnType, typespace);
    let elem: Ty | undefined;
    if (ret.tag === 'Array') elem = ret.value;
    else if (ret.tag === 'Sum') elem = (ret.value as { variants: Element[] }).variants[0]?.algebraicType;
    const row = elem ? resolveType(elem, typespace) : undefined;
    if (row?.tag !== 'Product') throw new ModuleError('BAD_MODULE_DEF', `view ${name} must return an array or option of rows`);
    const rowType = row.value as Product;
    const pkCol = viewPks.find((p) => p.viewSourceName === v.sourceName)?.columns[0];
    const pk = pkCol === undefined ? -1 : rowType.elements.findIndex((e) => e.name === pkCol);
    out.views.push({
      name,
      canonicalName: prefix + canon('Function', v.sourceName),
      // Ids count per kind, each module's after those of the modules before it (depth-first).
      id: v.index + (v.isAnonymous ? viewIds.anon : viewIds.sender),
      isPublic: v.isPublic,
      isAnonymous: v.isAnonymous,
      returnType,
      rowType,
      primaryKey: pk >= 0 ? pk : undefined,
    });
  }
  for (const v of views) viewIds[v.isAnonymous ? 'anon' : 'sender']++;

  const seen = new Set<string>();
  for (const sub of submodulesOf(def)) {
    const ns = sub.namespace;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ns) || ns.length > 63) {
      throw new ModuleError('MODULE_INVALID', `submodule namespace ${JSON.stringify(ns)} is not valid: use an identifier of at most 63 characters`, { namespace: prefix + ns });
    }
    if (seen.has(ns)) throw new ModuleError('MODULE_INVALID', `two submodules are mounted as ${prefix + ns}: give each its own name in schema({ ... })`, { namespace: prefix + ns });
    seen.add(ns);
    const hooks = section<{ lifecycleSpec: { tag: string }; functionName: string }[]>(sub.module, 'LifeCycleReducers', []);
    if (hooks.length > 0) {
      const hook = hooks[0]!;
      throw new ModuleError(
        'MODULE_INVALID',
        `submodule ${prefix + ns} declares the lifecycle reducer ${hook.functionName} (${hook.lifecycleSpec.tag}): lifecycle reducers may only be declared in the root module`,
        { namespace: prefix + ns, reducer: hook.functionName },
      );
    }
    readModule(sub.module, `${prefix + ns}.`, out, viewIds);
  }
}

/** `ty` with every type reference moved by `by` (a submodule's types placed after its parent's). */
function shiftRefs(ty: Ty, by: number): Ty {
  switch (ty.tag) {
    case 'Ref':
      return { tag: 'Ref', value: ty.value + by };
    case 'Array':
      return { tag: 'Array', value: shiftRefs(ty.value, by) };
    case 'Product':
      return { tag: 'Product', value: { elements: ty.value.elements.map((e) => ({ ...e, algebraicType: shiftRefs(e.algebraicType, by) })) } };
    case 'Sum':
      return { tag: 'Sum', value: { variants: ty.value.variants.map((v) => ({ ...v, algebraicType: shiftRefs(v.algebraicType, by) })) } };
    default:
      return ty;
  }
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
