// The dedicated Worker entry, for browsers without SharedWorker (or `transport: 'dedicated'`):
// each tab runs one, and the Router inside elects a leader that holds the engine while the
// others forward to it. See router.ts for the election and the in-flight call contract.
import * as Comlink from 'comlink';
import { holdLock } from '../src/client/locks.ts';
import { installTransferHandlers } from '../src/client/wire.ts';
import { Router } from './router.ts';
import { TEST_HOOKS } from './test-hooks.ts';

installTransferHandlers();

const workerId = crypto.randomUUID();
const lock = `lightcone:worker:${workerId}`;
Comlink.expose(new Router({ workerId, lock, lockHeld: holdLock(lock), testHooks: TEST_HOOKS }));
