// Evaluates a module bundle (CommonJS text from `bundleModule`) in this realm with the host's
// syscalls as `spacetime:sys@2.0`/`@2.1`, then registers its exports and returns the hooks.
// Works the same in Node and in a worker: no `vm`, no dynamic import.
import { ModuleError } from '../errors.ts';
import type { RawModuleDefV10Like } from './module-def.ts';
import { moduleRunWatcher, watched, type ModuleRunWatcher } from './module-watch.ts';
import { ModuleTextDecoder, ModuleTextEncoder } from './text-codec.ts';

/** The hooks object the runtime returns (`ModuleHooksImpl`); always call methods on it. */
export interface ModuleHooks {
  __describe_module__(): Uint8Array;
  __get_error_constructor__(code: number): new (msg: string) => Error;
  readonly __sender_error_class__: new (msg: string) => Error;
  __call_reducer__(reducerId: number, sender: bigint, connId: bigint, timestamp: bigint, argsBuf: DataView): void;
  __call_view__(id: number, sender: bigint, args: Uint8Array): { data: Uint8Array } | Uint8Array;
  __call_view_anon__(id: number, args: Uint8Array): { data: Uint8Array } | Uint8Array;
  __call_procedure__(id: number, sender: bigint, connId: bigint, timestamp: bigint, args: Uint8Array): Uint8Array;
  __call_http_handler__?(id: number, timestamp: bigint, request: Uint8Array, body: Uint8Array): [Uint8Array, Uint8Array];
}

export interface LoadedModule {
  hooks: ModuleHooks;
  /** `RawModuleDefV10` as the runtime built it (the typed value behind `__describe_module__`). */
  moduleDef: RawModuleDefV10Like;
  /** BSATN of `RawModuleDef` (for change detection). */
  describe: Uint8Array;
}

/** Per-module globals the bundle reads instead of the realm's (see BUNDLE_DEFINES). */
export interface ModuleGlobals {
  console: unknown;
  mathRandom: () => number;
}

/** Turns a bundle's text into the function that runs it (CommonJS-style parameters). */
export type ModuleEvaluator = (
  code: string,
) => (
  require: (id: string) => unknown,
  module: { exports: Record<string, unknown> },
  exports: Record<string, unknown>,
  lc: ModuleGlobals,
  textEncoder: typeof TextEncoder,
  textDecoder: typeof TextDecoder,
) => void;

/**
 * The parameters of the function a bundle becomes, in order. `TextEncoder` and `TextDecoder`
 * shadow the realm's with the host's short-string fast paths (see text-codec.ts): the module's
 * runtime makes one per string it reads or writes.
 */
export const MODULE_PARAMS = ['require', 'module', 'exports', '__lightcone', 'TextEncoder', 'TextDecoder'] as const;

/**
 * The body of the function a bundle becomes: the bundle in an inner function, so that its own
 * top-level `let`/`const`/`class` named like a parameter (`TextEncoder`, say) shadows it instead
 * of being a redeclaration, which would not compile. The bundle starts on the body's second line.
 */
export function bundleBody(code: string): string {
  return `return (function () {\n${code}\n}).call(this);`;
}

let evaluator: ModuleEvaluator = (code) =>
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  new Function(...MODULE_PARAMS, bundleBody(code)) as ReturnType<ModuleEvaluator>;

/**
 * Replaces how this realm turns bundles into functions (for modules loaded from now on). The Node
 * engine thread compiles them with `vm`, so that a module's `import()` finds no module loader.
 */
export function setModuleEvaluator(e: ModuleEvaluator): void {
  evaluator = e;
}

/**
 * Evaluates `code` with `sys20`/`sys21` as the syscall modules. `moduleHooks` must be the symbol
 * that `sys20.moduleHooks` holds. Throws ModuleError when the module throws at load or is not a
 * SpacetimeDB module.
 */
export function loadModule(code: string, sys20: Record<string, unknown>, sys21: Record<string, unknown>, fallbackConsole: unknown): LoadedModule {
  const moduleHooks = sys20.moduleHooks as symbol;
  const globals: ModuleGlobals = {
    console: fallbackConsole,
    mathRandom: () => {
      throw new Error('Math.random is not available in SpacetimeDB modules: use ctx.random instead');
    },
  };
  const require = (id: string): unknown => {
    if (id === 'spacetime:sys@2.0') return sys20;
    if (id === 'spacetime:sys@2.1') return sys21;
    throw new TypeError(`Could not find module '${id}': a SpacetimeDB module may only import spacetime:sys@2.x beyond its bundle`);
  };
  const mod: { exports: Record<string, unknown> } = { exports: {} };
  // Loading runs the module's top-level code: a watchdog times it like any call.
  const watcher = moduleRunWatcher();
  try {
    watched(watcher, 'load', -1, () => evaluator(code)(require, mod, mod.exports, globals, ModuleTextEncoder, ModuleTextDecoder));
  } catch (e) {
    throw new ModuleError('MODULE_LOAD_FAILED', `the module threw while loading: ${errText(e)}`, { cause: errText(e) }, { cause: e });
  }
  const exportsObj = mod.exports;
  const schema = exportsObj.default as Record<symbol | string, unknown> | undefined;
  const register = schema?.[moduleHooks];
  if (typeof register !== 'function') {
    throw new ModuleError('NOT_A_MODULE', 'the module has no default export made by schema(...): add `export default spacetimedb` (the value returned by schema({...})) to its entry file');
  }
  // A real ES module namespace lists its keys in sorted order; the runtime numbers reducers in that order.
  const ns: Record<string, unknown> = {};
  for (const key of Object.keys(exportsObj).sort()) ns[key] = exportsObj[key];
  let hooks: ModuleHooks;
  let describe: Uint8Array;
  try {
    hooks = watched(watcher, 'load', -1, () => (register as (this: unknown, e: object) => ModuleHooks).call(schema, ns));
    const d = watched(watcher, 'load', -1, () => hooks.__describe_module__());
    describe = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  } catch (e) {
    throw new ModuleError('MODULE_INVALID', `the module's exports could not be registered: ${errText(e)}`, { cause: errText(e) }, { cause: e });
  }
  if (describe[0] !== 2) {
    throw new ModuleError('MODULE_INVALID', `the module describes itself as RawModuleDef variant ${describe[0]}; Lightcone hosts V10 (spacetimedb 2.x) modules`);
  }
  const moduleDef = toSections(schema!.moduleDef);
  if (!moduleDef) {
    throw new ModuleError('MODULE_INVALID', 'the module default export has no moduleDef: is it built with spacetimedb 2.10.1?');
  }
  return { hooks: watcher ? watchHooks(hooks, watcher) : hooks, moduleDef, describe };
}

/** The hooks, reporting every entry into module code to `w` (see module-watch.ts). */
function watchHooks(h: ModuleHooks, w: ModuleRunWatcher): ModuleHooks {
  const out: ModuleHooks = {
    __describe_module__: () => h.__describe_module__(),
    __get_error_constructor__: (code) => h.__get_error_constructor__(code),
    get __sender_error_class__() {
      return h.__sender_error_class__;
    },
    __call_reducer__: (id, sender, connId, timestamp, args) => watched(w, 'reducer', id, () => h.__call_reducer__(id, sender, connId, timestamp, args)),
    __call_view__: (id, sender, args) => watched(w, 'view', id, () => h.__call_view__(id, sender, args)),
    __call_view_anon__: (id, args) => watched(w, 'view', id, () => h.__call_view_anon__(id, args)),
    __call_procedure__: (id, sender, connId, timestamp, args) => watched(w, 'procedure', id, () => h.__call_procedure__(id, sender, connId, timestamp, args)),
  };
  const http = h.__call_http_handler__;
  if (http) out.__call_http_handler__ = (id, timestamp, request, body) => watched(w, 'http', id, () => http.call(h, id, timestamp, request, body));
  return out;
}

/** `message` of an Error, or the value as text. */
export function errText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

/** Section tag of each `ModuleDef` field (the package's value behind `rawModuleDefV10()`). */
const SECTION_OF: Record<string, string> = {
  typespace: 'Typespace',
  types: 'Types',
  tables: 'Tables',
  reducers: 'Reducers',
  procedures: 'Procedures',
  views: 'Views',
  viewPrimaryKeys: 'ViewPrimaryKeys',
  schedules: 'Schedules',
  lifeCycleReducers: 'LifeCycleReducers',
  httpHandlers: 'HttpHandlers',
  httpRoutes: 'HttpRoutes',
  rowLevelSecurity: 'RowLevelSecurity',
  explicitNames: 'ExplicitNames',
  caseConversionPolicy: 'CaseConversionPolicy',
  submodules: 'Submodules',
};

/** The schema's typed module definition in RawModuleDefV10's section form. */
function toSections(def: unknown): RawModuleDefV10Like | undefined {
  if (!def || typeof def !== 'object') return undefined;
  if (Array.isArray((def as RawModuleDefV10Like).sections)) return def as RawModuleDefV10Like;
  const sections: RawModuleDefV10Like['sections'] = [];
  for (const [field, tag] of Object.entries(SECTION_OF)) {
    const value = (def as Record<string, unknown>)[field];
    if (value !== undefined) sections.push({ tag, value });
  }
  return sections.some((s) => s.tag === 'Tables') ? { sections } : undefined;
}
