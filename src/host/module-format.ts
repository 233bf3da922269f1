// Shared facts about module bundles, used by the Node bundler, the browser bundler and the loader.
import type { BuildOptions } from 'esbuild';

/** The exact `spacetimedb` version whose syscall interface this host implements. */
export const PINNED_SPACETIMEDB_VERSION = '2.10.1';

/**
 * esbuild `define`s applied to every module bundle. The module's free `console` becomes a
 * per-instance slot, so that several modules in one realm each log to their own database, and
 * `Math.random` is replaced as SpacetimeDB does (reducers must use `ctx.random`).
 */
export const BUNDLE_DEFINES: Record<string, string> = {
  console: '__lightcone.console',
  'globalThis.console': '__lightcone.console',
  'Math.random': '__lightcone.mathRandom',
};

/**
 * The esbuild options every module bundle is built with, wherever it is built (`lightcone
 * publish`, an uploaded bundle, the playground's esbuild-wasm): one CommonJS script for the
 * host's loader, with the syscall modules left to it. Callers add the entry and the resolution.
 */
export const BUNDLE_OPTIONS = {
  bundle: true,
  write: false,
  format: 'cjs',
  platform: 'neutral',
  target: 'es2022',
  external: ['spacetime:sys@2.0', 'spacetime:sys@2.1'],
  define: BUNDLE_DEFINES,
  logLevel: 'silent',
  sourcemap: false,
  legalComments: 'none',
} as const satisfies BuildOptions;
