// `lightcone/vite`: a Vite plugin that bundles a SpacetimeDB module for the worker at dev and
// build time, with the same esbuild bundler as the Node host (src/host/bundle.ts). An app writes
// `import chat from './chat/index.ts?lightcone'` and passes it to `connect({ name, module: chat })`;
// the plugin also sets what the worker needs (sqlite-wasm unoptimized, ES module workers).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { bundleModule } from '../host/bundle.ts';

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
    config() {
      return {
        // sqlite-wasm finds its .wasm next to itself (import.meta.url): pre-bundling would move it.
        // base64-js (CommonJS, reached through the protocol codec's import of spacetimedb's own
        // sources) must be pre-bundled, or the dev server serves it without its named exports.
        optimizeDeps: { exclude: ['@sqlite.org/sqlite-wasm', 'lightcone'], include: ['base64-js'] },
        worker: { format: 'es' },
      };
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
