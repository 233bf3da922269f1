// The durability contract against the file backend, plus what only files show: torn tails of each
// kind are cut, corruption in the middle is refused, unknown formats are refused, the lock holds
// across processes and is taken over from a killed one, a SIGKILLed writer loses nothing it
// reported durable, and injected write failures (ENOSPC, EIO) leave the log usable.

import { type ChildProcess, spawn } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../errors.ts';
import { bytes, durabilityContract, expectSnapshotUnderLoad, text } from './contract.ts';
import type { Durability } from './durability.ts';
import { encodeSegmentHeader, encodeSnapshotHeader, FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from './file-format.ts';
import type { DurabilityFileHandle, DurabilityFs } from './file-system.ts';
import { fileDurability, type FileDurabilityOptions } from './files.ts';

const tempDirs: string[] = [];

async function tmpDir(): Promise<string> {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'lightcone-durability-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(async () => {
  for (const dir of tempDirs) await fsp.rm(dir, { recursive: true, force: true });
});

type Fault = { op: 'write' | 'datasync' | 'truncate'; code: string; partial?: boolean };

/** `node:fs/promises` whose log-segment handles fail the next armed operations. */
function faultyFs(): { fs: DurabilityFs; arm(...faults: Fault[]): void; armed(): number } {
  const faults: Fault[] = [];
  const take = (op: Fault['op']): Fault | undefined => {
    const i = faults.findIndex((f) => f.op === op);
    return i < 0 ? undefined : faults.splice(i, 1)[0];
  };
  const fail = (code: string): Error => Object.assign(new Error(`${code}: simulated failure`), { code });
  const wrap = (path: string, h: fsp.FileHandle): DurabilityFileHandle => {
    const isLog = path.includes('.seg'); // also a new segment, made under a .tmp name
    return {
      async write(buffer, offset, length, position) {
        const fault = isLog ? take('write') : undefined;
        if (fault) {
          if (fault.partial) await h.write(buffer, offset, Math.max(1, Math.floor(length / 2)), position);
          throw fail(fault.code);
        }
        return h.write(buffer, offset, length, position);
      },
      async datasync() {
        const fault = isLog ? take('datasync') : undefined;
        if (fault) throw fail(fault.code);
        return h.datasync();
      },
      sync: () => h.sync(),
      async truncate(length) {
        const fault = isLog ? take('truncate') : undefined;
        if (fault) throw fail(fault.code);
        return h.truncate(length);
      },
      close: () => h.close(),
    };
  };
  return {
    fs: { ...fsp, open: async (path, flags) => wrap(path, await fsp.open(path, flags)) },
    arm: (...f) => faults.push(...f),
    armed: () => faults.length,
  };
}

durabilityContract('files', { exclusive: true, failureCode: 'DISK_FULL' }, async () => {
  const dir = await tmpDir();
  const faults = faultyFs();
  return {
    instance: () => fileDurability(dir, { fs: faults.fs }),
    failNextWrite: () => faults.arm({ op: 'write', code: 'ENOSPC', partial: true }),
    cleanup: () => fsp.rm(dir, { recursive: true, force: true }),
  };
});

/** XORs one byte of `buf` with `mask`. */
function flip(buf: Uint8Array, index: number, mask: number): void {
  buf[index] = buf[index]! ^ mask;
}

/** Log segment files of `dir`, oldest first. */
async function segments(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

/** Opens, appends each payload in its own write (its own batch), closes. */
async function writeRecords(dir: string, payloads: string[]): Promise<void> {
  const d = fileDurability(dir, { fsync: false });
  await d.open();
  for (const p of payloads) await d.append(bytes(p)).durable;
  await d.close();
}

/** A backend opened on a fresh directory (no fsync unless `opts` asks for it). */
async function openFresh(opts: FileDurabilityOptions = { fsync: false }): Promise<{ dir: string; d: Durability }> {
  const dir = await tmpDir();
  const d = fileDurability(dir, opts);
  await d.open();
  return { dir, d };
}

async function recover(dir: string): Promise<{ d: Durability; texts: string[]; truncatedTail: boolean; nextLsn: bigint }> {
  const d = fileDurability(dir, { fsync: false });
  const r = await d.open();
  return { d, texts: r.records.map((x) => text(x.payload)), truncatedTail: r.truncatedTail, nextLsn: r.nextLsn };
}

describe('file durability: layout and formats', () => {
  it('lays out FORMAT, LOCK and a first segment; the TSDoc example runs', async () => {
    const dir = join(await tmpDir(), 'bank');
    const d = fileDurability(dir);
    const { snapshot, records } = await d.open();
    expect([snapshot, records]).toEqual([undefined, []]);
    await d.append(bytes('payload')).durable;
    expect((await fsp.readdir(dir)).sort()).toEqual(['FORMAT', 'LOCK', 'log-00000000000000000001.seg']);
    const lock: unknown = JSON.parse(await fsp.readFile(join(dir, 'LOCK'), 'utf8'));
    expect(lock).toMatchObject({ pid: process.pid });
    await d.close();
    expect(await fsp.readdir(dir)).not.toContain('LOCK');
  });

  it('an unknown FORMAT version is UNKNOWN_FORMAT naming the version', async () => {
    const dir = await tmpDir();
    await writeRecords(dir, ['a']);
    const format = await fsp.readFile(join(dir, 'FORMAT'));
    format.writeUInt32LE(2, 4);
    await fsp.writeFile(join(dir, 'FORMAT'), format);
    const error: unknown = await fileDurability(dir)
      .open()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'UNKNOWN_FORMAT' });
    expect((error as Error).message).toMatch(/format version 2.*upgrade Lightcone/);
    // The refused open released the lock.
    expect(await fsp.readdir(dir)).not.toContain('LOCK');
  });

  it('an unknown segment version or a foreign FORMAT magic is UNKNOWN_FORMAT', async () => {
    const dir = await tmpDir();
    await writeRecords(dir, ['a']);
    const [seg] = await segments(dir);
    const bytesOnDisk = await fsp.readFile(join(dir, seg!));
    bytesOnDisk.writeUInt32LE(7, 4);
    await fsp.writeFile(join(dir, seg!), bytesOnDisk);
    await expect(fileDurability(dir).open()).rejects.toMatchObject({ code: 'UNKNOWN_FORMAT' });

    const other = await tmpDir();
    await fsp.writeFile(join(other, 'FORMAT'), 'SQLite format 3\0');
    await expect(fileDurability(other).open()).rejects.toMatchObject({ code: 'UNKNOWN_FORMAT' });
  });

  it('database files without FORMAT (an interrupted destroy) are UNKNOWN_FORMAT, not a new database', async () => {
    const dir = await tmpDir();
    await writeRecords(dir, ['a']);
    await fsp.unlink(join(dir, 'FORMAT'));
    await expect(fileDurability(dir).open()).rejects.toMatchObject({ code: 'UNKNOWN_FORMAT' });
  });

  it('a snapshot completes under sustained appends', async () => {
    const { dir, d } = await openFresh({});
    await expectSnapshotUnderLoad(d);
    await d.close();
    const again = fileDurability(dir);
    const r = await again.open();
    expect(text(r.snapshot!.image)).toBe(`image@${r.snapshot!.lsn}`);
    expect(r.records[0]!.lsn).toBe(r.snapshot!.lsn + 1n);
    expect(r.nextLsn).toBe(r.snapshot!.lsn + BigInt(r.records.length) + 1n);
    await again.close();
  });

  it('every byte of the snapshot header, damaged, is a named error: never a recovery from a wrong lsn', async () => {
    const { dir, d } = await openFresh();
    for (let i = 1; i <= 6; i++) await d.append(bytes(`r${i}`)).durable;
    await d.writeSnapshot({ lsn: 3n, image: bytes('image@3') });
    await d.close();
    const file = join(dir, 'snapshot.bin');
    const good = new Uint8Array(await fsp.readFile(file));
    let refused = 0;
    for (let i = 0; i < 32; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = good.slice();
        flip(bad, i, mask);
        await fsp.writeFile(file, bad);
        const error: unknown = await recover(dir).then(
          async (r) => {
            // Only a damaged version field that still names a readable version may open, and then
            // it must recover exactly what was written.
            expect(r.texts).toEqual(['r4', 'r5', 'r6']);
            await r.d.close();
            return undefined;
          },
          (e: unknown) => e,
        );
        if (error !== undefined) {
          expect(error).toBeInstanceOf(StorageError);
          expect(['CORRUPT_SNAPSHOT', 'UNKNOWN_FORMAT']).toContain((error as StorageError).code);
          refused++;
        }
      }
    }
    expect(refused).toBeGreaterThanOrEqual(32 * 3 - 2);
    await fsp.writeFile(file, good);
    const r = await recover(dir);
    expect(r.texts).toEqual(['r4', 'r5', 'r6']);
    await r.d.close();
  });

  it('a damaged snapshot is CORRUPT_SNAPSHOT', async () => {
    const { dir, d } = await openFresh();
    await d.append(bytes('a')).durable;
    await d.writeSnapshot({ lsn: 1n, image: bytes('the image') });
    await d.close();
    const file = join(dir, 'snapshot.bin');
    const snap = await fsp.readFile(file);
    flip(snap, snap.length - 1, 0xff);
    await fsp.writeFile(file, snap);
    await expect(fileDurability(dir).open()).rejects.toMatchObject({ code: 'CORRUPT_SNAPSHOT' });
  });

  it('a snapshot starts a new segment and deletes the segments it covers', async () => {
    const { dir, d } = await openFresh();
    for (const p of ['a', 'b', 'c']) await d.append(bytes(p)).durable;
    await d.writeSnapshot({ lsn: 2n, image: bytes('@2') }); // lsn 3 is still needed: segment 1 stays
    expect(await segments(dir)).toEqual(['log-00000000000000000001.seg', 'log-00000000000000000004.seg']);
    await d.append(bytes('d')).durable;
    await d.writeSnapshot({ lsn: 4n, image: bytes('@4') });
    expect(await segments(dir)).toEqual(['log-00000000000000000005.seg']);
    await d.close();
    const r = await recover(dir);
    expect(r.texts).toEqual([]);
    expect(r.nextLsn).toBe(5n);
    await r.d.close();
  });

  it('segments left behind by a crash between snapshot and cleanup are skipped and removed', async () => {
    const { dir, d } = await openFresh();
    for (const p of ['a', 'b']) await d.append(bytes(p)).durable;
    const old = await fsp.readFile(join(dir, 'log-00000000000000000001.seg'));
    await d.writeSnapshot({ lsn: 2n, image: bytes('@2') });
    await d.append(bytes('c')).durable;
    await d.close();
    await fsp.writeFile(join(dir, 'log-00000000000000000001.seg'), old); // as if the delete never happened
    const r = await recover(dir);
    expect(r.texts).toEqual(['c']);
    expect(await segments(dir)).toEqual(['log-00000000000000000003.seg']);
    await r.d.close();
  });

  it('an empty newest segment left by a failed rotation does not make the segment holding newer records look covered', async () => {
    // The state a rotation leaves when its directory sync and its undo both failed: the snapshot
    // at lsn 3, an empty segment named for lsn 4, and records 4 and 5 appended to the old one.
    const dir = await tmpDir();
    await writeRecords(dir, ['r1', 'r2', 'r3', 'r4', 'r5']);
    const image = bytes('image@3');
    await fsp.writeFile(join(dir, 'snapshot.bin'), Buffer.concat([encodeSnapshotHeader(3n, image), image]));
    await fsp.writeFile(join(dir, 'log-00000000000000000004.seg'), encodeSegmentHeader(4n));
    const r = await recover(dir);
    expect(r.texts).toEqual(['r4', 'r5']);
    expect(r.nextLsn).toBe(6n);
    await r.d.close();
  });

  it('a missing segment (a gap after the snapshot) is CORRUPT_LOG', async () => {
    const { dir, d } = await openFresh();
    await d.append(bytes('a')).durable;
    await d.writeSnapshot({ lsn: 0n, image: bytes('empty') });
    await d.close();
    // Segment 1 holds lsn 1 and there is a second one from the rotation; drop the first.
    const segs = await segments(dir);
    expect(segs.length).toBe(2);
    await fsp.unlink(join(dir, segs[0]!));
    await expect(fileDurability(dir).open()).rejects.toMatchObject({ code: 'CORRUPT_LOG' });
  });
});

describe('file durability: torn tails and corruption', () => {
  async function segmentFile(dir: string): Promise<string> {
    const segs = await segments(dir);
    return join(dir, segs[segs.length - 1]!);
  }
  /** Makes the directory look as a crash leaves it: no record of a clean close. */
  const asAfterCrash = (dir: string): Promise<void> => fsp.rm(join(dir, 'CLOSED'));

  it.each([
    ['truncated mid-payload', async (file: string) => fsp.truncate(file, (await fsp.stat(file)).size - 3)],
    ['truncated mid-header', async (file: string) => fsp.truncate(file, (await fsp.stat(file)).size - 'r3-payload'.length - 13)],
    [
      'a flipped byte in the last payload',
      async (file: string) => {
        const b = await fsp.readFile(file);
        flip(b, b.length - 2, 0x40);
        await fsp.writeFile(file, b);
      },
    ],
    [
      'zeros after the last record (file extended, data never written)',
      async (file: string) => {
        await fsp.appendFile(file, new Uint8Array(4096));
      },
    ],
  ])('a torn tail (%s) is cut, earlier records survive, appends continue', async (kind, damage) => {
    const dir = await tmpDir();
    await writeRecords(dir, ['r1', 'r2', 'r3-payload']);
    await asAfterCrash(dir);
    const file = await segmentFile(dir);
    const before = (await fsp.stat(file)).size;
    await damage(file);
    const r = await recover(dir);
    const zeros = kind.startsWith('zeros');
    expect(r.truncatedTail).toBe(true);
    expect(r.texts).toEqual(zeros ? ['r1', 'r2', 'r3-payload'] : ['r1', 'r2']);
    expect((await fsp.stat(file)).size).toBe(zeros ? before : before - FRAME_HEADER_BYTES - 'r3-payload'.length);
    expect(r.d.append(bytes('next')).lsn).toBe(zeros ? 4n : 3n);
    await r.d.close();
    const again = await recover(dir);
    expect(again.truncatedTail).toBe(false);
    expect(again.texts).toEqual(zeros ? ['r1', 'r2', 'r3-payload', 'next'] : ['r1', 'r2', 'next']);
    await again.d.close();
  });

  it('a torn last write cuts every record of that write, even its whole frames', async () => {
    const { dir, d } = await openFresh();
    await d.append(bytes('alone')).durable;
    // One write of three records; then damage its first frame only (as if that page never hit disk).
    await Promise.all(['b1', 'b2', 'b3'].map((p) => d.append(bytes(p)).durable));
    expect(d.stats().writes).toBe(2);
    await d.close();
    await asAfterCrash(dir);
    const file = await segmentFile(dir);
    const b = await fsp.readFile(file);
    const firstOfBatch = SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 'alone'.length;
    flip(b, firstOfBatch + FRAME_HEADER_BYTES, 0xff);
    await fsp.writeFile(file, b);
    const r = await recover(dir);
    expect(r.truncatedTail).toBe(true);
    expect(r.texts).toEqual(['alone']);
    expect((await fsp.stat(file)).size).toBe(firstOfBatch);
    await r.d.close();
  });

  it('after a clean close, a damaged last record is CORRUPT_LOG: it was durable, so it is not cut as a torn write', async () => {
    const dir = await tmpDir();
    await writeRecords(dir, ['k1', 'k2', 'k3-payload']);
    const file = await segmentFile(dir);
    const b = await fsp.readFile(file);
    flip(b, b.length - 2, 0x40);
    await fsp.writeFile(file, b);
    const offset = b.length - FRAME_HEADER_BYTES - 'k3-payload'.length;
    const error: unknown = await fileDurability(dir)
      .open()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'CORRUPT_LOG', details: { file, offset, lsn: 3n, closedAt: 3n } });
    expect((error as Error).message).toMatch(/closed cleanly/);
    // Nothing was cut: repaired, every record is there.
    flip(b, b.length - 2, 0x40);
    await fsp.writeFile(file, b);
    const r = await recover(dir);
    expect(r.texts).toEqual(['k1', 'k2', 'k3-payload']);
    expect(r.truncatedTail).toBe(false);
    await r.d.close();
  });

  it('a corrupt record followed by a later write is CORRUPT_LOG naming file and offset', async () => {
    const dir = await tmpDir();
    await writeRecords(dir, ['m1', 'm2', 'm3', 'm4']);
    const file = await segmentFile(dir);
    const b = await fsp.readFile(file);
    const offset = SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 2; // the second frame
    flip(b, offset + FRAME_HEADER_BYTES, 0xff);
    await fsp.writeFile(file, b);
    const error: unknown = await fileDurability(dir)
      .open()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({ code: 'CORRUPT_LOG', details: { file, offset } });
    expect((error as Error).message).toContain(file);
    expect((error as Error).message).toContain(`offset ${offset}`);
    // Nothing was cut: the file is as it was.
    expect((await fsp.stat(file)).size).toBe(b.length);
  });

  it('a corrupt length field in the middle is CORRUPT_LOG too', async () => {
    const dir = await tmpDir();
    await writeRecords(dir, ['m1', 'm2', 'm3']);
    const file = await segmentFile(dir);
    const b = await fsp.readFile(file);
    b.writeUInt32LE(0x7fffffff, SEGMENT_HEADER_BYTES); // first frame's length
    await fsp.writeFile(file, b);
    await expect(fileDurability(dir).open()).rejects.toMatchObject({ code: 'CORRUPT_LOG', details: { offset: SEGMENT_HEADER_BYTES } });
  });
});

describe('file durability: write failures', () => {
  /** A backend over a fresh directory whose log fails the operations armed, opened. */
  async function openFaulty() {
    const faults = faultyFs();
    return { faults, ...(await openFresh({ fs: faults.fs })) };
  }

  /** Reopens `dir`: its log holds exactly `texts`, with no torn tail left to cut. */
  async function expectLog(dir: string, texts: string[]): Promise<void> {
    const r = await recover(dir);
    expect(r.texts).toEqual(texts);
    expect(r.truncatedTail).toBe(false);
    await r.d.close();
  }

  it('ENOSPC with a partial write: DISK_FULL, the partial bytes are cut, later appends work', async () => {
    const { dir, faults, d } = await openFaulty();
    await d.append(bytes('good')).durable;
    const file = join(dir, (await segments(dir))[0]!);
    const size = (await fsp.stat(file)).size;
    faults.arm({ op: 'write', code: 'ENOSPC', partial: true });
    const error: unknown = await d.append(bytes('lost'.repeat(100))).durable.catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'StorageError', code: 'DISK_FULL', details: { errno: 'ENOSPC' } });
    expect((error as Error).message).toMatch(/free disk space/);
    expect((await fsp.stat(file)).size).toBe(size);
    await d.append(bytes('after')).durable;
    await d.close();
    await expectLog(dir, ['good', 'after']);
  });

  it('EIO on fsync, and the undo fails too: WRITE_FAILED; the next append cuts the leftovers first', async () => {
    const { dir, faults, d } = await openFaulty();
    await d.append(bytes('good')).durable;
    faults.arm({ op: 'datasync', code: 'EIO' }, { op: 'truncate', code: 'EIO' });
    await expect(d.append(bytes('unsure')).durable).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    expect(faults.armed()).toBe(0);
    await d.append(bytes('after')).durable;
    await d.close();
    await expectLog(dir, ['good', 'after']);
  });

  it('while the undo keeps failing, appends keep failing instead of writing after garbage', async () => {
    const { dir, faults, d } = await openFaulty();
    faults.arm({ op: 'write', code: 'EIO', partial: true }, { op: 'truncate', code: 'EIO' }, { op: 'truncate', code: 'EIO' });
    await expect(d.append(bytes('x1')).durable).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    await expect(d.append(bytes('x2')).durable).rejects.toMatchObject({ code: 'WRITE_FAILED' });
    await d.append(bytes('ok')).durable;
    await d.close();
    await expectLog(dir, ['ok']);
  });
});

describe('file durability: processes', () => {
  let bundleUrl = '';

  beforeAll(async () => {
    const out = join(await tmpDir(), 'files.mjs');
    await build({
      entryPoints: [resolve(import.meta.dirname, 'files.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: out,
      logLevel: 'silent',
    });
    bundleUrl = pathToFileURL(out).href;
  });

  /** Runs a child `node -e` with the bundled file backend as `fileDurability`. */
  function child(dir: string, body: string): ChildProcess & { lines: string[]; waitFor(n: number): Promise<void>; exited: Promise<void> } {
    const code = `const { fileDurability } = await import(process.env.LC_BUNDLE);\n${body}`;
    const proc = spawn(process.execPath, ['--input-type=module', '-e', code], {
      env: { ...process.env, LC_BUNDLE: bundleUrl, LC_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    const waiters: Array<() => void> = [];
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      for (const w of waiters.splice(0)) w();
    });
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<void>((res) => proc.once('exit', () => res()));
    const waitFor = (n: number): Promise<void> =>
      new Promise<void>((res, rej) => {
        const check = (): void => {
          if (lines.length >= n) return res();
          if (proc.exitCode !== null || proc.signalCode !== null) return rej(new Error(`child exited early: ${stderr}`));
          waiters.push(check);
        };
        void exited.then(check);
        check();
      });
    return Object.assign(proc, { lines, waitFor, exited });
  }

  const holdOpen = `const d = fileDurability(process.env.LC_DIR);\nawait d.open();\nconsole.log('open');\nsetInterval(() => {}, 1 << 30);`;

  it('a directory held by another live process is DATABASE_IN_USE naming its pid', async () => {
    const dir = await tmpDir();
    const holder = child(dir, holdOpen);
    try {
      await holder.waitFor(1);
      const error: unknown = await fileDurability(dir)
        .open()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ code: 'DATABASE_IN_USE', details: { pid: holder.pid } });
      expect((error as Error).message).toContain(`process ${holder.pid}`);
      expect((error as Error).message).toMatch(/close the database in that process/);
    } finally {
      holder.kill('SIGTERM');
      await holder.exited;
    }
  });

  it('the lock of a killed process is taken over', async () => {
    const dir = await tmpDir();
    const holder = child(dir, holdOpen);
    await holder.waitFor(1);
    holder.kill('SIGKILL');
    await holder.exited;
    const stale: unknown = JSON.parse(await fsp.readFile(join(dir, 'LOCK'), 'utf8'));
    expect(stale).toMatchObject({ pid: holder.pid });
    const d = fileDurability(dir);
    await d.open();
    const lock: unknown = JSON.parse(await fsp.readFile(join(dir, 'LOCK'), 'utf8'));
    expect(lock).toMatchObject({ pid: process.pid });
    await d.close();
  });

  it('a killed holder that is still an unreaped zombie does not keep the directory in use', async () => {
    const dir = await tmpDir();
    // The holder's parent execs into `sleep`, which never reaps it: once killed, it stays a zombie
    // (its pid still answers kill(pid, 0)), but the kernel has closed everything it held.
    const code = `const { fileDurability } = await import(process.env.LC_BUNDLE);\n${holdOpen.replace("console.log('open')", 'console.log(process.pid)')}`;
    const parent = spawn('sh', ['-c', '"$LC_NODE" --input-type=module -e "$LC_CODE" & exec sleep 60'], {
      env: { ...process.env, LC_BUNDLE: bundleUrl, LC_DIR: dir, LC_NODE: process.execPath, LC_CODE: code },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const pid = await new Promise<number>((res) => parent.stdout.setEncoding('utf8').once('data', (line: string) => res(Number(line.trim()))));
      await expect(fileDurability(dir).open()).rejects.toMatchObject({ code: 'DATABASE_IN_USE', details: { pid } });
      process.kill(pid, 'SIGKILL');
      // Wait until it is a zombie: still a pid (kill 0 succeeds), state Z in /proc, and its other
      // threads gone too (the leader shows Z while the rest of the process may still be exiting).
      for (;;) {
        const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
        const threads = (await fsp.readdir(`/proc/${pid}/task`)).length;
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z') && threads <= 1) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(() => process.kill(pid, 0)).not.toThrow();
      const d = fileDurability(dir);
      await d.open();
      await d.close();
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('a LOCK naming a live but unrelated process (a reused pid) is taken over', async () => {
    const dir = await tmpDir();
    const d0 = fileDurability(dir);
    await d0.open();
    await d0.close();
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await new Promise((r) => other.once('spawn', r));
      const lock = { pid: other.pid, host: hostname(), token: 'feedfacefeedface', since: new Date().toISOString() };
      await fsp.writeFile(join(dir, 'LOCK'), `${JSON.stringify(lock)}\n`);
      const d = fileDurability(dir);
      await d.open();
      expect(JSON.parse(await fsp.readFile(join(dir, 'LOCK'), 'utf8'))).toMatchObject({ pid: process.pid });
      await d.close();
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('a writer SIGKILLed mid-stream loses nothing it saw durable, and leaves a whole log (3 rounds)', async () => {
    const dir = await tmpDir();
    const writer = `
const d = fileDurability(process.env.LC_DIR);
const r = await d.open();
let n = Number(r.nextLsn) - 1;
const payload = (k) => { const len = 1 + (k * 7919) % 3000; const b = new Uint8Array(len); for (let i = 0; i < len; i++) b[i] = (k + i) & 255; return b; };
const pump = async () => { for (;;) { n++; const { lsn, durable } = d.append(payload(n)); await durable; process.stdout.write(lsn + '\\n'); } };
for (let i = 0; i < 4; i++) void pump();`;
    const expectedPayload = (k: number): Uint8Array => {
      const len = 1 + ((k * 7919) % 3000);
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) b[i] = (k + i) & 255;
      return b;
    };
    let durable: bigint[] = [];
    for (const killAfter of [150, 40, 300]) {
      const proc = child(dir, writer);
      await proc.waitFor(killAfter);
      proc.kill('SIGKILL');
      await proc.exited;
      durable = durable.concat(proc.lines.filter((l) => l !== '').map((l) => BigInt(l)));

      const d = fileDurability(dir);
      const r = await d.open();
      const lsns = r.records.map((x) => x.lsn);
      // Contiguous from 1, every record whole and exactly what was appended.
      expect(lsns).toEqual(lsns.map((_, i) => BigInt(i + 1)));
      for (const rec of r.records) {
        const want = expectedPayload(Number(rec.lsn));
        expect(rec.payload.length).toBe(want.length);
        expect(Buffer.compare(Buffer.from(rec.payload), Buffer.from(want))).toBe(0);
      }
      const recovered = new Set(lsns);
      expect(durable.filter((l) => !recovered.has(l))).toEqual([]);
      await d.close();
    }
  }, 60_000);
});
