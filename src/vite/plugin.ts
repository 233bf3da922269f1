// `lightcone/vite`: a Vite plugin that bundles a SpacetimeDB module for the worker at dev and
// build time, with the same esbuild bundler as the Node host (src/host/bundle.ts). An app writes
// `import chat from './chat/index.ts?lightcone'` and passes it to `connect({ name, module: chat })`.
//
// It also makes Vite serve and bundle what `lightcone` needs, wherever the package comes from
// (the registry, a tarball, a linked folder): `lightcone` spawns its workers with
// `new Worker(new URL('./x.js', import.meta.url))` and sqlite-wasm finds its .wasm the same way,
// so neither may be pre-bundled (that moves them away from their files); what they import is
// pre-bundled instead (the CommonJS inside spacetimedb would not load raw); and a package outside
// the app's folder (linked) is added to the folders the dev server may serve.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { searchForWorkspaceRoot, type Plugin, type UserConfig } from 'vite';
import { bundleModule } from '../host/bundle.ts';
import { devErrors } from './dev-errors.ts';

/** The import suffix that marks a module to bundle: `import m from './module.ts?lightcone'`. */
export const MODULE_QUERY = '?lightcone';
const PREFIX = '\0lightcone-module:';

/**
 * The plugin. Add it to `vite.config.ts`, then import a module with `?lightcone` to get its
 * bundle (`{ code, entry, hash }`, what `connect({ module })` takes). In dev the module's folder
 * is watched: editing the module reloads the page, and `connect` publishes the new code.
 *
 * @example
 * ```ts
 * // vite.config.ts
 * import { defineConfig } from 'vite';
 * import lightcone from 'lightcone/vite';
 * export default defineConfig({ plugins: [lightcone()] });
 * ```
 */
export function lightcone(): Plugin {
  let root = process.cwd();
  return {
    name: 'lightcone',
    enforce: 'pre',
    ...devErrors(), // module errors found in the browser, in the dev overlay
    config(user) {
      return servingConfig(resolve(user.root ?? process.cwd()), user);
    },
    configResolved(config) {
      root = config.root;
    },
    async resolveId(source, importer) {
      if (!source.endsWith(MODULE_QUERY)) return null;
      const path = source.slice(0, -MODULE_QUERY.length);
      const resolved = await this.resolve(path, importer, { skipSelf: true });
      const base = importer ? dirname(importer.replace(/\?.*$/, '')) : root;
      const abs = resolved && !resolved.external ? resolved.id.replace(/\?.*$/, '') : resolve(path.startsWith('/') ? root : base, path.replace(/^\//, ''));
      return PREFIX + abs;
    },
    async load(id) {
      if (!id.startsWith(PREFIX)) return null;
      const path = id.slice(PREFIX.length);
      const { code, entry } = await bundleModule(path);
      for (const file of sourceFiles(dirname(entry))) this.addWatchFile(file);
      const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
      const module = { code, entry: relative(root, entry), hash };
      return `export default ${JSON.stringify(module)};\n`;
    },
  };
}

export default lightcone;

/** Lightcone's package folder (of dist/vite.js, or of src/vite/plugin.ts in this repository). */
const PACKAGE_DIR = (() => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    if (isLightcone(join(dir, 'package.json'))) return dir;
  }
  return undefined;
})();

function isLightcone(pkg: string): boolean {
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lightcone';
  } catch {
    return false;
  }
}

/**
 * The packages that `lightcone`'s browser files import (dist/browser, see scripts/build.mjs, which
 * checks this list against what it built). Pre-bundled as `lightcone > name`, resolved from
 * Lightcone's folder; sqlite-wasm is served as it is, so that its .wasm stays next to it.
 */
export const BROWSER_DEPENDENCIES = ['comlink', 'idb', 'jose', 'lossless-json', 'spacetimedb'];
const UNBUNDLED = ['lightcone', '@sqlite.org/sqlite-wasm'];

/** What Vite needs to serve `lightcone` as the app at `root` installed it. */
function servingConfig(root: string, user: UserConfig): UserConfig {
  const config: UserConfig = { optimizeDeps: { exclude: UNBUNDLED }, worker: { format: 'es' } };
  const installed = installedLightcone(root);
  // Inside this repository (the demo) `lightcone` is an alias of the sources: nothing to pre-bundle by package name.
  if (!installed) return config;
  config.optimizeDeps!.include = BROWSER_DEPENDENCIES.map((name) => `lightcone > ${name}`);
  // Files the dev server serves from outside the app's workspace (a linked Lightcone, and what it
  // resolves from its own node_modules) must be allowed; Vite's default allows the workspace only.
  const workspace = searchForWorkspaceRoot(root);
  const outside = [installed, packageDir('@sqlite.org/sqlite-wasm', installed)].filter((dir): dir is string => dir !== undefined && !within(dir, workspace));
  if (outside.length > 0) {
    // Setting `allow` replaces the default (the workspace): keep it, unless the app chose its own list.
    config.server = { fs: { allow: user.server?.fs?.allow ? outside : [workspace, ...outside] } };
  }
  return config;
}

/** The real folder of the `lightcone` package the app at `root` imports, if it imports one. */
function installedLightcone(root: string): string | undefined {
  const dir = packageDir('lightcone', root);
  // This plugin is the package's own: a folder named lightcone elsewhere would be another copy.
  return dir !== undefined && PACKAGE_DIR !== undefined && dir === realpathSync(PACKAGE_DIR) && existsSync(join(dir, 'dist', 'browser', 'index.js')) ? dir : undefined;
}

/** The real folder of package `name` in the node_modules folders from `from` up (as Vite finds packages), or undefined. */
function packageDir(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(pkg)) return realpathSync(dirname(pkg));
    if (dirname(dir) === dir) return undefined;
  }
}

function within(dir: string, parent: string): boolean {
  const p = realpathSync(parent);
  return dir === p || dir.startsWith(p.endsWith(sep) ? p : p + sep);
}

/** The module's source files (its folder, recursively, without node_modules), to watch in dev. */
function sourceFiles(dir: string, depth = 0): string[] {
  if (depth > 4 || !existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = join(dir, name);
    const stat = statSync(full);
    if (stat.isDirectory()) out.push(...sourceFiles(full, depth + 1));
    else if (/\.(m?[jt]s|tsx?)$/.test(name)) out.push(full);
  }
  return out;
}
