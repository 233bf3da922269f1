// A durability wrapper that stops writing after the first failed log write. When a write fails
// (quota exhausted, aborted transaction), the engine's in-memory state already holds the failed
// transaction, so nothing derived from that memory may reach storage: later appends, snapshots
// and meta writes are refused until the worker reloads the database from what was durable.
import type { Durability, Recovered, Snapshot } from '../src/durability/durability.ts';
import { ClosedError, StorageError } from '../src/errors.ts';

/** A fenced durability and its state. */
export interface FencedDurability extends Durability {
  /** The failure that fenced it, once one did. */
  readonly failure: StorageError | undefined;
}

/**
 * Wraps `inner`; `onFailure` runs once, at the first log write that fails with a StorageError
 * (not a ClosedError: a database closed under us is not a divergence).
 */
export function fenced(inner: Durability, onFailure: (error: StorageError) => void): FencedDurability {
  let failure: StorageError | undefined;
  const refuse = (): StorageError =>
    new StorageError('RELOADING', `an earlier write failed (${failure!.message}), so this database is being reloaded from storage: retry the call`, { cause: failure!.code, retryable: true });
  return {
    get failure() {
      return failure;
    },
    open: (): Promise<Recovered> => inner.open(),
    append(payload: Uint8Array) {
      if (failure) {
        const durable = Promise.reject(refuse());
        durable.catch(() => {});
        return { lsn: 0n, durable };
      }
      const record = inner.append(payload);
      record.durable.catch((error: unknown) => {
        if (failure || !(error instanceof StorageError) || error instanceof ClosedError) return;
        failure = error;
        onFailure(error);
      });
      return record;
    },
    flush: () => inner.flush(),
    writeSnapshot: (snapshot: Snapshot) => (failure ? Promise.reject(refuse()) : inner.writeSnapshot(snapshot)),
    getMeta: (key: string) => inner.getMeta(key),
    putMeta: (key: string, value: Uint8Array) => (failure ? Promise.reject(refuse()) : inner.putMeta(key, value)),
    close: () => inner.close(),
    destroy: () => inner.destroy(),
    stats: () => inner.stats(),
  };
}
