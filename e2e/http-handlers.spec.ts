// A module's HTTP handlers in Chromium: `db.fetch` from the page reaches the handlers through the
// worker (Request in, Response out), a handler's `ctx.withTx` commits to IndexedDB and is seen by
// SQL, and no route is a 404. In both transports: SharedWorker and dedicated workers.
import { expect, test } from '@playwright/test';
import { bundleModule } from '../src/host/bundle.ts';
import { openChat } from './chat-page.ts';

const code = (await bundleModule('test/fixtures/http-handlers.ts')).code;

for (const transport of ['shared', 'dedicated'] as const) {
  test(`db.fetch serves the module's routes in the browser (${transport})`, async ({ page }) => {
    await openChat(page, `http-${transport}-chat`, transport === 'dedicated' ? '&transport=dedicated' : '');
    const out = await page.evaluate(
      async ({ code, name, transport }) => {
        const { connect } = (globalThis as unknown as { lightcone: { connect: typeof import('../src/index.ts').connect } }).lightcone;
        const db = await connect({ name, module: { code }, transport });
        const hello = await db.fetch('/hello');
        const echo = await db.fetch('/echo', { method: 'POST', headers: { 'x-test': 'page' }, body: 'hi' });
        const record = await db.fetch(new Request('http://offline.test/v1/database/x/route/record', { method: 'POST', body: 'from the page' }));
        const bytes = await db.fetchRoute({ method: 'GET', path: '/bytes' });
        const missing = await db.fetch('/missing');
        const rows = (await db.sql('SELECT note FROM visit')).map((r) => String(r.note));
        await db.close();
        return {
          hello: [hello.status, await hello.text()],
          echo: [echo.status, await echo.json()],
          record: await record.text(),
          bytes: [...bytes.body],
          missing: missing.status,
          rows,
        };
      },
      { code, name: `http-${transport}`, transport },
    );
    expect(out.hello).toEqual([200, 'hello']);
    expect(out.echo).toEqual([201, { method: 'POST', uri: 'http://localhost/echo', test: 'page', body: 'hi' }]);
    expect(out.record).toBe('visits=1');
    expect(out.bytes).toEqual([0, 1, 2, 255]);
    expect(out.missing).toBe(404);
    expect(out.rows).toEqual(['from the page']);
  });
}
