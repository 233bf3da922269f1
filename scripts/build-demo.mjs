// `npm run build:demo`: the demo (the playground at its root, the example pages beside it) as
// static files with relative URLs, so it works from any static host and under any sub-path:
// dist/demo-static (or LIGHTCONE_DEMO_OUT). The engine worker, SQLite's and esbuild's WASM and the
// bundler worker are files in it, loaded relative to the page.
import { build } from 'vite';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(root, process.env.LIGHTCONE_DEMO_OUT ?? 'dist/demo-static');
await build({ configFile: join(root, 'vite.config.ts'), base: './', mode: 'production', logLevel: 'warn', build: { outDir, emptyOutDir: true } });
console.log(`the demo's static files are in ${outDir}: serve that folder from any static host (e.g. node e2e/static-server.mjs ${outDir})`);
