// A clock that moves only when a test says so: timers fire during `advance`, in due order, and
// `advance` waits for what each one started (a schedule row's call, until durable), so a test
// states "after 150 ms exactly one tick has run" without sleeping or trusting a loaded machine.
import type { Clock } from '../../src/engine/scheduler.ts';

interface Timer {
  at: bigint;
  seq: number;
  fn: () => unknown;
}

export class ManualClock implements Clock {
  #now: bigint;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();

  /** Starts at `startMicros` (default: the wall clock now, so times look ordinary). */
  constructor(startMicros: bigint = BigInt(Date.now()) * 1000n) {
    this.#now = startMicros;
  }

  nowMicros(): bigint {
    return this.#now;
  }

  setTimer(fn: () => unknown, ms: number): unknown {
    const seq = ++this.#seq;
    this.#timers.set(seq, { at: this.#now + BigInt(Math.max(0, Math.ceil(ms))) * 1000n, seq, fn });
    return seq;
  }

  clearTimer(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing each timer that falls due on the way at its own moment
   * (timers armed by those calls included) and awaiting what it returns.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + BigInt(ms) * 1000n;
    for (;;) {
      let next: Timer | undefined;
      for (const t of this.#timers.values()) if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      if (!next) break;
      this.#timers.delete(next.seq);
      if (next.at > this.#now) this.#now = next.at;
      await next.fn();
    }
    this.#now = target;
  }
}
