// CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for the file backend's record and snapshot
// checksums. Table-driven, one byte per step: small, portable (browser and Node), fast enough
// for commit-log frames; large snapshot images are checked once per open.

const TABLE = makeTable();

/**
 * CRC-32 of `bytes`. Pass a previous result as `crc` to continue over several pieces:
 * `crc32(b, crc32(a))` equals `crc32(a + b)`.
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode('123456789')) === 0xcbf43926;
 * ```
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) {
    c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  }
  return ~c >>> 0;
}

function makeTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
