// A plain static file server (node:http, nothing else): serves a folder as any static host would,
// so the built demo (`npm run build:demo`) is tested the way it is deployed. `prefix` mounts the
// folder under a sub-path (`/some/where/`), to show the build works from any path.
//
//   node e2e/static-server.mjs <folder> [--port 4405] [--prefix /sub/path/]
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { basename, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/**
 * Serves `dir` under `prefix` on 127.0.0.1 (`port` 0: any free port).
 * @param {{ dir: string; port?: number; host?: string; prefix?: string }} opts
 * @returns {Promise<{ url: string; close(): Promise<void> }>} `url` ends with the prefix
 */
export function serveStatic(opts) {
  const root = resolve(opts.dir);
  const prefix = `/${(opts.prefix ?? '/').replace(/^\/+|\/+$/g, '')}/`.replace('//', '/');
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0].split('#')[0]);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET and HEAD');
    if (!path.startsWith(prefix)) {
      // The prefix without its slash: redirect, as static hosts do for a folder.
      if (`${path}/` === prefix) return redirect(res, prefix);
      return send(res, 404, `not found: ${path} (this server serves ${prefix})`);
    }
    let file = normalize(join(root, path.slice(prefix.length)));
    if (file !== root && !file.startsWith(root + sep)) return send(res, 403, 'outside the served folder');
    let stat = statOrUndefined(file);
    if (stat?.isDirectory()) {
      if (!path.endsWith('/')) return redirect(res, `${path}/`);
      file = join(file, 'index.html');
      stat = statOrUndefined(file);
    }
    if (!stat?.isFile()) return send(res, 404, `not found: ${path}`);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      // Revalidate on every load (as a fresh deploy would be): a test never sees an old build.
      'cache-control': 'no-cache',
      'last-modified': stat.mtime.toUTCString(),
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : opts.port;
      resolveListen({
        url: `http://${opts.host ?? '127.0.0.1'}:${port}${prefix}`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

function statOrUndefined(file) {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

function send(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function redirect(res, location) {
  res.writeHead(301, { location });
  res.end();
}

// Run as a script (not when imported, nor when bundled into another script such as the bench's).
if (process.argv[1] && basename(process.argv[1]) === 'static-server.mjs' && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flag = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const port = Number(flag('--port') ?? 4405);
  const host = flag('--host') ?? '127.0.0.1';
  const prefix = flag('--prefix') ?? '/';
  const dir = args[0];
  if (!dir) {
    console.error('usage: node e2e/static-server.mjs <folder> [--port 4405] [--host 127.0.0.1] [--prefix /sub/path/]');
    process.exit(2);
  }
  const { url } = await serveStatic({ dir, port, host, prefix });
  console.log(`serving ${resolve(dir)} at ${url}`);
}
