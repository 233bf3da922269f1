// The commit-log record: what encodeDelta writes, decodeDelta reads back exactly, whatever the
// records before it were (the encoder reuses its buffer and caches names and the last sender).
import { BinaryWriter } from 'spacetimedb';
import { describe, expect, it } from 'vitest';
import type { TxDelta } from '../datastore/datastore.ts';
import { decodeDelta, encodeDelta, type TxInfo } from './delta-codec.ts';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('commit-log records', () => {
  it('round-trip, record after record, with changing senders, names, sizes and call ids', () => {
    const alice = (1n << 255n) + 7n;
    const bob = 12345n;
    const records: { delta: TxDelta; info: TxInfo }[] = [
      {
        delta: { tables: [{ table: 'account', inserts: [bytes(10, 1)], deletes: [bytes(3, 2)] }], sequences: [{ table: 'audit', column: 0, next: 42n }] },
        info: { timestamp: 1_700_000_000_000_000n, reducer: 'transfer', sender: alice, callId: 'c0ffee-1' },
      },
      { delta: { tables: [], sequences: [] }, info: { timestamp: 2n, reducer: '', sender: bob } },
      // Larger than the encoder keeps its buffer for: the next record must not see its bytes.
      {
        delta: { tables: [{ table: 'ñame-ü', inserts: [bytes(3 << 20, 9)], deletes: [] }], sequences: [], scheduleRuns: [{ table: 'tick', id: 5n, at: -3n }] },
        info: { timestamp: 3n, reducer: 'bulk', sender: bob },
      },
      { delta: { tables: [{ table: 'account', inserts: [], deletes: [bytes(1, 7)] }], sequences: [] }, info: { timestamp: 4n, reducer: 'transfer', sender: alice, callId: 'é-2' } },
    ];
    const encoded = records.map((r) => encodeDelta(r.delta, r.info));
    for (const [i, r] of records.entries()) expect(decodeDelta(encoded[i]!)).toEqual(r);
  });

  it('writes the layout older records have: a string is its UTF-8 with a u32 length, the sender a u256', () => {
    const info: TxInfo = { timestamp: 9n, reducer: 'send', sender: 77n };
    const w = new BinaryWriter(64);
    w.writeU8(1);
    w.writeI64(9n);
    w.writeString('send');
    w.writeU256(77n);
    w.writeU32(1);
    w.writeString('message');
    w.writeU32(1);
    w.writeUInt8Array(bytes(2, 4));
    w.writeU32(0);
    w.writeU32(0);
    w.writeU32(0);
    expect(encodeDelta({ tables: [{ table: 'message', inserts: [bytes(2, 4)], deletes: [] }], sequences: [] }, info)).toEqual(w.getBuffer().slice());
  });
});
