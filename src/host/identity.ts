// Identities given by callers: an Identity, a bigint, or a hex string (with or without 0x).
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
