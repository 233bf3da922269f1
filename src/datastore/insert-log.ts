// The rows one transaction inserted into one table, in order, for its delta. A bulk insert adds
// many small rows: kept each as its own array in a Map, they made every young-generation GC of
// the transaction copy all of them, and the Map rehashed as it grew (together about a third of an
// insert's time). Here the bytes go into shared chunks and per-row offsets; rows become arrays
// only when the delta is built, and the rid index is built only when a delete or an update of
// the same table asks whether a row came from this transaction.
import type { Rid } from './fast-stmt.ts';

/**
 * Chunk sizes: the first is small (most transactions insert a row or two; V8 allocates an array
 * this small on its own heap, without a separate zero-filled buffer), each next one twice the
 * last, up to the largest; a larger row gets a chunk of its own.
 */
const FIRST_CHUNK_BYTES = 64;
const CHUNK_BYTES = 64 * 1024;

export class InsertLog {
  readonly #chunks: Uint8Array[] = [];
  /** Global offset (over all chunks) where the last chunk starts, and where its free space starts. */
  #base = 0;
  #at = 0;
  /** Per row, in insertion order: its rid and its global start and end; end -1 once removed. */
  readonly #rids: Rid[] = [];
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  #live = 0;
  /** Position of each live row by rid, built on the first `delete`, then kept current. */
  #index: Map<Rid, number> | undefined;

  /** How many rows the log holds. */
  get size(): number {
    return this.#live;
  }

  /** Appends a copy of `row` (which may be a view into a reused buffer) under `rid`. */
  add(rid: Rid, row: Uint8Array): void {
    const n = row.length;
    let chunk = this.#chunks[this.#chunks.length - 1];
    if (chunk === undefined || this.#at + n > chunk.length) {
      if (chunk !== undefined) this.#base += chunk.length;
      const size = chunk === undefined ? FIRST_CHUNK_BYTES : Math.min(chunk.length * 2, CHUNK_BYTES);
      chunk = new Uint8Array(Math.max(size, n));
      this.#chunks.push(chunk);
      this.#at = 0;
    }
    const at = this.#at;
    // A short row by loop: `set` costs more than copying a few bytes.
    if (n > 64) chunk.set(row, at);
    else for (let i = 0; i < n; i++) chunk[at + i] = row[i]!;
    this.#at = at + n;
    const i = this.#rids.length;
    this.#rids.push(rid);
    this.#starts.push(this.#base + at);
    this.#ends.push(this.#base + at + n);
    this.#live++;
    if (this.#index) {
      // A rid can come back only after its row was deleted, and a delete builds the index.
      const old = this.#index.get(rid);
      if (old !== undefined) this.#remove(old);
      this.#index.set(rid, i);
    }
  }

  /** Removes the row with `rid`; false when there is none. */
  delete(rid: Rid): boolean {
    const index = this.#indexed();
    const i = index.get(rid);
    if (i === undefined) return false;
    index.delete(rid);
    this.#remove(i);
    return true;
  }

  /**
   * The live rows in insertion order, as views into the log's chunks (never written again). A
   * view keeps its whole chunk alive (up to 64 KiB): what keeps a row past the commit's own
   * processing copies it (`compactBytes`).
   */
  rows(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const chunks = this.#chunks;
    let c = 0;
    let base = 0;
    for (let i = 0; i < this.#rids.length; i++) {
      const end = this.#ends[i]!;
      if (end < 0) continue;
      const start = this.#starts[i]!;
      // Rows never straddle chunks: the row's chunk is the first that reaches its end.
      while (end > base + chunks[c]!.length) base += chunks[c++]!.length;
      out.push(new Uint8Array(chunks[c]!.buffer, start - base, end - start));
    }
    return out;
  }

  #remove(i: number): void {
    this.#ends[i] = -1;
    this.#live--;
  }

  #indexed(): Map<Rid, number> {
    if (!this.#index) {
      this.#index = new Map();
      for (let i = 0; i < this.#rids.length; i++) if (this.#ends[i]! >= 0) this.#index.set(this.#rids[i]!, i);
    }
    return this.#index;
  }
}
