// Builds what the package ships (package.json `exports`, `bin`, `files`) from src/ and worker/ into dist/:
// - Node: the CLI, `lightcone/node`, `lightcone/vite` and the engine thread (dist/*.js, packages external);
// - browser: `lightcone` and its three workers (dist/browser/), for the app's bundler (Vite) to take in;
// - types: declarations of every export (dist/types/), emitted by tsc.
// Runs on `npm install` (prepare) so `npx lightcone` works on a fresh clone, and on `npm pack`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

await build({
  entryPoints: {
    cli: join(root, 'src/cli/main.ts'),
    node: join(root, 'src/node/index.ts'),
    vite: join(root, 'src/vite/plugin.ts'),
    // The engine thread of Node databases: found next to cli.js and node.js (see engine-worker-script.ts).
    'engine-worker': join(root, 'src/node/engine-worker.ts'),
  },
  outdir: join(root, 'dist'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});

// The browser entry and its workers. Each worker is an entry of its own, spawned by
// `new Worker(new URL('./<name>.js', import.meta.url), { type: 'module' })`: the pattern Vite
// (and other bundlers) follow to bundle a worker from a dependency. In the sources these URLs
// name the .ts files (src/client/connect.ts → ../../worker/…): workerUrls() points them at the
// built files, which all sit in dist/browser. The package's own dependencies stay imports for the
// app's bundler to resolve (sqlite-wasm finds its .wasm next to itself, the bundler copies it);
// what they reach inside other packages (spacetimedb's sources, base64-js) is bundled in.
const browserOut = join(root, 'dist/browser');
const workers = { 'shared-worker': 'worker/shared-worker.ts', 'dedicated-worker': 'worker/dedicated-worker.ts', 'engine-worker': 'worker/engine-worker.ts' };
rmSync(browserOut, { recursive: true, force: true });
const ownPackages = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies });
const browser = await build({
  entryPoints: { index: join(root, 'src/index.ts'), ...Object.fromEntries(Object.entries(workers).map(([name, path]) => [name, join(root, path)])) },
  outdir: browserOut,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  external: ownPackages.flatMap((name) => [name, `${name}/*`]),
  // Test hooks (storage faults for this repository's e2e) are never in the package.
  define: { __LIGHTCONE_TEST_HOOKS__: 'false' },
  plugins: [workerUrls(Object.fromEntries(Object.entries(workers).map(([name, path]) => [join(root, path), name])))],
  metafile: true,
  logLevel: 'warning',
});
// The Vite plugin pre-bundles exactly these imports for the app (lightcone/vite BROWSER_DEPENDENCIES).
const imported = new Set(Object.values(browser.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)));
const { BROWSER_DEPENDENCIES } = await import(pathToFileURL(join(root, 'dist/vite.js')).href);
const expected = new Set([...BROWSER_DEPENDENCIES, '@sqlite.org/sqlite-wasm']);
if ([...imported].some((p) => !expected.has(p)) || [...expected].some((p) => !imported.has(p))) {
  throw new Error(`dist/browser imports ${[...imported].sort().join(', ')}; src/vite/plugin.ts BROWSER_DEPENDENCIES (and sqlite-wasm) say ${[...expected].sort().join(', ')}: make them agree`);
}

/** esbuild plugin: `new URL('<worker>.ts', import.meta.url)` in a source file becomes `new URL('./<worker>.js', import.meta.url)`. */
function workerUrls(entries) {
  return {
    name: 'lightcone-worker-urls',
    setup(b) {
      b.onLoad({ filter: /[\\/](src[\\/]client|worker)[\\/][^\\/]+\.ts$/ }, (args) => {
        const text = readFileSync(args.path, 'utf8');
        const errors = [];
        const contents = text.replace(/new URL\((['"])([^'"]+\.ts)\1, import\.meta\.url\)/g, (whole, _quote, spec) => {
          const name = entries[resolve(dirname(args.path), spec)];
          if (name === undefined) errors.push({ text: `${whole} names no worker entry of scripts/build.mjs (${Object.values(entries).join(', ')})` });
          return `new URL('./${name}.js', import.meta.url)`;
        });
        return errors.length > 0 ? { errors } : { contents, loader: 'ts' };
      });
    },
  };
}

// Declarations: tsc emits one .d.ts per source file of the exports' programs (tsconfig.build.json).
// The package ships those the exports' types reach, with the sources' `./x.ts` imports rewritten
// to `./x.js` (which resolves to x.d.ts under every moduleResolution an app may use); a reached
// declaration that imports a path the package does not ship (such as another package's internals)
// fails the build.
const typesOut = join(root, 'dist/types');
rmSync(typesOut, { recursive: true, force: true });
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
} catch (error) {
  // tsc still emits when the sources have type errors. A package must not ship them (`npm pack`,
  // `npm publish`); a build in a working tree mid-edit (the CLI, the tests) goes on with a warning.
  if (['pack', 'publish'].includes(process.env.npm_command ?? '')) throw error;
  console.warn('build: the declarations (dist/types) were emitted from sources with type errors (above); `npm run typecheck` lists them');
}
const typeEntries = Object.values(pkg.exports).flatMap((e) => (typeof e === 'object' && e.types ? [join(root, e.types)] : []));
const reached = new Set();
const pending = [...typeEntries];
while (pending.length > 0) {
  const file = pending.pop();
  if (reached.has(file)) continue;
  reached.add(file);
  if (!existsSync(file)) {
    // A hand-written declaration (tsc does not copy them): the source's own, e.g. src/vite/client.d.ts.
    const source = join(root, relative(typesOut, file));
    if (!existsSync(source)) throw new Error(`the package's types need ${relative(root, file)}, which neither tsc nor the sources have`);
    mkdirSync(dirname(file), { recursive: true });
    copyFileSync(source, file);
  }
  const text = readFileSync(file, 'utf8');
  const escaping = [];
  // Comment lines (examples in doc comments) are left as they are.
  const rewritten = text
    .split('\n')
    .map((line) =>
      /^\s*(\*|\/\/|\/\*)/.test(line)
        ? line
        : line.replace(/((?:from|import)\s*\(?\s*)(['"])(\.\.?\/[^'"]+?)(\.ts|\.js)?\2/g, (_whole, head, quote, path, _ext) => {
            const target = resolve(dirname(file), `${path}.d.ts`);
            if (!target.startsWith(typesOut + sep) || target.includes(`${sep}node_modules${sep}`)) escaping.push(path);
            else pending.push(target);
            return `${head}${quote}${path}.js${quote}`;
          }),
    )
    .join('\n');
  if (escaping.length > 0) throw new Error(`${relative(root, file)} imports ${escaping.join(', ')}, outside the package's types: make the public types reach no other package's internals`);
  if (rewritten !== text) writeFileSync(file, rewritten);
}
for (const file of walk(typesOut)) if (!reached.has(file)) rmSync(file);

/** The .d.ts files under `dir`. */
function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));
}
