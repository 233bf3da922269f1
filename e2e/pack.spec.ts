// README "Add Lightcone to your app", followed literally: pack Lightcone (`npm pack`, which builds
// it), make a fresh Vite app in a temporary folder from the template's files and the section's
// files, run the section's install command with the tarball, type-check it (`tsc`, strict), build
// it, and sign the guestbook in Chromium: in the build (`vite preview`), in the dev server, and in
// the dev server with Lightcone linked instead of installed. A build whose server does not deliver
// a worker script or sqlite3.wasm must make `connect` reject with the named error the README names.
// npm installs from its cache where it can (the repository's own install filled it).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type Page, test } from '@playwright/test';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const repo = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };

test.describe.configure({ mode: 'serial' });

let work: string;
let app: string;

/** The README section, its code blocks in order. */
function section(): { lang: string; text: string }[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Add Lightcone to your app\n');
  expect(start, 'README has the section "Add Lightcone to your app"').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const body = readme.slice(start, end < 0 ? undefined : end);
  return [...body.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, text: m[2]! }));
}

/** Runs a command to completion; its output is the error message when it fails. */
function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${x.stdout ?? ''}\n${x.stderr ?? ''}\n${x.message}`);
  }
}

/** The environment without what `npm test` sets for its own scripts (the app is another project). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || /^npm_config_(cache|registry|userconfig)$/i.test(k)));
}

test.beforeAll(async () => {
  test.setTimeout(240_000);
  work = mkdtempSync(join(tmpdir(), 'lightcone-pack-'));
  app = join(work, 'my-app');
  const blocks = section();

  // The package, as `npm pack` makes it (its `prepare` script builds dist/).
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], ROOT)) as { filename: string; files: { path: string }[] }[];
  const tarball = join(work, packed[0]!.filename);
  const shipped = packed[0]!.files.map((f) => f.path);
  expect(
    shipped.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts')),
    'no TypeScript source is shipped',
  ).toEqual([]);
  expect(shipped).toEqual(expect.arrayContaining(['dist/browser/index.js', 'dist/browser/engine-worker.js', 'dist/node.js', 'dist/vite.js', 'dist/cli.js', 'dist/types/src/index.d.ts']));

  // What `npm create vite@latest my-app -- --template vanilla-ts` gives (the files the section keeps),
  // with the repository's own vite and typescript so that npm finds them in its cache.
  mkdirSync(join(app, 'src'), { recursive: true });
  const template = {
    name: 'my-app',
    private: true,
    version: '0.0.0',
    type: 'module',
    scripts: { dev: 'vite', build: 'tsc && vite build', preview: 'vite preview' },
    devDependencies: { typescript: repo.devDependencies.typescript, vite: repo.devDependencies.vite },
  };
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(template, null, 2)}\n`);
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      useDefineForClassFields: true,
      module: 'ESNext',
      lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      types: ['vite/client'],
      skipLibCheck: true,
      moduleResolution: 'bundler',
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
      moduleDetection: 'force',
      noEmit: true,
      strict: true,
      noUnusedLocals: true,
      noUnusedParameters: true,
      erasableSyntaxOnly: true,
      noFallthroughCasesInSwitch: true,
      noUncheckedSideEffectImports: true,
    },
    // The template checks src/; vite.config.ts is checked too (it imports lightcone/vite).
    include: ['src', 'vite.config.ts'],
  };
  writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
  writeFileSync(
    join(app, 'index.html'),
    '<!doctype html>\n<html lang="en">\n  <head>\n    <meta charset="UTF-8" />\n    <title>my-app</title>\n  </head>\n  <body>\n    <div id="app"></div>\n    <script type="module" src="/src/main.ts"></script>\n  </body>\n</html>\n',
  );

  // The section's files: each TypeScript block names its file on its first line.
  const files = blocks.filter((b) => b.lang === 'ts');
  expect(files.map((b) => b.text.split('\n')[0])).toEqual(['// vite.config.ts', '// src/guestbook/index.ts', '// src/guestbook-view.ts', '// src/main.ts']);
  for (const b of files) {
    const [first, ...rest] = b.text.split('\n');
    const path = join(app, first!.replace(/^\/\/ /, ''));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, rest.join('\n'));
  }

  // The section's install command, with this tarball for the one it names.
  const sh = blocks.filter((b) => b.lang === 'sh');
  expect(sh).toHaveLength(1);
  const [command, ...args] = sh[0]!.text.trim().split(/\s+/);
  expect(command).toBe('npm');
  const named = args.find((a) => a.endsWith('.tgz'));
  expect(named?.split('/').pop(), 'the README names the tarball that npm pack writes').toBe(packed[0]!.filename);
  run('npm', [...args.map((a) => (a === named ? tarball : a)), '--prefer-offline', '--no-audit', '--no-fund'], app);
});

test.afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the README app type-checks strictly, builds, and signs the guestbook in its build', async ({ page }) => {
  test.setTimeout(120_000);
  run('npm', ['run', 'build'], app); // tsc && vite build
  // Lightcone's own declarations are clean even when checked (skipLibCheck off); other packages' are theirs.
  const strict = tscErrors(['--skipLibCheck', 'false']);
  expect(strict.filter((line) => line.includes('node_modules/lightcone/'))).toEqual([]);
  await withServer(['preview'], async (url) => {
    await sign(page, url, 'hello from the build');
    await page.reload();
    await expect(page.locator('#app li')).toHaveText(['hello from the build']); // durable in IndexedDB
    await page.click('#app button'); // an empty entry: the module's SenderError, shown by the component
    await expect(page.locator('#app [role=alert]')).toHaveText('Write something first');
  });
});

test('the README app runs in the dev server', async ({ page }) => {
  test.setTimeout(90_000);
  await withServer([], (url) => sign(page, url, 'hello from dev'));
});

test("a build whose server does not deliver sqlite3.wasm or a worker's script rejects connect with a named error that says what to fix", async ({ page }) => {
  test.setTimeout(90_000);
  const assets = readdirSync(join(app, 'dist', 'assets'));
  for (const [what, missing, expected] of [
    ['wasm', /^sqlite3-.*\.wasm$/, /^InternalError: SQLite's WebAssembly \(sqlite3\.wasm\) could not be loaded: .*lightcone\/vite/],
    ['engine', /^engine-worker-.*\.js$/, /^InternalError: the Lightcone engine worker could not start: its script did not load.*lightcone\/vite/],
    ['shared', /^shared-worker-.*\.js$/, /^InternalError: the Lightcone shared worker could not start: its script did not load.*lightcone\/vite/],
  ] as const) {
    expect(assets.filter((a) => missing.test(a))).toHaveLength(1);
    const out = join(app, `dist-without-${what}`);
    cpSync(join(app, 'dist'), out, { recursive: true });
    for (const a of assets) if (missing.test(a)) rmSync(join(out, 'assets', a));
    // vite preview answers a missing file with index.html, as many static servers do; a strict
    // server answers 404.
    for (const serve of [(f: (url: string) => Promise<void>) => withServer(['preview', '--outDir', out], f), (f: (url: string) => Promise<void>) => withStaticServer(out, f)]) {
      await serve(async (url) => {
        await page.goto(url);
        await expect(page.locator('#app')).toHaveText(expected, { timeout: 20_000 });
      });
    }
  }
});

test("the installed package's Node entry and CLI run the README's module", () => {
  test.setTimeout(60_000);
  const script = [
    "import { openDatabase } from 'lightcone/node';",
    "const db = await openDatabase({ name: 'guestbook', module: 'src/guestbook' });",
    "await db.call('sign', { text: 'from Node' });",
    "console.log(JSON.stringify(await db.sql('SELECT text FROM entry')));",
    'await db.close();',
  ].join('\n');
  writeFileSync(join(app, 'node-check.mjs'), script);
  expect(JSON.parse(run(process.execPath, ['node-check.mjs'], app))).toEqual([{ text: 'from Node' }]);
  const cli = join(app, 'node_modules', '.bin', 'lightcone');
  run(cli, ['publish', '--module-path', 'src/guestbook', 'book'], app);
  run(cli, ['call', 'book', 'sign', '"from the CLI"'], app);
  expect(run(cli, ['sql', 'book', 'SELECT text FROM entry'], app)).toContain('"from the CLI"');
});

test('the README app runs in the dev server with Lightcone linked (npm link) instead of installed', async ({ page }) => {
  test.setTimeout(90_000);
  // What `npm link lightcone` leaves: a symlink to the checkout, which lies outside the app's folder.
  rmSync(join(app, 'node_modules', 'lightcone'), { recursive: true, force: true });
  symlinkSync(ROOT, join(app, 'node_modules', 'lightcone'), 'dir');
  rmSync(join(app, 'node_modules', '.vite'), { recursive: true, force: true });
  expect(tscErrors([])).toEqual([]);
  await withServer([], (url) => sign(page, url, 'hello from a linked Lightcone'));
});

/** Opens the app, signs the book, and waits for the entry to show in the list. */
async function sign(page: Page, url: string, text: string): Promise<void> {
  await page.goto(url);
  await page.fill('#app input[name=text]', text, { timeout: 30_000 });
  await page.click('#app button');
  await expect(page.locator('#app li')).toHaveText([text], { timeout: 20_000 });
  await expect(page.locator('#app input[name=text]')).toHaveValue('');
}

/** tsc's error lines for the app (none when it passes). */
function tscErrors(extra: string[]): string[] {
  try {
    execFileSync(process.execPath, [join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app, ...extra], { cwd: app, encoding: 'utf8', stdio: 'pipe' });
    return [];
  } catch (e) {
    return String((e as { stdout?: string }).stdout ?? e)
      .split('\n')
      .filter((line) => line.includes('error TS'));
  }
}

/** Runs `vite <args>` in the app on a free port until `f` is done. */
async function withServer(args: string[], f: (url: string) => Promise<void>): Promise<void> {
  const port = await freePort();
  const server: ChildProcess = spawn(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), ...args, '--port', String(port), '--strictPort'], {
    cwd: app,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  server.stdout?.on('data', (d) => (output += d));
  server.stderr?.on('data', (d) => (output += d));
  try {
    const url = `http://localhost:${port}/`;
    await expect.poll(async () => (await fetch(url).catch(() => undefined))?.status, { message: `vite ${args.join(' ')} serves ${url}`, timeout: 30_000 }).toBe(200);
    await f(url);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- vite ${args.join(' ')} said:\n${output}`);
  } finally {
    server.kill();
  }
}

/** Serves the files of `dir` as they are (404 for any other path) on a free port until `f` is done. */
async function withStaticServer(dir: string, f: (url: string) => Promise<void>): Promise<void> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
  const server = createHttpServer((req, res) => {
    const path = join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname).replace(/\/$/, '/index.html'));
    if (!path.startsWith(dir) || !existsSync(path) || !statSync(path).isFile()) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, 'localhost', resolve));
  try {
    await f(`http://localhost:${port}/`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, 'localhost', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
