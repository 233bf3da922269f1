// The durability contract against the IndexedDB backend on fake-indexeddb (installed as the
// globals `idb` reads; a fresh database name per test), plus format checks and injected
// transaction failures. Chromium's real IndexedDB runs the same contract in e2e/.

import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { StorageError } from '../errors.ts';
import { bytes, durabilityContract, failOnce, text } from './contract.ts';
import { indexedDbDurability, partSizeFor } from './indexeddb.ts';

let counter = 0;

durabilityContract('indexeddb (fake-indexeddb)', { exclusive: false, failureCode: 'QUOTA_EXCEEDED' }, () => {
  const name = `contract-${++counter}`;
  const failure = failOnce(() => new DOMException('simulated: the quota is full', 'QuotaExceededError'));
  return { instance: () => indexedDbDurability(name, { beforeLogCommit: failure.hook }), failNextWrite: failure.arm };
});

/** Raw IndexedDB helper: runs `fn` on the named database at its current version. */
async function withRawDb(name: string, fn: (db: IDBDatabase) => Promise<void>): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  try {
    await fn(db);
  } finally {
    db.close();
  }
}

/** Raw IndexedDB helper: the result of one read request on a store of the named database. */
async function rawRead<T>(name: string, store: string, read: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  let result: T | undefined;
  await withRawDb(name, async (db) => {
    result = await new Promise<T>((resolve, reject) => {
      const request = read(db.transaction([store]).objectStore(store));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  });
  return result as T;
}

function put(db: IDBDatabase, store: string, value: unknown, key: IDBValidKey): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction([store], 'readwrite');
    tx.objectStore(store).put(value, key);
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

function del(db: IDBDatabase, store: string, key: IDBValidKey): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction([store], 'readwrite');
    tx.objectStore(store).delete(key);
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

describe('indexeddb durability', () => {
  it('names the IndexedDB database lightcone:<name>', async () => {
    const d = indexedDbDurability('bank');
    await d.open();
    const names = (await indexedDB.databases()).map((x) => x.name);
    expect(names).toContain('lightcone:bank');
    expect(names.filter((n) => n?.includes('bank'))).toEqual(['lightcone:bank']);
    await d.close();
  });

  it('without a global indexedDB, open() and destroy() fail with a clear error', async () => {
    vi.stubGlobal('indexedDB', undefined);
    try {
      await expect(indexedDbDurability('x').open()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
      await expect(indexedDbDurability('x').destroy()).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('an aborted log transaction rejects with WRITE_FAILED; later appends work', async () => {
    let abortNext = false;
    const make = () =>
      indexedDbDurability('abort', {
        beforeLogCommit: (tx) => {
          if (!abortNext) return;
          abortNext = false;
          tx.abort();
        },
      });
    const d = make();
    await d.open();
    await d.append(bytes('a')).durable;
    abortNext = true;
    const failed = d.append(bytes('b'));
    const error: unknown = await failed.durable.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'WRITE_FAILED' });
    const next = d.append(bytes('c'));
    expect(next.lsn).toBe(2n);
    await next.durable;
    await d.close();
    const { records } = await make().open();
    expect(records.map((r) => text(r.payload))).toEqual(['a', 'c']);
  });

  it('a log transaction that aborts on its own (a failing request) rejects with WRITE_FAILED', async () => {
    let breakNext = false;
    const d = indexedDbDurability('request-error', {
      beforeLogCommit: (tx) => {
        if (!breakNext) return;
        breakNext = false;
        // A second add of an existing key fails its request, which aborts the transaction.
        tx.objectStore('log').add(new Uint8Array(1), 1);
      },
    });
    await d.open();
    breakNext = true;
    await expect(d.append(bytes('a')).durable).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    await d.append(bytes('b')).durable;
    await d.close();
  });

  it('an unknown format version is UNKNOWN_FORMAT, never a misread', async () => {
    const d = indexedDbDurability('future');
    await d.open();
    await d.append(bytes('a')).durable;
    await d.close();
    await withRawDb('lightcone:future', (db) => put(db, 'format', { magic: 'lightcone-durability', version: 99 }, 'format'));
    const error: unknown = await indexedDbDurability('future')
      .open()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UNKNOWN_FORMAT' });
    expect(String((error as Error).message)).toMatch(/version 99/);
  });

  it('a newer IndexedDB schema version is UNKNOWN_FORMAT', async () => {
    await new Promise<void>((resolve, reject) => {
      const request = indexedDB.open('lightcone:newer', 5);
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    await expect(indexedDbDurability('newer').open()).rejects.toMatchObject({ code: 'UNKNOWN_FORMAT' });
  });

  it('a gap in the stored log is CORRUPT_LOG', async () => {
    const d = indexedDbDurability('gap');
    await d.open();
    await d.append(bytes('a')).durable;
    await d.close();
    await withRawDb('lightcone:gap', (db) => put(db, 'log', new Uint8Array([1]), 3));
    await expect(indexedDbDurability('gap').open()).rejects.toMatchObject({ code: 'CORRUPT_LOG' });
  });

  it('two instances opening one database at once both succeed (open is safe to repeat)', async () => {
    const a = indexedDbDurability('twice');
    const b = indexedDbDurability('twice');
    const [ra, rb] = await Promise.all([a.open(), b.open()]);
    expect(ra.nextLsn).toBe(1n);
    expect(rb.nextLsn).toBe(1n);
    await Promise.all([a.close(), b.close()]);
    const c = indexedDbDurability('twice');
    await c.open();
    await c.append(bytes('x')).durable;
    await c.close();
  });

  it('destroy by another instance closes this one: later calls reject with ClosedError', async () => {
    const a = indexedDbDurability('shared');
    await a.open();
    await indexedDbDurability('shared').destroy();
    await expect(a.append(bytes('x')).durable).rejects.toMatchObject({ name: 'ClosedError' });
    await a.close();
  });

  it('a snapshot drops the log records it covers from storage', async () => {
    const d = indexedDbDurability('trunc');
    await d.open();
    for (let i = 1; i <= 5; i++) await d.append(bytes(`t${i}`)).durable;
    await d.writeSnapshot({ lsn: 3n, image: bytes('@3') });
    await d.close();
    expect(await rawRead('lightcone:trunc', 'log', (s) => s.getAllKeys())).toEqual([4, 5]);
  });

  it('a snapshot after many log entries drops them all (in several steps)', async () => {
    const d = indexedDbDurability('trunc-many');
    await d.open();
    for (let i = 1; i <= 700; i++) await d.append(bytes(`t${i}`)).durable; // one entry each
    await d.writeSnapshot({ lsn: 699n, image: bytes('@699') });
    await d.close();
    expect(await rawRead('lightcone:trunc-many', 'log', (s) => s.getAllKeys())).toEqual([700]);
    const again = indexedDbDurability('trunc-many');
    const { records } = await again.open();
    expect(records.map((r) => text(r.payload))).toEqual(['t700']);
    for (let i = 701; i <= 1000; i++) await again.append(bytes(`t${i}`)).durable;
    await again.writeSnapshot({ lsn: 1000n, image: bytes('@1000') });
    await again.close();
    expect(await rawRead('lightcone:trunc-many', 'log', (s) => s.getAllKeys())).toEqual([]);
  });

  it('log writes carry the durability hint: strict by default, relaxed on request', async () => {
    const seen: string[] = [];
    for (const durability of [undefined, 'relaxed'] as const) {
      const d = indexedDbDurability('hint', {
        ...(durability ? { durability } : {}),
        beforeLogCommit: (tx) => seen.push(tx.durability),
      });
      await d.open();
      await d.append(bytes('x')).durable;
      await d.close();
    }
    expect(seen).toEqual(['strict', 'relaxed']);
  });

  it('one group-committed batch is one log entry; a snapshot inside a batch keeps the rest of it', async () => {
    const d = indexedDbDurability('batch');
    await d.open();
    await Promise.all([1, 2, 3, 4, 5].map((i) => d.append(bytes(`b${i}`)).durable));
    await d.writeSnapshot({ lsn: 3n, image: bytes('@3') });
    await d.close();
    expect(await rawRead('lightcone:batch', 'log', (s) => s.getAllKeys())).toEqual([5]);
    const { records, nextLsn } = await indexedDbDurability('batch').open();
    expect(records.map((r) => [r.lsn, text(r.payload)])).toEqual([
      [4n, 'b4'],
      [5n, 'b5'],
    ]);
    expect(nextLsn).toBe(6n);
  });

  it('reads a format-1 database (one entry per record) and marks it with the current format', async () => {
    const d = indexedDbDurability('v1');
    await d.open();
    await d.close();
    await withRawDb('lightcone:v1', async (db) => {
      await put(db, 'format', { magic: 'lightcone-durability', version: 1 }, 'format');
      await put(db, 'log', bytes('one'), 1);
      await put(db, 'log', bytes('two'), 2);
    });
    const again = indexedDbDurability('v1');
    const { records } = await again.open();
    expect(records.map((r) => [r.lsn, text(r.payload)])).toEqual([
      [1n, 'one'],
      [2n, 'two'],
    ]);
    await again.append(bytes('three')).durable;
    await again.close();
    const { records: all } = await indexedDbDurability('v1').open();
    expect(all.map((r) => text(r.payload))).toEqual(['one', 'two', 'three']);
    expect(await rawRead('lightcone:v1', 'format', (s) => s.get('format'))).toEqual({ magic: 'lightcone-durability', version: 3 });
  });

  it('a batch entry whose records do not match its key is CORRUPT_LOG', async () => {
    const d = indexedDbDurability('bad-batch');
    await d.open();
    await d.close();
    await withRawDb('lightcone:bad-batch', (db) => put(db, 'log', { first: 1, records: [bytes('a')] }, 2));
    await expect(indexedDbDurability('bad-batch').open()).rejects.toMatchObject({ code: 'CORRUPT_LOG' });
  });

  it('a subarray payload stores only its own bytes', async () => {
    const d = indexedDbDurability('views');
    await d.open();
    const big = new Uint8Array(1 << 20);
    big.set(bytes('hello'), 1000);
    await d.append(big.subarray(1000, 1005)).durable;
    await d.close();
    const { records } = await indexedDbDurability('views').open();
    expect(records[0]!.payload.buffer.byteLength).toBe(5);
    expect(text(records[0]!.payload)).toBe('hello');
  });

  describe('snapshots in parts', () => {
    const PART = 64 * 1024;
    /** An image of `parts` parts (the last one short), each part's bytes distinct. */
    function image(parts: number, seed = 0): Uint8Array {
      const out = new Uint8Array(parts * PART - 100);
      for (let i = 0; i < out.length; i += 97) out[i] = (i / PART + seed + i) & 0xff;
      return out;
    }
    /** An image source over `bytes` that records the lengths it was asked to copy (`read`) and to show (`peek`). */
    function source(bytes: Uint8Array, reads: number[] = [], peeks: number[] = []) {
      return {
        size: bytes.length,
        read: (offset: number, length: number) => (reads.push(length), bytes.slice(offset, offset + length)),
        peek: (offset: number, length: number) => (peeks.push(length), bytes.subarray(offset, offset + length)),
      };
    }
    const partKeys = (name: string) => rawRead(`lightcone:${name}`, 'parts', (s) => s.getAllKeys());

    it('stores an image as parts, reads it back whole, and rewrites only the parts that changed', async () => {
      const d = indexedDbDurability('parts');
      await d.open();
      for (let i = 1; i <= 3; i++) await d.append(bytes(`t${i}`)).durable;
      const first = image(10);
      const reads: number[] = [];
      const peeks: number[] = [];
      await d.writeSnapshot({ lsn: 1n, image: source(first, reads, peeks) });
      expect(peeks.length).toBe(10); // each part looked at to hash it
      expect(reads.length).toBe(10); // and copied to store it, as none is stored yet
      expect(Math.max(...reads, ...peeks)).toBe(PART); // never the whole image at once
      const before = new Set((await partKeys('parts')).map(String));
      expect(before.size).toBe(10);
      const second = first.slice();
      second[3 * PART + 5] = second[3 * PART + 5]! ^ 0xff; // one byte of part 3
      reads.length = 0;
      await d.writeSnapshot({ lsn: 2n, image: source(second, reads) });
      expect(reads).toEqual([PART]); // only the changed part is copied
      await d.close();
      expect(d.stats()).toMatchObject({ snapshots: 2, snapshotBytes: first.length + PART });
      const after = new Set((await partKeys('parts')).map(String));
      expect(after.size).toBe(10); // the replaced part is deleted
      expect([...after].filter((k) => !before.has(k))).toHaveLength(1);
      const { snapshot, records } = await indexedDbDurability('parts').open();
      expect(snapshot?.lsn).toBe(2n);
      expect(snapshot?.image).toEqual(second);
      expect(records.map((r) => text(r.payload))).toEqual(['t3']);
    });

    it('a large image is cut into a bounded number of parts: the part size doubles as the image grows and stays when it shrinks', async () => {
      const manifest = async (name: string) => (await rawRead(`lightcone:${name}`, 'snapshot', (s) => s.get('current'))) as { partSize: number; parts: string[] };
      // At most 4 parts here (128 by default: a 4-part cap keeps the images small enough for fake-indexeddb).
      const d = indexedDbDurability('big-parts', { maxParts: 4 });
      await d.open();
      await d.writeSnapshot({ lsn: 0n, image: image(4) }); // 4 parts of 64 KiB: still the smallest size
      expect(await manifest('big-parts')).toMatchObject({ partSize: PART });
      const big = image(10, 1); // 10 × 64 KiB (less 100 bytes): 3 parts of 256 KiB
      await d.writeSnapshot({ lsn: 0n, image: big });
      expect(await manifest('big-parts')).toMatchObject({ partSize: 4 * PART });
      expect((await manifest('big-parts')).parts).toHaveLength(3);
      expect(await partKeys('big-parts')).toHaveLength(3); // the 64 KiB parts are gone
      await d.close();
      const again = indexedDbDurability('big-parts', { maxParts: 4 });
      expect((await again.open()).snapshot?.image).toEqual(big);
      const small = image(3, 2);
      await again.writeSnapshot({ lsn: 0n, image: small }); // the part size read back is kept
      expect(await manifest('big-parts')).toMatchObject({ partSize: 4 * PART, parts: { length: 1 } });
      await again.close();
      expect((await indexedDbDurability('big-parts').open()).snapshot?.image).toEqual(small);
      // The default: 128 parts of 64 KiB, then doubling, up to 4 MiB.
      expect(partSizeFor(0, 0)).toBe(PART);
      expect(partSizeFor(128 * PART, PART)).toBe(PART);
      expect(partSizeFor(128 * PART + 1, PART)).toBe(2 * PART);
      expect(partSizeFor(63e6, PART)).toBe(8 * PART);
      expect(partSizeFor(1e12, PART)).toBe(64 * PART);
    });

    it('equal parts are stored once; an empty image is a snapshot too', async () => {
      const d = indexedDbDurability('same-parts');
      await d.open();
      await d.append(bytes('x')).durable;
      await d.writeSnapshot({ lsn: 1n, image: new Uint8Array(5 * PART) });
      expect(await partKeys('same-parts')).toHaveLength(1);
      await d.writeSnapshot({ lsn: 1n, image: new Uint8Array(0) });
      await d.close();
      expect(await partKeys('same-parts')).toHaveLength(0);
      const { snapshot } = await indexedDbDurability('same-parts').open();
      expect(snapshot?.image).toEqual(new Uint8Array(0));
    });

    it('parts left by an interrupted snapshot are ignored, and dropped by the next snapshot', async () => {
      const d = indexedDbDurability('orphans');
      await d.open();
      await d.append(bytes('x')).durable;
      await d.writeSnapshot({ lsn: 1n, image: image(2) });
      await d.close();
      // What a crash between the part writes and the manifest switch leaves.
      await withRawDb('lightcone:orphans', (db) => put(db, 'parts', bytes('left over'), 'f'.repeat(64)));
      const again = indexedDbDurability('orphans');
      const { snapshot } = await again.open();
      expect(snapshot?.image).toEqual(image(2));
      await again.writeSnapshot({ lsn: 1n, image: image(2) });
      await again.close();
      expect((await partKeys('orphans')).map(String)).not.toContain('f'.repeat(64));
      expect(await partKeys('orphans')).toHaveLength(2);
    });

    it('a missing or wrong-sized part, or a malformed manifest, is CORRUPT_SNAPSHOT', async () => {
      for (const [name, damage] of [
        ['gone', async (db: IDBDatabase, key: string) => void (await del(db, 'parts', key))],
        ['short', (db: IDBDatabase, key: string) => put(db, 'parts', bytes('short'), key)],
        ['manifest', (db: IDBDatabase) => put(db, 'snapshot', { lsn: 1n, size: 10, partSize: 4, parts: ['a'] }, 'current')],
      ] as const) {
        const d = indexedDbDurability(`damaged-${name}`);
        await d.open();
        await d.append(bytes('x')).durable;
        await d.writeSnapshot({ lsn: 1n, image: image(3) });
        await d.close();
        const [key] = (await partKeys(`damaged-${name}`)).map(String);
        await withRawDb(`lightcone:damaged-${name}`, (db) => damage(db, key!));
        await expect(indexedDbDurability(`damaged-${name}`).open()).rejects.toMatchObject({ name: 'StorageError', code: 'CORRUPT_SNAPSHOT' });
      }
    });

    it('reads a whole-image snapshot of format 2, and replaces it with parts at the next snapshot', async () => {
      const d = indexedDbDurability('v2');
      await d.open();
      await d.append(bytes('x')).durable;
      await d.close();
      await withRawDb('lightcone:v2', async (db) => {
        await put(db, 'format', { magic: 'lightcone-durability', version: 2 }, 'format');
        await put(db, 'snapshot', { lsn: 1n, image: bytes('whole image') }, 'current');
      });
      const again = indexedDbDurability('v2');
      const { snapshot } = await again.open();
      expect(text(snapshot!.image)).toBe('whole image');
      expect(await rawRead('lightcone:v2', 'format', (s) => s.get('format'))).toEqual({ magic: 'lightcone-durability', version: 3 });
      await again.writeSnapshot({ lsn: 1n, image: bytes('in parts') });
      await again.close();
      expect(await rawRead('lightcone:v2', 'snapshot', (s) => s.get('current'))).toMatchObject({ lsn: 1n, size: 8, parts: [expect.any(String)] });
      expect(text((await indexedDbDurability('v2').open()).snapshot!.image)).toBe('in parts');
    });

    it('upgrades a schema-1 database (four stores, whole-image snapshot): adds the parts store, keeps snapshot and log', async () => {
      await new Promise<void>((resolve, reject) => {
        const request = indexedDB.open('lightcone:schema1', 1);
        request.onupgradeneeded = () => {
          const db = request.result;
          for (const store of ['format', 'log', 'snapshot', 'meta']) db.createObjectStore(store);
          const tx = request.transaction!;
          tx.objectStore('format').put({ magic: 'lightcone-durability', version: 2 }, 'format');
          tx.objectStore('snapshot').put({ lsn: 1n, image: bytes('image at 1') }, 'current');
          tx.objectStore('log').put({ first: 1, records: [bytes('r1'), bytes('r2')] }, 2);
        };
        request.onsuccess = () => {
          request.result.close();
          resolve();
        };
        request.onerror = () => reject(request.error);
      });
      const d = indexedDbDurability('schema1');
      const { snapshot, records, nextLsn } = await d.open();
      expect(text(snapshot!.image)).toBe('image at 1');
      expect(records.map((r) => [r.lsn, text(r.payload)])).toEqual([[2n, 'r2']]);
      expect(nextLsn).toBe(3n);
      await d.writeSnapshot({ lsn: 2n, image: bytes('image at 2') });
      await d.close();
      const version = await new Promise<number>((resolve) => {
        const request = indexedDB.open('lightcone:schema1');
        request.onsuccess = () => {
          resolve(request.result.version);
          request.result.close();
        };
      });
      expect(version).toBe(2);
      const again = await indexedDbDurability('schema1').open();
      expect(text(again.snapshot!.image)).toBe('image at 2');
      expect(again.records).toEqual([]);
    });

    it('log writes go on while a snapshot is being written', async () => {
      const d = indexedDbDurability('beside');
      await d.open();
      await d.append(bytes('x')).durable;
      // A source that cannot be read until released: the snapshot is held mid-write.
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const bytesOf = image(4);
      let reads = 0;
      const slow = {
        size: bytesOf.length,
        read(offset: number, length: number) {
          reads++;
          return bytesOf.slice(offset, offset + length);
        },
      };
      const crypto = globalThis.crypto.subtle;
      const digest = vi.spyOn(crypto, 'digest').mockImplementation(async (algorithm, data) => {
        await held;
        digest.mockRestore();
        return crypto.digest(algorithm, data);
      });
      const snapshot = d.writeSnapshot({ lsn: 1n, image: slow });
      await vi.waitFor(() => expect(reads).toBeGreaterThan(0));
      await d.append(bytes('y')).durable; // not queued behind the snapshot
      release();
      await snapshot;
      await d.close();
      const { snapshot: stored, records } = await indexedDbDurability('beside').open();
      expect(stored?.lsn).toBe(1n);
      expect(records.map((r) => text(r.payload))).toEqual(['y']);
    });
  });
});
