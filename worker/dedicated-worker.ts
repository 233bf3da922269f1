// The dedicated Worker entry, for browsers without SharedWorker (or `transport: 'dedicated'`):
// each tab runs one, and the Router inside elects a leader while the others forward to it. The
// leader keeps the databases in a nested engine worker it can stop (engine-supervisor.ts). See
// router.ts for the election and the in-flight call contract.
import * as Comlink from 'comlink';
import { holdLock } from '../src/client/locks.ts';
import { installTransferHandlers } from '../src/client/wire.ts';
import { nestedEngines } from './engine-supervisor.ts';
import { Router } from './router.ts';
import { TEST_HOOKS } from './test-hooks.ts';

installTransferHandlers();

const workerId = crypto.randomUUID();
const lock = `lightcone:worker:${workerId}`;
const spawnEngine = nestedEngines(() => new Worker(new URL('./engine-worker.ts', import.meta.url), { type: 'module', name: 'lightcone-engine' }), lock);
Comlink.expose(new Router({ workerId, lock, lockHeld: holdLock(lock), testHooks: TEST_HOOKS, spawnEngine }));
