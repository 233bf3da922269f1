// Execution limits in Chromium: a reducer stuck in `for(;;){}` must not leave calls pending. The
// engine runs in a worker its supervisor can terminate (worker/engine-supervisor.ts): the runaway
// call rejects with InternalError TIME_LIMIT, calls batched with it still commit once each, the
// engine recovers from IndexedDB (committed data intact, subscriptions continue), and so it does
// when its worker dies. In both transports: SharedWorker (engine started by a page) and dedicated
// workers (engine nested in the leader's worker).
import { expect, test, type Page } from '@playwright/test';
import { bundleModule } from '../src/host/bundle.ts';
import { openChat } from './chat-page.ts';

const runaway = (await bundleModule('e2e/fixtures/runaway.ts')).code;
const BUDGET_MS = 2_000;

type Transport = 'shared' | 'dedicated';

async function runawayCalls(page: Page, name: string, transport: Transport) {
  await openChat(page, `${name}-chat`, transport === 'dedicated' ? '&transport=dedicated' : '');
  return page.evaluate(
    async ({ code, name, transport, budget }) => {
      const { connect } = (globalThis as unknown as { lightcone: { connect: typeof import('../src/index.ts').connect } }).lightcone;
      const db = await connect({ name, module: { code }, transport, limits: { callTimeoutMs: budget } });
      const live = new Set<string>();
      let wake = () => {};
      db.subscribe(['SELECT * FROM note'], {
        onApplied: (initial) => {
          live.clear();
          for (const row of initial.note ?? []) live.add(String(row.text));
          wake();
        },
        onUpdate: (update) => {
          for (const t of update) for (const row of t.inserts) live.add(String(row.text));
          wake();
        },
      });
      const failure = (e: unknown) => {
        const err = e as { name: string; code: string; message: string };
        return `${err.name} ${err.code}: ${err.message}`;
      };
      await db.call('add', { text: 'before' });
      const alone = await db.call('spin').then(() => 'resolved', failure);
      // One batch (same microtask): the engine sticks after `with 1`, before `with 2`.
      const batch = await Promise.allSettled([db.call('add', { text: 'with 1' }), db.call('spin'), db.call('add', { text: 'with 2' })]);
      await db.call('add', { text: 'after' });
      const rows = (await db.sql('SELECT * FROM note')).map((r) => String(r.text)).sort();
      while (!live.has('after')) await new Promise<void>((resolve) => (wake = resolve));
      return {
        mode: db.mode,
        alone,
        batch: batch.map((r) => (r.status === 'fulfilled' ? 'ok' : failure(r.reason))),
        rows,
        live: [...live].sort(),
      };
    },
    { code: runaway, name, transport, budget: BUDGET_MS },
  );
}

for (const transport of ['shared', 'dedicated'] as const) {
  test(`${transport}: a runaway reducer rejects with TIME_LIMIT, its batch-mates commit once, and the engine recovers`, async ({ page }) => {
    test.setTimeout(90_000);
    const out = await runawayCalls(page, `runaway-${transport}`, transport);
    // Dedicated: the chat page's own connection leads, so these calls go through a follower.
    expect(out.mode).toBe(transport === 'shared' ? 'shared' : 'follower');
    expect(out.alone).toMatch(/^InternalError TIME_LIMIT: spin on runaway-\w+ kept the engine busy for more than 2000 ms.*callTimeoutMs/);
    expect(out.batch[0]).toBe('ok');
    expect(out.batch[1]).toMatch(/^InternalError TIME_LIMIT/);
    expect(out.batch[2]).toBe('ok');
    // Committed data is intact, the runaway's row never committed, each call committed once.
    expect(out.rows).toEqual(['after', 'before', 'with 1', 'with 2']);
    expect(out.live).toEqual(['after', 'before', 'with 1', 'with 2']);
  });
}

test("shared: when the engine's worker dies, the call in flight runs on the next engine, once", async ({ page }) => {
  await openChat(page, 'engine-death');
  const out = await page.evaluate(async () => {
    const { db } = (globalThis as unknown as { lightcone: import('./chat-page.ts').PageHandle }).lightcone;
    await db.call('send_message', { text: 'before' });
    await db.setTestHooks({ writeDelayMs: 1_000 }); // the next call is in flight when the engine dies
    const inFlight = db.call('send_message', { text: 'in flight' }, { callId: 'engine-death-1' });
    await db.setTestHooks({ crashEngine: true });
    await inFlight;
    await db.setTestHooks({ writeDelayMs: 0 });
    await db.call('send_message', { text: 'in flight' }, { callId: 'engine-death-1' }); // a retry: not again
    return (await db.sql('SELECT * FROM message')).map((m) => String(m.text)).sort();
  });
  expect(out).toEqual(['before', 'in flight']);
});
