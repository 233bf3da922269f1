// Durability in a real, on-disk Chromium profile (Playwright's default context keeps storage in
// memory): data survives a reload and a full browser restart, and an IndexedDB write failure
// (quota exhausted, injected by the e2e build's test hooks) is a named StorageError.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test, type BrowserContext } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS, PORT } from './chromium.ts';
import { openChat, send, setName, texts } from './chat-page.ts';

let profile: string;
const launch = (): Promise<BrowserContext> => chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, baseURL: `http://localhost:${PORT}` });

test.beforeEach(() => {
  profile = mkdtempSync(join(tmpdir(), 'lightcone-e2e-'));
});
test.afterEach(() => {
  rmSync(profile, { recursive: true, force: true });
});

test('data survives a reload and a full browser restart', async () => {
  let browser = await launch();
  let page = browser.pages()[0] ?? (await browser.newPage());
  await openChat(page, 'restart');
  await setName(page, 'Ada');
  await send(page, 'written before the reload');
  await expect(texts(page)).toHaveText(['written before the reload']);

  await page.reload();
  await openChat(page, 'restart');
  await expect(texts(page)).toHaveText(['written before the reload']);
  await send(page, 'written before the restart');
  await expect(texts(page)).toHaveText(['written before the reload', 'written before the restart']);
  await browser.close();

  browser = await launch();
  page = browser.pages()[0] ?? (await browser.newPage());
  await openChat(page, 'restart');
  await expect(texts(page)).toHaveText(['written before the reload', 'written before the restart']);
  // The identity is kept (localStorage) across the restart: still Ada, and only one user.
  await expect(page.locator('#me')).toHaveText('you are Ada');
  const users = await page.evaluate(async () => {
    const { db } = (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone;
    return (await db.sql('SELECT * FROM user')).map((u) => u.name);
  });
  expect(users).toEqual(['Ada']);
  await browser.close();
});

test('an IndexedDB quota failure rejects the call with StorageError; later calls work; nothing earlier is lost', async () => {
  const browser = await launch();
  const page = browser.pages()[0] ?? (await browser.newPage());
  await openChat(page, 'quota');
  await send(page, 'before');
  await expect(texts(page)).toHaveText(['before']);

  await page.evaluate(() => (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone.db.setTestHooks({ failWrites: true }));
  await send(page, 'refused by storage');
  const error = page.locator('#error');
  await expect(error).toHaveAttribute('data-name', 'StorageError');
  await expect(error).toHaveAttribute('data-code', 'QUOTA_EXCEEDED');
  await expect(error).toContainText('quota');

  await page.evaluate(() => (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone.db.setTestHooks({ failWrites: false }));
  await send(page, 'after');
  // Confirmed reads: the list only ever showed durable transactions.
  await expect(texts(page)).toHaveText(['before', 'after']);
  await expect(error).toHaveText('');
  // The worker reloaded the database from storage: the refused message is not even in memory.
  const inMemory = await page.evaluate(async () => {
    const { db } = (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone;
    return (await db.sql('SELECT * FROM message')).map((m) => m.text);
  });
  expect(inMemory.sort()).toEqual(['after', 'before']);

  await page.reload();
  await openChat(page, 'quota');
  await expect(texts(page)).toHaveText(['before', 'after']);
  await browser.close();
});
