// The playground editor's type checker (demo/playground/typescript-service.ts), run in Node on the
// files the build gives its worker (virtual:spacetimedb-types from demo/playground/vite-plugin.ts):
// which files those are, type errors at their exact range, completion with types, quick info; and
// how the editor merges TypeScript's diagnostics with esbuild's (a syntax error shown once).
import { Text } from '@codemirror/state';
import ts from 'typescript-js';
import { beforeAll, describe, expect, test } from 'vitest';
import { mergeDiagnostics } from '../demo/playground/editor.ts';
import { STARTER } from '../demo/playground/starter.ts';
import { createTypeChecker, type TypeChecker } from '../demo/playground/typescript-service.ts';
import { playgroundFiles, type SpacetimedbTypes } from '../demo/playground/vite-plugin.ts';

let types: SpacetimedbTypes;
let checker: TypeChecker;

beforeAll(async () => {
  const plugin = playgroundFiles();
  const load = plugin.load as (id: string) => Promise<string>;
  const code = await load.call({}, '\0virtual:spacetimedb-types');
  types = JSON.parse(code.slice('export default '.length).replace(/;\n$/, '')) as SpacetimedbTypes;
  checker = createTypeChecker(ts, types);
}, 60_000);

describe("the type checker's files", () => {
  test('the packages a module may import, with their package.json (exports), and ES2023 without the DOM', () => {
    const paths = Object.keys(types.files);
    expect(paths).toContain('/node_modules/spacetimedb/package.json');
    expect(paths).toContain('/node_modules/spacetimedb/dist/server/index.d.ts');
    expect(paths).toContain('/node_modules/spacetimedb/dist/index.d.ts');
    expect(paths).toContain('/node_modules/yjs/package.json');
    expect(paths).toContain(`${types.libDir}/lib.es2023.d.ts`);
    expect(paths).toContain(`${types.libDir}/lib.es5.d.ts`);
    expect(paths).not.toContain(`${types.libDir}/lib.dom.d.ts`);
    expect(paths.every((p) => p.startsWith('/node_modules/'))).toBe(true);
    expect(types.version).toBe(ts.version);
  });
});

describe('the type checker', () => {
  const LOOKUP = "\nexport const lookup = spacetimedb.reducer((ctx) => {\n  ctx.db.task.id.find('one');\n});\n";

  test('the starter checks clean', () => {
    expect(checker.diagnostics(STARTER)).toEqual([]);
  });

  test("a string for a u64 column: TypeScript's message at the string", () => {
    const source = STARTER + LOOKUP;
    const at = source.indexOf("'one'");
    expect(checker.diagnostics(source)).toEqual([
      { from: at, to: at + "'one'".length, severity: 'error', message: "Argument of type 'string' is not assignable to parameter of type 'bigint'.", code: 2345, syntactic: false },
    ]);
  });

  test('a syntax error is syntactic', () => {
    const source = `${STARTER}\nexport const broken = (;\n`;
    const found = checker.diagnostics(source);
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((d) => d.syntactic && d.from >= source.indexOf('export const broken'))).toBe(true);
  });

  test('completion: t. the builders, ctx.db. the tables, a table its methods and indexes, each with its type', () => {
    const source = `${STARTER}\nconst c = t.;\nexport const probe = spacetimedb.reducer((ctx) => {\n  ctx.db.;\n  ctx.db.task.;\n});\n`;
    const builders = checker.completions(source, source.indexOf('t.;') + 2) ?? [];
    expect(builders.find((c) => c.label === 'u64')).toMatchObject({ kind: 'property', detail: '() => U64Builder' });
    const tables = checker.completions(source, source.indexOf('ctx.db.;') + 7) ?? [];
    expect(tables.map((c) => c.label)).toEqual(['task']);
    expect(tables[0]!.detail).toMatch(/^\{ insert: \(row: \{/);
    const members = checker.completions(source, source.indexOf('ctx.db.task.;') + 12) ?? [];
    const byLabel = new Map(members.map((c) => [c.label, c]));
    expect(byLabel.get('count')?.detail).toBe('(): bigint');
    expect(byLabel.get('id')?.detail).toMatch(/^UniqueIndex</);
    expect(byLabel.get('owner')?.detail).toMatch(/^RangedIndex</);
    expect([...byLabel.keys()]).toEqual(expect.arrayContaining(['insert', 'delete', 'iter', 'count', 'id', 'owner']));
  });

  test('quick info: the type and its documentation', () => {
    const at = STARTER.indexOf('t.u64()') + 2;
    const info = checker.quickInfo(STARTER, at);
    expect(info).toMatchObject({ from: at, to: at + 3 });
    expect(info?.text).toMatch(/^\(property\) u64: \(\) => U64Builder\n\n.*U64/s);
  });
});

describe('esbuild and TypeScript diagnostics together', () => {
  const doc = Text.of(['const a = (;', "const b: number = 'x';", 'const c = ;']);
  const line = (n: number) => doc.line(n);

  test("a syntax error both report is shown once, as esbuild says it; TypeScript's other errors are kept", () => {
    const merged = mergeDiagnostics(
      doc,
      [{ text: 'Unexpected ";"', line: 1, column: 11, length: 1, severity: 'error' }],
      [
        { from: line(1).from + 11, to: line(1).from + 12, severity: 'error', message: 'Expression expected.', code: 1109, syntactic: true },
        { from: line(2).from + 6, to: line(2).from + 7, severity: 'error', message: "Type 'string' is not assignable to type 'number'.", code: 2322, syntactic: false },
        { from: line(3).from + 10, to: line(3).from + 11, severity: 'error', message: 'Expression expected.', code: 1109, syntactic: true },
      ],
    );
    expect(merged.map((d) => [doc.lineAt(d.from).number, d.message, d.source])).toEqual([
      [1, 'Unexpected ";"', undefined],
      [2, "Type 'string' is not assignable to type 'number'.", 'TypeScript (TS2322)'],
      [3, 'Expression expected.', 'TypeScript (TS1109)'],
    ]);
  });

  test('without the type checker, only esbuild', () => {
    expect(mergeDiagnostics(doc, [{ text: 'Unexpected ";"', line: 1, column: 11, length: 1, severity: 'error' }], undefined)).toHaveLength(1);
  });
});
