// Bundles a module entry (a file, or a folder with index.ts) with esbuild into one CommonJS
// script that `loadModule` evaluates. `spacetimedb` always resolves to Lightcone's own pinned copy,
// and `spacetime:sys@2.x` stays external so the host can supply the syscalls.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'esbuild';
import { ModuleError } from '../errors.ts';
import { BUNDLE_OPTIONS, PINNED_SPACETIMEDB_VERSION } from './module-format.ts';

/** The folder of Lightcone's own package.json (whose node_modules holds the pinned spacetimedb). */
const LIGHTCONE_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lightcone') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the lightcone package root');
    dir = parent;
  }
})();

/** Result of bundling: the script and where it came from. */
export interface ModuleBundle {
  code: string;
  entry: string;
}

/** Resolves `path` (a file, or a folder holding index.ts/index.js) to the module's entry file. */
export function resolveModuleEntry(path: string): string {
  const abs = resolve(path);
  if (!existsSync(abs)) {
    throw new ModuleError('MODULE_NOT_FOUND', `module path ${abs} does not exist: pass a .ts file or a folder with an index.ts`, { path: abs });
  }
  if (statSync(abs).isDirectory()) {
    for (const name of ['index.ts', 'src/index.ts', 'index.js', 'src/index.js', 'lib.ts']) {
      const candidate = join(abs, name);
      if (existsSync(candidate)) return candidate;
    }
    throw new ModuleError('MODULE_NOT_FOUND', `folder ${abs} has no index.ts or src/index.ts: pass the module's entry file`, { path: abs });
  }
  return abs;
}

/** Bundles a module with esbuild (Node). Throws ModuleError with esbuild's messages when it fails. */
export async function bundleModule(path: string): Promise<ModuleBundle> {
  const entry = resolveModuleEntry(path);
  checkNoOtherSpacetimedb(dirname(entry));
  const esbuild = await import('esbuild');
  let result: import('esbuild').BuildResult<{ write: false }>;
  try {
    result = await esbuild.build({
      ...BUNDLE_OPTIONS,
      entryPoints: [entry],
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      plugins: [pinSpacetimedb()],
    });
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors ?? [];
    const lines = errors.map((m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ${m.text}` : m.text));
    throw new ModuleError('BUNDLE_FAILED', `could not bundle ${entry}:\n${lines.join('\n') || String(e)}`, { entry, errors: lines }, { cause: e });
  }
  const out = result.outputFiles[0];
  if (!out) throw new ModuleError('BUNDLE_FAILED', `esbuild produced no output for ${entry}`, { entry });
  return { code: out.text, entry };
}

/** A module may live in a folder with no node_modules; if one is there with another spacetimedb, say so. */
function checkNoOtherSpacetimedb(fromDir: string): void {
  let dir = fromDir;
  for (;;) {
    const pkg = join(dir, 'node_modules', 'spacetimedb', 'package.json');
    if (existsSync(pkg)) {
      const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version;
      if (version !== PINNED_SPACETIMEDB_VERSION) {
        throw new ModuleError(
          'SPACETIMEDB_VERSION_MISMATCH',
          `the module's folder has spacetimedb@${version ?? '?'} installed (${pkg}), but Lightcone hosts spacetimedb@${PINNED_SPACETIMEDB_VERSION}: the syscall interface differs between versions. Install spacetimedb@${PINNED_SPACETIMEDB_VERSION} there, or remove that copy so the module bundles against Lightcone's.`,
          { found: version, expected: PINNED_SPACETIMEDB_VERSION, path: pkg },
        );
      }
      return;
    }
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/** esbuild plugin: `spacetimedb` and `spacetimedb/*` resolve to the copy Lightcone depends on. */
function pinSpacetimedb(): Plugin {
  return {
    name: 'lightcone-pin-spacetimedb',
    setup(build) {
      build.onResolve({ filter: /^spacetimedb(\/.*)?$/ }, async (args) => {
        if (args.pluginData === 'lightcone-pinned') return undefined;
        const r = await build.resolve(args.path, { resolveDir: LIGHTCONE_ROOT, kind: args.kind, pluginData: 'lightcone-pinned' });
        if (r.errors.length > 0) return { errors: [{ text: `Lightcone's spacetimedb has no entry '${args.path}'` }] };
        return { path: r.path };
      });
    },
  };
}

/**
 * Makes an uploaded bundle loadable: the server takes what `lightcone publish` sends (CommonJS
 * from `bundleModule`) and what SpacetimeDB's own CLI sends (one ES module with `spacetime:sys@2.x`
 * imports left external). Either is rewritten as one CommonJS script with the host's defines;
 * nothing outside it is resolved. Throws ModuleError BUNDLE_FAILED with the positions of the errors.
 */
export async function bundleUploaded(code: string, label = 'the uploaded module'): Promise<string> {
  const esbuild = await import('esbuild');
  try {
    const result = await esbuild.build({
      ...BUNDLE_OPTIONS,
      stdin: { contents: code, loader: 'js', sourcefile: 'bundle.js' },
      plugins: [
        {
          name: 'lightcone-self-contained',
          setup: (b) =>
            b.onResolve({ filter: /.*/ }, (a) =>
              a.kind === 'entry-point' || /^spacetime:sys@2\.[01]$/.test(a.path)
                ? { path: a.path, external: a.kind !== 'entry-point' }
                : { errors: [{ text: `${label} imports ${a.path}: a published bundle must be self-contained (only spacetime:sys@2.x stays external)` }] },
            ),
        },
      ],
    });
    return result.outputFiles[0]?.text ?? '';
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors ?? [];
    const lines = errors.map((m) => (m.location ? `bundle.js:${m.location.line}:${m.location.column}: ${m.text}` : m.text));
    throw new ModuleError('BUNDLE_FAILED', `${label} is not a JavaScript bundle this server can load:\n${lines.join('\n') || String(e)}`, { errors: lines }, { cause: e });
  }
}
