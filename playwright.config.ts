// Playwright runs e2e/ in Debian's Chromium. Two projects, each with its own server:
// - `chromium`: the demo built with test hooks (`vite build --mode e2e`) and served by `vite preview`;
// - `static`: the playground as `npm run build:demo` builds it (relative URLs, no test hooks), served
//   by a plain static file server (e2e/static-server.mjs) under a sub-path, as any static host would
//   (e2e/playground-static.spec.ts).
// LIGHTCONE_E2E_ONLY=chromium|static starts only that project's server (run its specs with
// `--project <name>`). One worker: these machines have 2 cores.
import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS, PORT, STATIC_PORT, STATIC_PREFIX } from './e2e/chromium.ts';

const only = process.env.LIGHTCONE_E2E_ONLY;
const staticOut = `${process.env.LIGHTCONE_DEMO_OUT ?? 'dist/demo'}-static`;
const STATIC_SPECS = ['playground-static.spec.ts'];

export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? 'line' : 'list',
  use: {
    headless: true,
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
  },
  projects: [
    ...(only === 'static' ? [] : [{ name: 'chromium', testIgnore: STATIC_SPECS, use: { baseURL: `http://localhost:${PORT}` } }]),
    ...(only === 'chromium' ? [] : [{ name: 'static', testMatch: STATIC_SPECS, use: { baseURL: `http://127.0.0.1:${STATIC_PORT}${STATIC_PREFIX}` } }]),
  ],
  webServer: [
    ...(only === 'static'
      ? []
      : [
          {
            command: `npx vite build --mode e2e --logLevel warn && npx vite preview --port ${PORT} --strictPort`,
            url: `http://localhost:${PORT}`,
            reuseExistingServer: false,
            timeout: 120_000,
            stdout: 'ignore' as const,
            stderr: 'pipe' as const,
          },
        ]),
    ...(only === 'chromium'
      ? []
      : [
          {
            command: `node scripts/build-demo.mjs && node e2e/static-server.mjs ${staticOut} --port ${STATIC_PORT} --prefix ${STATIC_PREFIX}`,
            url: `http://127.0.0.1:${STATIC_PORT}${STATIC_PREFIX}`,
            env: { LIGHTCONE_DEMO_OUT: staticOut },
            reuseExistingServer: false,
            timeout: 120_000,
            stdout: 'ignore' as const,
            stderr: 'pipe' as const,
          },
        ]),
  ],
});
