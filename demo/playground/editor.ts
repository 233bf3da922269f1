// The module editor: CodeMirror 6 with TypeScript highlighting, esbuild's errors as lint
// diagnostics at their line and column (bundled in the worker as you type, after a pause: typing
// never waits for it), and SpacetimeDB completion (completion.ts). Ctrl/Cmd-Enter publishes.
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { javascript, javascriptLanguage } from '@codemirror/lang-javascript';
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { type Diagnostic as CmDiagnostic, lintGutter, linter, lintKeymap, setDiagnostics } from '@codemirror/lint';
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search';
import { EditorState, type Text } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view';
import type { SchemaDescription } from 'lightcone';
import type { BundleReply, Diagnostic } from './bundler.ts';
import { spacetimeCompletions, type Vocabulary } from './completion.ts';

export interface EditorOptions {
  parent: HTMLElement;
  source: string;
  /** Bundles the source (the worker): its errors become diagnostics. */
  bundle: (source: string) => Promise<BundleReply>;
  vocabulary: () => Vocabulary;
  schema: () => SchemaDescription | undefined;
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

export function createEditor(opts: EditorOptions): ModuleEditor {
  let vocab: Vocabulary | undefined;
  const complete = (ctx: Parameters<ReturnType<typeof spacetimeCompletions>>[0]) => spacetimeCompletions((vocab ??= opts.vocabulary()), opts.schema)(ctx);
  const lint = linter(
    async (view) => {
      const source = view.state.doc.toString();
      const reply = await opts.bundle(source);
      if (view.state.doc.toString() !== source) return []; // stale: the next run has the right ones
      return reply.ok ? toCmDiagnostics(view.state.doc, reply.warnings) : toCmDiagnostics(view.state.doc, reply.diagnostics);
    },
    { delay: 700 },
  );
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
  return {
    view,
    get source() {
      return view.state.doc.toString();
    },
    setSource(text: string) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    showDiagnostics(diagnostics: Diagnostic[]) {
      view.dispatch(setDiagnostics(view.state, toCmDiagnostics(view.state.doc, diagnostics)));
    },
  };
}
