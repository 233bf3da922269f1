// The browser engine's worker terminated at each IndexedDB step of a commit and of a snapshot
// (its parts, its manifest switch, the log trim after it).
// The test patches IndexedDB inside the page's workers (the one running the engine is the one that
// writes), counts every transaction begun, put, delete, commit and completion by kind (log write,
// snapshot), and closes that worker at the n-th occurrence of one step while four callers append
// rows of 32 KiB to a ledger database (test/reliability/fixtures/ledger.ts: each caller numbers
// its calls, the module refuses one out of turn), so that snapshots come every few dozen calls.
// Every call in flight must settle; after a reload (recovery from IndexedDB) every acknowledged
// call is there, each caller's rows are a gap-free prefix of what it sent (at most the call in
// flight more), and the database takes new calls that survive another reload.
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { Figures, size } from '../test/reliability/figures.ts';
import { bundleModule } from '../src/host/bundle.ts';
import { ROOT } from '../test/helpers/paths.ts';
import { openChat, type PageHandle } from './chat-page.ts';

type Kind = 'log' | 'parts' | 'snapshot';
type Step = 'begin' | 'put' | 'delete' | 'commit' | 'complete';
interface KillPoint {
  kind: Kind;
  step: Step;
  nth: number;
}

const CALLERS = 4;
const MAX_CALLS = 60; // per caller: enough for several snapshots
const PAD = 32 * 1024;

const POINTS: KillPoint[] = size(
  [
    { kind: 'log', step: 'complete', nth: 5 },
    { kind: 'snapshot', step: 'put', nth: 1 },
  ],
  [
    ...(['begin', 'put', 'commit', 'complete'] as const).map((step) => ({ kind: 'log' as const, step, nth: 2 })),
    { kind: 'log', step: 'complete', nth: 9 },
    // A snapshot's parts, its manifest switch (manifest put, unreferenced parts deleted), then the
    // trim of the log it covers.
    ...(['begin', 'put', 'complete'] as const).map((step) => ({ kind: 'parts' as const, step, nth: 1 })),
    { kind: 'parts', step: 'put', nth: 4 },
    ...(['begin', 'put', 'delete', 'complete'] as const).map((step) => ({ kind: 'snapshot' as const, step, nth: 1 })),
    { kind: 'log', step: 'delete', nth: 1 },
  ],
);

const figures = new Figures('browser-worker-kill', 0);
test.afterAll(() => {
  figures.zero('rows lost');
  figures.report();
});

/**
 * Installs the kill switch in the page's workers (the one that writes to IndexedDB counts):
 * `close()` at the n-th `kind:step`.
 */
async function arm(page: Page, point: KillPoint): Promise<void> {
  const workers = page.workers();
  expect(workers.length, 'the engine runs in a dedicated worker of the page').toBeGreaterThan(0);
  for (const worker of workers)
    await worker.evaluate((p) => {
      const kinds = new WeakMap<IDBTransaction, string>();
      const counts = new Map<string, number>();
      const completed = new WeakSet<IDBTransaction>();
      /** Counts one step; true when it is the one to die at (the worker is closing then). */
      const hit = (kind: string | undefined, step: string): boolean => {
        const key = `${kind}:${step}`;
        const n = (counts.get(key) ?? 0) + 1;
        counts.set(key, n);
        if (kind !== p.kind || step !== p.step || n !== p.nth) return false;
        // Tell the page where it died (posted before closing, so it is delivered).
        new BroadcastChannel('lightcone-test-kill').postMessage(`${key} #${n}`);
        // No task of this worker runs after this one: no completion event, no reply to the page.
        (globalThis as unknown as { close(): void }).close();
        return true;
      };
      const kindOf = (stores: string | readonly string[], mode: string | undefined): string => {
        const list = typeof stores === 'string' ? [stores] : [...stores];
        if (mode !== 'readwrite') return 'read';
        // A snapshot writes its parts (parts store), then switches its manifest (snapshot + parts).
        return list.includes('snapshot') ? 'snapshot' : list.includes('parts') ? 'parts' : list.includes('meta') ? 'meta' : list.includes('log') ? 'log' : 'other';
      };
      const transaction = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (this: IDBDatabase, stores: string | string[], mode?: IDBTransactionMode, options?: IDBTransactionOptions) {
        const kind = kindOf(stores, mode);
        hit(kind, 'begin');
        const tx = transaction.call(this, stores, mode, options);
        kinds.set(tx, kind);
        return tx;
      } as typeof transaction;
      for (const method of ['put', 'delete'] as const) {
        const original = IDBObjectStore.prototype[method] as (...args: unknown[]) => IDBRequest;
        (IDBObjectStore.prototype as unknown as Record<string, unknown>)[method] = function (this: IDBObjectStore, ...args: unknown[]) {
          hit(kinds.get(this.transaction), method);
          return original.apply(this, args);
        };
      }
      const commit = IDBTransaction.prototype.commit;
      IDBTransaction.prototype.commit = function (this: IDBTransaction) {
        hit(kinds.get(this), 'commit');
        return commit.call(this);
      };
      const listen = IDBTransaction.prototype.addEventListener;
      IDBTransaction.prototype.addEventListener = function (this: IDBTransaction, type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions) {
        if (type !== 'complete' || listener === null) return listen.call(this, type, listener as EventListenerOrEventListenerObject, options);
        const tx = this;
        const wrapped = function (this: unknown, event: Event): void {
          // The write is durable now; dying here means the engine never learns it.
          if (!completed.has(tx)) {
            completed.add(tx);
            if (hit(kinds.get(tx), 'complete')) (tx as unknown as { __killed: boolean }).__killed = true;
          }
          if ((tx as unknown as { __killed?: boolean }).__killed) return;
          if (typeof listener === 'function') listener.call(this, event);
          else listener.handleEvent(event);
        };
        return listen.call(this, type, wrapped, options);
      } as typeof listen;
    }, point);
}

/** The ledger module (test/reliability/fixtures/ledger.ts), bundled once in Node. */
let ledger: string;
test.beforeAll(async () => {
  ledger = (await bundleModule(join(ROOT, 'test', 'reliability', 'fixtures', 'ledger.ts'))).code;
});

type Handle = PageHandle & { connect: typeof import('../src/client/connect.ts').connect };
type LoadState = { acked: number[][]; errors: string[]; stop: boolean; ledger: import('../src/client/connect.ts').BrowserDatabase; killedAt: string | undefined };

/**
 * Connects the page to the ledger database `name` (a dedicated worker of its own, which forwards
 * to the page's leader: the engine, and its IndexedDB writes, stay in the armed worker).
 */
function connectLedger(page: Page, name: string, code: string | undefined): Promise<void> {
  return page.evaluate(
    async ({ name, code }) => {
      const g = globalThis as unknown as { lightcone: Handle; load?: LoadState };
      const db = await g.lightcone.connect({ name, transport: 'dedicated', ...(code !== undefined ? { module: { code } } : {}) });
      const state: LoadState = { acked: [], errors: [], stop: false, ledger: db, killedAt: undefined };
      new BroadcastChannel('lightcone-test-kill').onmessage = (e: MessageEvent<string>) => (state.killedAt = e.data);
      g.load = state;
    },
    { name, code },
  );
}

/** Callers append numbered rows until told to stop, an error, or MAX_CALLS each. */
function load(page: Page): Promise<void> {
  return page.evaluate(
    async ({ callers, max, pad }) => {
      const state = (globalThis as unknown as { load: LoadState }).load;
      state.acked = Array.from({ length: callers }, () => []);
      await Promise.all(
        state.acked.map(async (mine, caller) => {
          for (let seq = 0; seq < max && !state.stop; seq++) {
            try {
              await state.ledger.call('append', { caller, seq, pad: 'x'.repeat(pad) });
              mine.push(seq);
            } catch (e) {
              state.errors.push(`${(e as Error).name}${'code' in (e as object) ? ` ${(e as { code: string }).code}` : ''}: ${(e as Error).message}`);
              return;
            }
          }
        }),
      );
    },
    { callers: CALLERS, max: MAX_CALLS, pad: PAD },
  );
}

/** Per caller, the sequence numbers stored (sorted), and the tally the module kept. */
async function stored(page: Page): Promise<{ perCaller: number[][]; tally: number[]; count: number }> {
  return page.evaluate(async (callers) => {
    const { ledger } = (globalThis as unknown as { load: LoadState }).load;
    const rows = await ledger.sql('SELECT caller, seq FROM entry');
    const perCaller: number[][] = Array.from({ length: callers }, () => []);
    for (const r of rows) perCaller[Number(r.caller)]!.push(Number(r.seq));
    for (const list of perCaller) list.sort((a, b) => a - b);
    const tally: number[] = Array.from({ length: callers }, () => 0);
    for (const r of await ledger.sql('SELECT * FROM tally')) tally[Number(r.caller)] = Number(r.next);
    return { perCaller, tally, count: rows.length };
  }, CALLERS);
}

/** Opens the demo page (its own small chat database, so that this tab's worker leads). */
async function openPage(page: Page, db: string): Promise<void> {
  await openChat(page, `${db}-page`, '&transport=dedicated');
  await expect(page.locator('#status')).toHaveAttribute('data-mode', 'leader');
}

for (const point of POINTS) {
  test(`worker killed at ${point.kind} ${point.step} #${point.nth}: every acknowledged call survives, none twice, writes go on`, async ({ page }) => {
    test.setTimeout(120_000);
    const db = `kill-${point.kind}-${point.step}-${point.nth}`;
    await openPage(page, db);
    await connectLedger(page, db, ledger);
    const workers = page.workers();
    const died = Promise.race(workers.map((w) => new Promise<void>((resolve) => w.once('close', () => resolve()))));
    await arm(page, point);
    const running = load(page);
    const first = await Promise.race([died.then(() => 'killed' as const), running.then(() => 'finished' as const)]);
    expect(first, `the workload never reached ${point.kind} ${point.step} #${point.nth}`).toBe('killed');
    // Every call in flight when the engine's worker died settles (resolves, or rejects with a
    // named error); no new ones start.
    await page.evaluate(() => {
      (globalThis as unknown as { load: LoadState }).load.stop = true;
    });
    await running;
    const out = await page.evaluate(() => {
      const s = (globalThis as unknown as { load: LoadState }).load;
      return { acked: s.acked, errors: s.errors, killedAt: s.killedAt };
    });
    expect(out.killedAt, 'the worker that closed is the one killed at this step').toBe(`${point.kind}:${point.step} #${point.nth}`);
    for (const e of out.errors) expect(e, 'a call failed with an unnamed error').toMatch(/^(ClosedError|StorageError|InternalError) [A-Z_]+: /);
    figures.add('calls in flight that rejected with a named error', out.errors.length);
    figures.add('kill points tried');
    figures.add(
      'acknowledged calls checked',
      out.acked.reduce((n, a) => n + a.length, 0),
    );

    // Reopen (a reload recovers the database from IndexedDB) and check.
    await openPage(page, db);
    await connectLedger(page, db, undefined);
    const after = await stored(page);
    let lost = 0;
    for (let c = 0; c < CALLERS; c++) {
      const got = after.perCaller[c]!;
      const mine = out.acked[c]!;
      lost += mine.filter((seq) => !got.includes(seq)).length;
      expect(got, `caller ${c}: a prefix of what it sent, no duplicates`).toEqual(got.map((_, i) => i));
      expect(after.tally[c], `caller ${c}: the module's own count`).toBe(got.length);
      expect(got.length, `caller ${c}: every acknowledged call`).toBeGreaterThanOrEqual(mine.length);
      expect(got.length, `caller ${c}: at most the call in flight more`).toBeLessThanOrEqual(mine.length + 1);
    }
    figures.add('rows lost', lost);
    expect(lost).toBe(0);

    // The recovered database takes writes, and they are durable too.
    await page.evaluate(async (seq) => {
      await (globalThis as unknown as { load: LoadState }).load.ledger.call('append', { caller: 0, seq, pad: 'after' });
    }, after.perCaller[0]!.length);
    await openPage(page, db);
    await connectLedger(page, db, undefined);
    expect((await stored(page)).count).toBe(after.count + 1);
  });
}
