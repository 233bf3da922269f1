// W9: `lightcone start` over WebSockets on loopback, the server in a child process as it runs in
// production, file durability, confirmed reads (the SDK's default): reducer round trip with one
// call in flight (p50, p99), throughput with 16 connections × 4 calls in flight, and the server's
// memory per idle connection and per database. The floor is a bare `ws` echo server in a child
// process: the same sockets and frames with nothing behind them. The HTTP `/call` round trip is
// reported beside the SDK's.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { bundleModule } from '../../src/host/bundle.ts';
import { DbConnection } from '../../src/protocol/fixtures/bindings.ts';
import type { Result } from './measure.ts';

const ECHO_SERVER = `
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, handleProtocols: (p) => [...p][0] ?? false });
wss.on('listening', () => console.log('listening on http://127.0.0.1:' + wss.address().port));
wss.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
`;

export interface Child {
  process: ChildProcess;
  url: string;
}

export function startChild(args: string[], cwd: string): Promise<Child> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ process: child, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening: ${out}`)));
  });
}

export async function stopChild(c: Child): Promise<void> {
  const exited = new Promise((r) => c.process.once('exit', r));
  c.process.kill('SIGTERM');
  await exited;
}

/** Resident memory of a process, bytes (Linux). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

function connect(url: string): Promise<DbConnection> {
  return new Promise((resolve, reject) => {
    DbConnection.builder()
      .withUri(url)
      .withDatabaseName('chat')
      .withCompression('none')
      .onConnect((conn) => resolve(conn))
      .onConnectError((_c, e) => reject(e))
      .build();
  });
}

export const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

export function result(workload: string, system: string, unit: string, samples: number[], floor?: number, lightcone?: number): Result {
  const s = [...samples].sort((a, b) => a - b);
  const median = s[s.length >> 1]!;
  return {
    workload,
    system,
    unit,
    median,
    min: s[0]!,
    max: s.at(-1)!,
    runs: samples.length,
    ratioToFloor: floor !== undefined && floor > 0 ? median / floor : null,
    ratioToLightcone: lightcone !== undefined && lightcone > 0 ? median / lightcone : null,
  };
}

/** Round trips of a raw ws echo: `n` sequential, returns latencies in ms. */
async function echoLatencies(url: string, n: number): Promise<number[]> {
  const ws = new WebSocket(url.replace('http:', 'ws:'), ['v3.bsatn.spacetimedb']);
  await new Promise((r) => ws.once('open', r));
  const payload = new Uint8Array(48);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      ws.once('message', () => r());
      ws.send(payload);
    });
    out.push(performance.now() - t0);
  }
  ws.close();
  return out;
}

/** Calls/s of a raw ws echo with `conns` sockets × `inFlight` messages, for `ms`. */
async function echoThroughput(url: string, conns: number, inFlight: number, ms: number): Promise<number> {
  const sockets = await Promise.all(
    Array.from({ length: conns }, async () => {
      const ws = new WebSocket(url.replace('http:', 'ws:'), ['v3.bsatn.spacetimedb']);
      await new Promise((r) => ws.once('open', r));
      return ws;
    }),
  );
  let done = 0;
  let stop = false;
  const payload = new Uint8Array(48);
  for (const ws of sockets) {
    ws.on('message', () => {
      done++;
      if (!stop) ws.send(payload);
    });
    for (let i = 0; i < inFlight; i++) ws.send(payload);
  }
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  stop = true;
  const rate = done / ((performance.now() - t0) / 1000);
  for (const ws of sockets) ws.close();
  return rate;
}

export async function runServer(opts: { quick: boolean }): Promise<Result[]> {
  const root = process.cwd();
  const dataDir = mkdtempSync(join(tmpdir(), 'lightcone-bench-server-'));
  const results: Result[] = [];
  const calls = opts.quick ? 400 : 2000;
  const reps = opts.quick ? 2 : 3;
  const seconds = opts.quick ? 1.5 : 3;
  const echo = await startChild(['-e', ECHO_SERVER], root);
  const server = await startChild([join(root, 'bin', 'lightcone.js'), 'start', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], root);
  try {
    const code = (await bundleModule('src/protocol/fixtures/module.ts')).code;
    const put = await fetch(`${server.url}/v1/database/chat?host_type=Js`, { method: 'PUT', body: code });
    if (put.status !== 200) throw new Error(`publish failed: ${put.status} ${await put.text()}`);

    // Round trip, one call in flight.
    const conn = await connect(server.url);
    let id = 1;
    const p50: number[] = [];
    const p99: number[] = [];
    const httpP50: number[] = [];
    const echoP50: number[] = [];
    const echoP99: number[] = [];
    for (let r = 0; r < reps; r++) {
      const e = await echoLatencies(echo.url, calls);
      echoP50.push(quantile(e, 0.5));
      echoP99.push(quantile(e, 0.99));
      const lat: number[] = [];
      for (let i = 0; i < calls; i++) {
        const t0 = performance.now();
        await conn.reducers.addRoom({ id: id++, name: 'r' });
        lat.push(performance.now() - t0);
      }
      p50.push(quantile(lat, 0.5));
      p99.push(quantile(lat, 0.99));
      const httpLat: number[] = [];
      for (let i = 0; i < Math.min(calls, 500); i++) {
        const t0 = performance.now();
        const res = await fetch(`${server.url}/v1/database/chat/call/add_room`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `[${id++}, "h"]` });
        await res.arrayBuffer();
        httpLat.push(performance.now() - t0);
      }
      httpP50.push(quantile(httpLat, 0.5));
    }
    conn.disconnect();
    const floor50 = quantile(echoP50, 0.5);
    const ours50 = quantile(p50, 0.5);
    results.push(
      result('W9 WebSocket reducer round trip, 1 in flight, p50', 'bare ws echo (floor)', 'ms', echoP50, floor50, ours50),
      result('W9 WebSocket reducer round trip, 1 in flight, p50', 'lightcone', 'ms', p50, floor50, ours50),
      result('W9 WebSocket reducer round trip, 1 in flight, p50', 'HTTP POST /call (same server)', 'ms', httpP50, floor50, ours50),
    );
    const floor99 = quantile(echoP99, 0.5);
    const ours99 = quantile(p99, 0.5);
    results.push(
      result('W9 WebSocket reducer round trip, 1 in flight, p99', 'bare ws echo (floor)', 'ms', echoP99, floor99, ours99),
      result('W9 WebSocket reducer round trip, 1 in flight, p99', 'lightcone', 'ms', p99, floor99, ours99),
    );

    // Throughput: 16 connections × 4 calls in flight.
    const conns = await Promise.all(Array.from({ length: 16 }, () => connect(server.url)));
    const rates: number[] = [];
    const echoRates: number[] = [];
    for (let r = 0; r < reps; r++) {
      echoRates.push(await echoThroughput(echo.url, 16, 4, seconds * 1000));
      let done = 0;
      let stop = false;
      const loop = async (c: DbConnection) => {
        while (!stop) {
          await c.reducers.addRoom({ id: id++, name: 't' });
          done++;
        }
      };
      const t0 = performance.now();
      const loops = conns.flatMap((c) => Array.from({ length: 4 }, () => loop(c)));
      await new Promise((res) => setTimeout(res, seconds * 1000));
      stop = true;
      const elapsed = (performance.now() - t0) / 1000;
      rates.push(done / elapsed);
      await Promise.all(loops);
    }
    for (const c of conns) c.disconnect();
    const floorRate = quantile(echoRates, 0.5);
    const oursRate = quantile(rates, 0.5);
    results.push(
      result('W9 WebSocket throughput, 16 connections × 4 in flight', 'bare ws echo (floor)', 'calls/s', echoRates, floorRate, oursRate),
      result('W9 WebSocket throughput, 16 connections × 4 in flight', 'lightcone', 'calls/s', rates, floorRate, oursRate),
    );

    // Memory: idle connections (bare sockets that completed the handshake), then databases.
    await new Promise((r) => setTimeout(r, 500));
    const idle = opts.quick ? 100 : 300;
    const before = rss(server.process.pid!);
    const sockets = await Promise.all(
      Array.from({ length: idle }, async () => {
        const ws = new WebSocket(`${server.url.replace('http:', 'ws:')}/v1/database/chat/subscribe?compression=None`, ['v3.bsatn.spacetimedb']);
        await new Promise((r) => ws.once('message', r)); // InitialConnection: accepted and connected
        return ws;
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    const perConn = (rss(server.process.pid!) - before) / idle;
    for (const ws of sockets) ws.close();
    await new Promise((r) => setTimeout(r, 500));
    const dbs = opts.quick ? 3 : 8;
    const beforeDbs = rss(server.process.pid!);
    for (let i = 0; i < dbs; i++) {
      const r = await fetch(`${server.url}/v1/database/extra${i}?host_type=Js`, { method: 'PUT', body: code });
      await r.arrayBuffer();
    }
    await new Promise((r) => setTimeout(r, 500));
    const perDb = (rss(server.process.pid!) - beforeDbs) / dbs;
    results.push(
      result('W9 server memory per idle connection', 'lightcone', 'KiB', [perConn / 1024]),
      result('W9 server memory per database (its engine thread)', 'lightcone', 'MiB', [perDb / 2 ** 20]),
    );
  } finally {
    await stopChild(server);
    await stopChild(echo);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}
