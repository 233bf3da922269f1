// The compiler options of the playground's type checker (typescript.worker.ts), as tsconfig JSON:
// those of the tsconfig `lightcone init` writes, with the libraries a module's sandbox has. A
// module runs in the engine's worker, not in a page: it gets ES2023 and the `console` SpacetimeDB
// gives it (GLOBALS), not the DOM. The build (vite-plugin.ts) reads, in Node, the declaration files
// these options reach from `spacetimedb`, `spacetimedb/server` and `yjs`, and gives exactly those to
// the worker.
export const TYPESCRIPT_OPTIONS = {
  target: 'es2022',
  module: 'preserve',
  moduleResolution: 'bundler',
  lib: ['es2023'],
  types: [],
  strict: true,
  skipLibCheck: true,
  isolatedModules: true,
  noEmit: true,
};

/** The module's file name in the type checker's file system. */
export const MODULE_FILE = '/module.ts';
/** The sandbox's globals in that file system. */
export const GLOBALS_FILE = '/playground-globals.d.ts';

/** What a module's sandbox has beyond ES2023: SpacetimeDB's console (its output goes to the module's log). No DOM, no timers, no fetch (procedures use ctx.http). */
export const GLOBALS = `interface Console {
  assert(condition?: boolean, ...data: any[]): void;
  clear(): void;
  count(label?: string): void;
  countReset(label?: string): void;
  debug(...data: any[]): void;
  dir(item?: any, options?: any): void;
  dirxml(...data: any[]): void;
  error(...data: any[]): void;
  group(...data: any[]): void;
  groupCollapsed(...data: any[]): void;
  groupEnd(): void;
  info(...data: any[]): void;
  log(...data: any[]): void;
  table(tabularData?: any, properties?: string[]): void;
  time(label?: string): void;
  timeEnd(label?: string): void;
  timeLog(label?: string, ...data: any[]): void;
  trace(...data: any[]): void;
  warn(...data: any[]): void;
}
declare var console: Console;
`;
