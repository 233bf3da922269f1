// The module editor: CodeMirror 6 with TypeScript highlighting, esbuild's errors and TypeScript's
// type errors as lint diagnostics at their range (bundled and checked in workers as you type, after
// a pause: typing never waits for either), completion and hover types from the TypeScript language
// service (typescript.ts) once it is loaded, and SpacetimeDB's schema-aware completion
// (completion.ts) until then or without it. Ctrl/Cmd-Enter publishes.
import { autocompletion, type Completion, type CompletionContext, type CompletionResult, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { javascript, javascriptLanguage } from '@codemirror/lang-javascript';
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { type Diagnostic as CmDiagnostic, forceLinting, lintGutter, linter, lintKeymap, setDiagnostics } from '@codemirror/lint';
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search';
import { EditorState, type Text } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, hoverTooltip, keymap, lineNumbers } from '@codemirror/view';
import type { SchemaDescription } from 'lightcone';
import type { BundleReply, Diagnostic } from './bundler.ts';
import { spacetimeCompletions, type Vocabulary } from './completion.ts';
import type { TypeCompletion, TypeDiagnostic, TypeService } from './typescript.ts';

export interface EditorOptions {
  parent: HTMLElement;
  source: string;
  /** Bundles the source (the worker): its errors become diagnostics. */
  bundle: (source: string) => Promise<BundleReply>;
  vocabulary: () => Vocabulary;
  schema: () => SchemaDescription | undefined;
  /** The TypeScript language service (type errors, completion, hover) once it is ready. */
  types?: TypeService;
  onPublish: () => void;
  onChange?: (source: string) => void;
}

/** The editor as the app uses it. */
export interface ModuleEditor {
  readonly view: EditorView;
  readonly source: string;
  setSource(text: string): void;
  /** Shows these diagnostics now (e.g. a publish's bundling errors). */
  showDiagnostics(diagnostics: Diagnostic[]): void;
}

/** esbuild's positions (1-based line, 0-based column) as document offsets. */
export function toCmDiagnostics(doc: Text, diagnostics: Diagnostic[]): CmDiagnostic[] {
  return diagnostics.map((d) => {
    if (d.line === undefined || d.line < 1 || d.line > doc.lines) return { from: 0, to: 0, severity: d.severity, message: d.text };
    const line = doc.line(d.line);
    const from = Math.min(line.to, line.from + (d.column ?? 0));
    const to = Math.min(line.to, from + Math.max(d.length ?? 0, 0));
    return { from, to: to > from ? to : Math.min(line.to, from + 1), severity: d.severity, message: d.text };
  });
}

/**
 * esbuild's diagnostics and TypeScript's together. A syntax error both report is shown once, as
 * esbuild says it (TypeScript's syntax errors on a line where esbuild reports one are dropped).
 */
export function mergeDiagnostics(doc: Text, bundle: Diagnostic[], types: TypeDiagnostic[] | undefined): CmDiagnostic[] {
  const out = toCmDiagnostics(doc, bundle);
  const bundleLines = new Set(bundle.flatMap((d) => (d.line === undefined ? [] : [d.line])));
  for (const d of types ?? []) {
    const from = Math.min(d.from, doc.length);
    const to = Math.min(Math.max(d.to, from), doc.length);
    if (d.syntactic && bundleLines.has(doc.lineAt(from).number)) continue;
    out.push({ from, to, severity: d.severity, message: d.message, source: `TypeScript (TS${d.code})` });
  }
  return out;
}

const COMPLETION_TYPES: Record<string, string> = {
  method: 'method',
  function: 'function',
  'local function': 'function',
  property: 'property',
  getter: 'property',
  setter: 'property',
  var: 'variable',
  let: 'variable',
  const: 'constant',
  'local var': 'variable',
  parameter: 'variable',
  class: 'class',
  interface: 'interface',
  type: 'type',
  enum: 'enum',
  'enum member': 'enum',
  keyword: 'keyword',
  module: 'namespace',
  alias: 'variable',
};

/** At most this many characters of a type in the completion list (the whole one is in its info). */
const DETAIL_LENGTH = 60;

function toCompletion(c: TypeCompletion): Completion {
  const detail = c.detail && (c.detail.length > DETAIL_LENGTH ? `${c.detail.slice(0, DETAIL_LENGTH - 1)}…` : c.detail);
  return { label: c.label, type: COMPLETION_TYPES[c.kind] ?? 'text', boost: c.boost, ...(detail ? { detail } : {}), ...(c.info ? { info: c.info } : {}) };
}

export function createEditor(opts: EditorOptions): ModuleEditor {
  let vocab: Vocabulary | undefined;
  const schemaComplete = (ctx: CompletionContext) => spacetimeCompletions((vocab ??= opts.vocabulary()), opts.schema)(ctx);
  // The language service answers member completions (`t.`, `ctx.db.`, …) and Ctrl-Space; names
  // typed outside a member stay with CodeMirror's own (local names, snippets). Before it is ready,
  // or when it has no answer, the schema-aware completion does.
  const complete = async (ctx: CompletionContext): Promise<CompletionResult | null> => {
    const types = opts.types;
    const word = ctx.matchBefore(/[\w$]*/);
    const from = word ? word.from : ctx.pos;
    const member = from > 0 && ctx.state.sliceDoc(from - 1, from) === '.';
    if (types?.state.state === 'ready' && (member || ctx.explicit)) {
      const list = await types.completions(ctx.state.doc.toString(), ctx.pos);
      if (list?.length) return { from, options: list.map(toCompletion), validFor: /^[\w$]*$/ };
    }
    return schemaComplete(ctx);
  };
  /** TypeScript's diagnostics of the last text it checked (a publish's errors are shown with them). */
  let lastTypes: { source: string; diagnostics: TypeDiagnostic[] } | undefined;
  const lint = linter(
    async (view) => {
      const source = view.state.doc.toString();
      const [reply, types] = await Promise.all([opts.bundle(source), opts.types?.diagnostics(source)]);
      if (view.state.doc.toString() !== source) return []; // stale: the next run has the right ones
      if (types) lastTypes = { source, diagnostics: types };
      return mergeDiagnostics(view.state.doc, reply.ok ? reply.warnings : reply.diagnostics, types);
    },
    { delay: 700 },
  );
  const hover = hoverTooltip(async (view, pos) => {
    const source = view.state.doc.toString();
    const info = await opts.types?.quickInfo(source, pos);
    if (!info || view.state.doc.toString() !== source) return null; // none, or about a text since edited
    return {
      pos: info.from,
      end: info.to,
      above: true,
      create: () => {
        const dom = document.createElement('div');
        dom.className = 'cm-type-info';
        dom.textContent = info.text;
        return { dom };
      },
    };
  });
  const view = new EditorView({
    parent: opts.parent,
    state: EditorState.create({
      doc: opts.source,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        highlightSelectionMatches(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        javascript({ typescript: true }),
        javascriptLanguage.data.of({ autocomplete: complete }),
        autocompletion({ activateOnTyping: true }),
        lint,
        lintGutter(),
        hover,
        keymap.of([
          { key: 'Mod-Enter', run: () => (opts.onPublish(), true) },
          ...closeBracketsKeymap,
          ...defaultKeymap,
          ...searchKeymap,
          ...historyKeymap,
          ...completionKeymap,
          ...lintKeymap,
          indentWithTab,
        ]),
        EditorView.contentAttributes.of({ 'aria-label': 'Module source (TypeScript)' }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) opts.onChange?.(u.state.doc.toString());
        }),
      ],
    }),
  });
  const editor: ModuleEditor = {
    view,
    get source() {
      return view.state.doc.toString();
    },
    setSource(text: string) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    showDiagnostics(diagnostics: Diagnostic[]) {
      const types = lastTypes?.source === view.state.doc.toString() ? lastTypes.diagnostics : undefined;
      view.dispatch(setDiagnostics(view.state, mergeDiagnostics(view.state.doc, diagnostics, types)));
    },
  };
  // Once the language service is ready, check what the editor holds now.
  opts.types?.onState((s) => {
    if (s.state === 'ready') forceLinting(view);
  });
  return editor;
}
