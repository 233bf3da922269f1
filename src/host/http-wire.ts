// The HttpRequest / HttpResponse messages of `procedure_http_request` (lib/autogen/types.ts in the
// package, which does not export them): a plain request for the platform's HTTP client, and the
// response encoded back. Platform code (Node worker thread, browser sync XHR) does the I/O.
import { BinaryReader, BinaryWriter } from 'spacetimedb';

/** A request as the module asked for it. */
export interface PlainHttpRequest {
  method: string;
  headers: [string, string][];
  /** Milliseconds; SpacetimeDB's default is 30 s and its cap 180 s. */
  timeoutMs: number;
  url: string;
  body: Uint8Array;
}

/** What the platform's client got back. */
export interface PlainHttpResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** Performs one request synchronously, or throws an Error whose message says what failed. */
export type SyncHttp = (req: PlainHttpRequest) => PlainHttpResponse;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 180_000;

/** Decodes the runtime's BSATN HttpRequest plus its body (a string or bytes). */
export function decodeHttpRequest(request: Uint8Array, body: Uint8Array | string): PlainHttpRequest {
  const r = new BinaryReader(request);
  const tag = r.readU8();
  const method = tag === 9 ? r.readString() : METHODS[tag];
  if (method === undefined) throw new TypeError(`HttpRequest has an unknown method tag ${tag}`);
  const headers: [string, string][] = [];
  const dec = new TextDecoder();
  for (let n = r.readU32(); n > 0; n--) {
    const name = r.readString();
    headers.push([name, dec.decode(r.readUInt8Array())]);
  }
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (r.readU8() === 0) timeoutMs = Number(r.readI64() / 1000n);
  timeoutMs = Math.min(Math.max(timeoutMs, 1), MAX_TIMEOUT_MS);
  const url = r.readString();
  r.readU8(); // version: the platform client picks its own
  return { method, headers, timeoutMs, url, body: typeof body === 'string' ? new TextEncoder().encode(body) : body };
}

/** Encodes `[HttpResponse, body]` as the runtime expects them back. */
export function encodeHttpResponse(res: PlainHttpResponse): [Uint8Array, Uint8Array] {
  const w = new BinaryWriter(128);
  const enc = new TextEncoder();
  w.writeU32(res.headers.length);
  for (const [name, value] of res.headers) {
    w.writeString(name);
    w.writeUInt8Array(enc.encode(value));
  }
  w.writeU8(2); // Http11
  w.writeU16(res.status);
  return [w.getBuffer().slice(), res.body];
}

/**
 * A request to a module's HTTP handlers (`db.fetchRoute`), as plain data that crosses threads
 * and `postMessage`: what SpacetimeDB serves at `/v1/database/:name/route/<path>`.
 */
export interface RouteRequest {
  /** `GET`, `POST`, … (standard methods in any case; others as they are). */
  method: string;
  /** The route path: `''` (the route root), `/`, or `/a/b`, optionally with `?query`. */
  path: string;
  /** The URL the handler sees as `req.uri` (default: `path`). */
  uri?: string;
  headers?: [string, string][];
  body?: Uint8Array;
}

/** A handler's response, as plain data. */
export interface RouteResponse {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** `method` as SpacetimeDB names it: standard methods upper case, any other as it is. */
export function normalizeMethod(method: string): string {
  const upper = method.toUpperCase();
  return METHODS.includes(upper) ? upper : method;
}

/** Encodes the BSATN HttpRequest a module's HTTP handler receives (its body travels beside it). */
export function encodeHttpRequest(req: { method: string; uri: string; headers: [string, string][] }): Uint8Array {
  const w = new BinaryWriter(128);
  const enc = new TextEncoder();
  const tag = METHODS.indexOf(req.method);
  w.writeU8(tag >= 0 ? tag : 9);
  if (tag < 0) w.writeString(req.method);
  w.writeU32(req.headers.length);
  for (const [name, value] of req.headers) {
    w.writeString(name);
    w.writeUInt8Array(enc.encode(value));
  }
  w.writeU8(1); // timeout: none
  w.writeString(req.uri);
  w.writeU8(2); // Http11
  return w.getBuffer().slice();
}

/** Decodes the BSATN HttpResponse a handler returned, with its body. */
export function decodeHttpResponse(response: Uint8Array, body: Uint8Array): RouteResponse {
  const r = new BinaryReader(response);
  const headers: [string, string][] = [];
  const dec = new TextDecoder();
  for (let n = r.readU32(); n > 0; n--) {
    const name = r.readString();
    headers.push([name, dec.decode(r.readUInt8Array())]);
  }
  r.readU8(); // version
  const status = r.readU16();
  return { status, headers, body: body.slice() };
}
