// Reads a module's definition for code generation: bundles the module as `publish` does, runs its
// top-level code once with the host's syscalls over no database, and returns the RawModuleDefV10
// the package built. Nothing is stored and no lifecycle reducer runs; a module that touches the
// database while loading gets the same NOT_IN_TRANSACTION error SpacetimeDB gives it.
import type { Datastore } from '../datastore/datastore.ts';
import { ModuleError } from '../errors.ts';
import { bundleModule } from '../host/bundle.ts';
import { loadModule } from '../host/load-module.ts';
import type { RawModuleDefV10Like } from '../host/module-def.ts';
import { installPolyfills } from '../host/polyfills.ts';
import { Syscalls, type SyscallHost } from '../host/syscalls.ts';

/** A module's definition and the entry file it was read from. */
export interface ModuleDefinition {
  def: RawModuleDefV10Like;
  entry: string;
}

/**
 * Bundles and loads the module at `path` (an entry file, or a folder with index.ts / src/index.ts)
 * and returns its RawModuleDefV10. Throws ModuleError (MODULE_NOT_FOUND, BUNDLE_FAILED,
 * MODULE_LOAD_FAILED, NOT_A_MODULE, MODULE_INVALID) when it cannot.
 */
export async function readModuleDefinition(path: string): Promise<ModuleDefinition> {
  const bundle = await bundleModule(path);
  installPolyfills();
  const syscalls = new Syscalls(noDatabaseHost());
  const silent = { log() {}, info() {}, warn() {}, error() {}, debug() {}, trace() {} };
  const loaded = loadModule(bundle.code, syscalls.sys20, syscalls.sys21, silent);
  return { def: loaded.moduleDef, entry: bundle.entry };
}

/**
 * A syscall host with no database behind it. Outside a transaction the syscalls refuse before they
 * reach the datastore (NOT_IN_TRANSACTION); anything else that reaches it is a named error.
 */
function noDatabaseHost(): SyscallHost {
  const refuse = (what: string) => () => {
    throw new ModuleError('NO_DATABASE', `the module used ${what} while its schema was read: module code may only touch the database inside reducers, procedures and views`);
  };
  const datastore = new Proxy(
    {},
    {
      get: (_t, key) => (key === 'inTransaction' ? false : refuse(`the datastore (${String(key)})`)),
    },
  ) as Datastore;
  return {
    datastore,
    hooks: undefined,
    databaseIdentity: 0n,
    log: () => {},
    jwtPayload: () => '',
    startAnonTx: refuse('a transaction'),
    commitAnonTx: refuse('a transaction'),
    abortAnonTx: refuse('a transaction'),
    anonTxOpen: false,
    httpRequest: refuse('HTTP'),
  };
}
