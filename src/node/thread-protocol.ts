// The messages between a Node database (main thread) and its engine thread (a worker_threads
// Worker), and the shared watch slots the engine thread writes so the main thread can time module
// code. Both sides batch their messages per microtask. Values cross as structured clones (bigint
// included); class instances are rebuilt with `revive` and errors with `deserializeError`.
import type { WireError } from '../client/wire.ts';
import type { PublishResult } from '../engine/engine.ts';
import type { SubscribeOptions } from '../subscriptions/types.ts';
import type { ModuleRunKind } from '../host/module-watch.ts';
import type { RemoteOptions, SyncStatus } from '../sync/replica.ts';
import type { RouteRequest } from '../host/http-wire.ts';

/** What the engine thread gets as `workerData`. */
export interface EngineThreadInit {
  name: string;
  /** Module bundle to publish (new database) or compare with (existing one). */
  code: string | undefined;
  /** Owner identity, hex. */
  owner: string;
  snapshotEvery: number | undefined;
  /** The storage's label (the backend itself stays on the main thread). */
  storage: string;
  /** sqlite3.wasm, compiled once by the process (undefined: the thread compiles it). */
  sqlite: WebAssembly.Module | undefined;
  /** The watch slots (an Int32Array over this buffer, see W_*). */
  watch: SharedArrayBuffer;
  /** `performance.timeOrigin + performance.now()` on the main thread when the thread was made: times in the slots are relative to it. */
  clockBase: number;
  /** The remote database this one follows (sync), if any. */
  remote: RemoteOptions | undefined;
  /** How often the thread writes its heartbeat (W_BEAT), ms. */
  beatMs: number;
}

/** Watch slot: 0 no module code running, 1 module code running, 2 module code waiting on HTTP. */
export const W_STATE = 0;
/** Watch slot: when the current stretch of module code started (ms after `clockBase`, int32). */
export const W_START = 1;
/** Watch slot: what runs, as an index into MODULE_RUN_KINDS. */
export const W_KIND = 2;
/** Watch slot: the id of the reducer, view or procedure that runs. */
export const W_FN = 3;
/**
 * Watch slot: 0 before the first request, 1 while the engine works on request W_REQ_HI/LO
 * (it and every request before it have started), 2 once it finished every request up to that one.
 */
export const W_REQ_MODE = 4;
/** Watch slots: a request id as hi * 2^31 + lo (read only once the thread is gone or stuck). */
export const W_REQ_HI = 5;
export const W_REQ_LO = 6;
/**
 * Watch slot: the engine thread's heartbeat (its clock, written every `beatMs` from a timer). A
 * thread whose beat stops is stuck, also in code no watched call covers (a loop a module deferred
 * with a timer or a promise): the main thread stops it.
 */
export const W_BEAT = 7;
/** Number of watch slots. */
export const W_SLOTS = 8;
export const MODULE_RUN_KINDS: readonly ModuleRunKind[] = ['load', 'reducer', 'view', 'procedure', 'http'];

/** The clock of the watch slots: ms since `clockBase`, the same in every thread of the process. */
export function watchClock(clockBase: number): number {
  return (performance.timeOrigin + performance.now() - clockBase) | 0;
}

/** One request from the main thread. Ids grow per database (not per thread). */
export type EngineRequest =
  | {
      id: number;
      op: 'call';
      fn: string;
      args: unknown;
      sender: string | bigint | undefined;
      connectionId: bigint | undefined;
      callId: string | undefined;
      wait?: 'local' | 'server';
      token?: string;
      timestamp?: bigint;
    }
  | { id: number; op: 'query'; sql: string; sender: string | undefined }
  | { id: number; op: 'logs'; limit: number | undefined }
  | { id: number; op: 'describe' }
  /** A request to the module's HTTP handlers (`db.fetchRoute`). */
  | { id: number; op: 'fetchRoute'; req: RouteRequest }
  | { id: number; op: 'subscribe'; sub: number; queries: string[]; opts: SubscribeOptions }
  | { id: number; op: 'unsubscribe'; sub: number }
  | { id: number; op: 'close' }
  /** A call as SpacetimeDB's HTTP API makes it: `client_connected`, the call, `client_disconnected`, arguments as SATS-JSON text. */
  | { id: number; op: 'clientCall'; fn: string; argsJson: string; sender: string; callId: string | undefined; token?: string }
  /** What publishing `code` over the database would do (throws the refusal). */
  | { id: number; op: 'prePublish'; code: string }
  /** The module definition: BSATN of RawModuleDef (`__describe_module__`). */
  | { id: number; op: 'moduleDef' }
  /** The whole database as an `LCDB` image (what the browser's `export()` writes). */
  | { id: number; op: 'exportImage' };

/** How one request ended. */
export type EngineSettled = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** A subscription's event. */
export interface SubscriptionEvent {
  sub: number;
  kind: 'applied' | 'update' | 'error';
  payload: unknown;
}

/**
 * One update delivered to several subscriptions (identical queries share their update object in
 * the engine, so it is cloned once for all of them instead of once each).
 */
export interface SharedUpdateEvent {
  subs: number[];
  kind: 'update';
  payload: unknown;
}

export type EngineOut = EngineSettled | SubscriptionEvent | SharedUpdateEvent;

/** The durability backend operations the engine thread asks the main thread to run. */
export type StorageOp = 'open' | 'appendBatch' | 'writeSnapshot' | 'getMeta' | 'putMeta' | 'close' | 'destroy';

/** Names of the module's functions by id, for limit messages written on the main thread. */
export interface FunctionNames {
  reducer: Record<number, string>;
  procedure: Record<number, string>;
  view: Record<number, string>;
  http: Record<number, string>;
}

export type ToEngine =
  | { t: 'req'; reqs: EngineRequest[] }
  /** A protocol connection: the port's first message is its `connect` (see src/protocol/port.ts). */
  | { t: 'serve'; port: MessagePort }
  | { t: 'storage'; id: number; ok: true; value: unknown }
  | { t: 'storage'; id: number; ok: false; error: WireError };

export type FromEngine =
  | { t: 'ready'; identity: string; owner: string; published: PublishResult; names: FunctionNames; procedures: string[] }
  | { t: 'failed'; error: WireError }
  /** Answers and subscription events, in the order they happened in the engine thread. */
  | { t: 'out'; items: EngineOut[] }
  | { t: 'storage'; id: number; op: StorageOp; args: unknown[] }
  /** Whether the engine thread has timers armed (schedules): the main thread then keeps the process alive. */
  | { t: 'alive'; timers: boolean }
  /** The replica's sync status changed (databases with `remote`). */
  | { t: 'sync'; status: SyncStatus };

/**
 * Folds a run of updates that carry the same object (identical queries share it, and the engine
 * delivers one transaction's update to them one after another) into one item naming every
 * subscription: 1,000 identical subscriptions then cost one clone, not 1,000. Only neighbours are
 * folded, so no subscription's events change order.
 */
export function shareUpdates(items: EngineOut[]): EngineOut[] {
  const out: EngineOut[] = [];
  let run: SharedUpdateEvent | undefined;
  for (const item of items) {
    if ('sub' in item && item.kind === 'update' && typeof item.payload === 'object' && item.payload !== null) {
      if (run?.payload === item.payload) {
        run.subs.push(item.sub);
        continue;
      }
      run = { subs: [item.sub], kind: 'update', payload: item.payload };
      out.push(run);
      continue;
    }
    run = undefined;
    out.push(item);
  }
  return out;
}
