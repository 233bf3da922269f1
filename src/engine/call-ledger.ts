// Idempotent call ids: which reducer calls committed, so that a retry of one (after the worker or
// the leader tab went away mid-call) is answered without running it twice. An id becomes durable
// with its call's own commit-log record (`TxInfo.callId`); a snapshot carries the ids of the log
// prefix it replaces (meta `calls`). Bounded: the newest `capacity` ids are kept.

/** The ids of recently committed calls, each with the promise of its durability. */
export class CallLedger {
  readonly #capacity: number;
  readonly #ids = new Map<string, { durable: Promise<void>; seq: number }>();
  /**
   * Ids oldest first (with the `seq` they were added with; a re-added or forgotten id leaves a
   * stale entry that eviction skips). Evicting through the Map's own iterator would scan the
   * holes that deletions leave at its front, on every call once the ledger is full.
   */
  #order: { id: string; seq: number }[] = [];
  #head = 0;
  #seq = 0;

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  /** The durability of the committed call `id`, or undefined when no such call committed. */
  get(id: string): Promise<void> | undefined {
    return this.#ids.get(id)?.durable;
  }

  /** Records that call `id` committed; forgets it again if its commit never becomes durable. */
  add(id: string, durable: Promise<void>): void {
    const seq = ++this.#seq;
    this.#ids.delete(id);
    this.#ids.set(id, { durable, seq });
    this.#order.push({ id, seq });
    durable.catch(() => {
      if (this.#ids.get(id)?.durable === durable) this.#ids.delete(id);
    });
    while (this.#ids.size > this.#capacity && this.#head < this.#order.length) {
      const oldest = this.#order[this.#head++]!;
      if (this.#ids.get(oldest.id)?.seq === oldest.seq) this.#ids.delete(oldest.id);
    }
    if (this.#head > this.#capacity) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The ids as a meta blob (JSON array, oldest first). */
  save(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.#ids.keys()]));
  }

  /** Adds the ids of a saved blob (all durable); an unreadable blob is ignored. */
  load(bytes: Uint8Array | undefined): void {
    if (!bytes) return;
    try {
      const ids: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'string') this.add(id, Promise.resolve());
    } catch {
      // A lost ledger only weakens retries of calls made before the snapshot; never fatal.
    }
  }
}
