// How the engine thread folds the updates of identical subscriptions into one message item.
import { describe, expect, it } from 'vitest';
import { type EngineOut, shareUpdates } from './thread-protocol.ts';

describe('shareUpdates', () => {
  it('folds neighbouring updates that carry the same object, and nothing else', () => {
    const a = [{ table: 't', inserts: [{ id: 1 }], deletes: [] }];
    const b = [{ table: 't', inserts: [{ id: 2 }], deletes: [] }];
    const items: EngineOut[] = [
      { id: 7, ok: true, value: undefined },
      { sub: 1, kind: 'update', payload: a },
      { sub: 2, kind: 'update', payload: a },
      { sub: 3, kind: 'update', payload: a },
      { sub: 4, kind: 'applied', payload: a },
      { sub: 5, kind: 'update', payload: a }, // the same object again, after another event: not folded
      { sub: 1, kind: 'update', payload: b },
      { sub: 2, kind: 'update', payload: b },
    ];
    expect(shareUpdates(items)).toEqual([
      { id: 7, ok: true, value: undefined },
      { subs: [1, 2, 3], kind: 'update', payload: a },
      { sub: 4, kind: 'applied', payload: a },
      { subs: [5], kind: 'update', payload: a },
      { subs: [1, 2], kind: 'update', payload: b },
    ]);
  });

  it('keeps each subscription its own update when the objects differ', () => {
    const items: EngineOut[] = [
      { sub: 1, kind: 'update', payload: [{ table: 't', inserts: [], deletes: [] }] },
      { sub: 2, kind: 'update', payload: [{ table: 't', inserts: [], deletes: [] }] },
    ];
    expect(shareUpdates(items).map((i) => ('subs' in i ? i.subs : []))).toEqual([[1], [2]]);
  });
});
