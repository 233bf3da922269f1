// Vite serves and builds the demo (demo/: the playground at its root, the chat and other examples beside it): `npm run demo` for the dev
// server, `vite build && vite preview` for e2e. `--mode e2e` compiles the worker's storage fault
// hooks in (see worker/test-hooks.ts); no other build has them.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import lightcone from './src/vite/plugin.ts';
import { playgroundFiles } from './demo/playground/vite-plugin.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig(({ mode }) => ({
  root: here('./demo'),
  // playgroundFiles: the spacetimedb files the playground's in-page bundler (esbuild-wasm) bundles against.
  plugins: [lightcone(), playgroundFiles()],
  resolve: {
    alias: [
      // Inside this repository `lightcone` is the source itself (an app gets it from node_modules).
      { find: /^lightcone$/, replacement: here('./src/index.ts') },
      // The contract page runs src/durability/contract.ts on a tiny stand-in for vitest.
      { find: /^vitest$/, replacement: here('./e2e/vitest-shim.ts') },
    ],
  },
  // The engine worker imports spacetimedb's TypeScript sources (src/protocol/client-api.js), whose
  // CommonJS dependency base64-js the dev server must pre-bundle (else the worker fails to load).
  // esbuild-wasm: the playground's bundler worker, typescript-js its type checker (known up front, so the dev server does not reload the page to add them).
  optimizeDeps: { include: ['base64-js', 'esbuild-wasm/esm/browser.js', 'typescript-js'] },
  define: { __LIGHTCONE_TEST_HOOKS__: JSON.stringify(mode === 'e2e') },
  server: { host: 'localhost', port: 5173, fs: { allow: [here('.')] } },
  preview: { host: 'localhost', port: 4173 },
  build: {
    // LIGHTCONE_DEMO_OUT: another output folder (two e2e runs on one machine must not share one).
    outDir: process.env.LIGHTCONE_DEMO_OUT ? here(`./${process.env.LIGHTCONE_DEMO_OUT}`) : here('./dist/demo'),
    emptyOutDir: true,
    target: 'es2022',
    // e2e builds add the durability contract page (Chromium's IndexedDB against the shared suite)
    // and the sync page (a database following a `lightcone start` server, e2e/sync.spec.ts).
    // demo/react/: the same chat on SpacetimeDB's own SDK and React hooks over local().
    // demo/notes.html: collaborative notes (examples/notes) following a server (e2e/notes.spec.ts).
    rollupOptions: {
      input:
        mode === 'e2e'
          ? {
              main: here('./demo/index.html'),
              chat: here('./demo/chat.html'),
              react: here('./demo/react/index.html'),
              notes: here('./demo/notes.html'),
              contract: here('./demo/contract.html'),
              sync: here('./demo/sync.html'),
            }
          : { main: here('./demo/index.html'), chat: here('./demo/chat.html'), react: here('./demo/react/index.html'), notes: here('./demo/notes.html') },
    },
  },
  worker: { format: 'es', plugins: () => [playgroundFiles()] },
}));
