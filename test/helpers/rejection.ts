import { expect } from 'vitest';
import { LightconeError } from '../../src/errors.ts';

/** The rejection of `p` as a LightconeError (fails the test if `p` resolves or throws anything else). */
export async function rejection(p: Promise<unknown>): Promise<LightconeError> {
  const out = await p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (out.ok) throw new Error(`expected a rejection, got ${String(out.v)}`);
  expect(out.e).toBeInstanceOf(LightconeError);
  return out.e as LightconeError;
}
