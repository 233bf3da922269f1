// A database image: one byte array holding everything needed to recreate a database elsewhere
// (its identity, owner, module bundle and the SQLite image), for `export`/`import` in the browser
// and in Node. Versioned: "LCDB", a format byte, a JSON header, then the SQLite bytes.
import { UsageError } from '../errors.ts';

/** Format version of a database image; bump on any layout change. */
export const IMAGE_FORMAT = 1;
const MAGIC = [0x4c, 0x43, 0x44, 0x42]; // "LCDB"

/** What an image says about its database besides the SQLite bytes. */
export interface ImageHeader {
  /** The exporting database's name (informational: an image may be imported under any name). */
  name: string;
  /** Database identity (hex). */
  identity: string;
  /** Owner identity (hex). */
  owner: string;
  /** Milliseconds since the Unix epoch when the database was first created. */
  createdAt: number;
  /** The module bundle the database runs. */
  module: string;
}

/** Encodes an image. */
export function encodeImage(header: ImageHeader, sqlite: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(9 + json.length + sqlite.length);
  out.set(MAGIC, 0);
  out[4] = IMAGE_FORMAT;
  new DataView(out.buffer).setUint32(5, json.length, true);
  out.set(json, 9);
  out.set(sqlite, 9 + json.length);
  return out;
}

/** Decodes an image; throws UsageError BAD_IMAGE / UNKNOWN_FORMAT for anything else. */
export function decodeImage(bytes: Uint8Array): { header: ImageHeader; sqlite: Uint8Array } {
  if (!(bytes instanceof Uint8Array) || bytes.length < 9 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new UsageError('BAD_IMAGE', 'this is not a Lightcone database image (it should start with "LCDB"): pass the bytes that export() returned');
  }
  if (bytes[4] !== IMAGE_FORMAT) {
    throw new UsageError('UNKNOWN_FORMAT', `database image format ${bytes[4]} is not one this Lightcone reads (${IMAGE_FORMAT}): upgrade Lightcone to import it`, { version: bytes[4] });
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, true);
  let header: ImageHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(9, 9 + length))) as ImageHeader;
  } catch (e) {
    throw new UsageError('BAD_IMAGE', `the database image's header does not parse (${(e as Error).message}): the file is damaged`);
  }
  if (typeof header.module !== 'string' || typeof header.identity !== 'string' || typeof header.owner !== 'string') {
    throw new UsageError('BAD_IMAGE', "the database image's header lacks its module, identity or owner: the file is damaged");
  }
  return { header, sqlite: bytes.slice(9 + length) };
}
