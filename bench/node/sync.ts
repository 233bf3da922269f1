// W11 (sync) in Node: `lightcone start` in a child process (file durability) and 8 replicas in
// this process, each an Engine on memory durability with a Replica following the server over
// loopback WebSockets, as `openDatabase({ remote })` runs them.
// - Convergence: all 8 replicas make 100 `add_item` calls at once (800 calls in flight); the time
//   from the last call made to the moment every replica has no pending call and all the rows.
//   Afterwards (untimed) every replica's `SELECT *` must equal the server's, column for column.
//   The floor: 8 bare protocol clients (WireClient, no replica, no local database) make the same
//   calls, until each has its 100 results and has seen all 800 transactions: the server and the
//   sockets with nothing of sync's own work.
// - Optimistic call → local subscription callback: one replica, a subscriber on its engine
//   (`databaseFacade(engine).subscribe`), the time from `replica.call` to the onUpdate that shows
//   the call's row, calls made one at a time (each waits for its server commit before the next).
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { databaseFacade } from '../../src/api/database.ts';
import { memoryDurability, MemoryStore } from '../../src/durability/memory.ts';
import { Engine, randomIdentity } from '../../src/engine/engine.ts';
import { bundleModule } from '../../src/host/bundle.ts';
import { encodeArgs } from '../../src/host/values.ts';
import { Replica } from '../../src/sync/replica.ts';
import { WireClient, type SocketLike } from '../../src/sync/wire-client.ts';
import type { Result } from './measure.ts';
import { quantile, result, startChild, stopChild } from './server.ts';

/** The sync tests' module: `item` rows with auto-increment ids and timestamps (which differ between a replica's run and the server's). */
const MODULE = 'test/fixtures/sync.ts';
const REPLICAS = 8;
const CALLS = 100;

const socket = (url: string, protocols: string[]) => new WebSocket(url, protocols) as unknown as SocketLike;

interface BenchReplica {
  engine: Engine;
  replica: Replica;
  /** `item` rows in the replica, kept from its commits. */
  count: number;
}

export async function runSync(opts: { quick: boolean }): Promise<Result[]> {
  const root = process.cwd();
  const dataDir = mkdtempSync(join(tmpdir(), 'lightcone-bench-sync-'));
  const reps = opts.quick ? 2 : 5;
  const latencyCalls = opts.quick ? 200 : 1000;
  const server = await startChild([join(root, 'bin', 'lightcone.js'), 'start', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], root);
  const replicas: BenchReplica[] = [];
  const bare: Bare[] = [];
  try {
    const code = (await bundleModule(MODULE)).code;
    const put = await fetch(`${server.url}/v1/database/shop?host_type=Js`, { method: 'PUT', body: code });
    if (put.status !== 200) throw new Error(`publish failed: ${put.status} ${await put.text()}`);
    const owner = put.headers.get('spacetime-identity-token')!;
    for (let i = 0; i < REPLICAS; i++) replicas.push(await openReplica(server.url, code));
    await Promise.all(replicas.map((r) => until(r, () => r.replica.status().state === 'online')));
    for (let i = 0; i < REPLICAS; i++) bare.push(await openBare(server.url));

    // Optimistic call → local callback, one replica.
    const latencies = await optimisticLatencies(replicas[0]!, latencyCalls);
    let total = latencyCalls;
    await Promise.all(replicas.map((r) => until(r, () => r.replica.status().pending === 0 && r.count === total)));

    // Convergence after a burst of 8 × 100 calls, and the floor's burst, alternating.
    const add = replicas[0]!.engine.host.reducer('add_item')!;
    const typespace = replicas[0]!.engine.host.schema.typespace;
    const converge: number[] = [];
    const floor: number[] = [];
    for (let rep = 0; rep <= reps; rep++) {
      // Replicas.
      total += REPLICAS * CALLS;
      const want = total;
      const calls: Promise<unknown>[] = [];
      for (let c = 0; c < CALLS; c++) for (const [i, r] of replicas.entries()) calls.push(r.replica.call('add_item', { text: `burst ${rep} ${i} ${c}` }));
      const t0 = performance.now();
      await Promise.all(replicas.map((r) => until(r, () => r.replica.status().pending === 0 && r.count === want)));
      const dt = performance.now() - t0;
      await Promise.all(calls);
      await checkConverged(replicas, server.url, owner, want);
      // Bare clients: the same calls; each sees the others' transactions and its own results.
      await Promise.all(bare.map((b) => b.reach(total))); // the replicas' burst, seen by these too
      total += REPLICAS * CALLS;
      const args = bare.map((_, i) => Array.from({ length: CALLS }, (_, c) => encodeArgs(add.params, { text: `bare ${rep} ${i} ${c}` }, 'add_item', typespace)));
      const reached = Promise.all(bare.map((b) => b.reach(total)));
      for (let c = 0; c < CALLS; c++) for (const [i, b] of bare.entries()) void b.call(args[i]![c]!, `bench.${rep}.${i}.${c}`);
      const f0 = performance.now();
      await reached;
      const fdt = performance.now() - f0;
      await Promise.all(replicas.map((r) => until(r, () => r.replica.status().pending === 0 && r.count === total)));
      if (rep > 0) {
        // The first round warms up.
        converge.push(dt);
        floor.push(fdt);
      }
    }
    const workload = `W11 sync: ${REPLICAS} replicas × ${CALLS} calls at once, last call → all converged`;
    const ours = quantile(converge, 0.5);
    const floorMedian = quantile(floor, 0.5);
    return [
      result(workload, `${REPLICAS} bare protocol clients, no replica (floor)`, 'ms', floor, floorMedian, ours),
      result(workload, 'lightcone', 'ms', converge, floorMedian, ours),
      result('W11 sync: optimistic call → local subscription callback, p50', 'lightcone', 'ms', [quantile(latencies, 0.5)]),
      result('W11 sync: optimistic call → local subscription callback, p99', 'lightcone', 'ms', [quantile(latencies, 0.99)]),
    ];
  } finally {
    for (const r of replicas) await r.replica.close().catch(() => {});
    for (const b of bare) b.client.close();
    await stopChild(server);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function openReplica(uri: string, code: string): Promise<BenchReplica> {
  const durability = memoryDurability(new MemoryStore());
  const engine = await Engine.open({ name: 'shop', durability, code, owner: randomIdentity() });
  const replica = new Replica({ engine, store: durability, code, socket, fetch: (u, i) => fetch(u, i) }, { uri, database: 'shop' });
  const r: BenchReplica = { engine, replica, count: 0 };
  engine.onCommit((delta) => {
    for (const t of delta.tables) if (t.table === 'item') r.count += t.inserts.length - t.deletes.length;
  });
  await replica.start();
  return r;
}

/** A protocol client following `item`: its calls' results and others' transactions count as seen. */
interface Bare {
  client: WireClient;
  /** Resolves once `n` transactions (results included) were seen since it subscribed. */
  reach(n: number): Promise<void>;
  call(args: Uint8Array, id: string): Promise<void>;
}

async function openBare(uri: string): Promise<Bare> {
  const { token } = (await (await fetch(`${uri}/v1/identity`, { method: 'POST' })).json()) as { token: string };
  let seen = 0;
  let waiting: { n: number; resolve: () => void } | undefined;
  const saw = () => {
    if (++seen === waiting?.n) waiting.resolve();
  };
  const client = await WireClient.open({ uri, database: 'shop', token, socket, fetch: (u, i) => fetch(u, i), onTransaction: saw, onClose: () => {} });
  await client.subscribe(['SELECT * FROM item'], () => {});
  return {
    client,
    reach: (n) => (seen >= n ? Promise.resolve() : new Promise((resolve) => (waiting = { n, resolve }))),
    call: async (args, id) => {
      let failed: string | undefined;
      await client.call('add_item', args, id, (o) => {
        if (!o.ok) failed = o.message;
      });
      if (failed !== undefined) throw new Error(`W11 floor: add_item failed: ${failed}`);
      saw();
    },
  };
}

/** Resolves once `pred` holds, checked after each commit and status change of the replica. */
function until(r: BenchReplica, pred: () => boolean): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (!pred()) return;
      stopCommit();
      stopStatus();
      resolve();
    };
    const stopCommit = r.engine.onCommit(() => queueMicrotask(check));
    const stopStatus = r.replica.onStatus(check);
  });
}

/** ms from `replica.call` to the subscriber's onUpdate that inserts the call's row, one call at a time. */
async function optimisticLatencies(r: BenchReplica, n: number): Promise<number[]> {
  const db = databaseFacade(r.engine);
  let want: string | undefined;
  let seen: (() => void) | undefined;
  const sub = db.subscribe(['SELECT * FROM item'], {
    onUpdate: (tables) => {
      for (const t of tables) if (t.deletes.length === 0 && t.inserts.some((row) => (row as { text?: string }).text === want)) seen?.();
    },
  });
  await sub.applied;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    want = `optimistic ${i}`;
    const shown = new Promise<void>((resolve) => (seen = resolve));
    const t0 = performance.now();
    const committed = r.replica.call('add_item', { text: want });
    await shown;
    out.push(performance.now() - t0);
    await committed;
  }
  sub.unsubscribe();
  return out;
}

/** Every replica's `item` rows equal the server's (`want` rows, every column). Throws when not. */
async function checkConverged(replicas: BenchReplica[], url: string, owner: string, want: number): Promise<void> {
  type Row = [id: bigint | number, text: string, by: bigint | string, at: bigint | number];
  const key = (rows: Row[]) =>
    rows
      .map(([id, text, by, at]) => `${BigInt(id)}|${text}|${BigInt(by)}|${BigInt(at)}`)
      .sort()
      .join('\n');
  // SATS-JSON rows: [id, text, [identity "0x…"], [timestamp µs]].
  const [{ rows }] = JSON.parse(await post(`${url}/v1/database/shop/sql`, owner, 'SELECT * FROM item')) as [{ rows: [number, string, [string], [number]][] }];
  if (rows.length !== want) throw new Error(`W11: the server has ${rows.length} items, expected ${want}`);
  const expected = key(rows.map(([id, text, [by], [at]]) => [id, text, by, at]));
  for (const [i, rep] of replicas.entries()) {
    const mine = (await rep.engine.sql('SELECT * FROM item')).rows as { id: bigint; text: string; by: { __identity__: bigint }; at: { __timestamp_micros_since_unix_epoch__: bigint } }[];
    if (key(mine.map((x) => [x.id, x.text, x.by.__identity__, x.at.__timestamp_micros_since_unix_epoch__])) !== expected) {
      throw new Error(`W11: replica ${i}'s rows differ from the server's after convergence`);
    }
  }
}

/**
 * POST on a connection of its own: a pooled keep-alive socket may have been closed by the server
 * while this process was busy rebasing (the close not yet read), which fails the request.
 */
function post(url: string, token: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`W11: ${url} answered ${res.statusCode}: ${text}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}
