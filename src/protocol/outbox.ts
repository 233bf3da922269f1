// The ordered outgoing queue of one connection. A message that carries a transaction waits for
// its gate (the transaction being durable, under confirmed reads), and everything queued after it
// waits too, so the client sees messages in the order the server produced them. Messages that
// become ready together (one group commit makes many transactions durable at once) leave in one
// v3 frame. A gate that fails ends the connection: the client must not see a transaction that
// storage refused.

/** What the outbox needs from its connection. */
export interface OutboxSink {
  /** Sends messages that are ready, in order (the caller frames them). */
  flush(messages: Uint8Array[]): void;
  /** A gate failed: `error` is why its transaction is not durable. Nothing is sent after this. */
  failed(error: unknown): void;
}

interface Entry {
  /** A message, or (undefined) a callback to run once everything before it left. */
  readonly bytes: Uint8Array | undefined;
  readonly after: (() => void) | undefined;
  /** What to send instead when the gate fails (a caller's result must still settle). */
  readonly instead: ((error: unknown) => Uint8Array) | undefined;
  ready: boolean;
  error: unknown;
}

/** One connection's outgoing messages, in order, each behind its durability gate. */
export class Outbox {
  readonly #sink: OutboxSink;
  readonly #queue: Entry[] = [];
  #ready: Uint8Array[] = [];
  #scheduled = false;
  #closed = false;

  constructor(sink: OutboxSink) {
    this.#sink = sink;
  }

  /**
   * Queues one encoded message, to leave once `gate` (if any) resolved and all before it left.
   * If the gate fails, `instead` (when given) is sent in its place before the connection ends.
   */
  push(bytes: Uint8Array, gate?: Promise<void>, instead?: (error: unknown) => Uint8Array): void {
    if (this.#closed) return;
    const e: Entry = { bytes, after: undefined, instead, ready: gate === undefined, error: undefined };
    this.#queue.push(e);
    if (gate) {
      gate.then(
        () => {
          e.ready = true;
          this.#pump();
        },
        (err: unknown) => {
          e.error = err ?? new Error('the transaction could not be made durable');
          this.#pump();
        },
      );
    } else {
      this.#pump();
    }
  }

  /** Runs `f` once everything queued so far has been handed to `flush` (not if the outbox closes first). */
  afterQueued(f: () => void): void {
    if (this.#closed) return;
    this.#queue.push({ bytes: undefined, after: f, instead: undefined, ready: true, error: undefined });
    this.#pump();
  }

  /** Drops everything queued; later pushes are ignored. */
  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    this.#ready = [];
  }

  #pump(): void {
    const q = this.#queue;
    while (!this.#closed && q.length > 0) {
      const head = q[0]!;
      if (head.error !== undefined) {
        // What was durable before the failed transaction still goes out, then the connection ends.
        if (head.instead) this.#ready.push(head.instead(head.error));
        this.#flushNow();
        this.close();
        this.#sink.failed(head.error);
        return;
      }
      if (!head.ready) break;
      q.shift();
      if (head.bytes) {
        this.#ready.push(head.bytes);
      } else {
        this.#flushNow();
        head.after!();
      }
    }
    if (this.#closed || this.#ready.length === 0 || this.#scheduled) return;
    this.#scheduled = true;
    // Whatever else becomes ready in this turn leaves in the same frame.
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#flushNow();
    });
  }

  #flushNow(): void {
    if (this.#closed || this.#ready.length === 0) return;
    const out = this.#ready;
    this.#ready = [];
    this.#sink.flush(out);
  }
}
