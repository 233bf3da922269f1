// Web Locks stood in for in Node tests of the workers' routing (the real ones are e2e's job).

/** Exclusive locks by name, granted in request order; `ifAvailable` gets null when held. */
export class Locks {
  readonly requested: string[] = [];
  readonly #queues = new Map<string, (() => void)[]>();

  request(name: string, ...rest: unknown[]): Promise<unknown> {
    const cb = rest.at(-1) as (lock: { name: string } | null) => unknown;
    const opts = (rest.length > 1 ? rest[0] : {}) as { ifAvailable?: boolean };
    this.requested.push(name);
    const queue = this.#queues.get(name) ?? [];
    this.#queues.set(name, queue);
    if (opts.ifAvailable && queue.length > 0) return Promise.resolve(cb(null));
    return new Promise((resolve, reject) => {
      const grant = () => {
        Promise.resolve(cb({ name }))
          .then(resolve, reject)
          .finally(() => {
            queue.shift();
            queue[0]?.();
          });
      };
      queue.push(grant);
      if (queue.length === 1) grant();
    });
  }
}
