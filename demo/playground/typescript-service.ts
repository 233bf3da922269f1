// The playground's type checker itself: a TypeScript language service over a file system in
// memory holding the module (one file, MODULE_FILE) and the declaration files the build chose
// (virtual:spacetimedb-types, see vite-plugin.ts), with the options of typescript-options.ts. The
// worker (typescript.worker.ts) runs it in the page; test/playground-types.test.ts runs it in Node.
// Every question carries the module's text: an answer is always about the text it was asked for.
import type * as TS from 'typescript-js';
import type { TypeCompletion, TypeDiagnostic } from './typescript.ts';
import { GLOBALS, GLOBALS_FILE, MODULE_FILE, TYPESCRIPT_OPTIONS } from './typescript-options.ts';
import type { SpacetimedbTypes } from './vite-plugin.ts';

export interface TypeChecker {
  readonly version: string;
  diagnostics(source: string): TypeDiagnostic[];
  completions(source: string, pos: number): TypeCompletion[] | null;
  quickInfo(source: string, pos: number): { from: number; to: number; text: string } | null;
}

/** How many completions get their type (each costs a lookup). */
const DETAILED = 80;

export function createTypeChecker(ts: typeof TS, types: SpacetimedbTypes): TypeChecker {
  const files = new Map<string, string>(Object.entries(types.files));
  files.set(GLOBALS_FILE, GLOBALS);
  const directories = new Set<string>(['/']);
  for (const path of files.keys()) {
    for (let dir = path.slice(0, path.lastIndexOf('/')); dir; dir = dir.slice(0, dir.lastIndexOf('/'))) directories.add(dir);
  }

  let moduleText = '';
  let moduleVersion = 0;
  const snapshots = new Map<string, TS.IScriptSnapshot>();
  const { options } = ts.convertCompilerOptionsFromJson(TYPESCRIPT_OPTIONS, '/');

  const host: TS.LanguageServiceHost = {
    getCompilationSettings: () => options,
    getScriptFileNames: () => [MODULE_FILE, GLOBALS_FILE],
    getScriptVersion: (file) => (file === MODULE_FILE ? String(moduleVersion) : '0'),
    getScriptSnapshot: (file) => {
      if (file === MODULE_FILE) return ts.ScriptSnapshot.fromString(moduleText);
      let snapshot = snapshots.get(file);
      if (!snapshot) {
        const text = files.get(file);
        if (text === undefined) return undefined;
        snapshot = ts.ScriptSnapshot.fromString(text);
        snapshots.set(file, snapshot);
      }
      return snapshot;
    },
    getCurrentDirectory: () => '/',
    getDefaultLibFileName: (o) => `${types.libDir}/${ts.getDefaultLibFileName(o)}`,
    fileExists: (file) => file === MODULE_FILE || files.has(file),
    readFile: (file) => (file === MODULE_FILE ? moduleText : files.get(file)),
    directoryExists: (dir) => directories.has(dir.replace(/\/$/, '') || '/'),
    getDirectories: (dir) => {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      const out = new Set<string>();
      for (const d of directories) if (d.startsWith(prefix) && d.length > prefix.length && !d.slice(prefix.length).includes('/')) out.add(d.slice(prefix.length));
      return [...out];
    },
    useCaseSensitiveFileNames: () => true,
  };
  const service = ts.createLanguageService(host, ts.createDocumentRegistry());

  function setText(text: string): void {
    if (text === moduleText) return;
    moduleText = text;
    moduleVersion++;
  }

  const severity = (c: TS.DiagnosticCategory): TypeDiagnostic['severity'] => (c === ts.DiagnosticCategory.Error ? 'error' : c === ts.DiagnosticCategory.Warning ? 'warning' : 'info');

  function diagnostics(): TypeDiagnostic[] {
    const out: TypeDiagnostic[] = [];
    const add = (list: readonly TS.Diagnostic[], syntactic: boolean) => {
      for (const d of list) {
        const from = d.start ?? 0;
        out.push({ from, to: from + (d.length ?? 0), severity: severity(d.category), message: ts.flattenDiagnosticMessageText(d.messageText, '\n'), code: d.code, syntactic });
      }
    };
    add(service.getSyntacticDiagnostics(MODULE_FILE), true);
    add(service.getSemanticDiagnostics(MODULE_FILE), false);
    return out;
  }

  function completions(pos: number): TypeCompletion[] | null {
    const info = service.getCompletionsAtPosition(MODULE_FILE, pos, { includeCompletionsWithInsertText: false, includeCompletionsForModuleExports: false });
    if (!info) return null;
    const entries = [...info.entries].sort((a, b) => (a.sortText < b.sortText ? -1 : a.sortText > b.sortText ? 1 : a.name.localeCompare(b.name)));
    // TypeScript's order (its sort texts) as CodeMirror's boost: the best group 0, the next -1, …
    const ranks = [...new Set(entries.map((e) => e.sortText))];
    return entries.slice(0, 500).map((entry, i) => {
      const out: TypeCompletion = { label: entry.name, kind: entry.kind, boost: -Math.min(99, ranks.indexOf(entry.sortText)) };
      if (i < DETAILED) {
        const details = service.getCompletionEntryDetails(MODULE_FILE, pos, entry.name, undefined, entry.source, undefined, entry.data);
        if (details) {
          const signature = ts.displayPartsToString(details.displayParts);
          out.detail = typeOf(signature, entry.name);
          const doc = ts.displayPartsToString(details.documentation);
          out.info = doc ? `${signature}\n\n${doc}` : signature;
        }
      }
      return out;
    });
  }

  /** `(property) Foo.bar: Baz` → `Baz`, `(method) Foo.bar(x: X): Y` → `(x: X): Y`: what follows the name. */
  function typeOf(signature: string, name: string): string {
    const text = signature.replace(/^\([\w\s]+\)\s*/, '');
    const at = text.indexOf(name);
    const rest = at < 0 ? text : text.slice(at + name.length);
    return rest
      .replace(/^\??:\s*/, '')
      .replace(/\s+/g, ' ')
      .trim();
  }

  function quickInfo(pos: number): { from: number; to: number; text: string } | null {
    const info = service.getQuickInfoAtPosition(MODULE_FILE, pos);
    if (!info) return null;
    const signature = ts.displayPartsToString(info.displayParts);
    const doc = ts.displayPartsToString(info.documentation);
    return { from: info.textSpan.start, to: info.textSpan.start + info.textSpan.length, text: doc ? `${signature}\n\n${doc}` : signature };
  }

  return {
    version: ts.version,
    diagnostics: (source) => (setText(source), diagnostics()),
    completions: (source, pos) => (setText(source), completions(pos)),
    quickInfo: (source, pos) => (setText(source), quickInfo(pos)),
  };
}
