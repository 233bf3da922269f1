// Turns loosely typed input (JSON from the CLI, JS values from the API) into the module library's
// own typed values, checking each against its AlgebraicType with an error that names the
// parameter and the expected type; and encodes/decodes BSATN with the package's serializers.
import { AlgebraicType, BinaryReader, BinaryWriter, ConnectionId, Identity, TimeDuration, Timestamp, Uuid, type AlgebraicType as Ty } from 'spacetimedb';
import { specialName, typeName } from '../datastore/columns.ts';
import { UsageError } from '../errors.ts';
import { resolveType } from './module-def.ts';

type Typespace = { types: Ty[] };
interface Product {
  elements: { name: string | undefined; algebraicType: Ty }[];
}

const INT_BITS: Record<string, [number, boolean]> = {
  I8: [8, true],
  U8: [8, false],
  I16: [16, true],
  U16: [16, false],
  I32: [32, true],
  U32: [32, false],
  I64: [64, true],
  U64: [64, false],
  I128: [128, true],
  U128: [128, false],
  I256: [256, true],
  U256: [256, false],
};

function bad(path: string, ty: Ty, ts: Typespace, value: unknown, hint = ''): UsageError {
  return new UsageError('BAD_ARGUMENT', `${path}: expected ${typeName(ty, ts)}, got ${showValue(value)}${hint ? ` (${hint})` : ''}`, { path, expected: typeName(ty, ts) });
}

/** The longest rendering of a bad value in a message. */
const SHOWN_CHARS = 120;

/**
 * A bad argument as a message shows it: short, and never throwing, whatever it is (JSON.stringify
 * throws on a bigint inside, on a cycle, and on deep nesting). Bigints as `5n`, nesting below
 * three levels as `…`, cycles as `[circular]`.
 */
export function showValue(value: unknown): string {
  const seen = new Set<object>();
  const show = (v: unknown, depth: number): string => {
    switch (typeof v) {
      case 'bigint':
        return `${v}n`;
      case 'string':
        return JSON.stringify(v.length > SHOWN_CHARS ? `${v.slice(0, SHOWN_CHARS)}…` : v);
      case 'number':
      case 'boolean':
        return String(v);
      case 'undefined':
        return 'undefined';
      case 'symbol':
        return v.toString();
      case 'function':
        return 'a function';
    }
    if (v === null) return 'null';
    const o = v as object;
    if (o instanceof Uint8Array) return `bytes(${o.length})`;
    if (o instanceof Date) return Number.isNaN(o.getTime()) ? 'Invalid Date' : o.toISOString();
    if (seen.has(o)) return '[circular]';
    if (depth >= 3) return Array.isArray(o) ? '[…]' : '{…}';
    seen.add(o);
    try {
      if (Array.isArray(o)) {
        const items = o.slice(0, 8).map((x) => show(x, depth + 1));
        return `[${items.join(', ')}${o.length > 8 ? `, … (${o.length} items)` : ''}]`;
      }
      const keys = Object.keys(o);
      const items = keys.slice(0, 8).map((k) => `${JSON.stringify(k)}: ${show((o as Record<string, unknown>)[k], depth + 1)}`);
      return `{${items.join(', ')}${keys.length > 8 ? ', …' : ''}}`;
    } finally {
      seen.delete(o);
    }
  };
  let text: string;
  try {
    text = show(value, 0);
  } catch {
    text = 'a value that cannot be shown'; // e.g. a Proxy whose traps throw
  }
  return text.length > SHOWN_CHARS * 2 ? `${text.slice(0, SHOWN_CHARS * 2)}…` : text;
}

function toBigInt(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^[-+]?(0x[0-9a-fA-F]+|\d+)$/.test(v.trim())) {
    const s = v.trim();
    return s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s.replace(/^\+/, ''));
  }
  return undefined;
}

function hexToBigInt(s: string): bigint | undefined {
  const h = s.trim().replace(/^0x/i, '');
  return /^[0-9a-fA-F]+$/.test(h) ? BigInt(`0x${h}`) : undefined;
}

/** Checks and converts `value` to the JS value the package's serializer expects for `ty`. */
export function coerceValue(ty0: Ty, value: unknown, path: string, ts: Typespace): unknown {
  const ty = resolveType(ty0, ts);
  const special = specialName(ty);
  if (special) return coerceSpecial(special, ty, value, path, ts);
  switch (ty.tag) {
    case 'Bool':
      if (typeof value === 'boolean') return value;
      throw bad(path, ty, ts, value);
    case 'String':
      if (typeof value === 'string') {
        // Strings are stored as UTF-8, which has no lone surrogate: it would come back as U+FFFD.
        if (LONE_SURROGATE.test(value)) throw bad(path, ty, ts, value, 'it holds a lone UTF-16 surrogate, which UTF-8 cannot store: pair it or remove it');
        return value;
      }
      throw bad(path, ty, ts, value);
    case 'F32':
    case 'F64':
      if (typeof value === 'number') return value;
      // JSON from the CLI gives integers beyond 2^53 as bigints; a float takes the nearest double
      // (none beyond the double range).
      if (typeof value === 'bigint' && Number.isFinite(Number(value))) return Number(value);
      if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) return Number(value);
      throw bad(path, ty, ts, value);
    case 'Array': {
      if (ty.value.tag === 'U8') {
        if (value instanceof Uint8Array) return value;
        if (typeof value === 'string') {
          const h = value.replace(/^0x/i, '');
          if (/^([0-9a-fA-F]{2})*$/.test(h)) return Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
        }
        if (Array.isArray(value)) return Uint8Array.from(denseArray(value, path, ty, ts), (x, i) => coerceValue({ tag: 'U8' }, x, `${path}[${i}]`, ts) as number);
        throw bad(path, ty, ts, value, 'give bytes as a hex string or an array of numbers');
      }
      if (!Array.isArray(value)) throw bad(path, ty, ts, value);
      return denseArray(value, path, ty, ts).map((x, i) => coerceValue(ty.value, x, `${path}[${i}]`, ts));
    }
    case 'Product':
      return coerceProduct(ty.value, value, path, ts, ty);
    case 'Sum':
      return coerceSum(ty, value, path, ts);
    case 'Ref':
      throw bad(path, ty, ts, value);
    default: {
      const bits = INT_BITS[ty.tag];
      if (!bits) throw bad(path, ty, ts, value);
      const [n, signed] = bits;
      const b = toBigInt(value);
      if (b === undefined) throw bad(path, ty, ts, value);
      const min = signed ? -(1n << BigInt(n - 1)) : 0n;
      const max = signed ? (1n << BigInt(n - 1)) - 1n : (1n << BigInt(n)) - 1n;
      if (b < min || b > max) throw bad(path, ty, ts, value, `out of range ${min}..${max}`);
      return n <= 32 ? Number(b) : b;
    }
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** `value` itself when every index holds an element; `map` would skip a hole and store garbage. */
function denseArray(value: unknown[], path: string, ty: Ty, ts: Typespace): unknown[] {
  if (Object.keys(value).length !== value.length) throw bad(path, ty, ts, value, 'the array has holes or extra properties: give a plain array');
  return value;
}

function coerceProduct(p: Product, value: unknown, path: string, ts: Typespace, ty: Ty): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(path, ty, ts, value);
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const el of p.elements) {
    const name = el.name ?? '';
    const v = name in obj ? obj[name] : obj[snakeToCamel(name)];
    const inner = resolveType(el.algebraicType, ts);
    if (v === undefined && !isOption(inner)) throw new UsageError('BAD_ARGUMENT', `${path}.${name}: missing (expected ${typeName(inner, ts)})`, { path: `${path}.${name}` });
    out[name] = coerceValue(el.algebraicType, v, `${path}.${name}`, ts);
  }
  return out;
}

function isOption(ty: Ty): boolean {
  return ty.tag === 'Sum' && ty.value.variants.length === 2 && ty.value.variants[0]!.name === 'some' && ty.value.variants[1]!.name === 'none';
}

function coerceSum(ty: Ty & { tag: 'Sum' }, value: unknown, path: string, ts: Typespace): unknown {
  const variants = ty.value.variants;
  if (isOption(ty)) {
    if (value === null || value === undefined) return undefined;
    if (typeof value === 'object' && !Array.isArray(value)) {
      const o = value as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && keys[0] === 'none') return undefined;
      if (keys.length === 1 && keys[0] === 'some') return coerceValue(variants[0]!.algebraicType, o.some, path, ts);
    }
    return coerceValue(variants[0]!.algebraicType, value, path, ts);
  }
  let tag: string | undefined;
  let payload: unknown;
  if (typeof value === 'string') {
    tag = value;
  } else if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o.tag === 'string') {
      tag = o.tag;
      payload = o.value;
    } else {
      const keys = Object.keys(o);
      if (keys.length === 1) {
        tag = keys[0];
        payload = o[tag!];
      }
    }
  }
  const variant = variants.find((v) => v.name === tag);
  if (!variant) throw bad(path, ty, ts, value, `variants: ${variants.map((v) => v.name).join(', ')}`);
  const inner = resolveType(variant.algebraicType, ts);
  const isUnit = inner.tag === 'Product' && inner.value.elements.length === 0;
  const coerced = isUnit ? {} : coerceValue(inner, payload, `${path}.${tag}`, ts);
  // A result (`t.result`) is `{ ok }` or `{ err }` to the package's serializer, not `{ tag, value }`.
  if (variants.length === 2 && variants[0]!.name === 'ok' && variants[1]!.name === 'err') return { [tag!]: coerced };
  return { tag, value: coerced };
}

function coerceSpecial(kind: string, ty: Ty, value: unknown, path: string, ts: Typespace): unknown {
  switch (kind) {
    case 'Identity': {
      if (value instanceof Identity) return value;
      const b = typeof value === 'string' ? hexToBigInt(value) : typeof value === 'bigint' ? value : (value as { __identity__?: bigint } | null)?.__identity__;
      if (typeof b !== 'bigint' || b < 0n || b >= 1n << 256n) throw bad(path, ty, ts, value, 'give an identity as 64 hex digits');
      return new Identity(b);
    }
    case 'ConnectionId': {
      if (value instanceof ConnectionId) return value;
      const b = typeof value === 'string' ? hexToBigInt(value) : typeof value === 'bigint' ? value : (value as { __connection_id__?: bigint } | null)?.__connection_id__;
      if (typeof b !== 'bigint' || b < 0n || b >= 1n << 128n) throw bad(path, ty, ts, value, 'give a connection id as 32 hex digits');
      return new ConnectionId(b);
    }
    case 'Uuid': {
      if (value instanceof Uuid) return value;
      // `0x` + hex digits: how SQL literals and SpacetimeDB's query builder write a UUID.
      if (typeof value === 'string' && /^0x[0-9a-f]{1,32}$/i.test(value.trim())) return new Uuid(hexToBigInt(value)!);
      if (typeof value === 'string') {
        try {
          return Uuid.parse(value);
        } catch {
          throw bad(path, ty, ts, value);
        }
      }
      if (typeof value === 'bigint') {
        // Uuid's constructor throws a plain Error outside 0..2^128-1.
        if (value < 0n || value >= 1n << 128n) throw bad(path, ty, ts, value, 'a UUID is 128 bits: give it as text (xxxxxxxx-xxxx-…) or an integer from 0 to 2^128-1');
        return new Uuid(value);
      }
      throw bad(path, ty, ts, value, 'give a UUID as text, e.g. "01234567-89ab-cdef-0123-456789abcdef"');
    }
    case 'Timestamp': {
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw bad(path, ty, ts, value, 'give a valid date');
        return Timestamp.fromDate(value);
      }
      if (typeof value === 'string' && !/^-?\d+$/.test(value)) {
        const ms = Date.parse(value);
        if (Number.isNaN(ms)) throw bad(path, ty, ts, value, 'give an ISO 8601 time or microseconds since the epoch');
        return new Timestamp(BigInt(ms) * 1000n);
      }
      const b =
        value instanceof Timestamp ? value.microsSinceUnixEpoch : (toBigInt(value) ?? (value as { __timestamp_micros_since_unix_epoch__?: bigint } | null)?.__timestamp_micros_since_unix_epoch__);
      if (typeof b !== 'bigint') throw bad(path, ty, ts, value, 'give an ISO 8601 time or microseconds since the epoch');
      checkI64Micros(b, path, ty, ts, value);
      return value instanceof Timestamp ? value : new Timestamp(b);
    }
    case 'TimeDuration': {
      const b = value instanceof TimeDuration ? value.micros : (toBigInt(value) ?? (value as { __time_duration_micros__?: bigint } | null)?.__time_duration_micros__);
      if (typeof b !== 'bigint') throw bad(path, ty, ts, value, 'give microseconds');
      checkI64Micros(b, path, ty, ts, value);
      return value instanceof TimeDuration ? value : new TimeDuration(b);
    }
  }
  throw bad(path, ty, ts, value);
}

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/**
 * Timestamps and durations are i64 microseconds on the wire; the serializer would wrap a larger
 * value silently (2^70 µs lands in 1970), so it is refused like any out-of-range integer.
 */
function checkI64Micros(b: bigint, path: string, ty: Ty, ts: Typespace, value: unknown): void {
  if (b < I64_MIN || b > I64_MAX) throw bad(path, ty, ts, value, `out of range ${I64_MIN}..${I64_MAX} microseconds`);
}

function snakeToCamel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Encodes call arguments: `args` is an array (one value per parameter, in order) or an object
 * keyed by parameter name. `what` names the function in errors.
 */
export function encodeArgs(params: Product, args: unknown, what: string, ts: Typespace): Uint8Array {
  try {
    return encodeArgsChecked(params, args, what, ts);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    // Whatever else a hostile argument provokes (a stack overflow on a value nested deeper than a
    // recursive type can be read, a throwing getter or Proxy) is still the caller's bad argument.
    const why = e instanceof RangeError ? 'it nests too deeply' : `reading it failed: ${e instanceof Error ? e.message : String(e)}`;
    throw new UsageError('BAD_ARGUMENT', `${what}: the arguments could not be read (${why}); pass plain values of the parameter types`, { cause: String(e) });
  }
}

/** What `encodeArgs` needs of a parameter list, worked out once per list. */
interface ParamsPlan {
  names: string[];
  /** Each parameter's type, resolved. */
  inner: Ty[];
  /** The parameters as one product type: its serializer is cached on this object. */
  product: Ty;
}
const plans = new WeakMap<Product, ParamsPlan>();

function planOf(params: Product, ts: Typespace): ParamsPlan {
  let plan = plans.get(params);
  if (!plan) {
    plan = {
      names: params.elements.map((e) => e.name ?? ''),
      inner: params.elements.map((e) => resolveType(e.algebraicType, ts)),
      product: { tag: 'Product', value: params } as Ty,
    };
    plans.set(params, plan);
  }
  return plan;
}

function encodeArgsChecked(params: Product, args: unknown, what: string, ts: Typespace): Uint8Array {
  const { names, inner, product } = planOf(params, ts);
  const signature = () => params.elements.map((e) => `${e.name}: ${typeName(e.algebraicType, ts)}`).join(', ');
  let obj: Record<string, unknown> | undefined;
  let list: unknown[] | undefined;
  if (args === undefined || args === null) {
    obj = {};
  } else if (Array.isArray(args)) {
    if (args.length !== names.length) {
      throw new UsageError('BAD_ARGUMENT_COUNT', `${what} takes ${names.length} argument${names.length === 1 ? '' : 's'} (${signature()}), got ${args.length}`, {
        expected: names.length,
        got: args.length,
      });
    }
    list = args;
  } else if (typeof args === 'object' && !(args instanceof Uint8Array)) {
    obj = args as Record<string, unknown>;
    const unknown = Object.keys(obj).filter((k) => !names.includes(k) && !names.includes(camelToSnake(k)));
    if (unknown.length) throw new UsageError('BAD_ARGUMENT', `${what} has no parameter ${unknown.join(', ')}: it takes (${signature()})`, { unknown });
  } else {
    throw new UsageError('BAD_ARGUMENT', `${what} takes (${signature()}): pass an array of values or an object keyed by parameter name`);
  }
  const value: Record<string, unknown> = {};
  const elements = params.elements;
  for (let i = 0; i < elements.length; i++) {
    const n = names[i]!;
    const v = list ? list[i] : n in obj! ? obj![n] : obj![snakeToCamel(n)];
    if (v === undefined && !isOption(inner[i]!)) {
      throw new UsageError('BAD_ARGUMENT', `${what}: missing argument ${n} (expected ${typeName(inner[i]!, ts)})`, { path: n });
    }
    value[n] = coerceValue(elements[i]!.algebraicType, v, `${what} argument ${n}`, ts);
  }
  return encodeValue(product, value, ts);
}

function camelToSnake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const serializers = new WeakMap<object, (w: BinaryWriter, v: unknown) => void>();
const deserializers = new WeakMap<object, (r: BinaryReader) => unknown>();

/** BSATN of a typed value (with the package's serializer, cached per type object). */
export function encodeValue(ty: Ty, value: unknown, ts: Typespace): Uint8Array {
  let ser = serializers.get(ty);
  if (!ser) {
    ser = AlgebraicType.makeSerializer(ty, ts) as (w: BinaryWriter, v: unknown) => void;
    serializers.set(ty, ser);
  }
  const w = scratchWriter;
  w.clear();
  ser(w, value);
  return w.getBuffer().slice();
}
/** One writer reused by every encode (calls are synchronous; the result is copied out). */
const scratchWriter = new BinaryWriter(1024);

/** Decodes BSATN to the package's JS values. */
export function decodeValue(ty: Ty, bytes: Uint8Array, ts: Typespace): unknown {
  let de = deserializers.get(ty);
  if (!de) {
    de = AlgebraicType.makeDeserializer(ty, ts) as (r: BinaryReader) => unknown;
    deserializers.set(ty, de);
  }
  return de(new BinaryReader(bytes));
}
