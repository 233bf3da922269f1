// Values by their SpacetimeDB type, as describe() names types: shown in tables (identities short
// with the playground's name for them, timestamps as dates, enums as Tag(value), options as
// "none"), and read from a form field with a message naming what is wrong before any call.
import { ConnectionId, Identity, TimeDuration, Timestamp, Uuid } from 'spacetimedb';

/** Names the playground gives identities it knows (hex → label). */
export type IdentityNames = (hex: string) => string | undefined;

/** The text a cell shows, and a longer title (full identity, exact micros) when there is one. */
export function formatValue(value: unknown, names?: IdentityNames): { text: string; title?: string; kind: string } {
  if (value === undefined || value === null) return { text: 'none', kind: 'none' };
  if (value instanceof Identity) {
    const hex = value.toHexString();
    const name = names?.(hex);
    return { text: name ? `${name} (${hex.slice(0, 8)}…)` : `${hex.slice(0, 12)}…`, title: hex, kind: 'identity' };
  }
  if (value instanceof ConnectionId) return { text: `${value.toHexString().slice(0, 12)}…`, title: value.toHexString(), kind: 'identity' };
  if (value instanceof Timestamp) {
    const micros = value.microsSinceUnixEpoch;
    const date = new Date(Number(micros / 1000n));
    return { text: Number.isNaN(date.getTime()) ? `${micros} µs` : date.toISOString(), title: `${micros} µs since the epoch`, kind: 'timestamp' };
  }
  if (value instanceof TimeDuration) return { text: duration(value.micros), title: `${value.micros} µs`, kind: 'duration' };
  if (value instanceof Uuid) return { text: value.toString(), kind: 'uuid' };
  if (value instanceof Uint8Array) {
    const hex = [...value].map((b) => b.toString(16).padStart(2, '0')).join('');
    return { text: hex.length > 40 ? `0x${hex.slice(0, 40)}… (${value.length} bytes)` : `0x${hex}`, title: `0x${hex}`, kind: 'bytes' };
  }
  if (typeof value === 'bigint' || typeof value === 'number') return { text: String(value), kind: 'number' };
  if (typeof value === 'boolean') return { text: String(value), kind: 'bool' };
  if (typeof value === 'string') return { text: value, kind: 'string' };
  return { text: show(value, names), kind: 'composite' };
}

function duration(micros: bigint): string {
  const ms = Number(micros) / 1000;
  if (Math.abs(ms) < 1000) return `${ms} ms`;
  if (Math.abs(ms) < 120_000) return `${ms / 1000} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** Enums as `Tag` / `Tag(value)`, results as `ok(…)`, products as `{ a: 1 }`, arrays as `[…]`. */
function show(value: unknown, names?: IdentityNames): string {
  const inner = (v: unknown) => {
    const f = formatValue(v, names);
    return f.kind === 'string' ? JSON.stringify(f.text) : f.text;
  };
  if (Array.isArray(value)) return `[${value.map(inner).join(', ')}]`;
  const o = value as Record<string, unknown>;
  if (typeof o.tag === 'string' && Object.keys(o).every((k) => k === 'tag' || k === 'value')) {
    const payload = o.value;
    const unit = payload === undefined || (typeof payload === 'object' && payload !== null && !Array.isArray(payload) && Object.keys(payload).length === 0 && !(payload instanceof Uint8Array));
    return unit ? o.tag : `${o.tag}(${inner(payload)})`;
  }
  const keys = Object.keys(o);
  if (keys.length === 1 && (keys[0] === 'ok' || keys[0] === 'err')) return `${keys[0]}(${inner(o[keys[0]])})`;
  return `{ ${keys.map((k) => `${k}: ${inner(o[k])}`).join(', ')} }`;
}

/** How a parameter is entered in a form. */
export type FieldKind =
  | { kind: 'bool' }
  | { kind: 'int'; bits: number; signed: boolean }
  | { kind: 'float' }
  | { kind: 'string' }
  | { kind: 'identity' }
  | { kind: 'connectionId' }
  | { kind: 'uuid' }
  | { kind: 'timestamp' }
  | { kind: 'duration' }
  | { kind: 'bytes' }
  | { kind: 'enum'; variants: string[] }
  | { kind: 'option'; inner: FieldKind; innerType: string }
  | { kind: 'json'; type: string };

/** The field kind of a describe() type name (`u64`, `Identity`, `Option<string>`, `enum { A | B }`, …). */
export function fieldKind(type: string): FieldKind {
  const t = type.trim();
  const int = /^([iu])(8|16|32|64|128|256)$/.exec(t);
  if (int) return { kind: 'int', bits: Number(int[2]), signed: int[1] === 'i' };
  const option = /^Option<(.*)>$/.exec(t);
  if (option) return { kind: 'option', inner: fieldKind(option[1]!), innerType: option[1]! };
  const en = /^enum \{ (.*) \}$/.exec(t);
  if (en) return { kind: 'enum', variants: en[1]!.split(' | ') };
  switch (t) {
    case 'bool':
      return { kind: 'bool' };
    case 'f32':
    case 'f64':
      return { kind: 'float' };
    case 'string':
      return { kind: 'string' };
    case 'Identity':
      return { kind: 'identity' };
    case 'ConnectionId':
      return { kind: 'connectionId' };
    case 'Uuid':
      return { kind: 'uuid' };
    case 'Timestamp':
      return { kind: 'timestamp' };
    case 'TimeDuration':
      return { kind: 'duration' };
    case 'bytes':
      return { kind: 'bytes' };
  }
  return { kind: 'json', type: t };
}

/** A field's parsed value, or why it is not one. */
export type Parsed = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * Reads a field's text as `kind`. Values are what `db.call` takes: numbers up to 32 bits, bigints
 * above, identities as hex, timestamps as ISO text, enums as their tag, JSON for composite types.
 */
export function parseField(kind: FieldKind, text: string): Parsed {
  const s = text.trim();
  switch (kind.kind) {
    case 'bool':
      if (s === 'true' || s === 'false') return { ok: true, value: s === 'true' };
      return { ok: false, error: 'expected true or false' };
    case 'int': {
      if (!/^[-+]?\d+$/.test(s)) return { ok: false, error: `expected a whole number (${kind.signed ? 'i' : 'u'}${kind.bits})` };
      const b = BigInt(s.replace(/^\+/, ''));
      const min = kind.signed ? -(1n << BigInt(kind.bits - 1)) : 0n;
      const max = kind.signed ? (1n << BigInt(kind.bits - 1)) - 1n : (1n << BigInt(kind.bits)) - 1n;
      if (b < min || b > max) return { ok: false, error: `out of range ${min}..${max}` };
      return { ok: true, value: kind.bits <= 32 ? Number(b) : b };
    }
    case 'float':
      if (s === '' || Number.isNaN(Number(s))) return { ok: false, error: 'expected a number' };
      return { ok: true, value: Number(s) };
    case 'string':
      return { ok: true, value: text };
    case 'identity':
      if (!/^(0x)?[0-9a-fA-F]{64}$/.test(s)) return { ok: false, error: 'expected an identity: 64 hex digits' };
      return { ok: true, value: s.replace(/^0x/, '').toLowerCase() };
    case 'connectionId':
      if (!/^(0x)?[0-9a-fA-F]{32}$/.test(s)) return { ok: false, error: 'expected a connection id: 32 hex digits' };
      return { ok: true, value: s.replace(/^0x/, '').toLowerCase() };
    case 'uuid':
      if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s)) return { ok: false, error: 'expected a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)' };
      return { ok: true, value: s.toLowerCase() };
    case 'timestamp':
      if (/^-?\d+$/.test(s)) return { ok: true, value: BigInt(s) };
      if (s === '' || Number.isNaN(Date.parse(s))) return { ok: false, error: 'expected a date and time (ISO 8601, e.g. 2025-01-31T12:00:00Z) or microseconds since the epoch' };
      return { ok: true, value: new Date(Date.parse(s)).toISOString() };
    case 'duration':
      if (!/^-?\d+$/.test(s)) return { ok: false, error: 'expected microseconds (a whole number)' };
      return { ok: true, value: BigInt(s) };
    case 'bytes':
      if (!/^(0x)?([0-9a-fA-F]{2})*$/.test(s)) return { ok: false, error: 'expected bytes as hex (pairs of hex digits)' };
      return { ok: true, value: s.replace(/^0x/, '') };
    case 'enum':
      if (kind.variants.includes(s)) return { ok: true, value: s };
      try {
        const v = JSON.parse(s) as unknown;
        if (v && typeof v === 'object' && typeof (v as { tag?: unknown }).tag === 'string' && kind.variants.includes((v as { tag: string }).tag)) return { ok: true, value: v };
      } catch {
        // not JSON: the message below says what is expected
      }
      return { ok: false, error: `expected one of ${kind.variants.join(', ')} (or {"tag": …, "value": …})` };
    case 'option':
      if (s === '') return { ok: true, value: undefined };
      return parseField(kind.inner, text);
    case 'json':
      try {
        return { ok: true, value: JSON.parse(s, (_k, v) => (typeof v === 'string' && /^-?\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v)) };
      } catch (e) {
        return { ok: false, error: `expected JSON for ${kind.type}: ${(e as Error).message}` };
      }
  }
}

/** A short hint shown under a field. */
export function fieldHint(kind: FieldKind): string {
  switch (kind.kind) {
    case 'int':
      return `${kind.signed ? 'i' : 'u'}${kind.bits}`;
    case 'identity':
      return 'Identity: 64 hex digits (pick one of the playground identities)';
    case 'timestamp':
      return 'Timestamp: ISO 8601 or µs since the epoch';
    case 'duration':
      return 'TimeDuration: microseconds';
    case 'bytes':
      return 'bytes: hex';
    case 'option':
      return `optional ${fieldHint(kind.inner) || kind.innerType}: leave empty for none`;
    case 'json':
      return `${kind.type}: JSON (big integers as "123n")`;
    case 'enum':
      return kind.variants.join(' | ');
    default:
      return kind.kind;
  }
}
