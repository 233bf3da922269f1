// A `lightcone start` server in the Playwright process for e2e/sync.spec.ts and e2e/notes.spec.ts:
// `startServer` from src/server/server.ts over a temp data directory on 127.0.0.1, with
// test/fixtures/sync.ts published as `shop` (more with `publish`), stoppable and restartable on
// the same port. Playwright's loader does not compile the TypeScript inside the spacetimedb
// package that src/protocol reaches, so the server is bundled with esbuild first (as
// scripts/build.mjs bundles the CLI), from the current source.
//
// "Offline" for one browser context is a TCP proxy in front of the server (`cuttableProxy`): the
// context's pages follow the server through it, and the test cuts it (every connection reset, new
// ones refused) or holds it (requests reach the server, its answers never come back). Playwright's
// `context.setOffline(true)` does not do this for sync: in Chromium it makes new requests of the
// context's workers fail, but the engine worker's open WebSocket stays up with its frames held
// until the context is online again (the replica never sees a disconnect), and a page cannot be
// reloaded while offline.
import { mkdtempSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleModule } from '../src/host/bundle.ts';
import { bundleToCache } from '../src/node/engine-worker-script.ts';

type ServerModule = typeof import('../src/server/server.ts');

let loaded: Promise<ServerModule> | undefined;

/** src/server/server.ts, bundled into node_modules/.cache/lightcone/ (where its packages resolve). */
function serverModule(): Promise<ServerModule> {
  loaded ??= (async () => {
    const url = await bundleToCache(join(process.cwd(), 'src/server/server.ts'), process.cwd(), 'e2e-server');
    return (await import(url.href)) as ServerModule;
  })();
  return loaded;
}

/** The test server: `shop` published, SQL and calls as its owner over HTTP. */
export interface SyncTestServer {
  /** `http://127.0.0.1:<port>`, the same across restarts. */
  readonly url: string;
  /** Stops it (connections close); `start` brings it back on the same port and data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SQL as the owner (of `shop`, or of `database`): the rows of the first statement. */
  rows(sql: string, database?: string): Promise<unknown[][]>;
  /** Publishes the module at `modulePath` (bundled as the CLI does) as `database`, owned by the owner of `shop`. */
  publish(database: string, modulePath: string): Promise<void>;
  /** Calls a reducer as the owner (args as a JSON array); throws unless the server answers 200. */
  call(reducer: string, args: unknown[]): Promise<void>;
}

export async function startSyncServer(): Promise<SyncTestServer> {
  const { startServer } = await serverModule();
  const dataDir = mkdtempSync(join(tmpdir(), 'lightcone-e2e-sync-'));
  let server: Awaited<ReturnType<typeof startServer>> | undefined = await startServer({ dataDir, listen: '127.0.0.1:0' });
  const url = server.url;
  const port = server.port;
  const publish = async (database: string, modulePath: string, headers: Record<string, string> = {}) => {
    const r = await fetch(`${url}/v1/database/${database}?host_type=Js`, { method: 'PUT', body: (await bundleModule(modulePath)).code, headers });
    if (r.status !== 200) throw new Error(`publishing ${database} failed: ${r.status} ${await r.text()}`);
    return r;
  };
  const owner = (await publish('shop', 'test/fixtures/sync.ts')).headers.get('spacetime-identity-token')!;
  const auth = { authorization: `Bearer ${owner}` };
  return {
    url,
    async stop() {
      await server?.close();
      server = undefined;
    },
    async start() {
      server ??= await startServer({ dataDir, listen: `127.0.0.1:${port}` });
    },
    async publish(database, modulePath) {
      await publish(database, modulePath, auth);
    },
    async rows(sql, database = 'shop') {
      const r = await fetch(`${url}/v1/database/${database}/sql`, { method: 'POST', body: sql, headers: auth });
      if (r.status !== 200) throw new Error(`${r.status} ${await r.text()}`);
      return ((await r.json()) as { rows: unknown[][] }[])[0]!.rows;
    },
    async call(reducer, args) {
      const r = await fetch(`${url}/v1/database/shop/call/${reducer}`, { method: 'POST', body: JSON.stringify(args), headers: { ...auth, 'content-type': 'application/json' } });
      if (r.status !== 200) throw new Error(`${reducer} failed: ${r.status} ${await r.text()}`);
    },
  };
}

/** A TCP proxy to the server that a test can cut or hold (see the file header). */
export interface CuttableProxy {
  /** `http://127.0.0.1:<port>`: give it to the pages as the server. */
  readonly url: string;
  /** Resets every connection and refuses new ones until `restore`. */
  cut(): void;
  /** Forwards what clients send, but none of the server's answers, until `cut`. */
  hold(): void;
  /** Forwards both ways again (connections cut meanwhile stay closed). */
  restore(): void;
  close(): Promise<void>;
}

export async function cuttableProxy(target: string): Promise<CuttableProxy> {
  const upstream = new URL(target);
  let mode: 'open' | 'hold' | 'cut' = 'open';
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server = createServer((client) => {
    track(client);
    if (mode === 'cut') return void client.resetAndDestroy();
    const up = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    track(up);
    client.on('data', (chunk) => up.write(chunk));
    up.on('data', (chunk) => {
      if (mode === 'open') client.write(chunk); // held: the answer is lost, as on a dead link
    });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      mode = 'cut';
      for (const s of sockets) s.resetAndDestroy();
    },
    hold() {
      mode = 'hold';
    },
    restore() {
      mode = 'open';
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
