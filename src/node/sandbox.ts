// What a published module can reach inside a Node engine thread. A module is someone else's code
// (on a server, anyone who publishes), so before the first module loads, the engine thread:
// - removes the globals through which JavaScript reaches Node: `process` (whose `getBuiltinModule`
//   and `binding` lead to fs, net and child_process, and whose `env` holds the server's secrets) is
//   replaced by a frozen stand-in with only `nextTick` and an empty `env`, which libraries the
//   engine itself uses (`ws`) call; `fetch` and `WebSocket` reach the network; `BroadcastChannel`
//   reaches the other threads of the process, among them other databases' engines. What the engine
//   needs of them it took at import. (`Buffer` stays: it only holds bytes, and `ws` needs it.)
// - compiles bundles with `vm.Script` without a dynamic-import callback, so `import('node:fs')` in
//   a module (or in code it makes with `eval` or `Function`) fails instead of loading Node's modules.
// What stays is what SpacetimeDB's module runtime uses: the language, TextEncoder/Decoder, typed
// arrays, URL, and the syscalls the host hands in. Each database has its own thread (its own V8
// isolate and heap), so one module cannot see another's data in memory either.
import nodeProcess from 'node:process';
import vm from 'node:vm';
import { bundleBody, MODULE_PARAMS, setModuleEvaluator, type ModuleEvaluator } from '../host/load-module.ts';

/** Globals a module must not reach. */
export const NODE_GLOBALS = ['fetch', 'WebSocket', 'EventSource', 'BroadcastChannel', 'require', 'module'] as const;

const vmEvaluator: ModuleEvaluator = (code) => {
  // A function expression, so the bundle's top level runs when the loader calls it, as with `Function`.
  const script = new vm.Script(`(function (${MODULE_PARAMS.join(', ')}) {${bundleBody(code)}})`, { filename: 'module.js', lineOffset: -1 });
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
  const real = nodeProcess;
  const stand_in = Object.freeze({ nextTick: (f: (...a: unknown[]) => void, ...args: unknown[]) => real.nextTick(f, ...args), env: Object.freeze({}) });
  Object.defineProperty(g, 'process', { value: stand_in, writable: false, configurable: false, enumerable: false });
  removed.push('process');
  setModuleEvaluator(vmEvaluator);
  return removed;
}
