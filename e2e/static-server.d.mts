// Types of e2e/static-server.mjs (a plain Node script, so that it runs without a build step).

/** Serves `dir` under `prefix` (default `/`) on `host` (default 127.0.0.1); `port` 0 or absent: any free port. */
export function serveStatic(opts: { dir: string; port?: number; host?: string; prefix?: string }): Promise<{ url: string; close(): Promise<void> }>;
