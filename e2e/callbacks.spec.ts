// Subscription callbacks run in the page: what they throw is reported there, as in Node (to
// onError, else to the console), and the subscription goes on. Thrown back to the worker, it
// would reach no one.
import { expect, test } from '@playwright/test';
import { openChat, type PageHandle } from './chat-page.ts';

test('a subscription callback that throws is reported to onError, and the subscription goes on', async ({ page }) => {
  await openChat(page, 'callbacks-on-error');
  const seen = await page.evaluate(async () => {
    const { db } = (globalThis as unknown as { lightcone: PageHandle }).lightcone;
    const errors: string[] = [];
    const texts: string[] = [];
    let allReported!: () => void;
    const reported = new Promise<void>((resolve) => (allReported = resolve));
    const sub = db.subscribe(['SELECT * FROM message'], {
      onApplied: () => {
        throw new Error('applied boom');
      },
      onUpdate: (update) => {
        for (const t of update) for (const row of t.inserts) texts.push((row as { text: string }).text);
        throw new Error('update boom');
      },
      onError: (error) => {
        errors.push(error.message);
        if (errors.length === 3) allReported();
      },
    });
    await sub.applied; // resolves although onApplied threw
    await db.call('send_message', { text: 'one' });
    await db.call('send_message', { text: 'two' });
    await reported;
    sub.unsubscribe();
    return { errors, texts, active: sub.active };
  });
  expect(seen).toEqual({ errors: ['applied boom', 'update boom', 'update boom'], texts: ['one', 'two'], active: false });
});

test('without onError, what a callback throws goes to the console', async ({ page }) => {
  await openChat(page, 'callbacks-console');
  const logged = page.waitForEvent('console', (m) => m.type() === 'error' && m.text().includes('lightcone: a live query callback threw'));
  await page.evaluate(async () => {
    const { db } = (globalThis as unknown as { lightcone: PageHandle }).lightcone;
    const sub = db.subscribe(['SELECT * FROM message'], {
      onUpdate: () => {
        throw new Error('console boom');
      },
    });
    await sub.applied;
    await db.call('send_message', { text: 'three' });
  });
  expect((await logged).text()).toContain('console boom');
});
