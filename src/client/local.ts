// `local()`: a `withWSFn` factory that connects SpacetimeDB's official SDK (`DbConnection`, the
// React hooks) to a database in this origin's Lightcone worker instead of a SpacetimeDB server:
//
//   DbConnection.builder().withUri('lightcone://local').withDatabaseName('chat').withWSFn(local({ module: chat }))
//
// Each SDK connection gets a MessagePort of its own, served by the engine's ProtocolServer
// (src/protocol/port.ts on both ends). The worker connection underneath is `connect()`'s, made
// once per database name and shared by every SDK connection the factory makes (the React
// provider rebuilds connections, so the factory runs many times).
//
// When whatever serves the port goes away (the engine worker restarts, the SharedWorker dies,
// the leader tab changes) the SDK connection closes, so the SDK's connection manager reconnects
// to what serves the database next.
import type { DbConnectionBuilder } from 'spacetimedb';
import { ClosedError } from '../errors.ts';
import { portSocket } from '../protocol/port.ts';
import { connect, protocolPortsOf, type BrowserDatabase, type ConnectOptions, type LightconeModule } from './connect.ts';
import { whenReleased } from './locks.ts';

type WebSocketFactory = Parameters<DbConnectionBuilder<never>['withWSFn']>[0];
type WebSocketArgs = Parameters<WebSocketFactory>[0];
type WebSocketAdapter = Awaited<ReturnType<WebSocketFactory>>;

/** Options of `local`. */
export interface LocalOptions {
  /**
   * The module (`import chat from './chat/index.ts?lightcone'`): published on first use as
   * `connect()` does (when the database is new or runs another version). Without it the database
   * must exist already.
   */
  module?: LightconeModule;
  /** Which worker holds the engine (see `ConnectOptions.transport`). */
  transport?: ConnectOptions['transport'];
  /** Execution limits of the worker connection (see `ConnectOptions.limits`). */
  limits?: ConnectOptions['limits'];
}

/**
 * A `withWSFn` factory connecting the SDK to the origin's Lightcone worker. The database is the
 * builder's `withDatabaseName`; `withUri` is not used (write `'lightcone://local'`).
 *
 * @example
 * ```ts
 * import { local } from 'lightcone';
 * import chat from './chat/index.ts?lightcone';
 * import { DbConnection } from './module_bindings';
 *
 * const conn = DbConnection.builder().withUri('lightcone://local').withDatabaseName('chat').withWSFn(local({ module: chat })).build();
 * ```
 */
export function local(opts: LocalOptions = {}): WebSocketFactory {
  const databases = new Map<string, Promise<BrowserDatabase>>();
  const database = async (name: string): Promise<BrowserDatabase> => {
    const known = databases.get(name);
    // A worker connection that ended (its worker died) is made again; its SDK connections have closed.
    if (known) {
      const db = await known.catch(() => undefined); // a failed connect is made again too (its error went to its caller)
      if (db && !protocolPortsOf(db).isClosed) return db;
      if (databases.get(name) === known) databases.delete(name);
    }
    let made = databases.get(name);
    if (!made) {
      made = connect({
        name,
        ...(opts.module !== undefined ? { module: opts.module } : {}),
        ...(opts.transport !== undefined ? { transport: opts.transport } : {}),
        ...(opts.limits !== undefined ? { limits: opts.limits } : {}),
      });
      databases.set(name, made);
      // A failed connect is not kept: the SDK's next attempt tries again.
      made.catch(() => databases.get(name) === made && databases.delete(name));
    }
    return made;
  };

  return async (args: WebSocketArgs): Promise<WebSocketAdapter> => {
    const db = await database(args.nameOrAddress);
    const ports = protocolPortsOf(db);
    const channel = new MessageChannel();
    // Made first: it posts its `connect` message, which waits in the port until the server reads it.
    const socket = new LocalSocket(portSocket(channel.port1, args));
    try {
      const { lock } = await ports.serve(channel.port2);
      const watching = new AbortController();
      socket.onEnd(() => watching.abort());
      void whenReleased(lock, watching.signal).then(() => socket.lost('the Lightcone engine serving this connection stopped (it restarts): reconnect'));
      void ports.closed.then(() => socket.lost('the connection to the Lightcone worker closed: reconnect'));
    } catch (error) {
      socket.close();
      throw error instanceof Error ? error : new ClosedError(String(error));
    }
    return socket;
  };
}

/**
 * The port adapter, plus the one event a port cannot deliver: its far end died. `lost` closes
 * the connection as a dropped socket does (1006 with a reason), so the SDK reports a disconnect
 * and its connection manager reconnects.
 */
class LocalSocket implements WebSocketAdapter {
  readonly #inner: WebSocketAdapter;
  #lost: string | undefined;
  readonly #ended: (() => void)[] = [];

  constructor(inner: WebSocketAdapter) {
    this.#inner = inner;
  }

  get protocol(): string {
    return this.#inner.protocol;
  }
  get readyState(): number {
    return this.#inner.readyState ?? 3;
  }
  send(msg: Uint8Array<ArrayBuffer>): void {
    this.#inner.send(msg);
  }
  close(): void {
    this.#inner.close();
  }
  set onopen(h: () => void) {
    this.#inner.onopen = h;
  }
  set onmessage(h: (m: { data: Uint8Array }) => void) {
    this.#inner.onmessage = h;
  }
  set onerror(h: (ev: ErrorEvent) => void) {
    this.#inner.onerror = h;
  }
  set onclose(h: (ev: CloseEvent) => void) {
    this.#inner.onclose = (ev: CloseEvent) => {
      for (const f of this.#ended.splice(0)) f();
      h(this.#lost !== undefined ? ({ code: 1006, reason: this.#lost, wasClean: false } as CloseEvent) : ev);
    };
  }

  onEnd(f: () => void): void {
    this.#ended.push(f);
  }

  lost(reason: string): void {
    if ((this.#inner.readyState ?? 3) >= 2) return;
    this.#lost = reason;
    this.#inner.close();
  }
}
