// IndexedDB durability for the browser: one IndexedDB database per Lightcone database
// (`lightcone:<name>`), one readwrite transaction per group-committed batch, a snapshot write that
// drops the log records it covers in the same transaction, and a format record checked on open.
//
// Why not `idb`: its request wrapper tests `instanceof IDBRequest` (and the other IDB classes)
// against the global constructors, so it cannot drive an injected factory (fake-indexeddb in
// Node) without installing globals. The two promise helpers below are all this file needs.
// Platform globals are read lazily (in `open()`), so importing this file in Node is harmless.

import { ClosedError, StorageError } from '../errors.ts';
import type { Durability, LogRecord, Recovered, Snapshot } from './durability.ts';
import { createDurability, type DurabilityBackend } from './group-commit.ts';

/** Options of `indexedDbDurability`. */
export interface IndexedDbDurabilityOptions {
  /** The IndexedDB implementation (default: the global `indexedDB`, read at `open()`). */
  idbFactory?: IDBFactory;
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
 * Durability in IndexedDB. No lock: keeping one engine per origin is the worker's job; two
 * instances on one name do not corrupt each other's storage, but their LSNs would collide.
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
const FORMAT_KEY = 'format';
const SNAPSHOT_KEY = 'current';

class IndexedDbBackend implements DurabilityBackend {
  readonly label: string;
  readonly #dbName: string;
  readonly #opts: IndexedDbDurabilityOptions;
  #db: IDBDatabase | undefined;
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
    let tx: IDBTransaction | undefined;
    try {
      tx = db.transaction([LOG_STORE], 'readwrite', { durability: this.#opts.durability ?? 'strict' });
      const done = transactionDone(tx);
      const store = tx.objectStore(LOG_STORE);
      for (const r of records) store.put(ownBytes(r.payload), lsnKey(r.lsn));
      this.#opts.beforeLogCommit?.(tx);
      commitEarly(tx);
      await done;
    } catch (error) {
      abortQuietly(tx);
      throw this.#writeError(`could not append lsn ${first}..${last}`, error);
    }
  }

  async writeSnapshot(snapshot: Snapshot): Promise<void> {
    const db = this.#connection();
    let tx: IDBTransaction | undefined;
    try {
      tx = db.transaction([SNAPSHOT_STORE, LOG_STORE], 'readwrite', { durability: this.#opts.durability ?? 'strict' });
      const done = transactionDone(tx);
      tx.objectStore(SNAPSHOT_STORE).put({ lsn: snapshot.lsn, image: ownBytes(snapshot.image) }, SNAPSHOT_KEY);
      // Same transaction: the snapshot and the truncation of the log it covers are one step.
      const log = tx.objectStore(LOG_STORE);
      const limit = Number(snapshot.lsn);
      const cursor = log.openKeyCursor();
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (c && typeof c.key === 'number' && c.key <= limit) {
          log.delete(c.key);
          c.continue();
        }
      };
      await done;
    } catch (error) {
      abortQuietly(tx);
      throw this.#writeError(`could not write the snapshot at lsn ${snapshot.lsn}`, error);
    }
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    const db = this.#connection();
    try {
      const value: unknown = await requestResult(db.transaction([META_STORE], 'readonly').objectStore(META_STORE).get(key));
      if (value === undefined) return undefined;
      if (!(value instanceof Uint8Array)) throw this.#corrupt('CORRUPT_META', `meta "${key}" is not a byte array`);
      return value;
    } catch (error) {
      if (error instanceof StorageError) throw error;
      throw this.#error('READ_FAILED', `could not read meta "${key}"`, error);
    }
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    const db = this.#connection();
    let tx: IDBTransaction | undefined;
    try {
      tx = db.transaction([META_STORE], 'readwrite', { durability: this.#opts.durability ?? 'strict' });
      const done = transactionDone(tx);
      tx.objectStore(META_STORE).put(ownBytes(value), key);
      commitEarly(tx);
      await done;
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
    const factory = this.#factory();
    await new Promise<void>((resolve, reject) => {
      const request = factory.deleteDatabase(this.#dbName);
      request.onsuccess = () => resolve();
      request.onerror = () => reject(this.#error('DESTROY_FAILED', 'could not delete', request.error));
      request.onblocked = () =>
        reject(
          new StorageError(
            'DATABASE_IN_USE',
            `${this.label} is open in another tab or worker that does not let go: it will be deleted once that connection closes; close the other tab to finish now`,
            { database: this.#dbName },
          ),
        );
    });
  }

  // ── opening ───────────────────────────────────────────────────────────────

  #factory(): IDBFactory {
    const factory = this.#opts.idbFactory ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!factory) {
      throw new StorageError(
        'UNSUPPORTED',
        `IndexedDB is not available here: pass { idbFactory } to indexedDbDurability, or use fileDurability in Node`,
      );
    }
    return factory;
  }

  async #connect(): Promise<IDBDatabase> {
    const request = this.#factory().open(this.#dbName, SCHEMA_VERSION);
    request.onupgradeneeded = (event) => {
      const db = request.result;
      if (event.oldVersion < 1) {
        for (const name of [FORMAT_STORE, LOG_STORE, SNAPSHOT_STORE, META_STORE]) db.createObjectStore(name);
        request.transaction?.objectStore(FORMAT_STORE).put({ magic: FORMAT_MAGIC, version: FORMAT_VERSION }, FORMAT_KEY);
      }
    };
    let db: IDBDatabase;
    try {
      db = await requestResult(request);
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
    const lose = (why: string): void => {
      this.#lost = why;
      db.close();
      if (this.#db === db) this.#db = undefined;
    };
    db.onversionchange = () => lose('was deleted or upgraded by another connection');
    db.onclose = () => lose('was closed by the browser (storage cleared?)');
    return db;
  }

  async #recover(db: IDBDatabase): Promise<Recovered> {
    for (const name of [FORMAT_STORE, LOG_STORE, SNAPSHOT_STORE, META_STORE]) {
      if (!db.objectStoreNames.contains(name)) {
        throw new StorageError('UNKNOWN_FORMAT', `${this.label} exists but was not made by Lightcone (no "${name}" store): pick another name or delete it`, {
          database: this.#dbName,
        });
      }
    }
    const tx = db.transaction([FORMAT_STORE, SNAPSHOT_STORE, LOG_STORE], 'readonly');
    const [format, stored, keys, values] = await Promise.all([
      requestResult<unknown>(tx.objectStore(FORMAT_STORE).get(FORMAT_KEY)),
      requestResult<unknown>(tx.objectStore(SNAPSHOT_STORE).get(SNAPSHOT_KEY)),
      requestResult(tx.objectStore(LOG_STORE).getAllKeys()),
      requestResult<unknown[]>(tx.objectStore(LOG_STORE).getAll()),
      transactionDone(tx),
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

  #connection(): IDBDatabase {
    if (this.#db) return this.#db;
    throw new ClosedError(`${this.label} ${this.#lost ?? 'is not open'}: open it again to continue`, { database: this.#dbName });
  }

  #writeError(context: string, error: unknown): StorageError | ClosedError {
    if (error instanceof StorageError || error instanceof ClosedError) return error;
    if (this.#lost !== undefined) {
      return new ClosedError(`${this.label} ${this.#lost}: ${context} failed; open it again to continue`, { database: this.#dbName });
    }
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

/** Resolves with a request's result, rejects with its error. */
function requestResult<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new DOMException('request failed', 'UnknownError'));
  });
}

/**
 * Resolves when the transaction commits, rejects with its error when it aborts. Marked handled at
 * once: a caller that throws before awaiting it must not leave an unhandled rejection behind.
 */
function transactionDone(tx: IDBTransaction): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
  });
  done.catch(() => {});
  return done;
}

/** Commits now instead of when the event loop comes back (saves a round trip); no-op if aborted. */
function commitEarly(tx: IDBTransaction): void {
  try {
    tx.commit();
  } catch {
    // Aborted by a failed request or the test seam: `done` rejects with the reason.
  }
}

function abortQuietly(tx: IDBTransaction | undefined): void {
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
