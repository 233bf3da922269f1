// CRC-32 against the standard check value and incremental use.

import { describe, expect, it } from 'vitest';
import { crc32 } from './crc32.ts';

describe('crc32', () => {
  it('matches the IEEE check value (TSDoc example)', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('continues over pieces', () => {
    const all = new TextEncoder().encode('hello, durable world');
    expect(crc32(all.subarray(7), crc32(all.subarray(0, 7)))).toBe(crc32(all));
  });
});
