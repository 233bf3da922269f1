// All tabs, one engine. With a SharedWorker, a tab closing mid-call loses nothing. With the
// dedicated-worker fallback (?transport=dedicated), tabs elect a leader and forward to it; when
// the leader's tab closes mid-call, the follower's call still commits exactly once (the contract
// in src/client/connect.ts and worker/router.ts).
import { expect, test, type Page } from '@playwright/test';
import { openChat, send, texts, type PageHandle } from './chat-page.ts';

const hooks = (page: Page, h: import('../src/client/protocol.ts').TestHooks) => page.evaluate((x) => (globalThis as unknown as { lightcone: PageHandle }).lightcone.db.setTestHooks(x), h);

test('SharedWorker: a tab that closes mid-call does not lose the call; the other tab sees it', async ({ context }) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await openChat(a, 'shared-close');
  await openChat(b, 'shared-close');
  await hooks(a, { writeDelayMs: 700 }); // the engine is shared: the delay applies to every tab
  await send(a, 'sent, then the tab closed');
  await expect(a.locator('#message-form')).toHaveAttribute('data-busy', 'true');
  await a.close();
  await expect(texts(b)).toHaveText(['sent, then the tab closed']);
  await hooks(b, { writeDelayMs: 0 });
  await send(b, 'still working');
  await expect(texts(b)).toHaveText(['sent, then the tab closed', 'still working']);
});

/** The engine workers `page` starts from now on (their script URLs). */
function engineWorkersStarted(page: Page): string[] {
  const started: string[] = [];
  page.on('worker', (w) => {
    if (w.url().includes('engine-worker')) started.push(w.url());
  });
  return started;
}

test('SharedWorker: the first tab starts one engine worker; a tab joining a running engine starts none', async ({ context }) => {
  const a = await context.newPage();
  const startedByA = engineWorkersStarted(a);
  await openChat(a, 'head-start');
  expect(startedByA).toHaveLength(1);
  expect(a.workers().filter((w) => w.url().includes('engine-worker'))).toHaveLength(1); // it serves the database
  const b = await context.newPage();
  const startedByB = engineWorkersStarted(b);
  await openChat(b, 'head-start');
  await send(b, 'served by the engine the first tab started');
  await expect(texts(a)).toHaveText(['served by the engine the first tab started']);
  expect(startedByB).toEqual([]);
  expect(a.workers().filter((w) => w.url().includes('engine-worker'))).toHaveLength(1);
});

test('dedicated workers: tabs elect one leader and see each other live', async ({ context }) => {
  const a = await context.newPage();
  await openChat(a, 'elect', '&transport=dedicated');
  await expect(a.locator('#status')).toHaveAttribute('data-mode', 'leader');
  const b = await context.newPage();
  await openChat(b, 'elect', '&transport=dedicated');
  await expect(b.locator('#status')).toHaveAttribute('data-mode', 'follower');
  await send(a, 'from the leader');
  await expect(texts(b)).toHaveText(['from the leader']);
  await send(b, 'from a follower');
  await expect(texts(a)).toHaveText(['from the leader', 'from a follower']);
  await expect(texts(b)).toHaveText(['from the leader', 'from a follower']);
});

test("dedicated workers: the leader's tab closing mid-call; the follower's call commits exactly once", async ({ context }) => {
  const leader = await context.newPage();
  await openChat(leader, 'leader-close', '&transport=dedicated');
  await expect(leader.locator('#status')).toHaveAttribute('data-mode', 'leader');
  const follower = await context.newPage();
  await openChat(follower, 'leader-close', '&transport=dedicated');
  await send(follower, 'before');
  await expect(texts(follower)).toHaveText(['before']);

  // The leader's storage is slow: the follower's call is in flight when the leader's tab closes.
  await hooks(leader, { writeDelayMs: 1_500 });
  await send(follower, 'in flight');
  await expect(follower.locator('#message-form')).toHaveAttribute('data-busy', 'true');
  await leader.close();

  // The follower's worker becomes the leader, reopens the database from IndexedDB, and runs the
  // pending call (same call id) once: it settles without an error, and the list shows it once.
  await expect(follower.locator('#message-form')).not.toHaveAttribute('data-busy', 'true', { timeout: 15_000 });
  await expect(follower.locator('#error')).toHaveText('');
  await expect(texts(follower)).toHaveText(['before', 'in flight']);
  const third = await context.newPage();
  await openChat(third, 'leader-close', '&transport=dedicated');
  await expect(third.locator('#status')).toHaveAttribute('data-mode', 'follower');
  await expect(texts(third)).toHaveText(['before', 'in flight']);
});

test("dedicated workers: a call whose write landed just before the leader's tab closed is not applied again", async ({ context }) => {
  const leader = await context.newPage();
  await openChat(leader, 'leader-landed', '&transport=dedicated');
  await expect(leader.locator('#status')).toHaveAttribute('data-mode', 'leader');
  const follower = await context.newPage();
  await openChat(follower, 'leader-landed', '&transport=dedicated');

  // The write is stored at once but its reply is late: the leader's tab closes in between, so the
  // follower resends the call to the next leader (itself), which finds its id in the log.
  await hooks(leader, { ackDelayMs: 1_500 });
  await send(follower, 'landed');
  await expect(follower.locator('#message-form')).toHaveAttribute('data-busy', 'true');
  await leader.waitForTimeout(300);
  await leader.close();
  await expect(follower.locator('#message-form')).not.toHaveAttribute('data-busy', 'true', { timeout: 15_000 });
  await expect(follower.locator('#error')).toHaveText('');
  await expect(texts(follower)).toHaveText(['landed']);
  const rows = await follower.evaluate(async () => (await (globalThis as unknown as { lightcone: PageHandle }).lightcone.db.sql('SELECT * FROM message')).length);
  expect(rows).toBe(1);
});

const laneOpen = (page: Page) => page.evaluate(() => (globalThis as unknown as { lightcone: PageHandle }).lightcone.callLaneOpen());

test('SharedWorker: each tab calls the engine worker on a lane of its own, the tab that started the engine and the one that did not', async ({ context }) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await openChat(a, 'lanes');
  await openChat(b, 'lanes');
  await expect.poll(() => laneOpen(a)).toBe(true);
  await expect.poll(() => laneOpen(b)).toBe(true);
  await send(b, 'from b, on its lane');
  await send(a, 'from a, on its lane');
  await expect(texts(a)).toHaveText(['from b, on its lane', 'from a, on its lane']);
  await expect(texts(b)).toHaveText(['from b, on its lane', 'from a, on its lane']);
});

test('dedicated workers: the leader calls its engine on a lane; a follower goes through the leader', async ({ context }) => {
  const a = await context.newPage();
  await openChat(a, 'lanes-dedicated', '&transport=dedicated');
  const b = await context.newPage();
  await openChat(b, 'lanes-dedicated', '&transport=dedicated');
  await expect(b.locator('#status')).toHaveAttribute('data-mode', 'follower');
  await expect.poll(() => laneOpen(a)).toBe(true);
  await send(b, 'from the follower');
  await expect(texts(a)).toHaveText(['from the follower']);
  expect(await laneOpen(b)).toBe(false);
});
