// `db.fetch`: a database's HTTP handlers in the web's own terms (Request in, Response out), built
// on `fetchRoute`, the plain-data form that crosses worker threads and `postMessage`. Only the
// edges (this file) touch Request and Response.
import type { RouteRequest, RouteResponse } from '../host/http-wire.ts';
import { InternalError, UsageError } from '../errors.ts';

/** Where a relative input (`'/hello'`) is resolved: the handler sees `http://localhost/hello`. */
const BASE = 'http://localhost';
/** SpacetimeDB's prefix of a database's routes; a URL carrying it routes by what follows. */
const ROUTE_PREFIX = /^\/v1\/database\/[^/]+\/route(?=\/|$)/;

/** The plain request for `fetch(input, init)`: method, route path (+ query), the URL, headers and body. */
export async function toRouteRequest(input: Request | string | URL, init?: RequestInit): Promise<RouteRequest> {
  let request: Request;
  try {
    request = new Request(typeof input === 'string' && !/^[a-z][a-z0-9+.-]*:/i.test(input) ? new URL(input, BASE) : input, init);
  } catch (e) {
    throw new UsageError('BAD_REQUEST', `db.fetch needs a Request, a URL or a path such as '/hello': ${(e as Error).message}`);
  }
  const url = new URL(request.url);
  const path = url.pathname.replace(ROUTE_PREFIX, '') + url.search;
  const headers = [...request.headers] as [string, string][];
  const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
  return { method: request.method, path, uri: request.url, headers, ...(body ? { body } : {}) };
}

/** A Response for the plain one (statuses that carry no body get none). */
export function toResponse(res: RouteResponse): Response {
  if (res.status < 200 || res.status > 599) {
    throw new InternalError(`the HTTP handler answered with status ${res.status}, which a Response cannot carry: db.fetchRoute returns it as it is`, { status: res.status });
  }
  const nullBody = res.status === 204 || res.status === 205 || res.status === 304;
  return new Response(nullBody ? null : (res.body as Uint8Array<ArrayBuffer>), { status: res.status, headers: res.headers });
}

/** `fetch(input, init)` over a database's `fetchRoute`. */
export function routeFetch(fetchRoute: (req: RouteRequest) => Promise<RouteResponse>): (input: Request | string | URL, init?: RequestInit) => Promise<Response> {
  return async (input, init) => toResponse(await fetchRoute(await toRouteRequest(input, init)));
}
