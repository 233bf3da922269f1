// Call arguments as exact text, for the call log, the session file and the share link. The text
// is JSON shaped like SpacetimeDB's SATS-JSON (positional arguments in an array, integers with
// every digit, identities as "0x…" hex, timestamps in µs) and reads back into values that the
// engine encodes to the same bytes as the originals: bigints beyond 2^53 keep their digits,
// floats keep every bit (NaN, ±Infinity and -0 included), bytes stay bytes. No type information
// is needed either way, so a session replays in a browser that has never seen the module.
//
// Forms (what `writeArgs` writes, what `readArgs` gives back):
//   bigint            12345678901234567890        → bigint (a safe integer comes back as a number:
//                                                    the engine encodes both alike)
//   number            1.5, 7, -0.0, 1e+300        → number; NaN and ±Infinity as {"$float":"NaN"}
//   string, boolean   as JSON                     → themselves
//   undefined, null   null                        → undefined (an option's none)
//   Uint8Array        {"$bytes":"00ff"}           → Uint8Array
//   Identity          {"__identity__":"0x…"}      → Identity (also the plain {__identity__} a worker sends)
//   ConnectionId      {"__connection_id__":"0x…"} → ConnectionId
//   Timestamp, Date   {"__timestamp_micros_since_unix_epoch__":n} → Timestamp
//   TimeDuration      {"__time_duration_micros__":n} → TimeDuration
//   Uuid              {"__uuid__":n}              → Uuid
//   arrays, objects   as JSON (sum values are {"tag":…,"value":…}); an object whose only key is
//                     one of the keys above is wrapped as {"$object":{…}} so it reads back as is
import { ConnectionId, Identity, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { isInteger, isSafeNumber, parse } from 'lossless-json';
import { SessionError } from './errors.ts';

/** Deeper than any SpacetimeDB type nests; what goes beyond is refused, not overflowed. */
const MAX_DEPTH = 200;

/** Keys that mark a value of one of the special forms (an object with only that key). */
const TAGS = new Set(['$float', '$bytes', '$object', '__identity__', '__connection_id__', '__timestamp_micros_since_unix_epoch__', '__time_duration_micros__', '__uuid__']);

/** The exact text of `args` (positional, as the call form passes them). Throws SessionError UNRECORDABLE. */
export function writeArgs(args: readonly unknown[]): string {
  const out: string[] = [];
  write(out, args, 0, new Set());
  return out.join('');
}

/** `writeArgs` of one value (a procedure's return value, for the log). */
export function writeValue(value: unknown): string {
  const out: string[] = [];
  write(out, value, 0, new Set());
  return out.join('');
}

function write(out: string[], v: unknown, depth: number, seen: Set<object>): void {
  if (depth > MAX_DEPTH) throw unrecordable(`a value nests deeper than ${MAX_DEPTH} levels`);
  switch (typeof v) {
    case 'undefined':
      out.push('null');
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'string':
      out.push(JSON.stringify(v));
      return;
    case 'bigint':
      out.push(v.toString());
      return;
    case 'number':
      out.push(numberText(v));
      return;
    case 'object':
      break;
    default:
      throw unrecordable(`a ${typeof v} is not a value a reducer takes`);
  }
  if (v === null) {
    out.push('null');
    return;
  }
  if (seen.has(v)) throw unrecordable('a value refers to itself');
  seen.add(v);
  try {
    writeObject(out, v, depth, seen);
  } finally {
    seen.delete(v);
  }
}

function writeObject(out: string[], v: object, depth: number, seen: Set<object>): void {
  const tagged = (key: string, inner: string) => out.push(`{${JSON.stringify(key)}:${inner}}`);
  if (v instanceof Uint8Array) return void tagged('$bytes', JSON.stringify(toHex(v)));
  if (v instanceof Identity) return void tagged('__identity__', JSON.stringify(`0x${v.toHexString()}`));
  if (v instanceof ConnectionId) return void tagged('__connection_id__', JSON.stringify(`0x${v.toHexString()}`));
  if (v instanceof Timestamp) return void tagged('__timestamp_micros_since_unix_epoch__', v.microsSinceUnixEpoch.toString());
  if (v instanceof TimeDuration) return void tagged('__time_duration_micros__', v.micros.toString());
  if (v instanceof Uuid) return void tagged('__uuid__', v.asBigInt().toString());
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw unrecordable('an invalid Date');
    return void tagged('__timestamp_micros_since_unix_epoch__', (BigInt(v.getTime()) * 1000n).toString());
  }
  if (Array.isArray(v)) {
    if (Object.keys(v).length !== v.length) throw unrecordable('an array with holes or extra properties');
    out.push('[');
    v.forEach((x, i) => {
      if (i > 0) out.push(',');
      write(out, x, depth + 1, seen);
    });
    out.push(']');
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) throw unrecordable(`a ${proto?.constructor?.name ?? 'class'} instance is not a value a reducer takes`);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  // The structured-clone form of the special classes (what a worker hands back): written as the class.
  if (keys.length === 1 && typeof o[keys[0]!] === 'bigint') {
    const b = o[keys[0]!] as bigint;
    switch (keys[0]) {
      case '__identity__':
        return void tagged('__identity__', JSON.stringify(`0x${new Identity(b).toHexString()}`));
      case '__connection_id__':
        return void tagged('__connection_id__', JSON.stringify(`0x${new ConnectionId(b).toHexString()}`));
      case '__timestamp_micros_since_unix_epoch__':
      case '__time_duration_micros__':
      case '__uuid__':
        return void tagged(keys[0], b.toString());
    }
  }
  const wrap = keys.length === 1 && TAGS.has(keys[0]!);
  if (wrap) out.push('{"$object":');
  out.push('{');
  keys.forEach((k, i) => {
    if (i > 0) out.push(',');
    out.push(JSON.stringify(k), ':');
    write(out, o[k], depth + 1, seen);
  });
  out.push('}');
  if (wrap) out.push('}');
}

/** A number as JSON that reads back to the same double (a whole number beyond 2^53 keeps an exponent, so it reads back as a number). */
function numberText(n: number): string {
  if (Number.isNaN(n)) return '{"$float":"NaN"}';
  if (n === Infinity) return '{"$float":"Infinity"}';
  if (n === -Infinity) return '{"$float":"-Infinity"}';
  if (Object.is(n, -0)) return '-0.0';
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) return n.toExponential();
  return JSON.stringify(n);
}

/** Reads `writeArgs` text back into positional arguments. Throws SessionError BAD_SESSION naming `where`. */
export function readArgs(text: string, where: string): unknown[] {
  const v = readValue(text, where);
  if (!Array.isArray(v)) throw new SessionError('BAD_SESSION', `${where}: the arguments must be a JSON array (one value per parameter), got ${preview(text)}`);
  return v;
}

/** Reads one `writeValue` text. Throws SessionError BAD_SESSION naming `where`. */
export function readValue(text: string, where: string): unknown {
  let json: unknown;
  try {
    json = parse(text, null, readNumber);
  } catch (e) {
    throw new SessionError('BAD_SESSION', `${where}: the arguments are not JSON (${(e as Error).message}): ${preview(text)}`);
  }
  return revive(json, where, 0);
}

function readNumber(text: string): number | bigint {
  if (isInteger(text) && !isSafeNumber(text)) return BigInt(text);
  return Number(text);
}

function revive(v: unknown, where: string, depth: number): unknown {
  if (depth > MAX_DEPTH) throw new SessionError('BAD_SESSION', `${where}: a value nests deeper than ${MAX_DEPTH} levels`);
  if (v === null) return undefined;
  if (typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => revive(x, where, depth + 1));
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && TAGS.has(keys[0]!)) return special(keys[0]!, o[keys[0]!], where, depth);
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = revive(o[k], where, depth + 1);
  return out;
}

function special(key: string, x: unknown, where: string, depth: number): unknown {
  const bad = (what: string) => new SessionError('BAD_SESSION', `${where}: ${JSON.stringify(key)} must hold ${what}, got ${preview(String(x))}`);
  const int = (what: string): bigint => {
    if (typeof x === 'bigint') return x;
    if (typeof x === 'number' && Number.isSafeInteger(x)) return BigInt(x);
    throw bad(what);
  };
  const hex = (digits: number): bigint => {
    if (typeof x !== 'string' || !new RegExp(`^0x[0-9a-fA-F]{1,${digits}}$`).test(x)) throw bad(`"0x" and up to ${digits} hex digits`);
    return BigInt(x);
  };
  switch (key) {
    case '$float':
      if (x === 'NaN') return Number.NaN;
      if (x === 'Infinity') return Infinity;
      if (x === '-Infinity') return -Infinity;
      throw bad('"NaN", "Infinity" or "-Infinity"');
    case '$bytes':
      if (typeof x !== 'string' || !/^([0-9a-f]{2})*$/.test(x)) throw bad('lowercase hex, two digits a byte');
      return fromHex(x);
    case '$object': {
      if (x === null || typeof x !== 'object' || Array.isArray(x)) throw bad('an object');
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(x)) out[k] = revive(inner, where, depth + 1);
      return out;
    }
    case '__identity__':
      return new Identity(hex(64));
    case '__connection_id__':
      return new ConnectionId(hex(32));
    case '__timestamp_micros_since_unix_epoch__':
      return new Timestamp(int('an integer'));
    case '__time_duration_micros__':
      return new TimeDuration(int('an integer'));
    case '__uuid__': {
      const b = int('an integer');
      if (b < 0n || b >= 1n << 128n) throw bad('an integer from 0 to 2^128-1');
      return new Uuid(b);
    }
  }
  throw bad('a value');
}

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function unrecordable(what: string): SessionError {
  return new SessionError('UNRECORDABLE', `the call cannot be recorded: ${what}; pass plain values (numbers, bigints, strings, arrays, objects, Identity, Timestamp, …)`);
}

function preview(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}… (${text.length} characters)` : text;
}
