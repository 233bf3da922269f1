// SpacetimeDB's official SDK over `local()` (demo/react/) across a full browser restart on an
// on-disk profile (Playwright's default context keeps storage in memory): the rows stay. The page
// keeps its token in sessionStorage, which a new browser session starts without, so the SDK
// connects anonymously and gets a new identity; the old token given back (as an app keeping it
// in localStorage would) still yields the old identity, because the key that signs tokens is
// kept in the database's storage.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, expect, test, type BrowserContext, type Page } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS, PORT } from './chromium.ts';

const DB = 'sdk-browser-restart';
const TOKEN_KEY = `lightcone-sdk-token:${DB}`; // where demo/react/main.ts keeps the token

let profile: string;
const launch = (): Promise<BrowserContext> => chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, baseURL: `http://localhost:${PORT}` });
const firstPage = async (browser: BrowserContext): Promise<Page> => browser.pages()[0] ?? (await browser.newPage());

async function connected(page: Page): Promise<string> {
  const status = page.locator('#status');
  await expect(status).toHaveAttribute('data-state', 'connected', { timeout: 20_000 });
  await expect(page.locator('#messages')).toHaveAttribute('data-ready', 'true');
  const identity = await status.getAttribute('data-identity');
  expect(identity).toMatch(/^[0-9a-f]{64}$/);
  return identity!;
}

const texts = (page: Page) => page.locator('#messages li .text');

test.beforeEach(() => {
  profile = mkdtempSync(join(tmpdir(), 'lightcone-e2e-sdk-'));
});
test.afterEach(() => {
  rmSync(profile, { recursive: true, force: true });
});

test('after a full browser restart the SDK sees its rows; a new session is a new identity, the old token the old one', async () => {
  let browser = await launch();
  let page = await firstPage(browser);
  await page.goto(`/react/?db=${DB}`);
  const before = await connected(page);
  await page.fill('#text', 'written before the restart');
  await page.click('#message-form button');
  await expect(texts(page)).toHaveText(['written before the restart']);
  const token = await page.evaluate((key) => sessionStorage.getItem(key), TOKEN_KEY);
  expect(token).toBeTruthy();
  await browser.close();

  browser = await launch();
  page = await firstPage(browser);
  await page.goto(`/react/?db=${DB}`);
  const after = await connected(page);
  await expect(texts(page)).toHaveText(['written before the restart']);
  // sessionStorage did not survive the browser session: no token, so a new identity.
  expect(after).not.toBe(before);

  await page.evaluate(([key, value]) => sessionStorage.setItem(key!, value!), [TOKEN_KEY, token]);
  await page.reload();
  expect(await connected(page)).toBe(before);
  await expect(texts(page)).toHaveText(['written before the restart']);
  await page.fill('#text', 'written after the restart');
  await page.click('#message-form button');
  await expect(texts(page)).toHaveText(['written before the restart', 'written after the restart']);
  await browser.close();
});
