// The one small RPC every benchmark worker speaks (peers and calibration alike): the page posts
// `{ id, method, args }`, the worker answers `{ id, ok, value | error }`. Values travel by
// structured clone, so every peer pays the same messaging cost as the others.

interface Request {
  id: number;
  method: string;
  args: unknown[];
}

type Response = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** Methods a worker serves: any async or sync function of cloneable arguments. */
export type Handlers = Record<string, (...args: never[]) => unknown>;

/** Where requests arrive and answers go: a dedicated worker's scope or a SharedWorker's port. */
interface Port {
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage(m: Response): void;
}

/** Serves `handlers` on the worker's global scope (dedicated worker) or on every port that connects (SharedWorker). */
export function serve(handlers: Handlers): void {
  const scope = self as unknown as Port & { onconnect?: ((e: MessageEvent) => void) | null };
  if ('onconnect' in scope) {
    scope.onconnect = (e: MessageEvent) => {
      const port = e.ports[0];
      if (port) listen(port as unknown as Port, handlers);
    };
  } else listen(scope, handlers);
}

function listen(scope: Port, handlers: Handlers): void {
  scope.onmessage = (e) => {
    const { id, method, args } = e.data;
    const f = handlers[method] as ((...a: unknown[]) => unknown) | undefined;
    const reply = (r: Response) => scope.postMessage(r);
    if (!f) {
      reply({ id, ok: false, error: `no method ${method}` });
      return;
    }
    let out: unknown;
    try {
      out = f(...args);
    } catch (error) {
      reply({ id, ok: false, error: describe(error) });
      return;
    }
    if (out instanceof Promise)
      out.then(
        (value: unknown) => reply({ id, ok: true, value }),
        (error: unknown) => reply({ id, ok: false, error: describe(error) }),
      );
    else reply({ id, ok: true, value: out });
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The page's end of the RPC: one pending map, calls may overlap (in flight concurrently). */
export class RpcClient {
  readonly #port: Worker | MessagePort;
  readonly #end: () => void;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  /** Over a dedicated worker, or a SharedWorker's port (`terminate` then closes the port). */
  constructor(worker: Worker | SharedWorker) {
    if (worker instanceof Worker) {
      this.#port = worker;
      this.#end = () => worker.terminate();
    } else {
      this.#port = worker.port;
      this.#end = () => worker.port.close();
    }
    worker.onerror = (e: Event) => {
      const error = new Error(`worker error: ${e instanceof ErrorEvent ? e.message : 'failed to start'}`);
      for (const p of this.#pending.values()) p.reject(error);
      this.#pending.clear();
    };
    this.#port.onmessage = (e: MessageEvent<Response>) => {
      const p = this.#pending.get(e.data.id);
      if (!p) return;
      this.#pending.delete(e.data.id);
      if (e.data.ok) p.resolve(e.data.value);
      else p.reject(new Error(e.data.error));
    };
  }

  call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#port.postMessage({ id, method, args } satisfies Request);
    });
  }

  terminate(): void {
    this.#end();
    const error = new Error('worker terminated');
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }
}
