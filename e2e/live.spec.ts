// Live updates, error classes across the worker boundary, and calls that settle when the worker
// dies: the demo page in one Chromium context (the SharedWorker serves all its tabs).
import { expect, test } from '@playwright/test';
import { openChat, send, setName, texts } from './chat-page.ts';

test('a reducer call updates the list live in the same tab and in a second tab', async ({ context }) => {
  const a = await context.newPage();
  await openChat(a, 'live');
  await expect(a.locator('#status')).toHaveAttribute('data-mode', 'shared');
  await setName(a, 'Ada');
  await send(a, 'hello from a');
  await expect(texts(a)).toHaveText(['hello from a']);
  await expect(a.locator('#messages li .who')).toHaveText(['Ada']);

  // Another user of this browser (`?user=`: an identity of its own).
  const b = await context.newPage();
  await openChat(b, 'live', '&user=grace');
  await expect(texts(b)).toHaveText(['hello from a']);
  await setName(b, 'Grace');
  await send(b, 'hi from b');
  // Tab a learns of b's call through its subscription, without reloading.
  await expect(texts(a)).toHaveText(['hello from a', 'hi from b']);
  await expect(a.locator('#messages li .who')).toHaveText(['Ada', 'Grace']);
  await expect(texts(b)).toHaveText(['hello from a', 'hi from b']);
  // The storage indicator: persisted or not (headless Chromium says no), and bytes used.
  await expect(a.locator('#storage')).toHaveAttribute('data-usage', /^[1-9]\d*$/);
  await expect(a.locator('#storage')).toHaveAttribute('data-persisted', /^(true|false)$/);
  await expect(a.locator('#storage')).toContainText('used');
  // Who is online (the module's user.online): both tabs hold a client connection; closing b ends Grace's.
  await expect(a.locator('#people li[data-online="true"]')).toHaveText(['Ada (you)', 'Grace']);
  await b.close();
  await expect(a.locator('#people li[data-online="true"]')).toHaveText(['Ada (you)']);
  await expect(a.locator('#people li[data-online="false"]')).toHaveText(['Grace']);
});

test('the message input clears when a message is sent; what is typed while the call is in flight stays; each message shows its time', async ({ page }) => {
  await openChat(page, 'input');
  // Hold the call in flight (its write waits), type the next message meanwhile.
  await page.evaluate(() => (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone.db.setTestHooks({ writeDelayMs: 1_500 }));
  await send(page, 'first');
  await expect(page.locator('#message-form')).toHaveAttribute('data-busy', 'true');
  await expect(page.locator('#text')).toHaveValue('');
  await page.locator('#text').pressSequentially('second, typed meanwhile');
  await expect(page.locator('#message-form')).not.toHaveAttribute('data-busy', 'true');
  await expect(texts(page)).toHaveText(['first']);
  await expect(page.locator('#text')).toHaveValue('second, typed meanwhile');
  await page.evaluate(() => (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone.db.setTestHooks({ writeDelayMs: 0 }));
  // A message that fails (storage refuses the write) comes back into the input, with the error.
  await page.evaluate(() => (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone.db.setTestHooks({ failWrites: true }));
  await send(page, 'refused by storage');
  await expect(page.locator('#error')).toHaveAttribute('data-name', 'StorageError');
  await expect(page.locator('#text')).toHaveValue('refused by storage');
  await page.evaluate(() => (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone.db.setTestHooks({ failWrites: false }));
  // The time of each message: the module's `sent` timestamp.
  const stamp = await page.locator('#messages li .time').first().getAttribute('datetime');
  const sent = await page.evaluate(async () => {
    const { db } = (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone;
    const [m] = await db.sql("SELECT * FROM message WHERE text = 'first'");
    return (m!.sent as { toDate(): Date }).toDate().toISOString();
  });
  expect(stamp).toBe(sent);
  await expect(page.locator('#messages li .time').first()).toHaveText(/^\d{1,2}:\d{2}/);
});

test('offline: the page says so, and the chat keeps working on the database in this browser', async ({ context, page }) => {
  await openChat(page, 'offline');
  await expect(page.locator('#network')).toHaveAttribute('data-state', 'online');
  await context.setOffline(true);
  await expect(page.locator('#network')).toHaveAttribute('data-state', 'offline');
  await expect(page.locator('#network')).toContainText('offline');
  await send(page, 'written offline');
  await expect(texts(page)).toHaveText(['written offline']);
  await context.setOffline(false);
  await expect(page.locator('#network')).toHaveAttribute('data-state', 'online');
});

test('export and import move a database between names', async ({ page }) => {
  await openChat(page, 'export-a');
  await send(page, 'exported');
  await expect(texts(page)).toHaveText(['exported']);
  const imported = await page.evaluate(async () => {
    const { connect } = (globalThis as unknown as { lightcone: { connect: typeof import('../src/index.ts').connect } }).lightcone;
    const { db } = (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone;
    const image = await db.export();
    // A new database created from the image, then an existing one replaced by it.
    const created = await connect({ name: 'export-b', image });
    const rows = (await created.sql('SELECT * FROM message')).map((m) => m.text);
    await db.call('send_message', { text: 'only in a' });
    await created.call('send_message', { text: 'only in b' });
    await created.import(await db.export());
    const replaced = (await created.sql('SELECT * FROM message')).map((m) => m.text).sort();
    await created.close();
    return { rows, replaced, magic: String.fromCharCode(...image.slice(0, 4)) };
  });
  expect(imported).toEqual({ rows: ['exported'], replaced: ['exported', 'only in a'], magic: 'LCDB' });
});

test('a SenderError thrown by the module is a SenderError in the page', async ({ page }) => {
  await openChat(page, 'sender-error');
  await send(page, '');
  const error = page.locator('#error');
  await expect(error).toHaveText('SenderError: Messages must not be empty');
  await expect(error).toHaveAttribute('data-name', 'SenderError');
  await expect(error).toHaveAttribute('data-sender-error', 'true'); // instanceof SenderError
  await expect(error).toHaveAttribute('data-code', 'SENDER_ERROR');
  // Other classes keep theirs too.
  const other = await page.evaluate(async () => {
    const { db } = (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone;
    const names: string[] = [];
    for (const f of [() => db.call('no_such_reducer'), () => db.sql('SELECT * FROM nowhere'), () => db.call('send_message', { text: 5 })]) {
      try {
        await f();
      } catch (e) {
        names.push(`${(e as Error).name}/${(e as { code: string }).code}`);
      }
    }
    return names;
  });
  expect(other).toEqual(['UsageError/UNKNOWN_REDUCER', 'SqlError/UNKNOWN_TABLE', 'UsageError/BAD_ARGUMENT']);
});

test('calls made together travel as one batch, yet each settles on its own, in order, with its own error class', async ({ page }) => {
  await openChat(page, 'batch');
  const out = await page.evaluate(async () => {
    const { db } = (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone;
    // Same microtask: one callMany message. The empty message fails alone.
    const settled = await Promise.allSettled(['one', '', 'two', 'three'].map((text) => db.call('send_message', { text })));
    const rows = await db.sql('SELECT text FROM message');
    return {
      outcomes: settled.map((r) => (r.status === 'fulfilled' ? 'ok' : `${(r.reason as Error).name}: ${(r.reason as Error).message}`)),
      texts: rows.map((r) => r.text).sort(),
    };
  });
  expect(out.outcomes).toEqual(['ok', 'SenderError: Messages must not be empty', 'ok', 'ok']);
  expect(out.texts).toEqual(['one', 'three', 'two']);
});

test('when the worker dies, a pending call rejects with a retryable ClosedError; a retry with its id applies once', async ({ context }) => {
  const page = await context.newPage();
  await openChat(page, 'crash');
  await send(page, 'before');
  await expect(texts(page)).toHaveText(['before']);
  await page.evaluate(() => (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone.db.setTestHooks({ writeDelayMs: 5_000 }));
  await send(page, 'in flight');
  await expect(page.locator('#message-form')).toHaveAttribute('data-busy', 'true');
  await page.evaluate(() => (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone.db.setTestHooks({ crash: true }));
  const error = page.locator('#error');
  await expect(error).toHaveAttribute('data-name', 'ClosedError', { timeout: 5_000 });
  await expect(error).toHaveAttribute('data-retryable', 'true');
  const callId = await error.getAttribute('data-call-id');
  expect(callId).toBeTruthy();

  // A new tab starts a new worker; retrying with the same id twice applies the call once.
  const retry = await context.newPage();
  await openChat(retry, 'crash');
  await retry.evaluate(async (id) => {
    const { db } = (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone;
    await db.call('send_message', { text: 'in flight' }, { callId: id });
    await db.call('send_message', { text: 'in flight' }, { callId: id });
  }, callId!);
  await expect(texts(retry)).toHaveText(['before', 'in flight']);
});
