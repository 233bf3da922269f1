// InsertLog keeps a transaction's inserted rows as a Map<rid, row> would (insertion order, a rid
// that returns after a delete goes to the end) while storing them in shared chunks.
import { describe, expect, it } from 'vitest';
import { compactBytes } from './bytes.ts';
import { InsertLog } from './insert-log.ts';

const row = (seed: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i) & 0xff);

describe('InsertLog', () => {
  it('keeps rows in order across chunks, copied from the caller’s reused buffer', () => {
    const log = new InsertLog();
    const model = new Map<number, Uint8Array>();
    const buf = new Uint8Array(200_000); // one reused input buffer, as the module runtime passes rows
    // Small rows, empty rows, rows over 64 bytes, and rows larger than a chunk.
    const sizes = [0, 1, 40, 64, 65, 1000, 70_000, 0, 30, 150_000, 5];
    for (let i = 0; i < 300; i++) {
      const r = row(i, sizes[i % sizes.length]!);
      buf.set(r);
      log.add(i, buf.subarray(0, r.length));
      buf.fill(0xee, 0, r.length); // the caller reuses its buffer
      model.set(i, r);
    }
    expect(log.size).toBe(300);
    const same = (a: Uint8Array[], b: Uint8Array[]) => a.length === b.length && a.every((x, i) => Buffer.from(x).equals(b[i]!));
    expect(same(log.rows(), [...model.values()])).toBe(true);
  });

  it('deletes by rid, and a rid added again after its delete goes to the end, as in a Map', () => {
    const log = new InsertLog();
    const model = new Map<number | bigint, Uint8Array>();
    const add = (rid: number | bigint, r: Uint8Array) => {
      log.add(rid, r);
      model.set(rid, r);
    };
    const del = (rid: number | bigint) => {
      expect(log.delete(rid)).toBe(model.delete(rid));
    };
    for (let i = 0; i < 10; i++) add(i, row(i, 8));
    add(2n ** 60n, row(99, 3));
    expect(log.rows()).toEqual([...model.values()]);
    del(3);
    del(3);
    del(42);
    add(3, row(300, 4)); // the rid comes back (SQLite may reuse a deleted rowid)
    del(0);
    del(2n ** 60n);
    add(11, row(11, 0));
    expect(log.size).toBe(model.size);
    expect(log.rows()).toEqual([...model.values()]);
  });

  it('builds its rid index only when asked, from the rows added before', () => {
    const log = new InsertLog();
    for (let i = 0; i < 100; i++) log.add(i, row(i, 10));
    expect(log.delete(50)).toBe(true);
    log.add(100, row(100, 10));
    expect(log.delete(100)).toBe(true);
    expect(log.delete(99)).toBe(true);
    expect(log.rows()).toHaveLength(98);
    expect(log.rows()[49]).toEqual(row(49, 10));
    expect(log.rows()[50]).toEqual(row(51, 10));
  });
});

describe('compactBytes', () => {
  it('copies a view into a larger buffer (a row of a shared chunk), and keeps an array that is its whole buffer', () => {
    const log = new InsertLog();
    for (let i = 0; i < 3; i++) log.add(i, row(i, 20));
    const [, middle] = log.rows();
    expect(middle!.buffer.byteLength).toBeGreaterThan(20);
    const own = compactBytes(middle!);
    expect(own).toEqual(middle);
    expect(own.buffer.byteLength).toBe(20);
    expect(compactBytes(own)).toBe(own);
  });
});
