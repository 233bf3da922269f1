// P1–P3, the playground (`npm run bench -- --only=playground`): built as `npm run build:demo`
// builds it, served by the plain static server (e2e/static-server.mjs), opened in Debian's
// Chromium with a fresh on-disk profile each time (a cold cache: nothing downloaded, compiled or
// stored before).
// - P1 first usable paint: navigation start → the first frame painted with the editor and the
//   Publish button in the page (typing works from then on). Also first contentful paint, and the
//   first publish (the starter module: esbuild-wasm downloaded and compiled, the engine started).
// - P2 publishing the chat module (examples/chat), the bundler warm: bundle + publish over a fresh
//   database (`Reset data`), as the page's `app.publish` does it; and bundling alone.
// - P3 typing while bundling: keystrokes typed into the editor while the chat module bundles; the
//   longest delay from a key's event to its handler, and the longest task on the main thread in
//   that window (bundling runs in a worker, so both stay small). The same while it publishes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { build } from 'vite';
import { CHROMIUM, CHROMIUM_ARGS } from '../../e2e/chromium.ts';
import { serveStatic } from '../../e2e/static-server.mjs';
import { type BrowserResult, log, rowsOf, type Samples } from './harness.ts';

interface Probe {
  usable?: number;
  longTasks: { start: number; duration: number }[];
  inputDelays: { at: number; delay: number }[];
}

/** Installed before the page's own scripts: records when the editor is usable, long tasks, input delays. */
function probe(): void {
  const p: Probe = { longTasks: [], inputDelays: [] };
  (globalThis as unknown as { __probe: Probe }).__probe = p;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) p.longTasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
  addEventListener('keydown', (e) => p.inputDelays.push({ at: performance.now(), delay: performance.now() - e.timeStamp }), true);
  const check = () => {
    if (document.querySelector('.cm-content') && document.getElementById('publish')) {
      // The frame after this one is the first that shows a usable editor.
      requestAnimationFrame(() => (p.usable = performance.now()));
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}

export async function runPlayground(opts: { quick: boolean }): Promise<BrowserResult[]> {
  const reps = opts.quick ? 3 : 5;
  const root = process.cwd();
  const outDir = mkdtempSync(join(tmpdir(), 'lightcone-bench-playground-'));
  log(`building the playground (npm run build:demo) into ${outDir}`);
  await build({ configFile: join(root, 'vite.config.ts'), base: './', mode: 'production', logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const server = await serveStatic({ dir: outDir, prefix: '/bench/playground/' });
  const chat = readFileSync(join(root, 'examples', 'chat', 'index.ts'), 'utf8');
  const samples = {
    usable: [] as number[],
    fcp: [] as number[],
    firstPublish: [] as number[],
    publishChat: [] as number[],
    bundleChat: [] as number[],
    inputDelay: [] as number[],
    longTask: [] as number[],
    publishInputDelay: [] as number[],
    idleInputDelay: [] as number[],
    idleLongTask: [] as number[],
    publishLongTask: [] as number[],
  };
  try {
    for (let r = 0; r < reps; r++) {
      const profile = mkdtempSync(join(tmpdir(), 'lightcone-bench-playground-profile-'));
      const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        await page.addInitScript(probe);
        page.on('pageerror', (e) => log(`playground page error: ${e.message}`));
        await page.goto(server.url);
        await page.waitForFunction(() => (globalThis as unknown as { __probe: Probe }).__probe.usable !== undefined);
        await page.waitForFunction(() => document.getElementById('message')?.textContent === 'Published: a new database.', undefined, { timeout: 180_000 });
        const first = await page.evaluate(() => ({
          usable: (globalThis as unknown as { __probe: Probe }).__probe.usable!,
          fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
          published: performance.now(),
        }));
        samples.usable.push(first.usable);
        samples.fcp.push(first.fcp);
        samples.firstPublish.push(first.published);
        await whileTyping(page, 'idle', ''); // warm-up: the editor's first keystrokes load what typing needs
        const idle = await whileTyping(page, 'idle', '');
        samples.idleInputDelay.push(idle.maxInputDelay);
        samples.idleLongTask.push(idle.longestTask);
        const bundled = await whileTyping(page, 'bundle', `${chat}\n// run ${r}\n`);
        samples.bundleChat.push(bundled.ms);
        samples.inputDelay.push(bundled.maxInputDelay);
        samples.longTask.push(bundled.longestTask);
        const published = await whileTyping(page, 'publish', `${chat}\n// publish ${r}\n`);
        samples.publishChat.push(published.ms);
        samples.publishInputDelay.push(published.maxInputDelay);
        samples.publishLongTask.push(published.longestTask);
        log(
          `playground rep ${r + 1}/${reps}: usable ${first.usable.toFixed(0)} ms, first publish ${first.published.toFixed(0)} ms, chat bundle ${bundled.ms.toFixed(0)} ms, chat publish ${published.ms.toFixed(0)} ms`,
        );
      } finally {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      }
    }
  } finally {
    await server.close();
    rmSync(outDir, { recursive: true, force: true });
  }
  const one = (key: string, xs: number[]): Samples => new Map([[key, xs]]);
  const cold = 'static build, fresh profile (cold cache)';
  return [
    ...rowsOf('P1 playground: first usable paint (editor and Publish painted)', 'ms', one('lightcone', samples.usable), { durability: { lightcone: cold } }),
    ...rowsOf('P1 playground: first contentful paint', 'ms', one('lightcone', samples.fcp), { durability: { lightcone: cold } }),
    ...rowsOf('P1 playground: first publish (starter; esbuild-wasm and engine cold)', 'ms', one('lightcone', samples.firstPublish), {
      durability: { lightcone: cold },
      notes: { lightcone: 'from navigation start: the page, esbuild-wasm downloaded and compiled, the engine worker and SQLite started, the starter bundled and published into IndexedDB' },
    }),
    ...rowsOf('P2 playground: publish the chat module (bundle + fresh database)', 'ms', one('lightcone', samples.publishChat), {
      durability: { lightcone: 'IndexedDB strict' },
      notes: { lightcone: 'app.publish({ reset: true }) with the bundler warm: bundling, deleting the old database, publishing over an empty one (init runs)' },
    }),
    ...rowsOf('P2 playground: bundle the chat module (esbuild-wasm in a worker, warm)', 'ms', one('lightcone', samples.bundleChat), { durability: { lightcone: '' } }),
    ...rowsOf(
      'P3 playground: typing while bundling, longest input delay',
      'ms',
      new Map([
        ['lightcone', samples.inputDelay],
        ['floor: the same typing, nothing else running', samples.idleInputDelay],
      ]),
      {
        floor: 'floor: the same typing, nothing else running',
        durability: { lightcone: '' },
        notes: { lightcone: 'keystrokes typed into the editor while the chat module bundles: the longest wait from a key event to its handler' },
      },
    ),
    ...rowsOf(
      'P3 playground: typing while bundling, longest main-thread task',
      'ms',
      new Map([
        ['lightcone', samples.longTask],
        ['floor: the same typing, nothing else running', samples.idleLongTask],
      ]),
      {
        floor: 'floor: the same typing, nothing else running',
        durability: { lightcone: '' },
        notes: { lightcone: 'longest task on the main thread while the chat module bundles (PerformanceObserver longtask: ≥ 50 ms; 0 when none)' },
      },
    ),
    ...rowsOf('P3 playground: typing while publishing (fresh database), longest input delay', 'ms', one('lightcone', samples.publishInputDelay), { durability: { lightcone: '' } }),
    ...rowsOf('P3 playground: typing while publishing (fresh database), longest main-thread task', 'ms', one('lightcone', samples.publishLongTask), {
      durability: { lightcone: '' },
      notes: { lightcone: 'the publish also re-renders the panels for the new schema and subscriptions on the main thread' },
    }),
  ].map((r) => ({ ...r, ratioToLightcone: null }));
}

/**
 * Bundles `source` (`bundle`), or publishes it over a fresh database (`publish`), while typing into
 * the editor; how long it took and what the page saw meanwhile.
 */
async function whileTyping(page: Page, what: 'bundle' | 'publish' | 'idle', source: string): Promise<{ ms: number; maxInputDelay: number; longestTask: number }> {
  await page.evaluate(
    ([w, src]) => {
      const g = globalThis as unknown as {
        playground: {
          editor: { setSource(s: string): void };
          publish(o: { reset: boolean }): Promise<{ ok: boolean }>;
          runtime: { bundler: { bundle(s: string): Promise<{ ok: boolean }> } };
        };
        __work: Promise<{ ok: boolean; ms: number; from: number; to: number }>;
        __done: (v: { ok: boolean }) => void;
        __probe: Probe;
      };
      if (w === 'publish') g.playground.editor.setSource(src!);
      g.__probe.inputDelays.length = 0;
      const from = performance.now();
      // 'idle': the same typing with nothing else going on (the floor), ended after the last key.
      const work =
        w === 'publish' ? g.playground.publish({ reset: true }) : w === 'bundle' ? g.playground.runtime.bundler.bundle(src!) : new Promise<{ ok: boolean }>((resolve) => (g.__done = resolve));
      g.__work = work.then((o) => ({ ok: o.ok, ms: performance.now() - from, from, to: performance.now() }));
    },
    [what, source],
  );
  await page.locator('.cm-content').click();
  await page.keyboard.press('Control+End');
  await page.keyboard.type('// typing meanwhile', { delay: 5 });
  if (what === 'idle') await page.evaluate(() => requestAnimationFrame(() => (globalThis as unknown as { __done: (v: { ok: boolean }) => void }).__done({ ok: true })));
  const result = await page.evaluate(async () => {
    const g = globalThis as unknown as { __work: Promise<{ ok: boolean; ms: number; from: number; to: number }>; __probe: Probe };
    const p = await g.__work;
    const inWindow = g.__probe.longTasks.filter((t) => t.start + t.duration >= p.from && t.start <= p.to);
    const typedDuring = g.__probe.inputDelays.filter((d) => d.at <= p.to);
    return { ok: p.ok, ms: p.ms, maxInputDelay: Math.max(0, ...typedDuring.map((d) => d.delay)), typedDuring: typedDuring.length, longestTask: Math.max(0, ...inWindow.map((t) => t.duration)) };
  });
  if (!result.ok) throw new Error(`the chat module did not ${what}`);
  if (result.typedDuring === 0) log(`playground: no keystroke landed while the ${what} ran (it finished first)`);
  return result;
}
