// IndexedDB durability for the browser, through `idb`: one IndexedDB database per Lightcone
// database (`lightcone:<name>`), one readwrite transaction per group-committed batch, a snapshot
// write that drops the log records it covers in the same transaction, and a format record checked
// on open. Platform globals are only touched in `open()`/`destroy()`, so importing this file in
// Node is harmless (Node tests install fake-indexeddb's globals).

import { deleteDB, openDB, unwrap, type IDBPDatabase, type IDBPTransaction } from 'idb';
import { ClosedError, StorageError } from '../errors.ts';
import type { Durability, LogRecord, Recovered, Snapshot } from './durability.ts';
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

/** IndexedDB schema version (object stores); bump with an upgrade step for every change. */
const SCHEMA_VERSION = 1;
/** Version of the record formats inside the stores, kept in the format record. */
const FORMAT_VERSION = 1;
const FORMAT_MAGIC = 'lightcone-durability';

const FORMAT_STORE = 'format';
const LOG_STORE = 'log';
const SNAPSHOT_STORE = 'snapshot';
const META_STORE = 'meta';
const STORES = [FORMAT_STORE, LOG_STORE, SNAPSHOT_STORE, META_STORE] as const;
const FORMAT_KEY = 'format';
const SNAPSHOT_KEY = 'current';

/** Untyped on purpose: every value read back is checked, never trusted by type. */
type Db = IDBPDatabase;

class IndexedDbBackend implements DurabilityBackend {
  readonly label: string;
  readonly #dbName: string;
  readonly #opts: IndexedDbDurabilityOptions;
  #db: Db | undefined;
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
    const db = this.#connection();
    const first = records[0]!.lsn;
    const last = records[records.length - 1]!.lsn;
    let tx: IDBPTransaction<unknown, string[], 'readwrite'> | undefined;
    try {
      tx = db.transaction([LOG_STORE], 'readwrite', { durability: this.#durability() });
      const store = tx.objectStore(LOG_STORE);
      // Every request promise is awaited (a failed put would otherwise be an unhandled rejection).
      const writes: Promise<unknown>[] = records.map((r) => store.put(ownBytes(r.payload), lsnKey(r.lsn)));
      writes.push(tx.done);
      const all = settleAll(writes);
      all.catch(() => {}); // handled below, even when the seam throws before the await
      this.#opts.beforeLogCommit?.(unwrap(tx));
      commitEarly(tx);
      await all;
    } catch (error) {
      abortQuietly(tx);
      throw this.#writeError(`could not append lsn ${first}..${last}`, error);
    }
  }

  async writeSnapshot(snapshot: Snapshot): Promise<void> {
    const db = this.#connection();
    let tx: IDBPTransaction<unknown, string[], 'readwrite'> | undefined;
    try {
      tx = db.transaction([SNAPSHOT_STORE, LOG_STORE], 'readwrite', { durability: this.#durability() });
      // Same transaction: the snapshot and the truncation of the log it covers are one step.
      await settleAll([
        tx.objectStore(SNAPSHOT_STORE).put({ lsn: snapshot.lsn, image: ownBytes(snapshot.image) }, SNAPSHOT_KEY),
        tx.objectStore(LOG_STORE).delete(IDBKeyRange.upperBound(Number(snapshot.lsn))),
        tx.done,
      ]);
    } catch (error) {
      abortQuietly(tx);
      throw this.#writeError(`could not write the snapshot at lsn ${snapshot.lsn}`, error);
    }
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
    // `blocked` fires when another connection does not close on `versionchange`; the delete then
    // stays queued until it does. Report that instead of hanging.
    await new Promise<void>((resolve, reject) => {
      deleteDB(this.#dbName, { blocked: () => reject(inUse) }).then(resolve, (error: unknown) => reject(this.#error('DESTROY_FAILED', 'could not delete', error)));
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
          }
        },
        blocking: () => lose('was deleted or upgraded by another connection'),
        terminated: () => lose('was closed by the browser (storage cleared?)'),
      });
    } catch (error) {
      if (domName(error) === 'VersionError') {
        throw new StorageError(
          'UNKNOWN_FORMAT',
          `${this.label} has a newer schema than this Lightcone reads (version ${SCHEMA_VERSION}): upgrade Lightcone to open it`,
          { database: this.#dbName, supported: SCHEMA_VERSION },
        );
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
    const tx = db.transaction([FORMAT_STORE, SNAPSHOT_STORE, LOG_STORE], 'readonly');
    const [format, stored, keys, values] = await Promise.all([
      tx.objectStore(FORMAT_STORE).get(FORMAT_KEY) as Promise<unknown>,
      tx.objectStore(SNAPSHOT_STORE).get(SNAPSHOT_KEY) as Promise<unknown>,
      tx.objectStore(LOG_STORE).getAllKeys(),
      tx.objectStore(LOG_STORE).getAll() as Promise<unknown[]>,
      tx.done,
    ]);
    this.#checkFormat(format);
    const snapshot = this.#checkSnapshot(stored);
    const base = snapshot?.lsn ?? 0n;
    const records: LogRecord[] = [];
    let expected = base + 1n;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const value = values[i];
      if (typeof key !== 'number' || !Number.isSafeInteger(key) || !(value instanceof Uint8Array)) {
        throw this.#corrupt('CORRUPT_LOG', `log entry ${String(key)} is not a record`);
      }
      const lsn = BigInt(key);
      if (lsn <= base) continue; // covered by the snapshot
      if (lsn !== expected) {
        throw this.#corrupt('CORRUPT_LOG', `the log misses records ${expected}..${lsn - 1n}`);
      }
      records.push({ lsn, payload: value });
      expected++;
    }
    return { snapshot, records, nextLsn: expected, truncatedTail: false };
  }

  #checkFormat(format: unknown): void {
    if (typeof format !== 'object' || format === null || Reflect.get(format, 'magic') !== FORMAT_MAGIC) {
      throw new StorageError('UNKNOWN_FORMAT', `${this.label} has no Lightcone format record: pick another name or delete it`, {
        database: this.#dbName,
      });
    }
    const version: unknown = Reflect.get(format, 'version');
    if (version !== FORMAT_VERSION) {
      throw new StorageError(
        'UNKNOWN_FORMAT',
        `${this.label} has format version ${String(version)}, this Lightcone reads version ${FORMAT_VERSION}: upgrade Lightcone to open it`,
        { database: this.#dbName, version, supported: FORMAT_VERSION },
      );
    }
  }

  #checkSnapshot(stored: unknown): Snapshot | undefined {
    if (stored === undefined) return undefined;
    const lsn: unknown = typeof stored === 'object' && stored !== null ? Reflect.get(stored, 'lsn') : undefined;
    const image: unknown = typeof stored === 'object' && stored !== null ? Reflect.get(stored, 'image') : undefined;
    if (typeof lsn !== 'bigint' || !(image instanceof Uint8Array)) {
      throw this.#corrupt('CORRUPT_SNAPSHOT', 'the stored snapshot is not { lsn: bigint, image: Uint8Array }');
    }
    return { lsn, image };
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

  #error(code: string, context: string, error: unknown, advice?: string): StorageError {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new StorageError(code, `${context} in ${this.label}: ${text}${advice ? `: ${advice}` : ''}`, { database: this.#dbName, cause: domName(error) }, { cause: error });
  }

  #corrupt(code: string, what: string): StorageError {
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

function domName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string' ? error.name : undefined;
}
