// Sync in Chromium: pages of the e2e build (demo/sync.html, e2e/sync-page.ts) connect to a local
// database that follows `shop` on a `lightcone start` server running in this process
// (e2e/sync-server.ts). One engine per origin holds the one server connection: every tab sees the
// same optimistic rows and a call from any tab goes through the same outbox, which lives in the
// database's IndexedDB storage. "Offline" is a TCP proxy per browser context that the test cuts
// (see e2e/sync-server.ts for why not `context.setOffline`); the server is checked over HTTP.
import { expect, test, type Browser, type Page } from '@playwright/test';
import type { CallRecord, SyncPage } from './sync-page.ts';
import { cuttableProxy, startSyncServer, type CuttableProxy, type SyncTestServer } from './sync-server.ts';

// Reconnecting after a cut waits out the replica's backoff (up to 10 s).
test.setTimeout(90_000);

let server: SyncTestServer;
const proxies: CuttableProxy[] = [];

test.beforeAll(async () => {
  server = await startSyncServer();
});
test.afterEach(async () => {
  for (const p of proxies.splice(0)) await p.close();
});
test.afterAll(() => server.stop());

async function proxy(): Promise<CuttableProxy> {
  const p = await cuttableProxy(server.url);
  proxies.push(p);
  return p;
}

async function openSync(page: Page, db: string, uri: string): Promise<void> {
  await page.goto(`/sync.html?server=${encodeURIComponent(uri)}&db=${db}`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
}

const sync = (page: Page) => page.locator('#sync');
const balance = (page: Page, account: string) => page.locator(`#accounts li[data-name="${account}"]`);

/** Makes a call in the page (not awaited there); returns its index in `sync.calls`. */
const call = (page: Page, fn: string, args: unknown, wait?: 'local' | 'server') =>
  page.evaluate(([fn, args, wait]) => (globalThis as unknown as { sync: SyncPage }).sync.call(fn, args, wait ? { wait } : {}), [fn, args, wait] as const);

/** How call `i` of the page settled, once it has. */
async function settled(page: Page, i: number): Promise<CallRecord> {
  const record = () => page.evaluate((i) => (globalThis as unknown as { sync: SyncPage }).sync.calls[i]!, i);
  await expect.poll(async () => (await record()).state, { timeout: 30_000 }).not.toBe('pending');
  return record();
}

/** Server rows of `item` whose text starts with `prefix`, in commit (id) order. */
async function serverItems(prefix: string): Promise<string[]> {
  const rows = (await server.rows('SELECT id, text FROM item')) as [number, string][];
  return rows
    .filter(([, text]) => text.startsWith(prefix))
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([, text]) => text);
}

const serverBalance = async (account: string) => (await server.rows(`SELECT balance FROM account WHERE name = '${account}'`)).map((r) => Number(r[0]));

async function newPages(browser: Browser, n: number): Promise<Page[]> {
  const context = await browser.newContext();
  return Promise.all(Array.from({ length: n }, () => context.newPage()));
}

test('a call is applied here before the server answers, in every tab; the outbox sends it when the server is back', async ({ context }) => {
  await server.call('open_account', ['optimistic', 100]);
  const link = await proxy();
  const a = await context.newPage();
  const b = await context.newPage();
  await openSync(a, 'sync-optimistic', link.url);
  await openSync(b, 'sync-optimistic', link.url);
  await expect(sync(a)).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  await expect(balance(b, 'optimistic')).toHaveAttribute('data-balance', '100');

  link.cut(); // the server cannot answer anything now
  await expect(sync(a)).toHaveAttribute('data-state', 'offline');
  const read = await a.evaluate(async () => {
    const page = (globalThis as unknown as { sync: SyncPage }).sync;
    // Made in the same microtask: a call that waits for the server does not hold this one.
    page.call('add_item', { text: 'optimistic-item' });
    await page.db.call('withdraw', { name: 'optimistic', amount: 30 }, { wait: 'local' });
    return String((await page.db.sql("SELECT balance FROM account WHERE name = 'optimistic'"))[0]?.balance);
  });
  expect(read).toBe('70'); // read at once, with the server out of reach
  await expect(balance(a, 'optimistic')).toHaveAttribute('data-balance', '70');
  await expect(balance(b, 'optimistic')).toHaveAttribute('data-balance', '70'); // the other tab sees the same state
  // A call from the other tab waits for the server in the same outbox.
  const fromB = await call(b, 'withdraw', { name: 'optimistic', amount: 20 });
  await expect(sync(a)).toHaveAttribute('data-pending', '3');
  await expect(balance(a, 'optimistic')).toHaveAttribute('data-balance', '50');
  expect(await serverBalance('optimistic')).toEqual([100]);

  link.restore();
  expect(await settled(b, fromB)).toEqual({ fn: 'withdraw', state: 'ok' });
  expect(await settled(a, 0)).toEqual({ fn: 'add_item', state: 'ok' });
  await expect(sync(a)).toHaveAttribute('data-pending', '0');
  expect(await serverBalance('optimistic')).toEqual([50]);
  expect(await serverItems('optimistic-')).toEqual(['optimistic-item']);
  await expect(balance(a, 'optimistic')).toHaveAttribute('data-balance', '50');
  await expect(balance(b, 'optimistic')).toHaveAttribute('data-balance', '50');
});

test('calls made offline survive a reload and reach the server once each, in order', async ({ page }) => {
  const link = await proxy();
  await openSync(page, 'sync-reload', link.url);
  await expect(sync(page)).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  link.cut();
  await expect(sync(page)).toHaveAttribute('data-state', 'offline');
  for (const text of ['reload-1', 'reload-2', 'reload-3']) await call(page, 'add_item', { text }, 'local');
  await expect(sync(page)).toHaveAttribute('data-pending', '3');

  // The page (and the engine worker it hosts) goes away; the outbox is in IndexedDB.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#items li', { hasText: 'reload-' })).toHaveText(['reload-1', 'reload-2', 'reload-3']);
  await expect(sync(page)).toHaveAttribute('data-pending', '3');
  expect(await serverItems('reload-')).toEqual([]);

  link.restore();
  await expect(sync(page)).toHaveAttribute('data-pending', '0', { timeout: 30_000 });
  await expect(sync(page)).toHaveAttribute('data-state', 'online');
  expect(await serverItems('reload-')).toEqual(['reload-1', 'reload-2', 'reload-3']);
  await expect(page.locator('#items li', { hasText: 'reload-' })).toHaveText(['reload-1', 'reload-2', 'reload-3']);
});

test('a call the server refuses rejects with SenderError and its effect vanishes in both tabs', async ({ context }) => {
  await server.call('open_account', ['refused', 100]);
  const link = await proxy();
  const a = await context.newPage();
  const b = await context.newPage();
  await openSync(a, 'sync-refused', link.url);
  await openSync(b, 'sync-refused', link.url);
  await expect(sync(a)).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  await expect(balance(a, 'refused')).toHaveAttribute('data-balance', '100');

  link.cut();
  await expect(sync(a)).toHaveAttribute('data-state', 'offline');
  const i = await call(a, 'withdraw', { name: 'refused', amount: 80 });
  await expect(balance(a, 'refused')).toHaveAttribute('data-balance', '20');
  await expect(balance(b, 'refused')).toHaveAttribute('data-balance', '20');
  // Meanwhile another client takes money from the account.
  await server.call('withdraw', ['refused', 50]);

  link.restore();
  const outcome = await settled(a, i);
  expect(outcome.state).toBe('error');
  expect(outcome.error).toMatchObject({ name: 'SenderError', senderError: true, message: expect.stringContaining('insufficient funds') });
  await expect(balance(a, 'refused')).toHaveAttribute('data-balance', '50');
  await expect(balance(b, 'refused')).toHaveAttribute('data-balance', '50');
  await expect(sync(b)).toHaveAttribute('data-pending', '0');
  expect(await serverBalance('refused')).toEqual([50]);
});

test('two browsers race for the last balance: the server decides, one call rejects, both converge', async ({ browser }) => {
  await server.call('open_account', ['race', 100]);
  const [x] = await newPages(browser, 1);
  const [y] = await newPages(browser, 1);
  const lx = await proxy();
  const ly = await proxy();
  await openSync(x!, 'sync-race', lx.url);
  await openSync(y!, 'sync-race', ly.url);
  await expect(sync(x!)).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  await expect(sync(y!)).toHaveAttribute('data-state', 'online', { timeout: 20_000 });
  lx.cut();
  ly.cut();
  await expect(sync(x!)).toHaveAttribute('data-state', 'offline');
  await expect(sync(y!)).toHaveAttribute('data-state', 'offline');
  const cx = await call(x!, 'withdraw', { name: 'race', amount: 100 });
  const cy = await call(y!, 'withdraw', { name: 'race', amount: 100 });
  await expect(balance(x!, 'race')).toHaveAttribute('data-balance', '0');
  await expect(balance(y!, 'race')).toHaveAttribute('data-balance', '0');

  lx.restore();
  ly.restore();
  const outcomes = [await settled(x!, cx), await settled(y!, cy)];
  expect(outcomes.filter((o) => o.state === 'ok')).toHaveLength(1);
  expect(outcomes.filter((o) => o.state === 'error' && o.error?.senderError)).toHaveLength(1);
  expect(await serverBalance('race')).toEqual([0]);
  await expect(balance(x!, 'race')).toHaveAttribute('data-balance', '0');
  await expect(balance(y!, 'race')).toHaveAttribute('data-balance', '0');
  await expect(sync(x!)).toHaveAttribute('data-pending', '0');
  await expect(sync(y!)).toHaveAttribute('data-pending', '0');
  await x!.context().close();
  await y!.context().close();
});

test('the tab that runs the engine closes after the call reached the server but before its answer: it commits once', async ({ context }) => {
  const link = await proxy();
  const a = await context.newPage(); // connects first: the engine worker runs in this tab
  await openSync(a, 'sync-closed', link.url);
  const b = await context.newPage();
  await openSync(b, 'sync-closed', link.url);
  await expect(sync(b)).toHaveAttribute('data-state', 'online', { timeout: 20_000 });

  link.hold(); // the call reaches the server; its answer never comes back
  await call(a, 'add_item', { text: 'mid-send' }, 'local');
  await expect.poll(() => serverItems('mid-send'), { timeout: 20_000 }).toEqual(['mid-send']);
  await expect(sync(b)).toHaveAttribute('data-pending', '1');
  expect(
    a
      .workers()
      .map((w) => w.url())
      .filter((u) => u.includes('engine-worker')),
  ).toHaveLength(1);
  expect(
    b
      .workers()
      .map((w) => w.url())
      .filter((u) => u.includes('engine-worker')),
  ).toHaveLength(0);
  await a.close(); // its engine worker goes with it; the next one starts in b
  link.cut();
  link.restore();

  // b's engine reopens the database, its replica finds the call in the outbox and sends it again
  // with its id: the server commits nothing new, and the outbox empties.
  await expect(sync(b)).toHaveAttribute('data-pending', '0', { timeout: 30_000 });
  await expect(sync(b)).toHaveAttribute('data-state', 'online');
  expect(await serverItems('mid-send')).toEqual(['mid-send']);
  await expect(b.locator('#items li', { hasText: 'mid-send' })).toHaveCount(1);
});

test("dedicated workers: a follower's call waits in the leader's outbox; when the leader's tab closes, the new leader sends it once", async ({ context }) => {
  const link = await proxy();
  const leader = await context.newPage();
  await leader.goto(`/sync.html?server=${encodeURIComponent(link.url)}&db=sync-dedicated&transport=dedicated`);
  await expect(leader.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  const follower = await context.newPage();
  await follower.goto(`/sync.html?server=${encodeURIComponent(link.url)}&db=sync-dedicated&transport=dedicated`);
  await expect(follower.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  expect(await follower.evaluate(() => (globalThis as unknown as { sync: SyncPage }).sync.db.mode)).toBe('follower');
  await expect(sync(follower)).toHaveAttribute('data-state', 'online', { timeout: 20_000 });

  link.cut();
  await expect(sync(follower)).toHaveAttribute('data-state', 'offline');
  const i = await call(follower, 'add_item', { text: 'dedicated-1' });
  await expect(sync(leader)).toHaveAttribute('data-pending', '1');
  await expect(leader.locator('#items li', { hasText: 'dedicated-1' })).toHaveCount(1);
  await leader.close(); // the follower's worker leads now: it opens the database, which follows the same server

  link.restore();
  expect(await settled(follower, i)).toEqual({ fn: 'add_item', state: 'ok' });
  await expect(sync(follower)).toHaveAttribute('data-pending', '0');
  expect(await serverItems('dedicated-')).toEqual(['dedicated-1']);
  await expect(follower.locator('#items li', { hasText: 'dedicated-1' })).toHaveCount(1);
});
