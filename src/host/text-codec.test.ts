// The module's TextEncoder/TextDecoder must give what the platform's give, byte for byte and error
// for error: each case runs both and compares.
import { describe, expect, it } from 'vitest';
import { ModuleTextDecoder, ModuleTextEncoder, utf8Decode, utf8Encode } from './text-codec.ts';

const ascii = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(32 + (i % 95))).join('');
const STRINGS = [
  '',
  'a',
  'item-42',
  '\0\x01\x7f',
  '\x80',
  ascii(127),
  ascii(128),
  ascii(129),
  ascii(1000),
  `${ascii(127)}é`,
  `${ascii(128)}é`,
  'héllo',
  '日本語',
  'emoji 😀 ok',
  'lone \ud800 high',
  'lone \udc00 low',
  'reversed \udc00\ud800 pair',
  '\ud800',
  `${ascii(50)}\udfff`,
];

const bytes = (...xs: number[]) => new Uint8Array(xs);
const BYTES: Uint8Array[] = [
  bytes(),
  ...STRINGS.map((s) => new TextEncoder().encode(s)),
  bytes(0xef, 0xbb, 0xbf, 0x61, 0x62), // BOM, then ASCII
  bytes(0xef, 0xbb, 0xbf),
  bytes(0x61, 0xff, 0x62), // invalid byte
  bytes(0x61, 0xc3), // truncated sequence at the end
  bytes(0xed, 0xa0, 0x80), // an encoded surrogate (invalid in UTF-8)
  bytes(0xc0, 0x80), // overlong NUL
  new Uint8Array(129).fill(0x41),
];

const outcome = (f: () => unknown): unknown => {
  try {
    return { value: f() };
  } catch (e) {
    return { threw: (e as Error).constructor.name };
  }
};

describe('utf8Encode / ModuleTextEncoder', () => {
  it('encodes every string as the native TextEncoder does', () => {
    const native = new TextEncoder();
    const ours = new ModuleTextEncoder();
    for (const s of STRINGS) {
      expect(utf8Encode(s), JSON.stringify(s)).toEqual(native.encode(s));
      expect(ours.encode(s), JSON.stringify(s)).toEqual(native.encode(s));
    }
  });

  it('returns a Uint8Array of its own whole buffer', () => {
    const out = new ModuleTextEncoder().encode('abc');
    expect(out).toBeInstanceOf(Uint8Array);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(3);
  });

  it('converts other arguments to strings as the platform does', () => {
    const native = new TextEncoder();
    const ours = new ModuleTextEncoder();
    const args: unknown[] = [undefined, null, 42, true, { toString: () => 'obj' }, ['a', 'b'], Symbol('s')];
    for (const a of args) {
      expect(
        outcome(() => ours.encode(a as string)),
        String(typeof a),
      ).toEqual(outcome(() => native.encode(a as string)));
    }
    expect(ours.encode()).toEqual(native.encode());
  });

  it('encodeInto, encoding and the string tag match', () => {
    const ours = new ModuleTextEncoder();
    const native = new TextEncoder();
    const a = new Uint8Array(5);
    const b = new Uint8Array(5);
    expect(ours.encodeInto('héllo', a)).toEqual(native.encodeInto('héllo', b));
    expect(a).toEqual(b);
    expect(ours.encoding).toBe('utf-8');
    expect(Object.prototype.toString.call(ours)).toBe('[object TextEncoder]');
  });
});

describe('utf8Decode / ModuleTextDecoder', () => {
  it('decodes every byte string as the native TextDecoder does, BOM and invalid bytes included', () => {
    for (const b of BYTES) {
      const want = new TextDecoder().decode(b);
      expect(utf8Decode(b), String([...b])).toBe(want);
      expect(new ModuleTextDecoder().decode(b), String([...b])).toBe(want);
      expect(new ModuleTextDecoder('utf-8').decode(b)).toBe(want);
    }
  });

  it('honours fatal and ignoreBOM', () => {
    for (const options of [{ fatal: true }, { ignoreBOM: true }, { fatal: true, ignoreBOM: true }]) {
      const ours = new ModuleTextDecoder('utf-8', options);
      const native = new TextDecoder('utf-8', options);
      expect([ours.fatal, ours.ignoreBOM]).toEqual([native.fatal, native.ignoreBOM]);
      for (const b of BYTES)
        expect(
          outcome(() => ours.decode(b)),
          `${JSON.stringify(options)} ${[...b]}`,
        ).toEqual(outcome(() => native.decode(b)));
    }
  });

  it('keeps a stream’s partial characters across calls, then decodes ASCII again', () => {
    const ours = new ModuleTextDecoder();
    const native = new TextDecoder();
    const euro = new TextEncoder().encode('€'); // three bytes, split over two chunks
    const chunks: [Uint8Array, boolean][] = [
      [bytes(0x61), true],
      [euro.subarray(0, 2), true],
      [bytes(euro[2]!, 0x62), true],
      [bytes(0x63), false],
      [bytes(0x64, 0x65), false],
      [euro.subarray(0, 1), true],
      [bytes(), false], // flushes the held byte as U+FFFD
    ];
    for (const [chunk, stream] of chunks) expect(ours.decode(chunk, { stream })).toBe(native.decode(chunk, { stream }));
  });

  it('takes other buffer kinds, other labels and no argument as the platform does', () => {
    const data = bytes(0x68, 0x69, 0xc3, 0xa9);
    const inputs: unknown[] = [data.buffer, new DataView(data.buffer), new Int8Array(data.buffer), new Uint16Array([0x6968]), undefined];
    for (const input of inputs) {
      expect(new ModuleTextDecoder().decode(input as Uint8Array)).toBe(new TextDecoder().decode(input as Uint8Array));
    }
    for (const label of ['latin1', 'utf-16le', 'UTF-8', ' utf-8 ']) {
      const ours = new ModuleTextDecoder(label);
      const native = new TextDecoder(label);
      expect(ours.encoding).toBe(native.encoding);
      expect(ours.decode(data)).toBe(native.decode(data));
    }
    expect(outcome(() => new ModuleTextDecoder('no-such-encoding'))).toEqual(outcome(() => new TextDecoder('no-such-encoding')));
    // Options that are not a dictionary are refused as natively, even for short ASCII.
    for (const options of [5, 'x', true]) {
      expect(outcome(() => new ModuleTextDecoder().decode(bytes(0x61), options as TextDecodeOptions))).toEqual(outcome(() => new TextDecoder().decode(bytes(0x61), options as TextDecodeOptions)));
    }
    expect(Object.prototype.toString.call(new ModuleTextDecoder())).toBe('[object TextDecoder]');
  });
});
