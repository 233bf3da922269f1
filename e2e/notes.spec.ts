// The notes demo (demo/notes.html, examples/notes) in two browser contexts, each following `notes`
// on a `lightcone start` server in this process (e2e/sync-server.ts) through its own proxy. Both
// edit the same note while cut off from the server (typing, as a person would); once the proxies
// are restored both pages and the server's row hold the same text with both edits, because the
// note's body is a Yjs document merged inside `edit_note`.
import { expect, test, type Browser, type Page } from '@playwright/test';
import * as Y from 'yjs';
import { cuttableProxy, startSyncServer, type CuttableProxy, type SyncTestServer } from './sync-server.ts';

// Reconnecting after a cut waits out the replica's backoff (up to 10 s).
test.setTimeout(90_000);

let server: SyncTestServer;
const proxies: CuttableProxy[] = [];

test.beforeAll(async () => {
  server = await startSyncServer();
  await server.publish('notes', 'examples/notes/index.ts');
});
test.afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
});
test.afterAll(() => server.stop());

/** A page of its own browser context (its own IndexedDB, so its own replica), behind its own proxy. */
async function openNotes(browser: Browser): Promise<[Page, CuttableProxy]> {
  const link = await cuttableProxy(server.url);
  proxies.push(link);
  const page = await (await browser.newContext()).newPage();
  await page.goto(`/notes.html?server=${encodeURIComponent(link.url)}`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(status(page)).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  return [page, link];
}

const status = (page: Page) => page.locator('#sync');
const noteText = (page: Page) => page.getByLabel('Note text');

/** The text of the server's row: its body (hex over SQL) decoded with Yjs here. */
async function serverText(title: string): Promise<string> {
  const [[hex]] = (await server.rows(`SELECT body FROM note WHERE title = '${title}'`, 'notes')) as [[string]];
  const doc = new Y.Doc();
  Y.applyUpdate(
    doc,
    Uint8Array.from(hex.replace(/^0x/, '').match(/../g) ?? [], (h) => Number.parseInt(h, 16)),
  );
  return doc.getText('body').toString();
}

test('two people edit one note offline; back online, both pages and the server show the same text with both edits', async ({ browser }) => {
  const title = `plan ${crypto.randomUUID().slice(0, 8)}`;
  const [a, linkA] = await openNotes(browser);
  const [b, linkB] = await openNotes(browser);

  await a.getByLabel('Title').fill(title);
  await a.getByRole('button', { name: 'New note' }).click();
  await expect(noteText(a)).toBeVisible(); // the new note is open (typing into a hidden textarea goes nowhere)
  await noteText(a).pressSequentially('shared line.');
  await expect(noteText(a)).toHaveValue('shared line.');
  await b.getByRole('button', { name: title }).click();
  await expect(noteText(b)).toHaveValue('shared line.');
  await expect(status(a)).toHaveAttribute('data-pending', '0');

  linkA.cut();
  linkB.cut();
  await expect(status(a)).toHaveAttribute('data-state', 'offline');
  await expect(status(b)).toHaveAttribute('data-state', 'offline');
  await noteText(a).press('Control+Home');
  await noteText(a).pressSequentially('from A. ');
  await noteText(b).press('Control+End');
  await noteText(b).pressSequentially(' from B.');
  // Each page shows its own edit at once, and only its own.
  await expect(noteText(a)).toHaveValue('from A. shared line.');
  await expect(noteText(b)).toHaveValue('shared line. from B.');
  await expect(status(a)).toHaveText(/offline · \d+ changes waiting/);
  expect(await serverText(title)).toBe('shared line.');

  linkA.restore();
  linkB.restore();
  const merged = 'from A. shared line. from B.';
  await expect(noteText(a)).toHaveValue(merged, { timeout: 30_000 });
  await expect(noteText(b)).toHaveValue(merged, { timeout: 30_000 });
  await expect(status(a)).toHaveAttribute('data-pending', '0');
  await expect(status(b)).toHaveAttribute('data-pending', '0');
  expect(await serverText(title)).toBe(merged);

  // B's text arrived after A's caret: A's caret stayed where A stopped typing.
  await noteText(a).pressSequentially('again ');
  const again = 'from A. again shared line. from B.';
  await expect(noteText(a)).toHaveValue(again);
  await expect(noteText(b)).toHaveValue(again);
  await expect.poll(() => serverText(title)).toBe(again);
  await a.context().close();
  await b.context().close();
});
