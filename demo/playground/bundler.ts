// The page's side of the bundler worker (bundler.worker.ts): `bundle(source)` resolves with the
// bundle `connect({ module })` takes, or with esbuild's errors at their line and column. The
// worker starts on first use, so esbuild-wasm loads after the page is up; typing never waits on it.

/** A position-carrying message from esbuild. `line` is 1-based, `column` 0-based (UTF-16 units). */
export interface Diagnostic {
  text: string;
  line?: number;
  column?: number;
  length?: number;
  severity: 'error' | 'warning';
}

/** What `connect({ module })` and `db.publish(module)` take. */
export interface BundleResult {
  code: string;
  entry: string;
  hash: string;
}

export type BundleReply = { ok: true; bundle: BundleResult; warnings: Diagnostic[] } | { ok: false; diagnostics: Diagnostic[] };
export interface BundleRequest {
  id: number;
  source: string;
}

export class Bundler {
  #worker: Worker | undefined;
  #seq = 0;
  readonly #pending = new Map<number, (reply: BundleReply) => void>();
  /** The last source bundled and its answer: publishing what was just linted does not bundle twice. */
  #last: { source: string; reply: Promise<BundleReply> } | undefined;

  /** Starts the worker (and esbuild-wasm's download) ahead of the first bundle. */
  warm(): void {
    this.#start();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('./bundler.worker.ts', import.meta.url), { type: 'module', name: 'lightcone-playground-bundler' });
    worker.onmessage = (event: MessageEvent<BundleReply & { id: number }>) => {
      const { id, ...reply } = event.data;
      this.#pending.get(id)?.(reply as BundleReply);
      this.#pending.delete(id);
    };
    worker.onerror = (event) => {
      const text = `the bundler worker failed${event.message ? `: ${event.message}` : ''}`;
      for (const resolve of this.#pending.values()) resolve({ ok: false, diagnostics: [{ text, severity: 'error' }] });
      this.#pending.clear();
      this.#worker = undefined;
      this.#last = undefined;
    };
    this.#worker = worker;
    return worker;
  }

  bundle(source: string): Promise<BundleReply> {
    if (this.#last?.source === source) return this.#last.reply;
    const worker = this.#start();
    const id = ++this.#seq;
    const reply = new Promise<BundleReply>((resolve) => this.#pending.set(id, resolve));
    worker.postMessage({ id, source } satisfies BundleRequest);
    this.#last = { source, reply };
    return reply;
  }
}
