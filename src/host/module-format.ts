// Shared facts about module bundles, used by the Node bundler, the browser bundler and the loader.

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
