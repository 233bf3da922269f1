// The module as client code generation sees it, built from the RawModuleDefV10 the package
// produced: canonical (wire) names and accessor (source) names side by side, index and unique
// constraint names as SpacetimeDB derives them when it validates a module, which functions are
// private, and every type reduced to a "use" (a special type, a primitive, or a reference to a
// named type). `spacetime generate` reads the same facts from its validated ModuleDef.
import { type AlgebraicType, ConnectionId, Identity, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { ModuleError } from '../errors.ts';
import { type RawModuleDefV10Like, snakeCase } from '../host/module-def.ts';
import { pascalCase } from './case.ts';

export type Primitive = 'Bool' | 'I8' | 'U8' | 'I16' | 'U16' | 'I32' | 'U32' | 'I64' | 'U64' | 'I128' | 'U128' | 'I256' | 'U256' | 'F32' | 'F64';

/** How a type is used in a column, a parameter or a field. */
export type TypeUse =
  | { kind: 'unit' | 'never' | 'identity' | 'connectionId' | 'timestamp' | 'timeDuration' | 'scheduleAt' | 'uuid' | 'string' }
  | { kind: 'primitive'; primitive: Primitive }
  | { kind: 'option'; inner: TypeUse }
  | { kind: 'result'; ok: TypeUse; err: TypeUse }
  | { kind: 'array'; elem: TypeUse }
  | { kind: 'ref'; ref: number };

/** A named field of a product, or a variant of a sum. */
export interface Field {
  name: string;
  type: TypeUse;
}

/** A named type's definition. A sum whose variants all carry nothing is a plain enum. */
export type TypeDefinition = { kind: 'product'; elements: Field[] } | { kind: 'sum'; variants: Field[] } | { kind: 'plainEnum'; variants: string[] };

export interface NamedType {
  ref: number;
  /** The name as the module gave it (`t.object('a.Point', …)` → scope `['a']`, name `Point`). */
  scope: string[];
  name: string;
  def: TypeDefinition;
}

export interface Column extends Field {
  /** The column's SQL and wire name (snake_case under the default policy). */
  canonical: string;
}

export interface Index {
  /** Canonical index name. */
  name: string;
  /** The accessor the module declared (`by_city_age`, or the column's name). */
  accessor: string;
  columns: number[];
}

export interface UniqueConstraint {
  name: string;
  columns: number[];
}

/** A table, or a view presented to clients as a table. */
export interface TableLike {
  /** Canonical (wire) name. */
  name: string;
  /** The name the module uses for it (the schema key, or the view's export name). */
  accessor: string;
  rowRef: number;
  columns: Column[];
  primaryKey: number | undefined;
  indexes: Index[];
  constraints: UniqueConstraint[];
  isPublic: boolean;
  isEvent: boolean;
}

export interface Reducer {
  name: string;
  accessor: string;
  params: Field[];
  isPrivate: boolean;
  lifecycle: 'Init' | 'OnConnect' | 'OnDisconnect' | undefined;
}

export interface Procedure {
  name: string;
  accessor: string;
  params: Field[];
  returns: TypeUse;
  isPrivate: boolean;
}

export interface CodegenModule {
  /** Named types in the order the module registered them. */
  types: NamedType[];
  tables: TableLike[];
  views: TableLike[];
  /** In the module's registration order. */
  reducers: Reducer[];
  procedures: Procedure[];
  /** The generated name of a named type (its name segments in PascalCase). */
  typeName(ref: number): string;
}

interface RawElement {
  name: string | undefined;
  algebraicType: AlgebraicType;
}
interface RawTable {
  sourceName: string;
  productTypeRef: number;
  primaryKey: number[];
  indexes: { sourceName: string | undefined; accessorName: string | undefined; algorithm: { tag: 'BTree' | 'Hash'; value: number[] } | { tag: 'Direct'; value: number } }[];
  constraints: { data: { tag: string; value: { columns: number[] } } }[];
  tableAccess: { tag: string };
  isEvent: boolean;
}
interface RawFunction {
  sourceName: string;
  params: { elements: RawElement[] };
  visibility: { tag: string };
}
interface RawView {
  sourceName: string;
  isPublic: boolean;
  returnType: AlgebraicType;
}
type NameKind = 'Table' | 'Function' | 'Index';

/** Builds the code generation model of a module definition. Throws ModuleError when a type cannot be expressed in client code. */
export function codegenModule(def: RawModuleDefV10Like): CodegenModule {
  const section = <T>(tag: string, fallback: T): T => (def.sections.find((s) => s.tag === tag)?.value as T | undefined) ?? fallback;
  const submodules = section<unknown[]>('Submodules', []);
  if (submodules.length > 0) {
    throw new ModuleError(
      'UNSUPPORTED_MODULE',
      'the module mounts submodules: Lightcone runs such modules, but its generator does not write their namespaced bindings yet; generate bindings for a module without them',
    );
  }
  const typespace = section<{ types: AlgebraicType[] }>('Typespace', { types: [] }).types;
  const snake = section<{ tag: string }>('CaseConversionPolicy', { tag: 'SnakeCase' }).tag !== 'None';
  const explicit = section<{ entries: { tag: NameKind; value: { sourceName: string; canonicalName: string } }[] }>('ExplicitNames', { entries: [] }).entries;
  const convert = (name: string) => (snake ? snakeCase(name) : name);
  const canonical = (kind: NameKind, name: string) => explicit.find((e) => e.tag === kind && e.value.sourceName === name)?.value.canonicalName ?? convert(name);

  const rawTypes = section<{ sourceName: { scope: string[]; sourceName: string }; ty: number }[]>('Types', []);
  const named = new Map(rawTypes.map((t) => [t.ty, t.sourceName]));
  const uses = new TypeUses(typespace, new Set(named.keys()));
  const types = rawTypes.map((t): NamedType => ({ ref: t.ty, scope: t.sourceName.scope, name: t.sourceName.sourceName, def: uses.definition(t.ty, `type ${t.sourceName.sourceName}`) }));

  const columnsOf = (ref: number, owner: string): Column[] =>
    uses.product(ref, owner).map((e, i) => {
      const name = e.name ?? `col_${i}`;
      return { name, canonical: convert(name), type: uses.use(e.algebraicType, `column ${name} of ${owner}`) };
    });

  const tables = section<RawTable[]>('Tables', []).map((t): TableLike => {
    const name = canonical('Table', t.sourceName);
    const columns = columnsOf(t.productTypeRef, `table ${t.sourceName}`);
    const colNames = (cols: number[]) => cols.map((c) => columns[c]?.canonical ?? `col_${c}`).join('_');
    const indexes = t.indexes
      // An index without an accessor is the system's own; clients do not see it.
      .filter((ix) => ix.accessorName !== undefined)
      .map((ix): Index => {
        const cols = ix.algorithm.tag === 'Direct' ? [ix.algorithm.value] : [...ix.algorithm.value];
        const explicitName = ix.sourceName === undefined ? undefined : explicit.find((e) => e.tag === 'Index' && e.value.sourceName === ix.sourceName)?.value.canonicalName;
        return { name: explicitName ?? `${name}_${colNames(cols)}_idx_${ix.algorithm.tag.toLowerCase()}`, accessor: ix.accessorName!, columns: cols };
      });
    const constraints = t.constraints
      .filter((c) => c.data.tag === 'Unique')
      .map((c): UniqueConstraint => ({ name: `${name}_${colNames(c.data.value.columns)}_key`, columns: [...c.data.value.columns].sort((a, b) => a - b) }));
    return {
      name,
      accessor: t.sourceName,
      rowRef: t.productTypeRef,
      columns,
      primaryKey: t.primaryKey[0],
      indexes: indexes.sort((a, b) => byCodeUnits(a.name, b.name)),
      constraints: constraints.sort((a, b) => byCodeUnits(a.name, b.name)),
      isPublic: t.tableAccess.tag === 'Public',
      isEvent: t.isEvent,
    };
  });

  const viewKeys = section<{ viewSourceName: string; columns: string[] }[]>('ViewPrimaryKeys', []);
  const views = section<RawView[]>('Views', []).map((v): TableLike => {
    const ret = viewRow(v.returnType);
    if (!ret) throw new ModuleError('UNSUPPORTED_TYPE', `view ${v.sourceName} returns neither an array nor an option of rows: clients cannot read it as a table`, { view: v.sourceName });
    const columns = columnsOf(ret.ref, `view ${v.sourceName}`);
    const keyColumn = viewKeys.find((k) => k.viewSourceName === v.sourceName)?.columns[0];
    let primaryKey = keyColumn === undefined ? undefined : columns.findIndex((c) => c.name === keyColumn);
    if (primaryKey === -1) primaryKey = undefined;
    // A query view takes the primary key of the one table it reads, when that is unambiguous.
    if (primaryKey === undefined && ret.query) {
      const keys = new Set(tables.filter((t) => t.rowRef === ret.ref && t.primaryKey !== undefined).map((t) => t.primaryKey));
      if (keys.size === 1) primaryKey = [...keys][0];
    }
    return { name: canonical('Function', v.sourceName), accessor: v.sourceName, rowRef: ret.ref, columns, primaryKey, indexes: [], constraints: [], isPublic: v.isPublic, isEvent: false };
  });

  const lifecycles = new Map(
    section<{ lifecycleSpec: { tag: Reducer['lifecycle'] & string }; functionName: string }[]>('LifeCycleReducers', []).map((l) => [canonical('Function', l.functionName), l.lifecycleSpec.tag]),
  );
  // Scheduled functions and lifecycle reducers are private: only the database calls them.
  const scheduled = new Set(section<{ functionName: string }[]>('Schedules', []).map((s) => canonical('Function', s.functionName)));
  const params = (f: RawFunction, what: string) => f.params.elements.map((e, i): Field => ({ name: e.name ?? `arg_${i}`, type: uses.use(e.algebraicType, `parameter ${e.name ?? i} of ${what}`) }));
  const reducers = section<RawFunction[]>('Reducers', []).map((r): Reducer => {
    const name = canonical('Function', r.sourceName);
    const lifecycle = lifecycles.get(name);
    return {
      name,
      accessor: r.sourceName,
      params: params(r, `reducer ${r.sourceName}`),
      isPrivate: r.visibility.tag === 'Private' || lifecycle !== undefined || scheduled.has(name),
      lifecycle,
    };
  });
  const procedures = section<(RawFunction & { returnType: AlgebraicType })[]>('Procedures', []).map((p): Procedure => {
    const name = canonical('Function', p.sourceName);
    return {
      name,
      accessor: p.sourceName,
      params: params(p, `procedure ${p.sourceName}`),
      returns: uses.use(p.returnType, `the return type of procedure ${p.sourceName}`),
      isPrivate: p.visibility.tag === 'Private' || scheduled.has(name),
    };
  });

  const typeName = (ref: number): string => {
    const n = named.get(ref);
    if (!n) throw new ModuleError('UNSUPPORTED_TYPE', `type reference ${ref} has no name`, { ref });
    return [...n.scope, n.sourceName].map(pascalCase).join('');
  };
  return { types, tables, views, reducers, procedures, typeName };
}

/** Compares strings by UTF-16 code units; for the ASCII identifiers of a module this is Rust's byte order. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The row type of a view's return type: `T[]` or `T | undefined` (procedural), or `{ __query__: T }` (a query). */
function viewRow(ty: AlgebraicType): { ref: number; query: boolean } | undefined {
  if (ty.tag === 'Product' && ty.value.elements.length === 1 && ty.value.elements[0]!.name === '__query__') {
    const inner = ty.value.elements[0]!.algebraicType;
    return inner.tag === 'Ref' ? { ref: inner.value, query: true } : undefined;
  }
  const elem = ty.tag === 'Array' ? ty.value : ty.tag === 'Sum' && isOption(ty) ? ty.value.variants[0]!.algebraicType : undefined;
  return elem?.tag === 'Ref' ? { ref: elem.value, query: false } : undefined;
}

/** The package's own representation of each special product type (one marker field). */
const SPECIAL_PRODUCTS = [
  ['connectionId', ConnectionId.getAlgebraicType()],
  ['identity', Identity.getAlgebraicType()],
  ['timestamp', Timestamp.getAlgebraicType()],
  ['timeDuration', TimeDuration.getAlgebraicType()],
  ['uuid', Uuid.getAlgebraicType()],
] as const;

function specialProduct(ty: AlgebraicType): (typeof SPECIAL_PRODUCTS)[number][0] | undefined {
  if (ty.tag !== 'Product' || ty.value.elements.length !== 1) return undefined;
  const e = ty.value.elements[0]!;
  for (const [kind, special] of SPECIAL_PRODUCTS) {
    const marker = special.value.elements[0];
    if (e.name === marker.name && e.algebraicType.tag === marker.algebraicType.tag) return kind;
  }
  return undefined;
}

const isUnit = (ty: AlgebraicType) => ty.tag === 'Product' && ty.value.elements.length === 0;

function isOption(ty: AlgebraicType & { tag: 'Sum' }): boolean {
  const [some, none] = ty.value.variants;
  return ty.value.variants.length === 2 && some!.name === 'some' && none!.name === 'none' && isUnit(none!.algebraicType);
}

function isResult(ty: AlgebraicType & { tag: 'Sum' }): boolean {
  const [ok, err] = ty.value.variants;
  return ty.value.variants.length === 2 && ok!.name === 'ok' && err!.name === 'err';
}

function isScheduleAt(ty: AlgebraicType & { tag: 'Sum' }): boolean {
  const [interval, time] = ty.value.variants;
  return (
    ty.value.variants.length === 2 &&
    interval!.name === 'Interval' &&
    specialProduct(interval!.algebraicType) === 'timeDuration' &&
    time!.name === 'Time' &&
    specialProduct(time!.algebraicType) === 'timestamp'
  );
}

const PRIMITIVES = new Set<string>(['Bool', 'I8', 'U8', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64', 'I128', 'U128', 'I256', 'U256', 'F32', 'F64']);

/** Reduces types to uses against a typespace in which `named` refs are definitions. */
class TypeUses {
  readonly #typespace: AlgebraicType[];
  readonly #named: Set<number>;
  readonly #resolving = new Set<number>();

  constructor(typespace: AlgebraicType[], named: Set<number>) {
    this.#typespace = typespace;
    this.#named = named;
  }

  /** The elements of the product type `ref` (a table's or a view's row). */
  product(ref: number, owner: string): RawElement[] {
    const ty = this.#typespace[ref];
    if (ty?.tag !== 'Product') throw new ModuleError('UNSUPPORTED_TYPE', `the row type of ${owner} (type reference ${ref}) is not a product type`, { ref });
    return ty.value.elements;
  }

  /** The definition of the named type `ref`. */
  definition(ref: number, what: string): TypeDefinition {
    const ty = this.#typespace[ref];
    const field = (e: RawElement, i: number): Field => {
      if (e.name === undefined) throw new ModuleError('UNSUPPORTED_TYPE', `${what} has an unnamed field or variant (#${i}): clients need a name for each`, { ref });
      return { name: e.name, type: this.use(e.algebraicType, `${e.name} in ${what}`) };
    };
    if (ty?.tag === 'Product') return { kind: 'product', elements: ty.value.elements.map(field) };
    if (ty?.tag === 'Sum') {
      const variants = ty.value.variants.map(field);
      return variants.every((v) => v.type.kind === 'unit') ? { kind: 'plainEnum', variants: variants.map((v) => v.name) } : { kind: 'sum', variants };
    }
    throw new ModuleError('UNSUPPORTED_TYPE', `${what} (type reference ${ref}) is neither a product nor a sum type`, { ref });
  }

  /** How `ty` appears where `where` uses it. */
  use(ty: AlgebraicType, where: string): TypeUse {
    const special = specialProduct(ty);
    if (special) return { kind: special };
    if (isUnit(ty)) return { kind: 'unit' };
    if (ty.tag === 'Sum') {
      if (ty.value.variants.length === 0) return { kind: 'never' };
      if (isOption(ty)) return { kind: 'option', inner: this.use(ty.value.variants[0]!.algebraicType, where) };
      if (isResult(ty)) return { kind: 'result', ok: this.use(ty.value.variants[0]!.algebraicType, where), err: this.use(ty.value.variants[1]!.algebraicType, where) };
      if (isScheduleAt(ty)) return { kind: 'scheduleAt' };
    }
    switch (ty.tag) {
      case 'Ref':
        return this.#ref(ty.value, where);
      case 'Array':
        return { kind: 'array', elem: this.use(ty.value, where) };
      case 'String':
        return { kind: 'string' };
      case 'Product':
      case 'Sum':
        throw new ModuleError('UNSUPPORTED_TYPE', `${where} has an unnamed compound type: give it a name (t.object('Name', …) or t.enum('Name', …))`, { where });
      default:
        if (PRIMITIVES.has(ty.tag)) return { kind: 'primitive', primitive: ty.tag as Primitive };
        throw new ModuleError('UNSUPPORTED_TYPE', `${where} has a type clients cannot express (${ty.tag})`, { where });
    }
  }

  #ref(ref: number, where: string): TypeUse {
    if (this.#named.has(ref)) return { kind: 'ref', ref };
    const target = this.#typespace[ref];
    if (!target) throw new ModuleError('UNSUPPORTED_TYPE', `${where} refers to type ${ref}, which the module does not define`, { ref });
    if (this.#resolving.has(ref)) throw new ModuleError('UNSUPPORTED_TYPE', `${where} refers to itself through unnamed type ${ref}`, { ref });
    this.#resolving.add(ref);
    try {
      return this.use(target, where);
    } finally {
      this.#resolving.delete(ref);
    }
  }
}
