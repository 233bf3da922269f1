// Docs that run: every code block of README.md, extracted when the test runs (so a section edited
// today is what is checked), is run or type-checked as written, or says why not:
//   ```sh                  runs (sh -e) in a fresh folder laid out like this repository for a user:
//                          examples/ and lightcone installed (node_modules), so `npx lightcone …`
//                          is this checkout's CLI; every command must succeed
//   ```ts                  type-checks (strict) with lightcone, vite and spacetimedb installed; a
//                          block whose first line is a `// path` comment is that file of its section
//                          (so a section's files import each other), any other block a file of its own
// An HTML comment on the line before a block changes that:
//   <!-- snippet: check [chat=examples/chat] [bindings=examples/chat] [prelude=<ts>] -->
//                          type-checks, with a copy of an example module at ./chat, SDK bindings
//                          generated into ./module_bindings, and declarations the fragment assumes
//   <!-- snippet: file <path> -->       the block is that file of the repository, which runs here
//   <!-- snippet: e2e <spec> (…) -->    a Playwright spec follows it (in Chromium)
//   <!-- snippet: skip (<reason>) -->   not runnable (a synopsis with placeholders, a diagram, a
//                                       command that serves forever)
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateBindings } from '../src/generate/generate.ts';
import { removeTempDirs, ROOT, tempDir } from './helpers/paths.ts';

afterAll(removeTempDirs);

interface Snippet {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  /** The `## ` heading it is under. */
  section: string;
  marker: { kind: string; args: string } | undefined;
}

/** The fenced code blocks of a Markdown text, with the `<!-- snippet: … -->` comment before each. */
function snippets(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const out: Snippet[] = [];
  let section = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const open = /^```(\S*)\s*$/.exec(line);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    let j = start - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const m = j >= 0 ? /^<!-- snippet: (\w+)\s*(.*?)\s*-->$/.exec(lines[j]!.trim()) : null;
    out.push({ line: start + 1, lang: open[1]!, code: `${body.join('\n')}\n`, section, marker: m ? { kind: m[1]!, args: m[2]! } : undefined });
  }
  return out;
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const all = snippets(README);
const where = (s: Snippet) => `README.md:${s.line} (${s.section})`;
const isCheck = (s: Snippet) => (s.lang === 'ts' && s.marker === undefined) || s.marker?.kind === 'check';
const isRun = (s: Snippet) => s.lang === 'sh' && s.marker === undefined;

function run(file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  delete env.LIGHTCONE_DATA_DIR;
  delete env.LIGHTCONE_CONFIG_DIR;
  delete env.NODE_OPTIONS;
  return new Promise((resolve) =>
    execFile(file, args, { cwd: opts.cwd, env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr }),
    ),
  );
}

/** Links `name` in `dir`/node_modules to this repository's copy (or to the repository itself). */
function install(dir: string, name: string, target = join(ROOT, 'node_modules', name)): void {
  const link = join(dir, 'node_modules', name);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(target, link);
}

describe('README snippets', () => {
  it('every code block is run, type-checked, or says why not', () => {
    expect(all.length).toBeGreaterThan(10);
    const unaccounted = all.filter((s) => !isRun(s) && !isCheck(s) && !['skip', 'file', 'e2e'].includes(s.marker?.kind ?? ''));
    expect(unaccounted.map(where), 'mark each with <!-- snippet: skip (<reason>) --> or make it run').toEqual([]);
    for (const s of all.filter((x) => x.marker?.kind === 'skip')) expect(s.marker!.args, `${where(s)} needs a reason`).toMatch(/^\(.+\)$/);
    for (const s of all.filter((x) => x.marker?.kind === 'e2e')) expect(existsSync(join(ROOT, s.marker!.args.split(' ')[0]!)), `${where(s)}: ${s.marker!.args}`).toBe(true);
    // Most blocks run or type-check; those that cannot are few.
    expect(all.filter((s) => s.marker?.kind === 'skip').length).toBeLessThanOrEqual(Math.ceil(all.length / 3));
  });

  const shells = all.filter(isRun);
  it.each(shells.map((s) => [where(s), s] as const))(
    'the shell block at %s runs as written',
    async (_, s) => {
      // A folder laid out as the README's reader has it: the examples, and lightcone installed.
      const dir = tempDir('lightcone-readme-');
      symlinkSync(join(ROOT, 'examples'), join(dir, 'examples'));
      install(dir, 'lightcone', ROOT);
      mkdirSync(join(dir, 'node_modules', '.bin'));
      symlinkSync(join(ROOT, 'bin', 'lightcone.js'), join(dir, 'node_modules', '.bin', 'lightcone'));
      const r = await run('sh', ['-e', '-c', s.code], { cwd: dir, env: { LIGHTCONE_CONFIG_DIR: join(dir, '.config') } });
      expect(r.code, `${where(s)} failed:\n${s.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).not.toBe('');
    },
    300_000,
  );

  it('the Node example is examples/node-quickstart.mjs, which prints what it computes and runs again', async () => {
    const files = all.filter((s) => s.marker?.kind === 'file');
    expect(files.map((s) => s.marker!.args)).toContain('examples/node-quickstart.mjs');
    for (const s of files) expect(s.code, `${where(s)} must be ${s.marker!.args} as it is`).toBe(readFileSync(join(ROOT, s.marker!.args), 'utf8'));
    const dir = tempDir('lightcone-readme-node-');
    const script = join(ROOT, 'examples', 'node-quickstart.mjs');
    const first = await run(process.execPath, [script], { cwd: dir });
    expect(first, first.stderr).toMatchObject({ code: 0 });
    expect(first.stdout).toBe(
      ['bob cannot send 1000000: Insufficient funds', 'alice has 100', 'bob has 5', '1 transfer(s) so far; the last log line: Opened account 2 for bob with balance 0', ''].join('\n'),
    );
    // Again: the accounts were kept in ./.lightcone, and the balances move on.
    const second = await run(process.execPath, [script], { cwd: dir });
    expect(second, second.stderr).toMatchObject({ code: 0 });
    expect(second.stdout).toContain('bob has 10\n');
    expect(second.stdout).toContain('2 transfer(s) so far');
    expect(existsSync(join(dir, '.lightcone', 'databases', 'bank'))).toBe(true);
  }, 120_000);

  it('the TypeScript blocks type-check (strict) against this package', async () => {
    const checks = all.filter(isCheck);
    expect(checks.length).toBeGreaterThan(5);
    const dir = tempDir('lightcone-readme-ts-');
    install(dir, 'lightcone', ROOT);
    for (const p of ['vite', 'spacetimedb', '@types']) install(dir, p);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          lib: ['es2023', 'dom', 'dom.iterable'],
          module: 'preserve',
          moduleResolution: 'bundler',
          allowImportingTsExtensions: true,
          noEmit: true,
          strict: true,
          skipLibCheck: true,
          isolatedModules: true,
          types: ['node'],
        },
        include: ['**/*.ts'],
        exclude: ['node_modules'],
      }),
    );
    writeFileSync(join(dir, 'env.d.ts'), '/// <reference types="vite/client" />\n/// <reference types="lightcone/vite/client" />\n');
    /** Each written file: the snippet it holds and how many prelude lines precede its code. */
    const origin = new Map<string, { s: Snippet; offset: number }>();
    for (const s of checks) {
      const folder = join(dir, s.section.toLowerCase().replace(/[^a-z0-9]+/g, '-'));
      const args = s.marker?.args ?? '';
      const prelude = /(?:^|\s)prelude=(.*)$/.exec(args)?.[1] ?? '';
      const options = args.replace(/(?:^|\s)prelude=.*$/, '');
      const chat = /(?:^|\s)chat=(\S+)/.exec(options)?.[1];
      if (chat) cpSync(join(ROOT, chat), join(folder, 'chat'), { recursive: true });
      const bindings = /(?:^|\s)bindings=(\S+)/.exec(options)?.[1];
      if (bindings) await generateBindings({ modulePath: join(ROOT, bindings), outDir: join(folder, 'module_bindings') });
      const path = /^\/\/ ([\w./-]+\.ts)\b/.exec(s.code)?.[1] ?? `snippet-${s.line}.ts`;
      const file = join(folder, path);
      expect(existsSync(file), `${where(s)}: two blocks of this section are ${path}`).toBe(false);
      mkdirSync(dirname(file), { recursive: true });
      const head = prelude ? `${prelude}\n` : '';
      writeFileSync(file, `${head}${s.code}export {};\n`);
      origin.set(file.slice(dir.length + 1), { s, offset: head ? 1 : 0 });
    }
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, '--pretty', 'false'], { cwd: dir });
    // Errors as README positions: `README.md:<line> (<section>): <message>`.
    const errors = tsc.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const m = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(l);
        const o = m ? origin.get(m[1]!) : undefined;
        return o ? `README.md:${o.s.line + Number(m![2]) - o.offset} (${o.s.section}): ${m![4]}` : l;
      });
    expect(errors).toEqual([]);
    expect(tsc.code).toBe(0);
  }, 180_000);
});
