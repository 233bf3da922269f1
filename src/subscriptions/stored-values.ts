// Column values in the datastore's stored (order-preserving) form, handled in JS the way SQLite
// handles them: decoding a row's BSATN into them, comparing them (numbers, then TEXT by UTF-8
// bytes, then BLOBs bytewise) and turning them into Map keys. Delta rows are tested here.
import { BinaryReader } from 'spacetimedb';
import { bytesKey } from '../datastore/bytes.ts';
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';

/**
 * Decodes rows of one table into stored column values with one reused reader (and one reused
 * DataView per underlying buffer), as the datastore does on its hot path.
 */
export class StoredDecoder {
  readonly #reader = new BinaryReader(new Uint8Array(0));
  #buffer: ArrayBufferLike | undefined;
  #view: DataView | undefined;

  /** Stored values of every column of `row` (`null` for columns that have none), into `out`. */
  decode(table: StoreTable, row: Uint8Array, out: SqlValue[] = new Array<SqlValue>(table.codecs.length)): SqlValue[] {
    const r = this.#reader;
    if (row.buffer !== this.#buffer) {
      this.#buffer = row.buffer;
      this.#view = new DataView(row.buffer);
    }
    r.view = this.#view!;
    r.offset = row.byteOffset;
    const codecs = table.codecs;
    for (let i = 0; i < codecs.length; i++) out[i] = codecs[i]!.read(r) ?? null;
    return out;
  }
}

/**
 * Three-way comparison of two stored values of one column type, as SQLite orders them: numbers
 * and bigints by value, then TEXT by UTF-8 bytes, then BLOBs bytewise (a u64 from 2^63 up and a
 * NaN float are stored as BLOBs, after every number). A NaN number (never stored) or null gives
 * NaN: every comparison with it is unknown.
 */
export function compareStored(a: SqlValue, b: SqlValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : a === b ? 0 : NaN;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a === b ? 0 : compareUtf8(a, b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b);
  const ra = storageRank(a);
  const rb = storageRank(b);
  if (ra === 0 || rb === 0) return NaN;
  if (ra !== rb) return ra < rb ? -1 : 1;
  // a number and a bigint
  return a! < b! ? -1 : a! > b! ? 1 : 0;
}

/** SQLite's order of storage classes: 1 numbers, 2 TEXT, 3 BLOB; 0 for null and NaN. */
function storageRank(v: SqlValue): number {
  if (typeof v === 'bigint') return 1;
  if (typeof v === 'number') return v === v ? 1 : 0;
  if (typeof v === 'string') return 2;
  return v instanceof Uint8Array ? 3 : 0;
}

/**
 * Compares two strings by their UTF-8 bytes (SQLite's BINARY collation) without encoding them.
 * UTF-16 order differs from UTF-8 order only between surrogates (code points ≥ U+10000) and
 * U+E000–U+FFFF, so the first differing code unit is remapped to put surrogates last.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Bytewise comparison (memcmp, then length). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** A value usable as a Map key with SQL equality: numbers, bigints and strings as themselves, BLOBs as a latin1 string. */
export type KeyValue = number | bigint | string;

/** The Map key of a stored value, or undefined when it equals nothing (NaN/NULL). */
export function keyOf(v: SqlValue): KeyValue | undefined {
  if (typeof v === 'number') return v === v ? v : undefined;
  if (typeof v === 'bigint' || typeof v === 'string') return v;
  if (v instanceof Uint8Array) return bytesKey(v);
  return undefined;
}

/** A stored value as text for canonical query keys (type-tagged so that 1 and '1' differ). */
export function valueText(v: SqlValue): string {
  if (typeof v === 'number') return `n${v}`;
  if (typeof v === 'bigint') return `b${v}`;
  if (typeof v === 'string') return `s${JSON.stringify(v)}`;
  if (v instanceof Uint8Array) return `x${Array.from(v, (x) => x.toString(16).padStart(2, '0')).join('')}`;
  return 'null';
}
