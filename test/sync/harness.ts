// Sync test harness: a `lightcone start` server on 127.0.0.1 (restartable on the same port and data
// directory) and replicas following it: an Engine on memory durability (its store kept, so a
// replica can be "restarted") with a Replica over Node's `ws` sockets and fetch.
import { WebSocket } from 'ws';
import { memoryDurability, MemoryStore } from '../../src/durability/memory.ts';
import { Engine, randomIdentity } from '../../src/engine/engine.ts';
import { Replica, type RemoteOptions, type SyncStatus } from '../../src/sync/replica.ts';
import type { SocketLike } from '../../src/sync/wire-client.ts';
import type { TableUpdate } from '../../src/subscriptions/types.ts';
import { databaseFacade } from '../../src/api/database.ts';
import { bundle, openServer, type TestServer } from '../server/harness.ts';
import { tempDir } from '../helpers/paths.ts';
import { StorageError } from '../../src/errors.ts';

export const SYNC_MODULE = 'test/fixtures/sync.ts';

export interface SyncServer {
  s: TestServer;
  url: string;
  owner: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** While stopped: runs `f` against the same data on another port (replicas cannot see it). */
  elsewhere(f: (other: TestServer) => Promise<void>): Promise<void>;
  /** SQL on the server as the owner: the rows of the first statement. */
  rows(sql: string): Promise<unknown[][]>;
  call(reducer: string, args: unknown[]): Promise<Response>;
}

/** `module`: the module published as `shop` (default SYNC_MODULE). */
export async function syncServer(opts: { callIds?: boolean; module?: string } = {}): Promise<SyncServer> {
  const dataDir = tempDir('lightcone-sync-');
  let s = await openServer({ dataDir, ...(opts.callIds !== undefined ? { callIds: opts.callIds } : {}) });
  const port = new URL(s.url).port;
  const { token: owner } = await s.publish('shop', opts.module ?? SYNC_MODULE);
  const out: SyncServer = {
    s,
    url: s.url,
    owner,
    async restart() {
      await s.close().catch(() => {});
      s = await openServer({ dataDir, listen: `127.0.0.1:${port}`, ...(opts.callIds !== undefined ? { callIds: opts.callIds } : {}) });
      out.s = s;
    },
    stop: () => s.close(),
    async elsewhere(f) {
      const other = await openServer({ dataDir });
      try {
        await f(other);
      } finally {
        await other.close();
      }
    },
    async rows(sql) {
      const r = await s.http('/v1/database/shop/sql', { method: 'POST', body: sql, token: owner });
      if (r.status !== 200) throw new Error(`${r.status} ${await r.text()}`);
      return ((await r.json()) as { rows: unknown[][] }[])[0]!.rows;
    },
    call: (reducer, args) => s.http(`/v1/database/shop/call/${reducer}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args), token: owner }),
  };
  return out;
}

export interface TestReplica {
  engine: Engine;
  replica: Replica;
  store: MemoryStore;
  statuses: SyncStatus[];
  /** Every delta the replica's subscribers saw for `SELECT * FROM <table>`. */
  updates: TableUpdate[][];
  /** Resolves once the status satisfies `pred`. */
  until(pred: (s: SyncStatus) => boolean): Promise<SyncStatus>;
  /** Frames the replica sent, and the subprotocol its last socket speaks. */
  sent: Uint8Array[];
  protocol(): string;
  /** How many calls each write of the outbox held, in order. */
  outboxWrites: number[];
  /** The replica's rows of a table, decoded by SQL. */
  rows(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export const nodeSocket = (url: string, protocols: string[]): SocketLike => new WebSocket(url, protocols) as unknown as SocketLike;

/** `module`: the replica's module, the server's (default SYNC_MODULE). */
export interface ReplicaOptions {
  store?: MemoryStore;
  watch?: string;
  module?: string;
  maxOutbox?: number;
  /** When it returns true, writing the outbox fails as a full disk would. */
  refuseMeta?: () => boolean;
}

export async function openReplica(remote: RemoteOptions, opts: ReplicaOptions = {}): Promise<TestReplica> {
  const store = opts.store ?? new MemoryStore();
  const durability = memoryDurability(store);
  const code = await bundle(opts.module ?? SYNC_MODULE);
  const engine = await Engine.open({ name: 'shop', durability, code, owner: randomIdentity() });
  const outboxWrites: number[] = [];
  const meta = {
    getMeta: (k: string) => durability.getMeta(k),
    putMeta: (k: string, v: Uint8Array) => {
      if (opts.refuseMeta?.()) return Promise.reject(new StorageError('WRITE_FAILED', 'no space left on the device (simulated)'));
      if (k === 'sync-outbox') outboxWrites.push((JSON.parse(new TextDecoder().decode(v)) as { calls: unknown[] }).calls.length);
      return durability.putMeta(k, v);
    },
  };
  const sent: Uint8Array[] = [];
  let last: SocketLike | undefined;
  const socket = (url: string, protocols: string[]): SocketLike => {
    const ws = nodeSocket(url, protocols);
    const send = ws.send.bind(ws);
    ws.send = (data) => {
      sent.push(data);
      send(data);
    };
    last = ws;
    return ws;
  };
  const replica = new Replica(
    { engine, store: meta, code, socket, fetch: (u, i) => fetch(u, i), backoff: { min: 50, max: 500 }, ...(opts.maxOutbox !== undefined ? { maxOutbox: opts.maxOutbox } : {}) },
    remote,
  );
  const statuses: SyncStatus[] = [];
  const updates: TableUpdate[][] = [];
  const waiters: { pred: (s: SyncStatus) => boolean; resolve: (s: SyncStatus) => void }[] = [];
  replica.onStatus((st) => {
    statuses.push(st);
    for (const w of [...waiters]) {
      if (w.pred(st)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(st);
      }
    }
  });
  const db = databaseFacade(engine);
  if (opts.watch) await db.subscribe([`SELECT * FROM ${opts.watch}`], { onUpdate: (u) => updates.push(u) }).applied;
  await replica.start();
  return {
    engine,
    replica,
    store,
    statuses,
    updates,
    sent,
    protocol: () => last?.protocol ?? '',
    outboxWrites,
    until: (pred) => {
      const now = replica.status();
      if (pred(now)) return Promise.resolve(now);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    rows: async (sql) => (await engine.sql(sql)).rows,
    close: async () => {
      await replica.close();
      await db.close();
    },
  };
}
