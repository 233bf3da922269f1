// The file backend's on-disk formats: the directory's FORMAT header, log segments (header, then
// record frames), snapshot and meta files. Pure functions over bytes, so the rules that decide
// between "torn tail: cut it" and "corruption: refuse to open" are tested without a disk.
//
// Every file starts with a 4-byte magic and a u32 format version (little-endian throughout).
// A log frame is: u32 payload length · u32 CRC-32 · u64 lsn · u32 index in its batch · payload,
// the CRC covering lsn, index and payload. The index tells which frames one storage write
// carried: a write may reach the disk in any order of pages until its fsync returns, so a bad
// frame followed only by frames of its own batch is a torn tail, while a bad frame followed by a
// frame of a later batch (written after this one was fsynced) is corruption.

import { StorageError, type StorageErrorCode } from '../errors.ts';
import { crc32 } from './crc32.ts';
import type { LogRecord } from './durability.ts';

/** Version of every file format below; bump it (and keep a reader for the old one) on any change. */
export const FILE_FORMAT_VERSION = 1;

/** Magic of the FORMAT file. */
export const DIR_MAGIC = 'LCDB';
/** Magic of a log segment. */
export const SEGMENT_MAGIC = 'LCLG';
/** Magic of the snapshot file. */
export const SNAPSHOT_MAGIC = 'LCSN';
/** Magic of a meta file. */
export const META_MAGIC = 'LCMT';

/** Size of the FORMAT file: magic + version. */
export const DIR_HEADER_BYTES = 8;
/** Segment header: magic, version, u64 first lsn. */
export const SEGMENT_HEADER_BYTES = 16;
/** Frame header: length, crc, lsn, index in batch. */
export const FRAME_HEADER_BYTES = 20;
/**
 * Snapshot header: magic, version, u64 lsn, u64 image length, u32 image crc, u32 header crc.
 * Version 2 checksums the header itself (bytes 0..27): recovery trusts the lsn to decide which
 * log records the image already holds, so a damaged lsn must be detected, not believed.
 * Version 1 (reserved zeros instead of the header crc) is still read.
 */
export const SNAPSHOT_HEADER_BYTES = 32;
/** Version of the snapshot file; the other files are at `FILE_FORMAT_VERSION`. */
export const SNAPSHOT_FORMAT_VERSION = 2;
/** Meta header: magic, version, u32 length, u32 crc. */
export const META_HEADER_BYTES = 16;

/** Largest payload a frame can carry (u32 length). */
export const MAX_PAYLOAD_BYTES = 0xffff_ffff;

/** The FORMAT file of a new data directory. */
export function encodeDirHeader(): Uint8Array {
  const out = new Uint8Array(DIR_HEADER_BYTES);
  writeMagicAndVersion(out, DIR_MAGIC);
  return out;
}

/** Checks the FORMAT file; throws `UNKNOWN_FORMAT` for anything this build cannot read. */
export function checkDirHeader(bytes: Uint8Array, file: string): void {
  checkMagicAndVersion(bytes, DIR_HEADER_BYTES, DIR_MAGIC, file, 'a Lightcone data directory');
}

/** Header of a log segment whose first record will be `firstLsn`. */
export function encodeSegmentHeader(firstLsn: bigint): Uint8Array {
  const out = new Uint8Array(SEGMENT_HEADER_BYTES);
  writeMagicAndVersion(out, SEGMENT_MAGIC);
  view(out).setBigUint64(8, firstLsn, true);
  return out;
}

/** Reads a segment header and returns its first lsn. */
export function decodeSegmentHeader(bytes: Uint8Array, file: string): bigint {
  checkMagicAndVersion(bytes, SEGMENT_HEADER_BYTES, SEGMENT_MAGIC, file, 'a Lightcone log segment');
  return view(bytes).getBigUint64(8, true);
}

/** All frames of one storage write, back to back in one buffer. */
export function encodeFrames(records: readonly LogRecord[]): Uint8Array {
  let size = 0;
  for (const r of records) size += FRAME_HEADER_BYTES + r.payload.length;
  const out = new Uint8Array(size);
  const dv = view(out);
  let off = 0;
  records.forEach((r, index) => {
    const len = r.payload.length;
    dv.setUint32(off, len, true);
    dv.setBigUint64(off + 8, r.lsn, true);
    dv.setUint32(off + 16, index, true);
    out.set(r.payload, off + FRAME_HEADER_BYTES);
    dv.setUint32(off + 4, crc32(out.subarray(off + 8, off + FRAME_HEADER_BYTES + len)), true);
    off += FRAME_HEADER_BYTES + len;
  });
  return out;
}

/** What `scanSegment` found in one segment file. */
export interface SegmentScan {
  /** Whole, checked records, in file order. Payloads are views into the scanned bytes. */
  records: LogRecord[];
  /** Byte length of the segment's valid prefix (header + whole frames). */
  validBytes: number;
  /** True when bytes after `validBytes` are a torn tail (to be cut). */
  torn: boolean;
}

/**
 * Reads the frames of one segment. `firstLsn` is the lsn its first frame must carry. A bad frame
 * in the last segment that no frame of a later write follows is a torn tail; any other bad
 * frame, and any frame whose lsn breaks the sequence, is a `CORRUPT_LOG` error naming the file
 * and the byte offset.
 */
export function scanSegment(bytes: Uint8Array, file: string, firstLsn: bigint, isLast: boolean): SegmentScan {
  const records: LogRecord[] = [];
  let off = SEGMENT_HEADER_BYTES;
  let expected = firstLsn;
  while (off < bytes.length) {
    const frame = readFrame(bytes, off);
    if (frame) {
      if (frame.lsn !== expected) {
        throw corruptLog(file, off, `holds lsn ${frame.lsn} where lsn ${expected} belongs`);
      }
      records.push({ lsn: frame.lsn, payload: frame.payload });
      off = frame.end;
      expected++;
      continue;
    }
    if (!isLast) throw corruptLog(file, off, 'is not a whole record, and later log segments follow');
    const later = findLaterWrite(bytes, off, expected);
    if (later !== undefined) {
      throw corruptLog(file, off, `is not a whole record (lsn ${expected}), but a later write follows at offset ${later}`);
    }
    return { records, validBytes: off, torn: true };
  }
  return { records, validBytes: off, torn: false };
}

/** The snapshot file's header; the image follows it unchanged. */
export function encodeSnapshotHeader(lsn: bigint, image: Uint8Array): Uint8Array {
  const out = new Uint8Array(SNAPSHOT_HEADER_BYTES);
  writeMagicAndVersion(out, SNAPSHOT_MAGIC, SNAPSHOT_FORMAT_VERSION);
  const dv = view(out);
  dv.setBigUint64(8, lsn, true);
  dv.setBigUint64(16, BigInt(image.length), true);
  dv.setUint32(24, crc32(image), true);
  dv.setUint32(28, crc32(out.subarray(0, 28)), true);
  return out;
}

/** Reads a whole snapshot file; throws `UNKNOWN_FORMAT` or `CORRUPT_SNAPSHOT`. */
export function decodeSnapshot(bytes: Uint8Array, file: string): { lsn: bigint; image: Uint8Array } {
  const version = checkMagicAndVersion(bytes, SNAPSHOT_HEADER_BYTES, SNAPSHOT_MAGIC, file, 'a Lightcone snapshot', [1, SNAPSHOT_FORMAT_VERSION]);
  const dv = view(bytes);
  if (version >= 2 && crc32(bytes.subarray(0, 28)) !== dv.getUint32(28, true)) {
    throw corruptFile('CORRUPT_SNAPSHOT', file, 'has a damaged header (it fails its header checksum)');
  }
  const lsn = dv.getBigUint64(8, true);
  const length = dv.getBigUint64(16, true);
  if (length !== BigInt(bytes.length - SNAPSHOT_HEADER_BYTES)) {
    throw corruptFile('CORRUPT_SNAPSHOT', file, `holds ${bytes.length - SNAPSHOT_HEADER_BYTES} image bytes, its header says ${length}`);
  }
  const image = bytes.subarray(SNAPSHOT_HEADER_BYTES);
  if (crc32(image) !== dv.getUint32(24, true)) throw corruptFile('CORRUPT_SNAPSHOT', file, 'fails its checksum');
  return { lsn, image };
}

/** A whole meta file: header and value. */
export function encodeMeta(value: Uint8Array): Uint8Array {
  const out = new Uint8Array(META_HEADER_BYTES + value.length);
  writeMagicAndVersion(out, META_MAGIC);
  const dv = view(out);
  dv.setUint32(8, value.length, true);
  dv.setUint32(12, crc32(value), true);
  out.set(value, META_HEADER_BYTES);
  return out;
}

/** Reads a meta file; throws `UNKNOWN_FORMAT` or `CORRUPT_META`. */
export function decodeMeta(bytes: Uint8Array, file: string): Uint8Array {
  checkMagicAndVersion(bytes, META_HEADER_BYTES, META_MAGIC, file, 'a Lightcone meta file');
  const dv = view(bytes);
  const value = bytes.subarray(META_HEADER_BYTES);
  if (dv.getUint32(8, true) !== value.length || crc32(value) !== dv.getUint32(12, true)) {
    throw corruptFile('CORRUPT_META', file, 'fails its length or checksum check');
  }
  return value;
}

interface Frame {
  lsn: bigint;
  index: number;
  payload: Uint8Array;
  end: number;
}

/** The whole, checksummed frame at `off`, or undefined. */
function readFrame(bytes: Uint8Array, off: number): Frame | undefined {
  if (off + FRAME_HEADER_BYTES > bytes.length) return undefined;
  const dv = view(bytes);
  const len = dv.getUint32(off, true);
  const end = off + FRAME_HEADER_BYTES + len;
  if (end > bytes.length) return undefined;
  if (crc32(bytes.subarray(off + 8, end)) !== dv.getUint32(off + 4, true)) return undefined;
  return {
    lsn: dv.getBigUint64(off + 8, true),
    index: dv.getUint32(off + 16, true),
    payload: bytes.subarray(off + FRAME_HEADER_BYTES, end),
    end,
  };
}

/**
 * Looks past a bad frame (lsn `expected` at `from`) for a whole frame of a later write: one whose
 * batch started after `expected`. Returns its offset, or undefined when only garbage and frames
 * of the bad frame's own (unfinished) write follow.
 */
function findLaterWrite(bytes: Uint8Array, from: number, expected: bigint): number | undefined {
  const dv = view(bytes);
  const lo = Number(expected);
  const hi = lo + Math.ceil((bytes.length - from) / FRAME_HEADER_BYTES);
  let pos = from + 1;
  while (pos + FRAME_HEADER_BYTES <= bytes.length) {
    // Cheap filter before the checksum: the lsn field must be plausible.
    const lsn = dv.getUint32(pos + 8, true) + dv.getUint32(pos + 12, true) * 2 ** 32;
    if (lsn >= lo && lsn <= hi) {
      const frame = readFrame(bytes, pos);
      if (frame) {
        if (frame.lsn - BigInt(frame.index) > expected) return pos;
        pos = frame.end;
        continue;
      }
    }
    pos++;
  }
  return undefined;
}

function writeMagicAndVersion(out: Uint8Array, magic: string, version = FILE_FORMAT_VERSION): void {
  for (let i = 0; i < 4; i++) out[i] = magic.charCodeAt(i);
  view(out).setUint32(4, version, true);
}

/** Checks magic and version (one of `readable`); returns the version. */
function checkMagicAndVersion(bytes: Uint8Array, minBytes: number, magic: string, file: string, what: string, readable: readonly number[] = [FILE_FORMAT_VERSION]): number {
  const actual = String.fromCharCode(...bytes.subarray(0, 4));
  if (bytes.length < minBytes || actual !== magic) {
    throw new StorageError('UNKNOWN_FORMAT', `${file} is not ${what} (expected magic "${magic}" and at least ${minBytes} bytes): was the directory written by another program?`, {
      file,
      magic: actual,
    });
  }
  const version = view(bytes).getUint32(4, true);
  if (!readable.includes(version)) {
    const newest = Math.max(...readable);
    throw new StorageError(
      'UNKNOWN_FORMAT',
      `${file} has format version ${version}, this Lightcone reads version ${readable.join(' and ')}: ${
        version > newest && version < 1000
          ? 'upgrade Lightcone to open it (or, if no newer Lightcone wrote it, the file is damaged: restore the directory from a backup)'
          : 'the file is damaged or from an unreleased build: restore the directory from a backup'
      }`,
      { file, version, supported: readable },
    );
  }
  return version;
}

function corruptLog(file: string, offset: number, what: string): StorageError {
  return new StorageError('CORRUPT_LOG', `the commit log is corrupt: ${file} at byte offset ${offset} ${what}. Restore the directory from a backup; the records before that offset are intact`, {
    file,
    offset,
  });
}

function corruptFile(code: StorageErrorCode, file: string, what: string): StorageError {
  return new StorageError(code, `${file} ${what}: the file is damaged; restore the directory from a backup`, { file });
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
