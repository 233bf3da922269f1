// The engine's own worker: every database of the origin (a WorkerHost) in a thread that runs
// module code and nothing else, so that its supervisor (worker/engine-supervisor.ts, in the
// SharedWorker or the leader's dedicated worker) can terminate it when a call runs away and start
// another, which recovers from IndexedDB. Started through `bootEngine` (src/client/engine-boot.ts).
import * as Comlink from 'comlink';
import type { EngineBootMessage } from '../src/client/engine-boot.ts';
import { holdLock, whenReleased } from '../src/client/locks.ts';
import type { BeatMessage } from '../src/client/protocol.ts';
import { installTransferHandlers } from '../src/client/wire.ts';
import { loadSqlite } from '../src/datastore/sqlite.ts';
import type { SyncHttp } from '../src/host/http-wire.ts';
import { xhrSyncHttp } from './sync-http.ts';
import { TEST_HOOKS } from './test-hooks.ts';
import { WorkerHost } from './worker-host.ts';

installTransferHandlers();
// SQLite's WebAssembly initialises while the worker boots and the first database is read from
// IndexedDB, not after; a failure is met by the first open.
loadSqlite().catch(() => {});

// The project's lib is DOM (not WebWorker): name the members of the worker scope that are used.
const scope = self as unknown as { onmessage: ((event: MessageEvent<EngineBootMessage>) => void) | null; postMessage(message: unknown): void; close(): void };

scope.onmessage = (event) => {
  scope.onmessage = null;
  const { rpc, beat, lock, supervisor } = event.data;
  // A page-started engine would outlive a crashed SharedWorker and keep its databases locked.
  void whenReleased(supervisor).then(() => scope.close());
  void holdLock(lock).then(() => {
    const post = (message: BeatMessage) => beat.postMessage(message);
    beat.onmessage = (e: MessageEvent<BeatMessage>) => {
      if ('ping' in e.data) post({ pong: e.data.ping });
    };
    const host = new WorkerHost({
      mode: 'shared',
      lock,
      lockHeld: Promise.resolve(),
      testHooks: TEST_HOOKS,
      http: announced(xhrSyncHttp, post),
      onWaiting: (callId) => post({ waiting: callId }),
      onLane: (budgetMs) => post({ lane: budgetMs }),
    });
    Comlink.expose(host, rpc);
    scope.postMessage({ ready: lock });
  });
};

/**
 * Synchronous HTTP blocks this thread on purpose (up to the request's timeout): say so first, so
 * the supervisor does not take the wait for a runaway call.
 */
function announced(http: SyncHttp | undefined, post: (message: BeatMessage) => void): SyncHttp | undefined {
  if (!http) return undefined;
  return (req) => {
    post({ busyMs: req.timeoutMs });
    try {
      return http(req);
    } finally {
      post({ busyMs: 0 });
    }
  };
}
