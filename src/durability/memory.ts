// In-process durability: for tests and for databases opened without a data directory. A
// `MemoryStore` outlives the instances that use it, so a test can close, "reopen" and see the
// same data. Bytes are copied in and out, as real storage would, so callers cannot alias them.

import { StorageError } from '../errors.ts';
import { type Durability, imageBytes, type LogRecord, type Recovered, type Snapshot, type SnapshotToWrite } from './durability.ts';
import { createDurability, type DurabilityBackend } from './group-commit.ts';

/**
 * The storage behind `memoryDurability`: pass the same store to a new instance to reopen.
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * const a = memoryDurability(store);
 * await a.open();
 * await a.append(new Uint8Array([1])).durable;
 * await a.close();
 * const { records } = await memoryDurability(store).open();   // records[0].lsn === 1n
 * ```
 */
export class MemoryStore {
  /** The newest snapshot, if any. */
  snapshot: Snapshot | undefined = undefined;
  /** Records after the snapshot, ascending. */
  log: LogRecord[] = [];
  readonly meta = new Map<string, Uint8Array>();
  /** True while an instance has the store open (the in-process equivalent of a lock file). */
  locked = false;
}

/** Options of `memoryDurability`. */
export interface MemoryDurabilityOptions {
  /**
   * Test seam: runs before each log write with the records it carries; throw (or reject) to make
   * that write fail, return a promise to hold the write in flight.
   */
  beforeWrite?: (records: readonly LogRecord[]) => void | Promise<void>;
  /** Test seam: runs before each snapshot write, as `beforeWrite` does for log writes. */
  beforeSnapshot?: (snapshot: Snapshot) => void | Promise<void>;
}

/**
 * Durability held in process memory: nothing survives the process, everything else behaves as
 * the persistent backends do (lock, group commit, snapshot truncation).
 *
 * @example
 * ```ts
 * const d = memoryDurability();
 * await d.open();
 * const { lsn, durable } = d.append(new TextEncoder().encode('tx 1'));
 * await durable;
 * ```
 */
export function memoryDurability(store: MemoryStore = new MemoryStore(), opts: MemoryDurabilityOptions = {}): Durability {
  return createDurability(new MemoryBackend(store, opts));
}

/**
 * The bare backend behind `memoryDurability` (without the group-commit core), for a core that
 * runs elsewhere: the Node engine thread keeps an in-memory database's store on the main thread.
 */
export function memoryBackend(store: MemoryStore, opts: MemoryDurabilityOptions = {}): DurabilityBackend {
  return new MemoryBackend(store, opts);
}

class MemoryBackend implements DurabilityBackend {
  readonly label = 'memory database';
  readonly #store: MemoryStore;
  readonly #opts: MemoryDurabilityOptions;
  #holdsLock = false;

  constructor(store: MemoryStore, opts: MemoryDurabilityOptions) {
    this.#store = store;
    this.#opts = opts;
  }

  async open(): Promise<Recovered> {
    this.#lock();
    const { snapshot, log } = this.#store;
    const base = snapshot?.lsn ?? 0n;
    const records = log.filter((r) => r.lsn > base).map((r) => ({ lsn: r.lsn, payload: r.payload.slice() }));
    const last = records[records.length - 1]?.lsn ?? base;
    return {
      snapshot: snapshot && { lsn: snapshot.lsn, image: snapshot.image.slice() },
      records,
      nextLsn: last + 1n,
      truncatedTail: false,
    };
  }

  async appendBatch(records: readonly LogRecord[]): Promise<void> {
    await this.#opts.beforeWrite?.(records);
    for (const r of records) this.#store.log.push({ lsn: r.lsn, payload: r.payload.slice() });
  }

  async writeSnapshot(snapshot: SnapshotToWrite): Promise<void> {
    const image = snapshot.image instanceof Uint8Array ? snapshot.image.slice() : imageBytes(snapshot.image);
    await this.#opts.beforeSnapshot?.({ lsn: snapshot.lsn, image });
    this.#store.snapshot = { lsn: snapshot.lsn, image };
    this.#store.log = this.#store.log.filter((r) => r.lsn > snapshot.lsn);
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.#store.meta.get(key)?.slice();
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    this.#store.meta.set(key, value.slice());
  }

  async close(): Promise<void> {
    this.#unlock();
  }

  async destroy(opened: boolean): Promise<void> {
    if (!opened) this.#lock();
    const store = this.#store;
    store.snapshot = undefined;
    store.log = [];
    store.meta.clear();
    this.#unlock();
  }

  #lock(): void {
    if (this.#store.locked) {
      throw new StorageError('DATABASE_IN_USE', 'this memory database is already open in another instance: close that instance first');
    }
    this.#store.locked = true;
    this.#holdsLock = true;
  }

  #unlock(): void {
    if (this.#holdsLock) this.#store.locked = false;
    this.#holdsLock = false;
  }
}
