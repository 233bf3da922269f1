// The engine thread of a Node database (a worker_threads Worker, one per open database): runs the
// Engine, serves the main thread's requests, and notes in shared watch slots when module code runs
// and which request the engine works on, so the main thread can stop a runaway call (time limit;
// the heap limit is the Worker's own resource limit) and tell which call it was.
import process from 'node:process';
import { parentPort, workerData, type MessagePort as NodeMessagePort } from 'node:worker_threads';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { Identity } from 'spacetimedb';
import { revive, serializeError } from '../client/wire.ts';
import { createDurability } from '../durability/group-commit.ts';
import { loadSqlite, useCompiledSqlite } from '../datastore/sqlite.ts';
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
  W_BEAT,
  MODULE_RUN_KINDS,
  type EngineOut,
  shareUpdates,
  type EngineRequest,
  type EngineThreadInit,
  type FromEngine,
  type FunctionNames,
  type ToEngine,
} from './thread-protocol.ts';
import { RemoteBackend } from './thread-storage.ts';
import { lockDownForModules } from './sandbox.ts';
import { servePort } from '../protocol/port.ts';
import { ProtocolServer } from '../protocol/server.ts';
import type { Durability } from '../durability/durability.ts';
import { UsageError } from '../errors.ts';
import { WebSocket } from 'ws';
import { Replica } from '../sync/replica.ts';
import type { SocketLike } from '../sync/wire-client.ts';
import { META_MODULE } from '../engine/publish.ts';
import type { FunctionDef } from '../datastore/schema.ts';
import { argsFromSatsJson, procedureReturnJson } from '../server/sats-json.ts';

if (!parentPort) throw new Error('engine-worker.ts is the entry of a worker thread made by openDatabase, not a script to run');
const port = parentPort;
const init = workerData as EngineThreadInit;
if (init.sqlite) useCompiledSqlite(init.sqlite);
const slots = new Int32Array(init.watch);
// Taken before any module loads: module code may replace the globals, never these.
const store = Atomics.store;
const load = Atomics.load;
const perfNow = performance.now.bind(performance);
const origin = performance.timeOrigin;
const clock = (): number => (origin + perfNow() - init.clockBase) | 0;
const beat = setInterval(() => store(slots, W_BEAT, clock()), init.beatMs);
beat.unref();
store(slots, W_BEAT, clock());
const kindIndex = Object.fromEntries(MODULE_RUN_KINDS.map((k, i) => [k, i])) as Record<ModuleRunKind, number>;

const post = (msg: FromEngine, transfer?: ArrayBuffer[]): void => port.postMessage(msg, transfer);

// SQLite is started first (its loader looks at `process`); then, since module code is someone
// else's, nothing in this thread's globals leads to Node any more. Sync keeps Node's fetch.
await loadSqlite();
const nodeFetch = globalThis.fetch;
lockDownForModules();

// Only the outermost entry is timed: a view run inside a procedure is part of that procedure.
let depth = 0;
setModuleRunWatcher({
  enter(kind, id) {
    if (depth++ > 0) return;
    store(slots, W_KIND, kindIndex[kind]);
    store(slots, W_FN, id);
    store(slots, W_START, clock());
    store(slots, W_STATE, 1);
  },
  exit() {
    if (--depth === 0) store(slots, W_STATE, 0);
  },
});

/** Waiting on an HTTP response is not running: the time limit restarts once it is back. */
const http: SyncHttp = (req) => {
  const state = load(slots, W_STATE);
  store(slots, W_STATE, 2);
  try {
    return nodeSyncHttp(req);
  } finally {
    store(slots, W_START, clock());
    store(slots, W_STATE, state);
  }
};

const backend = new RemoteBackend(init.storage, post);
const durability: Durability = createDurability(backend);
let engine: Engine | undefined;
let db: Database | undefined;
let protocol: ProtocolServer | undefined;
let replica: Replica | undefined;
const subs = new Map<number, SubscriptionHandle>();

port.on('message', (msg: ToEngine) => {
  if (msg.t === 'storage') backend.settle(msg);
  else if (msg.t === 'serve') serveConnection(msg.port as unknown as NodeMessagePort);
  else serveBatch(msg.reqs);
});

try {
  engine = await Engine.open({
    name: init.name,
    durability,
    owner: new Identity(init.owner),
    http,
    ...(init.code !== undefined ? { code: init.code } : {}),
    ...(init.snapshotEvery !== undefined ? { snapshotEvery: init.snapshotEvery } : {}),
  });
  db = databaseFacade(engine);
  if (init.remote) {
    const code = init.code ?? new TextDecoder().decode((await durability.getMeta(META_MODULE)) ?? new Uint8Array());
    replica = new Replica({ engine, store: durability, code, socket: (url, protocols) => new WebSocket(url, protocols) as unknown as SocketLike, fetch: (url, i) => nodeFetch(url, i) }, init.remote);
    replica.onStatus((status) => post({ t: 'sync', status }));
    await replica.start();
  }
  const schema = engine.host.schema;
  const names: FunctionNames = {
    reducer: Object.fromEntries(schema.reducers.map((r) => [r.id, r.name])),
    procedure: Object.fromEntries(schema.procedures.map((p) => [p.id, p.name])),
    view: Object.fromEntries(schema.views.map((v) => [v.id, v.name])),
    http: Object.fromEntries(schema.httpHandlers.map((h) => [h.id, h.name])),
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
      if (req.token !== undefined) opts.token = req.token;
      if (req.timestamp !== undefined) opts.timestamp = req.timestamp;
      mark(e, 1, req.id);
      if (replica?.syncs(req.fn) && req.sender === undefined) answer(req.id, replica.call(req.fn, reviveArgs(req.args), req.wait ?? 'server', req.callId));
      else answer(req.id, d.call(req.fn, reviveArgs(req.args), opts));
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
      answer(req.id, closeAll(d));
      return;
    case 'clientCall':
      mark(e, 1, req.id);
      answer(req.id, clientCall(e, req));
      return;
    case 'prePublish':
      mark(e, 1, req.id);
      answer(req.id, e.planPublish(req.code));
      return;
    case 'fetchRoute':
      mark(e, 1, req.id);
      answer(req.id, d.fetchRoute(req.req));
      return;
    case 'moduleDef':
      answer(req.id, Promise.resolve(e.host.describe));
      return;
    case 'exportImage':
      answer(req.id, e.exportImage());
      return;
  }
}

// ── protocol connections (a server relays each WebSocket on a port of its own) ──

/** Gzip or brotli for frames over 1 KiB, done here so the server's thread only relays bytes. */
const COMPRESS = { gzip: (b: Uint8Array) => new Uint8Array(gzipSync(b)), brotli: (b: Uint8Array) => new Uint8Array(brotliCompressSync(b)) };

function serveConnection(p: NodeMessagePort): void {
  const e = engine;
  if (!e) {
    p.close(); // the server sends nothing before 'ready'
    return;
  }
  protocol ??= new ProtocolServer({ engine: e, keys: durability });
  // Node's MessagePort takes `onmessage` as the browser's does.
  servePort(protocol, p as unknown as MessagePort, { trusted: { compress: COMPRESS } });
}

async function closeAll(d: Database): Promise<void> {
  await replica?.close();
  await protocol?.close('the database is closing or being replaced (a new module was published)');
  await d.close();
}

/**
 * A call as SpacetimeDB's HTTP API makes it: arguments as JSON text (parsed exactly: u64 and wider
 * keep their digits), run inside its own `client_connected`/`client_disconnected` (the engine does
 * that for a call without a connection id). A procedure answers its return value as JSON text.
 */
async function clientCall(e: Engine, req: Extract<EngineRequest, { op: 'clientCall' }>): Promise<{ kind: 'reducer' | 'procedure'; json?: string }> {
  const host = e.host;
  const reducer = host.reducer(req.fn);
  const procedure = reducer ? undefined : host.procedure(req.fn);
  const fn = reducer ?? procedure;
  if (!fn) {
    // The engine names what exists.
    await e.call(req.fn, [], { sender: req.sender });
    throw new UsageError('UNKNOWN_REDUCER', `no reducer or procedure named ${req.fn}`);
  }
  const args = httpArgs(req.argsJson, fn, host, reducer ? 'reducer' : 'procedure');
  // The caller's token: what ctx.senderAuth shows the module (its claims).
  const value = await e.call(fn.name, args, { sender: req.sender, ...(req.callId !== undefined && reducer ? { callId: req.callId } : {}), ...(req.token !== undefined ? { token: req.token } : {}) });
  if (!procedure) return { kind: 'reducer' };
  return { kind: 'procedure', json: procedureReturnJson(value, procedure.returnType, host.schema.typespace) };
}

// ── SATS-JSON of the HTTP API ───────────────────────────────────────────────

function httpArgs(text: string, fn: FunctionDef, host: Engine['host'], kind: 'reducer' | 'procedure'): unknown {
  return argsFromSatsJson(text, fn.params, host.schema.typespace, `${kind} ${fn.name}`);
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
    store(slots, W_REQ_HI, hi);
    store(slots, W_REQ_LO, lo);
    store(slots, W_REQ_MODE, mode);
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
  const items = shareUpdates(outbox!);
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
