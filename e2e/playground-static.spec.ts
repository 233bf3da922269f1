// The playground as `npm run build:demo` builds it, served by a plain static file server under a
// sub-path (project `static` in playwright.config.ts): share links opened in a fresh profile,
// editing, publishing and calling through the forms, SQL, a refused migration and Reset data,
// time travel from the call log, reloads, export and import in another profile, and bad links
// and files that get a clear error and change nothing. Every test starts on a fresh profile.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, expect, type Page, test } from '@playwright/test';
import { writeArgs } from '../demo/playground/session/args.ts';
import { type CallOutcomeRecord, SESSION_FORMAT, SESSION_VERSION, type SessionDocument, type SessionEntry } from '../demo/playground/session/document.ts';
import { shareHash } from '../demo/playground/session/share.ts';

test.describe.configure({ timeout: 180_000 });

const ALICE = `c200${'a1'.repeat(30)}`;
const BOB = `c200${'b0'.repeat(30)}`;
const TODO = readFileSync(join(import.meta.dirname, '..', 'examples', 'todo', 'index.ts'), 'utf8');

const message = (page: Page) => page.locator('#message');
const log = (page: Page) => page.getByRole('list', { name: 'Call log entries' });
/** The log's entries (a refused publish's reasons are a list of their own inside its entry). */
const entries = (page: Page) => log(page).locator(':scope > li');
const sessionStatus = (page: Page) => page.getByRole('tabpanel', { name: 'Session' }).getByRole('status');
const sessionAlert = (page: Page) => page.getByRole('tabpanel', { name: 'Session' }).getByRole('alert');

/** A first visit: the app publishes its starter module (a task list). Bundling in a fresh profile takes a while. */
async function open(page: Page): Promise<void> {
  await page.goto('./');
  await expect(message(page)).toHaveText('Published: a new database.', { timeout: 120_000 });
}

async function callForm(page: Page, fn: string) {
  await page.getByRole('tab', { name: 'Call', exact: true }).click();
  return page.getByRole('form', { name: new RegExp(`^(reducer|procedure) ${fn}$`) });
}

async function call(page: Page, fn: string, fields: Record<string, string>, expected = 'ok'): Promise<void> {
  const form = await callForm(page, fn);
  for (const [label, value] of Object.entries(fields)) {
    const field = form.getByLabel(new RegExp(`^${label} `)); // the label is the name, then its type
    if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(value);
    else await field.fill(value);
  }
  await form.getByRole('button', { name: 'Call' }).click();
  await expect(form.locator('output')).toHaveText(expected);
}

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

const editorText = (page: Page) => page.evaluate(() => (globalThis as unknown as { playground: { editor: { source: string } } }).playground.editor.source);

/** The rows of a table in the Tables panel, as the cells' texts. */
async function tableRows(page: Page, table: string): Promise<string[][]> {
  await page.getByRole('tab', { name: 'Tables' }).click();
  const rows = page.getByRole('table', { name: `table ${table}` }).getByRole('row');
  const out: string[][] = [];
  for (const row of (await rows.all()).slice(1)) out.push(await row.getByRole('cell').allTextContents());
  return out;
}

async function showSession(page: Page): Promise<void> {
  await page.getByRole('tab', { name: 'Session' }).click();
}

/** A todo session: the module, three calls by two guests (one refused by the module), at fixed times. */
function todoSession(): SessionDocument {
  const at = 1_767_225_600_000; // 2026-01-01T00:00:00Z
  const callEntry = (i: number, name: string, args: unknown[], sender: 'alice' | 'bob', outcome: CallOutcomeRecord, changes: { table: string; inserts: number; deletes: number }[]): SessionEntry => ({
    kind: 'call',
    at: at + i * 1000,
    timestamp: String(BigInt(at + i * 1000) * 1000n + 123n),
    name,
    args: writeArgs(args),
    sender,
    senderHex: sender === 'alice' ? ALICE : BOB,
    outcome,
    changes,
  });
  return {
    format: SESSION_FORMAT,
    version: SESSION_VERSION,
    entries: [
      { kind: 'publish', at, source: TODO, reset: false, outcome: 'ok' },
      callEntry(1, 'add_todo', ['buy milk'], 'alice', { ok: true }, [{ table: 'todo', inserts: 1, deletes: 0 }]),
      callEntry(2, 'add_todo', ['walk the dog'], 'bob', { ok: true }, [{ table: 'todo', inserts: 1, deletes: 0 }]),
      callEntry(3, 'set_done', [1n, true], 'bob', { ok: false, error: 'SenderError', message: 'Todo 1 belongs to someone else' }, []),
      callEntry(4, 'set_done', [2n, true], 'bob', { ok: true }, [{ table: 'todo', inserts: 1, deletes: 1 }]),
    ],
  };
}

async function freshPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  return context.newPage();
}

test('a shared link opened in a fresh profile replays the session: its tables, at the recorded times; a reload keeps it', async ({ page }) => {
  const hash = await shareHash(todoSession());
  await page.goto(`./${hash}`);
  await expect(sessionStatus(page)).toHaveText('Opened the shared session: 5 steps replayed, every outcome as recorded.', { timeout: 120_000 });
  await expect(page).toHaveURL(/\/lightcone\/playground\/$/); // the link's data leaves the address bar once loaded
  // ids, owners (the guests' identities are the same in every browser), texts, done, and created at the recorded µs.
  await expect
    .poll(async () => (await tableRows(page, 'todo')).map((r) => [r[0], r[1]!.split(' ')[0], r[2], r[3], r[4]]))
    .toEqual([
      ['1', 'alice', 'buy milk', 'false', '2026-01-01T00:00:01.000Z'],
      ['2', 'bob', 'walk the dog', 'true', '2026-01-01T00:00:02.000Z'],
    ]);
  await expect(page.getByRole('table', { name: 'table todo' }).getByRole('row').nth(1).getByRole('cell').nth(4)).toHaveAttribute('title', /^1767225601000123 µs/);
  await showSession(page);
  await expect(entries(page)).toHaveCount(5);
  await expect(log(page)).toContainText('#3 set_done(1,true) as bob');
  await expect(log(page)).toContainText('SenderError: Todo 1 belongs to someone else');
  expect(await editorText(page)).toBe(TODO);

  await page.reload();
  await expect(page.getByRole('table', { name: 'table todo' }).getByRole('row')).toHaveCount(3, { timeout: 60_000 });
  await showSession(page);
  await expect(entries(page)).toHaveCount(5);
  expect(await editorText(page)).toBe(TODO);
});

test('edit the module, publish, call through its form, SQL, time travel; a reload keeps everything', async ({ page }) => {
  await open(page);
  await replaceInModule(
    page,
    'export const complete = spacetimedb.reducer',
    `export const rename = spacetimedb.reducer({ id: t.u64(), title: t.string() }, (ctx, { id, title }) => {
  const row = ctx.db.task.id.find(id);
  if (!row) throw new SenderError(\`No task \${id}\`);
  ctx.db.task.id.update({ ...row, title });
});

export const complete = spacetimedb.reducer`,
  );
  await page.getByRole('button', { name: 'Publish' }).click();
  await expect(message(page)).toHaveText('Published: the module was updated, data kept.', { timeout: 60_000 });
  const edited = await editorText(page);

  await call(page, 'add_task', { title: 'first', priority: 'High' });
  await call(page, 'add_task', { title: 'second', priority: 'Low' });
  await call(page, 'rename', { id: '1', title: 'renamed' });
  await call(page, 'rename', { id: '9', title: 'x' }, 'SenderError: No task 9');
  await expect
    .poll(async () => (await tableRows(page, 'task')).map((r) => [r[0], r[2], r[3]]))
    .toEqual([
      ['1', 'renamed', 'High'],
      ['2', 'second', 'Low'],
    ]);

  await page.getByRole('tab', { name: 'SQL' }).click();
  await page.getByRole('textbox', { name: 'SQL' }).fill("SELECT title FROM task WHERE priority = 'Low'");
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('table', { name: 'query result' }).getByRole('row').nth(1).getByRole('cell')).toHaveText(['second']);

  await showSession(page);
  const items = entries(page);
  await expect(items).toHaveCount(6);
  await expect(items.nth(0)).toContainText('Published (');
  await expect(items.nth(1)).toContainText('Published (');
  await expect(items.nth(2)).toContainText('#1 add_task("first","High") as owner');
  await expect(items.nth(2)).toContainText('ok · task +1');
  await expect(items.nth(4)).toContainText('#3 rename(1,"renamed") as owner');
  await expect(items.nth(4)).toContainText('task +1 −1');
  await expect(items.nth(5)).toContainText('SenderError: No task 9 · no rows changed');

  // Time travel: back to before the second add_task.
  await page.getByRole('button', { name: /^Restore to before this call: #2 add_task\("second"/ }).click();
  await expect(sessionStatus(page)).toHaveText(/^Restored to before #2 add_task\("second"/);
  await expect(items).toHaveCount(3);
  await expect.poll(async () => (await tableRows(page, 'task')).map((r) => [r[0], r[2]])).toEqual([['1', 'first']]);
  // The database goes on from there: the next task takes id 2 again.
  await call(page, 'add_task', { title: 'third', priority: 'Normal' });
  await expect
    .poll(async () => (await tableRows(page, 'task')).map((r) => [r[0], r[2]]))
    .toEqual([
      ['1', 'first'],
      ['2', 'third'],
    ]);

  await page.reload();
  await expect(page.getByRole('table', { name: 'table task' }).getByRole('row')).toHaveCount(3, { timeout: 60_000 });
  await expect
    .poll(async () => (await tableRows(page, 'task')).map((r) => [r[0], r[2]]))
    .toEqual([
      ['1', 'first'],
      ['2', 'third'],
    ]);
  expect(await editorText(page)).toBe(edited);
  await showSession(page);
  await expect(entries(page)).toHaveCount(4);
  await expect(entries(page).nth(3)).toContainText('#2 add_task("third"');
  // Restoring still works after the reload (the images are kept in IndexedDB).
  await page.getByRole('button', { name: /^Restore to before this call: #1 add_task/ }).click();
  await expect(sessionStatus(page)).toHaveText(/^Restored to before #1 add_task/);
  await expect.poll(() => tableRows(page, 'task')).toEqual([]);
});

test('a refused migration shows its reasons; Reset data; the log records both and time travel goes back across them', async ({ page }) => {
  await open(page);
  const before = await editorText(page);
  await call(page, 'add_task', { title: 'kept', priority: 'Normal' });
  await call(page, 'add_task', { title: 'second', priority: 'Normal' });
  await replaceInModule(page, '    done: t.bool(),\n', '');
  await replaceInModule(page, 'due: undefined, done: false, created', 'due: undefined, created');
  await page.getByRole('button', { name: 'Publish' }).click();
  const reasons = page.getByRole('list', { name: 'refused changes' });
  await expect(reasons).toBeVisible({ timeout: 60_000 });
  await expect(reasons.getByRole('listitem').first()).toContainText('done');
  await page.getByRole('button', { name: 'Reset data' }).click();
  await expect(message(page)).toHaveText('Published: a new database.', { timeout: 60_000 });
  await expect.poll(() => tableRows(page, 'task')).toEqual([]);

  await showSession(page);
  const items = entries(page);
  await expect(items).toHaveCount(5);
  await expect(items.nth(3)).toContainText('Publish refused');
  await expect(items.nth(3)).toContainText('done');
  await expect(items.nth(4)).toContainText('Published on a fresh database (reset data)');

  // Back to before the second call: the old module (with `done`) and its first row, in the editor too.
  await page.getByRole('button', { name: /^Restore to before this call: #2 add_task/ }).click();
  await expect(sessionStatus(page)).toHaveText(/^Restored to before #2/, { timeout: 60_000 });
  await expect.poll(async () => (await tableRows(page, 'task')).map((r) => [r[0], r[2], r[5]])).toEqual([['1', 'kept', 'false']]);
  expect(await editorText(page)).toBe(before);
});

test('export the session, then import it in another profile: the same rows, to the µs; a newer file is refused and changes nothing', async ({ page, browser }, testInfo) => {
  await open(page);
  await page.getByLabel('Identity').selectOption('alice');
  await call(page, 'add_task', { title: 'ünïcødé 😀 "quoted"', priority: 'High' });
  await page.getByLabel('Identity').selectOption('bob');
  await call(page, 'add_task', { title: 'by bob', priority: 'Low' });
  await call(page, 'complete', { id: '1' }, 'SenderError: Only its owner can complete a task');
  await call(page, 'complete', { id: '2' });
  await expect.poll(async () => (await tableRows(page, 'task')).map((r) => r[5])).toEqual(['false', 'true']);
  const original = await tableRows(page, 'task');
  expect(original.map((r) => [r[1]!.split(' ')[0], r[2], r[5]])).toEqual([
    ['alice', 'ünïcødé 😀 "quoted"', 'false'],
    ['bob', 'by bob', 'true'],
  ]);
  const createdMicros = await page.getByRole('table', { name: 'table task' }).getByRole('row').nth(1).getByRole('cell').nth(6).getAttribute('title');

  await showSession(page);
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export session' }).click();
  const file = testInfo.outputPath('session.json');
  await (await download).saveAs(file);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as SessionDocument;
  expect(doc.format).toBe(SESSION_FORMAT);
  expect(doc.version).toBe(1);
  expect(doc.entries.map((e) => (e.kind === 'call' ? `${e.name} ${e.args} ${e.sender}` : e.kind))).toEqual([
    'publish',
    'add_task ["ünïcødé 😀 \\"quoted\\"","High"] alice',
    'add_task ["by bob","Low"] bob',
    'complete [1] bob',
    'complete [2] bob',
  ]);

  const other = await freshPage(browser);
  await open(other);
  await showSession(other);
  await other.getByLabel('Import session').setInputFiles(file);
  await expect(sessionStatus(other)).toHaveText('Imported session.json: 5 steps replayed, every outcome as recorded.', { timeout: 120_000 });
  await expect.poll(() => tableRows(other, 'task')).toEqual(original);
  await expect(other.getByRole('table', { name: 'table task' }).getByRole('row').nth(1).getByRole('cell').nth(6)).toHaveAttribute('title', createdMicros!);
  // What was there before the import is kept: one click brings it back.
  await showSession(other);
  await expect(other.getByRole('button', { name: 'Bring back the previous session' })).toBeVisible();

  // A file from a newer playground: a clear error, and nothing changes.
  const future = testInfo.outputPath('future.json');
  writeFileSync(future, JSON.stringify({ ...doc, version: 2 }));
  await other.getByLabel('Import session').setInputFiles(future);
  await expect(sessionAlert(other)).toContainText('the file future.json was saved by a newer playground (session format version 2; this one reads up to 1)');
  await expect(entries(other)).toHaveCount(5);
  await expect.poll(async () => (await tableRows(other, 'task')).length).toBe(2);
  await other.context().close();
});

test('a damaged share link gets a clear error and loses nothing', async ({ page }) => {
  await open(page);
  await call(page, 'add_task', { title: 'mine', priority: 'Normal' });
  const good = await shareHash(todoSession());
  await page.goto(`./${good.slice(0, Math.floor(good.length * 0.6))}`);
  await expect(sessionAlert(page)).toContainText('This share link cannot be opened: SessionError BAD_LINK: the share link is damaged');
  await expect(entries(page)).toHaveCount(2);
  await expect.poll(async () => (await tableRows(page, 'task')).map((r) => r[2])).toEqual(['mine']);
});

test('the examples menu: bank and notes (Yjs inside the reducer) load into the editor, publish over a fresh database and take their first calls', async ({ page }) => {
  await open(page);
  await page.getByLabel('Load example').selectOption('Bank');
  await expect(message(page)).toContainText('The Bank example is in the editor');
  expect(await editorText(page)).toContain('export const transfer = spacetimedb.reducer');
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByRole('button', { name: 'Reset data' }).click({ timeout: 60_000 });
  await expect(message(page)).toHaveText('Published: a new database.', { timeout: 60_000 });
  await call(page, 'open_account', { id: '1', owner: 'ann', balance: '18446744073709551615' });
  await call(page, 'open_account', { id: '2', owner: 'bob', balance: '0' });
  await call(page, 'transfer', { from: '2', to: '1', amount: '1' }, 'SenderError: Insufficient funds');
  await expect.poll(async () => (await tableRows(page, 'account')).map((r) => r.join(' '))).toEqual(['1 ann 18446744073709551615', '2 bob 0']);

  await page.getByLabel('Load example').selectOption('Notes (Yjs)');
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByRole('button', { name: 'Reset data' }).click({ timeout: 60_000 });
  await expect(message(page)).toHaveText('Published: a new database.', { timeout: 60_000 });
  await call(page, 'create_note', { id: 'n1', title: 'first note' });
  await expect.poll(async () => (await tableRows(page, 'note')).map((r) => [r[0], r[1]])).toEqual([['n1', 'first note']]);
  await showSession(page);
  await expect(entries(page).last()).toContainText('#4 create_note("n1","first note") as owner');
});

test("the editor's type checker loads from the build's own files under the sub-path: type errors from TypeScript", async ({ page }) => {
  const workers: string[] = [];
  page.on('request', (request) => {
    if (/typescript\.worker/.test(request.url())) workers.push(request.url());
  });
  await open(page);
  await expect(page.locator('#types')).toHaveText(/^types: TypeScript 5\.\d+\.\d+$/, { timeout: 120_000 });
  expect(workers).toHaveLength(1);
  expect(workers[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/lightcone\/playground\/assets\/typescript\.worker-[\w-]+\.js$/);
  // A t.u64() column given a string.
  await replaceInModule(page, 'ctx.db.task.id.update({ ...row, done: true });', "ctx.db.task.id.update({ ...row, id: 'seven', done: true });");
  const marked = page.locator('.cm-lintRange-error', { hasText: 'id' });
  await expect(marked).toHaveText('id');
  await expect(page.locator('.cm-line', { has: marked })).toContainText("id: 'seven'");
  await marked.hover();
  await expect(page.locator('.cm-tooltip-lint')).toContainText("Type 'string' is not assignable to type 'bigint'.");
});
