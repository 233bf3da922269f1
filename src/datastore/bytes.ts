// Byte-array helpers shared by the datastore and the layers above it.

/** Byte equality of two arrays (rows, BSATN blobs). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A string holding the bytes one per char: a cheap, exact Map key for a row or a BLOB. */
export function bytesKey(b: Uint8Array): string {
  // Chunks keep the argument count of fromCharCode under engines' limits.
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  return s;
}

/**
 * `b` itself when it spans its whole buffer, else a copy that does: for bytes kept long, where a
 * view into a larger buffer (a transaction's rows share chunks) would keep all of it alive.
 */
export function compactBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}
