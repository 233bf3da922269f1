// Builds the browser benchmark page (bench/browser/run.mjs serves it with `vite preview` and
// drives it in Debian's Chromium with a persistent, on-disk profile).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import lightcone from '../../src/vite/plugin.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('.'),
  plugins: [lightcone()],
  resolve: { alias: [{ find: /^lightcone$/, replacement: here('../../src/index.ts') }] },
  preview: { host: 'localhost', port: 4319, strictPort: true },
  build: { outDir: here('../../dist/bench-browser'), emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  logLevel: 'warn',
});
