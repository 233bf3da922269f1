// UTF-8 for short strings without a trip into the platform. The SpacetimeDB runtime inside a
// module makes a new TextEncoder for every string it serializes and a new TextDecoder for every
// string it reads; each native call costs about a microsecond (Chromium: 1.3 µs to encode, 0.7 µs
// to decode; Node: 0.9 µs to encode), several times the row's own work. The loader hands the module
// these two classes in place of the realm's: short ASCII takes a plain loop, everything else (other
// characters, long strings, other labels, streaming) goes to the native codec, so results are the
// same byte for byte.
const NativeEncoder = globalThis.TextEncoder;
const NativeDecoder = globalThis.TextDecoder;
const nativeEncoder = new NativeEncoder();
const nativeDecoder = new NativeDecoder();

/** Longest string or byte array the loop takes; past it the native codec is as fast or faster. */
const SHORT = 128;

/** UTF-8 of `s` (as `new TextEncoder().encode(s)`). */
export function utf8Encode(s: string): Uint8Array<ArrayBuffer> {
  const n = s.length;
  if (n > SHORT) return nativeEncoder.encode(s);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return nativeEncoder.encode(s);
    out[i] = c;
  }
  return out;
}

/** The text of UTF-8 `bytes` (as `new TextDecoder().decode(bytes)`). */
export function utf8Decode(bytes: Uint8Array): string {
  return asciiText(bytes) ?? nativeDecoder.decode(bytes);
}

/** `bytes` as text when they are short and all ASCII (no BOM, nothing to replace); else undefined. */
function asciiText(bytes: Uint8Array): string | undefined {
  const n = bytes.length;
  if (n > SHORT) return undefined;
  for (let i = 0; i < n; i++) if (bytes[i]! > 0x7f) return undefined;
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/** TextEncoder as a module sees it: `encode` takes the short-ASCII path, `encodeInto` is native. */
export class ModuleTextEncoder implements TextEncoder {
  get encoding(): 'utf-8' {
    return 'utf-8';
  }

  encode(input = ''): Uint8Array<ArrayBuffer> {
    return utf8Encode(typeof input === 'string' ? input : `${input}`);
  }

  encodeInto(source: string, destination: Uint8Array): TextEncoderEncodeIntoResult {
    return nativeEncoder.encodeInto(source, destination);
  }

  get [Symbol.toStringTag](): string {
    return 'TextEncoder';
  }
}

/**
 * TextDecoder as a module sees it. A UTF-8 decoder that is not in the middle of a stream decodes a
 * short all-ASCII Uint8Array itself (ASCII has no BOM and nothing `fatal` rejects); any other
 * call goes to a native decoder made with the same label and options, which also checks the label
 * at construction exactly as the platform does.
 */
export class ModuleTextDecoder implements TextDecoder {
  readonly #label: string | undefined;
  readonly #options: TextDecoderOptions | undefined;
  #native: TextDecoder | undefined;
  readonly #utf8: boolean;
  /** The last native decode was `{ stream: true }`: bytes may be held, so stay native. */
  #streaming = false;

  constructor(label?: string, options?: TextDecoderOptions) {
    this.#label = label;
    this.#options = options;
    this.#utf8 = label === undefined || label === 'utf-8' || label === 'utf8';
    if (!this.#utf8 || options !== undefined) this.#native = new NativeDecoder(label, options);
  }

  get encoding(): string {
    return this.#native ? this.#native.encoding : 'utf-8';
  }

  get fatal(): boolean {
    return this.#native ? this.#native.fatal : false;
  }

  get ignoreBOM(): boolean {
    return this.#native ? this.#native.ignoreBOM : false;
  }

  decode(input?: AllowSharedBufferSource, options?: TextDecodeOptions): string {
    // (Options that are not an object go to the native decoder, which refuses them.)
    if (this.#utf8 && !this.#streaming && input instanceof Uint8Array && (options === undefined || (typeof options === 'object' && !options?.stream))) {
      const s = asciiText(input);
      if (s !== undefined) return s;
    }
    this.#native ??= new NativeDecoder(this.#label, this.#options);
    this.#streaming = options?.stream === true;
    return this.#native.decode(input, options);
  }

  get [Symbol.toStringTag](): string {
    return 'TextDecoder';
  }
}

/** What the package's BinaryReader has (both its copies). */
interface StringReader {
  offset: number;
  readonly remaining: number;
  readU32(): number;
  readBytes(length: number): Uint8Array;
  readString(): string;
}

/**
 * The string `r` is at, as the package's `readString` reads it but without its new TextDecoder;
 * undefined, and `r` unmoved, when its length runs past the end (the package's then throws).
 */
export function readStringAt(r: StringReader): string | undefined {
  const at = r.offset;
  const n = r.readU32();
  if (n > r.remaining) {
    r.offset = at;
    return undefined;
  }
  return utf8Decode(r.readBytes(n));
}
