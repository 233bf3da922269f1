// `lightcone start`: SpacetimeDB's HTTP API and WebSocket protocol, served from Node over the
// databases of one data directory. The HTTP side (routes, auth, CORS, bodies) runs on this thread;
// each database's engine runs in a worker thread of its own, which also serves the protocol: every
// WebSocket is relayed, frame for frame, over a MessagePort to its database's thread (see
// src/protocol/port.ts), where frames are decoded, compressed and answered. A database whose
// thread hits a limit restarts from durable state; its sockets close (the SDK reconnects) and
// every other database goes on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import { WebSocketServer, type WebSocket } from 'ws';
import { LightconeError, UsageError } from '../errors.ts';
import { bundleUploaded } from '../host/bundle.ts';
import { PORT_PROTOCOL_VERSION } from '../protocol/port.ts';
import { negotiateProtocol } from '../protocol/messages.ts';
import { AuthError, fileKeyStorage, ServerAuth, type Caller } from './auth.ts';
import { Databases, PermissionError } from './databases.ts';
import { routeHttp } from './routes.ts';
import { join, resolve } from 'node:path';

export interface ServerOptions {
  /** `host:port` to listen on (default 127.0.0.1:3000; port 0 picks a free one). */
  listen?: string;
  /** The data directory (databases, the server's signing key). */
  dataDir: string;
  /** Per-call time budget of module code, ms (default 30,000). */
  callTimeoutMs?: number;
  /** Heap limit of each database's engine thread, MiB. */
  maxHeapMb?: number;
  /** Largest request body, bytes (default 64 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /**
   * Bytes a WebSocket may have waiting to be sent (default 16 MiB): a client that reads slower than
   * its database writes is disconnected (1008) rather than buffered without bound.
   */
  maxBufferedBytes?: number;
  /** Where the server reports what it does (default: nowhere). */
  log?: (line: string) => void;
  /**
   * Advertise call ids (default true): Lightcone sync clients then give each reducer call an id,
   * which the database commits once, so a resend after a reconnect never applies a call twice.
   * False makes the server look like plain SpacetimeDB to them (for testing that mode).
   */
  callIds?: boolean;
}

/** A running server. */
export interface LightconeServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, closes every connection (1001) and database (durable), then resolves. */
  close(): Promise<void>;
}

export const DEFAULTS = { listen: '127.0.0.1:3000', maxBodyBytes: 64 * 2 ** 20, maxBufferedBytes: 16 * 2 ** 20 } as const;

/** What the routes get. */
export interface ServerContext {
  readonly databases: Databases;
  readonly auth: ServerAuth;
  readonly maxBodyBytes: number;
  readonly log: (line: string) => void;
  /** Follows of `/logs?follow=true` to end on close. */
  readonly followers: Set<() => void>;
  /** Whether `GET /v1/lightcone` advertises call ids. */
  readonly callIds: boolean;
  /** Turns an uploaded bundle into one the engine loads (cached by text). */
  prepareBundle(code: string): Promise<string>;
}

/** Starts a server; resolves once it listens. */
export async function startServer(opts: ServerOptions): Promise<LightconeServer> {
  const { host, port } = parseListen(opts.listen ?? DEFAULTS.listen);
  const dataDir = resolve(opts.dataDir);
  const auth = await ServerAuth.open(fileKeyStorage(join(dataDir, 'server')));
  const databases = new Databases({ dataDir, callTimeoutMs: opts.callTimeoutMs, maxHeapMb: opts.maxHeapMb });
  const log = opts.log ?? (() => {});
  const maxBuffered = opts.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes;
  const prepared = new Map<string, Promise<string>>();
  const ctx: ServerContext = {
    databases,
    auth,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    log,
    followers: new Set(),
    callIds: opts.callIds ?? true,
    prepareBundle(code) {
      let p = prepared.get(code);
      if (!p) {
        p = bundleUploaded(code);
        prepared.clear(); // one entry: pre_publish then publish of the same bundle
        prepared.set(code, p);
        p.catch(() => prepared.delete(code));
      }
      return p;
    },
  };
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: ctx.maxBodyBytes, handleProtocols: (offered) => negotiateProtocol([...offered]) ?? false });
  const server: Server = createServer((req, res) => {
    routeHttp(ctx, req, res).catch((e: unknown) => {
      log(`internal error on ${req.method} ${redact(req.url)}: ${(e as Error)?.stack ?? String(e)}`);
      if (!res.headersSent) sendText(res, 500, `InternalError: ${(e as Error)?.message ?? String(e)}`);
      else res.destroy();
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(ctx, wss, req, socket, head, sockets, maxBuffered).catch((e: unknown) => {
      log(`internal error on upgrade ${redact(req.url)}: ${(e as Error)?.stack ?? String(e)}`);
      refuseUpgrade(socket, 500, `InternalError: ${(e as Error)?.message ?? String(e)}`);
    });
  });
  // A socket error (a client that vanished) ends that connection only.
  server.on('clientError', (_e, socket) => socket.destroy());
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port: boundPort,
    close: () =>
      (closing ??= (async () => {
        server.close();
        for (const stop of ctx.followers) stop();
        // Databases close their protocol connections (1001), which closes the sockets.
        await databases.close();
        for (const ws of sockets) ws.close(1001, 'the server is shutting down');
        server.closeAllConnections();
        await new Promise<void>((ok) => wss.close(() => ok()));
      })()),
  };
}

/** A request URL without its token (logs must not hold credentials). */
function redact(url: string | undefined): string {
  return (url ?? '').replace(/([?&]token=)[^&]*/g, '$1…');
}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen) ?? /^()()(\d+)$/.exec(listen);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError('BAD_OPTION', `--listen ${JSON.stringify(listen)} is not host:port (for example 127.0.0.1:3000, or :3000 for every interface)`, { option: 'listen', value: listen });
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

// ── WebSocket: GET /v1/database/:name/subscribe ─────────────────────────────

async function upgrade(ctx: ServerContext, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, sockets: Set<WebSocket>, maxBuffered: number): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const m = /^\/v1\/database\/([^/]+)\/subscribe\/?$/.exec(url.pathname);
  if (!m) return refuseUpgrade(socket, 404, 'not found: WebSockets are served at /v1/database/<name>/subscribe');
  const name = await ctx.databases.nameOf(decodeURIComponent(m[1]!));
  const offered = (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const protocol = negotiateProtocol(offered);
  if (!protocol) return refuseUpgrade(socket, 400, 'no valid protocol selected');
  let caller: Caller;
  try {
    caller = (await ctx.auth.caller(req, url, true))!;
  } catch (e) {
    if (e instanceof AuthError) return refuseUpgrade(socket, 401, `UsageError INVALID_TOKEN: ${e.message}`);
    throw e;
  }
  const db = await ctx.databases.get(name).catch(() => undefined);
  if (!db) return refuseUpgrade(socket, 404, `UsageError UNKNOWN_DATABASE: no database named ${name} on this server`);
  const compression = compressionOf(url.searchParams.get('compression'));
  if (!compression) return refuseUpgrade(socket, 400, 'UsageError BAD_OPTION: compression must be None, Gzip or Brotli');
  const confirmed = url.searchParams.get('confirmed');
  wss.handleUpgrade(req, socket, head, (ws) => {
    sockets.add(ws);
    relay(ws, db.server.serve.bind(db.server), {
      protocols: offered,
      token: caller.token,
      identity: caller.identity.toHexString(),
      compression,
      confirmed: confirmed === null ? undefined : confirmed !== 'false',
      connectionId: url.searchParams.get('connection_id') ?? undefined,
      maxBuffered,
    });
    ws.once('close', () => sockets.delete(ws));
  });
}

function compressionOf(v: string | null): 'none' | 'gzip' | 'brotli' | undefined {
  if (v === null || /^none$/i.test(v)) return 'none';
  if (/^gzip$/i.test(v)) return 'gzip';
  if (/^brotli$/i.test(v)) return 'brotli';
  return undefined;
}

interface RelayOptions {
  protocols: string[];
  token: string;
  identity: string;
  compression: 'none' | 'gzip' | 'brotli';
  confirmed: boolean | undefined;
  connectionId: string | undefined;
  maxBuffered: number;
}

type FromDatabase =
  | { type: 'open'; protocol: string }
  | { type: 'frame'; data: Uint8Array }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; name: string; code: string; message: string };

/** Relays one WebSocket to its database's thread over a MessagePort, until either side ends. */
function relay(ws: WebSocket, serve: (port: import('node:worker_threads').MessagePort) => void, o: RelayOptions): void {
  const { port1, port2 } = new MessageChannel();
  let ended = false;
  // The token never enters the database's thread (module code runs there): the thread gets a
  // stand-in of the same length and the claims without the signature; the stand-in is replaced
  // by the token in InitialConnection, the first frame, on its way to the client.
  const standIn = Buffer.from(randomBytes(o.token.length).map((b) => STAND_IN_CHARS.charCodeAt(b % STAND_IN_CHARS.length)));
  let first = true;
  const end = (code: number, reason: string) => {
    if (ended) return;
    ended = true;
    port1.close();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, closeReason(reason));
  };
  port1.on('message', (m: FromDatabase) => {
    if (ended) return;
    switch (m.type) {
      case 'open':
        return;
      case 'frame': {
        let data = m.data;
        if (first) {
          first = false;
          const at = data[0] === 0 ? Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(standIn) : -1;
          if (at < 0) return end(1011, 'internal error: the connection could not be set up; reconnect');
          data = new Uint8Array(data);
          data.set(Buffer.from(o.token), at);
        }
        ws.send(data, { binary: true });
        if (ws.bufferedAmount > o.maxBuffered) {
          end(1008, `the client reads too slowly: more than ${o.maxBuffered} bytes were waiting to be sent`);
          ws.terminate();
        }
        return;
      }
      case 'close':
        return end(m.code, m.reason);
      case 'error':
        return end(m.code === 'NO_PROTOCOL' ? 1002 : 1008, `${m.name} ${m.code}: ${m.message}`);
    }
  });
  // The thread went away (a limit restarted it, or the database closed): the client reconnects.
  port1.on('close', () => end(1011, 'the database restarted: reconnect'));
  ws.on('message', (data, isBinary) => {
    if (ended) return;
    if (!isBinary) return end(1003, 'UsageError MALFORMED_MESSAGE: text frames are not part of the BSATN protocol; send binary frames');
    const bytes = toBytes(data);
    port1.postMessage({ type: 'frame', data: bytes }, [bytes.buffer as ArrayBuffer]);
  });
  ws.on('close', () => {
    if (ended) return;
    ended = true;
    port1.postMessage({ type: 'close' });
    port1.close();
  });
  ws.on('error', () => ws.terminate());
  serve(port2);
  port1.postMessage({
    type: 'connect',
    version: PORT_PROTOCOL_VERSION,
    protocols: o.protocols,
    token: standIn.toString('latin1'),
    ...(o.confirmed !== undefined ? { confirmed: o.confirmed } : {}),
    ...(o.connectionId !== undefined ? { connectionId: o.connectionId } : {}),
    trusted: { identity: o.identity, compression: o.compression, claims: withoutSignature(o.token) },
  });
}

const STAND_IN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A JWT without its signature: its claims (what `ctx.senderAuth` shows a module), useless as a
 * credential. What is not a JWT becomes ''.
 */
export function withoutSignature(token: string): string {
  const parts = token.split('.');
  return parts.length === 3 ? `${parts[0]}.${parts[1]}.` : '';
}

/** A fresh copy of what `ws` delivered (a Buffer may be a view into a larger pool). */
function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  return new Uint8Array(data instanceof ArrayBuffer ? data.slice(0) : data);
}

/** A close reason fits in 123 bytes of UTF-8. */
function closeReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  let cut = 120;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return `${new TextDecoder().decode(bytes.subarray(0, cut))}…`;
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = Buffer.from(message);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\n\r\n${message}`,
  );
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 500: 'Internal Server Error' };

/** A plain-text answer. */
export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(text);
}

/** The status and text of an error a route let through. */
export function errorResponse(e: unknown): { status: number; text: string } {
  if (e instanceof AuthError) return { status: 401, text: `UsageError INVALID_TOKEN: ${e.message}` };
  if (e instanceof PermissionError) return { status: 403, text: `PermissionError PERMISSION_DENIED: ${e.message}` };
  if (e instanceof LightconeError) {
    const status = e.code === 'UNKNOWN_DATABASE' || e.code === 'UNKNOWN_REDUCER' ? 404 : e.name === 'InternalError' && e.code !== 'INTERNAL_ERROR' ? 500 : 400;
    return { status, text: `${e.name} ${e.code}: ${e.message}` };
  }
  return { status: 500, text: `InternalError: ${(e as Error)?.message ?? String(e)}` };
}
