// The call ledger keeps the newest `capacity` ids, oldest evicted first; adding an id again makes
// it the newest; an id whose commit fails is forgotten; `save` lists the ids oldest first.
import { describe, expect, it } from 'vitest';
import { CallLedger } from './call-ledger.ts';

const ids = (l: CallLedger) => JSON.parse(new TextDecoder().decode(l.save())) as string[];

describe('CallLedger', () => {
  it('keeps the newest ids up to its capacity, evicting the oldest first', () => {
    const l = new CallLedger(3);
    for (const id of ['a', 'b', 'c', 'd']) l.add(id, Promise.resolve());
    expect(ids(l)).toEqual(['b', 'c', 'd']);
    expect(l.get('a')).toBeUndefined();
    l.add('b', Promise.resolve()); // again: now the newest
    l.add('e', Promise.resolve());
    expect(ids(l)).toEqual(['d', 'b', 'e']);
    for (let i = 0; i < 50; i++) l.add(`x${i}`, Promise.resolve());
    expect(ids(l)).toEqual(['x47', 'x48', 'x49']);
  });

  it('forgets an id whose commit never becomes durable, and only that one', async () => {
    const l = new CallLedger(3);
    const failed = Promise.reject(new Error('disk full'));
    l.add('a', Promise.resolve());
    l.add('b', failed);
    await failed.catch(() => {});
    expect(l.get('b')).toBeUndefined();
    expect(ids(l)).toEqual(['a']);
    for (const id of ['c', 'd', 'e']) l.add(id, Promise.resolve());
    expect(ids(l)).toEqual(['c', 'd', 'e']);
  });

  it('a saved ledger loads back in order', () => {
    const l = new CallLedger(3);
    for (const id of ['a', 'b', 'c']) l.add(id, Promise.resolve());
    const again = new CallLedger(3);
    again.load(l.save());
    expect(ids(again)).toEqual(['a', 'b', 'c']);
    expect(again.get('b')).toBeDefined();
  });
});
