// The SharedWorker entry: one supervisor for every tab of the origin. Each tab's `connect()` opens
// a port; the same EngineSupervisor serves them all through Comlink, so every tab sees the same
// databases and each other's changes live. The databases run in an engine worker the supervisor
// can stop (engine-supervisor.ts): nested where a SharedWorker can start workers, else started by
// one of the connected pages (Chromium's SharedWorkers have no Worker constructor).
import * as Comlink from 'comlink';
import { holdLock } from '../src/client/locks.ts';
import { installTransferHandlers } from '../src/client/wire.ts';
import { EngineSupervisor, nestedEngines, PageHosts } from './engine-supervisor.ts';
import { TEST_HOOKS } from './test-hooks.ts';

installTransferHandlers();

// The project's lib is DOM (not WebWorker, which conflicts with it): name the one member used.
const scope = self as unknown as { onconnect: ((event: MessageEvent) => void) | null };
const lock = `lightcone:worker:${crypto.randomUUID()}`;
const pages = new PageHosts(lock);
const spawn = typeof Worker === 'undefined' ? pages.spawn : nestedEngines(() => new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'lightcone-engine' }), lock);
const supervisor = new EngineSupervisor({
  mode: 'shared',
  lock,
  lockHeld: holdLock(lock),
  testHooks: TEST_HOOKS,
  spawn,
  onHost: (clientId, host) => pages.add(clientId, host),
  onClientGone: (clientId) => pages.remove(clientId),
});

scope.onconnect = (event: MessageEvent) => {
  const port = event.ports[0];
  if (port) Comlink.expose(supervisor, port);
};
