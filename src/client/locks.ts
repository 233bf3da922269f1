// Liveness through Web Locks: a context holds a lock named after itself for as long as it lives,
// and the browser releases it when the context ends (tab closed, worker terminated or crashed).
// Whoever waits for that lock learns of the end without polling. Used both ways: the client
// watches the worker (pending calls reject), the worker watches each client (its subscriptions end).

/**
 * Takes the exclusive lock `name` and holds it until `release()` (or until this context ends).
 * Aborting `signal` while waiting rejects with the signal's reason.
 */
export async function holdLock(name: string, signal?: AbortSignal): Promise<() => void> {
  const locks = webLocks();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  await new Promise<void>((held, failed) => {
    locks
      .request(name, signal ? { signal } : {}, () => {
        held();
        return released;
      })
      .catch(failed);
  });
  return release;
}

/** Whether this context has Web Locks (browsers do; Node 20 does not). */
export function hasWebLocks(): boolean {
  return (globalThis.navigator as Navigator | undefined)?.locks !== undefined;
}

/**
 * Resolves once the lock `name` is free, i.e. when its holder has ended (call it after the
 * holder took the lock). Aborting `signal` stops waiting; the promise then never resolves.
 */
export function whenReleased(name: string, signal?: AbortSignal): Promise<void> {
  const locks = webLocks();
  return new Promise<void>((resolve) => {
    locks
      .request(name, signal ? { signal } : {}, () => {
        resolve();
      })
      .catch(() => {
        // Aborted: the watcher lost interest.
      });
  });
}

/** `navigator.locks`, or a clear error where the platform lacks it. */
function webLocks(): LockManager {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (!locks) throw new Error('Lightcone needs the Web Locks API (navigator.locks): use a current browser on a secure origin (https or localhost)');
  return locks;
}
