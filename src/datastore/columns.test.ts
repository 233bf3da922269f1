// A string column's decoder must read exactly what the package's BinaryReader.readString reads
// (it skips the TextDecoder that readString makes per string), and fail where it fails.
import { AlgebraicType, BinaryReader, BinaryWriter } from 'spacetimedb';
import { describe, expect, it } from 'vitest';
import { columnCodec } from './columns.ts';

const read = columnCodec(AlgebraicType.String, { types: [] }).read;

/** The BSATN of a string column holding `bytes` (u32 length, then the bytes), with `tail` after it. */
function framed(bytes: Uint8Array, tail = new Uint8Array([7, 7])): Uint8Array {
  const w = new BinaryWriter(16);
  w.writeU32(bytes.length);
  w.writeBytes(bytes);
  w.writeBytes(tail);
  return w.getBuffer().slice();
}

describe('string columns', () => {
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array()],
    ['short ASCII', new TextEncoder().encode('item-42')],
    ['128 ASCII bytes', new TextEncoder().encode('a'.repeat(128))],
    ['129 ASCII bytes', new TextEncoder().encode('b'.repeat(129))],
    ['non-ASCII', new TextEncoder().encode('café ☕ 𝄞')],
    ['a leading BOM (dropped, as the package does)', new Uint8Array([0xef, 0xbb, 0xbf, 0x41])],
    ['invalid UTF-8 (replaced)', new Uint8Array([0x41, 0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80])],
    ['NUL and DEL', new Uint8Array([0, 0x7f, 0x20])],
  ];
  for (const [name, bytes] of cases) {
    it(`${name}: the same string as readString, and the reader ends in the same place`, () => {
      const buf = framed(bytes);
      const ours = new BinaryReader(buf);
      const theirs = new BinaryReader(buf);
      expect(read(ours)).toBe(theirs.readString());
      expect(ours.offset).toBe(theirs.offset);
    });
  }

  it('a length past the end throws the package’s RangeError, leaving the reader where it leaves it', () => {
    const w = new BinaryWriter(8);
    w.writeU32(10);
    w.writeBytes(new Uint8Array([0x61, 0x62]));
    // A view into a larger buffer: the bytes after the view must not be read as the string's.
    const big = new Uint8Array(64).fill(0x61);
    big.set(w.getBuffer(), 0);
    const view = big.subarray(0, 6);
    const ours = new BinaryReader(view);
    const package_ = new BinaryReader(view);
    let theirs: unknown;
    try {
      package_.readString();
    } catch (e) {
      theirs = e;
    }
    expect(theirs).toBeInstanceOf(RangeError);
    expect(() => read(ours)).toThrow((theirs as Error).message);
    expect(ours.offset).toBe(package_.offset);
  });
});
