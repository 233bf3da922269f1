// What a published module can reach inside a Node engine thread. A module is someone else's code
// (on a server, anyone who publishes), so before the first module loads, the engine thread:
// - removes the globals through which JavaScript reaches Node (`process`, whose
//   `getBuiltinModule` leads to fs, net and child_process; `Buffer`; `fetch` and `WebSocket`, which
//   reach the network; `BroadcastChannel`, which reaches the other threads of the process, among
//   them other databases' engines); what the engine itself needs of them it took at import;
// - compiles bundles with `vm.Script` without a dynamic-import callback, so `import('node:fs')` in
//   a module (or in code it makes with `eval` or `Function`) fails instead of loading Node's modules.
// What stays is what SpacetimeDB's module runtime uses: the language, TextEncoder/Decoder, typed
// arrays, URL, and the syscalls the host hands in. Each database has its own thread (its own V8
// isolate and heap), so one module cannot see another's data in memory either.
import vm from 'node:vm';
import { MODULE_PARAMS, setModuleEvaluator, type ModuleEvaluator } from '../host/load-module.ts';

/** Globals a module must not reach. */
export const NODE_GLOBALS = ['process', 'Buffer', 'fetch', 'WebSocket', 'EventSource', 'BroadcastChannel', 'require', 'module'] as const;

const vmEvaluator: ModuleEvaluator = (code) => {
  // A function expression, so the bundle's top level runs when the loader calls it, as with `Function`.
  const script = new vm.Script(`(function (${MODULE_PARAMS.join(', ')}) {\n${code}\n})`, { filename: 'module.js', lineOffset: -1 });
  return script.runInThisContext() as ReturnType<ModuleEvaluator>;
};

/**
 * Locks this thread down for module code (call once, before any module loads). Returns the names
 * of the globals it removed.
 */
export function lockDownForModules(): string[] {
  const removed: string[] = [];
  const g = globalThis as Record<string, unknown>;
  // Node loads the code behind these web globals on first use, and that code needs `Buffer`:
  // load it now, while it is there (the module runtime uses Headers for ctx.http and routes).
  new Response(new Headers({ 'x-a': 'b' }).get('x-a')).headers.get('x');
  void new Request('http://localhost/', { method: 'POST', body: new FormData() });
  for (const name of NODE_GLOBALS) {
    if (!(name in g)) continue;
    try {
      delete g[name];
      if (!(name in g)) removed.push(name);
    } catch {
      // Not configurable in this Node: hide it instead.
      Object.defineProperty(g, name, { value: undefined, configurable: false, writable: false });
      removed.push(name);
    }
  }
  setModuleEvaluator(vmEvaluator);
  return removed;
}
