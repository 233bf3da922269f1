// The datastore's hot path talks to SQLite's C API through the WASM exports directly: binding
// through a reusable scratch area on the WASM heap (TEXT encoded in place, BLOBs copied once,
// SQLITE_TRANSIENT so SQLite takes its own copy) instead of the oo1 wrappers, whose per-call
// argument conversion and scoped allocation cost more than the insert itself.
import type { SqlValue } from './columns.ts';
import { RowReader, type RowShape } from './row-bytes.ts';
import type { Sqlite3, SqliteStmt } from './sqlite.ts';

/** A row's rowid: a number when it is a safe integer (nearly always), else a bigint (large integer keys; see `ridOf`). */
export type Rid = number | bigint;

const SQLITE_ROW = 100;
const SQLITE_DONE = 101;
const SQLITE_TRANSIENT = -1;

interface Exports {
  sqlite3_bind_int(p: number, i: number, v: number): number;
  sqlite3_bind_int64(p: number, i: number, v: bigint): number;
  sqlite3_bind_double(p: number, i: number, v: number): number;
  sqlite3_bind_text(p: number, i: number, ptr: number, n: number, d: number): number;
  sqlite3_bind_blob(p: number, i: number, ptr: number, n: number, d: number): number;
  sqlite3_bind_null(p: number, i: number): number;
  sqlite3_step(p: number): number;
  sqlite3_reset(p: number): number;
  sqlite3_column_int64(p: number, i: number): bigint;
  sqlite3_db_handle(p: number): number;
  sqlite3_last_insert_rowid(db: number): bigint;
  sqlite3_errmsg(db: number): number;
  sqlite3_extended_errcode(db: number): number;
}

/** An SQLite failure from the fast path, shaped like sqlite-wasm's (`resultCode`). */
export class SqliteStepError extends Error {
  readonly resultCode: number;
  constructor(code: number, message: string) {
    super(message);
    this.resultCode = code;
  }
  override get name(): string {
    return 'SQLite3Error';
  }
}

/** Longest string bound through the ASCII loop rather than `encodeInto`. */
const SHORT_TEXT = 128;

/** Fast binding and stepping for prepared oo1 statements of one sqlite3 instance. */
export class FastSql {
  readonly #x: Exports;
  readonly #wasm: Sqlite3['wasm'];
  #scratch = 0;
  #cap = 0;
  readonly #enc = new TextEncoder();
  /** Rebuilds rows' BSATN from their columns. */
  readonly reader: RowReader;

  constructor(sqlite3: Sqlite3) {
    this.reader = new RowReader(sqlite3);
    this.#wasm = sqlite3.wasm;
    this.#x = sqlite3.wasm.exports as unknown as Exports;
    this.#grow(1 << 16);
  }

  #grow(n: number): void {
    if (n <= this.#cap) return;
    if (this.#scratch) this.#wasm.dealloc(this.#scratch);
    this.#cap = Math.max(n, this.#cap * 2);
    this.#scratch = this.#wasm.alloc(this.#cap) as unknown as number;
  }

  /** Binds the first `count` of `values` (all by default) to parameters 1..count. */
  bind(stmt: SqliteStmt, values: readonly SqlValue[], count = values.length): void {
    const p = stmt.pointer as unknown as number;
    for (let i = 0; i < count; i++) this.#bindValue(p, i, values[i]!);
  }

  /**
   * As `run`, except that parameter i + 1 is bound to the UTF-8 bytes `row[textAt[i] ..
   * textAt[i] + textLen[i]]` as TEXT where `textAt[i]` ≥ 0 (a string not decoded on the way in).
   */
  runRow(stmt: SqliteStmt, values: readonly SqlValue[], count: number, row: Uint8Array, textAt: readonly number[], textLen: readonly number[]): void {
    const p = stmt.pointer as unknown as number;
    const x = this.#x;
    for (let i = 0; i < count; i++) {
      const at = textAt[i]!;
      if (at < 0) {
        this.#bindValue(p, i, values[i]!);
        continue;
      }
      const n = textLen[i]!;
      this.#grow(n + 1);
      this.#wasm.heap8u().set(row.subarray(at, at + n), this.#scratch);
      const rc = x.sqlite3_bind_text(p, i + 1, this.#scratch, n, SQLITE_TRANSIENT);
      if (rc !== 0) throw this.#error(p, rc);
    }
    this.#stepOnce(p);
  }

  /** Binds `v` to parameter i + 1 of the statement at `p`. */
  #bindValue(p: number, i: number, v: SqlValue): void {
    const x = this.#x;
    let rc: number;
    // -0 as a double: an INTEGER would lose its sign (and the row's bytes with it).
    if (typeof v === 'number') rc = (v | 0) === v && !Object.is(v, -0) ? x.sqlite3_bind_int(p, i + 1, v) : x.sqlite3_bind_double(p, i + 1, v);
    else if (typeof v === 'bigint') rc = x.sqlite3_bind_int64(p, i + 1, v);
    else if (typeof v === 'string') {
      const n = this.#text(v); // first: it may move the scratch buffer
      rc = x.sqlite3_bind_text(p, i + 1, this.#scratch, n, SQLITE_TRANSIENT);
    } else if (v instanceof Uint8Array) {
      this.#grow(v.length + 1);
      this.#wasm.heap8u().set(v, this.#scratch);
      rc = x.sqlite3_bind_blob(p, i + 1, this.#scratch, v.length, SQLITE_TRANSIENT);
    } else rc = x.sqlite3_bind_null(p, i + 1);
    if (rc !== 0) throw this.#error(p, rc);
  }

  /** Writes the UTF-8 of `v` at the scratch buffer and returns its length. */
  #text(v: string): number {
    const n = v.length;
    this.#grow(n * 3 + 1);
    const heap = this.#wasm.heap8u();
    // Short ASCII by hand: a native encodeInto costs more than the loop (see host/text-codec.ts).
    if (n <= SHORT_TEXT) {
      const at = this.#scratch;
      let i = 0;
      for (; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c > 0x7f) break;
        heap[at + i] = c;
      }
      if (i === n) return n;
    }
    return this.#enc.encodeInto(v, heap.subarray(this.#scratch, this.#scratch + this.#cap)).written;
  }

  /** Steps a statement that returns no rows (binding the first `count` of `values`), then resets it. Throws SqliteStepError. */
  run(stmt: SqliteStmt, values: readonly SqlValue[], count = values.length): void {
    this.bind(stmt, values, count);
    this.#stepOnce(stmt.pointer as unknown as number);
  }

  #stepOnce(p: number): void {
    const rc = this.#x.sqlite3_step(p);
    if (rc !== SQLITE_DONE && rc !== SQLITE_ROW) {
      const err = this.#error(p, rc);
      this.#x.sqlite3_reset(p);
      throw err;
    }
    this.#x.sqlite3_reset(p);
  }

  /**
   * Runs a query whose column 0 is the rowid (or any value when `withRid` is false) and whose next
   * columns are all the stored columns of `table` in order (`rowColumnsSql`), collecting every row
   * as BSATN (a snapshot). `limit` stops early (1 for unique lookups).
   */
  rows(stmt: SqliteStmt, values: readonly SqlValue[], withRid: boolean, table: RowShape, limit = Infinity): { rid: Rid; row: Uint8Array }[] {
    this.bind(stmt, values);
    const p = stmt.pointer as unknown as number;
    const x = this.#x;
    const out: { rid: Rid; row: Uint8Array }[] = [];
    try {
      for (;;) {
        const rc = x.sqlite3_step(p);
        if (rc === SQLITE_DONE) break;
        if (rc !== SQLITE_ROW) throw this.#error(p, rc);
        const row = this.reader.read(p, 1, table);
        out.push({ rid: withRid ? ridOf(x.sqlite3_column_int64(p, 0)) : 0, row });
        if (out.length >= limit) break;
      }
    } finally {
      x.sqlite3_reset(p);
    }
    return out;
  }

  /** Lent rows from `packedRows` that are no longer needed (see `RowReader.lend`). */
  release(rows: PackedRows): void {
    this.reader.release(rows);
  }

  /**
   * As `rows` without the rids: the rows' BSATN only, one after another (what scans hand a
   * module). Their bytes may be lent from the reader's buffer (see `RowReader.lend`).
   */
  packedRows(stmt: SqliteStmt, values: readonly SqlValue[], table: RowShape, limit = Infinity): PackedRows {
    this.bind(stmt, values);
    const p = stmt.pointer as unknown as number;
    const x = this.#x;
    const reader = this.reader;
    const ends: number[] = [];
    let end = 0;
    try {
      for (;;) {
        const rc = x.sqlite3_step(p);
        if (rc === SQLITE_DONE) break;
        if (rc !== SQLITE_ROW) throw this.#error(p, rc);
        end = reader.append(p, 1, table, end);
        ends.push(end);
        if (ends.length >= limit) break;
      }
    } finally {
      x.sqlite3_reset(p);
    }
    const out: PackedRows = { bytes: NO_BYTES, ends };
    if (ends.length) reader.lend(end, out);
    return out;
  }

  /** Rowid of the last insert on the statement's connection. */
  lastRowid(stmt: SqliteStmt): Rid {
    return ridOf(this.#x.sqlite3_last_insert_rowid(this.#x.sqlite3_db_handle(stmt.pointer as unknown as number)));
  }

  #error(stmtPtr: number, rc: number): SqliteStepError {
    const db = this.#x.sqlite3_db_handle(stmtPtr);
    const code = this.#x.sqlite3_extended_errcode(db) || rc;
    const msg = this.#wasm.cstrToJs(this.#x.sqlite3_errmsg(db) as never) as string;
    return new SqliteStepError(code, `SQLite error ${code}: ${msg}`);
  }
}

/** Rows' BSATN one after another: row `i` is `bytes[ends[i - 1] ?? 0 .. ends[i])`. */
export interface PackedRows {
  bytes: Uint8Array;
  ends: number[];
}

const NO_BYTES = new Uint8Array(0);

/** The rows of `packed`, each a copy of its own (safe to keep or to post to another thread). */
export function splitRows(packed: PackedRows): Uint8Array[] {
  const { bytes, ends } = packed;
  const out = new Array<Uint8Array>(ends.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    out[i] = bytes.slice(start, ends[i]);
    start = ends[i]!;
  }
  return out;
}

/**
 * A rowid as a number when it is a safe integer, else as the bigint itself: a rowid key can be any
 * 64-bit integer, and two rowids must never become the same number.
 */
export function ridOf(v: bigint | number): Rid {
  if (typeof v === 'number') return v;
  return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
