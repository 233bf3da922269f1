// `lightcone generate`: writes a module's client bindings into a folder, as `spacetime generate`
// does. Files whose text did not change are left alone (so watchers and bundlers stay quiet), and
// generated files a run no longer writes (a dropped table's, say) are deleted.
import { mkdir, open, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { LightconeError, StorageError, UsageError } from '../errors.ts';
import { PINNED_SPACETIMEDB_VERSION } from '../host/module-format.ts';
import { codegenModule } from './module-model.ts';
import { readModuleDefinition } from './read-module.ts';
import { GENERATED_MARKER, type GeneratedFile, generateTypeScript } from './typescript.ts';

export type { GeneratedFile } from './typescript.ts';

export interface GenerateBindingsOptions {
  /** The module: its entry file, or a folder with index.ts or src/index.ts. */
  modulePath: string;
  /** The folder the bindings go to (created if missing), e.g. `src/module_bindings`. */
  outDir: string;
  /** `typescript` (or `ts`), the only language Lightcone generates; the default. */
  lang?: string;
  /** Also generate private tables, reducers and procedures, as `--include-private` does. */
  includePrivate?: boolean;
}

export interface GenerateBindingsResult {
  /** The module's entry file. */
  entry: string;
  /** The output folder, absolute. */
  outDir: string;
  /** Every generated file, relative to `outDir` (`/`-separated). */
  files: string[];
  /** The files this run created or changed. */
  written: string[];
  /** Generated files from an earlier run that this run does not write, deleted. */
  deleted: string[];
  /** Private tables left out (without `includePrivate`). */
  privateTables: string[];
}

/**
 * Generates the module's TypeScript client bindings into `outDir`, in the layout and with the
 * exports of `spacetime generate --lang typescript` (SpacetimeDB 2.x).
 *
 * ```ts
 * import { generateBindings } from 'lightcone/node';
 * const { files } = await generateBindings({ modulePath: 'examples/chat', outDir: 'src/module_bindings' });
 * // files: ['message_table.ts', 'user_table.ts', 'send_message_reducer.ts', 'set_name_reducer.ts', 'index.ts', ...]
 * ```
 *
 * Throws UsageError (UNSUPPORTED_LANGUAGE, BAD_USAGE, BAD_OUT_DIR), ModuleError (the module cannot
 * be bundled or loaded, or uses a type clients cannot express) or StorageError (WRITE_FAILED).
 */
export async function generateBindings(opts: GenerateBindingsOptions): Promise<GenerateBindingsResult> {
  checkLanguage(opts.lang);
  if (!opts.outDir) throw new UsageError('BAD_USAGE', 'generate needs an output folder (outDir / --out-dir), e.g. src/module_bindings');
  if (!opts.modulePath) throw new UsageError('BAD_USAGE', 'generate needs the module (modulePath / --module-path): its entry file or its folder');
  const outDir = resolve(opts.outDir);
  const outStat = await stat(outDir).catch(() => undefined); // missing: created below; unreadable: the write below says why
  if (outStat && !outStat.isDirectory()) throw new UsageError('BAD_OUT_DIR', `the output folder ${outDir} is a file: pass a folder (it is created if missing)`, { outDir });

  const { def, entry } = await readModuleDefinition(opts.modulePath);
  const model = codegenModule(def);
  const files = generateTypeScript(model, { includePrivate: Boolean(opts.includePrivate), version: PINNED_SPACETIMEDB_VERSION });
  const privateTables = opts.includePrivate ? [] : model.tables.filter((t) => !t.isPublic).map((t) => t.name);

  const written: string[] = [];
  try {
    for (const f of files) if (await writeIfChanged(outDir, f)) written.push(f.path);
  } catch (e) {
    if (e instanceof LightconeError) throw e;
    throw new StorageError('WRITE_FAILED', `could not write the bindings into ${outDir}: ${(e as Error).message}`, { outDir }, { cause: e });
  }
  const deleted = await deleteStale(outDir, new Set(files.map((f) => f.path)));
  return { entry, outDir, files: files.map((f) => f.path), written, deleted, privateTables };
}

/** `--lang` values `spacetime generate` accepts for TypeScript. */
const TYPESCRIPT = new Set(['typescript', 'ts', 'TS']);

function checkLanguage(lang: string | undefined): void {
  if (lang === undefined || TYPESCRIPT.has(lang)) return;
  throw new UsageError('UNSUPPORTED_LANGUAGE', `lightcone generate writes TypeScript bindings only: use --lang typescript (got ${JSON.stringify(lang)})`, { lang });
}

async function writeIfChanged(outDir: string, f: GeneratedFile): Promise<boolean> {
  const path = join(outDir, ...f.path.split('/'));
  const old = await readFile(path, 'utf8').catch(() => undefined); // missing or unreadable: written anew (writeFile reports a real problem)
  if (old === f.text) return false;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, f.text);
  return true;
}

/** The first line of files `spacetime generate` writes: bindings from it are replaced too. */
const SPACETIME_MARKER = '// THIS FILE IS AUTOMATICALLY GENERATED BY SPACETIMEDB';

/** Deletes generated files under `outDir` that are not in `keep`; returns their relative paths. */
async function deleteStale(outDir: string, keep: Set<string>): Promise<string[]> {
  const deleted: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // Bindings never live in dependencies or hidden folders; not reading them keeps a run cheap.
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && !entry.name.startsWith('.')) await walk(path);
        continue;
      }
      const rel = relative(outDir, path).split(sep).join('/');
      if (!entry.isFile() || keep.has(rel)) continue;
      const head = await firstBytes(path, 128);
      if (head.startsWith(GENERATED_MARKER) || head.startsWith(SPACETIME_MARKER)) {
        await unlink(path);
        deleted.push(rel);
      }
    }
  };
  await walk(outDir);
  return deleted.sort();
}

/** The first `n` bytes of a file as text ('' when it cannot be read: then it is not one of ours to delete). */
async function firstBytes(path: string, n: number): Promise<string> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await handle.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
