// The durability layer's one interface: a commit log of opaque transaction records plus periodic
// snapshots of the SQLite image, with group commit. Backends (memory, files, IndexedDB) differ
// only in where bytes go; `group-commit.ts` holds the shared ordering and batching rules.

/** One committed transaction as the log stores it. The payload is opaque to this layer. */
export interface LogRecord {
  /** Log sequence number: 1 for the first record ever appended, then +1 per record. */
  lsn: bigint;
  payload: Uint8Array;
}

/** A database image. `image` is the state after applying every record with `lsn <= snapshot.lsn`. */
export interface Snapshot {
  lsn: bigint;
  image: Uint8Array;
}

/**
 * An image read a part at a time (a snapshot of a large database, which a backend may store in
 * parts without ever holding one contiguous copy): `size` bytes, `read` returns a new array.
 */
export interface ImageSource {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
  /**
   * Optional: the same bytes as `read`, without a copy: a view that stays valid only until
   * control returns to the event loop (for a look, e.g. hashing, that needs no copy to keep).
   */
  peek?(offset: number, length: number): Uint8Array;
}

/** What `writeSnapshot` takes: the image as bytes, or as a source read in parts. */
export interface SnapshotToWrite {
  lsn: bigint;
  image: Uint8Array | ImageSource;
}

/** The whole image of a snapshot to write, as one array (read from its source when it has one). */
export function imageBytes(image: Uint8Array | ImageSource): Uint8Array {
  return image instanceof Uint8Array ? image : image.read(0, image.size);
}

/** The bytes in an image to write. */
export function imageSize(image: Uint8Array | ImageSource): number {
  return image instanceof Uint8Array ? image.length : image.size;
}

/** What `open()` found: replay `records` on top of `snapshot` to get the last durable state. */
export interface Recovered {
  /** The newest stored snapshot, if any was ever written. */
  snapshot: Snapshot | undefined;
  /** Records with `lsn > snapshot.lsn` (or all records, without a snapshot): ascending and contiguous. */
  records: LogRecord[];
  /** The LSN the next `append` will get. */
  nextLsn: bigint;
  /** True when a torn or corrupt tail (an interrupted last write) was cut during recovery. */
  truncatedTail: boolean;
}

/** Counters for tests and benchmarks: how many log storage writes carried how many records. */
export interface DurabilityStats {
  /** Successful log storage writes (one file write + fsync, one IndexedDB transaction, …). */
  writes: number;
  /** Records made durable by those writes. */
  records: number;
  /** Snapshots stored, and the image bytes they wrote (only the new parts, where images are stored in parts). */
  snapshots: number;
  snapshotBytes: number;
}

/**
 * The durability layer of one Lightcone database.
 *
 * Promise contract:
 * - `append` assigns LSNs synchronously and in call order. Its `durable` promise resolves once
 *   the record is stored; appends made while a write is in flight (or in the same tick) go out
 *   together in one storage write.
 * - A failed write rejects its records and every record appended after them that was not yet
 *   durable (a later record may depend on an earlier one), and their LSNs are given out again:
 *   the log never has a gap. Later appends retry storage as usual.
 * - `durable` promises are marked handled, so a caller that only awaits `flush()` does not get
 *   unhandled-rejection noise; a caller that awaits `durable` still sees the error.
 * - After `close()` (or `destroy()`), `append` throws and every other method rejects with
 *   `ClosedError`; `close()` itself may be called again and resolves.
 *
 * @example
 * ```ts
 * const d = memoryDurability();
 * const { snapshot, records } = await d.open();   // replay records on top of snapshot
 * const { lsn, durable } = d.append(new TextEncoder().encode('tx 1'));
 * await durable;                                  // lsn === 1n on a new database
 * await d.writeSnapshot({ lsn, image: new Uint8Array([42]) });  // drops records <= lsn
 * await d.close();
 * ```
 */
export interface Durability {
  /**
   * Opens storage, takes the exclusive lock, recovers. A second call while the first is pending
   * returns the same promise; once open, `open()` rejects with `UsageError` 'ALREADY_OPEN' (the
   * recovered image is not kept around for it). A failed open may be retried.
   */
  open(): Promise<Recovered>;
  /**
   * Appends one record; `durable` resolves when it is stored. Throws `UsageError` before `open()`
   * has resolved and `ClosedError` after `close()`. The payload is handed over: do not mutate it.
   */
  append(payload: Uint8Array): { lsn: bigint; durable: Promise<void> };
  /** Waits until everything appended so far is durable; rejects if the last of it failed. */
  flush(): Promise<void>;
  /**
   * Stores a snapshot atomically, then drops log records with `lsn <= snapshot.lsn`. Waits for
   * pending appends first. Rejects with `UsageError` if `snapshot.lsn` is older than the stored
   * snapshot or newer than the last durable record. An `ImageSource` is read before the
   * promise settles and not after.
   */
  writeSnapshot(snapshot: SnapshotToWrite): Promise<void>;
  /** Reads a small named metadata blob (module bundle, owner identity, …). */
  getMeta(key: string): Promise<Uint8Array | undefined>;
  /** Writes a small named metadata blob atomically (all or nothing, also across a crash). */
  putMeta(key: string, value: Uint8Array): Promise<void>;
  /** Flushes, releases the lock. Pending appends resolve or reject; later calls reject with `ClosedError`. */
  close(): Promise<void>;
  /**
   * Removes everything this database stored (for `publish --delete-data` and `delete`), then
   * behaves as closed. Call it on an open instance or on one never opened (it then takes the
   * lock itself, so it fails with `DATABASE_IN_USE` while another process has the database open).
   */
  destroy(): Promise<void>;
  /** Log write counters since this instance was created. */
  stats(): DurabilityStats;
}
