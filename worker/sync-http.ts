// Synchronous HTTP for procedures in the browser (`ctx.http.fetch` is synchronous in SpacetimeDB):
// a synchronous XMLHttpRequest, which workers still allow. Binary bodies go out as Uint8Array; the
// response is read as bytes through the x-user-defined charset trick (responseType is not
// available on synchronous requests).
import type { PlainHttpRequest, PlainHttpResponse, SyncHttp } from '../src/host/http-wire.ts';

/** The worker's implementation of synchronous HTTP, or undefined where XHR is missing. */
export const xhrSyncHttp: SyncHttp | undefined =
  typeof XMLHttpRequest === 'undefined'
    ? undefined
    : (req: PlainHttpRequest): PlainHttpResponse => {
        const xhr = new XMLHttpRequest();
        xhr.open(req.method, req.url, false);
        xhr.overrideMimeType('text/plain; charset=x-user-defined');
        try {
          xhr.timeout = req.timeoutMs; // allowed for synchronous requests in workers (not in windows)
        } catch {
          /* the elapsed-time check below still reports a timeout */
        }
        for (const [name, value] of req.headers) xhr.setRequestHeader(name, value);
        const started = Date.now();
        try {
          xhr.send(req.method === 'GET' || req.method === 'HEAD' || req.body.length === 0 ? null : (req.body as Uint8Array<ArrayBuffer>));
        } catch (e) {
          if ((e as Error).name === 'TimeoutError') throw new Error(`request to ${req.url} timed out after ${req.timeoutMs} ms`);
          throw new Error(`request to ${req.url} failed: ${(e as Error).message}`);
        }
        if (Date.now() - started > req.timeoutMs) throw new Error(`request to ${req.url} timed out after ${req.timeoutMs} ms`);
        if (xhr.status === 0) throw new Error(`request to ${req.url} failed (network error or blocked by CORS)`);
        const text = xhr.responseText;
        const body = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) body[i] = text.charCodeAt(i) & 0xff;
        const headers: [string, string][] = xhr
          .getAllResponseHeaders()
          .trim()
          .split(/[\r\n]+/)
          .filter(Boolean)
          .map((line) => {
            const i = line.indexOf(':');
            return [line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()] as [string, string];
          });
        return { status: xhr.status, headers, body };
      };
