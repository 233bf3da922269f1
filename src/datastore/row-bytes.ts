// Rebuilds a row's BSATN bytes from its stored columns (the inverse of the column codecs in
// `columns.ts`), reading them straight from a stepped statement through the WASM exports. The
// datastore keeps no second copy of a row: every read of a row goes through here.
import type { ColumnCodec } from './columns.ts';
import { DatastoreError, Errno } from './datastore-error.ts';
import type { Sqlite3 } from './sqlite.ts';

const SQLITE_BLOB = 4;
/** Rows taken from a reader up to this many bytes are copied out (or lent); past it, the buffer is handed over. */
const KEEP_BYTES = 64 * 1024;
const TWO_32 = 4294967296;
const TWO_53 = 9007199254740992;

interface Exports {
  sqlite3_column_type(p: number, i: number): number;
  sqlite3_column_int(p: number, i: number): number;
  sqlite3_column_int64(p: number, i: number): bigint;
  sqlite3_column_double(p: number, i: number): number;
  sqlite3_column_blob(p: number, i: number): number;
  sqlite3_column_text(p: number, i: number): number;
  sqlite3_column_bytes(p: number, i: number): number;
}

/** The codecs of a table's columns, in row order (what `read` needs of a table). */
export interface RowShape {
  codecs: readonly ColumnCodec[];
  def: { name: string };
}

/** Reads rows out of statements of one sqlite3 instance into BSATN, through one growing buffer. */
export class RowReader {
  readonly #x: Exports;
  readonly #wasm: Sqlite3['wasm'];
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #heapView: Uint8Array | undefined;
  /** Rows lent by `lend` whose bytes are still this reader's buffer. */
  #lent: { bytes: Uint8Array } | undefined;

  constructor(sqlite3: Sqlite3) {
    this.#wasm = sqlite3.wasm;
    this.#x = sqlite3.wasm.exports as unknown as Exports;
  }

  #room(at: number, n: number): void {
    if (at + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, at + n));
    next.set(this.#buf.subarray(0, at));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /** The WASM heap as bytes (a view that a memory growth detaches: then it is taken again). */
  #heap(): Uint8Array {
    let h = this.#heapView;
    if (h === undefined || h.byteLength === 0) h = this.#heapView = this.#wasm.heap8u();
    return h;
  }

  /**
   * Copies `n` bytes of the WASM heap at `ptr` to `at`, optionally reversed (big-endian stored →
   * little-endian BSATN) and with the sign bit flipped back.
   */
  #copy(at: number, ptr: number, n: number, reverse = false, unflipSign = false): number {
    this.#room(at, n);
    const heap = this.#heap();
    const buf = this.#buf;
    if (reverse) for (let i = 0; i < n; i++) buf[at + i] = heap[ptr + n - 1 - i]!;
    else if (n < 64) for (let i = 0; i < n; i++) buf[at + i] = heap[ptr + i]!;
    else buf.set(heap.subarray(ptr, ptr + n), at);
    if (unflipSign) buf[at + n - 1]! ^= 0x80;
    return at + n;
  }

  /** Writes a 64-bit integer column (stored as INTEGER; `d` is its value as a double) little-endian at `at`. */
  #int64(p: number, i: number, d: number, at: number): number {
    this.#room(at, 8);
    if (d < TWO_53 && d > -TWO_53) {
      // Exact as a double: two 32-bit halves, no BigInt.
      const hi = Math.floor(d / TWO_32);
      this.#view.setUint32(at, d - hi * TWO_32, true);
      this.#view.setInt32(at + 4, hi, true);
    } else {
      this.#view.setBigInt64(at, this.#x.sqlite3_column_int64(p, i), true);
    }
    return at + 8;
  }

  /**
   * The BSATN of the row whose columns are result columns `first`, `first + 1`, … of the stepped
   * statement `p` (a fresh copy). Throws DatastoreError HOST_CALL_FAILURE when a stored value
   * cannot be the column's (a damaged image).
   */
  read(p: number, first: number, table: RowShape): Uint8Array {
    const end = this.append(p, first, table, 0); // first: it may replace the buffer
    return this.#buf.slice(0, end);
  }

  /**
   * As `read`, writing the row's BSATN at `at` of this reader's buffer (after rows appended
   * before it) and returning where it ends; `take` then copies the rows out at once.
   */
  append(p: number, first: number, table: RowShape, at: number): number {
    // A new read starts at 0 and overwrites the buffer: rows lent from it get a copy of their own.
    if (at === 0 && this.#lent !== undefined) {
      this.#lent.bytes = this.#lent.bytes.slice();
      this.#lent = undefined;
    }
    const x = this.#x;
    const codecs = table.codecs;
    for (let c = 0; c < codecs.length; c++) {
      const codec = codecs[c]!;
      const i = first + c;
      switch (codec.kind) {
        case 'int':
        case 'enum': {
          const v = x.sqlite3_column_int(p, i);
          const w = codec.width;
          this.#room(at, w);
          if (w === 1) this.#buf[at] = v;
          else if (w === 2) this.#view.setInt16(at, v, true);
          else this.#view.setInt32(at, v, true);
          at += w;
          break;
        }
        case 'i64':
          at = this.#int64(p, i, x.sqlite3_column_double(p, i), at);
          break;
        case 'u64': {
          // A BLOB (from 2^63 up; its first byte is not a digit) reads as the double 0: only a
          // zero needs its type asked.
          const d = x.sqlite3_column_double(p, i);
          if (d === 0 && x.sqlite3_column_type(p, i) === SQLITE_BLOB) at = this.#blob(p, i, at, 8, true, false, table, c);
          else at = this.#int64(p, i, d, at);
          break;
        }
        case 'wide':
          at = this.#blob(p, i, at, codec.width, true, codec.signed, table, c);
          break;
        case 'real':
          if (x.sqlite3_column_type(p, i) === SQLITE_BLOB) {
            at = this.#blob(p, i, at, codec.width, false, false, table, c);
          } else {
            this.#room(at, codec.width);
            const d = x.sqlite3_column_double(p, i);
            if (codec.width === 4) this.#view.setFloat32(at, d, true);
            else this.#view.setFloat64(at, d, true);
            at += codec.width;
          }
          break;
        case 'text':
        case 'bytes': {
          // BSATN: u32 length, then the UTF-8 or raw bytes (the pointer is asked for before the length).
          const ptr = codec.kind === 'text' ? x.sqlite3_column_text(p, i) : x.sqlite3_column_blob(p, i);
          const n = x.sqlite3_column_bytes(p, i);
          this.#room(at, 4);
          this.#view.setUint32(at, n, true);
          at = this.#copy(at + 4, ptr, n);
          break;
        }
        case 'none': {
          const ptr = x.sqlite3_column_blob(p, i);
          at = this.#copy(at, ptr, x.sqlite3_column_bytes(p, i));
          break;
        }
      }
    }
    return at;
  }

  /**
   * As `take`, without a copy while the rows fit `KEEP_BYTES`: `to.bytes` is set to a view of this
   * reader's buffer, and replaced by a copy only if the reader writes again before `release(to)`
   * (most scans are read to the end, often a single row, before the next one starts).
   */
  lend(end: number, to: { bytes: Uint8Array }): void {
    if (end > KEEP_BYTES) {
      to.bytes = this.take(end);
      return;
    }
    to.bytes = this.#buf.subarray(0, end);
    this.#lent = to;
  }

  /** `from` no longer needs the rows `lend` gave it. */
  release(from: { bytes: Uint8Array }): void {
    if (this.#lent === from) this.#lent = undefined;
  }

  /**
   * The first `end` bytes of this reader's buffer (rows written by `append`), as an array of their
   * own: a copy, or past `KEEP_BYTES` the buffer itself, handed over (the reader starts a new one),
   * so a large scan is not copied and the reader never keeps a large buffer once it is done.
   */
  take(end: number): Uint8Array {
    if (end <= KEEP_BYTES) return this.#buf.slice(0, end);
    const out = this.#buf.subarray(0, end);
    this.#buf = new Uint8Array(256);
    this.#view = new DataView(this.#buf.buffer);
    return out;
  }

  #blob(p: number, i: number, at: number, width: number, reverse: boolean, flip: boolean, table: RowShape, c: number): number {
    const ptr = this.#x.sqlite3_column_blob(p, i);
    const n = this.#x.sqlite3_column_bytes(p, i);
    if (n !== width) {
      throw new DatastoreError(
        Errno.HOST_CALL_FAILURE,
        `column ${c} of table ${table.def.name} holds ${n} bytes where ${width} were expected: the database image is damaged; restore it from an export`,
      );
    }
    return this.#copy(at, ptr, n, reverse, flip);
  }
}
