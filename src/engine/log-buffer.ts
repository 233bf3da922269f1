// The bounded per-database module log: a ring of the newest entries, saved as JSON lines.
import type { LogEntry } from '../host/host.ts';

export class LogBuffer {
  readonly #cap: number;
  #entries: LogEntry[] = [];

  constructor(capacity: number) {
    this.#cap = capacity;
  }

  push(e: LogEntry): void {
    this.#entries.push(e);
    if (this.#entries.length > this.#cap * 2) this.#entries = this.#entries.slice(-this.#cap);
  }

  /** The newest `limit` entries (default: all kept), oldest first. */
  entries(limit = this.#cap): LogEntry[] {
    const all = this.#entries.length > this.#cap ? this.#entries.slice(-this.#cap) : this.#entries;
    // slice(-0) would be the whole log: a limit of 0 is none of it.
    return limit > 0 ? all.slice(-limit).map((e) => ({ ...e })) : [];
  }

  save(): Uint8Array {
    return new TextEncoder().encode(
      this.entries()
        .map((e) => JSON.stringify(e))
        .join('\n'),
    );
  }

  /** Loads saved entries; unreadable lines are skipped (the log is advisory, never fatal). */
  load(bytes: Uint8Array): void {
    for (const line of new TextDecoder().decode(bytes).split('\n')) {
      if (!line) continue;
      try {
        const e = JSON.parse(line) as LogEntry;
        if (typeof e.ts === 'number' && typeof e.message === 'string') this.push(e);
      } catch {
        /* skip */
      }
    }
  }
}
