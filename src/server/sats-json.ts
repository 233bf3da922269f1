// SATS-JSON, SpacetimeDB's JSON form of typed values, for its HTTP API. Untyped (`/sql` rows, a
// procedure's return value): a product is an array of its fields in order, a sum `[tag, payload]`.
// Typed (`/schema`): a product is an object keyed by field name, a sum `{"Variant": payload}`. In
// both, a unit is `[]`, integers up to 128 bits are JSON numbers with every digit (beyond 2^53, so
// the text is written here, never by JSON.stringify), 256-bit integers "0x…" hex strings, bytes
// lowercase hex. Everything is driven by the package's AlgebraicType, including the
// RawModuleDef definitions behind `/schema` (host/module-def-types.js). Call arguments are read
// back permissively (array or object products, sums by tag number or variant name) into the form
// `Engine.call` takes. Platform-neutral: no Node APIs.
import type { AlgebraicType as Ty, ProductType, SumType } from 'spacetimedb';
import { parseExactJson } from '../cli/json-arg.ts';
import { specialName, typeName } from '../datastore/columns.ts';
import { InternalError, ModuleError, UsageError } from '../errors.ts';
import { readModuleDef, resolveType, snakeCase, type RawModuleDefV10Like } from '../host/module-def.ts';
import { AlgebraicType as AlgebraicTypeDef, ProductType as ProductTypeDef, RawModuleDef, RawModuleDefV9, RawModuleDefV10 } from '../host/module-def-types.js';
import { decodeValue, encodeArgs, showValue } from '../host/values.ts';
import type { SqlResult } from '../sql/execute.ts';

/** The types a value's Refs point into (a module's typespace). */
export interface Typespace {
  types: Ty[];
}

/** Options of `typedJson`. */
export interface TypedJsonOptions {
  /** The JSON key of a product field (default: its name). */
  fieldName?: (name: string) => string;
}

const NO_TYPES: Typespace = { types: [] };

/** Untyped SATS-JSON text of `value` (as the package decodes it, or structured-cloned) of type `ty`. */
export function untypedJson(value: unknown, ty: Ty, typespace: Typespace): string {
  const out: string[] = [];
  new Writer(typespace, false, undefined).write(out, value, ty);
  return out.join('');
}

/** Typed SATS-JSON text of `value` of type `ty`. */
export function typedJson(value: unknown, ty: Ty, typespace: Typespace, opts: TypedJsonOptions = {}): string {
  const out: string[] = [];
  new Writer(typespace, true, opts.fieldName).write(out, value, ty);
  return out.join('');
}

/** An AlgebraicType as SpacetimeDB writes it in JSON: `{"U64":[]}`, `{"Array":…}`, `{"Ref":3}`, … */
export function algebraicTypeJson(ty: Ty): string {
  return typedJson(ty, AlgebraicTypeDef.algebraicType, NO_TYPES, { fieldName: snakeCase });
}

/** The JSON text of a procedure's return value in a `/call` response (untyped SATS-JSON). */
export function procedureReturnJson(value: unknown, returnType: Ty, typespace: Typespace): string {
  return untypedJson(value, returnType, typespace);
}

/**
 * The body of a `/sql` response: one element per statement, `{schema, rows, total_duration_micros,
 * stats}`. A SELECT's schema names its columns with their types (`columnTypes`) and its rows are
 * untyped SATS-JSON arrays; DML has an empty schema, no rows, and its `stats`. `typespace` is only
 * needed for a recursive column type (which keeps a Ref).
 */
export function sqlHttpResponse(results: readonly SqlResult[], durationMicros: number, typespace: Typespace = NO_TYPES): string {
  const duration = Math.max(0, Math.round(durationMicros));
  const w = new Writer(typespace, false, undefined);
  const out: string[] = ['['];
  results.forEach((res, n) => {
    if (n > 0) out.push(',');
    const types = res.columnTypes ?? [];
    if (types.length !== res.columns.length) {
      throw new InternalError(`the SQL result has ${res.columns.length} columns but ${types.length} column types: it cannot be written as SATS-JSON`);
    }
    const schema: ProductType = { elements: res.columns.map((name, i) => ({ name, algebraicType: types[i]! })) };
    out.push('{"schema":', typedJson(schema, ProductTypeDef.algebraicType, NO_TYPES, { fieldName: snakeCase }), ',"rows":[');
    res.rows.forEach((row, r) => {
      out.push(r > 0 ? ',[' : '[');
      res.columns.forEach((col, i) => {
        if (i > 0) out.push(',');
        w.write(out, row[col], types[i]!);
      });
      out.push(']');
    });
    const s = res.stats ?? { rows_inserted: 0, rows_deleted: 0, rows_updated: 0 };
    out.push(`],"total_duration_micros":${duration},"stats":{"rows_inserted":${s.rows_inserted},"rows_deleted":${s.rows_deleted},"rows_updated":${s.rows_updated}}}`);
  });
  out.push(']');
  return out.join('');
}

// ---- /schema ---------------------------------------------------------------------------------

type RawV10 = RawModuleDefV10;
type RawV9 = RawModuleDefV9;
type Section<K extends RawV10['sections'][number]['tag']> = Extract<RawV10['sections'][number], { tag: K }>['value'];

/**
 * `/schema?version=10|9` as JSON text (typed SATS-JSON, snake_case keys as SpacetimeDB writes
 * them). `def` is the module's `describe` bytes (BSATN of RawModuleDef, as `Host.describe` holds
 * them) or the RawModuleDefV10 value (`LoadedModule.moduleDef`).
 *
 * Version 10 is the module's own RawModuleDefV10. Version 9 is derived from it, approximately:
 * table, reducer, procedure and view names are the canonical ones (after the case-conversion
 * policy and explicit names, as SQL and clients see them); type names, parameter and field
 * names, index/constraint/sequence names stay as the module wrote them; each table's schedule
 * comes from the Schedules section (its function as `reducer_name`, also for a procedure);
 * procedures, views and column default values are listed in `misc_exports` as V9 did. What V9
 * has no place for is left out: reducer visibility and return types, event tables, view primary
 * keys, HTTP handlers and routes, explicit names, the case-conversion policy and submodules.
 */
export function schemaJson(def: Uint8Array | RawModuleDefV10Like, version: 9 | 10): string {
  if (version !== 9 && version !== 10) throw new UsageError('BAD_ARGUMENT', `schema version ${String(version)} is not supported: ask for version 9 or 10`, { version });
  const v10 = def instanceof Uint8Array ? decodeDescribe(def) : (def as unknown as RawV10);
  const opts = { fieldName: snakeCase };
  return version === 10 ? typedJson(v10, RawModuleDefV10.algebraicType, NO_TYPES, opts) : typedJson(v9FromV10(v10), RawModuleDefV9.algebraicType, NO_TYPES, opts);
}

function decodeDescribe(bytes: Uint8Array): RawV10 {
  const def = decodeValue(RawModuleDef.algebraicType, bytes, NO_TYPES) as RawModuleDef;
  if (def.tag !== 'V10') throw new ModuleError('UNSUPPORTED_MODULE', `the module describes itself as RawModuleDef ${def.tag}; Lightcone hosts V10 (spacetimedb 2.x) modules`);
  return def.value;
}

function section<K extends RawV10['sections'][number]['tag']>(def: RawV10, tag: K, fallback: Section<K>): Section<K> {
  const s = def.sections.find((x) => x.tag === tag);
  return s ? (s.value as Section<K>) : fallback;
}

/** RawModuleDefV9 from RawModuleDefV10 (see `schemaJson` for what is approximated). */
function v9FromV10(def: RawV10): RawV9 {
  const schema = readModuleDef(def as unknown as RawModuleDefV10Like);
  const tables = section(def, 'Tables', []);
  const schedules = section(def, 'Schedules', []);
  const lifecycles = section(def, 'LifeCycleReducers', []);
  const miscExports: RawV9['miscExports'] = [];
  tables.forEach((t, i) => {
    for (const d of t.defaultValues) miscExports.push({ tag: 'ColumnDefaultValue', value: { table: schema.tables[i]!.canonicalName, colId: d.colId, value: d.value } });
  });
  section(def, 'Procedures', []).forEach((p, i) => {
    miscExports.push({ tag: 'Procedure', value: { name: schema.procedures[i]!.canonicalName, params: p.params, returnType: p.returnType } });
  });
  section(def, 'Views', []).forEach((v, i) => {
    miscExports.push({ tag: 'View', value: { name: schema.views[i]!.canonicalName, index: v.index, isPublic: v.isPublic, isAnonymous: v.isAnonymous, params: v.params, returnType: v.returnType } });
  });
  return {
    typespace: section(def, 'Typespace', { types: [] }),
    tables: tables.map((t, i) => {
      const sched = schedules.find((s) => s.tableName === t.sourceName);
      return {
        name: schema.tables[i]!.canonicalName,
        productTypeRef: t.productTypeRef,
        primaryKey: t.primaryKey,
        indexes: t.indexes.map((ix) => ({ name: ix.sourceName, accessorName: ix.accessorName, algorithm: ix.algorithm })),
        constraints: t.constraints.map((c) => ({ name: c.sourceName, data: c.data })),
        sequences: t.sequences.map((q) => ({ name: q.sourceName, column: q.column, start: q.start, minValue: q.minValue, maxValue: q.maxValue, increment: q.increment })),
        schedule: sched ? { name: sched.sourceName, reducerName: sched.functionName, scheduledAtColumn: sched.scheduleAtCol } : undefined,
        tableType: t.tableType,
        tableAccess: t.tableAccess,
      };
    }),
    reducers: section(def, 'Reducers', []).map((r, i) => ({
      name: schema.reducers[i]!.canonicalName,
      params: r.params,
      lifecycle: lifecycles.find((l) => l.functionName === r.sourceName)?.lifecycleSpec,
    })),
    types: section(def, 'Types', []).map((t) => ({ name: { scope: t.sourceName.scope, name: t.sourceName.sourceName }, ty: t.ty, customOrdering: t.customOrdering })),
    miscExports,
    rowLevelSecurity: section(def, 'RowLevelSecurity', []),
  };
}

// ---- writing ---------------------------------------------------------------------------------

const INTS = new Set(['I8', 'U8', 'I16', 'U16', 'I32', 'U32', 'I64', 'U64', 'I128', 'U128']);

/** Writes values as SATS-JSON text into an array of parts. */
class Writer {
  readonly #ts: Typespace;
  readonly #typed: boolean;
  readonly #field: ((name: string) => string) | undefined;

  constructor(ts: Typespace, typed: boolean, field: ((name: string) => string) | undefined) {
    this.#ts = ts;
    this.#typed = typed;
    this.#field = field;
  }

  write(out: string[], v: unknown, ty0: Ty): void {
    const ty = resolveType(ty0, this.#ts);
    switch (ty.tag) {
      case 'Bool':
        if (typeof v !== 'boolean') throw mismatch(v, ty, this.#ts);
        out.push(v ? 'true' : 'false');
        return;
      case 'String':
        if (typeof v !== 'string') throw mismatch(v, ty, this.#ts);
        out.push(JSON.stringify(v));
        return;
      case 'F32':
      case 'F64':
        if (typeof v !== 'number') throw mismatch(v, ty, this.#ts);
        out.push(floatText(v, ty.tag === 'F32'));
        return;
      case 'I256':
      case 'U256':
        if (typeof v !== 'bigint') throw mismatch(v, ty, this.#ts);
        out.push(v < 0n ? `"-0x${(-v).toString(16)}"` : `"0x${v.toString(16)}"`);
        return;
      case 'Array':
        this.#array(out, v, ty);
        return;
      case 'Product':
        this.#product(out, v, ty);
        return;
      case 'Sum':
        this.#sum(out, v, ty);
        return;
      default:
        if (!INTS.has(ty.tag) || !((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint')) throw mismatch(v, ty, this.#ts);
        out.push(String(v));
    }
  }

  #array(out: string[], v: unknown, ty: Ty & { tag: 'Array' }): void {
    if (resolveType(ty.value, this.#ts).tag === 'U8' && (v instanceof Uint8Array || Array.isArray(v))) {
      let hex = '';
      for (const b of v as Iterable<number>) hex += (b < 16 ? '0' : '') + b.toString(16);
      out.push(`"${hex}"`);
      return;
    }
    if (!Array.isArray(v)) throw mismatch(v, ty, this.#ts);
    out.push('[');
    v.forEach((x, i) => {
      if (i > 0) out.push(',');
      this.write(out, x, ty.value);
    });
    out.push(']');
  }

  #product(out: string[], v: unknown, ty: Ty & { tag: 'Product' }): void {
    const els = ty.value.elements;
    if (els.length === 0) {
      out.push('[]');
      return;
    }
    if (v === null || typeof v !== 'object') throw mismatch(v, ty, this.#ts);
    const o = v as Record<string, unknown>;
    out.push(this.#typed ? '{' : '[');
    els.forEach((e, i) => {
      if (i > 0) out.push(',');
      const name = e.name ?? String(i);
      if (this.#typed) out.push(JSON.stringify(this.#field ? this.#field(name) : name), ':');
      this.write(out, o[name], e.algebraicType);
    });
    out.push(this.#typed ? '}' : ']');
  }

  #sum(out: string[], v: unknown, ty: Ty & { tag: 'Sum' }): void {
    const [i, payload] = variantOf(v, ty.value);
    const variant = ty.value.variants[i];
    if (!variant) throw mismatch(v, ty, this.#ts);
    out.push(this.#typed ? `{${JSON.stringify(variant.name ?? String(i))}:` : `[${i},`);
    this.write(out, payload, variant.algebraicType);
    out.push(this.#typed ? '}' : ']');
  }
}

function isOption(s: SumType): boolean {
  return s.variants.length === 2 && s.variants[0]!.name === 'some' && s.variants[1]!.name === 'none';
}

function isResult(s: SumType): boolean {
  return s.variants.length === 2 && s.variants[0]!.name === 'ok' && s.variants[1]!.name === 'err';
}

/** The variant index and payload of a sum value as the package represents it. */
function variantOf(v: unknown, s: SumType): [number, unknown] {
  if (isOption(s)) return v === undefined || v === null ? [1, undefined] : [0, v];
  if (v === null || typeof v !== 'object') return [-1, undefined];
  const o = v as Record<string, unknown>;
  if (isResult(s) && !('tag' in o)) return 'ok' in o ? [0, o.ok] : [1, o.err];
  return [s.variants.findIndex((x) => x.name === o.tag), o.value];
}

/**
 * A float as JSON: an f32 with the fewest digits that read back as the same f32 (`0.1`, not the
 * double `0.10000000149011612`), as SpacetimeDB writes it; NaN and infinities as null.
 */
function floatText(x: number, f32: boolean): string {
  if (!Number.isFinite(x)) return 'null';
  if (Object.is(x, -0)) return '-0.0';
  if (f32) {
    for (let p = 1; p <= 9; p++) {
      const y = Number(x.toPrecision(p));
      if (Math.fround(y) === x) return String(y);
    }
  }
  return String(x);
}

function mismatch(v: unknown, ty: Ty, ts: Typespace): InternalError {
  return new InternalError(`a value does not match its type ${typeName(ty, ts)}: ${showValue(v)}`);
}

// ---- reading call arguments ------------------------------------------------------------------

/**
 * Reads a `/call` body into the arguments `Engine.call` takes: an object keyed by parameter name,
 * holding plain values that survive structured clone. The body is a JSON array of the arguments
 * in parameter order or an object keyed by parameter name (empty = no arguments), parsed exactly
 * (integers beyond 2^53 keep every digit). Accepted per type: a product as an array or an object;
 * a sum as `[tag, payload]` (tag = variant number or name), `{"Variant": payload}` or a unit
 * variant's name; an option as `{"some": x}` / `{"none": []}`, `[0, x]` / `[1, []]`, null (none)
 * or the bare value; Identity, ConnectionId, Timestamp, TimeDuration and Uuid as their SATS product
 * (`["0x…"]`, `{"__identity__": …}`) or the bare inner value (hex, number, and for times an ISO
 * text); integers as numbers or strings (u256 as "0x…"); bytes as hex or an array of numbers.
 * `what` names the function in messages ("reducer send_message"). Throws UsageError BAD_ARGUMENT
 * naming the parameter and the expected type for a body that does not fit.
 */
export function argsFromSatsJson(text: string, params: ProductType, typespace: Typespace, what = 'the call'): Record<string, unknown> {
  const body = text.trim() === '' ? [] : parseExactJson(text, `the body of ${what}`);
  const els = params.elements;
  const signature = els.map((e) => `${e.name}: ${typeName(e.algebraicType, typespace)}`).join(', ');
  const out: Record<string, unknown> = {};
  if (Array.isArray(body)) {
    if (body.length !== els.length) {
      throw new UsageError('BAD_ARGUMENT', `${what} takes ${els.length} argument${els.length === 1 ? '' : 's'} (${signature}), got ${body.length}`, { expected: els.length, got: body.length });
    }
    els.forEach((e, i) => {
      out[e.name ?? ''] = fromSats(body[i], e.algebraicType, typespace, `${what} argument ${e.name}`);
    });
  } else if (isObject(body)) {
    const keys = fieldKeys(body, params, `${what} has no parameter`, `it takes (${signature})`);
    els.forEach((e, i) => {
      const k = keys[i];
      if (k !== undefined) out[e.name ?? ''] = fromSats(body[k], e.algebraicType, typespace, `${what} argument ${e.name}`);
    });
  } else {
    throw new UsageError('BAD_ARGUMENT', `${what} takes (${signature}): send a JSON array of the arguments in order or an object keyed by parameter name, got ${showValue(body)}`);
  }
  // The engine's own check, so a bad body fails here, naming the parameter and the expected type.
  encodeArgs(params, out, what, typespace);
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The key of `o` holding each element of `p` (its name, its snake_case or camelCase spelling), or
 * undefined where absent; any other key is refused.
 */
function fieldKeys(o: Record<string, unknown>, p: ProductType, unknownWhat: string, hint: string): (string | undefined)[] {
  const spellings = p.elements.map((e) => {
    const n = e.name ?? '';
    return [n, snakeCase(n), n.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())];
  });
  const unknown = Object.keys(o).filter((k) => !spellings.some((s) => s.includes(k)));
  if (unknown.length > 0) throw new UsageError('BAD_ARGUMENT', `${unknownWhat} ${unknown.join(', ')}: ${hint}`, { unknown });
  return spellings.map((s) => s.find((k) => k in o));
}

/** `v` (SATS-JSON, parsed) of type `ty` in the form `coerceValue` reads; what it cannot place is passed on for it to refuse. */
function fromSats(v: unknown, ty0: Ty, ts: Typespace, path: string): unknown {
  const ty = resolveType(ty0, ts);
  if (specialName(ty)) {
    const field = (ty as Ty & { tag: 'Product' }).value.elements[0]!.name!;
    let inner = v;
    if (Array.isArray(v) && v.length === 1) inner = v[0];
    else if (isObject(v) && Object.keys(v).length === 1 && field in v) inner = v[field];
    return typeof inner === 'number' && Number.isInteger(inner) ? BigInt(inner) : inner;
  }
  switch (ty.tag) {
    case 'Array':
      return Array.isArray(v) ? v.map((x, i) => fromSats(x, ty.value, ts, `${path}[${i}]`)) : v;
    case 'Product': {
      const els = ty.value.elements;
      if (Array.isArray(v)) {
        if (v.length !== els.length) {
          throw new UsageError('BAD_ARGUMENT', `${path}: expected ${typeName(ty, ts)} (an array of ${els.length} field${els.length === 1 ? '' : 's'} in order, or an object), got ${showValue(v)}`, {
            path,
          });
        }
        return Object.fromEntries(els.map((e, i) => [e.name ?? '', fromSats(v[i], e.algebraicType, ts, `${path}.${e.name}`)]));
      }
      if (!isObject(v)) return v;
      const keys = fieldKeys(v, ty.value, `${path} has no field`, `expected ${typeName(ty, ts)}`);
      const out: Record<string, unknown> = {};
      els.forEach((e, i) => {
        const k = keys[i];
        if (k !== undefined) out[e.name ?? ''] = fromSats(v[k], e.algebraicType, ts, `${path}.${e.name}`);
      });
      return out;
    }
    case 'Sum':
      return sumFromSats(v, ty, ts, path);
    default:
      return v;
  }
}

function sumFromSats(v: unknown, ty: Ty & { tag: 'Sum' }, ts: Typespace, path: string): unknown {
  const variants = ty.value.variants;
  let index = -1;
  let payload: unknown;
  if (Array.isArray(v) && v.length === 2 && (typeof v[0] === 'number' || typeof v[0] === 'string')) {
    index = typeof v[0] === 'number' ? v[0] : variants.findIndex((x) => x.name === v[0]);
    payload = v[1];
  } else if (isObject(v) && Object.keys(v).length === 1) {
    const name = Object.keys(v)[0]!;
    index = variants.findIndex((x) => x.name === name);
    payload = v[name];
  } else if (typeof v === 'string' && !isOption(ty.value)) {
    index = variants.findIndex((x) => x.name === v);
  }
  const variant = variants[index];
  if (isOption(ty.value)) {
    if (v === null || v === undefined || index === 1) return { none: [] };
    return { some: fromSats(index === 0 ? payload : v, variants[0]!.algebraicType, ts, path) };
  }
  if (!variant) return v; // coerceValue names the variants
  const inner = resolveType(variant.algebraicType, ts);
  const unit = inner.tag === 'Product' && inner.value.elements.length === 0;
  return { tag: variant.name, value: unit ? {} : fromSats(payload, variant.algebraicType, ts, `${path}.${variant.name}`) };
}
