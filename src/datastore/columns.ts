// How each SpacetimeDB column type is stored in SQLite so that SQLite's order equals SpacetimeDB's
// and the row's BSATN can be rebuilt byte for byte from its columns (the datastore keeps one copy
// of each row: its columns). Small integers and bool as INTEGER; u64 below 2^63 as INTEGER and
// from 2^63 up as an 8-byte big-endian BLOB (SQLite sorts every INTEGER before every BLOB, so the
// order holds); 128/256-bit integers and Identity/ConnectionId/Uuid as big-endian BLOBs with the
// sign bit flipped for signed types; strings as TEXT (BINARY collation = UTF-8 byte order);
// Timestamp/TimeDuration as INTEGER; payload-free enums as INTEGER tags; floats as REAL, except
// NaN, which SQLite would turn into NULL: its bits as a BLOB (after every number, as in a total
// order). Other types (arrays, products, enums with payloads) are stored as their BSATN bytes,
// which have no useful order: they cannot be indexed or compared in SQL.
import { AlgebraicType, type BinaryReader, type AlgebraicType as Ty } from 'spacetimedb';
import { readStringAt } from '../host/text-codec.ts';

/** A value SQLite can bind. */
export type SqlValue = number | bigint | string | Uint8Array | null;

/** Storage class of a column. `none` columns hold BSATN bytes with no order (arrays, products, …). */
export type StorageKind = 'int' | 'i64' | 'u64' | 'wide' | 'real' | 'text' | 'bytes' | 'enum' | 'none';

export interface ColumnCodec {
  kind: StorageKind;
  /** Reads the column from BSATN and returns its stored SQLite value. */
  read: (r: BinaryReader) => SqlValue;
  /** Byte width of a fixed-width value in BSATN (auto-increment write-back, rebuilding rows), else 0. */
  width: number;
  signed: boolean;
  /** Type tag after unwrapping special products (`U256` for Identity, `I64` for Timestamp, …). */
  scalar: string;
  /** Human name of the type, for error messages. */
  typeName: string;
}

const I64_LIMIT = 1n << 63n;

/** u64 → its stored value: the integer below 2^63, else its 8 big-endian bytes (which SQLite sorts after every integer). */
export function u64ToStored(v: bigint): bigint | Uint8Array {
  return v < I64_LIMIT ? v : bigintToOrderedBlob(v, 8, false);
}
/** Inverse of `u64ToStored`. */
export function storedToU64(v: SqlValue): bigint {
  if (v instanceof Uint8Array) {
    let x = 0n;
    for (const b of v) x = (x << 8n) | BigInt(b);
    return x;
  }
  return BigInt(v ?? 0);
}

/** The bytes `r` read since `start` (a copy). */
function readSince(r: BinaryReader, start: number): Uint8Array {
  const v = r.view;
  return new Uint8Array(v.buffer, v.byteOffset + start, r.offset - start).slice();
}

/** A float's stored value: the number, or for NaN (which SQLite stores as NULL) its BSATN bits. */
function floatStored(r: BinaryReader, width: 4 | 8): SqlValue {
  const start = r.offset;
  const v = width === 4 ? r.readF32() : r.readF64();
  return v === v ? v : readSince(r, start);
}

/** Little-endian integer bytes → big-endian order-preserving BLOB. */
function leToOrderedBlob(le: Uint8Array, signed: boolean): Uint8Array {
  const n = le.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = le[n - 1 - i]!;
  if (signed) out[0]! ^= 0x80;
  return out;
}

/** bigint → order-preserving BLOB of `width` bytes. */
export function bigintToOrderedBlob(v: bigint, width: number, signed: boolean): Uint8Array {
  const out = new Uint8Array(width);
  let x = BigInt.asUintN(width * 8, v);
  for (let i = width - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (signed) out[0]! ^= 0x80;
  return out;
}

const WRAPPERS: Record<string, string> = {
  __identity__: 'Identity',
  __connection_id__: 'ConnectionId',
  __uuid__: 'Uuid',
  __timestamp_micros_since_unix_epoch__: 'Timestamp',
  __time_duration_micros__: 'TimeDuration',
};

/** Names the special product (Identity, Timestamp, …) a type is, if it is one. */
export function specialName(ty: Ty): string | undefined {
  if (ty.tag !== 'Product') return undefined;
  const els = ty.value.elements;
  if (els.length !== 1) return undefined;
  const name = els[0]!.name;
  return name === undefined ? undefined : WRAPPERS[name];
}

/** True for a sum type whose variants all carry unit payloads (a "simple enum"). */
export function isSimpleEnum(ty: Ty): boolean {
  return ty.tag === 'Sum' && ty.value.variants.every((v) => v.algebraicType.tag === 'Product' && v.algebraicType.value.elements.length === 0);
}

/** A readable type name: `u64`, `Identity`, `Array<string>`, … */
export function typeName(ty: Ty, typespace?: { types: Ty[] }): string {
  const special = specialName(ty);
  if (special) return special;
  switch (ty.tag) {
    case 'Ref': {
      const t = typespace?.types[ty.value];
      return t ? typeName(t, typespace) : `Ref(${ty.value})`;
    }
    case 'Array':
      return ty.value.tag === 'U8' ? 'bytes' : `Array<${typeName(ty.value, typespace)}>`;
    case 'Product':
      return `{ ${ty.value.elements.map((e) => `${e.name ?? '_'}: ${typeName(e.algebraicType, typespace)}`).join(', ')} }`;
    case 'Sum': {
      const v = ty.value.variants;
      if (v.length === 2 && v[0]!.name === 'some' && v[1]!.name === 'none') return `Option<${typeName(v[0]!.algebraicType, typespace)}>`;
      if (v.length === 2 && v[0]!.name === 'Interval' && v[1]!.name === 'Time') return 'ScheduleAt';
      return `enum { ${v.map((x) => x.name).join(' | ')} }`;
    }
    default:
      return ty.tag.toLowerCase();
  }
}

/** Builds the codec of one column type. `typespace` resolves refs inside complex types. */
export function columnCodec(ty: Ty, typespace: { types: Ty[] }): ColumnCodec {
  const name = typeName(ty, typespace);
  const special = specialName(ty);
  const base = { typeName: name, width: 0, signed: false };
  if (special === 'Identity') return { ...base, kind: 'wide', scalar: 'U256', width: 32, read: (r) => leToOrderedBlob(r.readBytes(32), false) };
  if (special === 'ConnectionId' || special === 'Uuid') return { ...base, kind: 'wide', scalar: 'U128', width: 16, read: (r) => leToOrderedBlob(r.readBytes(16), false) };
  if (special === 'Timestamp' || special === 'TimeDuration') return { ...base, kind: 'i64', scalar: 'I64', read: (r) => r.readI64() };
  switch (ty.tag) {
    case 'Bool':
      return { ...base, kind: 'int', scalar: 'Bool', width: 1, read: (r) => r.readByte() };
    case 'I8':
      return { ...base, kind: 'int', scalar: 'I8', width: 1, signed: true, read: (r) => r.readI8() };
    case 'U8':
      return { ...base, kind: 'int', scalar: 'U8', width: 1, read: (r) => r.readU8() };
    case 'I16':
      return { ...base, kind: 'int', scalar: 'I16', width: 2, signed: true, read: (r) => r.readI16() };
    case 'U16':
      return { ...base, kind: 'int', scalar: 'U16', width: 2, read: (r) => r.readU16() };
    case 'I32':
      return { ...base, kind: 'int', scalar: 'I32', width: 4, signed: true, read: (r) => r.readI32() };
    case 'U32':
      return { ...base, kind: 'int', scalar: 'U32', width: 4, read: (r) => r.readU32() };
    case 'I64':
      return { ...base, kind: 'i64', scalar: 'I64', width: 8, signed: true, read: (r) => r.readI64() };
    case 'U64':
      return { ...base, kind: 'u64', scalar: 'U64', width: 8, read: (r) => u64ToStored(r.readU64()) };
    case 'I128':
    case 'U128':
    case 'I256':
    case 'U256': {
      const width = ty.tag.endsWith('128') ? 16 : 32;
      const signed = ty.tag.startsWith('I');
      return { ...base, kind: 'wide', scalar: ty.tag, width, signed, read: (r) => leToOrderedBlob(r.readBytes(width), signed) };
    }
    case 'F32':
      return { ...base, kind: 'real', scalar: 'F32', width: 4, read: (r) => floatStored(r, 4) };
    case 'F64':
      return { ...base, kind: 'real', scalar: 'F64', width: 8, read: (r) => floatStored(r, 8) };
    case 'String':
      return { ...base, kind: 'text', scalar: 'String', read: readText };
    case 'Array':
      if (ty.value.tag === 'U8') return { ...base, kind: 'bytes', scalar: 'Bytes', read: (r) => r.readBytes(r.readU32()).slice() };
      break;
    case 'Sum':
      if (isSimpleEnum(ty)) return { ...base, kind: 'enum', scalar: 'Enum', width: 1, read: (r) => r.readU8() };
      break;
    case 'Ref':
      return columnCodec(typespace.types[ty.value]!, typespace);
  }
  const skip = AlgebraicType.makeDeserializer(ty, typespace);
  return {
    ...base,
    kind: 'none',
    scalar: 'None',
    read: (r) => {
      const start = r.offset;
      skip(r);
      return readSince(r, start);
    },
  };
}

/**
 * A string column's value, as the package's `readString` decodes it, without the new TextDecoder
 * it makes for every string. A length past the end throws the package's own RangeError.
 */
function readText(r: BinaryReader): string {
  return readStringAt(r) ?? r.readString();
}
