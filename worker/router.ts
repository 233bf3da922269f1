// The dedicated-worker fallback, for browsers without SharedWorker: every tab runs its own
// worker, the workers elect one leader with a Web Lock, and the others forward to it over a
// BroadcastChannel. The leader's tab closing releases the lock: the next worker in line becomes
// leader, recovers the databases from IndexedDB, and the followers resend what was in flight.
//
// The contract for a call in flight when the leader goes away (see also src/client/connect.ts):
// - every call carries an idempotency id (the client makes one unless the caller gave one);
// - a follower resends its pending calls, with the same ids, to the next leader; the engine
//   stores each id with its call's commit, so a call that had committed is answered without
//   running again, and one that had not runs now: each call commits at most once;
// - if no leader answers within LEADER_TIMEOUT_MS, the call rejects with ClosedError whose
//   details say `retryable: true` and give the `callId`: retrying with that id never applies twice.
// Subscriptions are made again on the new leader: `onApplied` fires again with a fresh snapshot.
//
// SDK connections (`local()`, SpacetimeDB's wire protocol, one MessagePort each): the leader hands
// its own tabs' ports to the engine. A follower cannot transfer a port over a BroadcastChannel, so
// it relays the port's messages to the leader, which serves them on a channel of its own. A leader
// change closes a follower's relayed connections (the SDK reconnects, reaching the new leader).
import { ClosedError, UsageError } from '../src/errors.ts';
import type { ClientHello, SubscriptionSink, WireCallOptions, WireSubscribeOptions, WorkerApi, WorkerHello } from '../src/client/protocol.ts';
import { FORWARDED_METHODS, forwarders, PROTOCOL_VERSION, type AnswerOf, type ForwardedMethod } from '../src/client/protocol.ts';
import { whenReleased } from '../src/client/locks.ts';
import { deserializeError, serializeError, toSerialized } from '../src/client/wire.ts';
import { EngineSupervisor, type EngineLink } from './engine-supervisor.ts';

/**
 * Channel and lock names carry the protocol version: workers of different versions never talk
 * (an older leader would not know what a newer follower forwards). Tabs of two versions each
 * elect their own leader, and the second to open a database is refused by its origin-wide lock.
 */
export const CHANNEL = `lightcone:rpc:v${PROTOCOL_VERSION}`;
export const LEADER_LOCK = `lightcone:leader:v${PROTOCOL_VERSION}`;
/** How long a follower's request may wait while no leader is known. */
export const LEADER_TIMEOUT_MS = 10_000;

/** Methods a follower forwards (subscribe and unsubscribe take follower-side shapes, see below). */
type Method = ForwardedMethod | 'subscribe' | 'unsubscribe';
const KNOWN: ReadonlySet<string> = new Set<Method>([...FORWARDED_METHODS, 'subscribe', 'unsubscribe']);

type Message =
  | { t: 'who'; from: string }
  | { t: 'leader'; id: string }
  | { t: 'req'; from: string; id: number; method: Method; args: unknown[] }
  | { t: 'res'; to: string; id: number; ok: true; value: unknown }
  | { t: 'res'; to: string; id: number; ok: false; error: ReturnType<typeof serializeError> }
  | { t: 'ev'; to: string; subscriptionId: string; kind: 'applied' | 'update' | 'error'; payload: unknown }
  // A follower's relayed SDK connection `conn`: opened, a message of its port up, one down.
  | { t: 'pconn'; from: string; conn: string; name: string }
  | { t: 'pup'; from: string; conn: string; m: unknown }
  | { t: 'pdown'; to: string; conn: string; m: unknown };

interface Pending {
  method: Method;
  args: unknown[];
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  since: number;
}

interface ForwardedSub {
  clientId: string;
  name: string;
  queries: string[];
  opts: WireSubscribeOptions;
  sink: SubscriptionSink;
}

/** Options of the router (the dedicated worker's exposed object). */
export interface RouterOptions {
  workerId: string;
  lock: string;
  lockHeld: Promise<unknown>;
  testHooks: boolean;
  /** Starts an engine worker, nested in this one (used once this worker leads). */
  spawnEngine: () => Promise<EngineLink>;
}

/** The WorkerApi of a dedicated worker: served locally while leader, forwarded while follower. */
// The forwarded methods are built from WorkerApi in the constructor (see `forwarders`).
// The constructor assigns every member this interface declares.
export interface Router extends Pick<WorkerApi, ForwardedMethod> {}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above
export class Router implements WorkerApi {
  readonly #id: string;
  /** The databases, in an engine worker this one supervises (see engine-supervisor.ts). */
  readonly #host: EngineSupervisor;
  readonly #channel = new BroadcastChannel(CHANNEL);
  #leader = false;
  #leaderId: string | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #subs = new Map<string, ForwardedSub>();
  readonly #followers = new Set<string>();
  readonly #elected: Promise<void>;
  readonly #lock: string;
  /** As follower: the page's port of each relayed SDK connection. */
  readonly #relayed = new Map<string, MessagePort>();
  /** As leader: the channel end serving each follower's SDK connection (key: follower + conn). */
  readonly #served = new Map<string, MessagePort>();

  constructor(opts: RouterOptions) {
    Object.assign(
      this,
      forwarders((method, args) => this.#route(method, args) as Promise<AnswerOf<typeof method>>),
    );
    this.#id = opts.workerId;
    this.#lock = opts.lock;
    this.#host = new EngineSupervisor({ mode: 'leader', lock: opts.lock, lockHeld: opts.lockHeld, testHooks: opts.testHooks, spawn: opts.spawnEngine });
    this.#channel.onmessage = (event: MessageEvent<Message>) => this.#onMessage(event.data);
    // Try at once (so the first tab knows it leads before it answers `hello`), else queue up.
    let decided!: () => void;
    this.#elected = new Promise<void>((resolve) => (decided = resolve));
    const lead = () => {
      this.#promote();
      return new Promise<never>(() => {}); // held for this worker's lifetime
    };
    void navigator.locks.request(LEADER_LOCK, { ifAvailable: true }, (lock) => {
      decided();
      if (lock) return lead();
      void navigator.locks.request(LEADER_LOCK, lead);
      return undefined;
    });
    this.#post({ t: 'who', from: this.#id });
    setInterval(() => this.#expire(), 1000);
  }

  async hello(hello: ClientHello): Promise<WorkerHello> {
    await this.#elected;
    const answer = await this.#host.hello(hello);
    return { ...answer, mode: this.#leader ? 'leader' : 'follower' };
  }

  async subscribe(clientId: string, subscriptionId: string, name: string, queries: string[], opts: WireSubscribeOptions, sink: SubscriptionSink): Promise<void> {
    if (this.#leader) return this.#host.subscribe(clientId, subscriptionId, name, queries, opts, sink);
    this.#subs.set(subscriptionId, { clientId, name, queries, opts, sink });
    try {
      await this.#forward('subscribe', [subscriptionId, name, queries, opts]);
    } catch (error) {
      this.#subs.delete(subscriptionId);
      throw error;
    }
  }

  async unsubscribe(clientId: string, subscriptionId: string): Promise<void> {
    if (this.#leader) return this.#host.unsubscribe(clientId, subscriptionId);
    if (!this.#subs.delete(subscriptionId)) return;
    await this.#forward('unsubscribe', [subscriptionId]);
  }

  /** As leader, straight to the engine; as follower, relayed to the leader (see the file header). */
  async serveProtocol(name: string, port: MessagePort): Promise<{ lock: string }> {
    await this.#elected;
    if (this.#leader) return this.#host.serveProtocol(name, port);
    const conn = crypto.randomUUID();
    this.#relayed.set(conn, port);
    port.onmessage = (e: MessageEvent) => {
      this.#post({ t: 'pup', from: this.#id, conn, m: e.data });
      if ((e.data as { type?: string } | null)?.type === 'close') this.#unrelay(conn);
    };
    this.#post({ t: 'pconn', from: this.#id, conn, name });
    // The leader closes the connection when its engine stops; this worker when the leader changes.
    return { lock: this.#lock };
  }

  /** As leader, a lane to the engine this worker supervises; a follower has none (its calls go through the leader). */
  async callLane(port: MessagePort): Promise<{ lock: string } | undefined> {
    await this.#elected;
    if (this.#leader) return this.#host.callLane(port);
    port.close();
    return undefined;
  }

  #unrelay(conn: string): void {
    const port = this.#relayed.get(conn);
    this.#relayed.delete(conn);
    if (port) {
      port.onmessage = null;
      port.close();
    }
  }

  /** The leader changed: relayed SDK connections end, so that the SDK reconnects to the new one. */
  #closeRelayed(): void {
    for (const [conn, port] of this.#relayed) {
      port.postMessage({ type: 'close', code: 1001, reason: 'the Lightcone leader tab changed: reconnect' });
      this.#unrelay(conn);
    }
  }

  /** As leader: serves a follower's SDK connection on a channel of this worker, relaying both ways. */
  #serveRelayed(from: string, conn: string, name: string): void {
    const key = `${from}\u0000${conn}`;
    const channel = new MessageChannel();
    this.#served.set(key, channel.port1);
    const down = (m: unknown) => {
      this.#post({ t: 'pdown', to: from, conn, m });
      const type = (m as { type?: string } | null)?.type;
      if (type === 'close' || type === 'error') this.#unserve(key);
    };
    channel.port1.onmessage = (e: MessageEvent) => down(e.data);
    this.#watchFollower(from);
    this.#host.serveProtocol(name, channel.port2).then(
      // The engine died: its end of the channel is gone without a word, so say it here.
      ({ lock }) => void whenReleased(lock).then(() => this.#served.has(key) && down({ type: 'close', code: 1006, reason: 'the Lightcone engine restarted: reconnect' })),
      (error: unknown) => {
        const e = error as { name?: string; code?: string; message?: string };
        down({ type: 'error', name: e.name ?? 'Error', code: e.code ?? 'CONNECT_FAILED', message: e.message ?? String(error) });
      },
    );
  }

  #unserve(key: string): void {
    const port = this.#served.get(key);
    this.#served.delete(key);
    if (port) {
      port.onmessage = null;
      port.close();
    }
  }

  // ── routing ───────────────────────────────────────────────────────────────

  #route(method: Method, args: unknown[]): Promise<unknown> {
    return this.#leader ? this.#serve(this.#id, method, args) : this.#forward(method, args);
  }

  /**
   * Runs a request on this worker's host (as leader). `from` is the requesting worker. Always
   * settles: whatever a request holds, the requester gets an answer instead of waiting forever.
   */
  #serve(from: string, method: Method, args: unknown[]): Promise<unknown> {
    if (!KNOWN.has(method) || !Array.isArray(args)) {
      return Promise.reject(
        new UsageError('UNKNOWN_METHOD', `the Lightcone leader tab does not know the request ${JSON.stringify(method)}: the tabs of this site run different versions of the app; reload them`, {
          method: String(method),
        }),
      );
    }
    try {
      return this.#dispatch(from, method, args);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #dispatch(from: string, method: Method, args: unknown[]): Promise<unknown> {
    const serve = this.#host[method as ForwardedMethod] as (...a: unknown[]) => Promise<unknown>;
    if (method === 'subscribe') {
      const [subscriptionId, name, queries, opts] = args as [string, string, string[], WireSubscribeOptions];
      const sink: SubscriptionSink = {
        applied: (payload) => this.#post({ t: 'ev', to: from, subscriptionId, kind: 'applied', payload }),
        update: (payload) => this.#post({ t: 'ev', to: from, subscriptionId, kind: 'update', payload }),
        error: (payload) => this.#post({ t: 'ev', to: from, subscriptionId, kind: 'error', payload }),
      };
      return this.#host.subscribe(from, subscriptionId, name, queries, opts, sink);
    }
    if (method === 'unsubscribe') return this.#host.unsubscribe(from, args[0] as string);
    return serve.apply(this.#host, args);
  }

  #forward(method: Method, args: unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { method, args, resolve, reject, since: Date.now() });
      // Without a known leader the request waits; it goes out when one announces itself.
      if (this.#leaderId !== undefined) this.#post({ t: 'req', from: this.#id, id, method, args });
    });
  }

  #onMessage(msg: Message): void {
    switch (msg.t) {
      case 'who':
        if (this.#leader) this.#post({ t: 'leader', id: this.#id });
        return;
      case 'leader':
        if (this.#leader || msg.id === this.#leaderId) return;
        // A new leader does not know the relayed connections, and the first one never heard of
        // those opened before it was known: either way they end, and the SDK reconnects to it.
        this.#closeRelayed();
        this.#leaderId = msg.id;
        this.#resend();
        return;
      case 'req':
        if (!this.#leader) return;
        this.#watchFollower(msg.from);
        this.#serve(msg.from, msg.method, msg.args).then(
          (value) => this.#post({ t: 'res', to: msg.from, id: msg.id, ok: true, value }),
          (error: unknown) => this.#post({ t: 'res', to: msg.from, id: msg.id, ok: false, error: serializeError(error) }),
        );
        return;
      case 'res': {
        if (msg.to !== this.#id) return;
        const p = this.#pending.get(msg.id);
        if (!p) return;
        this.#pending.delete(msg.id);
        if (msg.ok) p.resolve(msg.value);
        else p.reject(deserializeError(msg.error));
        return;
      }
      case 'pconn':
        if (this.#leader) this.#serveRelayed(msg.from, msg.conn, msg.name);
        return;
      case 'pup':
        if (!this.#leader) return;
        this.#served.get(`${msg.from}\u0000${msg.conn}`)?.postMessage(msg.m);
        if ((msg.m as { type?: string } | null)?.type === 'close') this.#unserve(`${msg.from}\u0000${msg.conn}`);
        return;
      case 'pdown': {
        if (msg.to !== this.#id) return;
        const port = this.#relayed.get(msg.conn);
        port?.postMessage(msg.m);
        const type = (msg.m as { type?: string } | null)?.type;
        if (type === 'close' || type === 'error') this.#unrelay(msg.conn);
        return;
      }
      case 'ev': {
        if (msg.to !== this.#id) return;
        const sub = this.#subs.get(msg.subscriptionId);
        if (!sub) return;
        const sink = sub.sink as unknown as Record<string, (payload: unknown) => unknown>;
        void Promise.resolve(sink[msg.kind]!(msg.payload)).catch(() => {}); // its page is gone: no one left to tell
        return;
      }
    }
  }

  /** A new leader: everything in flight goes to it again (same call ids), subscriptions too. */
  #resend(): void {
    const subscribing = new Set<unknown>();
    for (const [id, p] of this.#pending) {
      this.#post({ t: 'req', from: this.#id, id, method: p.method, args: p.args });
      if (p.method === 'subscribe') subscribing.add(p.args[0]);
    }
    for (const [subscriptionId, sub] of this.#subs) {
      if (subscribing.has(subscriptionId)) continue; // its own request was just resent
      this.#forward('subscribe', [subscriptionId, sub.name, sub.queries, sub.opts]).catch((error: unknown) => void sub.sink.error(toSerialized(error)));
    }
  }

  /** This worker won the election: serve, and run locally what it had forwarded. */
  #promote(): void {
    this.#closeRelayed();
    this.#leader = true;
    this.#leaderId = undefined;
    this.#post({ t: 'leader', id: this.#id });
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    const subs = [...this.#subs];
    this.#subs.clear();
    const made = new Map<unknown, Promise<void>>();
    for (const [subscriptionId, sub] of subs) made.set(subscriptionId, this.#host.subscribe(sub.clientId, subscriptionId, sub.name, sub.queries, sub.opts, sub.sink));
    for (const p of pending) {
      if (p.method === 'subscribe') (made.get(p.args[0]) ?? Promise.resolve()).then(p.resolve, p.reject);
      else if (p.method === 'unsubscribe') p.resolve(undefined);
      else this.#serve(this.#id, p.method, p.args).then(p.resolve, p.reject);
    }
    const asked = new Set(pending.filter((p) => p.method === 'subscribe').map((p) => p.args[0]));
    for (const [subscriptionId, sub] of subs) {
      if (asked.has(subscriptionId)) continue; // its caller hears of a failure
      made.get(subscriptionId)?.catch((error: unknown) => void sub.sink.error(toSerialized(error)));
    }
  }

  /** The leader ends a follower's subscriptions when its worker goes away. */
  #watchFollower(id: string): void {
    if (this.#followers.has(id)) return;
    this.#followers.add(id);
    void whenReleased(`lightcone:worker:${id}`).then(() => {
      this.#followers.delete(id);
      this.#host.dropClient(id);
      for (const key of [...this.#served.keys()]) {
        if (!key.startsWith(`${id}\u0000`)) continue;
        this.#served.get(key)?.postMessage({ type: 'close' }); // the server ends the connection
        this.#unserve(key);
      }
    });
  }

  /** Rejects requests that waited too long with no leader at all. */
  #expire(): void {
    if (this.#leader || this.#leaderId !== undefined) return;
    const now = Date.now();
    for (const [id, p] of this.#pending) {
      if (now - p.since < LEADER_TIMEOUT_MS) continue;
      this.#pending.delete(id);
      const opts = p.method === 'call' ? (p.args[3] as WireCallOptions | undefined) : undefined;
      p.reject(
        new ClosedError(`no Lightcone leader tab answered within ${LEADER_TIMEOUT_MS / 1000} s: retry the call (with the same callId it never applies twice)`, {
          retryable: true,
          ...(opts?.callId !== undefined ? { callId: opts.callId } : {}),
        }),
      );
    }
  }

  #post(msg: Message): void {
    this.#channel.postMessage(msg);
  }
}
