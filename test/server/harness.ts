// Test harness for `lightcone start`: a server on 127.0.0.1 (a free port) over a temp data
// directory, HTTP through fetch, and the official SDK's DbConnection over real WebSockets (its
// default transport: undici's WebSocket in Node 20).
import type { Identity } from 'spacetimedb';
import { bundleModule } from '../../src/host/bundle.ts';
import { startServer, type LightconeServer, type ServerOptions } from '../../src/server/server.ts';
import { DbConnection } from '../../src/protocol/fixtures/bindings.ts';
import { tempDir } from '../helpers/paths.ts';

/** The protocol tests' chat module (with its hand-written bindings). */
export const CHAT_MODULE = 'src/protocol/fixtures/module.ts';

const bundles = new Map<string, Promise<string>>();
/** A module's bundle (as `lightcone publish` uploads it), made once per file. */
export function bundle(path: string): Promise<string> {
  let b = bundles.get(path);
  if (!b) bundles.set(path, (b = bundleModule(path).then((m) => m.code)));
  return b;
}

export interface TestServer {
  server: LightconeServer;
  url: string;
  dataDir: string;
  /** fetch relative to the server, with `token` as Bearer when given. */
  http(path: string, init?: RequestInit & { token?: string | undefined }): Promise<Response>;
  /** Publishes `module` as `name`; resolves with the owner's token and identity. */
  publish(name: string, module?: string, token?: string, query?: string): Promise<{ token: string; identity: string; response: Response }>;
  close(): Promise<void>;
}

export async function openServer(opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? tempDir('lightcone-server-');
  const server = await startServer({ listen: '127.0.0.1:0', ...opts, dataDir });
  const http: TestServer['http'] = (path, init = {}) => {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    return fetch(new URL(path, server.url), { ...rest, headers });
  };
  return {
    server,
    url: server.url,
    dataDir,
    http,
    async publish(name, module = CHAT_MODULE, token, query = '') {
      const response = await http(`/v1/database/${name}?host_type=Js${query}`, { method: 'PUT', body: await bundle(module), token });
      if (response.status !== 200) throw new Error(`publish ${name} failed: ${response.status} ${await response.text()}`);
      return { token: token ?? response.headers.get('spacetime-identity-token')!, identity: response.headers.get('spacetime-identity')!, response };
    },
    close: () => server.close(),
  };
}

export interface SdkClient {
  conn: DbConnection;
  identity: Identity;
  token: string;
  disconnected: Promise<Error | undefined>;
  close(): Promise<void>;
}

export interface SdkOptions {
  token?: string;
  compression?: 'gzip' | 'none';
  confirmedReads?: boolean;
  /** Subprotocols to offer instead of the SDK's (to test v2 alone). */
  offer?: string[];
}

/** Connects the official SDK to `database` on `url` over a real WebSocket. */
export function connectSdk(url: string, database: string, o: SdkOptions = {}): Promise<SdkClient> {
  return new Promise<SdkClient>((resolve, reject) => {
    let settle!: (e: Error | undefined) => void;
    const disconnected = new Promise<Error | undefined>((r) => (settle = r));
    let b = DbConnection.builder().withUri(url).withDatabaseName(database);
    if (o.token !== undefined) b = b.withToken(o.token);
    if (o.compression !== undefined) b = b.withCompression(o.compression);
    if (o.confirmedReads !== undefined) b = b.withConfirmedReads(o.confirmedReads);
    if (o.offer) {
      const offer = o.offer;
      // The SDK's own transport, except for the subprotocols offered: a socket whose frames lose
      // their compression tag byte (0: none was asked for), as the SDK's adapter does.
      b = b.withWSFn(async (args) => {
        const { WebSocket } = await import('undici');
        const wsUrl = new URL(`v1/database/${args.nameOrAddress}/subscribe`, args.url);
        wsUrl.protocol = 'ws:';
        wsUrl.searchParams.set('compression', 'None');
        if (args.authToken) wsUrl.searchParams.set('token', args.authToken);
        const ws = new WebSocket(wsUrl, offer);
        ws.binaryType = 'arraybuffer';
        return {
          get protocol() {
            return ws.protocol;
          },
          get readyState() {
            return ws.readyState;
          },
          send: (m: Uint8Array) => ws.send(m),
          close: () => ws.close(),
          set onopen(h: () => void) {
            ws.onopen = h;
          },
          set onclose(h: (e: unknown) => void) {
            ws.onclose = h as never;
          },
          set onerror(h: (e: unknown) => void) {
            ws.onerror = h as never;
          },
          set onmessage(h: (m: { data: Uint8Array }) => void) {
            ws.onmessage = (e) => h({ data: new Uint8Array(e.data as ArrayBuffer).subarray(1) });
          },
        } as never;
      });
    }
    b.onConnect((conn, identity, token) =>
      resolve({
        conn,
        identity,
        token,
        disconnected,
        close: async () => {
          conn.disconnect();
          await disconnected;
        },
      }),
    )
      .onConnectError((_ctx, e) => reject(e))
      .onDisconnect((_ctx, e) => {
        settle(e);
        reject(e ?? new Error('disconnected before connecting'));
      })
      .build();
  });
}
