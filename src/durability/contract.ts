// The one contract every durability backend passes: each backend's test file calls
// `durabilityContract` with a fixture factory. Backend-specific behaviour (torn tails, locks
// across processes, quota errors) is tested next to the backend, not here.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedError, StorageError, UsageError } from '../errors.ts';
import type { Durability, Recovered } from './durability.ts';

/** Storage for one test. */
export interface DurabilityFixture {
  /** A new, unopened instance over this fixture's storage: every call sees the same storage. */
  instance(): Durability;
  /** Makes the next log write fail; required when `ContractOptions.failureCode` is set. */
  failNextWrite?: () => void;
  /** Removes the storage after the test. */
  cleanup?: () => Promise<void>;
}

/** What the backend under test promises beyond the common contract. */
export interface ContractOptions {
  /** A second instance is refused with DATABASE_IN_USE while one has the storage open. */
  exclusive: boolean;
  /** The fixture can fail a log write on purpose, and the append then rejects with this code. */
  failureCode?: string;
}

/**
 * Registers the contract's tests for one backend.
 *
 * @example
 * ```ts
 * durabilityContract('memory', { exclusive: true }, () => {
 *   const store = new MemoryStore();
 *   return { instance: () => memoryDurability(store) };
 * });
 * ```
 */
export function durabilityContract(name: string, options: ContractOptions, makeFixture: () => DurabilityFixture | Promise<DurabilityFixture>): void {
  describe(`durability contract: ${name}`, () => {
    let fx: DurabilityFixture;
    const instances: Durability[] = [];

    const make = (): Durability => {
      const d = fx.instance();
      instances.push(d);
      return d;
    };
    const openNew = async (): Promise<{ d: Durability; r: Recovered }> => {
      const d = make();
      return { d, r: await d.open() };
    };
    const reopen = async (d: Durability): Promise<{ d: Durability; r: Recovered }> => {
      await d.close();
      return openNew();
    };

    beforeEach(async () => {
      fx = await makeFixture();
    });
    afterEach(async () => {
      // Teardown only: a test that broke its instance on purpose has already asserted how.
      for (const d of instances.splice(0)) await d.close().catch(() => {});
      await fx.cleanup?.();
    });

    it('opens a new database empty', async () => {
      const { r } = await openNew();
      expect(r).toEqual({ snapshot: undefined, records: [], nextLsn: 1n, truncatedTail: false });
    });

    it('assigns ascending lsns at call time and recovers the records after reopen', async () => {
      const { d } = await openNew();
      const big = pattern(256 * 1024, 7);
      const a = d.append(bytes('a'));
      const b = d.append(new Uint8Array(0));
      expect([a.lsn, b.lsn]).toEqual([1n, 2n]);
      await a.durable;
      const c = d.append(big);
      expect(c.lsn).toBe(3n);
      await Promise.all([b.durable, c.durable]);
      const { r } = await reopen(d);
      expect(r.records.map((x) => x.lsn)).toEqual([1n, 2n, 3n]);
      expect(text(r.records[0]!.payload)).toBe('a');
      expect(r.records[1]!.payload.length).toBe(0);
      expect(equalBytes(r.records[2]!.payload, big)).toBe(true);
      expect(r.nextLsn).toBe(4n);
      expect(r.truncatedTail).toBe(false);
    });

    it('keeps call order across ticks and batches', async () => {
      const { d } = await openNew();
      const waits: Promise<void>[] = [];
      for (let i = 0; i < 60; i++) {
        waits.push(d.append(bytes(`r${i}`)).durable);
        if (i % 7 === 3) await Promise.resolve();
        if (i % 13 === 5) await new Promise((res) => setTimeout(res, 0));
      }
      await Promise.all(waits);
      const { r } = await reopen(d);
      expect(r.records.map((x) => text(x.payload))).toEqual(Array.from({ length: 60 }, (_, i) => `r${i}`));
      expect(r.records.map((x) => x.lsn)).toEqual(Array.from({ length: 60 }, (_, i) => BigInt(i + 1)));
    });

    it('group commit: appends made in one tick go out in one storage write', async () => {
      const { d } = await openNew();
      const before = d.stats();
      await Promise.all(Array.from({ length: 100 }, (_, i) => d.append(bytes(`g${i}`)).durable));
      const after = d.stats();
      expect(after.records - before.records).toBe(100);
      expect(after.writes - before.writes).toBe(1);
    });

    it('flush waits for everything appended so far', async () => {
      const { d } = await openNew();
      await d.flush(); // nothing pending
      let settled = 0;
      for (let i = 0; i < 10; i++) void d.append(bytes(`f${i}`)).durable.then(() => settled++);
      await d.flush();
      await Promise.resolve();
      expect(settled).toBe(10);
      expect(d.stats().records).toBe(10);
    });

    it('writeSnapshot stores the image, drops the records it covers, and the suffix is recovered', async () => {
      const { d } = await openNew();
      for (let i = 1; i <= 5; i++) await d.append(bytes(`s${i}`)).durable;
      await d.writeSnapshot({ lsn: 3n, image: bytes('image@3') });
      await Promise.all([d.append(bytes('s6')).durable, d.append(bytes('s7')).durable]);

      const first = await reopen(d);
      expect(first.r.snapshot?.lsn).toBe(3n);
      expect(text(first.r.snapshot!.image)).toBe('image@3');
      expect(first.r.records.map((x) => [x.lsn, text(x.payload)])).toEqual([
        [4n, 's4'],
        [5n, 's5'],
        [6n, 's6'],
        [7n, 's7'],
      ]);
      expect(first.r.nextLsn).toBe(8n);

      await first.d.writeSnapshot({ lsn: 7n, image: bytes('image@7') });
      const { lsn } = first.d.append(bytes('s8'));
      expect(lsn).toBe(8n);
      const second = await reopen(first.d);
      expect(second.r.snapshot?.lsn).toBe(7n);
      expect(text(second.r.snapshot!.image)).toBe('image@7');
      expect(second.r.records.map((x) => [x.lsn, text(x.payload)])).toEqual([[8n, 's8']]);
      expect(second.r.nextLsn).toBe(9n);
    });

    it('a snapshot of the whole log leaves an empty log that appends continue after', async () => {
      const { d } = await openNew();
      for (let i = 1; i <= 3; i++) void d.append(bytes(`w${i}`));
      // Not awaited: writeSnapshot waits for the appends made before it.
      await d.writeSnapshot({ lsn: 3n, image: bytes('all') });
      const { r, d: d2 } = await reopen(d);
      expect(r.snapshot?.lsn).toBe(3n);
      expect(r.records).toEqual([]);
      expect(r.nextLsn).toBe(4n);
      expect(d2.append(bytes('w4')).lsn).toBe(4n);
      await d2.flush();
      const again = await reopen(d2);
      expect(again.r.records.map((x) => x.lsn)).toEqual([4n]);
    });

    it('writeSnapshot refuses an lsn never appended, or older than the stored snapshot', async () => {
      const { d } = await openNew();
      await d.append(bytes('x')).durable;
      await d.append(bytes('y')).durable;
      await expect(d.writeSnapshot({ lsn: 3n, image: bytes('') })).rejects.toBeInstanceOf(UsageError);
      await d.writeSnapshot({ lsn: 2n, image: bytes('two') });
      await expect(d.writeSnapshot({ lsn: 1n, image: bytes('one') })).rejects.toMatchObject({ code: 'STALE_SNAPSHOT' });
      const { r } = await reopen(d);
      expect(text(r.snapshot!.image)).toBe('two');
    });

    it('meta blobs: missing, put, overwrite, distinct keys, survive reopen', async () => {
      const { d } = await openNew();
      expect(await d.getMeta('module')).toBeUndefined();
      await d.putMeta('module', bytes('v1'));
      await d.putMeta('module', bytes('v2'));
      const keys = ['Owner', 'owner', 'a/b', '..', 'ünï code', 'x'.repeat(200)];
      await Promise.all(keys.map((k) => d.putMeta(k, bytes(`value of ${k}`))));
      await d.putMeta('empty', new Uint8Array(0));
      const got = await d.getMeta('module');
      got![0] = 0; // callers may mutate what they get
      const { d: d2 } = await reopen(d);
      expect(text((await d2.getMeta('module'))!)).toBe('v2');
      for (const k of keys) expect(text((await d2.getMeta(k))!)).toBe(`value of ${k}`);
      expect((await d2.getMeta('empty'))?.length).toBe(0);
      expect(await d2.getMeta('absent')).toBeUndefined();
      await expect(d2.putMeta('', bytes('x'))).rejects.toBeInstanceOf(UsageError);
    });

    it('close settles pending appends, and the next instance sees them', async () => {
      const { d } = await openNew();
      const pending = [d.append(bytes('p1')).durable, d.append(bytes('p2')).durable];
      await d.close();
      await expect(Promise.all(pending)).resolves.toBeDefined();
      const { r } = await openNew();
      expect(r.records.map((x) => text(x.payload))).toEqual(['p1', 'p2']);
    });

    it('close waits for a snapshot and meta writes in progress; appends during close are refused', async () => {
      const { d } = await openNew();
      void d.append(bytes('a'));
      const snapshot = d.writeSnapshot({ lsn: 1n, image: bytes('img') });
      const meta = d.putMeta('k', bytes('v'));
      const closing = d.close();
      expect(() => d.append(bytes('x'))).toThrow(ClosedError);
      await Promise.all([snapshot, meta, closing]);
      const { r, d: d2 } = await openNew();
      expect(r.snapshot?.lsn).toBe(1n);
      expect(text((await d2.getMeta('k'))!)).toBe('v');
    });

    it('a closed instance rejects every call with ClosedError', async () => {
      const { d } = await openNew();
      await d.close();
      expect(() => d.append(bytes('late'))).toThrow(ClosedError);
      await expect(d.flush()).rejects.toBeInstanceOf(ClosedError);
      await expect(d.writeSnapshot({ lsn: 0n, image: bytes('') })).rejects.toBeInstanceOf(ClosedError);
      await expect(d.getMeta('k')).rejects.toBeInstanceOf(ClosedError);
      await expect(d.putMeta('k', bytes('v'))).rejects.toBeInstanceOf(ClosedError);
      await expect(d.open()).rejects.toBeInstanceOf(ClosedError);
      await expect(d.destroy()).rejects.toBeInstanceOf(ClosedError);
      await expect(d.close()).resolves.toBeUndefined();
    });

    it('calls before open() are refused; open() while opening is shared, after it refused', async () => {
      const d = make();
      expect(() => d.append(bytes('early'))).toThrow(UsageError);
      await expect(d.flush()).rejects.toMatchObject({ code: 'NOT_OPEN' });
      const [r1, r2] = await Promise.all([d.open(), d.open()]);
      expect(r1).toBe(r2);
      await expect(d.open()).rejects.toMatchObject({ code: 'ALREADY_OPEN' });
    });

    it('destroy on an open instance removes everything', async () => {
      const { d } = await openNew();
      await d.append(bytes('a')).durable;
      await d.writeSnapshot({ lsn: 1n, image: bytes('img') });
      await d.append(bytes('b')).durable;
      await d.putMeta('module', bytes('m'));
      await d.destroy();
      expect(() => d.append(bytes('c'))).toThrow(ClosedError);
      const { r, d: d2 } = await openNew();
      expect(r).toEqual({ snapshot: undefined, records: [], nextLsn: 1n, truncatedTail: false });
      expect(await d2.getMeta('module')).toBeUndefined();
    });

    it('destroy on an instance never opened removes everything', async () => {
      const { d } = await openNew();
      await d.append(bytes('a')).durable;
      await d.putMeta('module', bytes('m'));
      await d.close();
      await make().destroy();
      const { r, d: d2 } = await openNew();
      expect(r.records).toEqual([]);
      expect(await d2.getMeta('module')).toBeUndefined();
    });

    // Only backends that lock register this test (no skipped tests for the others).
    (options.exclusive ? it : noTest)('a second instance cannot open while one has the storage open', async () => {
      const { d } = await openNew();
      const other = make();
      const error: unknown = await other.open().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ code: 'DATABASE_IN_USE' });
      await expect(other.destroy()).rejects.toMatchObject({ code: 'DATABASE_IN_USE' });
      await d.close();
      const { r } = await openNew();
      expect(r.nextLsn).toBe(1n);
      await expect(other.open()).rejects.toMatchObject({ code: 'DATABASE_IN_USE' }); // the new one holds it now
    });

    (options.failureCode !== undefined ? it : noTest)('a failed write rejects its appends with a named error; later appends work; nothing earlier is lost', async () => {
      const { d } = await openNew();
      await d.append(bytes('before')).durable;
      const writes = d.stats().writes;
      fx.failNextWrite!();
      const b = d.append(bytes('fails-1'));
      const c = d.append(bytes('fails-2'));
      const flushed = d.flush();
      for (const p of [b.durable, c.durable, flushed]) {
        const error: unknown = await p.catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StorageError);
        expect(error).toMatchObject({ code: options.failureCode });
      }
      expect(d.stats().writes).toBe(writes);
      await d.flush(); // nothing pending any more
      const after = d.append(bytes('after'));
      expect(after.lsn).toBe(b.lsn); // the failed lsns are handed out again: no gap
      await after.durable;
      await d.append(bytes('after-2')).durable;
      const { r } = await reopen(d);
      expect(r.records.map((x) => [x.lsn, text(x.payload)])).toEqual([
        [1n, 'before'],
        [2n, 'after'],
        [3n, 'after-2'],
      ]);
    });
  });
}

/**
 * A write failure to inject through a backend's hook, for `DurabilityFixture.failNextWrite`:
 * after `arm()`, the next `hook()` call throws `error()`; every other call returns.
 */
export function failOnce(error: () => unknown): { hook(): void; arm(): void } {
  let armed = false;
  return {
    hook() {
      if (!armed) return;
      armed = false;
      throw error();
    },
    arm() {
      armed = true;
    },
  };
}

/** UTF-8 bytes of `s`. */
export function bytes(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** `bytes` reversed. */
export function text(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

/** Deterministic pseudo-random bytes. */
export function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Byte-wise equality (vitest's deep equality would compare 256 KiB element by element in its diff). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Stands in for `it` where a contract test does not apply to a backend: registers nothing. */
function noTest(_name: string, _fn: () => Promise<void>): void {}

/**
 * Checks that a snapshot completes while four callers keep appending: each waits for its record
 * to be durable, then for a different number of event-loop turns, so their appends arrive out of
 * step and the log always has work queued while a write is in flight. Group commit once drained
 * the queue in one loop until it was empty, which under such load was never: the snapshot waited
 * until the callers ran out of work. Callers wait for durability, so a snapshot that does get its
 * turn holds them up and finishes first. Pass an open instance; it is left open.
 */
export async function expectSnapshotUnderLoad(d: Durability, total = 2_000): Promise<void> {
  let appended = 0;
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  const caller = async (stagger: number): Promise<void> => {
    while (appended < total) {
      appended++;
      await d.append(bytes(`c${appended}`)).durable;
      for (let i = 0; i < stagger; i++) await turn();
    }
  };
  const callers = Promise.all([caller(0), caller(1), caller(2), caller(3)]);
  while (appended < 40) await turn();
  const point = d.append(bytes('snapshot point'));
  await point.durable;
  let appendedWhenDone = -1;
  const snapshot = d.writeSnapshot({ lsn: point.lsn, image: bytes(`image@${point.lsn}`) }).then(() => {
    appendedWhenDone = appended;
  });
  await callers;
  await snapshot;
  await d.flush();
  // It finished while the callers were still going, not once they ran out of work.
  expect(appendedWhenDone).toBeGreaterThan(0);
  expect(appendedWhenDone).toBeLessThan(total);
}
