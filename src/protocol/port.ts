// The protocol over a MessagePort, one port per connection: `servePort` is the database's side
// (the browser worker, or any realm holding the engine), `portSocket` the SDK's side, an adapter
// for `DbConnectionBuilder.withWSFn`. Frames cross untagged and uncompressed, as `withWSFn`
// adapters deliver them. The port carries small messages of its own:
//   client → server  {type:'connect', version, protocols, token?, confirmed?, connectionId?}, {type:'frame', data}, {type:'close'}
//   server → client  {type:'open', protocol}, {type:'frame', data}, {type:'close', code, reason}, {type:'error', name, code, message}
import type { DbConnectionBuilder } from 'spacetimedb';
import { ConnectionId, Identity } from 'spacetimedb';
import type { OpenRequest, ProtocolConnection, ProtocolServer } from './server.ts';

/** Version of the port's own messages (the `connect` message carries it). */
export const PORT_PROTOCOL_VERSION = 1;

/** What `withWSFn` takes. */
export type WebSocketFactory = Parameters<DbConnectionBuilder<never>['withWSFn']>[0];
type WebSocketArgs = Parameters<WebSocketFactory>[0];
type WebSocketAdapter = Awaited<ReturnType<WebSocketFactory>>;

/**
 * A transport the server trusts (a Node server relaying a WebSocket to a database's thread) adds
 * the identity it established and asks for SpacetimeDB's tagged, optionally compressed frames.
 */
export interface TrustedConnect {
  /** Hex of the identity the transport verified (or minted) for `token`. */
  identity: string;
  /** The caller's token without its signature: what `ctx.senderAuth` shows (the token itself stays outside). */
  claims: string;
  compression: 'gzip' | 'brotli' | 'none';
}

type ClientToServer =
  | { type: 'connect'; version: number; protocols: string[]; token?: string; confirmed?: boolean; connectionId?: string; trusted?: TrustedConnect }
  | { type: 'frame'; data: Uint8Array }
  | { type: 'close' };

/** How `servePort` treats what a port's `connect` asks for. */
export interface ServePortOptions {
  /**
   * Accept `trusted` in `connect` (identity and tagged framing): only for ports that come from
   * this process's own transport, never from a page. Compressors by kind for tagged framing.
   */
  trusted?: { compress: Partial<Record<'gzip' | 'brotli', (payload: Uint8Array) => Uint8Array>> };
}
type ServerToClient =
  | { type: 'open'; protocol: string }
  | { type: 'frame'; data: Uint8Array }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; name: string; code: string; message: string };

/**
 * Serves one connection on `port` (the server's end of a fresh MessageChannel): waits for the
 * client's `connect`, opens the connection, then relays frames both ways until either side closes.
 */
export function servePort(server: ProtocolServer, port: MessagePort, options: ServePortOptions = {}): void {
  let conn: ProtocolConnection | undefined;
  let ended = false;
  const early: Uint8Array[] = [];
  const post = (m: ServerToClient, transfer: Transferable[] = []) => port.postMessage(m, transfer);
  const finish = () => {
    ended = true;
    port.onmessage = null;
    port.close();
  };
  port.onmessage = (e: MessageEvent<ClientToServer>) => {
    const m = e.data;
    if (ended || !m || typeof m !== 'object') return;
    if (m.type === 'frame') {
      if (!(m.data instanceof Uint8Array)) return;
      if (conn) conn.receive(m.data);
      else early.push(m.data);
    } else if (m.type === 'close') {
      finish();
      conn?.end();
    } else if (m.type === 'connect' && !conn) {
      if (m.version !== PORT_PROTOCOL_VERSION) {
        post({
          type: 'error',
          name: 'UsageError',
          code: 'PORT_PROTOCOL_MISMATCH',
          message: `this page speaks Lightcone port protocol ${m.version}, the database ${PORT_PROTOCOL_VERSION}: reload the page`,
        });
        return finish();
      }
      const proposed = m.connectionId ? ConnectionId.fromStringOrNull(m.connectionId) : null;
      const request: OpenRequest = { protocols: m.protocols, token: m.token, confirmedReads: m.confirmed, connectionId: proposed ?? undefined, framing: 'untagged' };
      const trusted = options.trusted && m.trusted;
      if (trusted) {
        request.identity = Identity.fromString(trusted.identity);
        request.authJwt = trusted.claims;
        request.framing = 'tagged';
        const kind = trusted.compression;
        const compress = kind !== 'none' ? options.trusted?.compress[kind] : undefined;
        if (kind !== 'none' && compress) request.compression = { kind, compress };
      }
      server
        .open(request, {
          open: (protocol) => post({ type: 'open', protocol }),
          // Frames are fresh copies the server does not keep: transfer them.
          send: (frame) => post({ type: 'frame', data: frame }, frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength ? [frame.buffer as ArrayBuffer] : []),
          close: (code, reason) => {
            if (ended) return;
            post({ type: 'close', code, reason });
            finish();
          },
        })
        .then(
          (c) => {
            conn = c;
            if (ended) return c.end();
            for (const frame of early.splice(0)) c.receive(frame);
          },
          (err: unknown) => {
            if (ended) return;
            const e = err as { name?: string; code?: string; message?: string };
            post({ type: 'error', name: e.name ?? 'Error', code: e.code ?? 'CONNECT_FAILED', message: e.message ?? String(err) });
            finish();
          },
        );
    }
  };
}

/**
 * A `withWSFn` adapter over `port` (the client's end of the channel whose other end is served by
 * `servePort`). Buffers what arrives before the SDK set its handlers; `send` copies (the SDK
 * reuses its buffer); `close` fires `onclose` once the close is sent.
 */
export function portSocket(port: MessagePort, args: WebSocketArgs): WebSocketAdapter {
  return new PortSocket(port, args);
}

/** A `withWSFn` factory: each call makes a channel, hands its far end to `serve`, and returns the adapter of the near end. */
export function portWSFn(serve: (port: MessagePort) => void): WebSocketFactory {
  return async (args) => {
    const channel = new MessageChannel();
    serve(channel.port2);
    return portSocket(channel.port1, args);
  };
}

type Handlers = {
  onopen?: () => void;
  onmessage?: (m: { data: Uint8Array }) => void;
  onclose?: (ev: CloseEvent) => void;
  onerror?: (ev: ErrorEvent) => void;
};

class PortSocket implements WebSocketAdapter {
  #protocol = '';
  #readyState = 0;
  readonly #port: MessagePort;
  readonly #handlers: Handlers = {};
  /** Events that arrived before the SDK set its handlers. */
  #pending: (() => void)[] | undefined = [];

  constructor(port: MessagePort, args: WebSocketArgs) {
    this.#port = port;
    port.onmessage = (e: MessageEvent<ServerToClient>) => this.#dispatch(e.data);
    const connect: ClientToServer = { type: 'connect', version: PORT_PROTOCOL_VERSION, protocols: [...args.wsProtocol] };
    if (args.authToken) connect.token = args.authToken;
    if (args.confirmedReads !== undefined) connect.confirmed = args.confirmedReads;
    const proposed = args.url.searchParams.get('connection_id');
    if (proposed) connect.connectionId = proposed;
    port.postMessage(connect);
  }

  get protocol(): string {
    return this.#protocol;
  }
  get readyState(): number {
    return this.#readyState;
  }

  send(msg: Uint8Array<ArrayBuffer>): void {
    if (this.#readyState !== 1) return;
    // A view over the SDK's reused writer buffer: copy, never transfer.
    this.#port.postMessage({ type: 'frame', data: msg.slice() } satisfies ClientToServer);
  }

  close(): void {
    if (this.#readyState >= 2) return;
    this.#readyState = 2;
    this.#port.postMessage({ type: 'close' } satisfies ClientToServer);
    this.#closed(1000, '');
  }

  set onopen(h: () => void) {
    this.#handlers.onopen = h;
    this.#release();
  }
  set onmessage(h: (m: { data: Uint8Array }) => void) {
    this.#handlers.onmessage = h;
    this.#release();
  }
  set onclose(h: (ev: CloseEvent) => void) {
    this.#handlers.onclose = h;
    this.#release();
  }
  set onerror(h: (ev: ErrorEvent) => void) {
    this.#handlers.onerror = h;
    this.#release();
  }

  /** Delivers what arrived early once the SDK's handlers are in place (it sets all four in one go). */
  #release(): void {
    if (!this.#pending || this.#releasing) return;
    this.#releasing = true;
    queueMicrotask(() => {
      const pending = this.#pending ?? [];
      this.#pending = undefined;
      for (const f of pending) f();
    });
  }
  #releasing = false;

  #dispatch(m: ServerToClient): void {
    if (this.#pending) {
      this.#pending.push(() => this.#dispatch(m));
      return;
    }
    if (this.#readyState === 3) return;
    switch (m.type) {
      case 'open':
        this.#protocol = m.protocol;
        this.#readyState = 1;
        this.#handlers.onopen?.();
        return;
      case 'frame':
        this.#handlers.onmessage?.({ data: m.data });
        return;
      case 'close':
        this.#closed(m.code, m.reason);
        return;
      case 'error':
        this.#handlers.onerror?.({ message: m.message, error: Object.assign(new Error(m.message), { name: m.name, code: m.code }) } as unknown as ErrorEvent);
        this.#closed(1006, m.message);
        return;
    }
  }

  #closed(code: number, reason: string): void {
    if (this.#readyState === 3) return;
    this.#readyState = 3;
    this.#port.onmessage = null;
    this.#port.close();
    // The SDK expects `onclose` after `close()` returns, as a socket fires it.
    queueMicrotask(() => this.#handlers.onclose?.({ code, reason, wasClean: code === 1000 } as CloseEvent));
  }
}
