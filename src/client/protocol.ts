// The worker's control API as the client sees it through Comlink: one interface shared by the
// SharedWorker, the leader of the dedicated-worker fallback and the client, plus the shapes that
// cross the boundary. Versioned: a client and a worker of different protocol versions refuse
// each other with a clear error instead of misreading messages.
import type { WireError } from './wire.ts';
import type { PublishResult } from '../engine/engine.ts';
import type { LogEntry } from '../host/host.ts';
import type { SchemaDescription } from '../engine/describe.ts';
import type { RouteRequest, RouteResponse } from '../host/http-wire.ts';
import type { SqlResult } from '../sql/execute.ts';
import { UsageError, type SerializedError } from '../errors.ts';
import type { InitialRows, TableUpdate } from '../subscriptions/types.ts';
import type { RemoteOptions, SyncStatus } from '../sync/replica.ts';

/** Version of the worker protocol; bump on any change to `WorkerApi` or the shapes below. */
export const PROTOCOL_VERSION = 7;

/** Refuses a client of another protocol version (another build of the app in another tab). */
export function checkProtocol(client: number): void {
  if (client === PROTOCOL_VERSION) return;
  throw new UsageError(
    'PROTOCOL_MISMATCH',
    `this page speaks Lightcone worker protocol ${client} but the running worker speaks ${PROTOCOL_VERSION}: another tab runs a different version; close the other tabs of this site and reload`,
    { client, worker: PROTOCOL_VERSION },
  );
}

/** What the worker needs to know about a client when it connects. */
export interface ClientHello {
  protocol: number;
  /** Random per connection; the client holds the Web Lock `lightcone:client:<clientId>` while alive. */
  clientId: string;
  /** The connection's execution limits (`connect({ limits })`); requests other than calls get the largest budget any client gave. */
  limits?: { callTimeoutMs?: number };
}

/**
 * A page's offer to start engine workers for a SharedWorker (Chromium's SharedWorkers cannot
 * start workers themselves). The engine worker lives as long as that page.
 */
export interface EngineHost {
  /**
   * Starts an engine worker (worker/engine-worker.ts) and hands over its ports once it is ready.
   * The engine ends itself when the Web Lock `supervisor` (held by the asking worker) is released.
   */
  spawnEngine(supervisor: string): Promise<EngineBoot>;
  /** Terminates the engine worker that holds the lock `lock` (a runaway call). */
  terminateEngine(lock: string): void;
}

/** An engine worker's ports, handed to its supervisor once it holds its liveness lock. */
export interface EngineBoot {
  /** Comlink endpoint of the engine's WorkerHost. */
  rpc: MessagePort;
  /** Liveness: the engine answers `{ ping }` with `{ pong }` and announces `{ busyMs }` before it blocks on purpose. */
  beat: MessagePort;
  /** The Web Lock the engine worker holds while alive. */
  lock: string;
}

/**
 * Messages on an engine's beat port. `waiting`: the call with this id (on a synced database) is in
 * the outbox and applied locally, and now only waits for the server: it runs no code meanwhile.
 * `lane`: calls that came on call lanes (`WorkerApi.callLane`) are in flight, the smallest of
 * their budgets in ms (0: none), sent whenever that changes, so that the supervisor watches the
 * engine while they run although it never saw them.
 */
export type BeatMessage = { ping: number } | { pong: number } | { busyMs: number } | { waiting: string } | { lane: number };

/** The budget of a call whose connection set none (`connect({ limits: { callTimeoutMs } })`). */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/** Whether `ms` is a usable budget: a positive, finite number of milliseconds. */
export function validBudget(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0;
}

/** A call's budget: its own (`WireCallOptions.timeoutMs`), else the default. */
export function callBudget(ms: unknown): number {
  return validBudget(ms) ? ms : DEFAULT_CALL_TIMEOUT_MS;
}

/**
 * What a call lane serves (see `WorkerApi.callLane`): the calls of one page, straight to the
 * engine worker. Only calls with a call id travel on it (they may be sent again elsewhere).
 */
export interface LaneApi {
  callMany(name: string, calls: WireCall[]): Promise<WireSettled[]>;
}

/** How the worker answers `hello`. */
export interface WorkerHello {
  protocol: number;
  /** The Web Lock the worker holds while alive: when the client can take it, the worker is gone. */
  lock: string;
  /** 'shared': a SharedWorker holds the engine; 'leader'/'follower': dedicated workers elected one. */
  mode: 'shared' | 'leader' | 'follower';
}

/** What opening or publishing a database reports. */
export interface DatabaseInfo {
  name: string;
  /** Database identity, hex. */
  identity: string;
  /** Owner identity (the origin's publisher), hex. */
  owner: string;
  /** What opening did: 'created', 'updated' (the module changed) or 'unchanged'. */
  published: PublishResult;
  /** Set when the database follows a remote one (sync): where (the token stays in the worker). */
  remote?: { uri: string; database: string };
}

/** Subscription options as they cross the boundary. */
export interface WireSubscribeOptions {
  /** Subscriber identity, hex. */
  sender?: string;
  /** Default true: deliver a transaction once it is durable. */
  confirmedReads?: boolean;
}

/** One call of a `callMany` batch. */
export interface WireCall {
  fn: string;
  args: unknown;
  opts: WireCallOptions;
}

/** How one call of a batch ended (errors in their wire form, see `serializeError`). */
export type WireSettled = { ok: true; value: unknown } | { ok: false; error: WireError };

/** Per-call options as they cross the boundary. */
export interface WireCallOptions {
  /** Caller identity, hex. */
  sender?: string;
  /** Idempotency id; the client always sets one (see `CallOptions.callId`). */
  callId?: string;
  /** How long the call may keep the engine busy (`connect({ limits: { callTimeoutMs } })`). */
  timeoutMs?: number;
  /** On a synced database: resolve once applied here (`local`) or once the server committed it (`server`, default). */
  wait?: 'local' | 'server';
  /** The call's time in µs since the epoch (`CallOptions.timestamp`); default now. */
  timestamp?: bigint;
  /** The client connection (hex, from `attach`) the call runs on: no lifecycle hooks around it. */
  connectionId?: string;
}

/**
 * Receives one subscription's events in the client (a Comlink proxy in the worker). Events
 * arrive in commit order, each after its transaction is durable (confirmed reads).
 */
export interface SubscriptionSink {
  applied(initial: InitialRows): void;
  update(update: TableUpdate[]): void;
  error(error: SerializedError): void;
}

/** Test-build-only storage faults (ignored unless the worker was built with test hooks). */
export interface TestHooks {
  /** Every log write fails as IndexedDB does when the quota is exhausted. */
  failWrites?: boolean;
  /** Every log write waits this long first (a slow disk), so a test can close a tab mid-call. */
  writeDelayMs?: number;
  /** Every log write is stored at once but reported durable this much later (a lost reply). */
  ackDelayMs?: number;
  /** The worker the page talks to terminates itself at once (a crash), so a test can see pending calls settle. */
  crash?: boolean;
  /** The engine's worker is terminated at once (as when it runs out of memory), so a test can see it recover. */
  crashEngine?: boolean;
}

/** The worker's API. Every method settles; errors keep their class (see `installTransferHandlers`). */
export interface WorkerApi {
  /** Introduces a client; a page connecting to a SharedWorker offers to host its engine worker. */
  hello(hello: ClientHello, engineHost?: EngineHost): Promise<WorkerHello>;
  /**
   * Opens a database, publishing `code` when it is new or differs from the running module. With
   * `image` (from `exportDatabase`), a database that does not exist yet is created from it. With
   * `remote`, the database follows that one (sync): the worker keeps it in the database's storage,
   * so every later open, reload or engine restart follows it too, until an open names another.
   * `onRefused: 'reset'`: when the stored database cannot take `code` (a refused migration, no
   * stored module), its data is deleted and `code` published anew; by default that rejects.
   */
  open(name: string, code: string | undefined, image?: Uint8Array, remote?: RemoteOptions, onRefused?: 'reject' | 'reset'): Promise<DatabaseInfo>;
  /** Publishes `code` over database `name` (creating it if new): what `open` does with a module. */
  publish(name: string, code: string): Promise<DatabaseInfo>;
  /**
   * Holds a client connection to database `name` for client `clientId` as `sender` (hex; default
   * the owner), as SpacetimeDB's SDK clients have one: `clientConnected` runs once now, and
   * `clientDisconnected` when the client goes (its Web Lock is released). Resolves with the
   * connection id (hex), which calls pass to run on it. Idempotent: a client asks again now and
   * then, so that an engine that restarted (and forgot it) connects it again.
   */
  attach(name: string, clientId: string, sender: string | undefined): Promise<string>;
  call(name: string, fn: string, args: unknown, opts: WireCallOptions): Promise<unknown>;
  /**
   * Several calls in one message (the client batches the calls made in one microtask): each runs
   * and settles as `call` would, in order, and shares the group commit. One answer per call.
   */
  callMany(name: string, calls: WireCall[]): Promise<WireSettled[]>;
  query(name: string, sql: string, sender: string | undefined): Promise<SqlResult>;
  logs(name: string, limit: number | undefined): Promise<LogEntry[]>;
  describe(name: string): Promise<SchemaDescription>;
  /** A request to the module's HTTP handlers (`db.fetchRoute`). */
  fetchRoute(name: string, request: RouteRequest): Promise<RouteResponse>;
  /** Where sync stands on database `name` (undefined: it follows no remote database). */
  syncStatus(name: string): Promise<SyncStatus | undefined>;
  /**
   * Starts a subscription (resolves once its initial rows were handed to `sink.applied`).
   * Subscribing again with the same ids replaces it. `sink.applied` runs again with a fresh
   * snapshot when the engine behind it is replaced (re-publish, import, leader change).
   */
  subscribe(clientId: string, subscriptionId: string, name: string, queries: string[], opts: WireSubscribeOptions, sink: SubscriptionSink): Promise<void>;
  unsubscribe(clientId: string, subscriptionId: string): Promise<void>;
  exportDatabase(name: string): Promise<Uint8Array>;
  /** Replaces the database (creating it if needed) with an image from `exportDatabase`. */
  importDatabase(name: string, image: Uint8Array): Promise<DatabaseInfo>;
  /** Closes the engine and deletes the database's storage. */
  deleteDatabase(name: string): Promise<void>;
  /** Sets test hooks on a database; rejects unless the worker was built with test hooks. */
  setTestHooks(name: string, hooks: TestHooks): Promise<void>;
  /**
   * Serves one connection of SpacetimeDB's wire protocol (the official SDK over `local()`) for
   * the existing database `name` on `port` (transferred; src/protocol/port.ts speaks on it).
   * Resolves with a Web Lock held by whatever serves the port: once it is released the port is
   * dead without a word (a worker that dies cannot say so), and the page closes the connection.
   */
  serveProtocol(name: string, port: MessagePort): Promise<{ lock: string }>;
  /**
   * Opens a call lane: the engine worker serves `LaneApi` on `port` (transferred), so a page's
   * calls reach it in one hop instead of two. Resolves with the Web Lock the engine worker holds
   * while alive (when it is released, the lane is dead without a word, and the page sends what was
   * in flight on it again through this API, with the same call ids), or with undefined when no
   * lane can be had now (no engine runs, the supervisor is finding a runaway, a follower tab).
   */
  callLane(port: MessagePort): Promise<{ lock: string } | undefined>;
}

/** Database methods of `WorkerApi` a leader serves for a follower as they are: name first, a value back. */
export const FORWARDED_METHODS = [
  'open',
  'publish',
  'attach',
  'call',
  'callMany',
  'query',
  'logs',
  'describe',
  'fetchRoute',
  'syncStatus',
  'exportDatabase',
  'importDatabase',
  'deleteDatabase',
  'setTestHooks',
] as const satisfies readonly (keyof WorkerApi)[];

/** One of `FORWARDED_METHODS`. */
export type ForwardedMethod = (typeof FORWARDED_METHODS)[number];

/** The arguments of a `WorkerApi` method, as declared there. */
export type ArgsOf<M extends keyof WorkerApi> = Parameters<WorkerApi[M]>;

/** What a `WorkerApi` method resolves with, as declared there. */
export type AnswerOf<M extends keyof WorkerApi> = Awaited<ReturnType<WorkerApi[M]>>;

/** Sends one forwarded request wherever it is served. */
export type Send = <M extends ForwardedMethod>(method: M, args: ArgsOf<M>) => Promise<AnswerOf<M>>;

/**
 * The forwarded methods, each one `send(method, args)`: derived from `WorkerApi`, so a new
 * method is one entry in `FORWARDED_METHODS` and its types come along.
 */
export function forwarders(send: Send): Pick<WorkerApi, ForwardedMethod> {
  const out: Partial<Record<ForwardedMethod, (...args: unknown[]) => Promise<unknown>>> = {};
  // Each entry passes its arguments through untouched: their types are the method's own.
  for (const method of FORWARDED_METHODS) out[method] = (...args: unknown[]) => send(method, args as unknown as ArgsOf<typeof method>);
  return out as unknown as Pick<WorkerApi, ForwardedMethod>;
}
