// Build-time half of the playground's bundler (runs in Node, inside Vite): the virtual module
// `virtual:spacetimedb-files` holds the installed `spacetimedb` package's files that a module can
// reach from `spacetimedb` and `spacetimedb/server` (found by letting esbuild resolve them, as
// src/host/bundle.ts does), with how each import among them resolves. The page's bundler worker
// (bundler.worker.ts) bundles a module with esbuild-wasm against exactly these files, so a module
// bundled in the page matches one bundled by `lightcone publish`. It also lists the names the
// editor completes after `t.` and after a column builder, read from the package itself.
// `virtual:spacetimedb-types` is what the editor's type checker (typescript.worker.ts) needs: the
// declaration files TypeScript reads, in Node, to type a module importing `spacetimedb`,
// `spacetimedb/server` and `yjs` (their package.json files included, for `exports`), and the
// ES2023 library files, with the compiler options of typescript-options.ts.
import { readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import { GLOBALS, GLOBALS_FILE, TYPESCRIPT_OPTIONS } from './typescript-options.ts';

const VIRTUAL = 'virtual:spacetimedb-files';
/** Only the names the editor completes (small: the page loads it, the files go to the worker). */
const VOCABULARY = 'virtual:spacetimedb-vocabulary';
/** The type checker's files (only its worker imports it). */
const TYPES = 'virtual:spacetimedb-types';
/** The name of the probe that imports the package's entries (never a file). */
const ENTRY = '<playground-probe>';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** What `virtual:spacetimedb-files` exports (see demo/playground/env.d.ts). */
export interface SpacetimedbFiles {
  /** Package specifier (`spacetimedb`, `spacetimedb/server`) → file path. */
  entries: Record<string, string>;
  /** File path → its text. */
  files: Record<string, string>;
  /** `${importer}\0${specifier}` → file path, for imports between these files. */
  resolutions: Record<string, string>;
  /** File paths whose package declares them free of side effects (esbuild may drop unused ones). */
  pure: string[];
  /** `t.<name>` builders. */
  builders: string[];
  /** Methods of a column builder (`.primaryKey()`, …). */
  columnMethods: string[];
}

/** What `virtual:spacetimedb-types` exports. */
export interface SpacetimedbTypes {
  /** Path in the checker's file system (`/node_modules/…`) → text. */
  files: Record<string, string>;
  /** The folder of TypeScript's library files in that file system. */
  libDir: string;
  /** The TypeScript version the files were chosen with (the worker's). */
  version: string;
}

export function playgroundFiles(): Plugin {
  let cached: Promise<SpacetimedbFiles> | undefined;
  let types: Promise<SpacetimedbTypes> | undefined;
  return {
    name: 'lightcone-playground-files',
    resolveId: (id) => (id === VIRTUAL || id === VOCABULARY || id === TYPES ? `\0${id}` : null),
    async load(id) {
      if (id === `\0${TYPES}`) return `export default ${JSON.stringify(await (types ??= collectTypes()))};\n`;
      if (id !== `\0${VIRTUAL}` && id !== `\0${VOCABULARY}`) return null;
      cached ??= collect();
      const data = await cached;
      const value = id === `\0${VIRTUAL}` ? data : { builders: data.builders, columnMethods: data.columnMethods };
      return `export default ${JSON.stringify(value)};\n`;
    },
  };
}

async function collect(): Promise<SpacetimedbFiles> {
  const esbuild = await import('esbuild');
  // yjs: the notes example (examples/notes) merges Yjs documents inside its reducer.
  const specifiers = ['spacetimedb', 'spacetimedb/server', 'yjs'];
  const result = await esbuild.build({
    stdin: { contents: specifiers.map((s, i) => `export * as m${i} from ${JSON.stringify(s)};`).join('\n'), resolveDir: ROOT, loader: 'js', sourcefile: ENTRY },
    absWorkingDir: ROOT,
    bundle: true,
    write: false,
    format: 'cjs',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['import', 'default'],
    external: ['spacetime:sys@2.0', 'spacetime:sys@2.1'],
    metafile: true,
    logLevel: 'silent',
  });
  const entries: Record<string, string> = {};
  const files: Record<string, string> = {};
  const resolutions: Record<string, string> = {};
  const pure: string[] = [];
  for (const [path, input] of Object.entries(result.metafile.inputs)) {
    for (const imp of input.imports) {
      if (imp.external || imp.original === undefined) continue;
      if (path === ENTRY) entries[imp.original] = imp.path;
      else resolutions[`${path}\0${imp.original}`] = imp.path;
    }
    if (path === ENTRY) continue;
    files[path] = readFileSync(join(ROOT, path), 'utf8');
    if (sideEffectFree(join(ROOT, path))) pure.push(path);
  }
  for (const s of specifiers) if (!entries[s]) throw new Error(`the playground could not resolve ${s} from the installed package`);
  const { t } = await import('spacetimedb');
  const methods = new Set<string>();
  for (let p = Object.getPrototypeOf(t.u32()); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) if (name !== 'constructor' && !name.startsWith('_')) methods.add(name);
  }
  for (const internal of ['serialize', 'deserialize']) methods.delete(internal);
  return { entries, files, resolutions, pure, builders: Object.keys(t), columnMethods: [...methods] };
}

/** The files TypeScript reads to check a module importing the playground's packages (see the header). */
async function collectTypes(): Promise<SpacetimedbTypes> {
  const { default: ts } = await import('typescript-js');
  const { options, errors } = ts.convertCompilerOptionsFromJson(TYPESCRIPT_OPTIONS, ROOT);
  if (errors.length) throw new Error(ts.flattenDiagnosticMessageText(errors[0]!.messageText, '\n'));
  // Paths as the page sees them, even when node_modules is a link.
  options.preserveSymlinks = true;
  const probe = join(ROOT, '__playground-types-probe.ts');
  const globals = join(ROOT, GLOBALS_FILE.slice(1));
  const probeText = "import * as a from 'spacetimedb';\nimport * as b from 'spacetimedb/server';\nimport * as c from 'yjs';\nexport { a, b, c };\n";
  const host = ts.createCompilerHost(options);
  const read = new Set<string>();
  const readFile = host.readFile.bind(host);
  host.readFile = (file) => {
    const text = readFile(file);
    if (text !== undefined) read.add(file);
    return text;
  };
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, version, ...rest) => {
    if (file === probe) return ts.createSourceFile(file, probeText, version);
    if (file === globals) return ts.createSourceFile(file, GLOBALS, version);
    const source = getSourceFile(file, version, ...rest);
    if (source) read.add(file);
    return source;
  };
  const program = ts.createProgram([probe, globals], options, host);
  const problems = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (problems.length) throw new Error(`the playground's type checker could not type its packages: ${ts.flattenDiagnosticMessageText(problems[0]!.messageText, '\n')}`);
  const files: Record<string, string> = {};
  // TypeScript's library files wherever the package really is (a linked node_modules), at one place in the worker's file system.
  const libFolder = dirname(ts.getDefaultLibFilePath(options));
  const libDir = '/node_modules/typescript-js/lib';
  const withoutMap = (text: string) => text.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n'); // source maps of declarations are not needed
  for (const file of [...read].sort()) {
    if (dirname(file) === libFolder && /^lib\..*\.d\.ts$/.test(basename(file))) {
      files[`${libDir}/${basename(file)}`] = readFileSync(file, 'utf8');
      continue;
    }
    const rel = relative(ROOT, file).split('\\').join('/');
    // The packages' files (paths kept under node_modules even when linked: preserveSymlinks); not
    // the repository's own package.json (read for the probe's module format), nor TypeScript's.
    if (!rel.startsWith('node_modules/') || rel.startsWith('node_modules/typescript-js/')) continue;
    files[`/${rel}`] = withoutMap(readFileSync(file, 'utf8'));
  }
  return { files, libDir, version: ts.version };
}

/** Whether the file's package.json says it has no side effects (`sideEffects: false`, or a list that does not name it). */
function sideEffectFree(file: string): boolean {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    let pkg: { sideEffects?: boolean | string[] };
    try {
      pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (pkg.sideEffects === false) return true;
    if (Array.isArray(pkg.sideEffects)) {
      const rel = relative(dir, file);
      return !pkg.sideEffects.some((p) => p.replace(/^\.\//, '') === rel);
    }
    return false;
  }
  return false;
}
