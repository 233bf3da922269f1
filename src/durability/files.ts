// File durability for Node: a data directory with a FORMAT header, log segments appended with one
// positional write + fdatasync per batch, and snapshot/meta files replaced atomically (temp file,
// fsync, rename, directory fsync). Formats are in `file-format.ts`, the lock in `file-lock.ts`.
//
// Directory layout:
//   FORMAT                      magic + version of the directory layout
//   LOCK                        holder of the exclusive lock (pid, host)
//   log-<first lsn, 20 digits>.seg   log segments, oldest first; appends go to the newest
//   snapshot.bin                the newest snapshot
//   CLOSED                      lsn of the last record at the last clean close (meta format)
//   meta/<escaped key>.meta     metadata blobs
//   *.tmp                       unfinished atomic writes, removed on open

import { dirname, join, resolve } from 'node:path';
import { ClosedError, StorageError, type StorageErrorCode } from '../errors.ts';
import { type Durability, imageBytes, type LogRecord, type Recovered, type Snapshot, type SnapshotToWrite } from './durability.ts';
import {
  MAX_PAYLOAD_BYTES,
  SEGMENT_HEADER_BYTES,
  checkDirHeader,
  decodeMeta,
  decodeSegmentHeader,
  decodeSnapshot,
  encodeDirHeader,
  encodeFrames,
  encodeMeta,
  encodeSegmentHeader,
  encodeSnapshotHeader,
  scanSegment,
} from './file-format.ts';
import { LOCK_FILE, acquireLock, type FileLock } from './file-lock.ts';
import { type DurabilityFileHandle, type DurabilityFs, errorCode, isCode, nodeFileSystem, syncDir, unlinkIfExists, writeAll } from './file-system.ts';
import { createDurability, type DurabilityBackend } from './group-commit.ts';

/** Options of `fileDurability`. */
export interface FileDurabilityOptions {
  /**
   * Fsync log writes, snapshots, meta files and directory entries (default true). Without it a
   * process crash loses nothing, but an OS crash or power loss may lose recent commits.
   */
  fsync?: boolean;
  /** The file system to use (default `node:fs/promises`); a test seam for injecting failures. */
  fs?: DurabilityFs;
}

/**
 * Durability in a data directory on the local file system (Node only). One directory per
 * database, locked by one instance at a time.
 *
 * @example
 * ```ts
 * const d = fileDurability('.lightcone/bank');
 * const { snapshot, records } = await d.open();   // DATABASE_IN_USE if another process has it
 * await d.append(new TextEncoder().encode('tx 1')).durable;
 * await d.close();
 * ```
 */
export function fileDurability(dir: string, opts: FileDurabilityOptions = {}): Durability {
  return createDurability(new FileBackend(resolve(dir), opts));
}

/**
 * The bare backend behind `fileDurability` (without the group-commit core), for a core that runs
 * elsewhere: the Node engine thread keeps the files, and their lock, on the main thread.
 */
export function fileBackend(dir: string, opts: FileDurabilityOptions = {}): DurabilityBackend {
  return new FileBackend(resolve(dir), opts);
}

const FORMAT_FILE = 'FORMAT';
const SNAPSHOT_FILE = 'snapshot.bin';
/**
 * Written at each clean close: the lsn of the last record then. Every record up to it was durable
 * and whole, so a bad frame at or below it is damage (CORRUPT_LOG), never a torn write to cut: a
 * torn write only happens to a write still in flight when the process died, which a clean close
 * rules out. Without it (after a crash) the last write's frames cannot be told from a torn write.
 */
const CLOSED_FILE = 'CLOSED';
const META_DIR = 'meta';
const SEGMENT_PATTERN = /^log-(\d{20})\.seg$/;

interface Segment {
  name: string;
  firstLsn: bigint;
}

interface Active {
  handle: DurabilityFileHandle;
  segment: Segment;
  /** Length of the segment's whole, durable prefix: appends write here. */
  size: number;
  /** A failed write may have left bytes after `size` that could not be cut yet. */
  dirty: boolean;
}

class FileBackend implements DurabilityBackend {
  readonly label: string;
  #dir: string;
  readonly #fs: DurabilityFs;
  readonly #fsync: boolean;
  #lock: FileLock | undefined;
  /** Segments on disk, oldest first; the last one is `#active`'s. */
  #segments: Segment[] = [];
  #active: Active | undefined;
  /** LSN of the last record in the log (or the snapshot's, when the log after it is empty). */
  #lastLsn = 0n;
  #tmpCounter = 0;

  constructor(dir: string, opts: FileDurabilityOptions) {
    this.#dir = dir;
    this.label = `file database "${dir}"`;
    this.#fs = opts.fs ?? nodeFileSystem;
    this.#fsync = opts.fsync ?? true;
  }

  async open(): Promise<Recovered> {
    const fs = this.#fs;
    try {
      await fs.mkdir(this.#dir, { recursive: true });
      this.#dir = await fs.realpath(this.#dir);
    } catch (error) {
      throw fileError('OPEN_FAILED', `could not create or open the data directory "${this.#dir}"`, error);
    }
    this.#lock = await this.#acquireLock();
    try {
      return await this.#recover();
    } catch (error) {
      await this.#closeActive().catch(() => {}); // the recovery error is the one to report, not a failed close on the way out
      await this.#lock.release();
      this.#lock = undefined;
      throw error instanceof StorageError ? error : fileError('OPEN_FAILED', `could not open ${this.label}`, error);
    }
  }

  async appendBatch(records: readonly LogRecord[]): Promise<void> {
    const active = this.#activeSegment();
    const first = records[0]!.lsn;
    const last = records[records.length - 1]!.lsn;
    for (const r of records) {
      if (r.payload.length > MAX_PAYLOAD_BYTES) {
        throw new StorageError('RECORD_TOO_LARGE', `record lsn ${r.lsn} has ${r.payload.length} bytes; a log record holds at most 4 GiB`);
      }
    }
    if (first !== this.#lastLsn + 1n) {
      throw new StorageError('WRITE_FAILED', `internal error: lsn ${first} does not follow the log of ${this.label} (ends at ${this.#lastLsn})`);
    }
    const bytes = encodeFrames(records);
    try {
      await this.#repair(active);
      await writeAll(active.handle, bytes, active.size);
      if (this.#fsync) await active.handle.datasync();
    } catch (error) {
      // Cut the partial write now, so that the next batch lands right after the last good one.
      active.dirty = true;
      await this.#repair(active).catch(() => {}); // `dirty` stays set: the next append or snapshot cuts first
      throw fileError(writeCode(error), `could not append lsn ${first}..${last} to ${join(this.#dir, active.segment.name)}`, error, writeAdvice(error));
    }
    active.size += bytes.length;
    this.#lastLsn = last;
  }

  async writeSnapshot(snapshot: SnapshotToWrite): Promise<void> {
    const image = imageBytes(snapshot.image);
    const active = this.#activeSegment();
    await this.#repair(active);
    const header = encodeSnapshotHeader(snapshot.lsn, image);
    await this.#writeFileAtomic(join(this.#dir, SNAPSHOT_FILE), [header, image]);
    // The snapshot is durable. What follows only reclaims space, and it is crash-safe in any
    // state: recovery skips records <= the snapshot's lsn and segments they fully cover. A
    // failure here is retried by the next snapshot (and by open), so it does not fail this call.
    try {
      if (this.#lastLsn >= active.segment.firstLsn) await this.#rotate(this.#lastLsn + 1n);
      await this.#dropSegmentsUpTo(snapshot.lsn);
    } catch {
      // Left for the next snapshot or open.
    }
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    const file = join(this.#dir, META_DIR, metaFileName(key));
    let bytes: Uint8Array;
    try {
      bytes = plain(await this.#fs.readFile(file));
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined;
      throw fileError('READ_FAILED', `could not read meta "${key}" of ${this.label}`, error);
    }
    return decodeMeta(bytes, file).slice();
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    const dir = join(this.#dir, META_DIR);
    try {
      await this.#fs.mkdir(dir, { recursive: true });
    } catch (error) {
      throw fileError(writeCode(error), `could not create ${dir}`, error, writeAdvice(error));
    }
    await this.#writeFileAtomic(join(dir, metaFileName(key)), [encodeMeta(value)]);
  }

  async close(): Promise<void> {
    try {
      const clean = this.#active !== undefined && !this.#active.dirty;
      await this.#closeActive();
      if (clean) {
        const lsn = new Uint8Array(8);
        new DataView(lsn.buffer).setBigUint64(0, this.#lastLsn, true);
        await this.#writeFileAtomic(join(this.#dir, CLOSED_FILE), [encodeMeta(lsn)]).catch(() => {
          // Only a weaker check of the log's last write at the next open; the data is durable.
        });
      }
    } finally {
      await this.#lock?.release();
      this.#lock = undefined;
    }
  }

  async destroy(opened: boolean): Promise<void> {
    const fs = this.#fs;
    if (!opened) {
      try {
        this.#dir = await fs.realpath(this.#dir);
      } catch (error) {
        if (isCode(error, 'ENOENT')) return; // nothing stored
        throw fileError('DESTROY_FAILED', `could not open the data directory "${this.#dir}"`, error);
      }
      this.#lock = await this.#acquireLock();
    }
    try {
      await this.#closeActive();
      // FORMAT goes first: a destroy cut short leaves a directory that refuses to open (and says
      // why) rather than one that opens as an older state of the database.
      await unlinkIfExists(fs, join(this.#dir, FORMAT_FILE));
      const names = await fs.readdir(this.#dir);
      for (const name of names) {
        if (name === SNAPSHOT_FILE || name === CLOSED_FILE || SEGMENT_PATTERN.test(name) || name.endsWith('.tmp')) {
          await unlinkIfExists(fs, join(this.#dir, name));
        }
      }
      await this.#removeMetaDir();
    } catch (error) {
      throw fileError('DESTROY_FAILED', `could not remove every file of ${this.label}`, error);
    } finally {
      await this.#lock?.release();
      this.#lock = undefined;
    }
    try {
      await fs.rmdir(this.#dir);
    } catch {
      // Not empty (files of someone else) or already gone: leave it.
    }
  }

  async #acquireLock(): Promise<FileLock> {
    try {
      return await acquireLock(this.#fs, this.#dir);
    } catch (error) {
      throw fileError('LOCK_FAILED', `could not take the lock of ${this.label}`, error);
    }
  }

  // ── recovery ──────────────────────────────────────────────────────────────

  async #recover(): Promise<Recovered> {
    const fs = this.#fs;
    const names = await fs.readdir(this.#dir);
    await this.#checkFormat(names);
    for (const name of names) {
      // LOCK.*.tmp belongs to a process trying to take the lock right now.
      if (name.endsWith('.tmp') && !name.startsWith(`${LOCK_FILE}.`)) await unlinkIfExists(fs, join(this.#dir, name));
    }
    await this.#removeMetaTemps();

    const snapshot = names.includes(SNAPSHOT_FILE) ? await this.#readSnapshot() : undefined;
    const base = snapshot?.lsn ?? 0n;
    const closedAt = names.includes(CLOSED_FILE) ? await this.#readClosedLsn() : undefined;

    const segments = names
      .map((name) => {
        const m = SEGMENT_PATTERN.exec(name);
        return m ? { name, firstLsn: BigInt(m[1]!) } : undefined;
      })
      .filter((s): s is Segment => s !== undefined)
      .sort((a, b) => (a.firstLsn < b.firstLsn ? -1 : a.firstLsn > b.firstLsn ? 1 : 0));

    // An empty newest segment beside older ones is the leftover of a rotation that failed after
    // its rename (and whose undo failed too): appends went on in the segment before it. Judging
    // coverage by its name would delete that segment's newer records, so it goes first.
    while (segments.length > 1) {
      const last = segments[segments.length - 1]!;
      if ((await fs.stat(join(this.#dir, last.name))).size > SEGMENT_HEADER_BYTES) break;
      await unlinkIfExists(fs, join(this.#dir, last.name));
      segments.pop();
    }

    // Segments that the snapshot fully covers (a crash came between snapshot and cleanup).
    let start = 0;
    while (start + 1 < segments.length && segments[start + 1]!.firstLsn <= base + 1n) start++;
    for (const s of segments.slice(0, start)) await unlinkIfExists(fs, join(this.#dir, s.name));
    const live = segments.slice(start);

    const records: LogRecord[] = [];
    let truncatedTail = false;
    let expected = live[0]?.firstLsn ?? base + 1n;
    if (expected > base + 1n) {
      throw new StorageError(
        'CORRUPT_LOG',
        `the commit log of ${this.label} is corrupt: records ${base + 1n}..${expected - 1n} are missing (the oldest segment is ${live[0]!.name}). Restore the directory from a backup`,
        { dir: this.#dir, missingFrom: base + 1n, missingTo: expected - 1n },
      );
    }
    let tail: { segment: Segment; size: number } | undefined;
    for (let i = 0; i < live.length; i++) {
      const segment = live[i]!;
      const file = join(this.#dir, segment.name);
      const bytes = plain(await fs.readFile(file));
      const firstLsn = decodeSegmentHeader(bytes, file);
      if (firstLsn !== segment.firstLsn || firstLsn !== expected) {
        throw new StorageError('CORRUPT_LOG', `the commit log of ${this.label} is corrupt: ${file} starts at lsn ${firstLsn}, lsn ${expected} was expected. Restore the directory from a backup`, {
          file,
          offset: 0,
        });
      }
      const isLast = i === live.length - 1;
      const scan = scanSegment(bytes, file, firstLsn, isLast);
      for (const r of scan.records) if (r.lsn > base) records.push(r);
      expected = firstLsn + BigInt(scan.records.length);
      if (scan.torn) {
        const firstBad = firstLsn + BigInt(scan.records.length);
        if (closedAt !== undefined && firstBad <= closedAt) {
          throw new StorageError(
            'CORRUPT_LOG',
            `the commit log is corrupt: ${file} at byte offset ${scan.validBytes} is not a whole record (lsn ${firstBad}), but the database was closed cleanly with records up to lsn ${closedAt}, so this is damage, not an interrupted write. Restore the directory from a backup; the records before that offset are intact`,
            { file, offset: scan.validBytes, lsn: firstBad, closedAt },
          );
        }
        await this.#cut(file, scan.validBytes);
        truncatedTail = true;
      }
      if (isLast) tail = { segment, size: scan.validBytes };
    }

    this.#segments = live;
    this.#lastLsn = expected - 1n > base ? expected - 1n : base;
    if (tail && expected - 1n >= base) {
      const handle = await fs.open(join(this.#dir, tail.segment.name), 'r+');
      this.#active = { handle, segment: tail.segment, size: tail.size, dirty: false };
    } else {
      // A new directory, or a log that ends before the snapshot: appends start a new segment.
      await this.#rotate(base + 1n);
    }
    return { snapshot, records, nextLsn: this.#lastLsn + 1n, truncatedTail };
  }

  async #checkFormat(names: string[]): Promise<void> {
    const file = join(this.#dir, FORMAT_FILE);
    if (names.includes(FORMAT_FILE)) {
      checkDirHeader(plain(await this.#fs.readFile(file)), file);
      return;
    }
    const ours = names.filter((n) => n === SNAPSHOT_FILE || n === META_DIR || SEGMENT_PATTERN.test(n));
    if (ours.length > 0) {
      throw new StorageError(
        'UNKNOWN_FORMAT',
        `"${this.#dir}" holds database files (${ours.slice(0, 3).join(', ')}) but no ${FORMAT_FILE} header: an interrupted destroy, or not a Lightcone directory. Destroy it again or restore it from a backup`,
        { dir: this.#dir },
      );
    }
    await this.#writeFileAtomic(file, [encodeDirHeader()]);
  }

  async #readSnapshot(): Promise<Snapshot> {
    const file = join(this.#dir, SNAPSHOT_FILE);
    const { lsn, image } = decodeSnapshot(plain(await this.#fs.readFile(file)), file);
    return { lsn, image };
  }

  /** The lsn of the CLOSED file; undefined when it is unreadable (then it only does not help). */
  async #readClosedLsn(): Promise<bigint | undefined> {
    const file = join(this.#dir, CLOSED_FILE);
    try {
      const value = decodeMeta(plain(await this.#fs.readFile(file)), file);
      return value.length === 8 ? new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Cuts a torn tail off a segment, durably. */
  async #cut(file: string, length: number): Promise<void> {
    const handle = await this.#fs.open(file, 'r+');
    try {
      await handle.truncate(length);
      if (this.#fsync) await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  // ── segments ──────────────────────────────────────────────────────────────

  #activeSegment(): Active {
    if (!this.#active) throw new ClosedError(`${this.label} has no open log segment: it is closed; open a new instance to continue`, { storage: this.label });
    return this.#active;
  }

  /** Undoes a failed write's leftovers before anything else is written to the segment. */
  async #repair(active: Active): Promise<void> {
    if (!active.dirty) return;
    await active.handle.truncate(active.size);
    if (this.#fsync) await active.handle.datasync();
    active.dirty = false;
  }

  /**
   * Starts a new segment whose first record will be `firstLsn` and makes it the active one. The
   * header is written and synced under a temp name, then renamed, so a segment is never half made.
   */
  async #rotate(firstLsn: bigint): Promise<void> {
    const fs = this.#fs;
    const segment = { name: segmentName(firstLsn), firstLsn };
    const path = join(this.#dir, segment.name);
    const tmp = `${path}.tmp`;
    const handle = await fs.open(tmp, 'w+');
    let renamed = false;
    try {
      const header = encodeSegmentHeader(firstLsn);
      await writeAll(handle, header, 0);
      if (this.#fsync) await handle.sync();
      await fs.rename(tmp, path);
      renamed = true;
      if (this.#fsync) await syncDir(fs, this.#dir);
    } catch (error) {
      // Best-effort cleanup: the write error below is what the caller must see (open removes a *.tmp).
      await handle.close().catch(() => {});
      await unlinkIfExists(fs, renamed ? path : tmp).catch(() => {});
      throw fileError(writeCode(error), `could not start log segment ${path}`, error, writeAdvice(error));
    }
    await this.#closeActive();
    this.#active = { handle, segment, size: SEGMENT_HEADER_BYTES, dirty: false };
    this.#segments = [...this.#segments.filter((s) => s.name !== segment.name), segment];
  }

  /** Deletes the oldest segments while every record in them is <= `lsn`; never the active one. */
  async #dropSegmentsUpTo(lsn: bigint): Promise<void> {
    while (this.#segments.length > 1) {
      const [oldest, next] = this.#segments as [Segment, Segment];
      if (next.firstLsn - 1n > lsn) break;
      await unlinkIfExists(this.#fs, join(this.#dir, oldest.name));
      this.#segments.shift();
    }
  }

  async #closeActive(): Promise<void> {
    const active = this.#active;
    this.#active = undefined;
    await active?.handle.close();
  }

  // ── whole files ───────────────────────────────────────────────────────────

  /** Replaces `path` with `parts` atomically: temp file, fsync, rename, directory fsync. */
  async #writeFileAtomic(path: string, parts: Uint8Array[]): Promise<void> {
    const fs = this.#fs;
    const tmp = `${path}.${++this.#tmpCounter}.tmp`;
    try {
      const handle = await fs.open(tmp, 'w');
      try {
        let position = 0;
        for (const part of parts) {
          await writeAll(handle, part, position);
          position += part.length;
        }
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, path);
      if (this.#fsync) await syncDir(fs, dirname(path));
    } catch (error) {
      await unlinkIfExists(fs, tmp).catch(() => {}); // best-effort: open removes a leftover *.tmp
      throw fileError(writeCode(error), `could not write ${path}`, error, writeAdvice(error));
    }
  }

  async #removeMetaTemps(): Promise<void> {
    const dir = join(this.#dir, META_DIR);
    for (const name of await this.#readdirIfExists(dir)) {
      if (name.endsWith('.tmp')) await unlinkIfExists(this.#fs, join(dir, name));
    }
  }

  async #removeMetaDir(): Promise<void> {
    const dir = join(this.#dir, META_DIR);
    for (const name of await this.#readdirIfExists(dir)) {
      if (name.endsWith('.meta') || name.endsWith('.tmp')) await unlinkIfExists(this.#fs, join(dir, name));
    }
    await this.#fs.rmdir(dir).catch(() => {}); // not empty: files of someone else stay
  }

  async #readdirIfExists(dir: string): Promise<string[]> {
    try {
      return await this.#fs.readdir(dir);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return [];
      throw error;
    }
  }
}

function segmentName(firstLsn: bigint): string {
  return `log-${firstLsn.toString().padStart(20, '0')}.seg`;
}

/**
 * A file name for a meta key that is safe on every file system: lower-case letters, digits, `-`
 * and `_` stay, everything else (upper case too: case-insensitive file systems) is %XX-escaped.
 */
function metaFileName(key: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(key)) {
    const c = String.fromCharCode(byte);
    out += /[a-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `${out}.meta`;
}

/** A plain Uint8Array view of bytes read from disk (Node hands out Buffers). */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function writeCode(error: unknown): StorageErrorCode {
  return isCode(error, 'ENOSPC', 'EDQUOT') ? 'DISK_FULL' : 'WRITE_FAILED';
}

function writeAdvice(error: unknown): string {
  return isCode(error, 'ENOSPC', 'EDQUOT') ? 'free disk space; later appends retry' : 'check the disk and permissions; later appends retry';
}

function fileError(code: StorageErrorCode, context: string, error: unknown, advice?: string): StorageError {
  if (error instanceof StorageError) return error;
  const text = error instanceof Error ? error.message : String(error);
  return new StorageError(code, `${context}: ${text}${advice ? `: ${advice}` : ''}`, { errno: errorCode(error) }, { cause: error });
}
