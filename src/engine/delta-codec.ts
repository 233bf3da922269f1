// The commit-log record: one committed transaction's delta, versioned, in BSATN-style framing
// written with the package's BinaryWriter. Replay decodes it and re-applies the rows.
import { BinaryReader, BinaryWriter } from 'spacetimedb';
import type { TxDelta } from '../datastore/datastore.ts';
import { StorageError } from '../errors.ts';
import { utf8Encode } from '../host/text-codec.ts';

/** Format version of a commit-log record; bump on any layout change. */
export const DELTA_FORMAT = 1;
/** Format 1 followed by the call's idempotency id (written only for records that carry one). */
const DELTA_FORMAT_CALL_ID = 2;

/** What a record says about the transaction besides its rows. */
export interface TxInfo {
  /** Microseconds since the Unix epoch. */
  timestamp: bigint;
  /** The reducer or procedure that committed it ('' for system transactions). */
  reducer: string;
  /** Caller identity (u256). */
  sender: bigint;
  /** The idempotency id of the reducer call that committed it, if the caller gave one. */
  callId?: string;
}

/** Encodes a delta as a commit-log record. */
export function encodeDelta(delta: TxDelta, info: TxInfo): Uint8Array {
  let size = 64 + (info.callId?.length ?? 0) * 3;
  for (const t of delta.tables) {
    size += t.table.length * 3 + 16;
    for (const r of t.inserts) size += r.length + 4;
    for (const r of t.deletes) size += r.length + 4;
  }
  const w = scratch;
  w.clear();
  w.expandBuffer(size); // one growth for a large transaction, not one per doubling
  w.writeU8(info.callId === undefined ? DELTA_FORMAT : DELTA_FORMAT_CALL_ID);
  w.writeI64(info.timestamp);
  w.writeUInt8Array(utf8Name(info.reducer));
  w.writeBytes(senderBytes(info.sender));
  w.writeU32(delta.tables.length);
  for (const t of delta.tables) {
    w.writeUInt8Array(utf8Name(t.table));
    w.writeU32(t.inserts.length);
    for (const r of t.inserts) w.writeUInt8Array(r);
    w.writeU32(t.deletes.length);
    for (const r of t.deletes) w.writeUInt8Array(r);
  }
  w.writeU32(delta.sequences.length);
  for (const s of delta.sequences) {
    w.writeUInt8Array(utf8Name(s.table));
    w.writeU16(s.column);
    w.writeUInt8Array(utf8Encode(s.next.toString())); // as writeString, without a native encode
  }
  const runs = delta.scheduleRuns ?? [];
  w.writeU32(runs.length);
  for (const r of runs) {
    w.writeUInt8Array(utf8Name(r.table));
    w.writeU64(r.id);
    w.writeI64(r.at);
  }
  if (info.callId !== undefined) w.writeUInt8Array(utf8Encode(info.callId));
  const out = w.getBuffer().slice();
  // A transaction far larger than usual does not keep its buffer alive afterwards.
  if (w.buffer.capacity > SCRATCH_KEEP) scratch = new BinaryWriter(SCRATCH_INITIAL);
  return out;
}

const SCRATCH_INITIAL = 4096;
const SCRATCH_KEEP = 1 << 20;
/** One writer reused by every encode (encoding is synchronous; the record is copied out). */
let scratch = new BinaryWriter(SCRATCH_INITIAL);

/**
 * UTF-8 of table and reducer names (a string's BSATN is its UTF-8 length-prefixed, which
 * `writeUInt8Array` writes): a module has few, and every record repeats them.
 */
const names = new Map<string, Uint8Array>();
function utf8Name(name: string): Uint8Array {
  let bytes = names.get(name);
  if (!bytes) {
    bytes = utf8Encode(name);
    if (names.size >= 4096) names.clear(); // names of modules long gone
    names.set(name, bytes);
  }
  return bytes;
}

/** The u256 of the last sender seen, little-endian: consecutive calls mostly share their sender. */
let lastSender: { id: bigint; bytes: Uint8Array } | undefined;
function senderBytes(id: bigint): Uint8Array {
  if (lastSender?.id !== id) {
    const w = new BinaryWriter(32);
    w.writeU256(id);
    lastSender = { id, bytes: w.getBuffer().slice() };
  }
  return lastSender.bytes;
}

/** Decodes a commit-log record. Throws StorageError UNKNOWN_FORMAT / CORRUPT_LOG. */
export function decodeDelta(bytes: Uint8Array): { delta: TxDelta; info: TxInfo } {
  const r = new BinaryReader(bytes);
  const version = bytes[0];
  if (version !== DELTA_FORMAT && version !== DELTA_FORMAT_CALL_ID) {
    throw new StorageError(
      'UNKNOWN_FORMAT',
      `commit-log record format ${version} is not one this Lightcone reads (${DELTA_FORMAT} or ${DELTA_FORMAT_CALL_ID}): upgrade Lightcone to open this database`,
      { version },
    );
  }
  try {
    r.readU8();
    const info: TxInfo = { timestamp: r.readI64(), reducer: r.readString(), sender: r.readU256() };
    const tables: TxDelta['tables'] = [];
    for (let n = r.readU32(); n > 0; n--) {
      const table = r.readString();
      const inserts: Uint8Array[] = [];
      for (let k = r.readU32(); k > 0; k--) inserts.push(r.readUInt8Array());
      const deletes: Uint8Array[] = [];
      for (let k = r.readU32(); k > 0; k--) deletes.push(r.readUInt8Array());
      tables.push({ table, inserts, deletes });
    }
    const sequences: TxDelta['sequences'] = [];
    for (let n = r.readU32(); n > 0; n--) sequences.push({ table: r.readString(), column: r.readU16(), next: BigInt(r.readString()) });
    const scheduleRuns: NonNullable<TxDelta['scheduleRuns']> = [];
    for (let n = r.readU32(); n > 0; n--) scheduleRuns.push({ table: r.readString(), id: r.readU64(), at: r.readI64() });
    const delta: TxDelta = scheduleRuns.length ? { tables, sequences, scheduleRuns } : { tables, sequences };
    if (version === DELTA_FORMAT_CALL_ID) info.callId = r.readString();
    return { delta, info };
  } catch (e) {
    throw new StorageError('CORRUPT_LOG', `a commit-log record does not decode (${(e as Error).message})`, {}, { cause: e });
  }
}
