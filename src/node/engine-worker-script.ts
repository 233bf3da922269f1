// Finds the script of the engine thread. Built, it sits next to this code (dist/engine-worker.js,
// see scripts/build.mjs). Run from source (vitest, or a bundle made elsewhere such as the
// benchmarks'), Node cannot start a .ts worker, so engine-worker.ts is bundled with esbuild once per
// process into node_modules/.cache/lightcone/ (where its packages resolve), named by content hash.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InternalError } from '../errors.ts';

let script: Promise<URL> | undefined;

/** The engine thread's script, as a file URL for `new Worker`. */
export function engineWorkerScript(): Promise<URL> {
  script ??= locate().catch((error: unknown) => {
    script = undefined;
    throw error;
  });
  return script;
}

let sqlite: Promise<WebAssembly.Module | undefined> | undefined;

/**
 * sqlite3.wasm compiled once per process, for every engine thread to instantiate (compiling it
 * is most of a thread's start-up). Undefined if it cannot be found: each thread compiles its own.
 */
export function compiledSqlite(): Promise<WebAssembly.Module | undefined> {
  sqlite ??= (async () => {
    try {
      const file = createRequire(import.meta.url).resolve('@sqlite.org/sqlite-wasm/sqlite3.wasm');
      return await WebAssembly.compile(await readFile(file));
    } catch {
      return undefined;
    }
  })();
  return sqlite;
}

async function locate(): Promise<URL> {
  const built = new URL('./engine-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  const here = dirname(fileURLToPath(import.meta.url));
  const root = packageRoot(here);
  for (const source of [join(here, 'engine-worker.ts'), ...(root ? [join(root, 'src', 'node', 'engine-worker.ts')] : [])]) {
    if (existsSync(source) && root) return bundleToCache(source, root, 'engine-worker');
  }
  const inDist = root && join(root, 'dist', 'engine-worker.js');
  if (inDist && existsSync(inDist)) return pathToFileURL(inDist);
  throw new InternalError(`the engine thread's script was not found next to ${fileURLToPath(import.meta.url)}: rebuild Lightcone with \`npm run build\``, {}, { code: 'ENGINE_MISSING' });
}

/**
 * Bundles the TypeScript entry `source` for Node (packages external) into
 * `<root>/node_modules/.cache/lightcone/<name>-<hash>.mjs`, where its packages resolve; resolves
 * with that file's URL. Also what e2e uses to run src/server in the Playwright process.
 */
export async function bundleToCache(source: string, root: string, name: string): Promise<URL> {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [source],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  });
  const code = out.outputFiles[0]!.contents;
  const dir = join(root, 'node_modules', '.cache', 'lightcone');
  const file = join(dir, `${name}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    // Another process may write the same file at the same time: write aside, then rename.
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  }
  return pathToFileURL(file);
}

/** The folder of Lightcone's own package.json above `dir`, if any. */
function packageRoot(dir: string): string | undefined {
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lightcone') return dir;
      } catch {
        // Not ours; keep looking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
