// Debian's Chromium for Playwright (never a downloaded browser): its path and the flags that keep
// it quiet on a machine without network. LIGHTCONE_CHROMIUM overrides the path.
import { existsSync } from 'node:fs';

/** The Chromium binary: the real one behind Debian's /usr/bin/chromium wrapper when present. */
export const CHROMIUM = process.env.LIGHTCONE_CHROMIUM ?? (existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : '/usr/bin/chromium');

/** Launch flags (Playwright adds --headless itself). */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The port `vite preview` serves the e2e build on (LIGHTCONE_E2E_PORT overrides it, so two runs can share a machine). */
export const PORT = Number(process.env.LIGHTCONE_E2E_PORT ?? 4317);

/** The port of the plain static server for the built playground (LIGHTCONE_STATIC_PORT, else the e2e port + 100). */
export const STATIC_PORT = Number(process.env.LIGHTCONE_STATIC_PORT ?? PORT + 100);

/** The sub-path the static server mounts the build under: the build must work from any path. */
export const STATIC_PREFIX = '/lightcone/playground/';
