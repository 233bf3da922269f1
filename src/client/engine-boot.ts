// Starting an engine worker (worker/engine-worker.ts) and taking its ports: a page does it for
// the SharedWorker (Chromium's SharedWorkers cannot start workers), the leader's dedicated worker
// does it nested. The engine answers once it holds its liveness lock, so whoever watches that
// lock afterwards learns of the engine's end, never of a start that had not happened yet.
import { ClosedError, InternalError } from '../errors.ts';
import type { EngineBoot } from './protocol.ts';

/** How long an engine worker may take to load its script and answer. */
export const ENGINE_START_TIMEOUT_MS = 15_000;

/** The first message an engine worker receives: its ports and the lock to hold while alive. */
export interface EngineBootMessage {
  rpc: MessagePort;
  beat: MessagePort;
  lock: string;
  /** The supervisor's liveness lock: the engine ends when it is released (no one left to serve). */
  supervisor: string;
}

/**
 * Hands `worker` (a fresh engine worker) its ports and waits until it holds its lock. Rejects with
 * ClosedError (and terminates the worker) when its script fails or it does not answer in time.
 * `supervisor` is the Web Lock of the worker that will talk to it.
 */
export function bootEngine(worker: Worker, supervisor: string): Promise<EngineBoot> {
  const lock = `lightcone:engine:${crypto.randomUUID()}`;
  const rpc = new MessageChannel();
  const beat = new MessageChannel();
  return new Promise<EngineBoot>((resolve, reject) => {
    const fail = (error: Error) => {
      clearTimeout(timer);
      worker.terminate();
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new ClosedError(`the Lightcone engine worker could not start (no answer within ${ENGINE_START_TIMEOUT_MS / 1000} s): reload the page`, { retryable: true })),
      ENGINE_START_TIMEOUT_MS,
    );
    // Its script did not load (not served, or served as something else): no retry will change that.
    worker.onerror = (event) => fail(workerLoadFailed('engine worker', event.message));
    worker.onmessage = (event: MessageEvent<{ ready?: string }>) => {
      if (event.data?.ready !== lock) return;
      clearTimeout(timer);
      worker.onerror = null;
      worker.onmessage = null;
      resolve({ rpc: rpc.port1, beat: beat.port1, lock });
    };
    const boot: EngineBootMessage = { rpc: rpc.port2, beat: beat.port2, lock, supervisor };
    worker.postMessage(boot, [rpc.port2, beat.port2]);
  });
}

/**
 * A Lightcone worker whose script failed to load (its `error` event): the app does not serve
 * Lightcone's files, which no retry or reload changes, so the message says what to fix.
 */
export function workerLoadFailed(which: string, detail?: string): InternalError {
  return new InternalError(
    `the Lightcone ${which} could not start: its script did not load${detail ? ` (${detail})` : ''}. In a Vite app, add the plugin to vite.config.ts (\`import lightcone from 'lightcone/vite'\`, \`plugins: [lightcone()]\`): it serves Lightcone's worker files in dev and bundles them into builds. A built app must be served with all of its assets as they are (a missing file answered with index.html fails too)`,
    { worker: which },
    { code: 'WORKER_LOAD_FAILED' },
  );
}
