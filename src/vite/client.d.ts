// Types for `import m from './module.ts?lightcone'` (the Vite plugin `lightcone/vite`). In an
// app, reference it once: `/// <reference types="lightcone/vite/client" />`.

declare module '*?lightcone' {
  /** A SpacetimeDB module bundled for the Lightcone worker: pass it to `connect({ name, module })`. */
  const module: {
    /** The bundle. */
    readonly code: string;
    /** The module's entry file, relative to the Vite root. */
    readonly entry: string;
    /** A hash of `code`. */
    readonly hash: string;
  };
  export default module;
}
