// The playground (demo/index.html) driven as a person would, through its accessible names: edit
// the module in the editor, publish, call a reducer through its form, see the rows; SQL with an
// error at its position; a refused migration's reasons and "Reset data"; bundling errors at their
// line; a module that throws while loading; a runaway reducer that leaves the page responsive,
// and "Stop and restart engine"; the editor's TypeScript service (type errors at their range,
// completion and hover types, the page usable while it loads, the fallback when it cannot load).
// Each test gets a fresh browser profile (its own IndexedDB).
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { bundleModule } from '../src/host/bundle.ts';

const message = (page: Page) => page.locator('#message');

/** Opens the playground; a first visit publishes the starter module (a task list). */
async function open(page: Page, query = ''): Promise<void> {
  await page.goto(`/${query}`);
  await expect(message(page)).toHaveText('Published: a new database.', { timeout: 45_000 });
}

/** Appends text at the end of the module, typed into the editor. */
async function appendToModule(page: Page, text: string): Promise<void> {
  const editor = page.getByRole('textbox', { name: 'Module source (TypeScript)' });
  await editor.click();
  await page.keyboard.press('Control+End');
  await page.keyboard.insertText(text);
}

/** Replaces `from` by `to` in the module (through the editor's own API, as a paste would). */
async function replaceInModule(page: Page, from: string, to: string): Promise<void> {
  await page.evaluate(
    ([a, b]) => {
      const app = (globalThis as unknown as { playground: { editor: { source: string; setSource(s: string): void } } }).playground;
      if (!app.editor.source.includes(a!)) throw new Error(`the module has no ${a}`);
      app.editor.setSource(app.editor.source.replace(a!, b!));
    },
    [from, to],
  );
}

async function publish(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Publish' }).click();
}

async function callForm(page: Page, fn: string) {
  await page.getByRole('tab', { name: 'Call' }).click();
  return page.getByRole('form', { name: new RegExp(`^(reducer|procedure) ${fn}$`) });
}

async function addTask(page: Page, title: string, priority: 'Low' | 'Normal' | 'High') {
  const form = await callForm(page, 'add_task');
  await form.getByLabel('title').fill(title);
  await form.getByLabel('priority').selectOption(priority);
  await form.getByRole('button', { name: 'Call' }).click();
  await expect(form.locator('output')).toHaveText('ok');
}

test.describe.configure({ timeout: 120_000 });

/** A reducer that inserts a row (never committed) and never returns. */
const SPIN = `
export const spin = spacetimedb.reducer((ctx) => {
  ctx.db.task.insert({ id: 0n, owner: ctx.sender, title: 'never', priority: { tag: 'Low' }, due: undefined, done: false, created: ctx.timestamp });
  for (;;) {}
});
`;

test('edit the module, publish, call through the forms, see the rows', async ({ page }) => {
  await open(page);
  await expect(page.getByRole('tablist', { name: 'Panels' })).toBeVisible();
  for (const name of ['Tables', 'Call', 'SQL', 'Logs', 'Subscriptions', 'Storage']) await expect(page.getByRole('tab', { name })).toBeVisible();

  // An allowed change (a new table and a reducer): the data is kept.
  await addTask(page, 'Buy milk', 'High');
  await replaceInModule(
    page,
    'const spacetimedb = schema({ task });',
    `const tag = table({ public: true }, { id: t.u32().primaryKey(), label: t.string(), color: t.option(t.string()) });
const spacetimedb = schema({ task, tag });`,
  );
  await appendToModule(
    page,
    `
export const add_tag = spacetimedb.reducer({ id: t.u32(), label: t.string(), color: t.option(t.string()) }, (ctx, row) => {
  ctx.db.tag.insert(row);
});
`,
  );
  await publish(page);
  await expect(message(page)).toHaveText('Published: the module was updated, data kept.', { timeout: 30_000 });

  const form = await callForm(page, 'add_tag');
  await form.getByLabel('id').fill('70000');
  await form.getByLabel('label').fill('errand');
  await form.getByRole('button', { name: 'Call' }).click();
  await expect(form.locator('output')).toHaveText('ok');
  // Checked before the call: a u32 out of range is refused in the page, naming the range.
  await form.getByLabel('id').fill('5000000000');
  await form.getByRole('button', { name: 'Call' }).click();
  await expect(form.getByLabel('id')).toHaveAttribute('aria-invalid', 'true');
  await expect(form.getByLabel('id')).toHaveAccessibleDescription(/out of range 0\.\.4294967295/);
  await expect(form.locator('output')).toHaveText('Fix the fields marked above.');

  // A SenderError's message, and a procedure's result.
  const complete = await callForm(page, 'complete');
  await complete.getByLabel('id').fill('42');
  await complete.getByRole('button', { name: 'Call' }).click();
  await expect(complete.locator('output')).toHaveText('SenderError: No task 42');
  const open_tasks = await callForm(page, 'open_tasks');
  await open_tasks.getByRole('button', { name: 'Call' }).click();
  await expect(open_tasks.locator('output')).toHaveText('returned 1');

  await page.getByRole('tab', { name: 'Tables' }).click();
  const tasks = page.getByRole('table', { name: 'table task' });
  await expect(tasks.getByRole('row')).toHaveCount(2);
  const row = tasks.getByRole('row').nth(1);
  await expect(row.getByRole('cell').nth(2)).toHaveText('Buy milk');
  await expect(row.getByRole('cell').nth(3)).toHaveText('High'); // an enum by its tag
  await expect(row.getByRole('cell').nth(1)).toHaveText(/^owner \([0-9a-f]{8}…\)$/); // an identity by its name
  await expect(row.getByRole('cell').nth(4)).toHaveText('none'); // an empty option
  await expect(row.getByRole('cell').nth(6)).toHaveText(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/); // a timestamp as a date
  const tags = page.getByRole('table', { name: 'table tag' });
  await expect(tags.getByRole('row').nth(1).getByRole('cell')).toHaveText(['70000', 'errand', 'none']);

  // Another identity: the tables as alice sees them (the per-sender view is hers), and the
  // module's sender check refuses her.
  const mine = page.getByRole('table', { name: 'view my_tasks' });
  await expect(mine.locator('tbody tr')).toHaveCount(1);
  await page.getByLabel('Identity').selectOption('alice');
  await expect(page.getByRole('region', { name: 'my_tasks' }).getByRole('heading')).toHaveText('my_tasks (0 rows, view per sender)');
  await expect(tasks.locator('tbody tr')).toHaveCount(1);
  const again = await callForm(page, 'complete');
  await again.getByLabel('id').fill('1');
  await again.getByRole('button', { name: 'Call' }).click();
  await expect(again.locator('output')).toHaveText('SenderError: Only its owner can complete a task');
  await page.getByLabel('Identity').selectOption('owner');
  await again.getByRole('button', { name: 'Call' }).click();
  await expect(again.locator('output')).toHaveText('ok');
  await page.getByRole('tab', { name: 'Tables' }).click();
  await expect(tasks.getByRole('row').nth(1).getByRole('cell').nth(5)).toHaveText('true');

  // The log shows what the reducer logged.
  await page.getByRole('tab', { name: 'Logs' }).click();
  await expect(page.getByRole('list', { name: 'module log' })).toContainText('added "Buy milk"');
});

test('SQL: results as a table, an error at its position', async ({ page }) => {
  await open(page);
  await addTask(page, 'Write tests', 'Normal');
  await page.getByRole('tab', { name: 'SQL' }).click();
  const box = page.getByRole('textbox', { name: 'SQL' });
  await box.fill("SELECT title, priority FROM task WHERE title = 'Write tests'");
  await page.getByRole('button', { name: 'Run' }).click();
  const result = page.getByRole('table', { name: 'query result' });
  await expect(result.getByRole('row').nth(1).getByRole('cell')).toHaveText(['Write tests', 'Normal']);

  await box.fill('SELECT * FROM task WHERE');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('alert')).toContainText('SqlError');
  const at = page.locator('.sql-error');
  await expect(at).toHaveAttribute('data-line', '1');
  await expect(at).toHaveAttribute('data-column', '25');
  await expect(page.locator('.sql-position')).toHaveText(`SELECT * FROM task WHERE\n${' '.repeat(24)}^`);
});

test('a large table is paged', async ({ page }) => {
  await open(page);
  await appendToModule(
    page,
    `
export const seed = spacetimedb.reducer({ n: t.u32() }, (ctx, { n }) => {
  for (let i = 1; i <= n; i++) ctx.db.task.insert({ id: 0n, owner: ctx.sender, title: \`task \${i}\`, priority: { tag: 'Normal' }, due: undefined, done: false, created: ctx.timestamp });
});
`,
  );
  await publish(page);
  await expect(message(page)).toHaveText('Published: the module was updated, data kept.', { timeout: 30_000 });
  const seed = await callForm(page, 'seed');
  await seed.getByLabel('n').fill('120');
  await seed.getByRole('button', { name: 'Call' }).click();
  await expect(seed.locator('output')).toHaveText('ok');
  await page.getByRole('tab', { name: 'Tables' }).click();
  const section = page.getByRole('region', { name: 'task', exact: true });
  const titles = section.locator('tbody tr td:nth-child(3)');
  await expect(section.getByRole('heading')).toHaveText('task (120 rows)');
  await expect(section.locator('.pager')).toContainText('rows 1–50 of 120');
  await expect(titles).toHaveCount(50);
  await expect(titles.first()).toHaveText('task 1');
  await section.getByRole('button', { name: 'Next page of task' }).click();
  await section.getByRole('button', { name: 'Next page of task' }).click();
  await expect(section.locator('.pager')).toContainText('rows 101–120 of 120');
  await expect(titles).toHaveCount(20);
  await expect(titles.last()).toHaveText('task 120');
  await expect(section.getByRole('button', { name: 'Next page of task' })).toBeDisabled();
});

test('a refused migration shows each reason; Reset data publishes over an empty database', async ({ page }) => {
  await open(page);
  await addTask(page, 'Keep me?', 'Low');
  await replaceInModule(page, 'title: t.string(),\n', 'title: t.u32(),\n');
  await publish(page);
  const reasons = page.getByRole('list', { name: 'refused changes' });
  await expect(reasons).toBeVisible({ timeout: 30_000 });
  await expect(reasons.getByRole('listitem').first()).toContainText('title');
  await expect(message(page)).toContainText('the database and its module are unchanged');
  // Unchanged indeed: the row is still there, under the old module.
  await page.getByRole('tab', { name: 'Tables' }).click();
  await expect(page.getByRole('table', { name: 'table task' }).getByRole('row')).toHaveCount(2);

  await page.getByRole('button', { name: 'Reset data' }).click();
  await expect(message(page)).toHaveText('Published: a new database.', { timeout: 30_000 });
  await expect(page.getByRole('table', { name: 'table task' }).getByRole('row')).toHaveCount(1);
  await expect(page.getByRole('table', { name: 'table task' }).getByRole('columnheader', { name: /title/ })).toContainText('u32');
});

test('a module that does not compile is marked at its line; one that throws while loading leaves the old one running', async ({ page }) => {
  await open(page);
  await appendToModule(page, '\nexport const broken = (;\n');
  await publish(page);
  await expect(message(page)).toContainText('The module does not compile:');
  const line = await page.evaluate(() => {
    const app = (globalThis as unknown as { playground: { editor: { source: string } } }).playground;
    return app.editor.source.split('\n').findIndex((l) => l.startsWith('export const broken')) + 1;
  });
  expect(line).toBeGreaterThan(40);
  await expect(message(page)).toContainText(new RegExp(`^The module does not compile:module\\.ts:${line}:24: `));
  await expect(page.locator('.cm-lintRange-error')).toHaveCount(1);

  await replaceInModule(page, 'export const broken = (;\n', "throw new Error('boom while loading');\n");
  await publish(page);
  await expect(message(page)).toContainText('The module failed to load:', { timeout: 30_000 });
  await expect(message(page)).toContainText('boom while loading');
  await expect(message(page)).toContainText('The module that ran before is still running.');
  await addTask(page, 'still works', 'Normal');
});

test('a runaway reducer is stopped at the time limit; committed data is intact and calls work again', async ({ page }) => {
  await open(page);
  await addTask(page, 'before the loop', 'Normal');
  await appendToModule(page, SPIN);
  await publish(page);
  await expect(message(page)).toHaveText('Published: the module was updated, data kept.', { timeout: 30_000 });

  const spin = await callForm(page, 'spin');
  await spin.getByRole('button', { name: 'Call' }).click();
  await expect(spin.locator('output')).toContainText('TIME_LIMIT', { timeout: 30_000 });
  await expect(spin.locator('output')).toContainText('the engine was stopped and restarted from durable state');
  await expect(message(page)).toContainText('spin ran longer than the playground');

  // Committed data is intact, the runaway's insert is not there, and calls work again.
  await addTask(page, 'after the loop', 'Normal');
  await page.getByRole('tab', { name: 'Tables' }).click();
  const titles = page.getByRole('table', { name: 'table task' }).locator('tbody tr td:nth-child(3)');
  await expect(titles).toHaveText(['before the loop', 'after the loop']);
});

test('while a reducer loops the page stays responsive; Stop and restart engine ends it, from durable state', async ({ page }) => {
  // A budget far beyond the test (?limit=): only the button stops this loop.
  await open(page, '?limit=600000');
  await addTask(page, 'before the loop', 'Normal');
  await appendToModule(page, SPIN);
  await publish(page);
  await expect(message(page)).toHaveText('Published: the module was updated, data kept.', { timeout: 30_000 });
  const spin = await callForm(page, 'spin');
  await spin.getByRole('button', { name: 'Call' }).click();
  await expect(spin.locator('output')).toHaveText('calling as owner…');
  // The page answers while the engine spins: tabs switch, the editor and the SQL box take text.
  await page.getByRole('tab', { name: 'SQL' }).click();
  await page.getByRole('textbox', { name: 'SQL' }).fill('SELECT * FROM task');
  await expect(page.getByRole('textbox', { name: 'SQL' })).toHaveValue('SELECT * FROM task');
  await appendToModule(page, '// typed while the engine spins\n');
  await expect(page.getByRole('textbox', { name: 'Module source (TypeScript)' })).toContainText('typed while the engine spins');
  await page.getByRole('tab', { name: 'Call' }).click();
  await expect(spin.locator('output')).toHaveText('calling as owner…');
  await page.locator('#engine').getByRole('button', { name: 'Stop and restart engine' }).click();
  await expect(message(page)).toHaveText('The engine restarted from durable state: committed data is intact.', { timeout: 30_000 });
  await expect(spin.locator('output')).toContainText('ClosedError');
  await page.getByRole('tab', { name: 'Tables' }).click();
  const titles = page.getByRole('table', { name: 'table task' }).locator('tbody tr td:nth-child(3)');
  await expect(titles).toHaveText(['before the loop']);
  await addTask(page, 'after the restart', 'High');
  await page.getByRole('tab', { name: 'Tables' }).click();
  await expect(titles).toHaveText(['before the loop', 'after the restart']);
});

test("the page's bundler gives the bundle lightcone publish gives (but for names taken from file names)", async ({ page }) => {
  await open(page);
  const node = await bundleModule('examples/chat/index.ts');
  const source = readFileSync('examples/chat/index.ts', 'utf8');
  const inPage = await page.evaluate(async (text) => {
    const app = (globalThis as unknown as { playground: { runtime: { bundler: { bundle(s: string): Promise<{ ok: boolean; bundle?: { code: string } }> } } } }).playground;
    const reply = await app.runtime.bundler.bundle(text);
    return reply.ok ? reply.bundle!.code : undefined;
  }, source);
  // What differs is named after the files: path comments (the page's carry a namespace) and the entry's `<file>_exports`/`<file>_default`.
  const withoutFileComments = (code: string) =>
    code.replace(/^\s*\/\/ (?:\w+:)?(?:examples\/chat\/index\.ts|module\.ts|node_modules\/\S+)\n/gm, '').replace(/\b(?:index|module)_(exports|default)\b/g, 'entry_$1');
  expect(inPage).toBeDefined();
  expect(withoutFileComments(inPage!)).toBe(withoutFileComments(node.code));
});

// ── the editor's TypeScript language service (demo/playground/typescript.ts) ──

const typesStatus = (page: Page) => page.locator('#types');

/** Waits until the type checker is ready (it loads once the page is up and idle). */
async function typesReady(page: Page): Promise<void> {
  await expect(typesStatus(page)).toHaveText(/^types: TypeScript 5\.\d+\.\d+$/, { timeout: 60_000 });
}

/** Appends an empty reducer and puts the cursor in its body. */
async function cursorInNewReducer(page: Page, name: string): Promise<void> {
  await appendToModule(page, `\nexport const ${name} = spacetimedb.reducer((ctx) => {\n  \n});\n`);
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('End');
}

/** The screen point of the `offset`th character of the first `text` in the module. */
async function pointAt(page: Page, text: string, offset: number): Promise<{ x: number; y: number }> {
  return page.evaluate(
    ([t, o]) => {
      const app = (globalThis as unknown as { playground: { editor: { source: string; view: { coordsAtPos(pos: number): { left: number; top: number; bottom: number } | null } } } }).playground;
      const at = app.editor.source.indexOf(t as string);
      if (at < 0) throw new Error(`the module has no ${t}`);
      const c = app.editor.view.coordsAtPos(at + (o as number));
      if (!c) throw new Error(`${t} is not on screen`);
      return { x: c.left + 2, y: (c.top + c.bottom) / 2 };
    },
    [text, offset] as const,
  );
}

test("type errors: TypeScript's message at the exact range, after typing pauses; a syntax error is shown once; hover gives the type", async ({ page }) => {
  await open(page);
  await typesReady(page);
  // Hover: the type of what is under the pointer.
  const at = await pointAt(page, 'id: t.u64()', 'id: t.'.length + 1);
  await page.mouse.move(at.x, at.y);
  await expect(page.locator('.cm-type-info')).toContainText('(property) u64: () => U64Builder');
  await expect(page.locator('.cm-type-info')).toContainText('Represented as `bigint` in TypeScript.'); // its documentation
  await page.mouse.move(0, 0);

  // A string where the u64 primary key is expected.
  await appendToModule(page, "\nexport const lookup = spacetimedb.reducer((ctx) => {\n  ctx.db.task.id.find('one');\n});\n");
  const marked = page.locator('.cm-lintRange-error', { hasText: "'one'" });
  await expect(marked).toHaveText("'one'");
  await expect(page.locator('.cm-line', { has: marked })).toHaveText("  ctx.db.task.id.find('one');");
  await marked.hover();
  const tooltip = page.locator('.cm-tooltip-lint');
  await expect(tooltip).toContainText("Argument of type 'string' is not assignable to parameter of type 'bigint'.");
  await expect(tooltip).toContainText('TypeScript (TS2345)');
  await page.mouse.move(0, 0);

  // A syntax error both esbuild and TypeScript see: shown once, as esbuild says it.
  await appendToModule(page, '\nexport const broken = (;\n');
  const brokenLine = page.locator('.cm-line', { hasText: 'export const broken' });
  await expect(brokenLine.locator('.cm-lintRange-error')).toHaveCount(1);
  await brokenLine.locator('.cm-lintRange-error').hover();
  await expect(page.locator('.cm-tooltip-lint')).toContainText('Unexpected ";"');
  await expect(page.locator('.cm-tooltip-lint')).not.toContainText('Expression expected');
});

test('completion comes from the TypeScript service: ctx.db. lists the tables, a table its methods and indexes, t. the builders, each with its type', async ({ page }) => {
  await open(page);
  await typesReady(page);
  await cursorInNewReducer(page, 'probe');
  await page.keyboard.type('ctx.db.');
  const list = page.locator('.cm-tooltip-autocomplete');
  // The table, with its type (the schema-aware completion says "table, 6 columns").
  await expect(list.getByRole('option', { name: /^task/ }).locator('.cm-completionDetail')).toContainText('{ insert: (row: {');
  await page.keyboard.type('task.');
  await expect(list.getByRole('option', { name: /^owner/ }).locator('.cm-completionDetail')).toContainText('RangedIndex<');
  await expect(list.getByRole('option', { name: /^id/ }).locator('.cm-completionDetail')).toContainText('UniqueIndex<');
  await expect(list.getByRole('option', { name: /^count/ }).locator('.cm-completionDetail')).toHaveText('(): bigint');
  await page.keyboard.press('Escape');
  await page.keyboard.type('count();\n  const column = t.u6');
  await expect(list.getByRole('option', { name: /^u64/ }).locator('.cm-completionDetail')).toHaveText('() => U64Builder');
});

test('the editor works while the type checker loads, with the schema-aware completion meanwhile; then the service answers', async ({ page }) => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route(/typescript\.worker[^/]*\.js/, async (route) => {
    await held;
    await route.continue();
  });
  await open(page);
  await expect(typesStatus(page)).toHaveText('types: loading TypeScript…');
  await cursorInNewReducer(page, 'meanwhile');
  await page.keyboard.type('ctx.db.');
  const list = page.locator('.cm-tooltip-autocomplete');
  await expect(list.getByRole('option', { name: /^task/ }).locator('.cm-completionDetail')).toHaveText('table, 6 columns');
  await page.keyboard.press('Escape');
  await page.keyboard.type('task.count();');
  await expect(page.locator('.cm-line', { hasText: 'ctx.db.task.count();' })).toHaveCount(1);

  release();
  await typesReady(page);
  await page.keyboard.type('\n  ctx.db.');
  await expect(list.getByRole('option', { name: /^task/ }).locator('.cm-completionDetail')).toContainText('{ insert: (row: {');
});

test('when the type checker cannot load, the status says so and the editor keeps the schema-aware completion', async ({ page }) => {
  await page.route(/typescript\.worker[^/]*\.js/, (route) => route.abort());
  await open(page);
  await expect(typesStatus(page)).toHaveText('types: unavailable (completion from the schema only)');
  await cursorInNewReducer(page, 'without');
  await page.keyboard.type('ctx.db.');
  await expect(page.locator('.cm-tooltip-autocomplete').getByRole('option', { name: /^task/ }).locator('.cm-completionDetail')).toHaveText('table, 6 columns');
});

test("the starter and the repository's examples type-check clean with the playground's libraries (ES2023 and the module's console)", async ({ page }) => {
  await open(page);
  await typesReady(page);
  const sources = ['chat', 'todo', 'notes'].map((name) => readFileSync(`examples/${name}/index.ts`, 'utf8'));
  const found = await page.evaluate(async (texts) => {
    const app = (globalThis as unknown as { playground: { editor: { source: string }; types: { diagnostics(s: string): Promise<{ message: string }[] | undefined> } } }).playground;
    return Promise.all([app.editor.source, ...texts].map(async (text) => (await app.types.diagnostics(text))?.map((d) => d.message)));
  }, sources);
  expect(found).toEqual([[], [], [], []]);
});
