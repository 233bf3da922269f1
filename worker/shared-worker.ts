// The SharedWorker entry: one engine for every tab of the origin. Each tab's `connect()` opens a
// port; the same WorkerHost serves them all through Comlink, so every tab sees the same
// databases and each other's changes live. Alive as long as one tab is connected.
import * as Comlink from 'comlink';
import { holdLock } from '../src/client/locks.ts';
import { installTransferHandlers } from '../src/client/wire.ts';
import { TEST_HOOKS } from './test-hooks.ts';
import { WorkerHost } from './worker-host.ts';

installTransferHandlers();

// The project's lib is DOM (not WebWorker, which conflicts with it): name the one member used.
const scope = self as unknown as { onconnect: ((event: MessageEvent) => void) | null };
const lock = `lightcone:worker:${crypto.randomUUID()}`;
const host = new WorkerHost({ mode: 'shared', lock, lockHeld: holdLock(lock), testHooks: TEST_HOOKS });

scope.onconnect = (event: MessageEvent) => {
  const port = event.ports[0];
  if (port) Comlink.expose(host, port);
};
