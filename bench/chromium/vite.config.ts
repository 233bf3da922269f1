// Vite config of the Chromium benchmark page (bench/chromium/): built by run.ts into a temporary
// folder (BENCH_OUT_DIR) and served on loopback. The demo's settings (the Lightcone plugin, ES
// module workers) plus PGlite kept out of dependency pre-bundling (it finds its .wasm/.data next
// to itself, like sqlite-wasm).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import lightcone from '../../src/vite/plugin.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  logLevel: 'warn',
  plugins: [lightcone()],
  optimizeDeps: { exclude: ['@sqlite.org/sqlite-wasm', '@electric-sql/pglite'] },
  build: {
    outDir: process.env.BENCH_OUT_DIR ?? here('../../dist/bench-chromium'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 100_000,
    reportCompressedSize: false,
  },
  worker: { format: 'es' },
});
