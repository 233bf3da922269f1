// IndexedDB durability for the browser, through `idb`: one IndexedDB database per Lightcone
// database (`lightcone:<name>`), one readwrite transaction and one log entry per group-committed
// batch, snapshots stored as content-addressed parts (only the parts that changed are written,
// beside the log, never holding it up), and a format record checked on open. Platform globals are only touched in `open()`/`destroy()`, so importing this file in
// Node is harmless (Node tests install fake-indexeddb's globals).

import { deleteDB, openDB, unwrap, type IDBPDatabase, type IDBPTransaction } from 'idb';
import { ClosedError, StorageError, type StorageErrorCode } from '../errors.ts';
import { type Durability, type ImageSource, imageSize, type LogRecord, type Recovered, type Snapshot, type SnapshotToWrite } from './durability.ts';
import { nextEvents } from '../next-events.ts';
import { createDurability, type DurabilityBackend } from './group-commit.ts';

/** Options of `indexedDbDurability`. */
export interface IndexedDbDurabilityOptions {
  /**
   * The transaction durability hint for log and snapshot writes (default 'strict': a write is
   * flushed to disk before it counts as durable; 'relaxed' survives tab and browser crashes but
   * not an OS crash or power loss, at about half the cost per transaction).
   */
  durability?: 'relaxed' | 'strict';
  /**
   * Test seam: runs inside each log write transaction after its puts, before it commits. Throw
   * (e.g. a `DOMException` named 'QuotaExceededError') or abort the transaction to fail it.
   */
  beforeLogCommit?: (tx: IDBTransaction) => void;
  /**
   * Test seam: awaited before each log write starts (a slow disk). Appends made meanwhile join
   * the next write, as they would behind a slow transaction.
   */
  beforeLogWrite?: (records: readonly LogRecord[]) => Promise<void> | void;
  /** Test seam: the most parts an image is cut into before the part size doubles (default 128). */
  maxParts?: number;
}

/** Prefix of the IndexedDB database names Lightcone owns. */
export const IDB_NAME_PREFIX = 'lightcone:';

/**
 * Durability in IndexedDB (the global `indexedDB`). No lock: keeping one engine per origin is the
 * worker's job; two instances on one name do not corrupt each other's storage, but their LSNs
 * would collide.
 *
 * @example
 * ```ts
 * const d = indexedDbDurability('bank');   // IndexedDB database "lightcone:bank"
 * const { snapshot, records } = await d.open();
 * await d.append(new TextEncoder().encode('tx 1')).durable;
 * ```
 */
export function indexedDbDurability(name: string, opts: IndexedDbDurabilityOptions = {}): Durability {
  return createDurability(new IndexedDbBackend(name, opts));
}

/** IndexedDB schema version (object stores); bump with an upgrade step for every change. 2 adds `parts`. */
const SCHEMA_VERSION = 2;
/**
 * Version of the record formats inside the stores, kept in the format record. 1: one log entry
 * per record (key = its lsn, value = its bytes). 2: one entry per batch (key = the batch's last
 * lsn, value = `{ first, records }`); version 2 still reads version-1 entries, and opening a
 * version-1 database marks it version 2 (older Lightcones then refuse it instead of misreading).
 * 3: the snapshot is a manifest of parts (`SnapshotManifest`); a whole-image snapshot of an
 * earlier version is still read, and replaced by the next snapshot.
 */
const FORMAT_VERSION = 3;
const FORMAT_MAGIC = 'lightcone-durability';

const FORMAT_STORE = 'format';
const LOG_STORE = 'log';
const SNAPSHOT_STORE = 'snapshot';
const META_STORE = 'meta';
const PARTS_STORE = 'parts';
const STORES = [FORMAT_STORE, LOG_STORE, SNAPSHOT_STORE, META_STORE, PARTS_STORE] as const;
const FORMAT_KEY = 'format';
/** How long `destroy` waits for other connections to let go before it reports DATABASE_IN_USE. */
const BLOCKED_GRACE_MS = 1000;
const SNAPSHOT_KEY = 'current';

/**
 * Snapshot images are stored in parts, each keyed by the SHA-256 of its bytes, so a part that did
 * not change since the last snapshot is not written again. Parts are MIN_PART_SIZE bytes until an
 * image would need more than MAX_PARTS of them; then the part size doubles (up to MAX_PART_SIZE),
 * and it never shrinks again for that database. Small parts keep what a snapshot rewrites small;
 * few parts keep a cold start fast: Chromium stores every value over 64 KiB as a file of its own,
 * and reading one costs about a millisecond beyond its bytes (1,000 parts of 64 KiB read in about
 * 1 s where one 63 MB value reads in 0.25 s; 126 parts of 512 KiB in about 0.3 s).
 */
const MIN_PART_SIZE = 64 * 1024;
const MAX_PART_SIZE = 4 * 1024 * 1024;
const MAX_PARTS = 128;
/** New parts are put in transactions of about this many bytes. */
const PART_WRITE_BYTES = 4 * 1024 * 1024;
/** About this many bytes are hashed at once, at least one part (digests run off the calling thread where the platform can, but copy their input on it). */
const HASH_WINDOW_BYTES = 1024 * 1024;
/** Log entries a snapshot deletes per transaction (by lsn range). */
const LOG_TRIM_STEP = 256;

/** The stored snapshot (format 3): the image is the parts named by `parts`, in order. */
interface SnapshotManifest {
  lsn: bigint;
  /** Image bytes: every part is `partSize` bytes but the last, which holds the rest. */
  size: number;
  partSize: number;
  parts: string[];
}

/** A version-2 log entry: the records `first` .. key (the entry's key is the batch's last lsn). */
interface BatchEntry {
  first: number;
  records: Uint8Array[];
}

/** Untyped on purpose: every value read back is checked, never trusted by type. */
type Db = IDBPDatabase;

class IndexedDbBackend implements DurabilityBackend {
  readonly label: string;
  readonly #dbName: string;
  readonly #opts: IndexedDbDurabilityOptions;
  #db: Db | undefined;
  /** Keys of every part in the parts store (referenced or left over from an interrupted write). */
  readonly #parts = new Set<string>();
  /** The part size of the stored snapshot (MIN_PART_SIZE before the first). */
  #partSize = MIN_PART_SIZE;
  /** No log entry is keyed below this (entries below it were trimmed, or never written). */
  #logFloor = 0;
  /** Snapshots never hold up log writes here: they touch other stores, log truncation aside. */
  readonly snapshotsBesideLog = true;
  /** Why the connection went away under us (another connection deleted or upgraded the database). */
  #lost: string | undefined;

  constructor(name: string, opts: IndexedDbDurabilityOptions) {
    this.#dbName = IDB_NAME_PREFIX + name;
    this.label = `IndexedDB database "${this.#dbName}"`;
    this.#opts = opts;
  }

  async open(): Promise<Recovered> {
    const db = await this.#connect();
    try {
      const recovered = await this.#recover(db);
      this.#db = db;
      return recovered;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async appendBatch(records: readonly LogRecord[]): Promise<void> {
    await this.#opts.beforeLogWrite?.(records);
    const db = this.#connection();
    const first = records[0]!.lsn;
    const last = records[records.length - 1]!.lsn;
    let tx: IDBPTransaction<unknown, string[], 'readwrite'> | undefined;
    try {
      tx = db.transaction([LOG_STORE], 'readwrite', { durability: this.#durability() });
      // One entry for the whole batch: each put is a round trip to the browser's storage process,
      // so one put per batch rather than per record is what makes group commit pay.
      const entry: BatchEntry = { first: lsnKey(first), records: records.map((r) => ownBytes(r.payload)) };
      // Every request promise is awaited (a failed put would otherwise be an unhandled rejection).
      const all = settleAll([tx.objectStore(LOG_STORE).put(entry, lsnKey(last)), tx.done]);
      all.catch(() => {}); // handled below, even when the seam throws before the await
      this.#opts.beforeLogCommit?.(unwrap(tx));
      commitEarly(tx);
      await all;
    } catch (error) {
      abortQuietly(tx);
      throw this.#writeError(`could not append lsn ${first}..${last}`, error);
    }
  }

  /**
   * Writes the parts of the image not already stored (in transactions of their own), then one
   * transaction that switches the snapshot to the new manifest and deletes the parts nothing
   * references any more, then drops the log entries the snapshot covers. A crash before the
   * switch leaves the previous snapshot and some unreferenced parts (dropped by the next
   * snapshot); one after it leaves covered log entries, which recovery skips.
   */
  async writeSnapshot(snapshot: SnapshotToWrite): Promise<number> {
    const db = this.#connection();
    let written = 0;
    const source = snapshot.image;
    const size = imageSize(source);
    const partSize = partSizeFor(size, this.#partSize, this.#opts.maxParts);
    const count = Math.ceil(size / partSize);
    const at = (i: number): [number, number] => [i * partSize, Math.min(partSize, size - i * partSize)];
    const window = Math.max(1, Math.floor(HASH_WINDOW_BYTES / partSize));
    const keys: string[] = [];
    let tx: IDBPTransaction<unknown, string[], 'readwrite'> | undefined;
    try {
      /** New parts not yet put, by key (an image may hold equal parts: each is stored once). */
      let pending = new Map<string, Uint8Array>();
      let pendingBytes = 0;
      for (let first = 0; first < count; first += window) {
        const end = Math.min(count, first + window);
        // Hashed where the bytes are when the source lets us look (digest copies what it reads
        // at once): copying every part of a large image only to hash it would allocate the
        // whole image again in small arrays on every snapshot.
        const hashing: Promise<string>[] = [];
        for (let i = first; i < end; i++) hashing.push(partKey(peekPart(source, ...at(i))));
        const hashes = await Promise.all(hashing);
        // Then a macrotask: digest completions arrive as tasks of their own, and a chain of them
        // with the next window's digests behind each would keep calls (messages) waiting.
        await nextEvents();
        for (let i = first; i < end; i++) {
          const key = hashes[i - first]!;
          keys.push(key);
          if (this.#parts.has(key) || pending.has(key)) continue;
          const bytes = readPart(source, ...at(i));
          pending.set(key, bytes);
          pendingBytes += bytes.length;
        }
        if (pendingBytes >= PART_WRITE_BYTES) {
          await this.#putParts(db, pending);
          written += pendingBytes;
          pending = new Map();
          pendingBytes = 0;
        }
      }
      if (pending.size > 0) await this.#putParts(db, pending);
      written += pendingBytes;
      const manifest: SnapshotManifest = { lsn: snapshot.lsn, size, partSize, parts: keys };
      const referenced = new Set(keys);
      const unused = [...this.#parts].filter((k) => !referenced.has(k));
      tx = db.transaction([SNAPSHOT_STORE, PARTS_STORE], 'readwrite', { durability: this.#durability() });
      const parts = tx.objectStore(PARTS_STORE);
      await settleAll([tx.objectStore(SNAPSHOT_STORE).put(manifest, SNAPSHOT_KEY), ...unused.map((k) => parts.delete(k)), tx.done]);
      for (const k of unused) this.#parts.delete(k);
      this.#partSize = partSize;
    } catch (error) {
      abortQuietly(tx);
      throw this.#writeError(`could not write the snapshot at lsn ${snapshot.lsn}`, error);
    }
    // The snapshot is durable. Dropping the log it covers only reclaims space (recovery skips
    // covered records), so it need not be flushed, and it goes in small steps: log writes queue
    // behind each deleting transaction, and a long one would hold calls up.
    await this.#trimLog(db, lsnKey(snapshot.lsn));
    return written;
  }

  /**
   * Deletes the log entries keyed up to `last`, LOG_TRIM_STEP lsns per transaction with events
   * let through between them. Keys are last lsns, so whole entries go; one that straddles `last`
   * stays. A failure leaves the rest for the next snapshot (recovery skips covered records).
   */
  async #trimLog(db: Db, last: number): Promise<void> {
    while (this.#logFloor <= last) {
      const to = Math.min(last, this.#logFloor + LOG_TRIM_STEP - 1);
      let tx: IDBPTransaction<unknown, string[], 'readwrite'> | undefined;
      try {
        tx = db.transaction([LOG_STORE], 'readwrite', { durability: 'relaxed' });
        await settleAll([tx.objectStore(LOG_STORE).delete(IDBKeyRange.bound(this.#logFloor, to)), tx.done]);
      } catch {
        abortQuietly(tx);
        return;
      }
      this.#logFloor = to + 1;
      if (this.#logFloor <= last) await nextEvents();
    }
  }

  /**
   * Stores new parts in one transaction; they count as stored once it commits. One put at a
   * time: each put serializes its value on this thread, so the engine's other work gets a turn
   * between parts instead of waiting for the whole batch.
   */
  async #putParts(db: Db, parts: ReadonlyMap<string, Uint8Array>): Promise<void> {
    let tx: IDBPTransaction<unknown, string[], 'readwrite'> | undefined;
    try {
      tx = db.transaction([PARTS_STORE], 'readwrite', { durability: this.#durability() });
      const store = tx.objectStore(PARTS_STORE);
      const done = tx.done;
      done.catch(() => {}); // awaited below; a failed put rejects first
      for (const [key, bytes] of parts) await store.put(bytes, key);
      await done;
    } catch (error) {
      abortQuietly(tx);
      throw error;
    }
    for (const key of parts.keys()) this.#parts.add(key);
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    const db = this.#connection();
    let value: unknown;
    try {
      value = await db.get(META_STORE, key);
    } catch (error) {
      throw this.#lost !== undefined ? this.#closed() : this.#error('READ_FAILED', `could not read meta "${key}"`, error);
    }
    if (value === undefined) return undefined;
    if (!(value instanceof Uint8Array)) throw this.#corrupt('CORRUPT_META', `meta "${key}" is not a byte array`);
    return value;
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    const db = this.#connection();
    let tx: IDBPTransaction<unknown, string[], 'readwrite'> | undefined;
    try {
      tx = db.transaction([META_STORE], 'readwrite', { durability: this.#durability() });
      const all = settleAll([tx.objectStore(META_STORE).put(ownBytes(value), key), tx.done]);
      commitEarly(tx);
      await all;
    } catch (error) {
      abortQuietly(tx);
      throw this.#writeError(`could not write meta "${key}"`, error);
    }
  }

  async close(): Promise<void> {
    this.#db?.close();
    this.#db = undefined;
  }

  async destroy(opened: boolean): Promise<void> {
    if (opened) await this.close();
    this.#requireIndexedDb();
    const inUse = new StorageError(
      'DATABASE_IN_USE',
      `${this.label} is open in another tab or worker that does not let go: it will be deleted once that connection closes; close the other tab to finish now`,
      { database: this.#dbName },
    );
    // `blocked` fires when a connection is still open when the delete starts. A connection that
    // is closing (its last transactions finishing, as after our own close()) lets go moments
    // later, so wait a little; one that stays open keeps the delete queued: report that.
    await new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      deleteDB(this.#dbName, { blocked: () => (timer ??= setTimeout(() => reject(inUse), BLOCKED_GRACE_MS)) }).then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(this.#error('DESTROY_FAILED', 'could not delete', error));
        },
      );
    });
  }

  // ── opening ───────────────────────────────────────────────────────────────

  #durability(): 'relaxed' | 'strict' {
    return this.#opts.durability ?? 'strict';
  }

  #requireIndexedDb(): void {
    if (typeof (globalThis as { indexedDB?: IDBFactory }).indexedDB === 'undefined') {
      throw new StorageError('UNSUPPORTED', 'IndexedDB is not available here: use fileDurability in Node (or install fake-indexeddb/auto in tests)');
    }
  }

  async #connect(): Promise<Db> {
    this.#requireIndexedDb();
    let opened: Db | undefined;
    const lose = (why: string): void => {
      this.#lost = why;
      opened?.close();
      if (this.#db === opened) this.#db = undefined;
    };
    try {
      opened = await openDB(this.#dbName, SCHEMA_VERSION, {
        upgrade(database, oldVersion, _newVersion, transaction) {
          if (oldVersion < 1) {
            for (const name of STORES) database.createObjectStore(name);
            void transaction.objectStore(FORMAT_STORE).put({ magic: FORMAT_MAGIC, version: FORMAT_VERSION }, FORMAT_KEY);
          } else if (oldVersion < 2 && !database.objectStoreNames.contains(PARTS_STORE)) {
            // A Lightcone database of schema 1 (its format record is raised on open); a database
            // that is not Lightcone's is refused by the store check on open.
            database.createObjectStore(PARTS_STORE);
          }
        },
        blocking: () => lose('was deleted or upgraded by another connection'),
        terminated: () => lose('was closed by the browser (storage cleared?)'),
      });
    } catch (error) {
      if (domName(error) === 'VersionError') {
        throw new StorageError('UNKNOWN_FORMAT', `${this.label} has a newer schema than this Lightcone reads (version ${SCHEMA_VERSION}): upgrade Lightcone to open it`, {
          database: this.#dbName,
          supported: SCHEMA_VERSION,
        });
      }
      throw this.#error('OPEN_FAILED', 'could not open', error);
    }
    return opened;
  }

  async #recover(db: Db): Promise<Recovered> {
    for (const name of STORES) {
      if (!db.objectStoreNames.contains(name)) {
        throw new StorageError('UNKNOWN_FORMAT', `${this.label} exists but was not made by Lightcone (no "${name}" store): pick another name or delete it`, {
          database: this.#dbName,
        });
      }
    }
    const tx = db.transaction([FORMAT_STORE, SNAPSHOT_STORE, LOG_STORE, PARTS_STORE], 'readonly');
    const done = tx.done;
    done.catch(() => {}); // awaited below; a failed request rejects first
    const [format, stored, keys, values, partKeys] = await Promise.all([
      tx.objectStore(FORMAT_STORE).get(FORMAT_KEY) as Promise<unknown>,
      tx.objectStore(SNAPSHOT_STORE).get(SNAPSHOT_KEY) as Promise<unknown>,
      tx.objectStore(LOG_STORE).getAllKeys(),
      tx.objectStore(LOG_STORE).getAll() as Promise<unknown[]>,
      tx.objectStore(PARTS_STORE).getAllKeys(),
    ]);
    const version = this.#checkFormat(format);
    // Only the parts the manifest names are read (not those an interrupted write left behind),
    // each by its key, in the same transaction.
    const checked = this.#checkSnapshot(stored);
    const manifest = checked && 'parts' in checked ? checked : undefined;
    const named = manifest ? [...new Set(manifest.parts)] : [];
    const partStore = tx.objectStore(PARTS_STORE);
    const [partValues] = await Promise.all([Promise.all(named.map((k) => partStore.get(k) as Promise<unknown>)), done]);
    const parts = new Map<string, unknown>(named.map((k, i) => [k, partValues[i]]));
    const snapshot = manifest ? this.#assemble(manifest, parts) : (checked as Snapshot | undefined);
    this.#parts.clear();
    for (const k of partKeys) this.#parts.add(String(k));
    if (manifest) this.#partSize = Math.max(MIN_PART_SIZE, manifest.partSize);
    const base = snapshot?.lsn ?? 0n;
    const records: LogRecord[] = [];
    let expected = base + 1n;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (typeof key !== 'number' || !Number.isSafeInteger(key)) throw this.#corrupt('CORRUPT_LOG', `log entry ${String(key)} has no lsn key`);
      const payloads = this.#entryRecords(key, values[i]);
      let lsn = BigInt(key) - BigInt(payloads.length) + 1n;
      for (const payload of payloads) {
        if (lsn > base) {
          // Not covered by the snapshot.
          if (lsn !== expected) throw this.#corrupt('CORRUPT_LOG', `the log misses records ${expected}..${lsn - 1n}`);
          records.push({ lsn, payload });
          expected++;
        }
        lsn++;
      }
    }
    this.#logFloor = typeof keys[0] === 'number' ? keys[0] : Number(expected);
    if (version < FORMAT_VERSION) {
      const upgrade = db.transaction([FORMAT_STORE], 'readwrite');
      await Promise.all([upgrade.objectStore(FORMAT_STORE).put({ magic: FORMAT_MAGIC, version: FORMAT_VERSION }, FORMAT_KEY), upgrade.done]);
    }
    return { snapshot, records, nextLsn: expected, truncatedTail: false };
  }

  /** The records of one log entry keyed `key`: a version-1 record, or a version-2 batch ending at `key`. */
  #entryRecords(key: number, value: unknown): Uint8Array[] {
    if (value instanceof Uint8Array) return [value];
    const first: unknown = typeof value === 'object' && value !== null ? Reflect.get(value, 'first') : undefined;
    const list: unknown = typeof value === 'object' && value !== null ? Reflect.get(value, 'records') : undefined;
    if (typeof first !== 'number' || !Array.isArray(list) || key - first + 1 !== list.length || !list.every((r) => r instanceof Uint8Array)) {
      throw this.#corrupt('CORRUPT_LOG', `log entry ${key} is not a record or a batch of records`);
    }
    return list as Uint8Array[];
  }

  #checkFormat(format: unknown): number {
    if (typeof format !== 'object' || format === null || Reflect.get(format, 'magic') !== FORMAT_MAGIC) {
      throw new StorageError('UNKNOWN_FORMAT', `${this.label} has no Lightcone format record: pick another name or delete it`, {
        database: this.#dbName,
      });
    }
    const version: unknown = Reflect.get(format, 'version');
    if (version !== 1 && version !== 2 && version !== FORMAT_VERSION) {
      throw new StorageError('UNKNOWN_FORMAT', `${this.label} has format version ${String(version)}, this Lightcone reads versions 1 to ${FORMAT_VERSION}: upgrade Lightcone to open it`, {
        database: this.#dbName,
        version,
        supported: FORMAT_VERSION,
      });
    }
    return version;
  }

  /**
   * The stored snapshot: a manifest of parts (format 3), a whole image (formats 1 and 2), or
   * undefined when there is none. Throws CORRUPT_SNAPSHOT for anything else.
   */
  #checkSnapshot(stored: unknown): SnapshotManifest | Snapshot | undefined {
    if (stored === undefined) return undefined;
    const field = (name: string): unknown => (typeof stored === 'object' && stored !== null ? Reflect.get(stored, name) : undefined);
    const lsn = field('lsn');
    const image = field('image');
    if (typeof lsn === 'bigint' && image instanceof Uint8Array) return { lsn, image };
    const size = field('size');
    const partSize = field('partSize');
    const keys = field('parts');
    if (
      typeof lsn !== 'bigint' ||
      typeof size !== 'number' ||
      !Number.isSafeInteger(size) ||
      size < 0 ||
      typeof partSize !== 'number' ||
      !Number.isSafeInteger(partSize) ||
      partSize <= 0 ||
      !Array.isArray(keys) ||
      keys.length !== Math.ceil(size / partSize) ||
      !keys.every((k) => typeof k === 'string')
    ) {
      throw this.#corrupt('CORRUPT_SNAPSHOT', 'the stored snapshot is neither { lsn, image } nor a manifest { lsn, size, partSize, parts }');
    }
    return { lsn, size, partSize, parts: keys as string[] };
  }

  /** The image a manifest names, from its parts (by key); CORRUPT_SNAPSHOT when one is missing or of the wrong size. */
  #assemble(manifest: SnapshotManifest, parts: ReadonlyMap<string, unknown>): Snapshot {
    const { lsn, size, partSize } = manifest;
    const bytes = new Uint8Array(size);
    manifest.parts.forEach((key, i) => {
      const part = parts.get(key);
      const expected = Math.min(partSize, size - i * partSize);
      if (!(part instanceof Uint8Array) || part.length !== expected) {
        throw this.#corrupt('CORRUPT_SNAPSHOT', `part ${i} of the snapshot at lsn ${lsn} (${key}) is ${part instanceof Uint8Array ? `${part.length} bytes, not ${expected}` : 'missing'}`);
      }
      bytes.set(part, i * partSize);
    });
    return { lsn, image: bytes };
  }

  // ── errors ────────────────────────────────────────────────────────────────

  #connection(): Db {
    if (this.#db) return this.#db;
    throw this.#closed();
  }

  #closed(context?: string): ClosedError {
    return new ClosedError(`${this.label} ${this.#lost ?? 'is not open'}${context ? `: ${context} failed` : ''}; open it again to continue`, { database: this.#dbName });
  }

  #writeError(context: string, error: unknown): StorageError | ClosedError {
    if (error instanceof StorageError || error instanceof ClosedError) return error;
    if (this.#lost !== undefined) return this.#closed(context);
    if (domName(error) === 'QuotaExceededError') {
      return this.#error(
        'QUOTA_EXCEEDED',
        context,
        error,
        'the storage quota is exhausted: free space (delete unused databases) or ask for persistent storage with navigator.storage.persist(); later writes retry',
      );
    }
    return this.#error('WRITE_FAILED', context, error, 'later writes retry');
  }

  #error(code: StorageErrorCode, context: string, error: unknown, advice?: string): StorageError {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new StorageError(code, `${context} in ${this.label}: ${text}${advice ? `: ${advice}` : ''}`, { database: this.#dbName, cause: domName(error) }, { cause: error });
  }

  #corrupt(code: StorageErrorCode, what: string): StorageError {
    return new StorageError(code, `${this.label} is corrupt: ${what}. Export what you can and delete it`, { database: this.#dbName });
  }
}

/**
 * Waits for every promise and rejects with the first failure in array order. Unlike
 * `Promise.all`, it keeps listening to the rest, so a request that fails after the first
 * rejection (every request of an aborted transaction does) is never an unhandled rejection.
 */
async function settleAll(promises: readonly Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  // The transaction's own error (its `done`, last) says why better than an AbortError of a request.
  const failed = results.findLast((r) => r.status === 'rejected') ?? results.find((r) => r.status === 'rejected');
  if (failed?.status === 'rejected') throw failed.reason;
}

/** Commits now instead of when the event loop comes back (saves a round trip); no-op if aborted. */
function commitEarly(tx: IDBPTransaction<unknown, string[], 'readwrite'>): void {
  try {
    tx.commit();
  } catch {
    // Aborted by a failed request or the test seam: `done` rejects with the reason.
  }
}

function abortQuietly(tx: IDBPTransaction<unknown, string[], 'readwrite'> | undefined): void {
  try {
    tx?.abort();
  } catch {
    // Already committed or aborted.
  }
}

/** IndexedDB keys: an lsn as a number (exact below 2^53, i.e. for ever at any real write rate). */
function lsnKey(lsn: bigint): number {
  if (lsn > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new StorageError('LSN_OVERFLOW', `lsn ${lsn} does not fit an IndexedDB number key`);
  }
  return Number(lsn);
}

/**
 * The bytes of `view` in an array of their own: structured clone stores a view's whole
 * underlying buffer, so a subarray of a large buffer would store the large buffer.
 */
function ownBytes(view: Uint8Array): Uint8Array {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? view : view.slice();
}

/** `length` bytes of an image from `offset`, in an array of their own. */
function readPart(image: Uint8Array | ImageSource, offset: number, length: number): Uint8Array {
  return image instanceof Uint8Array ? image.slice(offset, offset + length) : image.read(offset, length);
}

/** `length` bytes of an image from `offset`, for a look that keeps no reference to them. */
function peekPart(image: Uint8Array | ImageSource, offset: number, length: number): Uint8Array {
  if (image instanceof Uint8Array) return image.subarray(offset, offset + length);
  return image.peek ? image.peek(offset, length) : image.read(offset, length);
}

/**
 * The part size for an image of `size` bytes: `current` (the stored snapshot's), doubled while the
 * image would need more than `maxParts` parts, up to MAX_PART_SIZE.
 */
export function partSizeFor(size: number, current: number, maxParts = MAX_PARTS): number {
  let partSize = Math.min(MAX_PART_SIZE, Math.max(MIN_PART_SIZE, current));
  while (partSize < MAX_PART_SIZE && size > partSize * maxParts) partSize *= 2;
  return partSize;
}

/** A part's key: the hex SHA-256 of its bytes. */
async function partKey(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += HEX[b];
  return hex;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

function domName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string' ? error.name : undefined;
}
