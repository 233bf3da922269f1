// How `connect()` sends calls: the calls made within one microtask travel together (`callMany`),
// in messages of at most MAX_BATCH calls.
import type { WireCall, WireSettled } from './protocol.ts';
import { deserializeError } from './wire.ts';

/** What the batcher sends through (the worker's `call` and `callMany`). */
export interface CallSender {
  call(name: string, fn: string, args: unknown, opts: WireCall['opts']): Promise<unknown>;
  callMany(name: string, calls: WireCall[]): Promise<WireSettled[]>;
}

interface Queued {
  call: WireCall;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * Calls per message at most. A message is answered as a whole, once every call in it is durable,
 * so one message of 64 calls holds the first call's answer until the last one's log write; in
 * messages of 16 the engine runs the next message while the one before waits for its write, and
 * answers come back in four groups (W2 in Chromium, one `--phases=w123` run of each: about
 * 6,000 calls/s against 5,300 with one message for all 64; docs/benchmarks.md).
 */
export const MAX_BATCH = 16;

/**
 * Sends the calls made within one microtask as few messages (`callMany`): with many calls in
 * flight, one postMessage per call costs more than the engine's work for it. A lone call goes as
 * a plain `call`. Each call still settles on its own, with its own error class.
 */
export class CallBatcher {
  readonly #name: string;
  readonly #remote: CallSender;
  #queue: Queued[] | undefined;

  constructor(name: string, remote: CallSender) {
    this.#name = name;
    this.#remote = remote;
  }

  call(call: WireCall): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (!this.#queue) {
        this.#queue = [];
        queueMicrotask(() => this.#flushAll());
      }
      this.#queue.push({ call, resolve, reject });
    });
  }

  #flushAll(): void {
    const all = this.#queue!;
    this.#queue = undefined;
    for (let i = 0; i < all.length; i += MAX_BATCH) this.#flush(all.slice(i, i + MAX_BATCH));
  }

  #flush(batch: Queued[]): void {
    if (batch.length === 1) {
      const only = batch[0]!;
      this.#remote.call(this.#name, only.call.fn, only.call.args, only.call.opts).then(only.resolve, only.reject);
      return;
    }
    this.#remote
      .callMany(
        this.#name,
        batch.map((b) => b.call),
      )
      .then(
        (results) => {
          for (const [i, r] of results.entries()) {
            if (r.ok) batch[i]!.resolve(r.value);
            else batch[i]!.reject(deserializeError(r.error));
          }
        },
        (error: unknown) => {
          for (const b of batch) b.reject(error);
        },
      );
  }
}
