// Identities given by callers (an Identity, a bigint, or a hex string with or without 0x), and the
// claims of a caller's token as `ctx.senderAuth.jwt` reads them.
import { Identity } from 'spacetimedb';
import { UsageError } from '../errors.ts';

/** Accepts an Identity, a bigint or a hex string. */
export function toIdentity(v: string | Identity | bigint, what: string): Identity {
  if (v instanceof Identity) return v;
  if (typeof v === 'bigint') return new Identity(v);
  const hex = v.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{1,64}$/.test(hex)) throw new UsageError('BAD_IDENTITY', `${what} must be an identity as up to 64 hex digits, got ${JSON.stringify(v)}`);
  return new Identity(BigInt(`0x${hex}`));
}

/**
 * The payload of a JWT (`header.payload.signature`) as JSON text, or undefined when `token` is not
 * a JWT whose payload is a JSON object. Nothing is verified here: whoever accepted the token (the
 * protocol server, the HTTP server) did; this only hands its claims to the module.
 */
export function jwtPayloadJson(token: string): string | undefined {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[1]!)) return undefined;
  try {
    const b64 = parts[1]!.replaceAll('-', '+').replaceAll('_', '/');
    const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
    const json = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? json : undefined;
  } catch {
    return undefined;
  }
}
