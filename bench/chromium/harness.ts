// Helpers of the Chromium run (run.ts): a static server for the built page, calling the page's
// bench API, shuffled repetitions, rows with medians and ratios, and a worker's JS heap through
// the DevTools protocol.
import { createServer, type Server } from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { CDPSession, Page } from '@playwright/test';
import type { Result } from '../node/measure.ts';
import type { BenchPage } from './page.ts';

/** One row of the results: a Result plus the durability level it was measured at. */
export interface BrowserResult extends Result {
  durability: string;
  /** What the figure means when the unit alone does not say it (how measured, caveats). */
  note?: string;
}

/** Samples per system. */
export type Samples = Map<string, number[]>;

/** Median of the samples. */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** A shuffled copy (Fisher–Yates). */
export const shuffle = <T>(xs: T[]): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
};
/** Progress on stderr (the table goes to stdout). */
export const log = (msg: string) => process.stderr.write(`[bench:chromium] ${msg}\n`);

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.data': 'application/octet-stream',
  '.gz': 'application/gzip',
  '.json': 'application/json',
};

/** A static file server for the built page on 127.0.0.1 (a fixed origin for the whole run). */
export async function serve(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(root, path);
    try {
      if (statSync(file).isDirectory()) file = join(file, 'index.html');
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-cache' });
      res.end(body);
    } catch {
      // Missing or unreadable: the page's failed load reports it.
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no server address');
  return { server, url: `http://127.0.0.1:${address.port}/` };
}

/** The page's bench API, called from Node. */
type Api = BenchPage;
export function call<K extends keyof Api>(page: Page, name: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<Api[K]>>> {
  return page.evaluate(([n, a]) => (globalThis as unknown as { bench: Record<string, (...x: unknown[]) => unknown> }).bench[n]!(...a), [name, args] as [string, unknown[]]) as Promise<
    Awaited<ReturnType<Api[K]>>
  >;
}

/** Runs every system `reps[system]` times in shuffled rounds (a system with fewer repetitions drops out of later rounds). */
export async function rounds(reps: number, systems: Record<string, { run: () => Promise<number>; reps?: number }>): Promise<Samples> {
  const samples: Samples = new Map(Object.keys(systems).map((n) => [n, []]));
  for (let r = 0; r < reps; r++) {
    for (const n of shuffle(Object.keys(systems))) {
      const s = systems[n]!;
      if (r < (s.reps ?? reps)) samples.get(n)!.push(await s.run());
    }
  }
  return samples;
}

/** Rows for one workload from its samples; `floor` is a value in the same unit (or a system name). */
export function rowsOf(workload: string, unit: string, samples: Samples, opts: { floor?: number | string; durability: Record<string, string>; notes?: Record<string, string> }): BrowserResult[] {
  const floor = typeof opts.floor === 'string' ? median(samples.get(opts.floor) ?? []) : opts.floor;
  const lc = samples.get('lightcone');
  const ours = lc?.length ? median(lc) : undefined;
  const out: BrowserResult[] = [];
  for (const [system, xs] of samples) {
    if (!xs.length) continue;
    const med = median(xs);
    const note = opts.notes?.[system];
    out.push({
      workload,
      system,
      unit,
      median: med,
      min: Math.min(...xs),
      max: Math.max(...xs),
      runs: xs.length,
      ratioToFloor: floor ? med / floor : null,
      ratioToLightcone: ours ? med / ours : null,
      durability: opts.durability[system] ?? '',
      ...(note ? { note } : {}),
    });
  }
  return out;
}

/** JS heap (after a forced GC) and WASM linear memory of one worker, through the DevTools protocol. */
export class WorkerMemory {
  readonly #cdp: CDPSession;
  #id = 0;
  readonly #pending = new Map<number, (m: { result?: Record<string, unknown>; error?: { message: string } }) => void>();

  private constructor(cdp: CDPSession) {
    this.#cdp = cdp;
    cdp.on('Target.receivedMessageFromTarget', (e: { message: string }) => {
      const m = JSON.parse(e.message) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      if (m.id !== undefined) this.#pending.get(m.id)?.(m);
    });
  }

  static async open(page: Page): Promise<WorkerMemory> {
    return new WorkerMemory(await page.context().newCDPSession(page));
  }

  /** The worker target whose type is `type` and whose URL contains `urlPart` (exactly one). */
  async #target(type: string, urlPart: string): Promise<string> {
    const { targetInfos } = (await this.#cdp.send('Target.getTargets')) as { targetInfos: { targetId: string; type: string; url: string }[] };
    const found = targetInfos.filter((t) => t.type === type && t.url.includes(urlPart));
    if (found.length !== 1) throw new Error(`expected one ${type} target with ${urlPart}, found ${found.length}`);
    return found[0]!.targetId;
  }

  /**
   * Bytes of V8 heap used + ArrayBuffer backing stores of one worker, after forced GCs. (WASM
   * linear memory is not in these figures; the workers report it themselves. `Runtime.queryObjects`
   * over WebAssembly.Memory would find it, but crashes a worker running sqlite-wasm in Chromium 156.)
   */
  async jsHeap(type: 'worker' | 'shared_worker', urlPart: string): Promise<number> {
    const { send, detach } = await this.#attach(type, urlPart);
    try {
      await send('HeapProfiler.collectGarbage');
      await send('HeapProfiler.collectGarbage');
      const heap = (await send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number };
      return heap.usedSize + (heap.backingStorageSize ?? 0);
    } finally {
      await detach();
    }
  }

  /**
   * Starts V8's sampling profiler in one worker; the returned function stops it and resolves with
   * the profile (a `.cpuprofile`, which Chrome's DevTools and speedscope open).
   */
  async cpuProfile(type: 'worker' | 'shared_worker', urlPart: string): Promise<() => Promise<unknown>> {
    const { send, detach } = await this.#attach(type, urlPart);
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 100 });
    await send('Profiler.start');
    return async () => {
      try {
        return ((await send('Profiler.stop')) as { profile: unknown }).profile;
      } finally {
        await detach();
      }
    };
  }

  /** As `cpuProfile`, for the page itself. */
  async pageCpuProfile(): Promise<() => Promise<unknown>> {
    await this.#cdp.send('Profiler.enable');
    await this.#cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await this.#cdp.send('Profiler.start');
    return async () => ((await this.#cdp.send('Profiler.stop')) as { profile: unknown }).profile;
  }

  async #attach(type: 'worker' | 'shared_worker', urlPart: string) {
    const targetId = await this.#target(type, urlPart);
    const { sessionId } = (await this.#cdp.send('Target.attachToTarget', { targetId, flatten: false })) as { sessionId: string };
    const send = (method: string, params: Record<string, unknown> = {}) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const id = ++this.#id;
        this.#pending.set(id, (m) => {
          this.#pending.delete(id);
          if (m.error) reject(new Error(`${method}: ${m.error.message}`));
          else resolve(m.result ?? {});
        });
        void this.#cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
      });
    // The worker may be gone by then; what was asked of it is answered.
    const detach = () =>
      this.#cdp.send('Target.detachFromTarget', { sessionId }).then(
        () => {},
        () => {},
      );
    return { send, detach };
  }

  async close(): Promise<void> {
    await this.#cdp.detach().catch(() => {}); // the browser may be gone already: nothing left to detach from
  }
}
