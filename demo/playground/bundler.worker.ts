// The playground's bundler, off the main thread: esbuild-wasm bundles the module's source into
// the CommonJS script the engine loads, with the same options as src/host/bundle.ts, against the
// installed spacetimedb package's files (virtual:spacetimedb-files, see vite-plugin.ts). A module
// is one file; it may import `spacetimedb`, `spacetimedb/server` and `yjs`. Errors come back with their
// line and column in the source.
import * as esbuild from 'esbuild-wasm/esm/browser.js';
import wasmURL from 'esbuild-wasm/esbuild.wasm?url';
import stdb from 'virtual:spacetimedb-files';
import { BUNDLE_OPTIONS } from '../../src/host/module-format.ts';
import type { BundleReply, BundleRequest, Diagnostic } from './bundler.ts';

/** The module's file name in messages and in the bundle. */
const ENTRY = 'module.ts';
const pure = new Set(stdb.pure);

let ready: Promise<void> | undefined;

function init(): Promise<void> {
  ready ??= esbuild.initialize({ wasmURL, worker: false });
  return ready;
}

const playgroundPlugin: esbuild.Plugin = {
  name: 'lightcone-playground',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return { path: ENTRY, namespace: 'playground' };
      if (/^spacetime:sys@2\.[01]$/.test(args.path)) return { path: args.path, external: true };
      if (args.namespace === 'spacetimedb') {
        const path = stdb.resolutions[`${args.importer}\0${args.path}`];
        if (path) return { path, namespace: 'spacetimedb', sideEffects: !pure.has(path) };
        return { errors: [{ text: `${args.importer} imports ${args.path}, which the playground does not carry` }] };
      }
      const entry = stdb.entries[args.path];
      if (entry) return { path: entry, namespace: 'spacetimedb', sideEffects: !pure.has(entry) };
      const offer = Object.keys(stdb.entries).join(' and ');
      if (/^spacetimedb(\/|$)/.test(args.path)) return { errors: [{ text: `the playground provides ${offer}, not ${args.path}` }] };
      return { errors: [{ text: `cannot import "${args.path}": a playground module is one file, and may import ${offer}` }] };
    });
    build.onLoad({ filter: /.*/, namespace: 'spacetimedb' }, (args) => ({ contents: stdb.files[args.path] ?? '', loader: 'js' }));
  },
};

async function bundle(source: string): Promise<BundleReply> {
  await init();
  try {
    const result = await esbuild.build({
      ...BUNDLE_OPTIONS,
      entryPoints: [ENTRY],
      // A module is an ES module, so strict ("use strict" in the bundle, as the repository's tsconfig gives `lightcone publish`).
      tsconfigRaw: { compilerOptions: { alwaysStrict: true } },
      plugins: [playgroundPlugin, { name: 'source', setup: (b) => b.onLoad({ filter: /.*/, namespace: 'playground' }, () => ({ contents: source, loader: 'ts' })) }],
    });
    const code = result.outputFiles?.[0]?.text ?? '';
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(code)));
    const hash = [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { ok: true, bundle: { code, entry: ENTRY, hash }, warnings: result.warnings.map((m) => diagnostic(m, source)) };
  } catch (e) {
    const errors = (e as { errors?: esbuild.Message[] }).errors;
    if (!errors) return { ok: false, diagnostics: [{ text: String((e as Error)?.message ?? e), severity: 'error' }] };
    return { ok: false, diagnostics: errors.map((m) => diagnostic(m, source)) };
  }
}

/** esbuild's message with a position in the source (esbuild's column counts UTF-8 bytes; ours counts UTF-16 units). */
function diagnostic(m: esbuild.Message, source: string): Diagnostic {
  const loc = m.location;
  const inSource = loc && (loc.namespace === 'playground' || loc.file === `playground:${ENTRY}`);
  if (!loc || !inSource) return { text: loc ? `${loc.file}:${loc.line}:${loc.column + 1}: ${m.text}` : m.text, severity: 'error' };
  const lineText = source.split('\n')[loc.line - 1] ?? loc.lineText;
  const bytes = new TextEncoder().encode(lineText);
  const column = new TextDecoder().decode(bytes.slice(0, loc.column)).length;
  const end = new TextDecoder().decode(bytes.slice(0, loc.column + loc.length)).length;
  return { text: m.text, line: loc.line, column, length: Math.max(0, end - column), severity: 'error' };
}

// Compile esbuild's WebAssembly as soon as the worker starts (the page starts it early, see Bundler.warm).
void init().catch(() => {}); // a failure is reported by the first bundle that awaits it

self.onmessage = async (event: MessageEvent<BundleRequest>) => {
  const { id, source } = event.data;
  let reply: BundleReply;
  try {
    reply = await bundle(source);
  } catch (e) {
    reply = { ok: false, diagnostics: [{ text: `the bundler failed: ${(e as Error)?.message ?? String(e)}`, severity: 'error' }] };
  }
  (self as unknown as Worker).postMessage({ id, ...reply });
};
