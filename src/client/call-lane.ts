// A page's call lane: its calls go straight to the engine worker on a port of their own, one hop,
// instead of through the worker that supervises the engine (the SharedWorker, or the leader's
// dedicated worker), two hops each way. The supervisor still watches the engine while lane calls
// run (the engine tells it; see worker/engine-supervisor.ts). What the page keeps:
// - Every call on a lane has a call id. When the engine worker ends (its Web Lock is released:
//   terminated as stuck, crashed, its tab closed) the lane is dead without a word; what was in
//   flight on it is sent again through the supervisor with the same ids, so each commits once,
//   and the supervisor's rules apply (a runaway is named, the others settle normally).
// - Order: a page's calls start in the order it made them. Calls go through the supervisor while
//   no lane is open, and a lane is used only once none of them is still in flight.
// - A new lane is asked for when a call is made at least LANE_RETRY_MS after the last refusal.
// - A tab that closes mid-call loses nothing: when the engine worker behind its lane is one this
//   tab started (and so goes with it), at `pagehide` the page hands what is in flight on the lane
//   to the supervisor too (see `handOver`), which runs it on the next engine, and sends later calls
//   (an app's own `pagehide` handler) through the supervisor as well. A tab that crashes cannot;
//   what it had in flight then is lost with it, as a message a crashing client sends a server may be.
// - Only calls keep their order among themselves: a call not awaited after another request (an
//   SQL write, a publish) may reach the engine before it, one hop against two.
import * as Comlink from 'comlink';
import type { CallSender } from './call-batcher.ts';
import type { LaneApi, WireCall, WireSettled } from './protocol.ts';
import { deserializeError } from './wire.ts';

/** How long after a refused or failed lane request the next one may be made. */
export const LANE_RETRY_MS = 1_000;
/** How long a lane request may go unanswered before it counts as refused (its engine may have ended meanwhile). */
export const LANE_OPEN_TIMEOUT_MS = 5_000;

/** How the lane sender reaches the supervisor and learns of an engine's end. */
export interface LaneSenderOptions {
  /** The supervisor's calls: the way when no lane is open, and for what a dead lane held. */
  via: CallSender;
  /** Asks for a lane on `port` (transferred); resolves with the engine's lock, or undefined. */
  open: (port: MessagePort) => Promise<{ lock: string } | undefined>;
  /** Resolves once the Web Lock `lock` is released (the engine worker ended). */
  released: (lock: string, signal: AbortSignal) => Promise<void>;
  /** Whether the engine worker holding `lock` was started by this page (it ends with the page). */
  hostedHere?: (lock: string) => boolean;
  now?: () => number;
}

interface Batch {
  readonly name: string;
  readonly calls: WireCall[];
  done: boolean;
  resolve(results: WireSettled[]): void;
  reject(error: unknown): void;
}

interface Lane {
  readonly api: Comlink.Remote<LaneApi>;
  /** The engine worker's Web Lock. */
  readonly lock: string;
  readonly port: MessagePort;
  readonly inflight: Set<Batch>;
}

/** A `CallSender` that uses a call lane when it can (see the file header). */
export class LaneSender implements CallSender {
  readonly #opts: LaneSenderOptions;
  readonly #now: () => number;
  readonly #stop = new AbortController();
  #lane: Lane | undefined;
  #opening = false;
  #nextTry = 0;
  /** Calls in flight through the supervisor: while any is, new calls follow them there. */
  #viaPending = 0;
  #closed = false;
  /** Set by `handOver` (the page is going away with its engine): no call takes the lane until `stay`. */
  #leaving = false;

  constructor(opts: LaneSenderOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? (() => Date.now());
    this.#tryOpen();
  }

  /** Whether a lane is open now (for tests and diagnostics). */
  get open(): boolean {
    return this.#lane !== undefined;
  }

  call(name: string, fn: string, args: unknown, opts: WireCall['opts']): Promise<unknown> {
    const lane = this.#usable(opts.callId);
    if (!lane) return this.#via(this.#opts.via.call(name, fn, args, opts));
    return this.#onLane(lane, name, [{ fn, args, opts }]).then(([settled]) => {
      if (settled!.ok) return settled!.value;
      throw deserializeError(settled!.error);
    });
  }

  callMany(name: string, calls: WireCall[]): Promise<WireSettled[]> {
    const lane = calls.every((c) => c.opts.callId !== undefined) ? this.#usable(calls[0]?.opts.callId) : undefined;
    if (!lane) return this.#via(this.#opts.via.callMany(name, calls));
    return this.#onLane(lane, name, calls);
  }

  /**
   * The page is going away (`pagehide`): what is in flight on the lane goes to the supervisor as
   * well. When the engine worker goes with this page (a page starts the SharedWorker's engine),
   * the supervisor runs those calls on the next engine, as it would had they come through it; a
   * copy whose call committed meanwhile is answered by its id. Nothing waits for the answers.
   */
  handOver(): void {
    const lane = this.#lane;
    if (!lane || !this.#opts.hostedHere?.(lane.lock)) return; // an engine elsewhere outlives this page and runs them
    this.#leaving = true;
    for (const batch of lane.inflight) if (!batch.done) this.#opts.via.callMany(batch.name, batch.calls).catch(() => {});
  }

  /** The page stayed after all (`pageshow` from the back-forward cache): calls take the lane again. */
  stay(): void {
    this.#leaving = false;
  }

  /** Stops using lanes (the connection closed). */
  close(): void {
    this.#closed = true;
    this.#stop.abort();
    const lane = this.#lane;
    this.#lane = undefined;
    if (lane) this.#drop(lane);
  }

  /** The open lane, if this call may take it; else asks for one when it is time. */
  #usable(callId: string | undefined): Lane | undefined {
    if (callId === undefined || this.#closed || this.#leaving) return undefined;
    const lane = this.#lane;
    if (!lane) {
      this.#tryOpen();
      return undefined;
    }
    return this.#viaPending === 0 ? lane : undefined;
  }

  #via<T>(p: Promise<T>): Promise<T> {
    this.#viaPending++;
    return p.finally(() => this.#viaPending--);
  }

  #onLane(lane: Lane, name: string, calls: WireCall[]): Promise<WireSettled[]> {
    return new Promise<WireSettled[]>((resolve, reject) => {
      const batch: Batch = { name, calls, done: false, resolve, reject };
      lane.inflight.add(batch);
      lane.api.callMany(name, calls).then(
        (results) => this.#settle(lane, batch, () => resolve(results)),
        (error: unknown) => this.#settle(lane, batch, () => reject(error)),
      );
    });
  }

  #settle(lane: Lane, batch: Batch, f: () => void): void {
    lane.inflight.delete(batch);
    if (batch.done) return; // sent again through the supervisor after the lane died; that answer counts
    batch.done = true;
    f();
  }

  #tryOpen(): void {
    if (this.#opening || this.#closed || this.#now() < this.#nextTry) return;
    this.#opening = true;
    const channel = new MessageChannel();
    let settled = false;
    // The first of: the answer, a failure, or no answer in time (the request reached an engine that
    // then ended). A grant that comes too late finds its port closed: the engine serves no one.
    const settle = (granted: { lock: string } | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.#opening = false;
      if (!granted || this.#closed) {
        channel.port1.close();
        this.#nextTry = this.#now() + LANE_RETRY_MS;
        return;
      }
      const lane: Lane = { api: Comlink.wrap<LaneApi>(channel.port1), lock: granted.lock, port: channel.port1, inflight: new Set() };
      this.#lane = lane;
      void this.#opts.released(granted.lock, this.#stop.signal).then(() => this.#died(lane));
    };
    const timer = setTimeout(() => settle(undefined), LANE_OPEN_TIMEOUT_MS);
    this.#opts.open(Comlink.transfer(channel.port2, [channel.port2])).then(settle, () => settle(undefined));
  }

  /** The engine behind `lane` ended: what it held goes again through the supervisor, in order. */
  #died(lane: Lane): void {
    if (this.#lane === lane) this.#lane = undefined;
    const held = [...lane.inflight];
    this.#drop(lane);
    for (const batch of held) {
      if (batch.done) continue;
      batch.done = true;
      this.#via(this.#opts.via.callMany(batch.name, batch.calls)).then(batch.resolve, batch.reject);
    }
  }

  #drop(lane: Lane): void {
    lane.inflight.clear();
    lane.api[Comlink.releaseProxy]();
    lane.port.close();
  }
}
