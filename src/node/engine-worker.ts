// The engine thread of a Node database (a worker_threads Worker, one per open database): runs the
// Engine, serves the main thread's requests, and notes in shared watch slots when module code runs
// and which request the engine works on, so the main thread can stop a runaway call (time limit;
// the heap limit is the Worker's own resource limit) and tell which call it was.
import { parentPort, workerData } from 'node:worker_threads';
import { Identity } from 'spacetimedb';
import { revive, serializeError } from '../client/wire.ts';
import { createDurability } from '../durability/group-commit.ts';
import { useCompiledSqlite } from '../datastore/sqlite.ts';
import { databaseFacade, type Database } from '../api/database.ts';
import { Engine, type CallOptions } from '../engine/engine.ts';
import type { SyncHttp } from '../host/http-wire.ts';
import { setModuleRunWatcher, type ModuleRunKind } from '../host/module-watch.ts';
import type { SubscriptionHandle } from '../subscriptions/types.ts';
import { nodeSyncHttp } from './sync-http.ts';
import {
  W_FN,
  W_KIND,
  W_REQ_HI,
  W_REQ_LO,
  W_REQ_MODE,
  W_START,
  W_STATE,
  MODULE_RUN_KINDS,
  watchClock,
  type EngineOut,
  type EngineRequest,
  type EngineThreadInit,
  type FromEngine,
  type FunctionNames,
  type ToEngine,
} from './thread-protocol.ts';
import { RemoteBackend } from './thread-storage.ts';

if (!parentPort) throw new Error('engine-worker.ts is the entry of a worker thread made by openDatabase, not a script to run');
const port = parentPort;
const init = workerData as EngineThreadInit;
if (init.sqlite) useCompiledSqlite(init.sqlite);
const slots = new Int32Array(init.watch);
const kindIndex = Object.fromEntries(MODULE_RUN_KINDS.map((k, i) => [k, i])) as Record<ModuleRunKind, number>;

const post = (msg: FromEngine, transfer?: ArrayBuffer[]): void => port.postMessage(msg, transfer);

// Only the outermost entry is timed: a view run inside a procedure is part of that procedure.
let depth = 0;
setModuleRunWatcher({
  enter(kind, id) {
    if (depth++ > 0) return;
    Atomics.store(slots, W_KIND, kindIndex[kind]);
    Atomics.store(slots, W_FN, id);
    Atomics.store(slots, W_START, watchClock(init.clockBase));
    Atomics.store(slots, W_STATE, 1);
  },
  exit() {
    if (--depth === 0) Atomics.store(slots, W_STATE, 0);
  },
});

/** Waiting on an HTTP response is not running: the time limit restarts once it is back. */
const http: SyncHttp = (req) => {
  const state = Atomics.load(slots, W_STATE);
  Atomics.store(slots, W_STATE, 2);
  try {
    return nodeSyncHttp(req);
  } finally {
    Atomics.store(slots, W_START, watchClock(init.clockBase));
    Atomics.store(slots, W_STATE, state);
  }
};

const backend = new RemoteBackend(init.storage, post);
let engine: Engine | undefined;
let db: Database | undefined;
const subs = new Map<number, SubscriptionHandle>();

port.on('message', (msg: ToEngine) => {
  if (msg.t === 'storage') backend.settle(msg);
  else serveBatch(msg.reqs);
});

try {
  engine = await Engine.open({
    name: init.name,
    durability: createDurability(backend),
    owner: new Identity(init.owner),
    http,
    ...(init.code !== undefined ? { code: init.code } : {}),
    ...(init.snapshotEvery !== undefined ? { snapshotEvery: init.snapshotEvery } : {}),
  });
  db = databaseFacade(engine);
  const schema = engine.host.schema;
  const names: FunctionNames = {
    reducer: Object.fromEntries(schema.reducers.map((r) => [r.id, r.name])),
    procedure: Object.fromEntries(schema.procedures.map((p) => [p.id, p.name])),
    view: Object.fromEntries(schema.views.map((v) => [v.id, v.name])),
  };
  const procedures = schema.procedures.flatMap((p) => [p.name, p.canonicalName]);
  post({ t: 'ready', identity: engine.identity.toHexString(), owner: engine.owner.toHexString(), published: engine.publishResult, names, procedures });
  engine.onCommit(() => checkTimersSoon());
  reportTimers();
} catch (error) {
  post({ t: 'failed', error: serializeError(error) });
}

// ── requests ────────────────────────────────────────────────────────────────

/**
 * Serves one message's requests in order. Work that runs in the engine's call queue is preceded
 * by a mark naming its request, and the batch ends with a mark that all of it is done: when the
 * thread is stopped, the slots say which request was running and which had already started.
 */
function serveBatch(reqs: EngineRequest[]): void {
  const e = engine;
  const d = db;
  if (!e || !d) return; // the main thread sends nothing before 'ready'
  let last = 0;
  for (const req of reqs) {
    last = req.id;
    try {
      serve(e, d, req);
    } catch (error) {
      answer(req.id, Promise.reject(error));
    }
  }
  mark(e, 2, last);
}

function serve(e: Engine, d: Database, req: EngineRequest): void {
  switch (req.op) {
    case 'call': {
      const opts: CallOptions = {};
      if (req.sender !== undefined) opts.sender = req.sender;
      if (req.connectionId !== undefined) opts.connectionId = req.connectionId;
      if (req.callId !== undefined) opts.callId = req.callId;
      mark(e, 1, req.id);
      answer(req.id, d.call(req.fn, reviveArgs(req.args), opts));
      return;
    }
    case 'query':
      mark(e, 1, req.id);
      answer(req.id, d.query(req.sql, req.sender !== undefined ? { sender: req.sender } : {}));
      return;
    case 'logs':
      answer(req.id, d.logs(req.limit !== undefined ? { limit: req.limit } : {}));
      return;
    case 'describe':
      answer(req.id, d.describe());
      return;
    case 'subscribe': {
      mark(e, 1, req.id);
      const sub = req.sub;
      const handle = d.subscribe(
        req.queries,
        {
          onApplied: (payload) => send({ sub, kind: 'applied', payload }),
          onUpdate: (payload) => send({ sub, kind: 'update', payload }),
          onError: (error) => {
            subs.delete(sub);
            send({ sub, kind: 'error', payload: serializeError(error) });
          },
        },
        req.opts,
      );
      subs.set(sub, handle);
      // Answered once the initial rows went out (or the subscription failed, which `onError` told).
      answer(
        req.id,
        handle.applied.then(
          () => undefined,
          () => undefined,
        ),
      );
      return;
    }
    case 'unsubscribe':
      subs.get(req.sub)?.unsubscribe();
      subs.delete(req.sub);
      answer(req.id, Promise.resolve());
      return;
    case 'close':
      answer(req.id, d.close());
      return;
  }
}

/**
 * Arguments with the value classes rebuilt. Too deep or cyclic to walk, they go as they are: the
 * engine's argument check names the problem (and takes the plain forms of the classes too).
 */
function reviveArgs(args: unknown): unknown {
  try {
    return revive(args);
  } catch {
    return args;
  }
}

/** Notes, in the engine's call queue, that request `id` starts (mode 1) or that all up to it are done (2). */
function mark(e: Engine, mode: 1 | 2, id: number): void {
  const hi = Math.floor(id / 2 ** 31);
  const lo = id - hi * 2 ** 31;
  e.exclusive(() => {
    Atomics.store(slots, W_REQ_HI, hi);
    Atomics.store(slots, W_REQ_LO, lo);
    Atomics.store(slots, W_REQ_MODE, mode);
  }).catch(() => {}); // a closed engine: the request itself says so
}

// ── answers, batched per microtask ──────────────────────────────────────────

let outbox: EngineOut[] | undefined;

function answer(id: number, p: Promise<unknown> | unknown): void {
  Promise.resolve(p).then(
    (value) => send({ id, ok: true, value }),
    (error: unknown) => send({ id, ok: false, error: serializeError(error) }),
  );
}

function send(item: EngineOut): void {
  if (!outbox) {
    outbox = [];
    queueMicrotask(flush);
  }
  outbox.push(item);
}

function flush(): void {
  const items = outbox!;
  outbox = undefined;
  try {
    post({ t: 'out', items });
  } catch {
    // Something in the batch cannot be cloned (a value with functions, say): send the rest, and
    // answer what cannot travel with an error instead of leaving it pending.
    for (const item of items) {
      try {
        post({ t: 'out', items: [item] });
      } catch (error) {
        if ('id' in item) post({ t: 'out', items: [{ id: item.id, ok: false, error: serializeError(error) }] });
      }
    }
  }
  checkTimersSoon();
}

// ── keeping the process alive for schedules ─────────────────────────────────

let timersReported: boolean | undefined;
let timersCheck = false;

/** Checks the timers once the current burst of work is done (commits and answers come in bursts). */
function checkTimersSoon(): void {
  if (timersCheck) return;
  timersCheck = true;
  setImmediate(() => {
    timersCheck = false;
    reportTimers();
  });
}

/** Tells the main thread when armed timers (scheduled calls) appear or go. */
function reportTimers(): void {
  const timers = process.getActiveResourcesInfo().includes('Timeout');
  if (timers === timersReported) return;
  timersReported = timers;
  post({ t: 'alive', timers });
}
