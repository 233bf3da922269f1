// SpacetimeDB's official SDK and React hooks (demo/react/, `spacetimedb/react` on bindings from
// `lightcone generate`) against the database in the worker over `local()`: connect, subscribe
// (useTable), call a reducer (useReducer) and see the row; two tabs see each other's rows; a
// reload keeps the data and the identity (the token the page kept); the dedicated-worker
// fallback, where a follower's connection is relayed to the leader.
import { expect, test, type Page } from '@playwright/test';

async function openSdk(page: Page, db: string, query = ''): Promise<void> {
  await page.goto(`/react/?db=${db}${query}`);
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: 20_000 });
  await expect(page.locator('#messages')).toHaveAttribute('data-ready', 'true');
}

async function send(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#message-form button');
}

const texts = (page: Page) => page.locator('#messages li .text');

test('the SDK connects over local(), subscribes, calls a reducer and sees the row', async ({ page }) => {
  await openSdk(page, 'sdk-basic');
  await expect(texts(page)).toHaveCount(0);
  await send(page, 'hello through the SDK');
  await expect(texts(page)).toHaveText(['hello through the SDK']);
  await expect(page.locator('#text')).toHaveValue(''); // the reducer's promise resolved
});

test('a reducer that throws SenderError rejects the call with its message; nothing is inserted', async ({ page }) => {
  await openSdk(page, 'sdk-error');
  await send(page, '');
  await expect(page.locator('#error')).toHaveText('Messages must not be empty');
  await expect(texts(page)).toHaveCount(0);
});

test('two tabs see each other’s rows; a reload keeps the rows and the identity', async ({ context }) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await openSdk(a, 'sdk-tabs');
  await openSdk(b, 'sdk-tabs');
  const idA = await a.locator('#status').getAttribute('data-identity');
  const idB = await b.locator('#status').getAttribute('data-identity');
  expect(idA).not.toBe(idB); // each tab is its own user
  await send(a, 'from a');
  await expect(texts(b)).toHaveText(['from a']);
  await send(b, 'from b');
  await expect(texts(a)).toHaveText(['from a', 'from b']);
  await a.reload();
  await expect(a.locator('#status')).toHaveAttribute('data-state', 'connected', { timeout: 20_000 });
  await expect(texts(a)).toHaveText(['from a', 'from b']);
  await expect(a.locator('#status')).toHaveAttribute('data-identity', idA!);
});

test('when the engine worker restarts, the SDK connection closes and reconnects to the new engine', async ({ page }) => {
  await openSdk(page, 'sdk-restart');
  await send(page, 'before');
  await expect(texts(page)).toHaveText(['before']);
  const id = await page.locator('#status').getAttribute('data-identity');
  await page.evaluate(() => (globalThis as unknown as { lightconeTest: { crashEngine(): Promise<void> } }).lightconeTest.crashEngine());
  // The port to the dead engine is silent; the page sees its lock released and closes the
  // connection; the SDK reconnects, and the call goes to the new engine.
  await send(page, 'after');
  await expect(texts(page)).toHaveText(['before', 'after'], { timeout: 20_000 });
  await expect(page.locator('#status')).toHaveAttribute('data-identity', id!); // the token still holds
});

test('dedicated workers: the leader’s and a follower’s SDK connections see each other', async ({ context }) => {
  const a = await context.newPage();
  await openSdk(a, 'sdk-dedicated', '&transport=dedicated');
  const b = await context.newPage();
  await openSdk(b, 'sdk-dedicated', '&transport=dedicated');
  await send(b, 'from the follower');
  await expect(texts(a)).toHaveText(['from the follower']);
  await send(a, 'from the leader');
  await expect(texts(b)).toHaveText(['from the follower', 'from the leader']);
});

test('dedicated workers: when the leader’s tab closes, the follower’s SDK reconnects to the new leader', async ({ context }) => {
  const a = await context.newPage();
  await openSdk(a, 'sdk-leader', '&transport=dedicated');
  const b = await context.newPage();
  await openSdk(b, 'sdk-leader', '&transport=dedicated');
  await send(a, 'before');
  await expect(texts(b)).toHaveText(['before']);
  await a.close();
  // The relayed connection closes; the SDK's connection manager reconnects, now to this tab's worker.
  await send(b, 'after');
  await expect(texts(b)).toHaveText(['before', 'after'], { timeout: 20_000 });
});
