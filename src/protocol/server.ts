// The server side of SpacetimeDB's client protocol (v2 and v3, BSATN) for one database, over any
// transport: a transport hands in an `OpenRequest` and a `Link`, then the client's frames; the
// server answers through the link. Platform-neutral: the browser worker serves it over a
// MessagePort per connection, a Node server over WebSockets.
//
// How commits reach connections: the server listens to the engine's commits on both sides of its
// own live-query manager, whose subscribers deliver inline. The first listener opens the commit
// (and attributes it to the reducer call running, if a connection made one), the manager then
// hands each query set its update, and the last listener closes the commit: the caller gets its
// `ReducerResult` with its updates inside, every other affected connection a `TransactionUpdate`.
import type { ConnectionId, Identity } from 'spacetimedb';
import { randomIdentity, type Engine } from '../engine/engine.ts';
import { ClosedError, UsageError } from '../errors.ts';
import { SubscriptionManager } from '../subscriptions/manager.ts';
import { CLOSE_CODE, ProtocolConnection, randomConnectionId, type CommitInfo, type Hub, type Link, type PendingCall } from './connection.ts';
import { COMPRESSION_TAG, negotiateProtocol, V2_PROTOCOL, V3_PROTOCOL } from './messages.ts';
import { RowEncoder } from './rows.ts';
import { TokenIssuer, type KeyStorage } from './tokens.ts';

export { CLOSE_CODE, ProtocolConnection, type Link };

/** What a transport knows about a connection the client asks for. */
export interface OpenRequest {
  /** The subprotocols the client offers (the SDK: `['v3.bsatn.spacetimedb', 'v2.bsatn.spacetimedb']`). */
  protocols: readonly string[];
  /** A token this database issued earlier (the SDK's `withToken`); none = a new identity and token. */
  token?: string | undefined;
  /**
   * An identity the transport has already established (a server that verifies or mints tokens of
   * its own, for every database it serves): `token` is then passed to the client as it is, and
   * not checked against this database's key.
   */
  identity?: Identity | undefined;
  /**
   * The JWT the module sees as `ctx.senderAuth` (default: `token`). A transport that keeps
   * credentials out of the engine's thread passes the token without its signature here, and a
   * stand-in as `token` that it replaces in `InitialConnection` on the way out.
   */
  authJwt?: string | undefined;
  /** Hold messages that carry a transaction until it is durable. Default true, as SpacetimeDB 2.x. */
  confirmedReads?: boolean | undefined;
  /**
   * A connection id the client proposes (SpacetimeDB's `connection_id` query parameter); used
   * when it is valid and not in use, else the server makes one up. The SDK adopts whichever
   * `InitialConnection` carries.
   */
  connectionId?: ConnectionId | undefined;
  /**
   * `tagged`: every server frame starts with the compression tag byte, as SpacetimeDB's own
   * WebSocket transport expects. `untagged`: bare payloads, as a `withWSFn` adapter delivers them.
   */
  framing: 'tagged' | 'untagged';
  /**
   * With tagged framing: the compression the client asked for and the transport's compressor for
   * it (payloads over 1 KiB are compressed, as SpacetimeDB does). Without one, frames go uncompressed.
   */
  compression?: { kind: 'gzip' | 'brotli'; compress: (payload: Uint8Array) => Uint8Array } | undefined;
}

export interface ProtocolServerOptions {
  engine: Engine;
  /**
   * The database's own storage (its Durability): keeps the key that signs identity tokens, so a
   * token given back after a restart still yields the same identity.
   */
  keys: KeyStorage;
  /**
   * Reducer and procedure calls one connection may have waiting (default 16,384, SpacetimeDB's
   * queue size); a connection that sends more is closed with 1013 rather than queue without bound.
   */
  maxPendingCalls?: number;
}

interface OpenCommit extends CommitInfo {
  /** The reducer call of a connection that made this commit. */
  readonly caller: PendingCall | undefined;
  readonly touched: Set<ProtocolConnection>;
}

/**
 * Serves the protocol for one database. Close it before the engine.
 *
 * @example
 * ```ts
 * const server = new ProtocolServer({ engine, keys: durability });
 * const conn = await server.open({ protocols: args.wsProtocol, token: args.authToken, framing: 'untagged' }, link);
 * port.onmessage = (e) => conn.receive(e.data);   // and conn.end() when the port closes
 * ```
 */
export class ProtocolServer {
  readonly #engine: Engine;
  readonly #keys: KeyStorage;
  readonly #live: SubscriptionManager;
  readonly #rows: RowEncoder;
  readonly #connections = new Set<ProtocolConnection>();
  readonly #detach: (() => void)[] = [];
  #issuer: Promise<TokenIssuer> | undefined;
  #lastDurable: Promise<void> = Promise.resolve();
  #commit: OpenCommit | undefined;
  /** The call the engine is running now, if a connection made it (see `#call`). */
  #running: PendingCall | undefined;
  #closed = false;
  readonly #hub: Hub;

  constructor(opts: ProtocolServerOptions) {
    this.#engine = opts.engine;
    this.#keys = opts.keys;
    // The manager's commit listener must run between these two (listeners run in order added).
    this.#detach.push(opts.engine.onCommit((_delta, info) => this.#beginCommit(info.durable, info.timestamp)));
    this.#live = new SubscriptionManager(opts.engine);
    this.#detach.push(opts.engine.onCommit(() => this.#endCommit()));
    this.#rows = new RowEncoder(() => this.#engine.host);
    this.#hub = {
      engine: this.#engine,
      live: this.#live,
      rows: this.#rows,
      lastDurable: () => this.#lastDurable,
      inCommit: () => this.#commit !== undefined,
      touch: (conn) => this.#commit?.touched.add(conn),
      call: (call, name, args) => this.#call(call, name, args),
      maxPendingCalls: opts.maxPendingCalls ?? 16_384,
      forget: (conn) => this.#connections.delete(conn),
    };
  }

  /** Open connections. */
  get connections(): number {
    return this.#connections.size;
  }

  /**
   * Accepts a connection: checks the subprotocol and the token, calls `link.open`, then runs
   * `clientConnected` and sends `InitialConnection` (or closes the link if the module refuses).
   * Rejects, without touching the link, with UsageError NO_PROTOCOL (no subprotocol both sides
   * speak: answer it as SpacetimeDB's 400) or INVALID_TOKEN (answer it as its 401), or ClosedError.
   */
  async open(request: OpenRequest, link: Link): Promise<ProtocolConnection> {
    const protocol = negotiateProtocol(request.protocols);
    if (!protocol) {
      throw new UsageError('NO_PROTOCOL', `no valid protocol selected: the client offers ${JSON.stringify(request.protocols)}, this server speaks ${V3_PROTOCOL} and ${V2_PROTOCOL}`, {
        offered: [...request.protocols],
      });
    }
    this.#checkOpen();
    let identity: Identity;
    let token: string;
    if (request.identity) {
      identity = request.identity;
      token = request.token ?? '';
    } else if (request.token) {
      identity = await (await this.#tokens()).verify(request.token);
      token = request.token;
    } else {
      identity = randomIdentity();
      token = await (await this.#tokens()).mint(identity);
    }
    this.#checkOpen();
    const proposed = request.connectionId;
    const taken = (id: ConnectionId) => [...this.#connections].some((c) => c.connectionId.isEqual(id));
    const connectionId = proposed && !proposed.isZero() && !taken(proposed) ? proposed : randomConnectionId();
    const compression = request.framing === 'tagged' ? request.compression : undefined;
    const conn = new ProtocolConnection(this.#hub, link, {
      protocol,
      identity,
      connectionId,
      token,
      authJwt: request.authJwt ?? token,
      confirmedReads: request.confirmedReads ?? true,
      tagged: request.framing === 'tagged',
      compress: compression ? { tag: COMPRESSION_TAG[compression.kind], compress: compression.compress } : undefined,
    });
    this.#connections.add(conn);
    link.open(protocol);
    void conn.start();
    return conn;
  }

  /**
   * Closes every connection (close code 1001, `reason`), runs their `clientDisconnected`, and
   * stops following the engine. Call before closing the engine. Idempotent.
   */
  async close(reason = 'the database is closing'): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [...this.#connections]) conn.close(CLOSE_CODE.goingAway, reason);
    // The disconnect hooks queued by those closes run before this turn.
    await this.#engine.exclusive(() => {}).catch(() => {}); // a closed engine runs no hooks: nothing to wait for
    for (const d of this.#detach) d();
    await this.#live.close();
  }

  #tokens(): Promise<TokenIssuer> {
    return (this.#issuer ??= TokenIssuer.open(this.#keys));
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`the protocol server of database ${this.#engine.name} is closed`);
  }

  /**
   * Runs a connection's call with the engine. The two turns around it (nothing runs between
   * queued turns) tell the commit listener which call a commit belongs to.
   */
  #call(call: PendingCall, name: string, args: unknown): Promise<unknown> {
    const e = this.#engine;
    // These turns cannot throw; a closed engine rejects `done` too, and the caller sees that.
    e.exclusive(() => {
      this.#running = call;
    }).catch(() => {});
    const done = e.call(name, args, { sender: call.conn.identity, connectionId: call.conn.connectionId, ...(call.callId !== undefined ? { callId: call.callId } : {}) });
    e.exclusive(() => {
      this.#running = undefined;
    }).catch(() => {});
    return done;
  }

  #beginCommit(durable: Promise<void>, timestamp: bigint): void {
    this.#lastDurable = durable;
    const running = this.#running;
    // A reducer commits once; a procedure's transactions go to everyone, its caller included.
    const caller = running && running.kind === 'reducer' && !running.committed && running.conn.active ? running : undefined;
    if (caller) caller.committed = true;
    this.#commit = { durable, timestamp, caller, touched: new Set() };
  }

  #endCommit(): void {
    const c = this.#commit;
    this.#commit = undefined;
    if (!c) return;
    for (const conn of c.touched) {
      if (conn === c.caller?.conn) continue;
      guarded(conn, () => conn.commitDone(c, undefined));
    }
    if (c.caller) {
      const conn = c.caller.conn;
      guarded(conn, () => conn.commitDone(c, c.caller!.requestId));
    }
    this.#rows.commitDone();
  }
}

/** Runs `f` for a connection inside a commit listener, where a throw would fail the committed call: a failure ends that connection only. */
function guarded(conn: ProtocolConnection, f: () => void): void {
  try {
    f();
  } catch (e) {
    conn.close(CLOSE_CODE.error, `internal error delivering a transaction: ${e instanceof Error ? e.message : String(e)}`);
  }
}
