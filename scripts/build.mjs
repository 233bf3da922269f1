// Bundles the Node entry points (CLI, lightcone/node, lightcone/vite, the engine thread) from src/ into dist/ with esbuild.
// Runs on `npm install` (prepare) so `npx lightcone` works on a fresh clone.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: {
    cli: join(root, 'src/cli/main.ts'),
    node: join(root, 'src/node/index.ts'),
    vite: join(root, 'src/vite/plugin.ts'),
    // The engine thread of Node databases: found next to cli.js and node.js (see engine-worker-script.ts).
    'engine-worker': join(root, 'src/node/engine-worker.ts'),
  },
  outdir: join(root, 'dist'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
