// The page's side of the type checker (typescript.worker.ts): a TypeScript language service in its
// own worker, started only when asked (the app asks once the page is up and idle, or at the first
// edit), so the first paint never waits for it. Until it is ready (or if it fails to load) every
// question resolves with `undefined` at once and the editor uses what it had before: esbuild's
// errors and the schema-aware completion. Nothing here ever blocks typing.

/** A TypeScript diagnostic in the module: `from`/`to` are offsets in its text (UTF-16 units). */
export interface TypeDiagnostic {
  from: number;
  to: number;
  severity: 'error' | 'warning' | 'info';
  message: string;
  code: number;
  /** A syntax error (esbuild reports those too). */
  syntactic: boolean;
}

/** A completion from the language service; `detail` is the type (for the first entries). */
export interface TypeCompletion {
  label: string;
  kind: string;
  boost: number;
  detail?: string;
  info?: string;
}

export interface QuickInfo {
  from: number;
  to: number;
  text: string;
}

export type TypeRequest =
  | { id: number; kind: 'open'; source: string }
  | { id: number; kind: 'diagnostics'; source: string }
  | { id: number; kind: 'completions'; source: string; pos: number }
  | { id: number; kind: 'quickInfo'; source: string; pos: number };

export type TypeReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export type TypeServiceState = { state: 'off' } | { state: 'loading' } | { state: 'ready'; version: string } | { state: 'failed'; reason: string };

type Question = { kind: 'open'; source: string } | { kind: 'diagnostics'; source: string } | { kind: 'completions'; source: string; pos: number } | { kind: 'quickInfo'; source: string; pos: number };

export class TypeService {
  #worker: Worker | undefined;
  #seq = 0;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (e: Error) => void }>();
  #state: TypeServiceState = { state: 'off' };
  readonly #listeners = new Set<(state: TypeServiceState) => void>();

  get state(): TypeServiceState {
    return this.#state;
  }

  /** Calls `listener` with every change of state (and now, with the current one). */
  onState(listener: (state: TypeServiceState) => void): void {
    this.#listeners.add(listener);
    listener(this.#state);
  }

  #set(state: TypeServiceState): void {
    this.#state = state;
    for (const l of this.#listeners) l(state);
  }

  /** Starts the worker (once): TypeScript and the declaration files download and the program is built from `source`. */
  start(source: string): void {
    if (this.#worker || this.#state.state === 'failed') return;
    this.#set({ state: 'loading' });
    let worker: Worker;
    try {
      worker = new Worker(new URL('./typescript.worker.ts', import.meta.url), { type: 'module', name: 'lightcone-playground-typescript' });
    } catch (e) {
      this.#set({ state: 'failed', reason: (e as Error)?.message ?? String(e) });
      return;
    }
    worker.onmessage = (event: MessageEvent<TypeReply>) => {
      const reply = event.data;
      const pending = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (!pending) return;
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(new Error(reply.error));
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(event.message || 'the worker did not load');
    };
    this.#worker = worker;
    this.#ask({ kind: 'open', source }).then(
      (result) => this.#set({ state: 'ready', version: (result as { version: string }).version }),
      (e: Error) => this.#fail(e.message),
    );
  }

  #fail(reason: string): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const p of this.#pending.values()) p.reject(new Error(reason));
    this.#pending.clear();
    this.#set({ state: 'failed', reason });
  }

  #ask(question: Question): Promise<unknown> {
    const worker = this.#worker;
    if (!worker) return Promise.reject(new Error('the type checker is not running'));
    const id = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...question } as TypeRequest);
    });
  }

  /** Asks when ready; `undefined` when not (yet), or when the question failed. */
  #query<T>(question: Question): Promise<T | undefined> {
    if (this.#state.state !== 'ready') return Promise.resolve(undefined);
    return this.#ask(question).then(
      (r) => r as T,
      () => undefined,
    );
  }

  diagnostics(source: string): Promise<TypeDiagnostic[] | undefined> {
    return this.#query({ kind: 'diagnostics', source });
  }

  completions(source: string, pos: number): Promise<TypeCompletion[] | null | undefined> {
    return this.#query({ kind: 'completions', source, pos });
  }

  quickInfo(source: string, pos: number): Promise<QuickInfo | null | undefined> {
    return this.#query({ kind: 'quickInfo', source, pos });
  }
}
