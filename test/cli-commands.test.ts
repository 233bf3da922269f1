// The commands a SpacetimeDB user expects from the CLI, run as a user runs them (each its own
// process): help and --version, `publish -c` asking first (on a real terminal, through util-linux
// `script`) and refusing without one, the SQL prompt fed through stdin, export/import of LCDB
// images, `init` (a Vite app whose module publishes and whose client type-checks), and `dev`
// (publish on save, the migration and the logs, watched as they are printed).
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { main } from '../src/cli/main.ts';
import { COMMANDS } from '../src/cli/help.ts';
import { progress } from '../src/cli/terminal.ts';
import { decodeImage } from '../src/engine/image.ts';
import { PINNED_SPACETIMEDB_VERSION } from '../src/host/module-format.ts';
import { lightcone, type CliResult } from './helpers/cli.ts';
import { killCliChildren, spawnCli } from './helpers/cli-child.ts';
import { CHAT, ROOT, removeTempDirs, tempDir } from './helpers/paths.ts';

afterEach(killCliChildren); // a test that failed half-way leaves no process holding a database
afterAll(removeTempDirs);

function ok(r: CliResult): string {
  expect(r, `stderr: ${r.stderr}`).toMatchObject({ code: 0 });
  return r.stdout;
}

function failed(r: CliResult): string {
  expect(r.code, `stdout: ${r.stdout}`).not.toBe(0);
  expect(r.stdout).toBe('');
  return r.stderr;
}

/** `main` in this process: exit code and both streams. */
async function run(argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    (s) => (stdout += s),
    (s) => (stderr += s),
    { stdin: process.stdin, stdinIsTTY: false, stderrIsTTY: false },
  );
  return { code, stdout, stderr };
}

const texts = async (env: Record<string, string>, db = 'chat'): Promise<string[]> =>
  (JSON.parse(ok(await lightcone(['sql', db, 'SELECT text FROM message', '--json'], { env }))) as { text: string }[]).map((r) => r.text).sort();

describe('help and --version', () => {
  it('--version prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await lightcone(['--version']);
    expect(ok(r)).toBe(`${pkg.version}\n`);
  });

  it('help lists every command; each has its own help with a description, options and an example', async () => {
    const overview = ok(await run(['help']));
    for (const c of COMMANDS) {
      expect(overview).toMatch(new RegExp(`^  ${c.name} +\\S`, 'm'));
      const help = ok(await run([c.name, '--help']));
      expect(help.startsWith(`lightcone ${c.name} — `)).toBe(true);
      expect(help).toContain(`\nUsage: lightcone ${c.name}`);
      expect(help).toMatch(/\nOptions:\n {2}-/);
      expect(help).toMatch(/\nExamples?:\n {2}lightcone /);
      expect(ok(await run(['help', c.name]))).toBe(help);
    }
    expect(ok(await run(['publish', '-h']))).toContain('--delete-data');
    expect(ok(await run(['sql', '--help']))).toContain('\\dt');
  });

  it('`lightcone help publish` in a process; an unknown command is named, exit 2', async () => {
    const help = ok(await lightcone(['help', 'publish']));
    expect(help).toContain('-y, --yes');
    expect(help).toContain('lightcone publish --module-path examples/chat chat');
    const r = await lightcone(['help', 'frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('there is no command frobnicate');
    const r2 = await lightcone(['frobnicate']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('there is no command frobnicate');
  });
});

describe('publish -c asks before deleting data', () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    env = { LIGHTCONE_DATA_DIR: tempDir() };
    ok(await lightcone(['publish', '--module-path', CHAT, 'chat'], { env }));
    ok(await lightcone(['call', 'chat', 'send_message', '"keep me"'], { env }));
  });

  it('without a terminal it refuses, naming --yes, and deletes nothing', async () => {
    const r = await lightcone(['publish', '-c', '--module-path', CHAT, 'chat'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/This will DESTROY database chat .* ALL its data\. There is no terminal to ask on .*add --yes/);
    expect(await texts(env)).toEqual(['keep me']);
  });

  it('on a terminal: "n" aborts and keeps the data; "y" deletes it (and progress shows on the terminal)', async () => {
    const no = spawnCli(['publish', '-c', '--module-path', CHAT, 'chat'], { env, onTerminal: true });
    await no.until((s) => s.includes('[y/N]'));
    expect(no.stdout).toContain('This will DESTROY database chat');
    no.write('n\n');
    const noEnd = await no.exited;
    expect(noEnd.code).toBe(1);
    expect(noEnd.stdout).toContain('Aborted: database chat is unchanged.');
    expect(await texts(env)).toEqual(['keep me']);

    const yes = spawnCli(['publish', '-c', '--module-path', CHAT, 'chat'], { env, onTerminal: true });
    await yes.until((s) => s.includes('[y/N]'));
    yes.write('y\n');
    const yesEnd = await yes.exited;
    expect(yesEnd.code, yesEnd.stdout).toBe(0);
    expect(yesEnd.stdout).toMatch(/Bundling .*examples\/chat\/index\.ts/);
    expect(yesEnd.stdout).toMatch(/Created new database chat with identity: [0-9a-f]{64}/);
    expect(await texts(env)).toEqual([]);
  });

  it('--yes deletes without asking; on a name that does not exist yet -c needs no answer; off a terminal stderr stays empty', async () => {
    ok(await lightcone(['call', 'chat', 'send_message', '"gone"'], { env }));
    const r = await lightcone(['publish', '-c', '--yes', '--module-path', CHAT, 'chat'], { env });
    expect(ok(r)).toMatch(/^Created new database chat with identity: [0-9a-f]{64}\n$/);
    expect(r.stderr).toBe('');
    expect(await texts(env)).toEqual([]);
    const fresh = await lightcone(['publish', '-c', '--module-path', CHAT, 'other'], { env });
    expect(ok(fresh)).toMatch(/^Created new database other/);
    expect(fresh.stderr).toBe('');
  });
});

describe('progress lines', () => {
  it('are drawn on stderr only when it is a terminal, and erased when done', () => {
    let tty = '';
    const p = progress({ stdin: process.stdin, stdinIsTTY: false, stderrIsTTY: true }, (s) => (tty += s), 'Bundling x');
    p.step('Publishing y');
    p.done();
    expect(tty).toContain('Bundling x');
    expect(tty).toContain('Publishing y');
    expect(tty.endsWith('\r\x1b[2K')).toBe(true);
    let piped = '';
    const q = progress({ stdin: process.stdin, stdinIsTTY: false, stderrIsTTY: false }, (s) => (piped += s), 'Bundling x');
    q.step('Publishing y');
    q.done();
    expect(piped).toBe('');
  });
});

describe('the SQL prompt (sql <database> without a query)', () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    env = { LIGHTCONE_DATA_DIR: tempDir(), LIGHTCONE_CONFIG_DIR: tempDir('lightcone-config-') };
    ok(await lightcone(['publish', '--module-path', CHAT, 'chat'], { env }));
    ok(await lightcone(['call', 'chat', 'send_message', '"one"'], { env }));
    ok(await lightcone(['call', 'chat', 'send_message', '"two"'], { env }));
  });

  it('reads statements from stdin: table list, several statements a line, a statement over lines, errors that do not end it', async () => {
    const sql = spawnCli(['sql', 'chat'], { env });
    sql.write('\\dt\n');
    await sql.until((s) => /^ message +\| public +\| 2$/m.test(s));
    expect(sql.stdout).toMatch(/^ user +\| public +\| 1$/m);
    sql.write("SELECT text FROM message WHERE text = 'one'; SELECT COUNT(*) AS n FROM message\n");
    await sql.until((s) => /^ n\s*\n-+\n 2$/m.test(s));
    expect(sql.stdout).toMatch(/^ "one"$/m);
    // SELECT without its FROM is unfinished, and so is an open parenthesis: the next lines complete it.
    sql.write("SELECT id, text\nFROM message WHERE text = (\n  'two')\n");
    await sql.until((s) => /^ 2 +\| "two"$/m.test(s));
    sql.write('SELEC oops\n');
    await sql.until(() => sql.stderr.includes("found 'SELEC'"));
    sql.write("INSERT INTO message (id, sender, sent, text) VALUES (0, 0x01, 0, 'three')\n\\d message\n");
    await sql.until((s) => /^ id +\| u64 +\| primary key, auto-inc$/m.test(s));
    sql.end();
    const end = await sql.exited;
    // A failed statement makes the exit code 1 when stdin is not a terminal (a script should notice).
    expect(end.code).toBe(1);
    expect(end.stdout).toContain('1 row inserted');
    expect(await texts(env)).toEqual(['one', 'three', 'two']);
  });

  it('keeps a history across sessions (\\history), and \\q leaves before the lines after it', async () => {
    const first = spawnCli(['sql', 'chat'], { env });
    first.write("SELECT * FROM user\n\\q\nDELETE FROM message WHERE text = 'one'\n");
    first.end();
    expect((await first.exited).code).toBe(0);
    expect(await texts(env)).toContain('one');
    const history = readFileSync(join(env.LIGHTCONE_CONFIG_DIR!, 'sql_history'), 'utf8').split('\n');
    expect(history).toContain("SELECT id, text FROM message WHERE text = ( 'two')");
    expect(history.at(-2)).toBe('\\q');
    const second = spawnCli(['sql', 'chat'], { env });
    second.write('\\history\n.exit\n');
    second.end();
    const out = (await second.exited).stdout;
    expect(out).toMatch(/^ +\d+ {2}SELECT \* FROM user$/m);
    expect(out).toMatch(/^ +\d+ {2}\\dt$/m);
  });

  it('on a terminal: a prompt named after the database, a continuation prompt, and Ctrl-D leaves', async () => {
    const sql = spawnCli(['sql', 'chat'], { env, onTerminal: true });
    await sql.until((s) => s.includes('chat> '));
    expect(sql.stdout).toContain('\\h for help, \\dt for the tables, \\q to quit');
    sql.write('SELECT COUNT(*) AS total\r');
    await sql.until((s) => s.includes('-> '));
    sql.write('FROM message\r');
    await sql.until((s) => /total\s*\r?\n-+\r?\n 3/.test(s));
    sql.write('\x04');
    expect((await sql.exited).code).toBe(0);
  });

  it('an unknown database fails before prompting', async () => {
    const r = await lightcone(['sql', 'nope'], { env });
    expect(failed(r)).toMatch(/database nope does not exist/);
  });
});

describe('export and import (LCDB images)', () => {
  let a: Record<string, string>;
  let b: Record<string, string>;
  let file: string;

  beforeAll(async () => {
    a = { LIGHTCONE_DATA_DIR: tempDir() };
    b = { LIGHTCONE_DATA_DIR: tempDir() };
    ok(await lightcone(['publish', '--module-path', CHAT, 'chat'], { env: a }));
    ok(await lightcone(['call', 'chat', 'send_message', '"moved"'], { env: a }));
    file = join(tempDir(), 'chat.lcdb');
  });

  it('export writes the image the browser writes; import recreates the database with its identity and rows', async () => {
    expect(ok(await lightcone(['export', 'chat', file], { env: a }))).toMatch(/^Exported database chat \(\d+ KB\) to .*chat\.lcdb\n$/);
    const image = new Uint8Array(readFileSync(file));
    const { header } = decodeImage(image);
    const identity = (JSON.parse(ok(await lightcone(['describe', 'chat', '--json'], { env: a }))) as { identity: string }).identity.replace(/^0x/, '');
    expect(header.identity).toBe(identity);
    expect(header.name).toBe('chat');
    const out = ok(await lightcone(['import', file, 'copy'], { env: b }));
    expect(out).toMatch(new RegExp(`^Imported .*chat\\.lcdb \\(\\d+ KB\\) as database copy with identity: ${identity}\\n$`));
    expect(await texts(b, 'copy')).toEqual(['moved']);
    // The copy is a working database: calls run its module, and it exports again.
    ok(await lightcone(['call', 'copy', 'send_message', '"after"'], { env: b }));
    expect(await texts(b, 'copy')).toEqual(['after', 'moved']);
  });

  it('import over an existing database needs --yes without a terminal; refused, it keeps the data', async () => {
    const r = await lightcone(['import', file, 'copy'], { env: b });
    expect(failed(r)).toMatch(/This will REPLACE database copy .*add --yes/);
    expect(await texts(b, 'copy')).toEqual(['after', 'moved']);
    ok(await lightcone(['import', file, 'copy', '--yes'], { env: b }));
    expect(await texts(b, 'copy')).toEqual(['moved']);
  });

  it('a file that is not an image, or no file, is a named error and changes nothing', async () => {
    const junk = join(tempDir(), 'junk.lcdb');
    writeFileSync(junk, 'not a database');
    expect(failed(await lightcone(['import', junk, 'copy', '--yes'], { env: b }))).toMatch(/junk\.lcdb: this is not a Lightcone database image \(it should start with "LCDB"\)/);
    expect(failed(await lightcone(['import', join(tempDir(), 'missing.lcdb'), 'copy'], { env: b }))).toMatch(/missing\.lcdb does not exist/);
    // A damaged header (right magic, wrong length) too.
    const damaged = new Uint8Array(readFileSync(file));
    damaged[5] = 0xff;
    writeFileSync(junk, damaged);
    expect(failed(await lightcone(['import', junk, 'copy', '--yes'], { env: b }))).toMatch(/damaged/);
    expect(await texts(b, 'copy')).toEqual(['moved']);
    expect(failed(await lightcone(['export', 'nope', join(tempDir(), 'x.lcdb')], { env: b }))).toMatch(/database nope does not exist/);
  });
});

describe('init', () => {
  it('writes a chat app whose module publishes and whose client type-checks against this package', async () => {
    const dir = join(tempDir(), 'my-app');
    const out = ok(await lightcone(['init', dir, '--template', 'chat']));
    expect(out).toContain(`Created a chat app in ${dir}`);
    expect(out).toContain('npm run dev');
    for (const f of ['package.json', 'vite.config.ts', 'index.html', 'src/main.ts', 'src/env.d.ts', 'spacetimedb/index.ts', 'tsconfig.json']) expect(existsSync(join(dir, f)), f).toBe(true);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(pkg.scripts.dev).toBe('vite');
    // Not on the registry yet: the app takes this checkout.
    expect(pkg.dependencies.lightcone).toBe(`file:${ROOT}`);
    expect(pkg.dependencies.spacetimedb).toBe(PINNED_SPACETIMEDB_VERSION);
    expect(pkg.devDependencies.vite).toMatch(/^\^?\d/);
    expect(readFileSync(join(dir, 'vite.config.ts'), 'utf8')).toContain("import lightcone from 'lightcone/vite'");
    expect(readFileSync(join(dir, 'src/main.ts'), 'utf8')).toContain("from '../spacetimedb/index.ts?lightcone'");
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toContain('src="/src/main.ts"');

    // The module publishes, and its reducers run.
    const env = { LIGHTCONE_DATA_DIR: tempDir() };
    ok(await lightcone(['publish', '--module-path', join(dir, 'spacetimedb'), 'my-app'], { env }));
    ok(await lightcone(['call', 'my-app', 'send_message', '"hi"'], { env }));
    expect(await texts(env, 'my-app')).toEqual(['hi']);
    // In the app's folder, publish and dev find the module in ./spacetimedb by themselves.
    ok(await lightcone(['publish', 'my-app'], { env, cwd: dir }));

    // The client type-checks (strict) with lightcone, vite and spacetimedb where npm would put them.
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'lightcone'));
    for (const p of ['vite', 'spacetimedb']) symlinkSync(join(ROOT, 'node_modules', p), join(dir, 'node_modules', p));
    const tsc = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], (e, stdout, stderr) => resolve({ code: e ? Number(e.code) : 0, out: stdout + stderr })),
    );
    expect(tsc.out).toBe('');
    expect(tsc.code).toBe(0);
  });

  it('writes the basic template; refuses a folder holding its files (changing none) and an unknown template', async () => {
    const dir = tempDir();
    ok(await lightcone(['init', '-t', 'basic'], { cwd: dir }));
    expect(readFileSync(join(dir, 'spacetimedb/index.ts'), 'utf8')).toContain('say_hello');
    const env = { LIGHTCONE_DATA_DIR: tempDir() };
    ok(await lightcone(['publish', '--module-path', join(dir, 'spacetimedb'), 'basic'], { env }));
    ok(await lightcone(['call', 'basic', 'add', '"Ada"'], { env }));
    ok(await lightcone(['call', 'basic', 'say_hello'], { env }));
    expect(ok(await lightcone(['logs', 'basic', '-n', '2'], { env }))).toMatch(/Hello, Ada!\n.*Hello, World!\n$/);
    expect(ok(await lightcone(['logs', 'basic', '-n', '0'], { env }))).toBe(''); // none, not the whole log

    writeFileSync(join(dir, 'index.html'), 'mine');
    const r = await lightcone(['init', dir]);
    expect(failed(r)).toMatch(/already has package\.json, .*index\.html.*overwrites nothing/);
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toBe('mine');
    expect(failed(await lightcone(['init', join(tempDir(), 'x'), '--template', 'todo']))).toMatch(/--template "todo" is not a template: use chat or basic/);
  });
});

describe('dev', () => {
  it('publishes on every save: the migration, each refusal, a bundle error, the logs; other commands work meanwhile', async () => {
    const dir = tempDir();
    const module = join(dir, 'module');
    cpSync(join(ROOT, 'examples', 'chat'), module, { recursive: true });
    const file = join(module, 'index.ts');
    const original = readFileSync(file, 'utf8');
    const env = { LIGHTCONE_DATA_DIR: join(dir, 'data') };
    const dev = spawnCli(['dev', '--module-path', module, 'chat'], { env });
    // Which step it stuck at, if it does: what dev printed.
    onTestFailed(() => console.error(`lightcone dev printed:\n${dev.stdout}\nstderr:\n${dev.stderr}`));
    await dev.until((s) => /Created database chat with identity [0-9a-f]{64}/.test(s));
    await dev.until((s) => s.includes('INFO: Chat module initialised'));

    // A new table and a reducer: an automatic migration, printed.
    const withNote = original.replace(
      'const spacetimedb = schema({ user, message });',
      'const note = table({ public: true }, { id: t.u64().primaryKey(), body: t.string() });\nconst spacetimedb = schema({ user, message, note });\nexport const add_note = spacetimedb.reducer({ id: t.u64(), body: t.string() }, (ctx, { id, body }) => { console.info("note " + body); ctx.db.note.insert({ id, body }); });',
    );
    writeFileSync(file, withNote);
    await dev.until((s) => /Updated database chat:\n(?: {2}\+ .*\n)*? {2}\+ add table note\n/.test(s));

    // dev does not hold the database: another process calls the new reducer; its log line shows in dev.
    ok(await lightcone(['call', 'chat', 'add_note', '1', '"first"'], { env }));
    await dev.until((s) => s.includes('INFO: note first'));
    expect(ok(await lightcone(['sql', 'chat', 'SELECT body FROM note', '--json'], { env }))).toContain('"first"');

    // Removing the table is refused by the rules: each reason, and the database is unchanged.
    writeFileSync(file, original);
    await dev.until((s) => /Refused: .*still runs the previous module:\n {2}- table note was removed/.test(s));
    expect(ok(await lightcone(['sql', 'chat', 'SELECT body FROM note', '--json'], { env }))).toContain('"first"');

    // A syntax error: the bundler's message, and dev goes on.
    writeFileSync(file, `${withNote}\nexport const broken = (;\n`);
    await dev.until((s) => /The module does not bundle; the database is unchanged:\n[\s\S]*?index\.ts:\d+:\d+: /.test(s));
    writeFileSync(file, withNote.replace('"note "', '"noted "'));
    await dev.until((s) => /Updated database chat:\n {2}\+ update reducers/.test(s.slice(s.lastIndexOf('does not bundle'))));
    ok(await lightcone(['call', 'chat', 'add_note', '2', '"second"'], { env }));
    await dev.until((s) => s.includes('INFO: noted second'));

    dev.child.kill('SIGINT');
    const end = await dev.exited;
    expect(end.code).toBe(0);
    expect(end.stdout).toContain('lightcone dev: stopped');
    expect(end.stderr).toBe('');
    // Four publishes and five other CLI processes: alone about 6 s; on a loaded 2-core CI machine
    // running other test files beside it, it went past the default 30 s.
  }, 120_000);

  it('a save made while the first publish runs is published too', async () => {
    const dir = tempDir();
    const module = join(dir, 'module');
    cpSync(join(ROOT, 'examples', 'chat'), module, { recursive: true });
    const file = join(module, 'index.ts');
    const dev = spawnCli(['dev', '--module-path', module, 'chat'], { env: { LIGHTCONE_DATA_DIR: join(dir, 'data') } });
    onTestFailed(() => console.error(`lightcone dev printed:\n${dev.stdout}\nstderr:\n${dev.stderr}`));
    await dev.until((s) => s.includes('Created database chat'));
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'const spacetimedb = schema({ user, message });',
        'const note = table({ public: true }, { id: t.u64().primaryKey() });\nconst spacetimedb = schema({ user, message, note });',
      ),
    );
    await dev.until((s) => s.includes('  + add table note\n'));
    dev.child.kill('SIGINT');
    expect((await dev.exited).code).toBe(0);
  });
});
