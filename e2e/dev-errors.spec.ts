// A refused migration where the developer is: publishing a module over the database in this
// browser that SpacetimeDB refuses (a column's type changed, a table removed) rejects `connect`
// with a MigrationRefusedError that lists the reasons and says what to do in the browser, leaves
// the data as it was, shows in Vite's error overlay (a real dev server, e2e/fixtures/dev-errors),
// and offers `reset()` — which, and only which, deletes the data and publishes the module anew.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { expect, type Page, test } from '@playwright/test';
import type { BrowserDatabase, connect, LightconeModule, MigrationRefusedError, ModuleError } from '../src/index.ts';

/** What the fixture page puts on `globalThis` (e2e/fixtures/dev-errors/main.ts), and the error the spec keeps there. */
interface Fixture {
  fixture: { connect: typeof connect; MigrationRefusedError: typeof MigrationRefusedError; ModuleError: typeof ModuleError; v1: LightconeModule; v2: LightconeModule };
  refused: MigrationRefusedError<BrowserDatabase>;
}

let server: ChildProcess | undefined;
let url = '';
let log = '';

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  const port = await freePort();
  server = spawn(process.execPath, ['node_modules/vite/bin/vite.js', '--config', 'e2e/fixtures/dev-errors/vite.config.ts', '--port', String(port), '--strictPort'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' }, // plain text to read the address from
  });
  const listening = new Promise<void>((resolve, reject) => {
    const take = (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes(`127.0.0.1:${port}`)) resolve();
    };
    server!.stdout!.on('data', take);
    server!.stderr!.on('data', take);
    server!.on('exit', (code) => reject(new Error(`the Vite dev server exited (${code}):\n${log}`)));
  });
  await listening;
  url = `http://127.0.0.1:${port}/`;
});

test.afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.on('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
});

async function openFixture(page: Page): Promise<void> {
  await page.goto(url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 60_000 });
}

/** Publishes v1 on `name` and adds an item; then connects with v2 and reports how that went. */
async function refusedConnect(page: Page, name: string) {
  return page.evaluate(async (name) => {
    const g = globalThis as unknown as Fixture;
    const { connect, v1, v2, MigrationRefusedError, ModuleError } = g.fixture;
    const old = await connect({ name, module: v1 });
    await old.call('add', { id: 1, label: 'kept' });
    try {
      await connect({ name, module: v2 });
      return { rejected: false } as const;
    } catch (error) {
      const e = error as MigrationRefusedError<BrowserDatabase>;
      g.refused = e;
      const rows = await old.sql('SELECT * FROM item');
      return {
        rejected: true,
        refusedClass: e instanceof MigrationRefusedError,
        moduleError: e instanceof ModuleError,
        name: e.name,
        code: e.code,
        message: String(e.message),
        refused: [...e.refused],
        rows: rows.map((r) => `${r.id}:${r.label}`),
      } as const;
    }
  }, name);
}

test.describe.configure({ timeout: 90_000 });

test('a refused migration rejects connect with the reasons, in browser terms, and keeps the data; the overlay shows it', async ({ page }) => {
  await openFixture(page);
  const r = await refusedConnect(page, 'refused-a');
  expect(r.rejected).toBe(true);
  if (!r.rejected) return;
  expect(r).toMatchObject({ refusedClass: true, moduleError: true, name: 'ModuleError', code: 'MIGRATION_REFUSED' });
  expect(r.refused).toEqual(['column item.label changed type from string to u32', 'table note was removed (tables cannot be removed: keep it in the module)']);
  expect(r.message).toContain('in this browser');
  expect(r.message).toContain('reset()');
  expect(r.message).toContain("onMigrationRefused: 'reset'");
  expect(r.message).not.toMatch(/--delete-data|lightcone publish|-c\b/);
  expect(r.rows).toEqual(['1:kept']);
  // Vite's error overlay, in this page, with the reasons and the way out.
  const overlay = page.locator('vite-error-overlay .message-body');
  await expect(overlay).toContainText('MIGRATION_REFUSED');
  await expect(overlay).toContainText('column item.label changed type from string to u32');
  await expect(overlay).toContainText('reset()');
  expect(log).toContain('database refused-a in the browser: ModuleError MIGRATION_REFUSED');
});

test('reset() on the error deletes the data in this browser and publishes the new module', async ({ page }) => {
  await openFixture(page);
  const r = await refusedConnect(page, 'refused-b');
  expect(r.rejected && r.code).toBe('MIGRATION_REFUSED');
  const after = await page.evaluate(async () => {
    const db = await (globalThis as unknown as Fixture).refused.reset();
    await db.call('add', { id: 7, label: 42 });
    return {
      items: (await db.sql('SELECT * FROM item')).map((x) => `${x.id}:${x.label}`),
      markers: (await db.sql('SELECT * FROM marker')).map((x) => x.text),
      tables: (await db.describe()).tables.map((t) => t.name),
    };
  });
  expect(after).toEqual({ items: ['7:42'], markers: ['v2 init'], tables: ['item', 'marker'] });
});

test("connect({ onMigrationRefused: 'reset' }) starts over; db.publish() refusals carry reset() too", async ({ page }) => {
  await openFixture(page);
  const r = await page.evaluate(async () => {
    const { connect, v1, v2, MigrationRefusedError } = (globalThis as unknown as Fixture).fixture;
    const a = await connect({ name: 'refused-c', module: v1 });
    await a.call('add', { id: 1, label: 'gone' });
    const b = await connect({ name: 'refused-c', module: v2, onMigrationRefused: 'reset' });
    const optionItems = (await b.sql('SELECT * FROM item')).length;
    // publish() over a running database: refused, then reset through the error.
    const c = await connect({ name: 'refused-d', module: v1 });
    await c.call('add', { id: 1, label: 'gone too' });
    let published: unknown;
    let refusedClass = false;
    let kept: number | undefined;
    try {
      await c.publish(v2);
    } catch (e) {
      refusedClass = e instanceof MigrationRefusedError && e.code === 'MIGRATION_REFUSED';
      kept = (await c.sql('SELECT * FROM item')).length;
      published = await (e as MigrationRefusedError).reset();
    }
    return { optionItems, refusedClass, kept, published, afterReset: (await c.sql('SELECT * FROM marker')).map((x) => x.text) };
  });
  expect(r).toEqual({ optionItems: 0, refusedClass: true, kept: 1, published: 'created', afterReset: ['v2 init'] });
});

test('a database that does not exist, opened without a module, says how to create it in the browser', async ({ page }) => {
  await openFixture(page);
  const r = await page.evaluate(async () => {
    try {
      await (globalThis as unknown as Fixture).fixture.connect({ name: 'nobody-here' });
      return undefined;
    } catch (error) {
      const e = error as ModuleError;
      return { name: e.name, code: e.code, message: String(e.message) };
    }
  });
  expect(r).toMatchObject({ name: 'UsageError', code: 'UNKNOWN_DATABASE' });
  expect(r!.message).toContain('does not exist in this browser');
  expect(r!.message).toContain('connect({ name: "nobody-here", module })');
  expect(r!.message).not.toMatch(/lightcone publish|--module-path/);
});
