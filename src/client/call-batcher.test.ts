// The page's call batching: calls made in one microtask travel in messages of at most MAX_BATCH
// calls, and each call settles on its own.
import { describe, expect, it } from 'vitest';
import { SenderError } from '../errors.ts';
import { CallBatcher, MAX_BATCH, type CallSender } from './call-batcher.ts';
import type { WireCall, WireSettled } from './protocol.ts';
import { serializeError } from './wire.ts';

/** A sender that records each message and answers every call with its argument, or fails it when the argument is 'fail'. */
function recorder(): CallSender & { messages: string[][] } {
  const messages: string[][] = [];
  const answer = (c: WireCall): WireSettled => (c.args === 'fail' ? { ok: false, error: serializeError(new SenderError('refused', {})) } : { ok: true, value: c.args });
  return {
    messages,
    call: async (_name, fn, args) => {
      messages.push([fn]);
      const r = answer({ fn, args, opts: {} });
      if (!r.ok) throw new SenderError('refused', {});
      return r.value;
    },
    callMany: async (_name, calls) => {
      messages.push(calls.map((c) => c.fn));
      return calls.map(answer);
    },
  };
}

describe('CallBatcher', () => {
  it('sends the calls of one microtask in messages of at most MAX_BATCH, in order', async () => {
    const r = recorder();
    const b = new CallBatcher('db', r);
    const n = 2 * MAX_BATCH + 3;
    const values = await Promise.all(Array.from({ length: n }, (_, i) => b.call({ fn: `f${i}`, args: i, opts: {} })));
    expect(values).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(r.messages.map((m) => m.length)).toEqual([MAX_BATCH, MAX_BATCH, 3]);
    expect(r.messages.flat()).toEqual(Array.from({ length: n }, (_, i) => `f${i}`));
  });

  it('a lone call goes as a plain call; calls of later microtasks go in messages of their own', async () => {
    const r = recorder();
    const b = new CallBatcher('db', r);
    await b.call({ fn: 'alone', args: 1, opts: {} });
    await Promise.all([b.call({ fn: 'a', args: 1, opts: {} }), b.call({ fn: 'b', args: 2, opts: {} })]);
    expect(r.messages).toEqual([['alone'], ['a', 'b']]);
  });

  it('each call of a message settles on its own, a failure with its own error class', async () => {
    const r = recorder();
    const b = new CallBatcher('db', r);
    const settled = await Promise.allSettled(['x', 'fail', 'y'].map((args) => b.call({ fn: 'f', args, opts: {} })));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).name))).toEqual(['x', 'SenderError', 'y']);
  });
});
