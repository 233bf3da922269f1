// Synchronous HTTP for procedures in Node (`ctx.http.fetch` is synchronous in SpacetimeDB): a
// worker thread does the fetch while the calling thread waits on Atomics and then reads the
// answer with receiveMessageOnPort. One worker serves every request of the process.
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { PlainHttpRequest, PlainHttpResponse, SyncHttp } from '../host/http-wire.ts';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', async ({ req, port, signal }) => {
  const flag = new Int32Array(signal);
  let out;
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.method === 'GET' || req.method === 'HEAD' || req.body.length === 0 ? undefined : req.body,
      signal: AbortSignal.timeout(req.timeoutMs),
      redirect: 'follow',
    });
    const body = new Uint8Array(await res.arrayBuffer());
    out = { ok: true, status: res.status, headers: [...res.headers.entries()], body };
  } catch (e) {
    const cause = e && e.cause && e.cause.message ? ': ' + e.cause.message : '';
    out = { ok: false, message: (e && e.name === 'TimeoutError') ? 'request to ' + req.url + ' timed out after ' + req.timeoutMs + ' ms' : String(e && e.message || e) + cause };
  }
  port.postMessage(out);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

let worker: Worker | undefined;

/** The Node implementation of synchronous HTTP for procedures. */
export const nodeSyncHttp: SyncHttp = (req: PlainHttpRequest): PlainHttpResponse => {
  worker ??= new Worker(WORKER_SOURCE, { eval: true });
  worker.unref();
  const signal = new SharedArrayBuffer(4);
  const flag = new Int32Array(signal);
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ req, port: port2, signal }, [port2 as MessagePort]);
  // Wait a little longer than the request's own timeout, which the worker enforces.
  const r = Atomics.wait(flag, 0, 0, req.timeoutMs + 5_000);
  const msg = receiveMessageOnPort(port1)?.message as { ok: true; status: number; headers: [string, string][]; body: Uint8Array } | { ok: false; message: string } | undefined;
  port1.close();
  if (r === 'timed-out' || !msg) throw new Error(`request to ${req.url} timed out after ${req.timeoutMs} ms`);
  if (!msg.ok) throw new Error(msg.message);
  return { status: msg.status, headers: msg.headers, body: msg.body };
};
