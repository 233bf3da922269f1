// The rules every durability backend shares: LSN assignment, group commit (one storage write per
// batch of appends), failure handling that keeps the log free of gaps, snapshot ordering and the
// open/closed lifecycle. A backend only moves bytes; see `DurabilityBackend`.

import { ClosedError, LightconeError, StorageError, UsageError } from '../errors.ts';
import { type Durability, type DurabilityStats, imageSize, type LogRecord, type Recovered, type SnapshotToWrite } from './durability.ts';

/**
 * What a backend implements. The core never calls `appendBatch` and `writeSnapshot` concurrently
 * (they share one lane) unless the backend sets `snapshotsBesideLog`, never two `writeSnapshot`s
 * at once, and calls nothing but `destroy(false)` before `open()` resolved or after
 * `close()`. Errors should be `LightconeError`s with a storage code; anything else is wrapped.
 */
export interface DurabilityBackend {
  /** Names the storage in error messages, e.g. `file database "/data/bank"`. */
  readonly label: string;
  /** Opens storage, takes the lock if the backend has one, recovers. */
  open(): Promise<Recovered>;
  /**
   * Stores `records` (ascending, contiguous, following the last stored record) in one storage
   * write. On failure nothing of the batch may survive to a later successful write: undo it or
   * make sure recovery cuts it.
   */
  appendBatch(records: readonly LogRecord[]): Promise<void>;
  /**
   * True when `writeSnapshot` may run while `appendBatch` writes (storage that keeps the two
   * apart, so a large image never holds up the log behind it). The snapshot's records are durable
   * before it starts either way.
   */
  readonly snapshotsBesideLog?: boolean;
  /**
   * Stores the snapshot atomically, then drops records with `lsn <= snapshot.lsn`. Resolves with
   * the image bytes it wrote when that is not the whole image.
   */
  writeSnapshot(snapshot: SnapshotToWrite): Promise<unknown>;
  getMeta(key: string): Promise<Uint8Array | undefined>;
  putMeta(key: string, value: Uint8Array): Promise<void>;
  /** Releases the lock and every handle. */
  close(): Promise<void>;
  /** Removes everything stored. `opened` is false on an instance never opened: take the lock first. */
  destroy(opened: boolean): Promise<void>;
}

/**
 * Wraps a backend in the shared ordering and lifecycle rules; each backend's factory calls it.
 *
 * @example
 * ```ts
 * export function memoryDurability(store = new MemoryStore()): Durability {
 *   return createDurability(new MemoryBackend(store));
 * }
 * ```
 */
export function createDurability(backend: DurabilityBackend): Durability {
  return new GroupCommit(backend);
}

/** Upper bounds of one storage write; a longer queue goes out in several writes back to back. */
const MAX_BATCH_RECORDS = 10_000;
const MAX_BATCH_BYTES = 16 * 1024 * 1024;

const noop = (): void => {};

interface Pending {
  record: LogRecord;
  durable: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed';

class GroupCommit implements Durability {
  readonly #backend: DurabilityBackend;
  #state: State = 'new';
  #opening: Promise<Recovered> | undefined;
  /** Set by the first close() or destroy(): later calls return it or reject. */
  #ending: Promise<void> | undefined;
  #nextLsn = 1n;
  /** LSN of the last record known durable. */
  #durableLsn = 0n;
  #snapshotLsn = -1n;
  /** Appended, not yet handed to a write. */
  #queue: Pending[] = [];
  /** The newest append that has not failed; `flush()` waits for it. */
  #last: Pending | undefined;
  #draining = false;
  /** Serializes log writes and snapshots: each link never rejects. */
  #lane: Promise<void> = Promise.resolve();
  /** Serializes snapshots among themselves when the backend writes them beside the log. */
  #snapshotLane: Promise<void> = Promise.resolve();
  /** Snapshot and meta calls in progress: close() waits for them. */
  readonly #ops = new Set<Promise<unknown>>();
  readonly #stats: DurabilityStats = { writes: 0, records: 0, snapshots: 0, snapshotBytes: 0 };

  constructor(backend: DurabilityBackend) {
    this.#backend = backend;
  }

  open(): Promise<Recovered> {
    if (this.#ending) return Promise.reject(this.#closedError());
    if (this.#state === 'opening' && this.#opening) return this.#opening;
    if (this.#state === 'open') {
      return Promise.reject(new UsageError('ALREADY_OPEN', `${this.#backend.label} is already open: open() recovers once per instance`));
    }
    this.#state = 'opening';
    const opening = this.#backend.open().then(
      (recovered) => {
        this.#nextLsn = recovered.nextLsn;
        this.#durableLsn = recovered.nextLsn - 1n;
        this.#snapshotLsn = recovered.snapshot?.lsn ?? -1n;
        this.#state = 'open';
        // Do not keep the recovered image alive for the instance's lifetime.
        this.#opening = undefined;
        return recovered;
      },
      (error: unknown) => {
        this.#state = 'new';
        this.#opening = undefined;
        throw error;
      },
    );
    this.#opening = opening;
    return opening;
  }

  append(payload: Uint8Array): { lsn: bigint; durable: Promise<void> } {
    if (this.#state !== 'open') throw this.#notOpenError();
    if (!(payload instanceof Uint8Array)) {
      throw new UsageError('BAD_ARGUMENT', `append expects a Uint8Array payload, got ${describe(payload)}`);
    }
    const lsn = this.#nextLsn++;
    let resolve = noop;
    let reject: (error: unknown) => void = noop;
    const durable = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    durable.catch(noop); // the caller observes `durable`; one that drops it must not crash the process
    const pending: Pending = { record: { lsn, payload }, durable, resolve, reject };
    this.#queue.push(pending);
    this.#last = pending;
    this.#kick();
    return { lsn, durable };
  }

  async flush(): Promise<void> {
    this.#assertOpen();
    await this.#last?.durable;
  }

  writeSnapshot(snapshot: SnapshotToWrite): Promise<void> {
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#track(this.#snapshot(snapshot));
  }

  async #snapshot(snapshot: SnapshotToWrite): Promise<void> {
    if (typeof snapshot !== 'object' || snapshot === null || typeof snapshot.lsn !== 'bigint' || !isImage(snapshot.image)) {
      throw new UsageError('BAD_ARGUMENT', 'writeSnapshot expects { lsn: bigint, image: Uint8Array | ImageSource }');
    }
    const { lsn } = snapshot;
    if (lsn < 0n || lsn >= this.#nextLsn) {
      throw new UsageError('BAD_SNAPSHOT_LSN', `snapshot lsn ${lsn} is not a record of ${this.#backend.label}: the last appended lsn is ${this.#nextLsn - 1n}`, { lsn, lastLsn: this.#nextLsn - 1n });
    }
    // Let the appends made before this call reach the lane first (they may still sit in the queue).
    await this.#last?.durable.catch(noop); // an append's failure is its caller's to see
    const lane = this.#backend.snapshotsBesideLog ? this.#besideLog.bind(this) : this.#exclusive.bind(this);
    return lane(async () => {
      if (lsn < this.#snapshotLsn) {
        throw new UsageError('STALE_SNAPSHOT', `snapshot lsn ${lsn} is older than the stored snapshot (lsn ${this.#snapshotLsn}) of ${this.#backend.label}`, { lsn, storedLsn: this.#snapshotLsn });
      }
      if (lsn > this.#durableLsn) {
        throw new StorageError(
          'WRITE_FAILED',
          `snapshot lsn ${lsn} covers records of ${this.#backend.label} that failed to write (the durable log ends at lsn ${this.#durableLsn}): the in-memory state is ahead of storage; reopen the database`,
          { lsn, durableLsn: this.#durableLsn },
        );
      }
      try {
        const written = await this.#backend.writeSnapshot(snapshot);
        this.#stats.snapshots++;
        this.#stats.snapshotBytes += typeof written === 'number' ? written : imageSize(snapshot.image);
      } catch (error) {
        throw asStorageError(error, `could not write the snapshot at lsn ${lsn} to ${this.#backend.label}`);
      }
      this.#snapshotLsn = lsn;
    });
  }

  getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.#meta(key, () => this.#backend.getMeta(key));
  }

  putMeta(key: string, value: Uint8Array): Promise<void> {
    if (!(value instanceof Uint8Array)) {
      return Promise.reject(new UsageError('BAD_ARGUMENT', `putMeta expects a Uint8Array value, got ${describe(value)}`));
    }
    return this.#meta(key, () => this.#backend.putMeta(key, value));
  }

  close(): Promise<void> {
    this.#ending ??= this.#end(async (opened) => {
      if (opened) await this.#backend.close();
    });
    return this.#ending;
  }

  destroy(): Promise<void> {
    if (this.#ending) return Promise.reject(this.#closedError());
    const ending = this.#end((opened) => this.#backend.destroy(opened));
    this.#ending = ending;
    // A destroy that never got the database (e.g. DATABASE_IN_USE) leaves the instance reusable.
    ending.catch(() => {
      if (this.#state === 'new' && this.#ending === ending) this.#ending = undefined;
    });
    return ending;
  }

  stats(): DurabilityStats {
    return { ...this.#stats };
  }

  /** Shared tail of close() and destroy(): settle everything pending, then `finish`. */
  async #end(finish: (opened: boolean) => Promise<void>): Promise<void> {
    // An open's failure is its caller's to see; close and destroy only wait for it to settle.
    while (this.#state === 'opening' && this.#opening) await this.#opening.catch(noop);
    if (this.#state === 'closed') return;
    if (this.#state === 'new') {
      await finish(false);
      this.#state = 'closed';
      return;
    }
    this.#state = 'closing';
    await this.#last?.durable.catch(noop); // an append's failure is its caller's to see
    await Promise.all([...this.#ops]);
    await this.#lane;
    try {
      await finish(true);
    } finally {
      this.#state = 'closed';
    }
  }

  #kick(): void {
    if (this.#draining) return;
    this.#draining = true;
    // A microtask, not a write right now: appends made in the same tick join this batch.
    queueMicrotask(() => {
      this.#lane = this.#lane.then(() => this.#drain());
    });
  }

  /**
   * Writes one batch, then gives the lane back: appends that arrived meanwhile go out in a new
   * lane link, queued behind any snapshot that asked for the lane during this write. Looping here
   * until the queue is empty would starve snapshots for as long as callers keep appending (with
   * two or more callers in flight the queue is never empty). Never rejects.
   */
  async #drain(): Promise<void> {
    const batch = this.#takeBatch();
    try {
      if (batch.length === 0) return;
      try {
        await this.#backend.appendBatch(batch.map((p) => p.record));
      } catch (error) {
        this.#fail(batch, error);
        return;
      }
      this.#stats.writes++;
      this.#stats.records += batch.length;
      this.#durableLsn = batch[batch.length - 1]!.record.lsn;
      for (const p of batch) p.resolve();
    } finally {
      this.#draining = false;
      if (this.#queue.length > 0) this.#kick();
    }
  }

  #takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length && n < MAX_BATCH_RECORDS) {
      bytes += this.#queue[n]!.record.payload.length;
      n++;
      if (bytes >= MAX_BATCH_BYTES) break;
    }
    return this.#queue.splice(0, n);
  }

  /**
   * A write failed: reject its records and every later pending one (a later record may depend on
   * an earlier one), and hand their LSNs out again so the log stays contiguous.
   */
  #fail(batch: Pending[], error: unknown): void {
    const first = batch[0]!.record.lsn;
    const last = batch[batch.length - 1]!.record.lsn;
    const rest = this.#queue.splice(0);
    const cause = asStorageError(error, `could not append lsn ${first}..${last} to ${this.#backend.label}`);
    for (const p of batch) p.reject(cause);
    for (const p of rest) p.reject(cause);
    this.#nextLsn = first;
    this.#last = undefined;
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#lane.then(task);
    this.#lane = run.then(noop, noop); // the lane only orders tasks; each caller gets its own `run`
    return run;
  }

  /** Runs snapshot writes one at a time, while log writes go on. */
  #besideLog<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#snapshotLane.then(task);
    this.#snapshotLane = run.then(noop, noop);
    return run;
  }

  #meta<T>(key: string, op: () => Promise<T>): Promise<T> {
    try {
      this.#assertOpen();
      if (typeof key !== 'string' || key.length === 0 || key.length > 200) {
        throw new UsageError('BAD_ARGUMENT', `a meta key is a string of 1 to 200 characters, got ${describe(key)}`);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#track(op());
  }

  #track<T>(run: Promise<T>): Promise<T> {
    const settled = run.then(noop, noop); // only when it settles matters here; the caller gets `run`
    this.#ops.add(settled);
    void settled.then(() => this.#ops.delete(settled));
    return run;
  }

  #assertOpen(): void {
    if (this.#state !== 'open') throw this.#notOpenError();
  }

  #notOpenError(): LightconeError {
    if (this.#state === 'closing' || this.#state === 'closed' || this.#ending) return this.#closedError();
    return new UsageError('NOT_OPEN', `${this.#backend.label} is not open yet: await open() first`);
  }

  #closedError(): ClosedError {
    return new ClosedError(`${this.#backend.label} is closed: open a new instance to continue`, {
      storage: this.#backend.label,
    });
  }
}

/** Keeps Lightcone errors as they are; wraps anything else as WRITE_FAILED with `context`. */
function asStorageError(error: unknown, context: string): LightconeError {
  if (error instanceof LightconeError) return error;
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new StorageError('WRITE_FAILED', `${context}: ${text}`, {}, { cause: error });
}

function isImage(image: unknown): boolean {
  if (image instanceof Uint8Array) return true;
  if (typeof image !== 'object' || image === null) return false;
  const size: unknown = Reflect.get(image, 'size');
  return typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 && typeof Reflect.get(image, 'read') === 'function';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `a string of length ${value.length}`;
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}
